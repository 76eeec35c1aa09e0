//! Zipped ESRI Shapefile through the `shapefile` and `dbase` crates: `.shp`, `.shx`, `.dbf` (UTF-8), `.prj`
//! (ESRI WKT from PROJ), `.cpg` (`UTF-8`), and `fields.txt` mapping each DBF field name (at most 10
//! characters) to the property it holds. DBF text fields hold at most 254 bytes: longer values (long excerpts,
//! JSON lists) are cut at a character boundary, and `fields.txt` says so; GeoPackage keeps them whole.

use chrono::Datelike as _;
use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::{Seek, Write};
use std::path::Path;

use geo::Geometry;
use serde_json::Value;
use shapefile::dbase::{FieldName, FieldValue, Record, TableWriterBuilder};

use super::columns::{ColumnType, as_text};
use super::{ExportError, ExportOptions, Layer, east_north, rounded};
use crate::geom::crs::wkt;
use crate::store::Feature;

/// The documented short names for properties longer than DBF's 10 characters.
pub const FIELD_NAMES: &[(&str, &str)] = &[
    ("named_place", "named_plc"),
    ("county_adcode", "cnty_code"),
    ("city_adcode", "city_code"),
    ("location_precision", "loc_prec"),
    ("location_source", "loc_source"),
    ("outside_province", "outside_pr"),
    ("consistency_notes", "cons_notes"),
    ("county_adcodes", "cnty_codes"),
    ("county_names", "cnty_names"),
    ("city_adcodes", "city_codes"),
    ("outside_liaoning_km", "out_ln_km"),
    ("geometry_type", "geom_type"),
    ("project_count", "proj_count"),
    ("parent_adcode", "parent_cod"),
    ("city_name_zh", "city_nm_zh"),
    ("city_name_en", "city_nm_en"),
    ("positioning_zh", "pos_zh"),
    ("positioning_en", "pos_en"),
    ("membership_basis", "mbr_basis"),
    ("county_count", "cnty_count"),
    ("project_targets", "proj_tgts"),
    ("indicator_zh", "ind_zh"),
    ("indicator_en", "ind_en"),
    ("target_year", "tgt_year"),
    ("investment_total", "inv_total"),
    ("investment_to_date", "inv_todate"),
    ("investment_share", "inv_share"),
    ("investment_period", "inv_period"),
    ("investment_planned_year", "inv_plan_y"),
    ("progress_period", "prog_per"),
    ("progress_as_of", "prog_asof"),
    ("stage_period", "stage_per"),
    ("reported_by", "report_by"),
];

/// DBF field names for the columns: the documented short name, else the name cut to 10 bytes, made unique
/// (ignoring case, as dBase does) with a numeric suffix.
pub fn field_names(columns: &[super::Column]) -> Vec<String> {
    // At most `max` bytes, cut at a character boundary (a Chinese character is three bytes in UTF-8).
    let cut = |s: &str, max: usize| {
        let mut out = String::new();
        for ch in s.chars() {
            if out.len() + ch.len_utf8() > max {
                break;
            }
            out.push(ch);
        }
        out
    };
    let mut used: BTreeSet<String> = BTreeSet::from(["id".to_owned()]);
    columns
        .iter()
        .map(|c| {
            let base = FIELD_NAMES
                .iter()
                .find(|(long, _)| *long == c.name)
                .map_or_else(|| cut(&c.name, 10), |(_, short)| (*short).to_owned());
            let mut name = base.clone();
            let mut n = 2;
            // dBase field names are case-insensitive (ArcGIS refuses `name` beside `NAME`; GDAL reads either
            // as the first): compared lower-cased.
            while used.contains(&name.to_lowercase()) {
                let suffix = format!("_{n}");
                name = format!("{}{suffix}", cut(&base, 10 - suffix.len()));
                n += 1;
            }
            used.insert(name.to_lowercase());
            name
        })
        .collect()
}

fn truncate_bytes(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

fn lib(e: impl std::fmt::Display) -> ExportError {
    ExportError::Library { format: "Shapefile", detail: e.to_string() }
}

/// Writes the layer as `<name>.shp/.shx/.dbf/.prj/.cpg` plus `fields.txt` into a zip on `out`. The files are
/// built in `workdir` (a temporary directory) first.
pub fn write_zip<W: Write + Seek>(
    out: W,
    workdir: &Path,
    layer: Layer<'_, impl Iterator<Item = impl Borrow<Feature>>>,
    options: &ExportOptions,
) -> Result<(), ExportError> {
    let names = field_names(layer.columns);
    let features: Vec<_> = layer.features.collect();
    // A real column is N(24, d): as many decimals as its widest whole part leaves room for, at most 15 (as
    // GDAL writes them). Six decimals made 1e-7 a 0; a fixed 15 would crop a large value's digits.
    let decimals = |c: &super::Column| -> u8 {
        let widest = features
            .iter()
            .filter_map(|f| f.borrow().properties.get(&c.name).and_then(Value::as_f64))
            .map(|x| format!("{:.0}", x.trunc()).len())
            .max()
            .unwrap_or(1);
        u8::try_from(22usize.saturating_sub(widest).min(15)).unwrap_or(0)
    };
    let field = |n: &str| FieldName::try_from(n).map_err(|e| lib(format!("field name {n}: {e:?}")));
    let mut builder = TableWriterBuilder::new().add_character_field(field("id")?, 64);
    for (c, n) in layer.columns.iter().zip(&names) {
        builder = match c.kind {
            ColumnType::Integer => builder.add_numeric_field(field(n)?, 18, 0),
            ColumnType::Real => builder.add_numeric_field(field(n)?, 24, decimals(c)),
            ColumnType::Boolean => builder.add_logical_field(field(n)?),
            ColumnType::Text | ColumnType::Json | ColumnType::DateTime => {
                builder.add_character_field(field(n)?, 254)
            }
            ColumnType::Date => builder.add_date_field(field(n)?),
        };
    }
    let base = workdir.join(layer.name);
    let shp_path = base.with_extension("shp");
    // Features without a geometry: this writer has no null shapes to hold them, so fields.txt says how many
    // are not in the file (the GeoPackage, CSV and GeoJSON exports have them).
    let mut without_geometry = 0usize;
    {
        let mut writer = shapefile::Writer::from_path(&shp_path, builder).map_err(lib)?;
        for f in &features {
            let f: &Feature = f.borrow();
            let Some(g) = &f.geometry else {
                without_geometry += 1;
                continue;
            };
            let g = rounded(east_north(g, options.crs)?, options.crs);
            let mut record = Record::default();
            record.insert("id".to_owned(), FieldValue::Character(Some(f.id.clone())));
            let values = f.properties.values_of(layer.columns.iter().map(|c| c.name.as_str()));
            for ((c, n), v) in layer.columns.iter().zip(&names).zip(values) {
                let v = v.as_deref();
                let value = match c.kind {
                    ColumnType::Integer | ColumnType::Real => FieldValue::Numeric(v.and_then(Value::as_f64)),
                    ColumnType::Boolean => FieldValue::Logical(v.and_then(Value::as_bool)),
                    ColumnType::Date => FieldValue::Date(v.and_then(Value::as_str).and_then(|d| {
                        let day = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
                        Some(shapefile::dbase::Date::new(
                            day.day(),
                            day.month(),
                            u32::try_from(day.year()).ok()?,
                        ))
                    })),
                    ColumnType::Text | ColumnType::Json | ColumnType::DateTime => {
                        let s = as_text(v);
                        FieldValue::Character((!s.is_empty()).then(|| truncate_bytes(&s, 254)))
                    }
                };
                record.insert(n.clone(), value);
            }
            match g {
                Geometry::Point(p) => writer.write_shape_and_record(&shapefile::Point::from(p), &record),
                Geometry::MultiPoint(mp) => {
                    let points: Vec<shapefile::Point> =
                        mp.iter().map(|p| shapefile::Point::from(*p)).collect();
                    writer.write_shape_and_record(&shapefile::Multipoint::new(points), &record)
                }
                Geometry::LineString(ls) => {
                    writer.write_shape_and_record(&shapefile::Polyline::from(ls), &record)
                }
                Geometry::MultiLineString(m) => {
                    writer.write_shape_and_record(&shapefile::Polyline::from(m), &record)
                }
                Geometry::Polygon(p) => writer.write_shape_and_record(&shapefile::Polygon::from(p), &record),
                Geometry::MultiPolygon(mp) => {
                    writer.write_shape_and_record(&shapefile::Polygon::from(mp), &record)
                }
                other => {
                    return Err(ExportError::Unsupported(format!(
                        "feature {}: a Shapefile cannot hold a {}",
                        f.id,
                        crate::store::admin::geometry_type(&other)
                    )));
                }
            }
            .map_err(lib)?;
        }
    }
    let prj = wkt(options.crs, true).map_err(lib)?;
    let mut mapping = String::from(
        "DBF field\tproperty\n\
         (text fields hold at most 254 bytes: longer values are cut; the GeoPackage export keeps them whole)\n\
         id\tid\n",
    );
    for (c, n) in layer.columns.iter().zip(&names) {
        let _ = writeln!(mapping, "{n}\t{}", c.name);
    }
    if without_geometry > 0 {
        let _ = writeln!(
            mapping,
            "\n{without_geometry} feature(s) without a geometry are not in this Shapefile; the GeoPackage, CSV and \
             GeoJSON exports hold them"
        );
    }
    let mut zip = zip::ZipWriter::new(out);
    // A fixed time stamp keeps the archive the same byte for byte for the same data.
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip::DateTime::default());
    for ext in ["shp", "shx", "dbf"] {
        zip.start_file(format!("{}.{ext}", layer.name), opts).map_err(lib)?;
        let mut f = std::fs::File::open(base.with_extension(ext))?;
        std::io::copy(&mut f, &mut zip)?;
    }
    zip.start_file(format!("{}.prj", layer.name), opts).map_err(lib)?;
    zip.write_all(prj.as_bytes())?;
    zip.start_file(format!("{}.cpg", layer.name), opts).map_err(lib)?;
    zip.write_all(b"UTF-8")?;
    zip.start_file("fields.txt", opts).map_err(lib)?;
    zip.write_all(mapping.as_bytes())?;
    zip.finish().map_err(lib)?;
    Ok(())
}
