//! KML 2.2 through the `kml` crate: one Placemark per feature, named in Chinese, with a description giving
//! the plan sections, responsible units, category and how precise the position is, every column as
//! typed fields (a `Schema` of `SimpleField`s, each Placemark's values as its `SchemaData`, which GDAL reads as
//! integer, real and string fields and Google Earth shows as a table), and the map's colours as shared
//! `Style`s. KML coordinates are always WGS84 longitude, latitude.

use std::borrow::Borrow;
use std::fmt::Write as _;
use std::io::Write;

use kml::{Kml, KmlWriter, types::Element, types::Placemark};
use serde_json::Value;

use super::columns::{Column, ColumnType, as_text};
use super::style::{self, Kind, LayerStyle, kml_colour};
use super::{ExportError, ExportOptions, Layer, rounded};
use crate::geom::crs::Crs;
use crate::store::Feature;

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
            let _ = writeln!(d, "{k}: {}", as_text(Some(&v)));
        }
    }
    d.trim_end().to_owned()
}

/// The shared `<Style>` elements, one per class of the layer's map style.
fn styles(style: &LayerStyle) -> String {
    let mut out = String::new();
    for (i, c) in style.classes.iter().enumerate() {
        let s = &c.symbol;
        let colour = kml_colour(s.colour, 1.0);
        let width = (s.width_mm / 0.28).max(1.0);
        let body = match s.kind {
            Kind::Point => format!("<IconStyle><color>{colour}</color><scale>0.8</scale></IconStyle>"),
            Kind::Line => format!("<LineStyle><color>{colour}</color><width>{width:.1}</width></LineStyle>"),
            Kind::Polygon => format!(
                "<LineStyle><color>{colour}</color><width>{width:.1}</width></LineStyle><PolyStyle><color>{}</color><fill>{}</fill><outline>1</outline></PolyStyle>",
                kml_colour(s.colour, s.fill_opacity),
                u8::from(s.fill_opacity > 0.0)
            ),
        };
        let _ = writeln!(
            out,
            "<Style id=\"s{i}\"><!-- {} -->{body}</Style>",
            style::xml(&c.label).replace("--", "- -")
        );
    }
    out
}

/// The kind of symbol a geometry is drawn with.
fn kind_of(g: &geo::Geometry<f64>) -> Kind {
    match g {
        geo::Geometry::Point(_) | geo::Geometry::MultiPoint(_) => Kind::Point,
        geo::Geometry::Polygon(_) | geo::Geometry::MultiPolygon(_) | geo::Geometry::Rect(_) => Kind::Polygon,
        _ => Kind::Line,
    }
}

/// The index of the first class of `style` that draws the feature.
fn class_of(style: &LayerStyle, f: &Feature, kind: Kind) -> Option<usize> {
    style.classes.iter().position(|c| {
        (style.kinds.len() == 1 || c.symbol.kind == kind)
            && c.equals.is_none_or(|(k, v)| f.properties.get(k).and_then(Value::as_str) == Some(v))
    })
}

/// The id every Placemark's `SchemaData` names its `Schema` by.
const SCHEMA_ID: &str = "fields";

/// A column's `SimpleField` type: KML's `int` is 32 bits in GDAL (a larger whole number would be clamped to
/// 2 147 483 647), so a column holding one is a `double`, which holds it exactly (columns are whole numbers
/// up to 2^53); a boolean is written as 1 or 0, as GDAL reads it.
fn field_type(kind: ColumnType, fits_int: bool) -> &'static str {
    match kind {
        ColumnType::Integer if fits_int => "int",
        ColumnType::Integer | ColumnType::Real => "double",
        ColumnType::Boolean => "bool",
        ColumnType::Text | ColumnType::Json | ColumnType::Date | ColumnType::DateTime => "string",
    }
}

/// The document's `<Schema>`: the id and every column, typed.
fn schema(name: &str, labels: &[String], types: &[&str]) -> String {
    let mut out = format!("<Schema name=\"{}\" id=\"{SCHEMA_ID}\">", style::xml(name));
    out.push_str("<SimpleField name=\"id\" type=\"string\"/>");
    for (label, kind) in labels.iter().zip(types) {
        let _ = write!(out, "<SimpleField name=\"{}\" type=\"{kind}\"/>", style::xml(label));
    }
    out.push_str("</Schema>\n");
    out
}

/// The feature's id and columns as `<ExtendedData>` of the document's schema, leaving out empty values.
fn extended_data(f: &Feature, columns: &[Column], labels: &[String]) -> Element {
    let element =
        |name: &str, attrs: Vec<(&str, &str)>, content: Option<String>, children: Vec<Element>| Element {
            name: name.to_owned(),
            attrs: attrs.into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
            content,
            children,
        };
    let values = f.properties.values_of(columns.iter().map(|c| c.name.as_str()));
    let text = |c: &Column, v: Option<&Value>| match (c.kind, v) {
        (ColumnType::Boolean, Some(Value::Bool(b))) => u8::from(*b).to_string(),
        _ => as_text(v),
    };
    let data = std::iter::once(("id", f.id.clone()))
        .chain(labels.iter().zip(columns).zip(&values).map(|((l, c), v)| (l.as_str(), text(c, v.as_deref()))))
        .filter(|(_, v)| !v.is_empty())
        .map(|(name, v)| element("SimpleData", vec![("name", name)], Some(v), vec![]))
        .collect();
    let schema_url = format!("#{SCHEMA_ID}");
    element(
        "ExtendedData",
        vec![],
        None,
        vec![element("SchemaData", vec![("schemaUrl", schema_url.as_str())], None, data)],
    )
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
        style::xml(layer.name)
    )?;
    let style = style::plan_style(layer.name);
    if let Some(style) = &style {
        out.write_all(styles(style).as_bytes())?;
    }
    // GDAL's KML readers make fields of these Placemark parts, so a column of the same name (any case) would be
    // lost or overwritten (a `name` column became the Placemark's name): such a column is written as `name_1`.
    let labels = super::columns::labels(
        layer.columns,
        &[
            "id",
            "name",
            "description",
            "timestamp",
            "begin",
            "end",
            "altitudeMode",
            "tessellate",
            "extrude",
            "visibility",
            "drawOrder",
            "icon",
        ],
    );
    // The features are looked at once before writing, for the columns' number types.
    let features: Vec<_> = layer.features.collect();
    let types: Vec<&str> = layer
        .columns
        .iter()
        .map(|c| {
            let fits_int = features
                .iter()
                .all(|f| f.borrow().properties.get(&c.name).is_none_or(super::columns::fits_i32));
            field_type(c.kind, fits_int)
        })
        .collect();
    out.write_all(schema(layer.name, &labels, &types).as_bytes())?;
    for f in &features {
        let f: &Feature = (*f).borrow();
        // A feature without a geometry is a Placemark without one (KML allows it), not left out.
        let g = f.geometry.as_ref();
        // Schema order: styleUrl, then ExtendedData, then the geometry (the kml crate writes children first).
        let mut children = Vec::new();
        if let Some(i) = g.and_then(|g| style.as_ref().and_then(|s| class_of(s, f, kind_of(g)))) {
            children.push(Element {
                name: "styleUrl".into(),
                content: Some(format!("#s{i}")),
                ..Default::default()
            });
        }
        children.push(extended_data(f, layer.columns, &labels));
        let placemark = Placemark {
            name: Some(f.str_prop("name_zh").unwrap_or(&f.id).to_owned()),
            description: Some(description(f)),
            geometry: g.map(|g| kml::types::Geometry::from(rounded(g.clone(), Crs::Crs84))),
            attrs: std::collections::HashMap::from([("id".to_owned(), f.id.clone())]),
            children,
            ..Default::default()
        };
        let mut text = Vec::new();
        KmlWriter::<_, f64>::from_writer(&mut text)
            .write(&Kml::Placemark(placemark))
            .map_err(|e| ExportError::Library { format: "KML", detail: e.to_string() })?;
        out.write_all(&one_ring_per_inner_boundary(&text))?;
        out.write_all(b"\n")?;
    }
    out.write_all(b"</Document></kml>\n")?;
    out.flush()?;
    Ok(())
}

/// KML holds one `LinearRing` per `innerBoundaryIs` (OGC 07-147r2 §10.8), and readers (GDAL's LIBKML) keep only
/// the first of several; the kml crate writes a polygon's holes all in one. An outer boundary has one ring, so
/// two rings side by side are holes: each gets its own element.
fn one_ring_per_inner_boundary(xml: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const PAIR: &[u8] = b"</LinearRing><LinearRing>";
    const SPLIT: &[u8] = b"</LinearRing></innerBoundaryIs><innerBoundaryIs><LinearRing>";
    if !xml.windows(PAIR.len()).any(|w| w == PAIR) {
        return std::borrow::Cow::Borrowed(xml);
    }
    let mut out = Vec::with_capacity(xml.len() + 64);
    let mut rest = xml;
    while let Some(at) = rest.windows(PAIR.len()).position(|w| w == PAIR) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(SPLIT);
        rest = &rest[at + PAIR.len()..];
    }
    out.extend_from_slice(rest);
    std::borrow::Cow::Owned(out)
}
