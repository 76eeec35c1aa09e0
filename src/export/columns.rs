//! The columns of a tabular export: every property key of a collection, in first-seen order, with one type.

use serde_json::Value;

use crate::store::Feature;

/// A column's type in tabular formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Every value is a whole number (or null).
    Integer,
    /// Every value is a number (or null).
    Real,
    /// Every value is true/false (or null).
    Boolean,
    /// Every value is a string (or null).
    Text,
    /// Arrays, objects or mixed types: written as JSON text.
    Json,
    /// A calendar day, `YYYY-MM-DD` (a layer's date field): a date column where the format has one.
    Date,
    /// An instant (a layer's date-time field): a date-time column where the format has one.
    DateTime,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The property name.
    pub name: String,
    /// Its type.
    pub kind: ColumnType,
}

fn kind_of(v: &Value) -> Option<ColumnType> {
    match v {
        Value::Null => None,
        Value::Bool(_) => Some(ColumnType::Boolean),
        // Whole numbers a double holds exactly (every format can write them); a larger one (an id of 19 digits,
        // 2^64 − 1) is written as text, digit for digit, rather than rounded or wrapped to 0.
        Value::Number(n) if n.as_i64().is_some_and(|i| i.unsigned_abs() <= 1 << 53) => {
            Some(ColumnType::Integer)
        }
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(ColumnType::Text),
        Value::Number(_) => Some(ColumnType::Real),
        Value::String(_) => Some(ColumnType::Text),
        Value::Array(_) | Value::Object(_) => Some(ColumnType::Json),
    }
}

fn merge(a: Option<ColumnType>, b: Option<ColumnType>) -> Option<ColumnType> {
    use ColumnType::{Integer, Json, Real};
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(x), Some(y)) if x == y => Some(x),
        (Some(Integer), Some(Real)) | (Some(Real), Some(Integer)) => Some(Real),
        _ => Some(Json),
    }
}

/// The columns of a set of features: every key in first-seen order, typed by what its values hold; a column
/// only ever null is text. An `id` property that only repeats each feature's id (a project's) is left out, the
/// formats write the feature id themselves; one that says something else (a layer file's own `id` field) is a
/// column like any other, written under a name that does not clash ([`labels`]).
pub fn columns_of<'a>(features: impl Iterator<Item = &'a Feature> + Clone) -> Vec<Column> {
    let repeats_id = |f: &Feature| match f.properties.get("id") {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => *s == f.id,
        Some(Value::Number(n)) => n.to_string() == f.id,
        Some(_) => false,
    };
    let skip_id = features.clone().all(repeats_id);
    let mut names: Vec<String> = Vec::new();
    let mut kinds: Vec<Option<ColumnType>> = Vec::new();
    for f in features {
        for (k, v) in &f.properties {
            if k == "id" && skip_id {
                continue;
            }
            let i = names.iter().position(|n| n == k).unwrap_or_else(|| {
                names.push(k.to_owned());
                kinds.push(None);
                names.len() - 1
            });
            kinds[i] = merge(kinds[i], kind_of(&v));
        }
    }
    names
        .into_iter()
        .zip(kinds)
        .map(|(name, k)| Column { name, kind: k.unwrap_or(ColumnType::Text) })
        .collect()
}

/// The columns of a collection's exports: [`columns_of`] its features; a layer with no features yet has the
/// fields its file declared (its queryables), so an empty export still carries the schema.
pub fn of_collection(c: &crate::store::Collection) -> Vec<Column> {
    use crate::store::PropertyType as P;
    if !c.features().is_empty() {
        // Values are JSON (dates are strings there): the layer's own schema says which text columns are dates,
        // so a GeoPackage, FlatGeobuf or Shapefile gets date columns back and a re-import filters by them.
        // A declared number is Real even where every value is whole, and a declared column whose values are
        // all null keeps its declared type: the points and the lines of one collection, or any subset of it,
        // export with the same schema (`ogr2ogr -append` and merging need it).
        let mut columns = columns_of(c.features().iter());
        let all_null =
            |name: &str| c.features().iter().all(|f| f.properties.get(name).is_none_or(Value::is_null));
        for col in &mut columns {
            match (col.kind, c.queryable(&col.name).map(|q| q.kind)) {
                (ColumnType::Text, Some(P::Date)) => col.kind = ColumnType::Date,
                (ColumnType::Text, Some(P::Timestamp)) => col.kind = ColumnType::DateTime,
                (ColumnType::Integer, Some(P::Number)) => col.kind = ColumnType::Real,
                (ColumnType::Text, Some(kind @ (P::Number | P::Integer | P::Boolean)))
                    if all_null(&col.name) =>
                {
                    col.kind = match kind {
                        P::Number => ColumnType::Real,
                        P::Integer => ColumnType::Integer,
                        _ => ColumnType::Boolean,
                    };
                }
                _ => {}
            }
        }
        return columns;
    }
    c.meta
        .queryables
        .iter()
        .filter_map(|q| {
            let kind = match q.kind {
                P::Geometry => return None,
                _ if q.name == "id" => return None,
                P::Integer => ColumnType::Integer,
                P::Number => ColumnType::Real,
                P::Boolean => ColumnType::Boolean,
                P::StringArray => ColumnType::Json,
                P::Date => ColumnType::Date,
                P::Timestamp => ColumnType::DateTime,
                P::String => ColumnType::Text,
            };
            Some(Column { name: q.name.to_owned(), kind })
        })
        .collect()
}

/// The names the columns are written under in a format whose own columns are `taken` (`id`, `fid`, `geom`):
/// a column whose name matches one of them or an earlier column's, ignoring case as SQLite and most GIS tools
/// do, gets the next free suffix (`id_1`, `Id_1`). The values are the same.
pub fn labels(columns: &[Column], taken: &[&str]) -> Vec<String> {
    let mut taken: Vec<String> = taken.iter().map(|t| t.to_lowercase()).collect();
    columns
        .iter()
        .map(|c| {
            let mut name = c.name.clone();
            let mut n = 0;
            while taken.contains(&name.to_lowercase()) {
                n += 1;
                name = format!("{}_{n}", c.name);
            }
            taken.push(name.to_lowercase());
            name
        })
        .collect()
}

/// Whether a value is no whole number past 32 bits, which GDAL's 32-bit integer fields (KML's `int`, an
/// OAPIF `integer`) would clamp to ±2 147 483 647.
pub fn fits_i32(v: &Value) -> bool {
    v.as_i64().map_or(!v.is_u64(), |i| i32::try_from(i).is_ok())
}

/// Whether text is a calendar day as JSON carries one (`2024-06-30`): a text column whose values all are is a date
/// to a GIS client (the feature schema's `format: date`, the CSV's `.csvt`).
pub fn is_day(s: &str) -> bool {
    s.len() == 10 && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// A value as text for CSV and DBF: strings as they are, numbers and booleans printed, arrays of scalars
/// joined with "; ", anything else as JSON; null as an empty string.
pub fn as_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.iter().all(|i| !i.is_array() && !i.is_object()) => {
            items.iter().map(|i| as_text(Some(i))).collect::<Vec<_>>().join("; ")
        }
        Some(other) => other.to_string(),
    }
}

/// Text for a spreadsheet cell: a text value that Excel or WPS would run as a formula (starting with `=`, `+`,
/// `-`, `@`, a tab or a carriage return) gets a leading `'`, which spreadsheets show as plain text (OWASP's
/// advice against CSV injection). Numbers are left alone, so `-5` stays a number, and so is a lone sign
/// (a target's comparator `=`), which no spreadsheet runs and GIS tools would read back with the `'`.
pub fn spreadsheet_text(v: Option<&Value>) -> String {
    let text = as_text(v);
    let is_number = matches!(v, Some(Value::Number(_)));
    let lone_sign = matches!(text.as_str(), "=" | "+" | "-" | "@");
    if !is_number && !lone_sign && text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text
    }
}

/// A value as JSON text (for Json columns in binary formats), or `None` for null.
pub fn as_json(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}
