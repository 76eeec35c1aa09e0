//! CSV: UTF-8 (optionally with a byte-order mark for Excel), an `id` column, every property, the geometry as
//! WKT, and for points two coordinate columns (`lon`/`lat` in a geographic CRS, `easting`/`northing` in a
//! projected one). Multi-valued properties are joined with "; "; text a spreadsheet would run as a formula
//! starts with `'`.

use std::borrow::Borrow;
use std::io::Write;

use geo::Geometry;
use geozero::ToWkt;

use super::columns::{Column, ColumnType, fits_i32, is_day, spreadsheet_text};
use super::{ExportError, ExportOptions, Layer, east_north, rounded};
use crate::store::Feature;
use serde_json::Value;

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

/// The `.csvt` line GDAL reads beside a CSV of the same name (`/vsicurl/…/projects.csv` asks for
/// `…/projects.csvt`): one quoted type per column of [`write()`]'s header, in its order, so QGIS and `ogr2ogr` get
/// numbers, days and booleans rather than text. Whole numbers past 32 bits are `Integer64`; the point's two
/// coordinate columns are `Real` (the geometry is the `WKT` column). The types do not depend on the CRS or the
/// byte-order mark, so one file serves every variant.
pub fn csvt<'a>(columns: &[Column], features: impl Iterator<Item = &'a Feature>, spatial: bool) -> String {
    // Per column: a whole number past 32 bits seen; and (for text) a day seen, anything but a day seen.
    let mut wide = vec![false; columns.len()];
    let mut days = vec![(false, false); columns.len()];
    for f in features {
        let values = f.properties.values_of(columns.iter().map(|c| c.name.as_str()));
        for (((w, d), c), v) in wide.iter_mut().zip(&mut days).zip(columns).zip(&values) {
            match (c.kind, v.as_deref()) {
                (_, None | Some(Value::Null)) => {}
                (ColumnType::Integer, Some(v)) => *w |= !fits_i32(v),
                (ColumnType::Text, Some(Value::String(s))) if is_day(s) => d.0 = true,
                (ColumnType::Text, Some(_)) => d.1 = true,
                _ => {}
            }
        }
    }
    let mut types = vec!["String"];
    types.extend(columns.iter().zip(wide.iter().zip(&days)).map(|(c, (wide, days))| match c.kind {
        ColumnType::Integer if *wide => "Integer64",
        // Text that is all days (a report's period_start), as the feature schema says over OGC API – Features.
        ColumnType::Text if *days == (true, false) => "Date",
        ColumnType::Integer => "Integer",
        ColumnType::Real => "Real",
        ColumnType::Boolean => "Integer(Boolean)",
        ColumnType::Date => "Date",
        ColumnType::DateTime => "DateTime",
        ColumnType::Text | ColumnType::Json => "String",
    }));
    if spatial {
        types.extend(["WKT", "Real", "Real"]);
    }
    let quoted: Vec<String> = types.iter().map(|t| format!("\"{t}\"")).collect();
    format!("{}\n", quoted.join(","))
}

fn csv_error(e: ::csv::Error) -> ExportError {
    ExportError::Library { format: "CSV", detail: e.to_string() }
}
