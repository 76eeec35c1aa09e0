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

/// The columns of a set of features: every key in first-seen order (the `id` property, which duplicates the
/// feature id, is left out), typed by what its values hold; a column only ever null is text.
pub fn columns_of<'a>(features: impl Iterator<Item = &'a Feature>) -> Vec<Column> {
    let mut names: Vec<String> = Vec::new();
    let mut kinds: Vec<Option<ColumnType>> = Vec::new();
    for f in features {
        for (k, v) in &f.properties {
            if k == "id" {
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
/// advice against CSV injection). Numbers are left alone, so `-5` stays a number.
pub fn spreadsheet_text(v: Option<&Value>) -> String {
    let text = as_text(v);
    let is_number = matches!(v, Some(Value::Number(_)));
    if !is_number && text.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{text}") } else { text }
}

/// A value as JSON text (for Json columns in binary formats), or `None` for null.
pub fn as_json(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    }
}
