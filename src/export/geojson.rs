//! GeoJSON (RFC 7946) and GeoJSON text sequences (RFC 8142), written feature by feature.

use std::borrow::Borrow;
use std::io::Write;

use serde_json::{Map, Value, json};

use super::{ExportError, ExportOptions, Layer};
use crate::geom::crs::Crs;
use crate::geom::to_geojson_value;
use crate::store::Feature;

fn feature_value(f: &Feature, options: &ExportOptions) -> Result<Value, ExportError> {
    let crs = options.crs;
    let geometry = match &f.geometry {
        Some(g) => to_geojson_value(&super::east_north(g, crs)?, crs.decimals(), &|c| c),
        None => Value::Null,
    };
    let mut m = Map::new();
    m.insert("type".into(), json!("Feature"));
    m.insert("id".into(), json!(f.id));
    m.insert("geometry".into(), geometry);
    let mut properties = f.properties.to_map();
    // `properties=` keeps only those named, as every other format does.
    if let Some(only) = &options.properties {
        properties.retain(|k, _| only.contains(k));
    }
    m.insert("properties".into(), Value::Object(properties));
    Ok(Value::Object(m))
}

/// A `FeatureCollection`. Outside CRS84 it carries the (pre-RFC 7946) `crs` member naming the CRS, which GDAL
/// reads. Coordinates are easting (or longitude) first whatever the CRS, as in every other file format: GIS
/// tools read a GeoJSON file's positions as x, y. (The OGC API answer, `f=json`, keeps the CRS's own axis order,
/// as OGC API – Features Part 2 asks.)
pub fn write<W: Write>(
    mut out: W,
    layer: Layer<'_, impl Iterator<Item = impl Borrow<Feature>>>,
    options: &ExportOptions,
) -> Result<(), ExportError> {
    write!(out, "{{\"type\":\"FeatureCollection\",\"name\":{}", json!(layer.name))?;
    // In EPSG:4326 the positions (longitude first) are CRS84's, RFC 7946's own: no `crs` member.
    if options.crs.of_east_first_file() != Crs::Crs84 {
        let name = match options.crs.epsg() {
            Some(code) => format!("urn:ogc:def:crs:EPSG::{code}"),
            None => options.crs.uri().to_owned(),
        };
        write!(out, ",\"crs\":{}", json!({"type": "name", "properties": {"name": name}}))?;
    }
    out.write_all(b",\"features\":[")?;
    for (n, f) in layer.features.enumerate() {
        let f: &Feature = f.borrow();
        if n > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut out, &feature_value(f, options)?).map_err(std::io::Error::from)?;
    }
    out.write_all(b"]}\n")?;
    out.flush()?;
    Ok(())
}

/// A GeoJSON text sequence: each feature preceded by RS (0x1E) and followed by a line feed.
pub fn write_seq<W: Write>(
    mut out: W,
    layer: Layer<'_, impl Iterator<Item = impl Borrow<Feature>>>,
    options: &ExportOptions,
) -> Result<(), ExportError> {
    for f in layer.features {
        let f: &Feature = f.borrow();
        out.write_all(&[0x1e])?;
        serde_json::to_writer(&mut out, &feature_value(f, options)?).map_err(std::io::Error::from)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
