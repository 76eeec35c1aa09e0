//! Reading a file of projects for `planatlas import`: a GeoJSON FeatureCollection, or a GeoPackage's first
//! feature table (as `planatlas export` and QGIS write them). Each feature comes out as a GeoJSON Feature value;
//! the store then reads it like an HTTP write ([`crate::store::records::project_record`]).

use std::path::Path;

use serde_json::{Map, Value, json};

/// Reads every feature of `path` (GeoJSON or GeoPackage, by extension).
pub fn read_features(path: &Path) -> Result<Vec<Value>, String> {
    let shown = path.display();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    if ext == "gpkg" {
        return read_gpkg(path).map_err(|e| format!("{shown}: {e}"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{shown}: not JSON: {e}"))?;
    match v.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => {
            Ok(v.get("features").and_then(Value::as_array).cloned().unwrap_or_default())
        }
        Some("Feature") => Ok(vec![v]),
        _ => Err(format!("{shown}: not a GeoJSON FeatureCollection or Feature")),
    }
}

/// A column value as JSON: text holding a JSON array or object (how exports write lists) is read back as one.
fn column_value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null | ValueRef::Blob(_) => Value::Null,
        ValueRef::Integer(i) => json!(i),
        ValueRef::Real(f) => json!(f),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t).into_owned();
            if (s.starts_with('[') && s.ends_with(']')) || (s.starts_with('{') && s.ends_with('}')) {
                serde_json::from_str(&s).unwrap_or(Value::String(s))
            } else {
                Value::String(s)
            }
        }
    }
}

fn read_gpkg(path: &Path) -> Result<Vec<Value>, String> {
    use geozero::ToJson;
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    let (table, column): (String, String) = conn
        .query_row(
            "SELECT c.table_name, g.column_name FROM gpkg_contents c JOIN gpkg_geometry_columns g
             ON g.table_name = c.table_name WHERE c.data_type = 'features' ORDER BY c.table_name = 'projects' DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(|e| format!("no feature table: {e}"))?;
    let quoted = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let mut q = conn.prepare(&format!("SELECT * FROM {}", quoted(&table))).map_err(|e| e.to_string())?;
    let names: Vec<String> = q.column_names().iter().map(|s| (*s).to_owned()).collect();
    let mut rows = q.query([]).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let mut props = Map::new();
        let mut geometry = Value::Null;
        for (i, name) in names.iter().enumerate() {
            let v = row.get_ref(i).map_err(|e| e.to_string())?;
            if *name == column {
                if let rusqlite::types::ValueRef::Blob(b) = v {
                    let text = geozero::wkb::GpkgWkb(b.to_vec())
                        .to_json()
                        .map_err(|e| format!("feature {}: geometry: {e}", out.len() + 1))?;
                    geometry = serde_json::from_str(&text).map_err(|e| e.to_string())?;
                }
            } else if name != "fid" {
                props.insert(name.clone(), column_value(v));
            }
        }
        out.push(json!({"type": "Feature", "geometry": geometry, "properties": props}));
    }
    Ok(out)
}
