//! Reading a file of projects for `planatlas import`: a GeoJSON FeatureCollection, or a GeoPackage's first
//! feature table (as `planatlas export` and QGIS write them). Each feature comes out as a GeoJSON Feature value;
//! the store then reads it like an HTTP write ([`crate::store::records::project_record`]).

use std::path::Path;

use serde_json::{Map, Value, json};

use crate::geom::crs::Crs;

/// The features of a file, and the CRS it declares (a GeoJSON `crs` member, a GeoPackage table's SRS), if any.
#[derive(Debug, Clone)]
pub struct FileFeatures {
    /// Each feature as a GeoJSON Feature value, coordinates as the file holds them (easting first).
    pub features: Vec<Value>,
    /// The CRS the file names for its coordinates.
    pub crs: Option<Crs>,
}

/// The project properties that are lists or objects: a GeoPackage or CSV holds them as JSON text.
const STRUCTURED: &[&str] = &["sections", "co_units", "targets", "consistency_notes"];

/// Reads every feature of `path` (GeoJSON or GeoPackage, by extension).
pub fn read_features(path: &Path) -> Result<FileFeatures, String> {
    let shown = path.display();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    if ext == "gpkg" {
        return read_gpkg(path).map_err(|e| format!("{shown}: {e}"));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{shown}: not JSON: {e}"))?;
    let crs = match v.pointer("/crs/properties/name") {
        None => None,
        Some(Value::String(name)) => Some(Crs::parse(name).ok_or_else(|| {
            format!(
                "{shown}: the file's crs '{name}' is not one this server reads ({})",
                Crs::supported_list()
            )
        })?),
        Some(other) => return Err(format!("{shown}: crs.properties.name must be a string, not {other}")),
    };
    let features = match v.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => match v.get("features") {
            Some(Value::Array(features)) => features.clone(),
            _ => {
                return Err(format!(
                    "{shown}: a FeatureCollection needs a \"features\" array (is it spelt so?)"
                ));
            }
        },
        Some("Feature") => vec![v],
        _ => return Err(format!("{shown}: not a GeoJSON FeatureCollection or Feature")),
    };
    Ok(FileFeatures { features, crs })
}

/// The feature as [`crate::store::records::project_record`] reads it in `crs`: a file holds easting (longitude)
/// first whatever the CRS (as GDAL writes and reads files), the API's bodies hold the CRS's own axis order.
pub fn in_axis_order(mut feature: Value, crs: Crs) -> Value {
    fn swap(v: &mut Value) {
        if let Value::Array(items) = v {
            if items.len() >= 2 && items.iter().all(Value::is_number) {
                items.swap(0, 1);
            } else {
                items.iter_mut().for_each(swap);
            }
        }
    }
    fn geometry(g: &mut Value) {
        if let Some(c) = g.get_mut("coordinates") {
            swap(c);
        }
        if let Some(Value::Array(parts)) = g.get_mut("geometries") {
            parts.iter_mut().for_each(geometry);
        }
    }
    if crs.north_first()
        && let Some(g) = feature.get_mut("geometry")
    {
        geometry(g);
    }
    feature
}

/// A column value as JSON: a list or object property's text (how exports write them) is read back as one;
/// other text stays text, whatever it looks like.
fn column_value(name: &str, v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null | ValueRef::Blob(_) => Value::Null,
        ValueRef::Integer(i) => json!(i),
        ValueRef::Real(f) => json!(f),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t).into_owned();
            if STRUCTURED.contains(&name) {
                serde_json::from_str(&s).or_else(|_| gdal_list(&s).ok_or(())).unwrap_or(Value::String(s))
            } else {
                Value::String(s)
            }
        }
    }
}

/// A string list as GDAL writes one into a GeoPackage column (`(3:省发展改革委,相关市政府,沈抚示范区)`: the count,
/// then the items joined by commas, as `ogr2ogr` copies a GeoJSON export's lists). Read only when the count
/// matches, so an item holding a comma leaves the text as it is, to be refused by the loader's rule.
fn gdal_list(s: &str) -> Option<Value> {
    let (count, items) = s.strip_prefix('(')?.strip_suffix(')')?.split_once(':')?;
    let count: usize = count.parse().ok()?;
    let items: Vec<&str> = if items.is_empty() { Vec::new() } else { items.split(',').collect() };
    (items.len() == count).then(|| json!(items))
}

/// A feature table's name, geometry column, SRS id, and the SRS's organisation, code and definition.
type Table = (String, String, i64, Option<String>, Option<i64>, Option<String>);

fn read_gpkg(path: &Path) -> Result<FileFeatures, String> {
    use geozero::ToJson;
    let conn = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    let (table, column, srs_id, org, code, definition): Table = conn
        .query_row(
            "SELECT c.table_name, g.column_name, g.srs_id, s.organization, s.organization_coordsys_id, s.definition
             FROM gpkg_contents c JOIN gpkg_geometry_columns g ON g.table_name = c.table_name
             LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = g.srs_id
             WHERE c.data_type = 'features' ORDER BY c.table_name = 'projects' DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )
        .map_err(|e| format!("no feature table: {e}"))?;
    // The table's SRS: an EPSG code this server knows, a GCJ-02/BD-09 definition as planatlas writes it, or 0
    // (undefined geographic: longitude/latitude, as GDAL takes it).
    let crs = match (org.as_deref().map(str::to_ascii_uppercase).as_deref(), code) {
        (Some("EPSG"), Some(c)) => Some(Crs::parse(&format!("EPSG:{c}")).ok_or_else(|| {
            format!("table {table}: EPSG:{c} is not one this server reads ({})", Crs::supported_list())
        })?),
        _ if srs_id == 0 => Some(Crs::Crs84),
        _ => match definition.as_deref().and_then(crate::geom::crs::chinese_of_definition) {
            Some(c) => Some(c),
            None => {
                return Err(format!(
                    "table {table}: srs_id {srs_id} is not a CRS this server reads ({})",
                    Crs::supported_list()
                ));
            }
        },
    };
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
                props.insert(name.clone(), column_value(name, v));
            }
        }
        out.push(json!({"type": "Feature", "geometry": geometry, "properties": props}));
    }
    Ok(FileFeatures { features: out, crs })
}
