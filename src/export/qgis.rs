//! A QGIS project (`.qgz`: a zip holding one `.qgs`) that opens the plan as the map page shows it: the
//! regions, city and county borders and the projects (points and lines as two typed layers), each read live
//! from this server over OGC API – Features, styled with the map's colours and Chinese labels
//! ([`super::style`]), in Web Mercator over Liaoning.

use std::fmt::Write as _;
use std::io::Write as _;

use super::ExportError;
use super::style::{Kind, LayerStyle, qgis_renderer, xml};
use crate::store::Catalog;

/// The project's layers, top first: (collection, the layer's name in QGIS).
const LAYERS: &[(&str, &str)] = &[
    ("projects-points", "项目（点）projects: points"),
    ("projects-lines", "项目（线）projects: lines"),
    ("regions", "区域 regions"),
    ("cities", "市界 cities"),
    ("counties", "县界 counties"),
];

const WGS84: &str = "<spatialrefsys><wkt>GEOGCRS[\"WGS 84\",DATUM[\"World Geodetic System 1984\",ELLIPSOID[\"WGS 84\",6378137,298.257223563,LENGTHUNIT[\"metre\",1]]],PRIMEM[\"Greenwich\",0,ANGLEUNIT[\"degree\",0.0174532925199433]],CS[ellipsoidal,2],AXIS[\"geodetic latitude (Lat)\",north,ORDER[1],ANGLEUNIT[\"degree\",0.0174532925199433]],AXIS[\"geodetic longitude (Lon)\",east,ORDER[2],ANGLEUNIT[\"degree\",0.0174532925199433]],ID[\"EPSG\",4326]]</wkt><proj4>+proj=longlat +datum=WGS84 +no_defs</proj4><srsid>3452</srsid><srid>4326</srid><authid>EPSG:4326</authid><description>WGS 84</description><projectionacronym>longlat</projectionacronym><ellipsoidacronym>EPSG:7030</ellipsoidacronym><geographicflag>true</geographicflag></spatialrefsys>";

const MERCATOR: &str = "<spatialrefsys><proj4>+proj=merc +a=6378137 +b=6378137 +lat_ts=0 +lon_0=0 +x_0=0 +y_0=0 +k=1 +units=m +nadgrids=@null +wktext +no_defs</proj4><srsid>3857</srsid><srid>3857</srid><authid>EPSG:3857</authid><description>WGS 84 / Pseudo-Mercator</description><projectionacronym>merc</projectionacronym><ellipsoidacronym>EPSG:7030</ellipsoidacronym><geographicflag>false</geographicflag></spatialrefsys>";

/// Web Mercator metres of a longitude, latitude.
fn mercator(lon: f64, lat: f64) -> (f64, f64) {
    const R: f64 = 6_378_137.0;
    let lat = lat.clamp(-85.0511, 85.0511).to_radians();
    (lon.to_radians() * R, (std::f64::consts::FRAC_PI_4 + lat / 2.0).tan().ln() * R)
}

/// The layer's `<maplayer>` element.
fn map_layer(out: &mut String, source: &str, collection: &str, name: &str, style: &LayerStyle) {
    let geometry = style.kinds.first().map_or("Point", |k| k.qgis());
    let wkb = match style.kinds.first() {
        Some(Kind::Point) => "Point",
        Some(Kind::Line) => "LineString",
        _ => "MultiPolygon",
    };
    let _ = write!(
        out,
        "<maplayer type=\"vector\" geometry=\"{geometry}\" wkbType=\"{wkb}\" labelsEnabled=\"{labels}\" autoRefreshEnabled=\"0\" readOnly=\"1\" hasScaleBasedVisibilityFlag=\"0\" minScale=\"100000000\" maxScale=\"0\"><id>{id}</id><datasource>{source}</datasource><layername>{name}</layername><srs>{WGS84}</srs><provider encoding=\"UTF-8\">OAPIF</provider>{renderer}<blendMode>0</blendMode><featureBlendMode>0</featureBlendMode><layerOpacity>1</layerOpacity></maplayer>",
        labels = u8::from(style.label_field.is_some()),
        id = xml(&layer_id(collection)),
        source = xml(source),
        name = xml(name),
        renderer = qgis_renderer(style),
    );
}

fn layer_id(collection: &str) -> String {
    format!("planatlas_{}", collection.replace('-', "_"))
}

/// The project document (`.qgs`), reading the layers from the server at `base`.
pub fn project_xml(catalog: &Catalog, base: &str) -> String {
    let mut tree = String::new();
    let mut layers = String::new();
    for (collection, name) in LAYERS {
        let Some(style) = super::layer_style(catalog, collection) else { continue };
        let source = format!("url='{base}' typename='{collection}'");
        let _ = write!(
            tree,
            "<layer-tree-layer id=\"{}\" name=\"{}\" source=\"{}\" providerKey=\"OAPIF\" checked=\"Qt::Checked\" expanded=\"0\"><customproperties/></layer-tree-layer>",
            xml(&layer_id(collection)),
            xml(name),
            xml(&source)
        );
        map_layer(&mut layers, &source, collection, name, &style);
    }
    // Liaoning's extent, from its cities, a little padded.
    let (min, max) = catalog
        .cities()
        .extent()
        .map_or(((118.8, 38.7), (125.8, 43.5)), |r| ((r.min().x, r.min().y), (r.max().x, r.max().y)));
    let (x0, y0) = mercator(min.0 - 0.3, min.1 - 0.3);
    let (x1, y1) = mercator(max.0 + 0.3, max.1 + 0.3);
    format!(
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n<qgis projectname=\"辽宁“一圈一带两区” planatlas\" version=\"3.22.0\"><homePath path=\"\"/><title>辽宁“一圈一带两区” planatlas</title><projectCrs>{MERCATOR}</projectCrs><layer-tree-group><customproperties/>{tree}</layer-tree-group><mapcanvas name=\"theMapCanvas\" annotationsVisible=\"1\"><units>meters</units><extent><xmin>{x0:.1}</xmin><ymin>{y0:.1}</ymin><xmax>{x1:.1}</xmax><ymax>{y1:.1}</ymax></extent><rotation>0</rotation><destinationsrs>{MERCATOR}</destinationsrs><rendermaptile>0</rendermaptile></mapcanvas><ProjectViewSettings UseProjectScales=\"0\"><Scales/><DefaultViewExtent xmin=\"{x0:.1}\" ymin=\"{y0:.1}\" xmax=\"{x1:.1}\" ymax=\"{y1:.1}\">{MERCATOR}</DefaultViewExtent></ProjectViewSettings><projectlayers>{layers}</projectlayers><properties><Paths><Absolute type=\"bool\">true</Absolute></Paths><SpatialRefSys><ProjectionsEnabled type=\"int\">1</ProjectionsEnabled></SpatialRefSys></properties></qgis>\n"
    )
}

/// The project as a `.qgz` archive.
pub fn write_qgz(catalog: &Catalog, base: &str) -> Result<Vec<u8>, ExportError> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let lib =
        |e: zip::result::ZipError| ExportError::Library { format: "QGIS project", detail: e.to_string() };
    zip.start_file("planatlas.qgs", options).map_err(lib)?;
    zip.write_all(project_xml(catalog, base).as_bytes())?;
    Ok(zip.finish().map_err(lib)?.into_inner())
}
