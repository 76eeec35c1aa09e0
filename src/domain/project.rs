//! The plan's projects: their fixed category vocabulary, location precision, and targets.

/// The category vocabulary, with what each covers. Documented in `geodata/README.md`; the loader refuses
/// anything else.
pub const CATEGORIES: &[(&str, &str)] = &[
    ("airport", "airports, runways, general-aviation fields"),
    ("railway", "railways and high-speed lines, often A至B"),
    ("highway", "expressways and trunk roads"),
    ("urban_rail", "metro and suburban rail"),
    ("port", "ports and port areas"),
    ("logistics", "logistics hubs, land ports, freight and distribution centres"),
    ("energy", "power of every kind: nuclear, thermal, wind, solar, hydrogen, pumped storage, transmission"),
    ("water", "reservoirs, water diversion, flood control, irrigation"),
    ("industrial_park", "industrial parks, bases and clusters with a place, development zones"),
    ("science", "laboratories, science cities, research institutes and platforms"),
    ("open_platform", "free-trade and bonded zones, cross-border and cooperation zones"),
    ("demonstration_zone", "national or provincial pilot and demonstration zones (示范区, 试验区, 先行区)"),
    ("agriculture", "agricultural parks, bases and demonstration areas"),
    ("tourism", "tourism zones, scenic areas and routes"),
    ("heritage", "archaeological and historic sites, old towns, heritage parks"),
    ("culture", "museums, cultural venues, cultural industry districts"),
    ("health", "hospitals and medical centres"),
    ("education", "universities and schools"),
    ("ecology", "nature reserves, national parks, forests, wetlands, ecological restoration"),
    ("digital", "data centres, computing centres, internet hubs"),
    ("urban", "urban districts, new towns, financial and business districts, sports venues"),
];

/// The Chinese name of each category.
pub const CATEGORY_ZH: &[(&str, &str)] = &[
    ("airport", "机场"),
    ("railway", "铁路"),
    ("highway", "公路"),
    ("urban_rail", "城市轨道交通"),
    ("port", "港口"),
    ("logistics", "物流"),
    ("energy", "能源"),
    ("water", "水利"),
    ("industrial_park", "产业园区"),
    ("science", "科技创新"),
    ("open_platform", "开放平台"),
    ("demonstration_zone", "示范区"),
    ("agriculture", "农业"),
    ("urban", "城市建设"),
    ("heritage", "文化遗产"),
    ("ecology", "生态"),
    ("health", "医疗卫生"),
    ("culture", "文化"),
    ("digital", "数字经济"),
    ("tourism", "旅游"),
    ("education", "教育"),
];

/// The Chinese name of a category (its id when it has none).
pub fn category_zh(id: &str) -> &str {
    CATEGORY_ZH.iter().find(|c| c.0 == id).map_or(id, |c| c.1)
}

/// How precisely a project's position is known, from best to worst.
pub const PRECISIONS: &[(&str, &str)] = &[
    ("site", "the thing itself, from a cited source (within about a kilometre)"),
    ("district", "a known district, town or development zone centre"),
    ("county", "known only to be in a county: placed at the county seat"),
    ("city", "known only to be in a city: placed at the city government seat"),
    ("schematic", "a corridor through the seats it links, or a thing spanning several places"),
];

/// Comparators a target may use.
pub const COMPARATORS: &[&str] =
    &[">=", "<=", "=", ">", "<", "growth>=", "growth-cumulative>=", "rank<=", "qualitative"];

/// The plan part a section id belongs to (`四.(四).2` → `四`).
pub fn part_of(section: &str) -> &str {
    section.split('.').next().unwrap_or(section)
}

/// The region a plan part is about: 三 the circle, 四 the belt, 五 the Liaoxi zone, 六 the Liaodong zone.
pub fn region_of_part(part: &str) -> Option<&'static str> {
    match part {
        "三" => Some("shenyang-circle"),
        "四" => Some("coastal-belt"),
        "五" => Some("liaoxi-zone"),
        "六" => Some("liaodong-zone"),
        _ => None,
    }
}

/// Whether `s` is a section id of the plan's shape: a part numeral, optionally `.(section numeral)`, optionally
/// `.item number`.
pub fn is_section_id(s: &str) -> bool {
    const NUMERALS: &str = "一二三四五六七八九十";
    let mut parts = s.split('.');
    let Some(part) = parts.next() else { return false };
    if part.is_empty() || !part.chars().all(|c| NUMERALS.contains(c)) {
        return false;
    }
    match parts.next() {
        None => return true,
        Some(sec) => {
            let Some(inner) = sec.strip_prefix('(').and_then(|r| r.strip_suffix(')')) else { return false };
            if inner.is_empty() || !inner.chars().all(|c| NUMERALS.contains(c)) {
                return false;
            }
        }
    }
    match parts.next() {
        None => true,
        Some(item) => !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit()) && parts.next().is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_ids_follow_the_plans_numbering() {
        assert!(is_section_id("四.(四).2"));
        assert!(is_section_id("六.(三)"));
        assert!(is_section_id("二"));
        assert!(!is_section_id("4.(4).2"));
        assert!(!is_section_id("四.四.2"));
        assert!(!is_section_id("四.(四).2.1"));
        assert!(!is_section_id(""));
    }

    #[test]
    fn parts_map_to_their_regions() {
        assert_eq!(region_of_part(part_of("五.(一).2")), Some("liaoxi-zone"));
        assert_eq!(region_of_part(part_of("二.(二).1")), None);
    }
}
