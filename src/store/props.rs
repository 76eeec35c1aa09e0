//! A feature's properties, held as compactly as their use allows.
//!
//! The plan's collections (a few hundred features, changed by writes and by the derived counts) keep theirs as
//! a JSON map. A planner's layer can hold a million features with the same fields. Its values are kept column
//! by column ([`Columns`]): each column's distinct values once, and for each feature only their positions
//! (four bytes a field). The values the spatial join adds are shared by every feature joined alike (all the
//! points of one county share one set). A million points then cost their distinct values and a few bytes each,
//! not a map (names, hash table, a 72-byte JSON value per field) per feature and a copy of their county's join.
//!
//! A line or polygon across several counties has measures of its own (the length inside each), so its joined
//! values are not shared whole: it keeps the numbers its join found and the values they share with every feature
//! joined to the same places, and the rest are made when it is read ([`Deferred`]).
//!
//! Reading is the same for all: [`Properties::get`], [`Properties::iter`] in order (the feature's own values,
//! then the joined ones), and serialising as a JSON object.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// A feature's properties: its own, then those a join added.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    own: Own,
    /// Values a spatial join added; the feature's own values win.
    joined: Option<Joined>,
}

/// Values a spatial join added to a feature.
#[derive(Debug, Clone)]
enum Joined {
    /// Shared by every feature joined alike (the points of one county, say).
    Shared(Arc<Map<String, Value>>),
    /// Made when asked from the numbers the join found.
    Deferred(Box<Deferred>),
}

/// Makes the joined values of features that keep only the numbers their join found (see [`Deferred`]).
pub trait MakeJoined: Send + Sync + std::fmt::Debug {
    /// Every value the join adds, in the order served, from the places it found (each by number, with the
    /// measure inside it) and the measure in all.
    fn make(&self, places: &[(u32, f64)], total: f64) -> Map<String, Value>;

    /// The names of the values that depend on the measures, as [`MakeJoined::make`] orders them: after every
    /// other, which depends only on the places.
    fn measured(&self) -> &[&'static str];
}

/// The joined values of a feature whose measures are its own (a line across a county border, say): the values
/// it shares with every feature joined to the same places, and the numbers the rest are made from when read.
/// Tens of bytes a feature instead of a map of some hundred values.
#[derive(Debug, Clone)]
pub struct Deferred {
    maker: Arc<dyn MakeJoined>,
    /// The values that depend only on the places, shared.
    common: Arc<Map<String, Value>>,
    places: Box<[(u32, f64)]>,
    total: f64,
    /// The measured values, once [`Properties::get`] asked for one (it answers with a reference, so they are
    /// kept). Reading in order ([`Properties::iter`], serialising) makes them for the moment and lets them go.
    made: OnceLock<Box<Map<String, Value>>>,
}

impl Deferred {
    /// The values of a feature whose join found `places` (number, measure inside) of `total`, made by `maker`;
    /// `common` is what [`MakeJoined::make`] gives for these places apart from the measured values.
    pub fn new(
        maker: Arc<dyn MakeJoined>,
        common: Arc<Map<String, Value>>,
        places: Vec<(u32, f64)>,
        total: f64,
    ) -> Self {
        Self { maker, common, places: places.into_boxed_slice(), total, made: OnceLock::new() }
    }

    /// Whether `name` is one of the values.
    fn contains(&self, name: &str) -> bool {
        self.common.contains_key(name) || self.maker.measured().contains(&name)
    }

    /// The value of `name`; a measured one is made (and kept) the first time.
    fn get(&self, name: &str) -> Option<&Value> {
        if let Some(v) = self.common.get(name) {
            return Some(v);
        }
        if !self.maker.measured().contains(&name) {
            return None;
        }
        self.made
            .get_or_init(|| {
                Box::new(
                    self.measured(|_| true)
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.into_owned()))
                        .collect(),
                )
            })
            .get(name)
    }

    /// The measured values whose names `keep` keeps, in order: those kept earlier, or made now (made only
    /// when one is wanted).
    fn measured(&self, keep: impl Fn(&str) -> bool) -> Vec<(&str, Cow<'_, Value>)> {
        let names: Vec<&'static str> = self.maker.measured().iter().copied().filter(|k| keep(k)).collect();
        if names.is_empty() {
            return Vec::new();
        }
        if let Some(made) = self.made.get() {
            return names.into_iter().filter_map(|k| Some((k, Cow::Borrowed(made.get(k)?)))).collect();
        }
        let mut all = self.maker.make(&self.places, self.total);
        names.into_iter().filter_map(|k| Some((k, Cow::Owned(all.remove(k)?)))).collect()
    }

    /// Every value as a map of its own.
    fn to_map(&self) -> Map<String, Value> {
        let mut all = (*self.common).clone();
        all.extend(self.measured(|_| true).into_iter().map(|(k, v)| (k.to_owned(), v.into_owned())));
        all
    }
}

#[derive(Debug, Clone)]
enum Own {
    /// A map of its own (boxed: the row form is the one kept by the million).
    Map(Box<Map<String, Value>>),
    /// One value of each of a layer's columns, by position in the column's distinct values.
    Row { columns: Arc<Columns>, codes: Box<[u32]> },
}

/// A layer's values column by column: the names its features share, and each column's distinct values.
#[derive(Debug, Default)]
pub struct Columns {
    names: Box<[&'static str]>,
    distinct: Box<[Box<[Value]>]>,
}

/// A hash of a JSON value that equal values share (JSON has no NaN, so equality is an equivalence; equal
/// numbers are the same kind of number with the same value). Objects are hashed in their members' order, so
/// two with the same members in another order are kept apart and each is served in its own order.
fn hash_of(v: &Value) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mix = |tag: u64, x: u64| (x ^ tag.wrapping_mul(K)).wrapping_mul(K).rotate_left(29);
    match v {
        Value::Null => mix(1, 0),
        Value::Bool(b) => mix(2, u64::from(*b)),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => mix(3, u),
            (None, Some(i)) => mix(4, i as u64),
            (None, None) => mix(5, n.as_f64().unwrap_or_default().to_bits()),
        },
        Value::String(s) => hash_str(s),
        Value::Array(a) => a.iter().fold(mix(7, a.len() as u64), |h, v| mix(h, hash_of(v))),
        Value::Object(m) => m.iter().fold(mix(8, m.len() as u64), |h, (k, v)| {
            mix(mix(h, xxhash_rust::xxh3::xxh3_64(k.as_bytes())), hash_of(v))
        }),
    }
}

/// [`hash_of`] a JSON string.
fn hash_str(s: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(s.as_bytes(), 6)
}

/// One column being read: its distinct values, and where each is by hash (kept with it, so growing the table
/// does not hash again).
#[derive(Default)]
struct Dictionary {
    values: Vec<Value>,
    index: hashbrown::HashTable<(u64, u32)>,
    /// The last JSON texts read and their positions (JSON columns repeat their arrays; parsing each is costly).
    recent_json: Vec<(String, u32)>,
}

impl Dictionary {
    fn find(&self, h: u64, eq: impl Fn(&Value) -> bool) -> Option<u32> {
        self.index.find(h, |&(hh, i)| hh == h && eq(&self.values[i as usize])).map(|&(_, i)| i)
    }

    fn add(&mut self, h: u64, v: Value) -> u32 {
        let i = self.values.len() as u32;
        self.values.push(v);
        self.index.insert_unique(h, (h, i), |&(hh, _)| hh);
        i
    }

    /// The position of `v` among the distinct values, added when new.
    fn code(&mut self, v: Value) -> u32 {
        let h = hash_of(&v);
        self.find(h, |x| *x == v).unwrap_or_else(|| self.add(h, v))
    }

    /// [`Dictionary::code`] of a string, copied only when new.
    fn code_str(&mut self, s: &str) -> u32 {
        let h = hash_str(s);
        self.find(h, |x| x.as_str() == Some(s)).unwrap_or_else(|| self.add(h, Value::String(s.to_owned())))
    }

    /// [`Dictionary::code`] of JSON text, parsed only when it is not one of the last few read (text that is not
    /// JSON is kept as a string).
    fn code_json(&mut self, text: &str) -> u32 {
        if let Some(&(_, code)) = self.recent_json.iter().find(|(t, _)| t == text) {
            return code;
        }
        let code = match serde_json::from_str::<Value>(text) {
            Ok(v) => self.code(v),
            Err(_) => self.code_str(text),
        };
        if self.recent_json.len() == 8 {
            self.recent_json.remove(0);
        }
        self.recent_json.push((text.to_owned(), code));
        code
    }
}

/// Builds a layer's [`Columns`] row by row, as its file is read: each value is looked up among its column's
/// distinct values as it comes, so the rows are never held as JSON values.
pub struct ColumnsBuilder {
    names: Vec<&'static str>,
    columns: Vec<Dictionary>,
}

impl ColumnsBuilder {
    /// Columns of these names, in order.
    pub fn new(names: Vec<&'static str>) -> Self {
        let columns = names.iter().map(|_| Dictionary::default()).collect();
        Self { names, columns }
    }

    /// Adds a row (values in the order of the names; missing ones are null, extra ones dropped): the position
    /// of each of its values.
    pub fn push(&mut self, values: impl IntoIterator<Item = Value>) -> Box<[u32]> {
        let mut values = values.into_iter();
        self.columns.iter_mut().map(|c| c.code(values.next().unwrap_or(Value::Null))).collect()
    }

    /// The position of value `v` in column `i` (added when new); for readers that fill a row themselves.
    pub fn code(&mut self, i: usize, v: Value) -> u32 {
        self.columns.get_mut(i).map_or(0, |c| c.code(v))
    }

    /// [`ColumnsBuilder::code`] of a string, copied only when it is new to the column.
    pub fn code_str(&mut self, i: usize, s: &str) -> u32 {
        self.columns.get_mut(i).map_or(0, |c| c.code_str(s))
    }

    /// [`ColumnsBuilder::code`] of JSON text (a string when it is not JSON), parsed only when new.
    pub fn code_json(&mut self, i: usize, text: &str) -> u32 {
        self.columns.get_mut(i).map_or(0, |c| c.code_json(text))
    }

    /// Every distinct value of column `i` (to check what a column holds).
    pub fn distinct(&self, i: usize) -> &[Value] {
        self.columns.get(i).map_or(&[], |c| &c.values)
    }

    /// Changes every distinct value of column `i` (rows keep their positions; two values may become equal).
    pub fn map_column(&mut self, i: usize, f: impl Fn(&mut Value)) {
        if let Some(c) = self.columns.get_mut(i) {
            c.values.iter_mut().for_each(f);
        }
    }

    /// Takes in the distinct values of `others` in order (each built over the same names, e.g. by another
    /// thread on another part of the file), a column per thread: for each column and each of `others`, the
    /// position each of its values has here.
    pub fn merge(&mut self, others: Vec<Self>) -> Vec<Vec<Vec<u32>>> {
        use rayon::prelude::*;
        let mut theirs: Vec<Vec<Dictionary>> = self.columns.iter().map(|_| Vec::new()).collect();
        for other in others {
            for (parts, column) in theirs.iter_mut().zip(other.columns) {
                parts.push(column);
            }
        }
        self.columns
            .par_iter_mut()
            .zip(theirs)
            .map(|(mine, parts)| {
                parts
                    .into_iter()
                    .map(|part| part.values.into_iter().map(|v| mine.code(v)).collect())
                    .collect()
            })
            .collect()
    }

    /// The columns.
    pub fn finish(self) -> Arc<Columns> {
        Arc::new(Columns {
            names: self.names.into_boxed_slice(),
            distinct: self.columns.into_iter().map(|c| c.values.into_boxed_slice()).collect(),
        })
    }
}

impl Columns {
    /// The column names, in order.
    pub fn names(&self) -> &[&'static str] {
        &self.names
    }

    /// A row's values as a map of name to value.
    pub fn map_of(&self, codes: &[u32]) -> Map<String, Value> {
        self.names
            .iter()
            .enumerate()
            .map(|(i, n)| ((*n).to_owned(), self.value(i, codes[i]).clone()))
            .collect()
    }

    /// The value of column `i` at position `code`.
    fn value(&self, i: usize, code: u32) -> &Value {
        static NULL: Value = Value::Null;
        self.distinct.get(i).and_then(|d| d.get(code as usize)).unwrap_or(&NULL)
    }

    /// The position of the column named `name`.
    fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| *n == name)
    }
}

impl Default for Own {
    fn default() -> Self {
        Self::Map(Box::default())
    }
}

impl From<Map<String, Value>> for Properties {
    fn from(map: Map<String, Value>) -> Self {
        Self { own: Own::Map(Box::new(map)), joined: None }
    }
}

impl Properties {
    /// No properties.
    pub fn new() -> Self {
        Self::default()
    }

    /// One row of a layer's `columns`: the position of each of its values (see [`ColumnsBuilder::push`]).
    pub fn row(columns: Arc<Columns>, codes: Box<[u32]>) -> Self {
        Self { own: Own::Row { columns, codes }, joined: None }
    }

    /// These properties with `joined` after them (shared with other features).
    #[must_use]
    pub fn with_joined(mut self, joined: Arc<Map<String, Value>>) -> Self {
        self.joined = Some(Joined::Shared(joined));
        self
    }

    /// These properties with `joined` after them, made when read.
    #[must_use]
    pub fn with_deferred(mut self, joined: Deferred) -> Self {
        self.joined = Some(Joined::Deferred(Box::new(joined)));
        self
    }

    /// The value of `name` (a joined value that is made when read is kept once asked for: see [`Deferred`]).
    pub fn get(&self, name: &str) -> Option<&Value> {
        let own = match &self.own {
            Own::Map(m) => m.get(name),
            Own::Row { columns, codes } => columns.position(name).map(|i| columns.value(i, codes[i])),
        };
        own.or_else(|| match self.joined.as_ref()? {
            Joined::Shared(m) => m.get(name),
            Joined::Deferred(d) => d.get(name),
        })
    }

    /// The values of `names`, in that order, as [`Properties::get`] finds them, except that joined values made
    /// when read are made once for them all and not kept: for writing a row of every feature (an export).
    pub fn values_of<'a, 'n>(
        &'a self,
        names: impl IntoIterator<Item = &'n str>,
    ) -> Vec<Option<Cow<'a, Value>>> {
        let mut made: Option<Map<String, Value>> = None;
        names
            .into_iter()
            .map(|name| {
                let found = match &self.joined {
                    // A measured value (never among the common ones) not kept yet.
                    Some(Joined::Deferred(d))
                        if !self.own_has(name)
                            && d.made.get().is_none()
                            && d.maker.measured().contains(&name) =>
                    {
                        let made = made.get_or_insert_with(|| d.maker.make(&d.places, d.total));
                        return made.get(name).cloned().map(Cow::Owned);
                    }
                    _ => self.get(name),
                };
                found.map(Cow::Borrowed)
            })
            .collect()
    }

    /// Whether a joined value made when read has been kept (see [`Deferred`]).
    #[cfg(test)]
    pub(crate) fn keeps_made(&self) -> bool {
        matches!(&self.joined, Some(Joined::Deferred(d)) if d.made.get().is_some())
    }

    /// The value of `name`, to change in place: a row becomes a map of its own first, and a joined value the
    /// feature's own copy of the set.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        if self.own_has(name) {
            return self.own_map().get_mut(name);
        }
        if let Some(Joined::Deferred(d)) = &self.joined {
            self.joined = Some(Joined::Shared(Arc::new(d.to_map())));
        }
        match self.joined.as_mut()? {
            Joined::Shared(m) => Arc::make_mut(m).get_mut(name),
            Joined::Deferred(_) => unreachable!("made a map above"),
        }
    }

    /// The feature's own values as a map of its own (a row is copied out of its columns).
    fn own_map(&mut self) -> &mut Map<String, Value> {
        if let Own::Row { columns, codes } = &self.own {
            self.own = Own::Map(Box::new(columns.map_of(codes)));
        }
        match &mut self.own {
            Own::Map(m) => m,
            Own::Row { .. } => unreachable!("made a map above"),
        }
    }

    fn own_has(&self, name: &str) -> bool {
        match &self.own {
            Own::Map(m) => m.contains_key(name),
            Own::Row { columns, .. } => columns.position(name).is_some(),
        }
    }

    /// Whether there is a value named `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.own_has(name)
            || self.joined.as_ref().is_some_and(|j| match j {
                Joined::Shared(m) => m.contains_key(name),
                Joined::Deferred(d) => d.contains(name),
            })
    }

    /// Sets `name` to `value` among the feature's own values (a row becomes a map of its own: its columns are
    /// shared); the value it had, if any.
    pub fn insert(&mut self, name: String, value: Value) -> Option<Value> {
        self.own_map().insert(name, value)
    }

    /// Sets every pair (see [`Properties::insert`]).
    pub fn extend(&mut self, pairs: impl IntoIterator<Item = (String, Value)>) {
        for (k, v) in pairs {
            self.insert(k, v);
        }
    }

    /// Every name and value in order: the feature's own, then the joined ones it does not have itself. A
    /// value made when read comes as its own copy.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Cow<'_, Value>)> {
        self.select(|_| true)
    }

    /// The names and values [`Properties::iter`] gives whose names `keep` keeps, asking only for those: a
    /// joined value made when read is made only when kept.
    pub fn select<'a>(
        &'a self,
        keep: impl Fn(&str) -> bool + Copy + 'a,
    ) -> impl Iterator<Item = (&'a str, Cow<'a, Value>)> + 'a {
        let wanted = move |k: &str| keep(k) && !self.own_has(k);
        let borrowed = |(k, v): (&'a String, &'a Value)| (k.as_str(), Cow::Borrowed(v));
        let joined: Box<dyn Iterator<Item = (&'a str, Cow<'a, Value>)> + 'a> = match &self.joined {
            Some(Joined::Shared(m)) => Box::new(m.iter().filter(move |(k, _)| wanted(k)).map(borrowed)),
            Some(Joined::Deferred(d)) => Box::new(
                d.common
                    .iter()
                    .filter(move |(k, _)| wanted(k))
                    .map(borrowed)
                    .chain(std::iter::once_with(move || d.measured(wanted)).flatten()),
            ),
            None => Box::new(std::iter::empty()),
        };
        self.own_pairs().filter(move |(k, _)| keep(k)).map(|(k, v)| (k, Cow::Borrowed(v))).chain(joined)
    }

    /// The feature's own names and values.
    fn own_pairs(&self) -> Box<dyn Iterator<Item = (&str, &Value)> + '_> {
        match &self.own {
            Own::Map(m) => Box::new(m.iter().map(|(k, v)| (k.as_str(), v))),
            Own::Row { columns, codes } => {
                Box::new(columns.names.iter().enumerate().map(|(i, n)| (*n, columns.value(i, codes[i]))))
            }
        }
    }

    /// The names of the joined values, those the feature has itself included, without making any.
    fn joined_names(&self) -> Box<dyn Iterator<Item = &str> + '_> {
        match &self.joined {
            None => Box::new(std::iter::empty()),
            Some(Joined::Shared(m)) => Box::new(m.keys().map(String::as_str)),
            Some(Joined::Deferred(d)) => {
                Box::new(d.common.keys().map(String::as_str).chain(d.maker.measured().iter().copied()))
            }
        }
    }

    /// Every name, in order (nothing is made to list them).
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.own_pairs().map(|(k, _)| k).chain(self.joined_names().filter(|k| !self.own_has(k)))
    }

    /// How many values there are.
    pub fn len(&self) -> usize {
        self.keys().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys().next().is_none()
    }

    /// The properties as one JSON map of their own.
    pub fn to_map(&self) -> Map<String, Value> {
        self.iter().map(|(k, v)| (k.to_owned(), v.into_owned())).collect()
    }

    /// What makes two features' names the same, when they share them: a layer's row gives its columns and its
    /// joined set (by address); `None` for a map of its own.
    pub fn names_key(&self) -> Option<(usize, usize)> {
        match &self.own {
            Own::Row { columns, .. } => Some((
                Arc::as_ptr(columns) as usize,
                self.joined.as_ref().map_or(0, |j| match j {
                    Joined::Shared(m) => Arc::as_ptr(m) as usize,
                    // The measured names are the maker's, one per common set.
                    Joined::Deferred(d) => Arc::as_ptr(&d.common) as usize,
                }),
            )),
            Own::Map(_) => None,
        }
    }

    /// Whether these are a row of shared names (a layer's feature): its JSON text is made when asked, not kept.
    pub fn is_row(&self) -> bool {
        matches!(self.own, Own::Row { .. })
    }
}

/// Named JSON values to read: a feature's [`Properties`], or a record's map before it is a feature.
pub trait Lookup {
    /// The value named `name`.
    fn value(&self, name: &str) -> Option<&Value>;

    /// The value named `name` if it is a string.
    fn text(&self, name: &str) -> Option<&str> {
        self.value(name).and_then(Value::as_str)
    }
}

impl Lookup for Properties {
    fn value(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

impl Lookup for Map<String, Value> {
    fn value(&self, name: &str) -> Option<&Value> {
        self.get(name)
    }
}

impl std::ops::Index<&str> for Properties {
    type Output = Value;

    /// The value of a name, null when there is none (as indexing a JSON value).
    fn index(&self, name: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(name).unwrap_or(&NULL)
    }
}

impl<'a> IntoIterator for &'a Properties {
    type Item = (&'a str, Cow<'a, Value>);
    type IntoIter = Box<dyn Iterator<Item = (&'a str, Cow<'a, Value>)> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, &*v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn joined() -> Arc<Map<String, Value>> {
        Arc::new(json!({"county_adcodes": ["210102"], "name": "shadowed"}).as_object().cloned().unwrap())
    }

    fn encode(rows: Vec<Vec<Value>>) -> (Arc<Columns>, Vec<Box<[u32]>>) {
        let mut b = ColumnsBuilder::new(vec!["name", "height"]);
        let codes = rows.into_iter().map(|r| b.push(r)).collect();
        (b.finish(), codes)
    }

    fn rows(rows: Vec<Vec<Value>>) -> Vec<Properties> {
        let (columns, codes) = encode(rows);
        codes.into_iter().map(|c| Properties::row(columns.clone(), c)).collect()
    }

    #[test]
    fn a_row_reads_like_a_map_and_its_own_values_come_before_the_joined_ones() {
        let p = rows(vec![vec![json!("a"), json!(3)]]).remove(0).with_joined(joined());
        assert_eq!(p.get("name"), Some(&json!("a")), "the feature's own value wins");
        assert_eq!(p.get("county_adcodes"), Some(&json!(["210102"])));
        assert_eq!(p.get("nothing"), None);
        assert_eq!(p.keys().collect::<Vec<_>>(), ["name", "height", "county_adcodes"]);
        assert_eq!(p.len(), 3);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"name":"a","height":3,"county_adcodes":["210102"]}"#
        );
        assert_eq!(
            Value::Object(p.to_map()),
            json!({"name": "a", "height": 3, "county_adcodes": ["210102"]})
        );
    }

    #[test]
    fn equal_values_are_kept_once_and_missing_ones_are_null() {
        let data = vec![
            vec![json!("x"), json!(1)],
            vec![json!("y"), json!(1.5)],
            vec![json!("x")],
            vec![json!("y"), json!(1), json!("extra")],
            vec![json!(["a", {"b": null}]), json!(1)],
            vec![json!(["a", {"b": null}]), json!(1.0)],
        ];
        let (columns, codes) = encode(data.clone());
        assert_eq!(columns.distinct[0].len(), 3, "x, y and the array: {:?}", columns.distinct[0]);
        assert_eq!(columns.distinct[1].len(), 4, "1, 1.5, null and 1.0 (another number's text)");
        for (row, c) in data.iter().zip(codes) {
            let p = Properties::row(columns.clone(), c);
            assert_eq!(p.get("name"), row.first());
            assert_eq!(p.get("height"), Some(row.get(1).unwrap_or(&Value::Null)));
            assert_eq!(p.len(), 2);
        }
    }

    #[test]
    fn two_builders_merge_into_the_columns_one_would_have_made() {
        let data = vec![
            vec![json!("x"), json!(1)],
            vec![json!("y"), json!(2)],
            vec![json!("y"), json!(1)],
            vec![json!("z"), json!(3)],
        ];
        let (one, one_codes) = encode(data.clone());
        let (mut a, mut b) =
            (ColumnsBuilder::new(vec!["name", "height"]), ColumnsBuilder::new(vec!["name", "height"]));
        let mut codes: Vec<Box<[u32]>> = data[..2].iter().map(|r| a.push(r.clone())).collect();
        let later: Vec<Box<[u32]>> = data[2..].iter().map(|r| b.push(r.clone())).collect();
        let remap = a.merge(vec![b]);
        codes.extend(
            later.into_iter().map(|c| c.iter().enumerate().map(|(j, &k)| remap[j][0][k as usize]).collect()),
        );
        let merged = a.finish();
        assert_eq!(merged.distinct, one.distinct, "the same distinct values in the same order");
        assert_eq!(codes, one_codes);
    }

    #[test]
    fn changing_a_row_makes_it_a_map_of_its_own_and_leaves_the_others() {
        let mut all = rows(vec![vec![json!("a"), json!(1)], vec![json!("a"), json!(1)]]);
        let mut p = all.remove(0);
        assert_eq!(p.insert("height".into(), json!(2)), Some(json!(1)));
        assert!(!p.is_row());
        p.insert("c".into(), json!(3));
        assert_eq!(serde_json::to_string(&p).unwrap(), r#"{"name":"a","height":2,"c":3}"#);
        *all[0].get_mut("name").unwrap() = json!("b");
        assert_eq!(all[0].get("name"), Some(&json!("b")));
        assert_eq!(rows(vec![vec![json!("a"), json!(1)]])[0].get("name"), Some(&json!("a")));
    }

    #[test]
    fn changing_a_joined_value_leaves_the_shared_set_alone() {
        let shared = joined();
        let mut p = Properties::new().with_joined(shared.clone());
        *p.get_mut("county_adcodes").unwrap() = json!([]);
        assert_eq!(p.get("county_adcodes"), Some(&json!([])));
        assert_eq!(shared["county_adcodes"], json!(["210102"]));
    }
}
