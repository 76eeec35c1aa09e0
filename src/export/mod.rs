//! Exports GIS tools open first time: GeoJSON, GeoJSON text sequences, CSV, KML, FlatGeobuf, GeoPackage and
//! zipped ESRI Shapefile, one module per format.
//!
//! Every exporter takes the features to write as an iterator and writes them as it goes, so memory stays flat
//! as the feature count grows: text formats straight to the output (the HTTP layer streams it), GeoPackage,
//! FlatGeobuf and Shapefile through a temporary file. Coordinates come in as CRS84 and go out in the requested
//! CRS: in the CRS's axis order for GeoJSON (it is the OGC API answer), in the file format's own x = east,
//! y = north convention for the others (as GDAL reads them).

pub mod columns;
pub mod csv;
pub mod fgb;
pub mod files;
pub mod geojson;
pub mod gpkg;
pub mod kml;
pub mod qgis;
pub mod shp;
pub mod style;
pub mod synthetic;

use std::borrow::Borrow;
use std::io::{self, Write};

use geo::Geometry;

pub use columns::{Column, ColumnType, columns_of};

use crate::geom::crs::{Crs, TransformError};
use crate::store::{Catalog, Collection, Feature};

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// GeoJSON FeatureCollection (RFC 7946).
    GeoJson,
    /// GeoJSON text sequence (RFC 8142): one feature per record.
    GeoJsonSeq,
    /// CSV with a WKT geometry column and lon/lat (or easting/northing) for points.
    Csv,
    /// KML 2.2 (always WGS84).
    Kml,
    /// FlatGeobuf with its packed Hilbert R-tree index.
    FlatGeobuf,
    /// GeoPackage 1.3 (SQLite; the version GDAL 3.6 reads without warnings).
    GeoPackage,
    /// ESRI Shapefile (.shp, .shx, .dbf, .prj, .cpg) in a zip.
    Shapefile,
}

impl ExportFormat {
    /// Every format.
    pub const ALL: [ExportFormat; 7] = [
        Self::GeoJson,
        Self::GeoJsonSeq,
        Self::Csv,
        Self::Kml,
        Self::FlatGeobuf,
        Self::GeoPackage,
        Self::Shapefile,
    ];

    /// The `f=` value and CLI `--format` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::GeoJson => "geojson",
            Self::GeoJsonSeq => "geojsonseq",
            Self::Csv => "csv",
            Self::Kml => "kml",
            Self::FlatGeobuf => "fgb",
            Self::GeoPackage => "gpkg",
            Self::Shapefile => "shp",
        }
    }

    /// Reads an `f=` value or a CLI format name (a few common aliases accepted).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "geojson" => Some(Self::GeoJson),
            "geojsonseq" | "geojson-seq" | "jsonseq" => Some(Self::GeoJsonSeq),
            "csv" => Some(Self::Csv),
            "kml" => Some(Self::Kml),
            "fgb" | "flatgeobuf" => Some(Self::FlatGeobuf),
            "gpkg" | "geopackage" => Some(Self::GeoPackage),
            "shp" | "shapefile" | "shapezip" => Some(Self::Shapefile),
            _ => None,
        }
    }

    /// The format an `Accept` media type asks for.
    pub fn from_media_type(media: &str) -> Option<Self> {
        match media {
            "application/geo+json-seq" | "application/json-seq" => Some(Self::GeoJsonSeq),
            "text/csv" => Some(Self::Csv),
            "application/vnd.google-earth.kml+xml" => Some(Self::Kml),
            "application/flatgeobuf" | "application/vnd.flatgeobuf" => Some(Self::FlatGeobuf),
            "application/geopackage+sqlite3" | "application/geopackage+vnd.sqlite3" => Some(Self::GeoPackage),
            "application/x-shapefile" | "application/zip" | "application/x-zipped-shp" => {
                Some(Self::Shapefile)
            }
            _ => None,
        }
    }

    /// The media type answered.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::GeoJson => "application/geo+json",
            Self::GeoJsonSeq => "application/geo+json-seq",
            Self::Csv => "text/csv; charset=utf-8",
            Self::Kml => "application/vnd.google-earth.kml+xml",
            Self::FlatGeobuf => "application/flatgeobuf",
            Self::GeoPackage => "application/geopackage+sqlite3",
            Self::Shapefile => "application/zip",
        }
    }

    /// The file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::GeoJson => "geojson",
            Self::GeoJsonSeq => "geojsons",
            Self::Csv => "csv",
            Self::Kml => "kml",
            Self::FlatGeobuf => "fgb",
            Self::GeoPackage => "gpkg",
            Self::Shapefile => "shp.zip",
        }
    }

    /// Whether the format is written through a temporary file (binary formats built with a library that needs
    /// to seek) rather than streamed.
    pub fn needs_file(self) -> bool {
        matches!(self, Self::FlatGeobuf | Self::GeoPackage | Self::Shapefile)
    }
}

/// What an export needs to know besides the features.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Output CRS.
    pub crs: Crs,
    /// CSV only: start with a UTF-8 byte-order mark so Excel reads Chinese text correctly.
    pub bom: bool,
    /// Only these properties (all when `None`).
    pub properties: Option<Vec<String>>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self { crs: Crs::Crs84, bom: false, properties: None }
    }
}

/// A reason an export cannot be made; the HTTP layer answers these with 4xx.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The format cannot hold what was asked (mixed geometry types in a Shapefile, no geometry in KML…).
    #[error("{0}")]
    Unsupported(String),
    /// A coordinate could not be transformed.
    #[error(transparent)]
    Transform(#[from] TransformError),
    /// Writing failed.
    #[error("writing the export failed: {0}")]
    Io(#[from] std::io::Error),
    /// A format library failed.
    #[error("{format}: {detail}")]
    Library {
        /// The format.
        format: &'static str,
        /// The library's message.
        detail: String,
    },
}

/// One layer to write: a name, its columns, and the features (borrowed from a collection, or owned when
/// generated on the fly).
pub struct Layer<'a, I: Iterator<Item: Borrow<Feature>>> {
    /// Layer (table, file) name.
    pub name: &'a str,
    /// Columns, from [`columns_of`].
    pub columns: &'a [Column],
    /// Whether the collection has geometries.
    pub spatial: bool,
    /// The features, in order.
    pub features: I,
}

/// A geometry in the output CRS with x = east, y = north (the convention of every file format but GeoJSON).
pub fn east_north(geometry: &Geometry<f64>, crs: Crs) -> Result<Geometry<f64>, TransformError> {
    use geo::MapCoords;
    if crs == Crs::Crs84 {
        return Ok(geometry.clone());
    }
    let g = crate::geom::transform_geometry(geometry, crs)?;
    Ok(if crs.north_first() { g.map_coords(|c| geo::Coord { x: c.y, y: c.x }) } else { g })
}

pub use crate::geom::rounded;

/// The geometry types present in a set of features (`Point`, `LineString`, …).
pub fn geometry_types<'a>(
    features: impl Iterator<Item = &'a Feature>,
) -> std::collections::BTreeSet<&'static str> {
    features.filter_map(|f| f.geometry.as_ref()).map(crate::store::admin::geometry_type).collect()
}

/// Writes one layer of a collection in a streamed text format.
pub fn write_text<W: Write>(
    format: ExportFormat,
    out: W,
    layer: Layer<'_, impl Iterator<Item = impl Borrow<Feature>>>,
    options: &ExportOptions,
) -> Result<(), ExportError> {
    match format {
        ExportFormat::GeoJson => geojson::write(out, layer, options),
        ExportFormat::GeoJsonSeq => geojson::write_seq(out, layer, options),
        ExportFormat::Csv => csv::write(out, layer, options),
        ExportFormat::Kml => kml::write(out, layer, options),
        _ => Err(ExportError::Unsupported(format!("{} is not a streamed text format", format.name()))),
    }
}

/// Checks a format can hold a collection's features before anything is written.
pub fn check(format: ExportFormat, collection: &Collection, features: &[String]) -> Result<(), ExportError> {
    let spatial = collection.is_spatial();
    if !spatial && matches!(format, ExportFormat::Kml | ExportFormat::FlatGeobuf | ExportFormat::Shapefile) {
        return Err(ExportError::Unsupported(format!(
            "collection '{}' has no geometries; {} needs them (use csv, geojson or gpkg)",
            collection.id(),
            format.name()
        )));
    }
    if format == ExportFormat::Shapefile {
        let kinds = geometry_types(features.iter().filter_map(|id| collection.get(id)));
        let families: std::collections::BTreeSet<&str> = kinds
            .iter()
            .map(|k| match *k {
                "Point" | "MultiPoint" => "point",
                "LineString" | "MultiLineString" => "line",
                _ => "polygon",
            })
            .collect();
        if families.len() > 1 {
            let kinds: Vec<&str> = kinds.into_iter().collect();
            // The projects have a collection per geometry type; other collections can filter by it.
            let one_type = if collection.id() == "projects" {
                "/exports/projects-points.shp.zip and /exports/projects-lines.shp.zip".to_owned()
            } else if collection.queryable("geometry_type").is_some() {
                format!("/collections/{}/items?f=shp&geometry_type={}", collection.id(), kinds[0])
            } else {
                format!("/collections/{}/items?f=shp&filter=… on its geometry", collection.id())
            };
            return Err(ExportError::Unsupported(format!(
                "a Shapefile holds one geometry type, but these features mix {}: export one type at a time \
                 ({one_type}), or use gpkg, fgb or geojson, which hold them all",
                kinds.join(" and "),
            )));
        }
    }
    Ok(())
}

/// The layers of the whole-plan GeoPackage, in order.
pub const PLAN_LAYERS: &[&str] = &["regions", "cities", "counties", "projects", "targets", "sections"];

/// What to export: one collection's selected features, or the whole plan as GeoPackage layers.
pub enum What {
    /// Some features of one collection.
    Collection {
        /// Collection id.
        id: String,
        /// Feature ids, in order.
        features: Vec<String>,
    },
    /// Every feature of every collection in [`PLAN_LAYERS`] (GeoPackage only).
    Plan,
}

/// The map's style for a plan layer, with the regions' legend in their Chinese names.
pub fn layer_style(catalog: &Catalog, layer: &str) -> Option<style::LayerStyle> {
    let s = style::plan_style(layer)?;
    Some(style::with_region_names(s, |id| {
        catalog.regions().get(id).and_then(|f| f.str_prop("name_zh")).map(str::to_owned)
    }))
}

/// Writes an export to `out`, calling `tick` once per feature written. Shared by the HTTP layer and
/// `planatlas export`, so both write the same file.
pub fn write_export(
    catalog: &Catalog,
    what: &What,
    format: ExportFormat,
    options: &ExportOptions,
    out: &mut dyn Write,
    tick: &dyn Fn(),
) -> Result<(), ExportError> {
    match what {
        What::Plan => {
            let dir = tempfile::tempdir()?;
            let path = dir.path().join("planatlas.gpkg");
            let mut w = gpkg::GpkgWriter::create(&path, options.crs)?;
            for id in PLAN_LAYERS {
                let Some(c) = catalog.collection(id) else { continue };
                let columns = columns::of_collection(c);
                let kinds = geometry_types(c.features().iter());
                let features = c.features().iter().inspect(|_| tick());
                let layer = Layer { name: id, columns: &columns, spatial: c.is_spatial(), features };
                w.add_layer(layer, &kinds, &c.meta.description)?;
                if c.is_spatial()
                    && let Some(style) = layer_style(catalog, id)
                {
                    w.add_style(&style)?;
                }
            }
            w.finish()?;
            io::copy(&mut std::fs::File::open(&path)?, out)?;
            Ok(())
        }
        What::Collection { id, features } => {
            let c = catalog
                .collection(id)
                .ok_or_else(|| ExportError::Unsupported(format!("no collection '{id}'")))?;
            check(format, c, features)?;
            let mut columns = columns::of_collection(c);
            if let Some(only) = &options.properties {
                columns.retain(|col| only.contains(&col.name));
            }
            let kinds = geometry_types(features.iter().filter_map(|id| c.get(id)));
            let features = features.iter().filter_map(|id| {
                tick();
                c.get(id)
            });
            let layer = Layer { name: c.id(), columns: &columns, spatial: c.is_spatial(), features };
            match format {
                ExportFormat::FlatGeobuf => fgb::write(out, layer, &kinds, options),
                ExportFormat::GeoPackage => {
                    let dir = tempfile::tempdir()?;
                    let path = dir.path().join(format!("{}.gpkg", c.id()));
                    let style = layer_style(catalog, c.id());
                    gpkg::write_file(&path, layer, &kinds, &c.meta.description, style.as_ref(), options)?;
                    io::copy(&mut std::fs::File::open(&path)?, out)?;
                    Ok(())
                }
                ExportFormat::Shapefile => {
                    let dir = tempfile::tempdir()?;
                    let mut zip = tempfile::tempfile()?;
                    shp::write_zip(&mut zip, dir.path(), layer, options)?;
                    io::Seek::rewind(&mut zip)?;
                    io::copy(&mut zip, out)?;
                    Ok(())
                }
                text => write_text(text, out, layer, options),
            }
        }
    }
}
