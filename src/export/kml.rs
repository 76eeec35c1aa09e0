//! KML 2.2 through the `kml` crate: one Placemark per feature, named in Chinese, with a description giving
//! the plan sections, responsible units, category and how precise the position is. KML coordinates are always
//! WGS84 longitude, latitude.

use std::borrow::Borrow;
use std::fmt::Write as _;
use std::io::Write;

use kml::{Kml, KmlWriter, types::Placemark};
use serde_json::Value;

use super::columns::as_text;
use super::{ExportError, ExportOptions, Layer, rounded};
use crate::geom::crs::Crs;
use crate::store::Feature;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The description a Placemark carries: the properties a planner wants on a pin.
fn description(f: &Feature) -> String {
    let mut d = String::new();
    let p = &f.properties;
    let line = |d: &mut String, label: &str, key: &str| {
        let v = as_text(p.get(key));
        if !v.is_empty() {
            let _ = writeln!(d, "{label}: {v}");
        }
    };
    if let Some(en) = p.get("name_en").and_then(Value::as_str) {
        let _ = writeln!(d, "{en}");
    }
    line(&mut d, "Category", "category");
    line(&mut d, "Sections", "sections");
    line(&mut d, "Lead unit", "lead_unit");
    line(&mut d, "Co-units", "co_units");
    line(&mut d, "Location precision", "location_precision");
    line(&mut d, "Location source", "location_source");
    line(&mut d, "Regions", "region_ids");
    line(&mut d, "Plan text", "excerpt");
    if d.is_empty() {
        for (k, v) in p.iter().filter(|(_, v)| !v.is_object() && !v.is_array()).take(12) {
            let _ = writeln!(d, "{k}: {}", as_text(Some(v)));
        }
    }
    d.trim_end().to_owned()
}

/// Writes the layer as a KML document, placemark by placemark.
pub fn write<W: Write>(
    mut out: W,
    layer: Layer<'_, impl Iterator<Item = impl Borrow<Feature>>>,
    options: &ExportOptions,
) -> Result<(), ExportError> {
    if !matches!(options.crs, Crs::Crs84 | Crs::Epsg4326) {
        return Err(ExportError::Unsupported(format!(
            "KML coordinates are always WGS84 longitude, latitude; {} cannot be written (omit crs)",
            options.crs.short()
        )));
    }
    write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<kml xmlns=\"http://www.opengis.net/kml/2.2\"><Document><name>{}</name>\n",
        escape(layer.name)
    )?;
    for f in layer.features {
        let f: &Feature = f.borrow();
        let Some(g) = &f.geometry else { continue };
        let placemark = Placemark {
            name: Some(f.str_prop("name_zh").unwrap_or(&f.id).to_owned()),
            description: Some(description(f)),
            geometry: Some(kml::types::Geometry::from(rounded(g.clone(), Crs::Crs84))),
            attrs: std::collections::HashMap::from([("id".to_owned(), f.id.clone())]),
            ..Default::default()
        };
        KmlWriter::<_, f64>::from_writer(&mut out)
            .write(&Kml::Placemark(placemark))
            .map_err(|e| ExportError::Library { format: "KML", detail: e.to_string() })?;
        out.write_all(b"\n")?;
    }
    out.write_all(b"</Document></kml>\n")?;
    out.flush()?;
    Ok(())
}
