//! CSV: UTF-8 (optionally with a byte-order mark for Excel), an `id` column, every property, the geometry as
//! WKT, and for points two coordinate columns (`lon`/`lat` in a geographic CRS, `easting`/`northing` in a
//! projected one). Multi-valued properties are joined with "; "; text a spreadsheet would run as a formula
//! starts with `'`.

use std::borrow::Borrow;
use std::io::Write;

use geo::Geometry;
use geozero::ToWkt;

use super::columns::spreadsheet_text;
use super::{ExportError, ExportOptions, Layer, east_north, rounded};
use crate::store::Feature;

/// Writes the layer as CSV with the `csv` crate (RFC 4180 quoting).
pub fn write<W: Write>(
    mut out: W,
    layer: Layer<'_, impl Iterator<Item = impl Borrow<Feature>>>,
    options: &ExportOptions,
) -> Result<(), ExportError> {
    if options.bom {
        out.write_all("\u{feff}".as_bytes())?;
    }
    let mut w = ::csv::WriterBuilder::new().from_writer(out);
    let (xname, yname) = if options.crs.is_geographic() { ("lon", "lat") } else { ("easting", "northing") };
    let mut own = vec!["id"];
    if layer.spatial {
        own.extend(["wkt", xname, yname]);
    }
    let labels = super::columns::labels(layer.columns, &own);
    let mut header: Vec<&str> = vec!["id"];
    header.extend(labels.iter().map(String::as_str));
    header.extend(&own[1..]);
    w.write_record(&header).map_err(csv_error)?;
    for f in layer.features {
        let f: &Feature = f.borrow();
        let mut row: Vec<String> = Vec::with_capacity(header.len());
        row.push(f.id.clone());
        let values = f.properties.values_of(layer.columns.iter().map(|c| c.name.as_str()));
        row.extend(values.iter().map(|v| spreadsheet_text(v.as_deref())));
        if layer.spatial {
            match &f.geometry {
                Some(g) => {
                    let g = rounded(east_north(g, options.crs)?, options.crs);
                    row.push(
                        g.to_wkt()
                            .map_err(|e| ExportError::Library { format: "WKT", detail: e.to_string() })?,
                    );
                    if let Geometry::Point(p) = g {
                        row.push(p.x().to_string());
                        row.push(p.y().to_string());
                    } else {
                        row.extend([String::new(), String::new()]);
                    }
                }
                None => row.extend([String::new(), String::new(), String::new()]),
            }
        }
        w.write_record(&row).map_err(csv_error)?;
    }
    w.flush()?;
    Ok(())
}

fn csv_error(e: ::csv::Error) -> ExportError {
    ExportError::Library { format: "CSV", detail: e.to_string() }
}
