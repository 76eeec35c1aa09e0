//! The colours the map, its style and the exported styles (GeoPackage `layer_styles`, KML, the QGIS project)
//! share, so a layer looks the same in every client.

/// The colour of each plan region.
pub const REGION_COLOURS: &[(&str, &str)] = &[
    ("shenyang-circle", "#d94f30"),
    ("coastal-belt", "#1f8fb4"),
    ("liaoxi-zone", "#e0a800"),
    ("liaodong-zone", "#3c9d4e"),
];

/// The colour of each project stage (progress), and of "not reported".
pub const STAGE_COLOURS: &[(&str, &str)] = &[
    ("前期", "#9e9ac8"),
    ("新开工", "#74c476"),
    ("在建", "#fd8d3c"),
    ("竣工", "#3182bd"),
    ("投产运营", "#31a354"),
    ("暂停", "#de2d26"),
    ("未报告", "#bdbdbd"),
];

/// The colour of each project category.
pub const CATEGORY_COLOURS: &[(&str, &str)] = &[
    ("airport", "#6a3d9a"),
    ("railway", "#b2182b"),
    ("highway", "#ef6548"),
    ("urban_rail", "#e7298a"),
    ("port", "#2166ac"),
    ("logistics", "#4393c3"),
    ("energy", "#f1a340"),
    ("water", "#1b9e77"),
    ("industrial_park", "#7f3b08"),
    ("science", "#542788"),
    ("open_platform", "#01665e"),
    ("demonstration_zone", "#8c510a"),
    ("agriculture", "#4d9221"),
    ("tourism", "#c51b7d"),
    ("heritage", "#993404"),
    ("culture", "#d6604d"),
    ("health", "#d73027"),
    ("education", "#313695"),
    ("ecology", "#1a9850"),
    ("digital", "#5e3c99"),
    ("urban", "#636363"),
];

/// A `#rrggbb` colour as its red, green and blue bytes (grey for anything else).
pub fn rgb(hex: &str) -> (u8, u8, u8) {
    let byte = |i: usize| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok());
    match (hex.strip_prefix('#').map(str::len), byte(1), byte(3), byte(5)) {
        (Some(6), Some(r), Some(g), Some(b)) => (r, g, b),
        _ => (136, 136, 136),
    }
}

/// The colour of city borders.
pub const CITY_BORDER: &str = "#3d3d3d";

/// The colour of county borders.
pub const COUNTY_BORDER: &str = "#8c8c8c";

/// How opaque region fills are (so overlapping regions show through each other).
pub const REGION_FILL_OPACITY: f64 = 0.22;
