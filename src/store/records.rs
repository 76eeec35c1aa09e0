//! Project records as written: one reading of a GeoJSON Feature into what the store keeps, shared by the HTTP
//! writes and `planatlas import`. The rules a record must then meet are the loader's
//! ([`super::projects::read_projects`]), applied when the catalog is rebuilt with it.

use serde_json::{Map, Value, json};

use crate::geom::{self, crs::Crs};

/// The properties a project is written with; every other property is derived by the server.
pub const INPUT_PROPERTIES: &[&str] = &[
    "id",
    "name_zh",
    "name_en",
    "category",
    "sections",
    "lead_unit",
    "co_units",
    "excerpt",
    "targets",
    "named_place",
    "county_adcode",
    "city_adcode",
    "location_precision",
    "location_source",
    "location_cite",
    "place_id",
    "outside_province",
    "consistency_notes",
];

/// What is wrong with a record, and in which member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    /// The member (`body`, `geometry`, `properties`, `id`).
    pub field: &'static str,
    /// What is wrong.
    pub detail: String,
}

fn bad(field: &'static str, detail: impl Into<String>) -> RecordError {
    RecordError { field, detail: detail.into() }
}

/// The positions of a stored geometry (CRS84 GeoJSON) as this server writes them in `crs` (its axis order,
/// rounded to its precision), each with the stored position it stands for. A position written back exactly so
/// is that stored one: converted back, it would move by up to the written precision (1e-6° of GCJ-02 is 0.1 m).
fn written_positions(current: &Value, crs: Crs) -> std::collections::HashMap<(u64, u64), geo::Coord<f64>> {
    use geo::CoordsIter;
    let Ok(g) = geom::geometry_from_geojson(current, Crs::Crs84) else {
        return std::collections::HashMap::new();
    };
    let Ok(written) = geom::transform_geometry(&g, crs) else { return std::collections::HashMap::new() };
    geom::rounded(written, crs)
        .coords_iter()
        .map(|w| (w.x.to_bits(), w.y.to_bits()))
        .zip(g.coords_iter())
        .collect()
}

/// The record to store for a GeoJSON Feature: its geometry in CRS84 (read from `crs`, in that CRS's axis order
/// as this server writes it), only the input properties, `id` set. `current` is the stored geometry (CRS84
/// GeoJSON) of the project the body replaces, if any: each position that is exactly what this server writes for
/// one of its positions in `crs` is that position, unchanged, so a file or a feature
/// read in another CRS and written back, as it was or with some positions moved, changes only what was moved.
pub fn project_record(
    body: &Value,
    id: &str,
    crs: Crs,
    current: Option<&Value>,
) -> Result<String, RecordError> {
    let obj = body
        .as_object()
        .filter(|o| o.get("type").and_then(Value::as_str) == Some("Feature"))
        .ok_or_else(|| bad("body", "must be a GeoJSON Feature ({\"type\": \"Feature\", …})"))?;
    let geometry = obj
        .get("geometry")
        .filter(|g| !g.is_null())
        .ok_or_else(|| bad("geometry", "a project needs a geometry"))?;
    if geom::has_height(geometry) {
        return Err(bad(
            "geometry",
            "has a height (a position with a third number); planatlas keeps longitude and latitude only, so \
             drop the heights first (e.g. ogr2ogr -dim XY)",
        ));
    }
    let g = if crs == Crs::Crs84 {
        geom::geometry_from_geojson(geometry, crs).map_err(|e| bad("geometry", e))?
    } else {
        // In the CRS's own axis order, as this server writes it for `crs=` (OGC API – Features Part 2), so a
        // feature read with `crs=EPSG:4549` can be written back with `Content-Crs` unchanged.
        let gj = geojson::Geometry::from_json_value(geometry.clone())
            .map_err(|e| bad("geometry", format!("is not a GeoJSON geometry: {e}")))?;
        let g = geom::geo_from_geojson(gj).map_err(|e| bad("geometry", e))?;
        let known = current.map(|c| written_positions(c, crs)).unwrap_or_default();
        let g = geo::MapCoords::try_map_coords(&g, |c| match known.get(&(c.x.to_bits(), c.y.to_bits())) {
            Some(stored) => Ok(*stored),
            None => geom::crs::to_crs84(crs, c),
        })
        .map_err(|e| bad("geometry", format!("cannot be read in {crs}: {e}")))?;
        super::admin::check_lon_lat(&g).map_err(|e| bad("geometry", e))?;
        g
    };
    // Every map tile and proximity answer simplifies or measures the geometry: a plan's corridor is drawn with
    // tens of positions, and a detailed trace belongs in a planner's layer. Checked on what is written, not on
    // what a store already holds.
    let positions = geo::CoordsIter::coords_count(&g);
    if positions > super::projects::MAX_PROJECT_POSITIONS {
        return Err(bad(
            "geometry",
            format!(
                "has {positions} positions; a project has at most {} (a detailed trace belongs in a planner's \
                 layer: `planatlas import FILE --new-collection ID`)",
                super::projects::MAX_PROJECT_POSITIONS
            ),
        ));
    }
    let g = geom::geojson_in(&g, Crs::Crs84).map_err(|e| bad("geometry", e.to_string()))?;
    let props = match obj.get("properties") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => return Err(bad("properties", "must be an object")),
    };
    // Anything but the input properties is derived by the server (joins, counts, shares) or unknown: not kept.
    let mut kept: Map<String, Value> =
        props.into_iter().filter(|(k, _)| INPUT_PROPERTIES.contains(&k.as_str())).collect();
    same_id(obj, kept.get("id"), id)?;
    kept.insert("id".into(), json!(id));
    Ok(json!({"type": "Feature", "geometry": g, "properties": kept}).to_string())
}

/// A body that names a feature (GeoJSON's top-level `id`, or `properties.id`) names the one it is written as: a
/// PUT or PATCH cannot rename, and a body meant for another feature is refused rather than silently stored
/// under the path's id. A number is read as its text (GeoJSON allows `"id": 7`).
pub fn same_id(feature: &Map<String, Value>, property: Option<&Value>, id: &str) -> Result<(), RecordError> {
    for (member, given) in [("id", feature.get("id")), ("properties.id", property)] {
        let text = match given {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Err(bad("id", format!("the body's {member} must be a string, not {other}")));
            }
        };
        if text != id {
            return Err(bad(
                "id",
                format!(
                    "the body's {member} says '{text}' but the feature is '{id}' (an id cannot be changed)"
                ),
            ));
        }
    }
    Ok(())
}

/// The id a record of a non-spatial stored collection takes from its properties: `project@quarter` for a
/// progress report, `target@period` for an indicator value (the period written as the loader writes it).
pub fn record_id(collection: &str, body: &Value) -> Result<String, RecordError> {
    let prop = |k: &str| body.pointer(&format!("/properties/{k}")).and_then(Value::as_str);
    let key = if collection == "progress" { "project" } else { "target" };
    let owner = prop(key)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad("properties", format!("{key} is required")))?;
    let period = prop("period").ok_or_else(|| bad("properties", "period is required"))?;
    let period =
        super::progress::Period::parse(period).map_err(|e| bad("properties", format!("period: {e}")))?;
    Ok(format!("{owner}@{period}"))
}

/// The record to store for a progress report or an indicator value: a GeoJSON Feature with no geometry, the
/// input properties only, its id (`project@quarter`, `target@period`) and who wrote it. Its rules (stage,
/// period, investment, units) are the loader's, checked when the catalog is rebuilt with it.
pub fn plain_record(collection: &str, body: &Value, id: &str, actor: &str) -> Result<String, RecordError> {
    let obj =
        body.as_object().filter(|o| o.get("type").and_then(Value::as_str) == Some("Feature")).ok_or_else(
            || bad("body", "must be a GeoJSON Feature ({\"type\": \"Feature\", \"geometry\": null, …})"),
        )?;
    if obj.get("geometry").is_some_and(|g| !g.is_null()) {
        return Err(bad(
            "geometry",
            format!("records of '{collection}' have no geometry: send \"geometry\": null"),
        ));
    }
    let input = if collection == "progress" {
        super::progress::PROGRESS_INPUT
    } else {
        super::progress::INDICATOR_INPUT
    };
    let props = match obj.get("properties") {
        Some(Value::Object(p)) => p.clone(),
        _ => return Err(bad("properties", "must be an object")),
    };
    let derived = record_id(collection, body)?;
    if derived != id {
        return Err(bad("id", format!("the body's properties make '{derived}' but the feature is '{id}'")));
    }
    same_id(obj, props.get("id"), id)?;
    let mut kept: Map<String, Value> =
        props.into_iter().filter(|(k, _)| input.contains(&k.as_str())).collect();
    kept.insert("id".into(), json!(id));
    kept.insert("reported_by".into(), json!(actor));
    Ok(super::engine::record_feature(id, &kept))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_input_properties_only_and_checks_the_id() {
        let body = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [123.4, 41.8]},
            "properties": {"name_zh": "x", "county_adcodes": ["1"], "project_count": 3}});
        let r: Value = serde_json::from_str(&project_record(&body, "a", Crs::Crs84, None).unwrap()).unwrap();
        assert_eq!(r["properties"], json!({"name_zh": "x", "id": "a"}));
        let e =
            project_record(&json!({"type": "Feature", "geometry": null}), "a", Crs::Crs84, None).unwrap_err();
        assert_eq!(e.field, "geometry");
        let other = json!({"type": "Feature", "geometry": {"type": "Point", "coordinates": [123.4, 41.8]},
            "properties": {"id": "b"}});
        assert_eq!(project_record(&other, "a", Crs::Crs84, None).unwrap_err().field, "id");
        let mut top = other.clone();
        top["properties"]["id"] = json!("a");
        top["id"] = json!("b");
        let e = project_record(&top, "a", Crs::Crs84, None).unwrap_err();
        assert_eq!((e.field, e.detail.contains("body's id says 'b'")), ("id", true), "{}", e.detail);
        top["id"] = json!(7);
        assert!(project_record(&top, "7", Crs::Crs84, None).unwrap_err().detail.contains("properties.id"));
        top["properties"]["id"] = json!("7");
        assert!(project_record(&top, "7", Crs::Crs84, None).is_ok(), "a number is read as its text");
    }
}
