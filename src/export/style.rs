//! The map's look for GIS tools: one description of each plan layer's symbols (the colours of
//! [`crate::domain::palette`], Chinese legend labels, labels from `name_zh`), written as a QGIS style (QML), as
//! an OGC SLD 1.1 / Symbology Encoding document, and as the `<maplayer>` parts of a QGIS project. The
//! GeoPackage export stores the first two in its `layer_styles` table (QGIS's own convention), so QGIS draws a
//! layer as the map page does when it opens it; the `.qgz` export carries the third.

use std::fmt::Write as _;

use crate::domain::palette::{
    CATEGORY_COLOURS, CITY_BORDER, COUNTY_BORDER, REGION_COLOURS, REGION_FILL_OPACITY, rgb,
};
use crate::domain::project::category_zh;

/// Escapes text for an XML or HTML attribute or element (the five predefined entities).
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The kind of geometry a symbol draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Points: a circle marker.
    Point,
    /// Lines.
    Line,
    /// Polygons.
    Polygon,
}

impl Kind {
    /// QGIS's name for it in `geometry_type($geometry)` and in `<maplayer geometry=…>`.
    pub fn qgis(self) -> &'static str {
        match self {
            Kind::Point => "Point",
            Kind::Line => "Line",
            Kind::Polygon => "Polygon",
        }
    }
}

/// How one class of features is drawn.
#[derive(Debug, Clone)]
pub struct Symbol {
    /// What it draws.
    pub kind: Kind,
    /// `#rrggbb`.
    pub colour: &'static str,
    /// The fill's opacity (polygons: 0 for outline only).
    pub fill_opacity: f64,
    /// Line or outline width in millimetres.
    pub width_mm: f64,
    /// Dashed line or outline.
    pub dashed: bool,
}

/// One class: the features a filter selects, its legend label and its symbol.
#[derive(Debug, Clone)]
pub struct Class {
    /// The property and value it selects (none: every feature).
    pub equals: Option<(&'static str, &'static str)>,
    /// The legend label (Chinese).
    pub label: String,
    /// How it is drawn.
    pub symbol: Symbol,
}

/// A layer's style.
#[derive(Debug, Clone)]
pub struct LayerStyle {
    /// The layer (table) it is for.
    pub layer: String,
    /// Its name in the style list.
    pub name: String,
    /// The classes, drawn in order.
    pub classes: Vec<Class>,
    /// The property labels come from.
    pub label_field: Option<&'static str>,
    /// The geometry kinds the layer holds (the projects layer holds points and lines).
    pub kinds: Vec<Kind>,
}

fn marker(colour: &'static str) -> Symbol {
    Symbol { kind: Kind::Point, colour, fill_opacity: 1.0, width_mm: 0.3, dashed: false }
}

fn line(colour: &'static str) -> Symbol {
    Symbol { kind: Kind::Line, colour, fill_opacity: 1.0, width_mm: 0.9, dashed: false }
}

fn by_category(kind: Kind) -> Vec<Class> {
    CATEGORY_COLOURS
        .iter()
        .map(|(id, colour)| Class {
            equals: Some(("category", id)),
            label: category_zh(id).to_owned(),
            symbol: if kind == Kind::Point { marker(colour) } else { line(colour) },
        })
        .collect()
}

/// The style of a plan layer as the map page draws it, or `None` for layers the map does not draw.
pub fn plan_style(layer: &str) -> Option<LayerStyle> {
    let outline =
        |colour, width_mm| Symbol { kind: Kind::Polygon, colour, fill_opacity: 0.0, width_mm, dashed: false };
    let (classes, label_field, kinds) = match layer {
        "regions" => (
            REGION_COLOURS
                .iter()
                .map(|(id, colour)| Class {
                    equals: Some(("id", id)),
                    label: (*id).to_owned(),
                    symbol: Symbol {
                        kind: Kind::Polygon,
                        colour,
                        fill_opacity: REGION_FILL_OPACITY,
                        width_mm: 0.6,
                        dashed: true,
                    },
                })
                .collect(),
            Some("name_zh"),
            vec![Kind::Polygon],
        ),
        "cities" => (
            vec![Class { equals: None, label: "市界".into(), symbol: outline(CITY_BORDER, 0.5) }],
            Some("name_zh"),
            vec![Kind::Polygon],
        ),
        "counties" => (
            vec![Class { equals: None, label: "县界".into(), symbol: outline(COUNTY_BORDER, 0.2) }],
            None,
            vec![Kind::Polygon],
        ),
        "projects" => (
            by_category(Kind::Line).into_iter().chain(by_category(Kind::Point)).collect(),
            Some("name_zh"),
            vec![Kind::Line, Kind::Point],
        ),
        "projects-points" => (by_category(Kind::Point), Some("name_zh"), vec![Kind::Point]),
        "projects-lines" => (by_category(Kind::Line), Some("name_zh"), vec![Kind::Line]),
        _ => return None,
    };
    Some(LayerStyle {
        layer: layer.to_owned(),
        name: format!("planatlas {layer}"),
        classes,
        label_field,
        kinds,
    })
}

/// Names the regions' classes by their Chinese names (they come from the data, not from code).
pub fn with_region_names(mut style: LayerStyle, name: impl Fn(&str) -> Option<String>) -> LayerStyle {
    for c in &mut style.classes {
        if let Some(("id", id)) = c.equals
            && let Some(n) = name(id)
        {
            c.label = n;
        }
    }
    style
}

fn qgis_colour(hex: &str, opacity: f64) -> String {
    let (r, g, b) = rgb(hex);
    format!("{r},{g},{b},{}", (opacity.clamp(0.0, 1.0) * 255.0).round() as u8)
}

fn qgis_symbol(out: &mut String, name: usize, s: &Symbol) {
    let prop = |out: &mut String, k: &str, v: &str| {
        let _ = write!(out, "<prop k=\"{k}\" v=\"{}\"/>", xml(v));
    };
    let (kind, class) = match s.kind {
        Kind::Point => ("marker", "SimpleMarker"),
        Kind::Line => ("line", "SimpleLine"),
        Kind::Polygon => ("fill", "SimpleFill"),
    };
    let _ = write!(
        out,
        "<symbol type=\"{kind}\" name=\"{name}\" alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\"><layer class=\"{class}\" enabled=\"1\" locked=\"0\" pass=\"0\">"
    );
    let width = s.width_mm.to_string();
    match s.kind {
        Kind::Point => {
            prop(out, "name", "circle");
            prop(out, "color", &qgis_colour(s.colour, 1.0));
            prop(out, "outline_color", "255,255,255,255");
            prop(out, "outline_style", "solid");
            prop(out, "outline_width", &width);
            prop(out, "outline_width_unit", "MM");
            prop(out, "size", "2.6");
            prop(out, "size_unit", "MM");
        }
        Kind::Line => {
            prop(out, "line_color", &qgis_colour(s.colour, 1.0));
            prop(out, "line_width", &width);
            prop(out, "line_width_unit", "MM");
            prop(out, "line_style", if s.dashed { "dash" } else { "solid" });
            prop(out, "capstyle", "round");
            prop(out, "joinstyle", "round");
        }
        Kind::Polygon => {
            prop(out, "color", &qgis_colour(s.colour, s.fill_opacity));
            prop(out, "style", if s.fill_opacity > 0.0 { "solid" } else { "no" });
            prop(out, "outline_color", &qgis_colour(s.colour, 1.0));
            prop(out, "outline_style", if s.dashed { "dash" } else { "solid" });
            prop(out, "outline_width", &width);
            prop(out, "outline_width_unit", "MM");
        }
    }
    out.push_str("</layer></symbol>");
}

/// The QGIS expression selecting a class.
fn qgis_filter(style: &LayerStyle, c: &Class) -> String {
    let mut parts = Vec::new();
    if style.kinds.len() > 1 {
        parts.push(format!("geometry_type($geometry) = '{}'", c.symbol.kind.qgis()));
    }
    if let Some((k, v)) = c.equals {
        parts.push(format!("\"{k}\" = '{}'", v.replace('\'', "''")));
    }
    parts.join(" AND ")
}

/// The renderer and labelling elements, as QGIS writes them inside a `<maplayer>` or a QML document.
pub fn qgis_renderer(style: &LayerStyle) -> String {
    let mut out = String::from(
        "<renderer-v2 type=\"RuleRenderer\" symbollevels=\"0\" enableorderby=\"0\" forceraster=\"0\"><rules key=\"root\">",
    );
    for (i, c) in style.classes.iter().enumerate() {
        let filter = qgis_filter(style, c);
        let filter = if filter.is_empty() { String::new() } else { format!(" filter=\"{}\"", xml(&filter)) };
        let _ = write!(out, "<rule key=\"r{i}\" symbol=\"{i}\" label=\"{}\"{filter}/>", xml(&c.label));
    }
    out.push_str("</rules><symbols>");
    for (i, c) in style.classes.iter().enumerate() {
        qgis_symbol(&mut out, i, &c.symbol);
    }
    out.push_str("</symbols></renderer-v2>");
    if let Some(field) = style.label_field {
        let placement = match style.kinds.as_slice() {
            [Kind::Polygon] => 1,
            [Kind::Line] => 2,
            _ => 0,
        };
        let _ = write!(
            out,
            "<labeling type=\"simple\"><settings calloutType=\"simple\"><text-style fieldName=\"{field}\" isExpression=\"0\" fontFamily=\"WenQuanYi Zen Hei\" fontSize=\"{size}\" fontSizeUnit=\"Point\" textColor=\"40,40,40,255\" textOpacity=\"1\"><text-buffer bufferDraw=\"1\" bufferSize=\"0.8\" bufferSizeUnits=\"MM\" bufferColor=\"255,255,255,255\" bufferOpacity=\"0.9\"/></text-style><text-format/><placement placement=\"{placement}\" dist=\"1\" distUnits=\"MM\"/><rendering obstacle=\"1\" displayAll=\"0\" scaleVisibility=\"0\"/></settings></labeling>",
            size = if style.layer == "regions" || style.layer == "cities" { 10 } else { 8 },
        );
    }
    out
}

/// The style as a QGIS QML document.
pub fn qml(style: &LayerStyle) -> String {
    format!(
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n<qgis version=\"3.22.0\" styleCategories=\"Symbology|Labeling\" labelsEnabled=\"{}\">{}</qgis>\n",
        u8::from(style.label_field.is_some()),
        qgis_renderer(style)
    )
}

fn sld_symbolizer(out: &mut String, s: &Symbol) {
    let stroke = |out: &mut String, colour: &str, width_px: f64, dashed: bool| {
        let _ = write!(
            out,
            "<se:Stroke><se:SvgParameter name=\"stroke\">{colour}</se:SvgParameter><se:SvgParameter name=\"stroke-width\">{width_px:.1}</se:SvgParameter>{}</se:Stroke>",
            if dashed { "<se:SvgParameter name=\"stroke-dasharray\">6 4</se:SvgParameter>" } else { "" }
        );
    };
    // SLD sizes are pixels (0.28 mm each).
    let px = s.width_mm / 0.28;
    match s.kind {
        Kind::Point => {
            let _ = write!(
                out,
                "<se:PointSymbolizer><se:Graphic><se:Mark><se:WellKnownName>circle</se:WellKnownName><se:Fill><se:SvgParameter name=\"fill\">{}</se:SvgParameter></se:Fill>",
                s.colour
            );
            stroke(out, "#ffffff", px, false);
            out.push_str("</se:Mark><se:Size>9</se:Size></se:Graphic></se:PointSymbolizer>");
        }
        Kind::Line => {
            out.push_str("<se:LineSymbolizer>");
            stroke(out, s.colour, px, s.dashed);
            out.push_str("</se:LineSymbolizer>");
        }
        Kind::Polygon => {
            out.push_str("<se:PolygonSymbolizer>");
            if s.fill_opacity > 0.0 {
                let _ = write!(
                    out,
                    "<se:Fill><se:SvgParameter name=\"fill\">{}</se:SvgParameter><se:SvgParameter name=\"fill-opacity\">{}</se:SvgParameter></se:Fill>",
                    s.colour, s.fill_opacity
                );
            }
            stroke(out, s.colour, px, s.dashed);
            out.push_str("</se:PolygonSymbolizer>");
        }
    }
}

/// The style as an OGC Styled Layer Descriptor 1.1 with Symbology Encoding (what QGIS exports as SLD). On the
/// mixed projects layer, points and lines are told apart with `GeoServer`'s `geometryType` function.
pub fn sld(style: &LayerStyle) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<StyledLayerDescriptor xmlns=\"http://www.opengis.net/sld\" xmlns:ogc=\"http://www.opengis.net/ogc\" xmlns:se=\"http://www.opengis.net/se\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" version=\"1.1.0\" xsi:schemaLocation=\"http://www.opengis.net/sld http://schemas.opengis.net/sld/1.1.0/StyledLayerDescriptor.xsd\"><NamedLayer><se:Name>{0}</se:Name><UserStyle><se:Name>{1}</se:Name><se:FeatureTypeStyle>",
        xml(&style.layer),
        xml(&style.name)
    );
    for c in &style.classes {
        let _ = write!(out, "<se:Rule><se:Name>{}</se:Name>", xml(&c.label));
        let mut conditions = Vec::new();
        if style.kinds.len() > 1 {
            let t = if c.symbol.kind == Kind::Point { "Point" } else { "LineString" };
            conditions.push(format!(
                "<ogc:PropertyIsEqualTo><ogc:Function name=\"geometryType\"><ogc:PropertyName>geom</ogc:PropertyName></ogc:Function><ogc:Literal>{t}</ogc:Literal></ogc:PropertyIsEqualTo>"
            ));
        }
        if let Some((k, v)) = c.equals {
            conditions.push(format!(
                "<ogc:PropertyIsEqualTo><ogc:PropertyName>{}</ogc:PropertyName><ogc:Literal>{}</ogc:Literal></ogc:PropertyIsEqualTo>",
                xml(k),
                xml(v)
            ));
        }
        match conditions.len() {
            0 => {}
            1 => {
                let _ = write!(out, "<ogc:Filter>{}</ogc:Filter>", conditions[0]);
            }
            _ => {
                let _ = write!(out, "<ogc:Filter><ogc:And>{}</ogc:And></ogc:Filter>", conditions.concat());
            }
        }
        sld_symbolizer(&mut out, &c.symbol);
        out.push_str("</se:Rule>");
    }
    if let Some(field) = style.label_field {
        let _ = write!(
            out,
            "<se:Rule><se:Name>标注</se:Name><se:TextSymbolizer><se:Label><ogc:PropertyName>{field}</ogc:PropertyName></se:Label><se:Font><se:SvgParameter name=\"font-family\">WenQuanYi Zen Hei</se:SvgParameter><se:SvgParameter name=\"font-size\">11</se:SvgParameter></se:Font><se:Halo><se:Radius>1.5</se:Radius><se:Fill><se:SvgParameter name=\"fill\">#ffffff</se:SvgParameter></se:Fill></se:Halo><se:Fill><se:SvgParameter name=\"fill\">#282828</se:SvgParameter></se:Fill></se:TextSymbolizer></se:Rule>"
        );
    }
    out.push_str("</se:FeatureTypeStyle></UserStyle></NamedLayer></StyledLayerDescriptor>\n");
    out
}

/// A KML colour (`aabbggrr`).
pub fn kml_colour(hex: &str, opacity: f64) -> String {
    let (r, g, b) = rgb(hex);
    format!("{:02x}{b:02x}{g:02x}{r:02x}", (opacity.clamp(0.0, 1.0) * 255.0).round() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_has_a_point_and_a_line_class_on_the_mixed_layer() {
        let s = plan_style("projects").unwrap();
        assert_eq!(s.classes.len(), CATEGORY_COLOURS.len() * 2);
        let qml = qml(&s);
        assert!(qml.contains(
            "geometry_type($geometry) = &apos;Point&apos; AND &quot;category&quot; = &apos;railway&apos;"
        ));
        assert!(qml.contains("label=\"铁路\""));
        assert!(qml.contains("<prop k=\"line_color\" v=\"178,24,43,255\"/>"), "railway red on lines");
        let sld = sld(&s);
        assert!(sld.contains("<ogc:Literal>LineString</ogc:Literal>"));
        assert!(sld.contains("<se:SvgParameter name=\"fill\">#b2182b</se:SvgParameter>"));
    }

    #[test]
    fn colours_convert_for_each_client() {
        assert_eq!(qgis_colour("#d94f30", 0.22), "217,79,48,56");
        assert_eq!(kml_colour("#d94f30", 1.0), "ff304fd9");
        assert_eq!(xml("a<'b'>&\"c\""), "a&lt;&apos;b&apos;&gt;&amp;&quot;c&quot;");
        assert!(plan_style("targets").is_none());
    }
}
