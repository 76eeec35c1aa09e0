//! FlatGeobuf through the `flatgeobuf` crate, with its packed Hilbert R-tree index. Features go to the
//! writer's temporary file as they come; only their bounding boxes stay in memory for the index.

use std::borrow::Borrow;
use std::fmt::Write as _;
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
    // A FlatGeobuf holds geometries only: GDAL too leaves a feature without one out, index or not. The file's
    // description says how many were left out, so a reader is told rather than silently short.
    let (features, without): (Vec<_>, Vec<_>) = layer.features.partition(|f| f.borrow().geometry.is_some());
    let mut description = format!("{} in {}", layer.name, options.crs.short());
    if !without.is_empty() {
        let _ = write!(
            description,
            "; {} feature(s) without geometry are not in this file (FlatGeobuf holds geometries only; the \
             GeoPackage or CSV export has them)",
            without.len()
        );
    }
    // GCJ-02 / BD-09 say what they are (GDAL took a file without a CRS for WGS 84 too).
    let chinese_wkt = crate::geom::crs::chinese_name(options.crs)
        .map(|_| crate::geom::crs::wkt(options.crs, false))
        .transpose()
        .map_err(library)?;
    let crs = match (options.crs, options.crs.epsg()) {
        (Crs::Crs84, _) => FgbCrs { org: Some("EPSG"), code: 4326, ..Default::default() },
        (_, Some(code)) => FgbCrs { org: Some("EPSG"), code: code as i32, ..Default::default() },
        (other, None) => FgbCrs {
            org: Some("planatlas"),
            code: 0,
            name: Some(other.uri()),
            description: Some(other.short()),
            wkt: chinese_wkt.as_deref(),
            ..Default::default()
        },
    };
    // The spatial index needs at least one feature: an empty file is written without one, as GDAL writes it,
    // so GDAL can open it.
    let options_fgb = FgbWriterOptions {
        write_index: !features.is_empty(),
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
    let labels = super::columns::labels(layer.columns, &["id"]);
    for (c, label) in layer.columns.iter().zip(&labels) {
        let t = match c.kind {
            ColumnType::Integer => FgbType::Long,
            ColumnType::Real => FgbType::Double,
            ColumnType::Boolean => FgbType::Bool,
            ColumnType::Text => FgbType::String,
            ColumnType::Date | ColumnType::DateTime => FgbType::DateTime,
            ColumnType::Json => FgbType::Json,
        };
        fgb.add_column(label, t, |_, col| col.nullable = true);
    }
    for f in &features {
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
            for (((n, c), v), label) in layer.columns.iter().enumerate().zip(values).zip(&labels) {
                let i = n + 1;
                let name = label.as_str();
                let v = v.as_deref();
                match (c.kind, v) {
                    (_, None | Some(Value::Null)) => {}
                    (ColumnType::Integer, Some(Value::Number(x))) => {
                        put(i, name, &ColumnValue::Long(x.as_i64().unwrap_or_default()));
                    }
                    (ColumnType::Real, Some(Value::Number(x))) => {
                        put(i, name, &ColumnValue::Double(x.as_f64().unwrap_or_default()));
                    }
                    (ColumnType::Boolean, Some(Value::Bool(b))) => put(i, name, &ColumnValue::Bool(*b)),
                    // FlatGeobuf has one date-time type: a day is written as its midnight, as GDAL writes
                    // it (and read back as the day).
                    (ColumnType::Date, Some(Value::String(d))) => {
                        put(i, name, &ColumnValue::DateTime(&format!("{d}T00:00:00")));
                    }
                    (ColumnType::DateTime, Some(Value::String(t))) => put(i, name, &ColumnValue::DateTime(t)),
                    (ColumnType::Json, v) => {
                        if let Some(s) = as_json(v) {
                            put(i, name, &ColumnValue::Json(&s));
                        }
                    }
                    (_, v) => {
                        if let Some(s) = as_json(v) {
                            put(i, name, &ColumnValue::String(&s));
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
