//! FlatGeobuf through the `flatgeobuf` crate, with its packed Hilbert R-tree index. Features go to the
//! writer's temporary file as they come; only their bounding boxes stay in memory for the index.

use std::borrow::Borrow;
use std::io::Write;

use flatgeobuf::{ColumnType as FgbType, FgbCrs, FgbWriter, FgbWriterOptions, GeometryType};
use geo::Geometry;
use geozero::{ColumnValue, PropertyProcessor};
use serde_json::Value;

use super::columns::{ColumnType, as_json};
use super::{ExportError, ExportOptions, Layer, east_north, rounded};
use crate::geom::crs::Crs;
use crate::store::Feature;

fn library(e: impl std::fmt::Display) -> ExportError {
    ExportError::Library { format: "FlatGeobuf", detail: e.to_string() }
}

/// The FlatGeobuf geometry type for a set of geometry type names (`Unknown` when mixed).
pub fn geometry_type(kinds: &std::collections::BTreeSet<&str>) -> GeometryType {
    match kinds.iter().copied().collect::<Vec<_>>().as_slice() {
        ["Point"] => GeometryType::Point,
        ["LineString"] => GeometryType::LineString,
        ["Polygon"] => GeometryType::Polygon,
        ["MultiPolygon"] => GeometryType::MultiPolygon,
        ["MultiLineString"] => GeometryType::MultiLineString,
        ["MultiPoint"] => GeometryType::MultiPoint,
        _ => GeometryType::Unknown,
    }
}

/// Writes the layer. `kinds` are the geometry types present (see [`super::geometry_types`]).
pub fn write<W: Write>(
    out: W,
    layer: Layer<'_, impl Iterator<Item = impl Borrow<Feature>>>,
    kinds: &std::collections::BTreeSet<&str>,
    options: &ExportOptions,
) -> Result<(), ExportError> {
    let description = format!("{} in {}", layer.name, options.crs.short());
    let crs = match (options.crs, options.crs.epsg()) {
        (Crs::Crs84, _) => FgbCrs { org: Some("EPSG"), code: 4326, ..Default::default() },
        (_, Some(code)) => FgbCrs { org: Some("EPSG"), code: code as i32, ..Default::default() },
        (other, None) => FgbCrs {
            org: Some("planatlas"),
            code: 0,
            name: Some(other.uri()),
            description: Some(other.short()),
            ..Default::default()
        },
    };
    // A FlatGeobuf holds geometries only (a feature without one is left out). Its spatial index needs at least
    // one: an empty file is written without one, as GDAL writes it, so GDAL can open it.
    let mut features = layer.features.filter(|f| f.borrow().geometry.is_some()).peekable();
    let options_fgb = FgbWriterOptions {
        write_index: features.peek().is_some(),
        detect_type: false,
        promote_to_multi: false,
        crs,
        title: Some(layer.name),
        description: Some(&description),
        ..Default::default()
    };
    let mut fgb =
        FgbWriter::create_with_options(layer.name, geometry_type(kinds), options_fgb).map_err(library)?;
    fgb.add_column("id", FgbType::String, |_, c| c.nullable = false);
    for c in layer.columns {
        let t = match c.kind {
            ColumnType::Integer => FgbType::Long,
            ColumnType::Real => FgbType::Double,
            ColumnType::Boolean => FgbType::Bool,
            ColumnType::Text => FgbType::String,
            ColumnType::Json => FgbType::Json,
        };
        fgb.add_column(&c.name, t, |_, col| col.nullable = true);
    }
    for f in features {
        let f: &Feature = f.borrow();
        let Some(g) = &f.geometry else { continue };
        let g: Geometry<f64> = rounded(east_north(g, options.crs)?, options.crs);
        let mut failed: Option<String> = None;
        fgb.add_feature_geom(g, |w| {
            let mut put = |i: usize, name: &str, v: &ColumnValue| {
                if let Err(e) = w.property(i, name, v) {
                    failed.get_or_insert(e.to_string());
                }
            };
            put(0, "id", &ColumnValue::String(&f.id));
            let values = f.properties.values_of(layer.columns.iter().map(|c| c.name.as_str()));
            for ((n, c), v) in layer.columns.iter().enumerate().zip(values) {
                let i = n + 1;
                let v = v.as_deref();
                match (c.kind, v) {
                    (_, None | Some(Value::Null)) => {}
                    (ColumnType::Integer, Some(Value::Number(x))) => {
                        put(i, &c.name, &ColumnValue::Long(x.as_i64().unwrap_or_default()));
                    }
                    (ColumnType::Real, Some(Value::Number(x))) => {
                        put(i, &c.name, &ColumnValue::Double(x.as_f64().unwrap_or_default()));
                    }
                    (ColumnType::Boolean, Some(Value::Bool(b))) => put(i, &c.name, &ColumnValue::Bool(*b)),
                    (ColumnType::Json, v) => {
                        if let Some(s) = as_json(v) {
                            put(i, &c.name, &ColumnValue::Json(&s));
                        }
                    }
                    (_, v) => {
                        if let Some(s) = as_json(v) {
                            put(i, &c.name, &ColumnValue::String(&s));
                        }
                    }
                }
            }
        })
        .map_err(library)?;
        if let Some(e) = failed {
            return Err(library(e));
        }
    }
    fgb.write(out).map_err(library)
}
