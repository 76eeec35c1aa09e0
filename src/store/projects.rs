//! The plan's projects (`projects.geojson`), its items (`plan-items.json`) and targets (`targets.json`):
//! read, validated, and joined to counties, cities and regions from their geometry.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use geo::{BooleanOps, BoundingRect, Coord, GeodesicArea, Geometry, MultiPolygon};
use serde_json::{Map, Value, json};

use super::admin::{CountyIndex, check_lon_lat, geometry_type};
use super::collection::{Collection, Feature};
use super::source::{DataSource, LoadError};
use crate::domain::project::{CATEGORIES, COMPARATORS, PRECISIONS, is_section_id};
use crate::geom::geodesic;

/// One item of the plan as listed in `plan-items.json`.
#[derive(Debug, Clone)]
pub struct PlanItem {
    /// `四.(四).2`.
    pub section: String,
    /// `part`, `section` or `item`.
    pub level: String,
    /// The heading.
    pub title: String,
    /// The first unit of its 责任单位 bracket.
    pub lead_unit: Option<String>,
    /// The other units.
    pub co_units: Vec<String>,
    /// Every unit named in any of its brackets (an item can have several paragraphs with their own bracket).
    pub all_units: BTreeSet<String>,
    /// Each of its 责任单位 brackets: what it applies to (the paragraph's heading), its lead and other units.
    pub responsibilities: Vec<Value>,
}

/// Reads `plan-items.json`.
pub fn read_plan_items(source: &DataSource) -> Result<Vec<PlanItem>, LoadError> {
    let (file, text) = source.read("plan-items.json")?;
    let raw: Vec<Value> = serde_json::from_str(&text).map_err(|e| LoadError::Syntax {
        file: file.clone(),
        format: "JSON array",
        detail: e.to_string(),
    })?;
    let mut items = Vec::with_capacity(raw.len());
    let mut seen = BTreeSet::new();
    for (n, v) in raw.iter().enumerate() {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let section = s("section")
            .ok_or_else(|| LoadError::feature(&file, format!("#{}", n + 1), "missing `section`"))?;
        let bad = |reason: String| LoadError::feature(&file, section.clone(), reason);
        if !is_section_id(&section) {
            return Err(bad("`section` is not of the form 四.(四).2".into()));
        }
        if !seen.insert(section.clone()) {
            return Err(bad("duplicate section".into()));
        }
        let strings = |k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        };
        let mut all_units: BTreeSet<String> = s("lead_unit").into_iter().chain(strings("co_units")).collect();
        let mut responsibilities = Vec::new();
        for r in v.get("responsibilities").and_then(Value::as_array).into_iter().flatten() {
            let lead = r.get("lead_unit").and_then(Value::as_str).map(str::to_owned);
            let co: Vec<String> = r
                .get("co_units")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            all_units.extend(lead.iter().cloned().chain(co.iter().cloned()));
            responsibilities.push(serde_json::json!({
                "applies_to": r.get("applies_to").and_then(Value::as_str),
                "lead_unit": lead,
                "co_units": co,
            }));
        }
        items.push(PlanItem {
            level: s("level").unwrap_or_default(),
            title: s("title").unwrap_or_default(),
            lead_unit: s("lead_unit"),
            co_units: strings("co_units"),
            all_units,
            responsibilities,
            section,
        });
    }
    Ok(items)
}

/// A project as read and checked, before the join.
#[derive(Debug, Clone)]
pub struct ProjectRecord {
    /// Stable id.
    pub id: String,
    /// Geometry in CRS84.
    pub geometry: Geometry<f64>,
    /// Properties as written in the file.
    pub properties: Map<String, Value>,
}

/// Most positions in a project's geometry as written or imported (the plan's own corridors have at most ten);
/// a store that already holds a longer one still loads.
pub const MAX_PROJECT_POSITIONS: usize = 5_000;

/// Whether `s` is a project id: lower-case ASCII letters, digits and hyphens, at most 64, not starting with one.
pub fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Reads and validates `projects.geojson` against the boundaries and the plan items.
///
/// Stops on the first bad feature with a message naming it: an unknown category or precision, a malformed
/// or unknown section, a duplicate id, a geometry out of range, a point outside the county it names, or a
/// corridor that leaves Liaoning without saying so.
pub fn read_projects(
    source: &DataSource,
    counties: &Collection,
    county_at: &dyn Fn(Coord<f64>) -> Option<usize>,
    items: &[PlanItem],
) -> Result<Vec<ProjectRecord>, LoadError> {
    let (file, text) = source.read("projects.geojson")?;
    let fc = super::admin::feature_collection(&file, &text, |n, p| {
        p.and_then(|p| p.get("id"))
            .and_then(Value::as_str)
            .map_or_else(|| format!("#{}", n + 1), str::to_owned)
    })?;
    let sections: HashMap<&str, &PlanItem> = items.iter().map(|i| (i.section.as_str(), i)).collect();
    let seats = read_seats(source, counties)?;
    let mut ids: HashMap<String, usize> = HashMap::new();
    // Each point's place: (x, y) in micro-degrees -> (place key, project id).
    let mut places: HashMap<(i64, i64), (String, String)> = HashMap::new();
    let mut out = Vec::with_capacity(fc.features.len());
    for (n, f) in fc.features.into_iter().enumerate() {
        let props = f.properties.unwrap_or_default();
        let id = props.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        let label = if id.is_empty() { format!("#{}", n + 1) } else { id.clone() };
        let bad = |reason: String| LoadError::feature(&file, label.clone(), reason);
        if !is_slug(&id) {
            return Err(bad(format!("id: '{id}' must be lower-case ASCII letters, digits and hyphens")));
        }
        if let Some(first) = ids.insert(id.clone(), n) {
            return Err(bad(format!("id: duplicate id '{id}' (also feature #{first})")));
        }
        let text_prop = |k: &str| props.get(k).and_then(Value::as_str).filter(|s| !s.trim().is_empty());
        for k in ["name_zh", "name_en", "excerpt", "location_source"] {
            if text_prop(k).is_none() {
                return Err(bad(format!("{k}: missing or empty")));
            }
        }
        let category = text_prop("category").unwrap_or_default();
        if !CATEGORIES.iter().any(|(c, _)| *c == category) {
            let known: Vec<&str> = CATEGORIES.iter().map(|(c, _)| *c).collect();
            return Err(bad(format!("category: unknown category '{category}'; known: {}", known.join(", "))));
        }
        let precision = text_prop("location_precision").unwrap_or_default();
        if !PRECISIONS.iter().any(|(p, _)| *p == precision) {
            let known: Vec<&str> = PRECISIONS.iter().map(|(p, _)| *p).collect();
            return Err(bad(format!(
                "location_precision: unknown location_precision '{precision}'; known: {}",
                known.join(", ")
            )));
        }
        let secs: Vec<&str> = props
            .get("sections")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if secs.is_empty() {
            return Err(bad("sections must list at least one plan section".into()));
        }
        for s in &secs {
            if !is_section_id(s) {
                return Err(bad(format!("sections: section '{s}' is not of the form 四.(四).2")));
            }
            if !items.is_empty() && !sections.contains_key(s) {
                return Err(bad(format!("sections: section '{s}' is not in plan-items.json")));
            }
        }
        match props.get("lead_unit") {
            Some(Value::String(_) | Value::Null) | None => {}
            Some(_) => return Err(bad("lead_unit must be a string or null".into())),
        }
        if let (Some(lead), Some(item)) = (text_prop("lead_unit"), sections.get(secs[0]))
            && !item.all_units.is_empty()
            && !item.all_units.contains(lead)
        {
            return Err(bad(format!(
                "lead_unit: '{lead}' is not among the responsible units of {}",
                secs[0]
            )));
        }
        if !props
            .get("co_units")
            .is_some_and(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
        {
            return Err(bad("co_units must be an array of strings".into()));
        }
        check_targets(&props).map_err(|e| bad(format!("targets: {e}")))?;
        let gj = f.geometry.ok_or_else(|| bad("geometry: none".into()))?;
        let geometry = crate::geom::geo_from_geojson(gj).map_err(|e| bad(format!("geometry: {e}")))?;
        // Points and lines only: each project is in exactly one of `projects-points` and `projects-lines`, the
        // one-type layers Shapefiles and GIS tools need.
        match &geometry {
            Geometry::Point(_) | Geometry::LineString(_) | Geometry::MultiLineString(_) => {}
            other => {
                return Err(bad(format!(
                    "geometry: {} geometries are not allowed: a project is a Point (a site, or the seat of the place it \
                     is in) or a LineString/MultiLineString (a corridor); an area belongs in a planner's layer \
                     (`planatlas import FILE --new-collection ID`)",
                    geometry_type(other)
                )));
            }
        }
        check_lon_lat(&geometry).map_err(|e| bad(format!("geometry: {e}")))?;
        let named = text_prop("county_adcode");
        if let Some(code) = named
            && counties.get(code).is_none()
        {
            return Err(bad(format!("county_adcode: {code} is not a county")));
        }
        if let Geometry::Point(p) = &geometry {
            let code = named.ok_or_else(|| {
                bad("county_adcode: a Point needs `county_adcode`, the county it lies in".into())
            })?;
            let found = county_at(p.0).map(|i| counties.feature(i));
            if found.is_none_or(|c| c.id != code) {
                let name = counties.get(code).and_then(|c| c.str_prop("name_zh")).unwrap_or("?");
                let actual = found.map_or_else(
                    || "outside Liaoning".to_owned(),
                    |c| format!("in {} {}", c.id, c.str_prop("name_zh").unwrap_or("")),
                );
                return Err(bad(format!(
                    "geometry: point ({}, {}) lies outside its named county {code} {name}: it is {actual}",
                    p.x(),
                    p.y()
                )));
            }
            if let (Some(city), Some(c)) = (text_prop("city_adcode"), found)
                && c.str_prop("parent_adcode") != Some(city)
            {
                return Err(bad(format!("city_adcode: {city} is not the city of county {code}")));
            }
        } else {
            use geo::{CoordsIter, Intersects};
            // A corridor's counties and cities are where it runs (the join's county_adcodes, city_adcodes).
            for k in ["county_adcode", "city_adcode"] {
                if let Some(code) = text_prop(k) {
                    return Err(bad(format!(
                        "{k}: `{k}` {code} is for a point; a line's counties and cities come from where it runs \
                         (leave `{k}` null)"
                    )));
                }
            }
            let mut positions = geometry.coords_iter();
            let first = positions.next();
            if positions.all(|c| Some(c) == first) {
                return Err(bad("geometry: a line needs at least two distinct positions".into()));
            }
            let inside = |c: Coord<f64>| county_at(c).is_some();
            if !geometry.coords_iter().any(inside)
                && !counties
                    .features()
                    .iter()
                    .filter_map(|c| c.geometry.as_ref())
                    .any(|c| c.intersects(&geometry))
            {
                return Err(bad(
                    "geometry: the line lies wholly outside Liaoning: it is no project of the plan's cities"
                        .into(),
                ));
            }
            let leaves = geometry.coords_iter().any(|c| county_at(c).is_none());
            let says =
                props.get("outside_province").and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
            if leaves && !says {
                return Err(bad(
                    "outside_province: the geometry leaves Liaoning but `outside_province` does not say where".into()
                ));
            }
        }
        check_position(&props, &geometry, precision, &seats)
            .map_err(|e| bad(format!("location_precision: {e}")))?;
        if let Geometry::Point(p) = &geometry {
            let key = place_key(&props, &id, precision);
            let at = point_key(*p);
            if let Some((other_key, other)) = places.get(&at)
                && *other_key != key
            {
                return Err(bad(format!(
                    "place_id: shares its point ({}, {}) with {other} but not its place ({key} vs {other_key}): projects \
                     share a point only when they are the same place (the same `place_id`, or both city-wide in \
                     one city, or both county-wide in one county)",
                    p.x(),
                    p.y()
                )));
            }
            places.entry(at).or_insert((key, id.clone()));
        }
        // Null is no notes: how a GeoPackage or CSV export writes a project without any.
        if let Some(notes) = props.get("consistency_notes").filter(|n| !n.is_null())
            && !notes.as_object().is_some_and(|m| m.values().all(Value::is_string))
        {
            return Err(bad("consistency_notes must map check names to explanations".into()));
        }
        out.push(ProjectRecord { id, geometry, properties: props });
    }
    if out.is_empty() {
        return Err(LoadError::File { file, reason: "no projects".into() });
    }
    Ok(out)
}

/// The seats city-wide and county-wide items are placed on (`seats.json`): adcode -> (lon, lat).
pub fn read_seats(
    source: &DataSource,
    counties: &Collection,
) -> Result<HashMap<String, Coord<f64>>, LoadError> {
    let (file, text) = source.read("seats.json")?;
    let doc: Map<String, Value> = serde_json::from_str(&text).map_err(|e| LoadError::Syntax {
        file: file.clone(),
        format: "JSON object",
        detail: e.to_string(),
    })?;
    let mut seats = HashMap::with_capacity(doc.len());
    for (code, v) in doc {
        let bad = |reason: String| LoadError::feature(&file, code.clone(), reason);
        let (Some(lon), Some(lat)) = (v["lon"].as_f64(), v["lat"].as_f64()) else {
            return Err(bad("needs numeric `lon` and `lat`".into()));
        };
        if v["source"].as_str().is_none_or(|s| s.trim().is_empty()) {
            return Err(bad("needs a `source` saying where the seat's position comes from".into()));
        }
        let is_city = counties.features().iter().any(|c| c.str_prop("parent_adcode") == Some(code.as_str()));
        if counties.get(&code).is_none() && !is_city {
            return Err(bad(format!("{code} is neither a county nor a city adcode")));
        }
        seats.insert(code, Coord { x: lon, y: lat });
    }
    Ok(seats)
}

/// A point as whole micro-degrees: two projects at one key share a point.
pub fn point_key(p: geo::Point<f64>) -> (i64, i64) {
    #[expect(clippy::cast_possible_truncation, reason = "degrees × 1e6 fit in i64")]
    ((p.x() * 1e6).round() as i64, (p.y() * 1e6).round() as i64)
}

/// A project's place, for telling a shared point that is one place from two things stacked by accident:
/// its `place_id`, else the seat it sits on for city- and county-wide items, else itself.
pub fn place_key(props: &impl super::props::Lookup, id: &str, precision: &str) -> String {
    let text = |k: &str| props.text(k).filter(|s| !s.trim().is_empty());
    match (text("place_id"), precision) {
        (Some(p), _) => format!("place:{p}"),
        (None, "city") => format!("seat:{}", text("city_adcode").unwrap_or_default()),
        (None, "county") => format!("seat:{}", text("county_adcode").unwrap_or_default()),
        (None, _) => format!("project:{id}"),
    }
}

/// The rule for each precision (geodata/README.md): `site` cites a source that gives the position;
/// `district` names its town, district or zone; `county` and `city` positions are their seat in `seats.json`.
fn check_position(
    props: &Map<String, Value>,
    geometry: &Geometry<f64>,
    precision: &str,
    seats: &HashMap<String, Coord<f64>>,
) -> Result<(), String> {
    let text = |k: &str| props.get(k).and_then(Value::as_str).filter(|s| !s.trim().is_empty());
    let at_seat = |level: &str, code: Option<&str>| -> Result<(), String> {
        let Geometry::Point(p) = geometry else { return Ok(()) };
        let code = code.ok_or_else(|| format!("a `{level}` position needs `{level}_adcode`"))?;
        let seat = seats.get(code).ok_or_else(|| format!("seats.json has no seat for {level} {code}"))?;
        if (seat.x - p.x()).abs() > 5e-7 || (seat.y - p.y()).abs() > 5e-7 {
            return Err(format!(
                "a `{level}` position is the {level} seat ({}, {}) from seats.json, not ({}, {}): known only to \
                 be in the {level}, it sits on the seat, or give a better precision with its source",
                seat.x,
                seat.y,
                p.x(),
                p.y()
            ));
        }
        Ok(())
    };
    match precision {
        "site" if text("location_cite").is_none() => Err(
            "location_precision `site` needs `location_cite`: the source (URL or document) that gives the \
             position; without one, use district, county or city"
                .into(),
        ),
        "district" if text("named_place").is_none() => {
            Err("location_precision `district` needs `named_place`: the town, district or zone it is the centre of".into())
        }
        "county" => at_seat("county", text("county_adcode")),
        "city" => at_seat("city", text("city_adcode")),
        _ => Ok(()),
    }
}

fn check_targets(props: &Map<String, Value>) -> Result<(), String> {
    let Some(targets) = props.get("targets") else { return Ok(()) };
    let list = targets.as_array().ok_or("`targets` must be an array")?;
    for t in list {
        check_target(t)?;
    }
    Ok(())
}

/// Checks one target object: id, indicator, comparator from the vocabulary, and a numeric value unless it is
/// qualitative.
pub fn check_target(t: &Value) -> Result<(), String> {
    let id = t.get("id").and_then(Value::as_str).unwrap_or("?");
    if !t.get("id").and_then(Value::as_str).is_some_and(is_slug) {
        return Err(format!("target '{id}': `id` must be a kebab-case slug"));
    }
    if t.get("indicator_zh").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(format!("target '{id}': missing `indicator_zh`"));
    }
    let cmp = t.get("comparator").and_then(Value::as_str).unwrap_or_default();
    if !COMPARATORS.contains(&cmp) {
        return Err(format!("target '{id}': comparator '{cmp}' is not one of {}", COMPARATORS.join(" ")));
    }
    let value_ok = match t.get("value") {
        Some(Value::Number(_)) => true,
        Some(Value::Null) | None => cmp == "qualitative",
        Some(_) => false,
    };
    if !value_ok {
        return Err(format!("target '{id}': `value` must be a number (null only for qualitative targets)"));
    }
    if let Some(m) = t.get("measure")
        && m.as_str().and_then(super::progress::Measure::parse).is_none()
    {
        let names: Vec<&str> = super::progress::Measure::ALL.iter().map(|m| m.name()).collect();
        return Err(format!("target '{id}': measure {m} is not one of {}", names.join(" ")));
    }
    let section = t.get("section").and_then(Value::as_str).unwrap_or_default();
    if !is_section_id(section) {
        return Err(format!("target '{id}': section '{section}' is not of the form 四.(四).2"));
    }
    Ok(())
}

/// What the geometric join found for one project.
#[derive(Debug, Clone, Default)]
pub struct Join {
    /// County indexes with the length (km) or area (km²) inside each (1.0 for a point).
    pub counties: BTreeMap<usize, f64>,
    /// Total length (km) for lines, area (km²) for polygons.
    pub total: Option<f64>,
}

/// Joins a geometry to the counties: a point to the county containing it; a line to every county it crosses,
/// with the geodesic length inside each; a polygon to every county it overlaps, with the geodesic area.
pub fn join(
    geometry: &Geometry<f64>,
    counties: &Collection,
    county_shapes: &[MultiPolygon<f64>],
    borders: &CountyIndex,
    county_at: &dyn Fn(Coord<f64>) -> Option<usize>,
) -> Join {
    let mut out = Join::default();
    match geometry {
        Geometry::Point(p) => {
            if let Some(c) = county_at(p.0) {
                out.counties.insert(c, 1.0);
            }
        }
        Geometry::MultiPoint(ps) => {
            // Each point to its county; the measure is the number of points, so shares are fractions of them.
            #[expect(clippy::cast_precision_loss, reason = "a count of points")]
            let n = ps.0.len() as f64;
            out.total = Some(n);
            for p in ps {
                if let Some(c) = county_at(p.0) {
                    *out.counties.entry(c).or_default() += 1.0;
                }
            }
        }
        Geometry::LineString(_) | Geometry::MultiLineString(_) => {
            let lines = match geometry {
                Geometry::LineString(ls) => std::slice::from_ref(ls),
                Geometry::MultiLineString(m) => m.0.as_slice(),
                _ => unreachable!("matched above"),
            };
            // Split every segment where it crosses a county border, and give each piece to the county holding
            // its midpoint: exact, and no polygon clipping. The length in all is the segments' (as
            // `geodesic::length_m` measures a line), each measured once.
            let mut total = 0.0;
            for ls in lines {
                let mut line_m = 0.0;
                for seg in ls.lines() {
                    line_m += split_at_borders(borders, seg, county_at, &mut |county, m| {
                        *out.counties.entry(county).or_default() += m / 1e3;
                    });
                }
                total += line_m;
            }
            out.total = Some(total / 1e3);
        }
        Geometry::Polygon(_) | Geometry::MultiPolygon(_) => {
            let mp = match geometry {
                Geometry::Polygon(p) => MultiPolygon(vec![p.clone()]),
                Geometry::MultiPolygon(m) => m.clone(),
                _ => unreachable!("matched above"),
            };
            out.total = Some(mp.geodesic_area_unsigned() / 1e6);
            let Some(rect) = mp.bounding_rect() else { return out };
            for i in counties.bbox_candidates(&rect) {
                let km2 = county_shapes[i].intersection(&mp).geodesic_area_unsigned() / 1e6;
                if km2 > 0.0 {
                    out.counties.insert(i, km2);
                }
            }
        }
        _ => {}
    }
    out
}

/// How strong a region membership basis is: stated, then inferred, then inferred-weak.
fn basis_rank(basis: &str) -> u8 {
    match basis {
        "stated" => 3,
        "inferred" => 2,
        _ => 1,
    }
}

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

/// Builds the served properties of a project: what the file says, then what the join found.
pub fn joined_properties(record: &ProjectRecord, join: &Join, places: &Places) -> Map<String, Value> {
    // A city-wide item (precision `city`) sits on the city seat: it is in the city, its county is not known,
    // and it is in the regions that take the whole city, not those of the seat district.
    let city_wide = matches!(record.geometry, Geometry::Point(_))
        && record.properties.get("location_precision").and_then(Value::as_str) == Some("city");
    let mut p = record.properties.clone();
    p.extend(join_values(geometry_type(&record.geometry), city_wide, join, places));
    // A schematic geometry (a corridor drawn through the seats it links, an anchor for a thing spanning several
    // places) is a drawing: what the join found is where the drawing lies, and says so.
    if record.properties.get("location_precision").and_then(Value::as_str) == Some("schematic")
        && let Some(Value::String(method)) = p.get_mut("join").and_then(|j| j.get_mut("method"))
    {
        method.push_str(
            "; the geometry is schematic, so these are the places and measures of the drawing, not a surveyed \
             route or extent (location_source says what it links; named_place what the plan names)",
        );
    }
    p
}

/// What the values a join adds name about the places it found, read once from the counties, cities and
/// regions: all [`join_values`] reads, small enough for a layer to keep and make its values from when asked.
#[derive(Debug, Clone, Default)]
pub struct Places {
    /// By county number (the order of the counties collection).
    counties: Vec<PlaceCounty>,
    /// By city adcode.
    cities: HashMap<String, PlaceCity>,
    /// The regions in the order of their collection: id and Chinese name.
    regions: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, Default)]
struct PlaceCounty {
    adcode: String,
    name_zh: Option<String>,
    /// The city's adcode; a county without one is left out of joins.
    parent: Option<String>,
    /// The regions it is in: id and membership basis.
    regions: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
struct PlaceCity {
    name_zh: Option<String>,
    /// The regions that take the whole city (`via` city): id and membership basis.
    whole_city_regions: Vec<(String, String)>,
}

impl Places {
    /// What the joins read from these collections.
    pub fn new(counties: &Collection, cities: &Collection, regions: &Collection) -> Self {
        let memberships = |f: &Feature, whole_city: bool| -> Vec<(String, String)> {
            f.properties
                .get("regions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|r| !whole_city || r["via"] == "city")
                .filter_map(|r| Some((r["id"].as_str()?.to_owned(), r["basis"].as_str()?.to_owned())))
                .collect()
        };
        let name = |f: &Feature| f.str_prop("name_zh").map(str::to_owned);
        Self {
            counties: counties
                .features()
                .iter()
                .map(|c| PlaceCounty {
                    adcode: c.id.clone(),
                    name_zh: name(c),
                    parent: c.str_prop("parent_adcode").map(str::to_owned),
                    regions: memberships(c, false),
                })
                .collect(),
            cities: cities
                .features()
                .iter()
                .map(|c| {
                    (c.id.clone(), PlaceCity { name_zh: name(c), whole_city_regions: memberships(c, true) })
                })
                .collect(),
            regions: regions.features().iter().map(|r| (r.id.clone(), name(r))).collect(),
        }
    }
}

/// The values [`join_values`] writes for a geometry of type `kind` (a GeoJSON type name) that depend on the
/// measures inside each place (length, area or point count, and the shares), in the order written: after every
/// other, which depends only on the places found. A point's join has no measures.
pub fn measured_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "Point" => &[],
        "MultiPoint" => &["point_count", "join"],
        "Polygon" | "MultiPolygon" => &["area_km2", "join"],
        _ => &["length_km", "outside_liaoning_km", "join"],
    }
}

/// Adds `m` to region `id`'s measure, keeping the strongest basis of membership.
fn add_region<'p>((id, basis): &'p (String, String), m: f64, to: &mut BTreeMap<&'p str, (f64, &'p str)>) {
    let e = to.entry(id.as_str()).or_insert((0.0, basis.as_str()));
    e.0 += m;
    if basis_rank(basis) > basis_rank(e.1) {
        e.1 = basis.as_str();
    }
}

/// What a join found, as the properties it adds to a geometry of type `kind` (a GeoJSON type name): counties,
/// cities and regions with their shares, the measure (length, area or point count), how it was joined.
/// `city_wide`: a point placed on its city's seat (see [`joined_properties`]). For a point this depends only on
/// the county it is in; for the others, what [`measured_keys`] names comes last.
pub fn join_values(kind: &str, city_wide: bool, join: &Join, places: &Places) -> Map<String, Value> {
    let mut p = Map::new();
    let is_point = kind == "Point";
    let measure_key = match kind {
        "Polygon" | "MultiPolygon" => "area_km2",
        "MultiPoint" => "point_count",
        _ => "length_km",
    };
    // Counties, then cities and regions by summing their counties.
    let mut city_measure: BTreeMap<&str, f64> = BTreeMap::new();
    let mut region_measure: BTreeMap<&str, (f64, &str)> = BTreeMap::new();
    let mut county_list = Vec::new();
    for (&ci, &m) in &join.counties {
        let Some(c) = places.counties.get(ci) else { continue };
        let Some(parent) = c.parent.as_deref() else { continue };
        *city_measure.entry(parent).or_default() += m;
        if city_wide {
            for r in places.cities.get(parent).into_iter().flat_map(|city| &city.whole_city_regions) {
                add_region(r, m, &mut region_measure);
            }
            continue;
        }
        county_list.push(
            json!({"adcode": c.adcode, "name_zh": c.name_zh, measure_key: (!is_point).then(|| round(m, 2))}),
        );
        for r in &c.regions {
            add_region(r, m, &mut region_measure);
        }
    }
    let total = join.total.unwrap_or(1.0);
    let share = |m: f64| if is_point { 1.0 } else { round((m / total).min(1.0), 3) };
    let city_list: Vec<Value> = city_measure
        .iter()
        .map(|(&code, &m)| {
            let name = places.cities.get(code).and_then(|c| c.name_zh.as_deref());
            json!({"adcode": code, "name_zh": name, measure_key: (!is_point).then(|| round(m, 2)), "share": share(m)})
        })
        .collect();
    let region_list: Vec<Value> = places
        .regions
        .iter()
        .filter_map(|(id, name)| {
            let (m, basis) = region_measure.get(id.as_str())?;
            Some(json!({
                "id": id,
                "name_zh": name,
                measure_key: (!is_point).then(|| round(*m, 2)),
                "share": share(*m),
                "membership_basis": basis,
            }))
        })
        .collect();
    p.insert(
        "county_adcodes".into(),
        json!(county_list.iter().map(|c| c["adcode"].clone()).collect::<Vec<_>>()),
    );
    p.insert(
        "county_names".into(),
        json!(county_list.iter().map(|c| c["name_zh"].clone()).collect::<Vec<_>>()),
    );
    p.insert("city_wide".into(), json!(city_wide));
    p.insert("city_adcodes".into(), json!(city_measure.keys().collect::<Vec<_>>()));
    p.insert("city_names".into(), json!(city_list.iter().map(|c| c["name_zh"].clone()).collect::<Vec<_>>()));
    p.insert("region_ids".into(), json!(region_list.iter().map(|r| r["id"].clone()).collect::<Vec<_>>()));
    p.insert("geometry_type".into(), json!(kind));
    if let Some(t) = join.total {
        let inside: f64 = join.counties.values().sum();
        p.insert(measure_key.into(), json!(round(t, 2)));
        if measure_key == "length_km" {
            p.insert("outside_liaoning_km".into(), json!(round((t - inside).max(0.0), 2)));
        }
    }
    p.insert("join".into(), json!({
        "method": if city_wide { "city-wide: placed at the city seat; in the city, county not known" } else if is_point { "point in county polygon" } else if measure_key == "point_count" { "each point in its county polygon, counted" } else if measure_key == "length_km" { "line clipped to county polygons, geodesic length" } else { "polygon intersected with county polygons, geodesic area" },
        "counties": county_list,
        "cities": city_list,
        "regions": region_list,
    }));
    p
}

/// What [`join_values`] writes, with `city_wide` false, for a line or polygon joined to one county, as it rounds
/// it: the geometry type, the county, the measure inside it and in all and the part outside Liaoning (to 0.01),
/// and the share (to 0.001). Two such joins with one key get equal joined values, so a large layer can share
/// them without making each again. `None` for points (shared by county already) and joins to several counties.
pub fn one_county_key(geometry: &Geometry<f64>, join: &Join) -> Option<(&'static str, usize, [u64; 4])> {
    if matches!(geometry, Geometry::Point(_) | Geometry::MultiPoint(_)) || join.counties.len() != 1 {
        return None;
    }
    let (&county, &m) = join.counties.iter().next()?;
    let t = join.total?;
    let rounded = [round(m, 2), round(t, 2), round((t - m).max(0.0), 2), round((m / t).min(1.0), 3)];
    Some((geometry_type(geometry), county, rounded.map(f64::to_bits)))
}

/// The project features, ready for a collection.
pub fn project_features(
    records: Vec<ProjectRecord>,
    joins: &[Join],
    counties: &Collection,
    cities: &Collection,
    regions: &Collection,
) -> Vec<Feature> {
    let places = Places::new(counties, cities, regions);
    records
        .into_iter()
        .zip(joins)
        .map(|(r, j)| {
            let props = joined_properties(&r, j, &places);
            Feature::new(r.id, Some(r.geometry), props)
        })
        .collect()
}

/// Splits `seg` at every county border it crosses (the border segments near it, from the county index's
/// R-tree) and measures each piece (geodesic metres), handing `piece` the county containing its midpoint; pieces
/// outside every county are dropped. Answers the segment's whole length (the one piece's, when nothing cuts it).
fn split_at_borders(
    borders: &CountyIndex,
    seg: geo::Line<f64>,
    county_at: &dyn Fn(Coord<f64>) -> Option<usize>,
    piece: &mut dyn FnMut(usize, f64),
) -> f64 {
    let whole = geodesic::distance_m(seg.start, seg.end);
    let (dx, dy) = (seg.end.x - seg.start.x, seg.end.y - seg.start.y);
    let param = |c: Coord<f64>| {
        if dx.abs() >= dy.abs() { (c.x - seg.start.x) / dx } else { (c.y - seg.start.y) / dy }
    };
    let at = |t: f64| Coord { x: seg.start.x + t * dx, y: seg.start.y + t * dy };
    // Where borders cut it, strictly inside (most segments are cut nowhere: no list is made for them).
    let mut cuts: Vec<f64> = Vec::new();
    if dx != 0.0 || dy != 0.0 {
        for border in borders.borders_near(seg.start, seg.end) {
            match geo::algorithm::line_intersection::line_intersection(seg, border) {
                Some(geo::LineIntersection::SinglePoint { intersection, .. }) => {
                    cuts.push(param(intersection));
                }
                Some(geo::LineIntersection::Collinear { intersection }) => {
                    cuts.push(param(intersection.start));
                    cuts.push(param(intersection.end));
                }
                None => {}
            }
        }
    }
    cuts.retain(|t| *t > 1e-12 && *t < 1.0 - 1e-12);
    if cuts.is_empty() {
        if let Some(county) = county_at(at(0.5)) {
            piece(county, whole);
        }
        return whole;
    }
    cuts.extend([0.0, 1.0]);
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|a, b| (*a - *b).abs() < 1e-12);
    for w in cuts.windows(2) {
        if let Some(county) = county_at(at(f64::midpoint(w[0], w[1]))) {
            piece(county, geodesic::distance_m(at(w[0]), at(w[1])));
        }
    }
    whole
}

/// A county's boundary as a multipolygon, for clipping.
pub fn county_shapes(counties: &Collection) -> Vec<MultiPolygon<f64>> {
    counties
        .features()
        .iter()
        .map(|f| match &f.geometry {
            Some(Geometry::MultiPolygon(mp)) => mp.clone(),
            Some(Geometry::Polygon(p)) => MultiPolygon(vec![p.clone()]),
            _ => MultiPolygon(vec![]),
        })
        .collect()
}

/// Reads `targets.json` (targets not tied to one project) and checks each entry.
pub fn read_targets(source: &DataSource) -> Result<Vec<Map<String, Value>>, LoadError> {
    let (file, text) = source.read("targets.json")?;
    let raw: Vec<Value> = serde_json::from_str(&text).map_err(|e| LoadError::Syntax {
        file: file.clone(),
        format: "JSON array",
        detail: e.to_string(),
    })?;
    let mut out = Vec::with_capacity(raw.len());
    for (n, v) in raw.into_iter().enumerate() {
        let id = v.get("id").and_then(Value::as_str).map_or_else(|| format!("#{}", n + 1), str::to_owned);
        check_target(&v).map_err(|e| LoadError::feature(&file, id.clone(), e))?;
        let scope = v.get("scope").and_then(Value::as_str).unwrap_or_default();
        if !["region", "city", "province"].contains(&scope) {
            return Err(LoadError::feature(
                &file,
                id,
                format!("scope '{scope}' is not region, city or province"),
            ));
        }
        let Value::Object(map) = v else { unreachable!("check_target needs an object") };
        out.push(map);
    }
    Ok(out)
}
