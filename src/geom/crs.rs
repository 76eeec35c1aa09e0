//! Coordinate reference systems: the ones the service speaks, their identifiers and axis orders, and the
//! transforms from and to CRS84 (PROJ for the EPSG ones; our own exact code for GCJ-02 and BD-09).
//!
//! Axis order follows each CRS's definition, as OGC API – Features Part 2 asks: CRS84 is longitude, latitude;
//! EPSG:4326 and EPSG:4490 are latitude, longitude; the CGCS2000 Gauss-Kruger zones (EPSG:4549/4550/4551)
//! are northing, easting; EPSG:3857 is easting, northing. Internally every transform works in
//! (east, north) order and the axis swap happens once, at the edge.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use geo::Coord;
use proj::Proj;

use super::chinese;

/// A coordinate reference system the service can read and write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Crs {
    /// WGS84 longitude, latitude (the storage CRS).
    Crs84,
    /// WGS84 latitude, longitude.
    Epsg4326,
    /// CGCS2000 latitude, longitude (China's geodetic system; within a metre of WGS84).
    Epsg4490,
    /// Web Mercator, metres.
    Epsg3857,
    /// CGCS2000 3-degree Gauss-Kruger CM 120°E, northing, easting (metres).
    Epsg4549,
    /// CGCS2000 3-degree Gauss-Kruger CM 123°E, northing, easting (metres).
    Epsg4550,
    /// CGCS2000 3-degree Gauss-Kruger CM 126°E, northing, easting (metres).
    Epsg4551,
    /// GCJ-02 longitude, latitude (AMap, Tencent). No EPSG code exists.
    Gcj02,
    /// BD-09 longitude, latitude (Baidu). No EPSG code exists.
    Bd09,
}

/// Our identifier for GCJ-02 (no EPSG code exists).
pub const GCJ02_URI: &str = "urn:planatlas:def:crs:GCJ-02";
/// Our identifier for BD-09 (no EPSG code exists).
pub const BD09_URI: &str = "urn:planatlas:def:crs:BD-09";

impl Crs {
    /// Every supported CRS, storage CRS first.
    pub const ALL: [Crs; 9] = [
        Crs::Crs84,
        Crs::Epsg4326,
        Crs::Epsg4490,
        Crs::Epsg3857,
        Crs::Epsg4549,
        Crs::Epsg4550,
        Crs::Epsg4551,
        Crs::Gcj02,
        Crs::Bd09,
    ];

    /// The identifier written in `crs` lists and `Content-Crs` headers.
    pub fn uri(self) -> &'static str {
        match self {
            Self::Crs84 => "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
            Self::Epsg4326 => "http://www.opengis.net/def/crs/EPSG/0/4326",
            Self::Epsg4490 => "http://www.opengis.net/def/crs/EPSG/0/4490",
            Self::Epsg3857 => "http://www.opengis.net/def/crs/EPSG/0/3857",
            Self::Epsg4549 => "http://www.opengis.net/def/crs/EPSG/0/4549",
            Self::Epsg4550 => "http://www.opengis.net/def/crs/EPSG/0/4550",
            Self::Epsg4551 => "http://www.opengis.net/def/crs/EPSG/0/4551",
            Self::Gcj02 => GCJ02_URI,
            Self::Bd09 => BD09_URI,
        }
    }

    /// A short name (`EPSG:4550`, `GCJ-02`).
    pub fn short(self) -> &'static str {
        match self {
            Self::Crs84 => "OGC:CRS84",
            Self::Epsg4326 => "EPSG:4326",
            Self::Epsg4490 => "EPSG:4490",
            Self::Epsg3857 => "EPSG:3857",
            Self::Epsg4549 => "EPSG:4549",
            Self::Epsg4550 => "EPSG:4550",
            Self::Epsg4551 => "EPSG:4551",
            Self::Gcj02 => "GCJ-02",
            Self::Bd09 => "BD-09",
        }
    }

    /// The EPSG code, if it has one.
    pub fn epsg(self) -> Option<u32> {
        match self {
            Self::Crs84 | Self::Gcj02 | Self::Bd09 => None,
            Self::Epsg4326 => Some(4326),
            Self::Epsg4490 => Some(4490),
            Self::Epsg3857 => Some(3857),
            Self::Epsg4549 => Some(4549),
            Self::Epsg4550 => Some(4550),
            Self::Epsg4551 => Some(4551),
        }
    }

    /// Reads a CRS from its URI, its OGC URN, a `[EPSG:4550]` safe CURIE or a short form (`EPSG:4550`,
    /// `CRS84`, `GCJ-02`, `BD-09`), case-insensitively.
    pub fn parse(raw: &str) -> Option<Crs> {
        let s = raw.trim().trim_start_matches('[').trim_end_matches(']').trim().to_ascii_lowercase();
        let s = s.trim_end_matches('/');
        let tail = |prefixes: &[&str]| prefixes.iter().find_map(|p| s.strip_prefix(p).map(str::to_owned));
        if let Some(code) = tail(&[
            "http://www.opengis.net/def/crs/epsg/0/",
            "https://www.opengis.net/def/crs/epsg/0/",
            "urn:ogc:def:crs:epsg::",
            "urn:ogc:def:crs:epsg:",
            "epsg:",
        ]) {
            return Self::ALL.into_iter().find(|c| c.epsg().is_some_and(|e| e.to_string() == code));
        }
        match s {
            "http://www.opengis.net/def/crs/ogc/1.3/crs84"
            | "https://www.opengis.net/def/crs/ogc/1.3/crs84"
            | "urn:ogc:def:crs:ogc:1.3:crs84"
            | "ogc:crs84"
            | "crs84" => Some(Self::Crs84),
            "urn:planatlas:def:crs:gcj-02" | "gcj-02" | "gcj02" => Some(Self::Gcj02),
            "urn:planatlas:def:crs:bd-09" | "bd-09" | "bd09" => Some(Self::Bd09),
            _ => None,
        }
    }

    /// Whether coordinates are degrees (so output keeps 6 decimals, about 0.1 m).
    pub fn is_geographic(self) -> bool {
        !matches!(self, Self::Epsg3857 | Self::Epsg4549 | Self::Epsg4550 | Self::Epsg4551)
    }

    /// The CRS to name for a file written in this one. Files put easting (longitude) first whatever the CRS's
    /// axis order (as GDAL reads them), so a file asked for in EPSG:4326 holds exactly CRS84's longitude,
    /// latitude and is named so; the other CRSs have no east-first twin and keep their name.
    #[must_use]
    pub fn of_east_first_file(self) -> Self {
        if self == Self::Epsg4326 { Self::Crs84 } else { self }
    }

    /// Whether its coordinates are CRS84's longitudes and latitudes, in either axis order: CRS84, EPSG:4326 and
    /// EPSG:4490 (CGCS2000 is taken as WGS84, which it matches to centimetres).
    pub fn is_crs84_alike(self) -> bool {
        matches!(self, Self::Crs84 | Self::Epsg4326 | Self::Epsg4490)
    }

    /// Whether the first axis is the northern one (latitude or northing).
    pub fn north_first(self) -> bool {
        matches!(self, Self::Epsg4326 | Self::Epsg4490 | Self::Epsg4549 | Self::Epsg4550 | Self::Epsg4551)
    }

    /// Decimal places written: 6 for degrees (the data's precision, ~0.1 m), 3 for metres (1 mm).
    pub fn decimals(self) -> i32 {
        if self.is_geographic() { 6 } else { 3 }
    }

    /// Every supported identifier, for error messages and the `crs` lists.
    pub fn supported_list() -> String {
        Self::ALL.iter().map(|c| c.uri()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// A coordinate could not be transformed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("cannot transform ({x}, {y}) {direction} {crs}: {reason}")]
pub struct TransformError {
    x: f64,
    y: f64,
    direction: &'static str,
    crs: &'static str,
    reason: String,
}

thread_local! {
    /// PROJ objects are not thread-safe; each worker thread keeps its own, created once per direction.
    static PROJ_CACHE: RefCell<ProjCache> = RefCell::new(ProjCache(HashMap::new()));
}

/// Set once the process is ending (see [`process_ending`]).
static ENDING: AtomicBool = AtomicBool::new(false);

/// Says the process is ending: from now on a thread that exits leaves its PROJ objects to the operating system
/// instead of destroying them. Destroying one runs PROJ's global clean-up, and a server thread doing that while
/// `exit` ran PROJ's C++ static destructors on the main thread crashed the process (SIGSEGV in
/// `pj_clear_sqlite_cache`) after it had answered everything: a stop signal must end in exit code 0.
pub fn process_ending() {
    ENDING.store(true, Ordering::SeqCst);
}

/// A thread's PROJ objects, by (CRS, direction).
struct ProjCache(HashMap<(Crs, bool), Proj>);

impl Drop for ProjCache {
    fn drop(&mut self) {
        if ENDING.load(Ordering::SeqCst) {
            for (_, proj) in self.0.drain() {
                std::mem::forget(proj);
            }
        }
    }
}

fn with_proj<T>(crs: Crs, forward: bool, f: impl FnOnce(&Proj) -> T) -> Result<T, String> {
    PROJ_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        let proj = match cache.0.entry((crs, forward)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                let (from, to) =
                    if forward { ("OGC:CRS84", crs.short()) } else { (crs.short(), "OGC:CRS84") };
                let p = Proj::new_known_crs(from, to, None)
                    .map_err(|err| format!("PROJ cannot build {from} → {to}: {err}"))?;
                e.insert(p)
            }
        };
        Ok(f(proj))
    })
}

/// CRS84 (lon, lat) → `crs`, in the CRS's own axis order.
pub fn from_crs84(crs: Crs, c: Coord<f64>) -> Result<Coord<f64>, TransformError> {
    let en = match crs {
        Crs::Crs84 | Crs::Epsg4326 | Crs::Epsg4490 => c,
        Crs::Gcj02 => chinese::wgs84_to_gcj02(c),
        Crs::Bd09 => chinese::wgs84_to_bd09(c),
        _ => with_proj(crs, true, |p| p.convert((c.x, c.y)))
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map(|(x, y)| Coord { x, y })
            .map_err(|reason| TransformError { x: c.x, y: c.y, direction: "to", crs: crs.short(), reason })?,
    };
    if !(en.x.is_finite() && en.y.is_finite()) {
        return Err(TransformError {
            x: c.x,
            y: c.y,
            direction: "to",
            crs: crs.short(),
            reason: "not finite".into(),
        });
    }
    Ok(if crs.north_first() { Coord { x: en.y, y: en.x } } else { en })
}

/// `crs` (in its own axis order) → CRS84 (lon, lat).
pub fn to_crs84(crs: Crs, c: Coord<f64>) -> Result<Coord<f64>, TransformError> {
    let en = if crs.north_first() { Coord { x: c.y, y: c.x } } else { c };
    let out = match crs {
        Crs::Crs84 | Crs::Epsg4326 | Crs::Epsg4490 => en,
        Crs::Gcj02 => chinese::gcj02_to_wgs84(en),
        Crs::Bd09 => chinese::bd09_to_wgs84(en),
        _ => with_proj(crs, false, |p| p.convert((en.x, en.y)))
            .and_then(|r| r.map_err(|e| e.to_string()))
            .map(|(x, y)| Coord { x, y })
            .map_err(|reason| TransformError {
                x: c.x,
                y: c.y,
                direction: "from",
                crs: crs.short(),
                reason,
            })?,
    };
    if !(out.x.is_finite()
        && out.y.is_finite()
        && (-180.0..=180.0).contains(&out.x)
        && (-90.0..=90.0).contains(&out.y))
    {
        return Err(TransformError {
            x: c.x,
            y: c.y,
            direction: "from",
            crs: crs.short(),
            reason: "the result is not a longitude/latitude".into(),
        });
    }
    Ok(out)
}

/// The CRS as WKT from PROJ's database: WKT1 in GDAL's flavour (for GeoPackage) or ESRI's (for a Shapefile's
/// `.prj`). CRS84 is written as EPSG:4326, the GIS-file convention for longitude/latitude data; GCJ-02 and
/// BD-09, which have no definition of their own, are written as WGS84 (their coordinates are shifted WGS84).
pub fn wkt(crs: Crs, esri: bool) -> Result<String, String> {
    // GCJ-02 and BD-09 have no EPSG code and no datum PROJ knows: labelled WGS 84 (as they were), GIS tools
    // took the shifted positions for WGS 84 ones, 300-700 m off. Their own geographic CRS on the WGS 84
    // ellipsoid, named for what it is, says otherwise, and planatlas reads it back as the shift to undo.
    if let Some(name) = chinese_name(crs) {
        return Ok(format!(
            "GEOGCS[\"{name}\",DATUM[\"{name} (not WGS 84)\",SPHEROID[\"WGS 84\",6378137,298.257223563]],\
             PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433]]"
        ));
    }
    let code = crs.epsg().unwrap_or(4326);
    let p = Proj::new(&format!("EPSG:{code}")).map_err(|e| format!("PROJ cannot create EPSG:{code}: {e}"))?;
    let version = if esri { proj::wkt::WktVersion::Wkt1_Esri } else { proj::wkt::WktVersion::Wkt1_Gdal };
    p.as_wkt(Some(version), None).map_err(|e| format!("PROJ cannot write EPSG:{code} as WKT: {e}"))
}

/// The name planatlas's files give GCJ-02 or BD-09 positions ([`wkt`]), and which of them a file's CRS
/// definition names, if either.
pub fn chinese_name(crs: Crs) -> Option<&'static str> {
    match crs {
        Crs::Gcj02 => Some("GCJ-02 (WGS 84 shifted by the Chinese web-map formula)"),
        Crs::Bd09 => Some("BD-09 (GCJ-02 shifted again by Baidu's formula)"),
        _ => None,
    }
}

/// Which of GCJ-02 or BD-09 a file's CRS definition (WKT) names, as planatlas writes them ([`wkt`]).
pub fn chinese_of_definition(definition: &str) -> Option<Crs> {
    [Crs::Gcj02, Crs::Bd09].into_iter().find(|c| chinese_name(*c).is_some_and(|n| definition.contains(n)))
}

/// The closed ring of a box given in `crs` (its axis order), in that CRS, with its edges sampled densely enough
/// to be drawn in longitude/latitude: a projected box's edges are curves there, and GCJ-02's and BD-09's offsets
/// wave (BD-09's with a period of 0.12° and some 40 m), so their box is not a longitude/latitude box either. An
/// edge has 20 to 500 points, 1 km (projected) or 0.002° (GCJ-02, BD-09) apart where that makes no more than
/// 500 (edges up to 500 km or 1°: a map's view), evenly spread over longer ones, so a test against the ring stays
/// cheap. Between them the drawn edge strays from the true one by some 5 cm on the shorter edges, and by up to a
/// few metres on a province-wide BD-09 box. A GCJ-02 or BD-09 box across China's edge (where the offset stops)
/// is drawn across the step. CRS84 and the other geographic CRSs' boxes are their corners.
pub fn box_ring(crs: Crs, min: Coord<f64>, max: Coord<f64>) -> Vec<Coord<f64>> {
    let corners = [min, Coord { x: max.x, y: min.y }, max, Coord { x: min.x, y: max.y }];
    let step = match crs {
        Crs::Crs84 | Crs::Epsg4326 | Crs::Epsg4490 => None,
        // BD-09's offset has a term with a period of 0.12° and some 40 m of amplitude.
        Crs::Gcj02 | Crs::Bd09 => Some(0.002),
        _ => Some(1_000.0),
    };
    let mut ring = Vec::new();
    for k in 0..4 {
        let (p, q) = (corners[k], corners[(k + 1) % 4]);
        let n = step
            .map_or(1.0, |step| ((q.x - p.x).abs().max((q.y - p.y).abs()) / step).ceil().clamp(20.0, 500.0));
        // n is a whole number from 1 to 500.
        for i in 0..n as u32 {
            let t = f64::from(i) / n;
            ring.push(Coord { x: p.x + (q.x - p.x) * t, y: p.y + (q.y - p.y) * t });
        }
    }
    ring.push(min);
    ring
}

/// A box given in `crs` (its axis order) as a CRS84 box covering it: the box of its sampled ring
/// ([`box_ring`]) widened by 1e-4° (10 m; 5e-4°, 50 m, for GCJ-02 and BD-09), which covers what the ring's edges
/// stray from the true ones. It only narrows candidates.
pub fn rect_to_crs84(crs: Crs, min: Coord<f64>, max: Coord<f64>) -> Result<geo::Rect<f64>, TransformError> {
    if crs == Crs::Crs84 {
        return Ok(geo::Rect::new(min, max));
    }
    let mut out: Option<geo::Rect<f64>> = None;
    for p in box_ring(crs, min, max) {
        let q = to_crs84(crs, p)?;
        out = Some(super::union_rect(out, geo::Rect::new(q, q)));
    }
    let Some(out) = out else { return Ok(geo::Rect::new(min, max)) };
    let pad = match crs {
        Crs::Crs84 | Crs::Epsg4326 | Crs::Epsg4490 => 0.0,
        Crs::Gcj02 | Crs::Bd09 => 5e-4,
        _ => 1e-4,
    };
    Ok(geo::Rect::new(
        Coord { x: (out.min().x - pad).max(-180.0), y: (out.min().y - pad).max(-90.0) },
        Coord { x: (out.max().x + pad).min(180.0), y: (out.max().y + pad).min(90.0) },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_parse_in_every_form() {
        assert_eq!(Crs::parse("http://www.opengis.net/def/crs/EPSG/0/4490"), Some(Crs::Epsg4490));
        assert_eq!(Crs::parse("EPSG:4550"), Some(Crs::Epsg4550));
        assert_eq!(Crs::parse("[EPSG:4551]"), Some(Crs::Epsg4551));
        assert_eq!(Crs::parse("urn:ogc:def:crs:EPSG::3857"), Some(Crs::Epsg3857));
        assert_eq!(Crs::parse("http://www.opengis.net/def/crs/OGC/1.3/CRS84"), Some(Crs::Crs84));
        assert_eq!(Crs::parse("gcj-02"), Some(Crs::Gcj02));
        assert_eq!(Crs::parse(BD09_URI), Some(Crs::Bd09));
        assert_eq!(Crs::parse("EPSG:2000"), None);
        assert_eq!(Crs::parse("EPSG:43260"), None);
    }

    #[test]
    fn gauss_kruger_is_northing_first_and_round_trips() {
        let shenyang = Coord { x: 123.4, y: 41.8 };
        let gk = from_crs84(Crs::Epsg4550, shenyang).unwrap();
        // Near the central meridian: easting close to the 500 km false easting, northing about 4.6 Mm.
        assert!(gk.x > 4_600_000.0 && gk.x < 4_650_000.0, "northing first: {gk:?}");
        assert!(gk.y > 520_000.0 && gk.y < 540_000.0, "{gk:?}");
        let back = to_crs84(Crs::Epsg4550, gk).unwrap();
        assert!((back.x - shenyang.x).abs() < 1e-9 && (back.y - shenyang.y).abs() < 1e-9);
    }

    #[test]
    fn cgcs2000_is_latitude_first_with_the_same_numbers() {
        let c = from_crs84(Crs::Epsg4490, Coord { x: 123.4, y: 41.8 }).unwrap();
        assert_eq!(c, Coord { x: 41.8, y: 123.4 });
    }
}
