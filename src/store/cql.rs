//! CQL2 filters (OGC API – Features Part 3): parsed by the `cql2` crate (text and JSON), checked against a
//! collection's queryables, compiled into a small typed tree and evaluated over features with SQL's
//! three-valued logic.
//!
//! Checking happens before anything is evaluated, so a filter naming an unknown property, comparing a string
//! property with a number, or calling an unknown function is refused with a message saying which; nothing
//! silently matches everything. Spatial predicates use exact planar relations on longitude/latitude
//! (`S_INTERSECTS`, `S_WITHIN`, …) and geodesic metres on WGS84 for `S_DWITHIN`; a top-level `S_INTERSECTS`
//! or `S_DWITHIN` with a literal geometry narrows candidates through the R-tree first. Dates and timestamps
//! (the date fields of planners' layers) compare as instants, and the temporal functions are Allen's interval
//! relations with open ends (`'..'`).

use cql2::Expr;
use geo::{Geometry, Intersects, Rect, Relate};
use serde_json::Value;

use super::collection::{Collection, Feature, PropertyType};
use crate::geom::crs::Crs;
use crate::geom::{self, geodesic};

/// Why a filter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CqlError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, CqlError> {
    Err(CqlError(msg.into()))
}

/// The filter languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterLang {
    /// `cql2-text`.
    Text,
    /// `cql2-json`.
    Json,
}

impl FilterLang {
    /// The `filter-lang` parameter (cql2-text when absent); the error says what it takes. `cql-text` is the
    /// drafts' name, which GDAL 3.6 asks by (and finds in the contract's list).
    pub fn from_param(raw: Option<&str>) -> Result<Self, String> {
        match raw {
            None | Some("cql2-text" | "cql-text") => Ok(Self::Text),
            Some("cql2-json") => Ok(Self::Json),
            Some(other) => Err(format!("'{other}' is not cql2-text or cql2-json")),
        }
    }
}

/// A value-producing expression.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Prop(String, PropertyType),
    Id,
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    Arith(String, Box<Scalar>, Box<Scalar>),
    CaseI(Box<Scalar>),
    /// `DATE('2022-04-16')`, as milliseconds since 1970 at the day's start (UTC).
    Date(f64),
    /// `TIMESTAMP('2022-04-16T10:13:19Z')`, as milliseconds since 1970.
    Timestamp(f64),
}

/// One end of a temporal argument: a value, or open (`'..'`).
#[derive(Debug, Clone, PartialEq)]
enum Bound {
    Open,
    At(Scalar),
}

/// A temporal argument: an instant (both ends the same) or an interval.
#[derive(Debug, Clone, PartialEq)]
struct Period {
    start: Bound,
    end: Bound,
}

/// Milliseconds since 1970 of a day (`YYYY-MM-DD`, at its start, UTC).
fn date_ms(s: &str) -> Option<f64> {
    let d = chrono::NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()?;
    #[expect(clippy::cast_precision_loss, reason = "milliseconds since 1970 fit a double exactly")]
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis() as f64)
}

/// Milliseconds since 1970 of an RFC 3339 instant; one without an offset (as GeoPackage writers often store
/// them) is read as UTC, and a bare day as its start.
pub(crate) fn timestamp_ms(s: &str) -> Option<f64> {
    let ms = chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_millis())
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .or_else(|_| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
                .map(|t| t.and_utc().timestamp_millis())
        })
        .ok();
    #[expect(clippy::cast_precision_loss, reason = "milliseconds since 1970 fit a double exactly")]
    ms.map(|m| m as f64).or_else(|| if s.len() == 10 { date_ms(s) } else { None })
}

/// The kind of value a scalar has, for type checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Number,
    Boolean,
    Date,
    Timestamp,
    Null,
}

/// A geometry argument of a spatial predicate.
#[derive(Debug, Clone, PartialEq)]
enum GeomArg {
    Feature,
    Literal(Geometry<f64>),
}

/// An array argument of an array predicate.
#[derive(Debug, Clone, PartialEq)]
enum ArrArg {
    Prop(String),
    Literal(Vec<Scalar>),
}

/// A compiled predicate.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Cmp(String, Scalar, Scalar),
    Like(Scalar, LikePattern),
    Between(Scalar, Scalar, Scalar),
    In(Scalar, Vec<Scalar>),
    IsNull(Scalar),
    Spatial(String, GeomArg, GeomArg),
    /// Two geometries within a distance (metres); a literal's measures worked out once.
    DWithin(GeomArg, GeomArg, f64, Option<std::sync::Arc<geodesic::GeometryDistances>>),
    Array(String, ArrArg, ArrArg),
    Temporal(String, Period, Period),
    Const(bool),
}

/// A LIKE pattern compiled once into a regular expression. The `regex` crate matches in time linear in the
/// text (no backtracking), so no pattern of `%` and `_` can make one comparison slow.
#[derive(Debug, Clone)]
pub struct LikePattern {
    pattern: String,
    re: regex::Regex,
}

impl PartialEq for LikePattern {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

impl LikePattern {
    /// Compiles SQL LIKE: `%` any run, `_` one character, `\` escapes the next character.
    pub fn new(pattern: &str) -> Result<Self, CqlError> {
        let mut re = String::with_capacity(pattern.len() * 2 + 8);
        re.push_str("\\A(?s:");
        let mut chars = pattern.chars();
        let mut buf = [0u8; 4];
        while let Some(c) = chars.next() {
            match c {
                '%' => re.push_str(".*"),
                '_' => re.push('.'),
                '\\' => match chars.next() {
                    Some(lit) => re.push_str(&regex::escape(lit.encode_utf8(&mut buf))),
                    None => re.push_str("\\\\"),
                },
                c => re.push_str(&regex::escape(c.encode_utf8(&mut buf))),
            }
        }
        re.push_str(")\\z");
        let re = regex::RegexBuilder::new(&re)
            .size_limit(1 << 20)
            .dfa_size_limit(1 << 20)
            .build()
            .map_err(|e| CqlError(format!("LIKE pattern '{pattern}' is too complex: {e}")))?;
        Ok(Self { pattern: pattern.to_owned(), re })
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        self.re.is_match(text)
    }
}

/// Limits on a filter's size, checked before it is parsed, so no filter can exhaust a thread's stack or take
/// time out of proportion to its length. Stated in `--help` and `api/openapi.yaml`.
pub mod limits {
    /// Deepest nesting of parentheses and `NOT`s (cql2-text) or of operations (cql2-json).
    pub const MAX_DEPTH: usize = 64;
    /// Deepest nesting of JSON in a cql2-json filter: two levels per operation (its object and its `args`
    /// list), under `serde_json`'s own limit of 128 with room for a request body around the filter.
    pub const MAX_JSON_DEPTH: usize = 120;

    /// How deep `json` nests objects and arrays: a linear scan that skips strings, run before any parser so a
    /// too deep document is refused by this limit, not by a parser's recursion limit as "invalid JSON".
    pub fn json_depth(json: &[u8]) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0usize, false, false);
        for &b in json {
            if in_string {
                match (escaped, b) {
                    (true, _) => escaped = false,
                    (false, b'\\') => escaped = true,
                    (false, b'"') => in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }
    /// Most logical and arithmetic operators (`AND`, `OR`, `NOT`, `+`, …) in one filter.
    pub const MAX_OPERATORS: usize = 1_000;
    /// Most values in one `IN` list or array literal.
    pub const MAX_LIST: usize = 10_000;
    /// Most steps (pest rule calls) the cql2-text parser may take on one filter. The grammar backtracks, and on
    /// some malformed nestings exponentially (each level of parentheses before a syntax error doubled the
    /// work); this bounds every parse to a fraction of a second whatever the input, and is far above what any
    /// filter within the other limits needs (a 10 000-value `IN` list takes about a tenth of it).
    pub const MAX_PARSE_STEPS: usize = 4_000_000;
}

/// Checks a cql2-text filter against [`limits`] without parsing it: a linear scan that skips quoted strings
/// and counts nesting (each `(` and each `NOT` opens a level; a `)` closes the parentheses and the `NOT`s
/// opened inside them) and operators.
fn check_text_limits(raw: &str) -> Result<(), CqlError> {
    let bytes = raw.as_bytes();
    // The NOT levels open at each parenthesis depth.
    let mut nots: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut commas: Vec<usize> = vec![0];
    let mut i = 0;
    let too_deep = || {
        err(format!(
            "the filter is nested more than {} levels deep (parentheses and NOT), over the limit; simplify it",
            limits::MAX_DEPTH
        ))
    };
    // Signs in a row, whitespace between them allowed.
    let mut signs = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        if !matches!(b, b'+' | b'-') && !b.is_ascii_whitespace() {
            signs = 0;
        }
        match b {
            b'\'' | b'"' => {
                // A quoted string or identifier; '' inside a string is an escaped quote.
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == b && bytes.get(i + 1) == Some(&b) {
                        i += 2;
                    } else if bytes[i] == b {
                        break;
                    } else {
                        i += 1;
                    }
                }
            }
            b'(' | b'[' => {
                depth += 1;
                nots.push(0);
                commas.push(0);
                if depth + nots.iter().sum::<usize>() > limits::MAX_DEPTH {
                    return too_deep();
                }
            }
            b')' | b']' if nots.len() > 1 => {
                nots.pop();
                commas.pop();
                depth -= 1;
            }
            b',' => {
                if let Some(n) = commas.last_mut() {
                    *n += 1;
                    if *n >= limits::MAX_LIST {
                        return err(format!(
                            "a list in the filter has more than {} values, over the limit",
                            limits::MAX_LIST
                        ));
                    }
                }
            }
            // A run of signs (`- - + - … 1`) nests in the parser as deeply as parentheses do: 60 000 minus
            // signs in a posted body overflowed its stack. A run is held to the depth limit; a lone minus (a
            // negative number, `1e-5`) is not an operator to count.
            b'+' | b'-' => {
                signs += 1;
                if b == b'+' {
                    operators += 1;
                }
                if signs > limits::MAX_DEPTH {
                    return too_deep();
                }
            }
            b'*' | b'/' | b'%' | b'^' => operators += 1,
            b'0'..=b'9' => {
                i = check_number(raw, i)?;
                continue;
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &raw[start..i];
                if word.eq_ignore_ascii_case("not") {
                    operators += 1;
                    if let Some(n) = nots.last_mut() {
                        *n += 1;
                    }
                    if depth + nots.iter().sum::<usize>() > limits::MAX_DEPTH {
                        return too_deep();
                    }
                } else if word.eq_ignore_ascii_case("and") || word.eq_ignore_ascii_case("or") {
                    operators += 1;
                }
                if operators > limits::MAX_OPERATORS {
                    return err(format!(
                        "the filter has more than {} operators (AND, OR, NOT, arithmetic), over the limit; split it",
                        limits::MAX_OPERATORS
                    ));
                }
                continue;
            }
            _ => {}
        }
        if operators > limits::MAX_OPERATORS {
            return err(format!(
                "the filter has more than {} operators (AND, OR, NOT, arithmetic), over the limit; split it",
                limits::MAX_OPERATORS
            ));
        }
        i += 1;
    }
    Ok(())
}

/// Checks the number token at byte `at` of a filter (digits, then a fraction and an exponent if any) and returns
/// where it ends. CQL2 numbers are parsed as doubles: a whole number beyond 2^53 that a double does not hold
/// exactly would silently be compared as another one (9007199254740993 as 9007199254740992, in any notation:
/// `9007199254740993.0`, `9.007199254740993e15`), so it is refused. Whole numbers past 2^64 are left alone: no
/// integer property reaches them.
fn check_number(raw: &str, at: usize) -> Result<usize, CqlError> {
    let bytes = raw.as_bytes();
    let digits = |mut i: usize| {
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let whole_end = digits(at);
    let mut end = whole_end;
    let mut fraction = "";
    if bytes.get(end) == Some(&b'.') {
        end = digits(end + 1);
        fraction = &raw[whole_end + 1..end];
    }
    let mut exponent = 0i64;
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let start = end + 1;
        let mut e = start;
        if matches!(bytes.get(e), Some(b'+' | b'-')) {
            e += 1;
        }
        let digits_end = digits(e);
        if digits_end > e {
            exponent = raw[start..digits_end].parse::<i64>().unwrap_or(i64::MAX).clamp(-10_000, 10_000);
            end = digits_end;
        }
    }
    let token = &raw[at..end];
    // The value as a whole number: its digits (leading zeros dropped) and a power of ten, when it is whole.
    let all = format!("{}{fraction}", &raw[at..whole_end]);
    let all = all.trim_start_matches('0');
    let scale = exponent - fraction.len() as i64;
    let (kept, scale) = if scale >= 0 {
        (all, scale)
    } else {
        let cut = usize::try_from(-scale).unwrap_or(usize::MAX);
        let at_point = all.len().saturating_sub(cut);
        let (whole, fraction) = all.split_at(at_point);
        if !fraction.bytes().all(|b| b == b'0') {
            // Not a whole number. Past 2^53 every double is one, so it would be compared as a neighbour.
            let big =
                whole.len() <= 20 && whole.parse::<u128>().is_ok_and(|v| (1 << 53..1 << 64).contains(&v));
            if big {
                return err(format!(
                    "the number {token} has a fraction beyond 2^53 (9007199254740992), where every double is a \
                     whole number: it would be compared as {:.0}",
                    token.parse::<f64>().unwrap_or(f64::NAN)
                ));
            }
            return Ok(end);
        }
        (whole, 0)
    };
    // 2^64 has 20 digits: longer whole numbers are out of any integer property's reach.
    if kept.is_empty() || kept.len() as i64 + scale > 20 {
        return Ok(end);
    }
    let value = kept.parse::<u128>().unwrap_or(0) * 10u128.pow(u32::try_from(scale).unwrap_or(0));
    if value > 1 << 53 && value <= 1 << 64 && (value as f64) as u128 != value {
        return err(format!(
            "the number {token} is the whole number {value}, beyond 2^53 (9007199254740992), where a CQL2 number \
             (a double) is not exact: it would be compared as {:.0}. Compare such a value with the collection's \
             query parameter (?name={value}) instead",
            value as f64
        ));
    }
    Ok(end)
}

/// [`check_number`] for every number of a cql2-json filter (strings skipped).
fn check_json_numbers(raw: &str) -> Result<(), CqlError> {
    let bytes = raw.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'0'..=b'9' => i = check_number(raw, i)?,
            _ => i += 1,
        }
    }
    Ok(())
}

/// Checks a parsed expression against [`limits`] without recursion: nesting of operations (an AND or OR
/// directly inside the same operator does not count, as it is the same list), operators and list sizes.
fn check_expr_limits(expr: &Expr) -> Result<(), CqlError> {
    let mut stack: Vec<(&Expr, usize, Option<&str>)> = vec![(expr, 0, None)];
    let mut operators = 0usize;
    while let Some((e, depth, parent)) = stack.pop() {
        match e {
            Expr::Operation { op, args } => {
                let same = matches!(op.as_str(), "and" | "or") && parent == Some(op.as_str());
                let depth = if same { depth } else { depth + 1 };
                if depth > limits::MAX_DEPTH {
                    return err(format!(
                        "the filter is nested more than {} operations deep, over the limit; simplify it",
                        limits::MAX_DEPTH
                    ));
                }
                operators += 1;
                if operators > limits::MAX_OPERATORS * 10 {
                    return err(format!(
                        "the filter has more than {} operations, over the limit; split it",
                        limits::MAX_OPERATORS * 10
                    ));
                }
                stack.extend(args.iter().map(|a| (&**a, depth, Some(op.as_str()))));
            }
            Expr::Array(items) => {
                if items.len() > limits::MAX_LIST {
                    return err(format!(
                        "a list in the filter has {} values; the limit is {}",
                        items.len(),
                        limits::MAX_LIST
                    ));
                }
                stack.extend(items.iter().map(|a| (&**a, depth + 1, None)));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A checked, compiled CQL2 filter.
#[derive(Debug, Clone, PartialEq)]
pub struct CqlFilter {
    node: Node,
    /// A box (CRS84) every match must meet, when the filter's top level says so: lets the R-tree narrow
    /// the candidates.
    pub candidates_in: Option<Rect<f64>>,
    /// The filter as cql2-json, for echoing and cross-checks.
    pub json: Value,
}

/// Parses a filter in `lang`, with literal geometries in `crs`, and checks it against the collection.
pub fn parse(raw: &str, lang: FilterLang, crs: Crs, collection: &Collection) -> Result<CqlFilter, CqlError> {
    if lang == FilterLang::Text {
        check_text_limits(raw)?;
        // Process-wide in pest, captured by each parse: the same value every time.
        pest::set_call_limit(std::num::NonZeroUsize::new(limits::MAX_PARSE_STEPS));
    }
    let expr: Expr = match lang {
        FilterLang::Text => cql2::parse_text(raw)
            .map_err(|e| CqlError(format!("syntax error: {}", describe_text_error(&e))))?,
        FilterLang::Json => {
            let depth = limits::json_depth(raw.as_bytes());
            if depth > limits::MAX_JSON_DEPTH {
                return Err(CqlError(format!(
                    "the filter nests {depth} levels of JSON; the limit is {} (each operation takes two: its \
                     object and its args list)",
                    limits::MAX_JSON_DEPTH
                )));
            }
            let expr = cql2::parse_json(raw).map_err(|e| CqlError(format!("not valid cql2-json: {e}")))?;
            check_json_numbers(raw)?;
            expr
        }
    };
    from_expr(expr, crs, collection)
}

/// Checks and compiles an already parsed expression (e.g. from a POSTed JSON body).
pub fn from_expr(expr: Expr, crs: Crs, collection: &Collection) -> Result<CqlFilter, CqlError> {
    check_expr_limits(&expr)?;
    let json =
        expr.to_value().map_err(|e| CqlError(format!("cannot represent the filter as cql2-json: {e}")))?;
    let compiler = Compiler { collection, crs, positions: std::cell::Cell::new(0) };
    let node = compiler.node(expr)?;
    let candidates_in = hint(&node);
    Ok(CqlFilter { node, candidates_in, json })
}

/// The pest error of a cql2-text syntax error, with the line and column it points at.
fn describe_text_error(e: &cql2::Error) -> String {
    match e {
        cql2::Error::Pest(p) if p.variant.message().contains("limit reached") => format!(
            "the filter is too complex to parse (over the limit of {} parser steps); simplify it",
            limits::MAX_PARSE_STEPS
        ),
        cql2::Error::Pest(p) => {
            let (line, col) = match p.line_col {
                pest::error::LineColLocation::Pos(lc) | pest::error::LineColLocation::Span(lc, _) => lc,
            };
            format!("at line {line}, column {col} (position {}): {}", col, p.variant.message())
        }
        other => other.to_string(),
    }
}

struct Compiler<'a> {
    collection: &'a Collection,
    crs: Crs,
    /// Positions in the filter's geometry literals so far: a spatial test costs positions × the feature's.
    positions: std::cell::Cell<usize>,
}

/// Most positions in all of a filter's geometry literals together, as in a posted geometry.
pub const MAX_LITERAL_POSITIONS: usize = 20_000;

fn op_name(op: &str) -> String {
    op.to_ascii_lowercase()
}

impl Compiler<'_> {
    fn property(&self, name: &str) -> Result<Scalar, CqlError> {
        if name == "id" && self.collection.queryable("id").is_none() {
            return Ok(Scalar::Id);
        }
        match self.collection.queryable(name) {
            Some(q) if q.kind == PropertyType::Geometry => err(format!(
                "'{name}' is the geometry: it can only be used in spatial functions (S_INTERSECTS, …)"
            )),
            Some(q) => Ok(Scalar::Prop(name.to_owned(), q.kind)),
            None => {
                let names: Vec<&str> = self.collection.meta.queryables.iter().map(|q| q.name).collect();
                err(format!(
                    "unknown property '{name}'; the queryables of '{}' are: {}{}",
                    self.collection.id(),
                    names.join(", "),
                    if self.collection.is_spatial() { ", geometry" } else { "" }
                ))
            }
        }
    }

    fn scalar(&self, e: Expr) -> Result<Scalar, CqlError> {
        match e {
            Expr::Property { property } if property == "geometry" => {
                err("'geometry' can only be used in spatial functions (S_INTERSECTS, S_DWITHIN, …)")
            }
            Expr::Property { property } => self.property(&property),
            Expr::Literal(s) => Ok(Scalar::Str(s)),
            Expr::Float(f) => Ok(Scalar::Num(f)),
            Expr::Bool(b) => Ok(Scalar::Bool(b)),
            Expr::Null => Ok(Scalar::Null),
            Expr::Operation { op, args } => {
                let name = op_name(&op);
                match name.as_str() {
                    "+" | "-" | "*" | "/" | "%" | "^" | "div" => {
                        let mut it = args.into_iter().map(|a| self.scalar(*a));
                        let first = it.next().ok_or_else(|| CqlError(format!("{op} needs operands")))??;
                        let mut acc = first;
                        for next in it {
                            let rhs = next?;
                            for s in [&acc, &rhs] {
                                if !matches!(kind(s), Kind::Number | Kind::Null) {
                                    return err(format!(
                                        "wrong types: arithmetic '{op}' needs numbers, got {}",
                                        describe(s)
                                    ));
                                }
                            }
                            acc = Scalar::Arith(name.clone(), Box::new(acc), Box::new(rhs));
                        }
                        Ok(acc)
                    }
                    "casei" => {
                        let [a] = <[Box<Expr>; 1]>::try_from(args)
                            .map_err(|_| CqlError("CASEI takes one argument".into()))?;
                        let s = self.scalar(*a)?;
                        if !matches!(kind(&s), Kind::Text | Kind::Null) {
                            return err(format!("wrong types: CASEI needs a string, got {}", describe(&s)));
                        }
                        Ok(Scalar::CaseI(Box::new(s)))
                    }
                    "accenti" => {
                        err("ACCENTI is not supported by this server (its conformance class is not declared)")
                    }
                    other => err(format!("unknown function '{other}' where a value is expected")),
                }
            }
            Expr::Date { date } => match *date {
                Expr::Literal(t) => date_ms(&t)
                    .filter(|_| t.len() == 10)
                    .map(Scalar::Date)
                    .ok_or_else(|| CqlError(format!("DATE('{t}') is not a day (YYYY-MM-DD)"))),
                other => err(format!("DATE takes a string, got {}", short(&other))),
            },
            Expr::Timestamp { timestamp } => match *timestamp {
                Expr::Literal(t) => timestamp_ms(&t).map(Scalar::Timestamp).ok_or_else(|| {
                    CqlError(format!("TIMESTAMP('{t}') is not an RFC 3339 instant (2022-04-16T10:13:19Z)"))
                }),
                other => err(format!("TIMESTAMP takes a string, got {}", short(&other))),
            },
            Expr::Interval { .. } => {
                err("an INTERVAL is only allowed in the temporal functions (T_INTERSECTS, T_DURING, …)")
            }
            Expr::Array(_) => err("an array is only allowed in IN and the array functions (A_CONTAINS, …)"),
            Expr::BBox { .. } | Expr::Geometry(_) => err("a geometry is only allowed in spatial functions"),
        }
    }

    fn geometry(&self, e: Expr) -> Result<GeomArg, CqlError> {
        let g: Geometry<f64> = match e {
            Expr::Property { property } if property == "geometry" => {
                if !self.collection.is_spatial() {
                    return err(format!("collection '{}' has no geometries", self.collection.id()));
                }
                return Ok(GeomArg::Feature);
            }
            Expr::Property { property }
                if self.collection.queryable(&property).is_some_and(|q| q.kind == PropertyType::Geometry) =>
            {
                return Ok(GeomArg::Feature);
            }
            Expr::Property { property } => {
                return err(format!("'{property}' is not a geometry; use the property 'geometry'"));
            }
            Expr::Geometry(g) => {
                let (gj, text) = match g {
                    cql2::Geometry::GeoJSON(gj) => (gj, String::new()),
                    cql2::Geometry::Wkt(wkt) => {
                        // Through GeoJSON, which keeps every position as written, so an unclosed or degenerate
                        // ring is refused rather than silently closed.
                        use geozero::ToJson;
                        let unreadable = |e: &dyn std::fmt::Display| {
                            CqlError(format!("cannot read the geometry literal {wkt}: {e}"))
                        };
                        // CQL2's grammar: a position is x y and at most a z (`POINT(1 2 3 4)` is no point; the
                        // WKT reader drops the fourth number).
                        if widest_position(&wkt) > 3 {
                            return err(format!(
                                "cannot read the geometry literal {wkt}: a position has more than three numbers"
                            ));
                        }
                        let json = geozero::wkt::Wkt(wkt.as_str()).to_json().map_err(|e| unreadable(&e))?;
                        (json.parse::<geojson::Geometry>().map_err(|e| unreadable(&e))?, format!(" {wkt}"))
                    }
                };
                geom::geo_from_geojson(gj).map_err(|e| CqlError(format!("geometry literal{text}: {e}")))?
            }
            Expr::BBox { bbox } => {
                let n: Vec<f64> = bbox
                    .into_iter()
                    .map(|b| f64::try_from(*b))
                    .collect::<Result<_, _>>()
                    .map_err(|e| CqlError(e.to_string()))?;
                // The same rules as the `bbox` parameter: the lower corner first, heights dropped.
                let north_first = self.crs.north_first();
                let bbox = crate::domain::query::Bbox::from_numbers(&n, north_first).map_err(|e| {
                    let list: Vec<String> = n.iter().map(f64::to_string).collect();
                    CqlError(format!("BBOX({}) {e}", list.join(",")))
                })?;
                let (geo::Coord { x: a, y: b }, geo::Coord { x: c, y: d }) = (bbox.min, bbox.max);
                // The box's longitudes: the first axis, or the second in a latitude-first CRS.
                let (west, east) = if north_first { (b, d) } else { (a, c) };
                // A box from `w` to `e` in longitude, in the CRS's axis order.
                let rect = |w: f64, e: f64| {
                    if north_first {
                        Rect::new(geo::Coord { x: a, y: w }, geo::Coord { x: c, y: e })
                    } else {
                        Rect::new(geo::Coord { x: w, y: b }, geo::Coord { x: e, y: d })
                    }
                };
                if west > east && !self.crs.is_crs84_alike() {
                    // GCJ-02's and BD-09's offsets end at China's edge, and a projected CRS has no antimeridian:
                    // such a box is a mistake, not one across 180° (its two halves' corners were converted alone).
                    return err(format!(
                        "BBOX: its west edge {west} is east of its east edge {east}; only a box in longitude and \
                         latitude (CRS84, EPSG:4326) may cross the antimeridian, and in {} the lower corner comes \
                         first",
                        self.crs
                    ));
                }
                if west > east {
                    // Across the antimeridian (OGC API – Features: west edge east of the east edge): two boxes.
                    Geometry::GeometryCollection(geo::GeometryCollection(vec![
                        Geometry::Rect(rect(west, 180.0)),
                        Geometry::Rect(rect(-180.0, east)),
                    ]))
                } else if self.crs.is_crs84_alike() {
                    Geometry::Rect(rect(west, east))
                } else {
                    // In a projected CRS the box's edges are not parallels and meridians, and GCJ-02's and
                    // BD-09's offsets bend them too: the box goes to lon/lat as a densely sampled polygon (a Rect
                    // would keep only its two corners, and cut off what lies inside the box near the other two).
                    let ring =
                        geom::crs::box_ring(self.crs, geo::Coord { x: a, y: b }, geo::Coord { x: c, y: d });
                    Geometry::Polygon(geo::Polygon::new(geo::LineString(ring), vec![]))
                }
            }
            other => {
                return err(format!(
                    "expected a geometry (the property 'geometry' or a literal), got {}",
                    short(&other)
                ));
            }
        };
        let g = geom::geometry_to_crs84(&g, self.crs)
            .map_err(|e| CqlError(format!("filter-crs {}: {e}", self.crs)))?;
        crate::store::admin::check_lon_lat(&g).map_err(|e| CqlError(format!("geometry literal: {e}")))?;
        let total = self.positions.get() + geo::CoordsIter::coords_count(&g);
        self.positions.set(total);
        if total > MAX_LITERAL_POSITIONS {
            return err(format!(
                "the filter's geometry literals have {total} positions; the limit is {MAX_LITERAL_POSITIONS} \
                 (simplify them first)"
            ));
        }
        Ok(GeomArg::Literal(g))
    }

    fn array(&self, e: Expr) -> Result<ArrArg, CqlError> {
        match e {
            Expr::Property { property } => match self.collection.queryable(&property) {
                Some(q) if q.kind == PropertyType::StringArray => Ok(ArrArg::Prop(property)),
                Some(_) => err(format!("wrong types: '{property}' is not an array property")),
                None => self.property(&property).map(|_| unreachable!("unknown properties are refused")),
            },
            Expr::Array(items) => {
                Ok(ArrArg::Literal(items.into_iter().map(|i| self.scalar(*i)).collect::<Result<_, _>>()?))
            }
            other => err(format!("expected an array, got {}", short(&other))),
        }
    }

    /// One end of an interval: `'..'`, a date or timestamp string, `DATE(…)`/`TIMESTAMP(…)`, or a date or
    /// timestamp property.
    fn bound(&self, e: Expr) -> Result<Bound, CqlError> {
        let s = match e {
            Expr::Literal(t) if t == ".." => return Ok(Bound::Open),
            Expr::Literal(t) => {
                let v = if t.len() == 10 { date_ms(&t).map(Scalar::Date) } else { None };
                v.or_else(|| timestamp_ms(&t).map(Scalar::Timestamp)).ok_or_else(|| {
                    CqlError(format!("'{t}' in an INTERVAL is not a date, a timestamp or '..'"))
                })?
            }
            other => self.scalar(other)?,
        };
        if matches!(kind(&s), Kind::Date | Kind::Timestamp | Kind::Null) {
            Ok(Bound::At(s))
        } else {
            err(format!("wrong types: a temporal function needs dates or timestamps, got {}", describe(&s)))
        }
    }

    /// A temporal function's argument: an instant or an `INTERVAL(start, end)`.
    fn period(&self, e: Expr) -> Result<Period, CqlError> {
        match e {
            Expr::Interval { interval } => {
                let [a, b] = <[Box<Expr>; 2]>::try_from(interval)
                    .map_err(|_| CqlError("INTERVAL takes two ends: INTERVAL('2022-01-01', '..')".into()))?;
                Ok(Period { start: self.bound(*a)?, end: self.bound(*b)? })
            }
            Expr::Literal(t) => err(format!(
                "'{t}' is a string; write an instant as DATE('…') or TIMESTAMP('…') in a temporal function"
            )),
            other => {
                let b = self.bound(other)?;
                Ok(Period { start: b.clone(), end: b })
            }
        }
    }

    fn node(&self, e: Expr) -> Result<Node, CqlError> {
        let Expr::Operation { op, args } = e else {
            return match e {
                Expr::Bool(b) => Ok(Node::Const(b)),
                other => err(format!("a filter must be a predicate, not {}", short(&other))),
            };
        };
        let name = op_name(&op);
        let n = args.len();
        let arity = |want: usize| -> Result<(), CqlError> {
            if n == want { Ok(()) } else { err(format!("{op} takes {want} arguments, got {n}")) }
        };
        let mut args = args.into_iter().map(|a| *a);
        let mut next = || args.next().ok_or_else(|| CqlError(format!("{op}: missing argument")));
        match name.as_str() {
            "and" | "or" => {
                let parts: Vec<Node> =
                    (0..n).map(|_| next().and_then(|a| self.node(a))).collect::<Result<_, _>>()?;
                Ok(if name == "and" { Node::And(parts) } else { Node::Or(parts) })
            }
            "not" => {
                arity(1)?;
                Ok(Node::Not(Box::new(self.node(next()?)?)))
            }
            "=" | "<>" | "<" | "<=" | ">" | ">=" => {
                arity(2)?;
                let (a, b) = boolean_digits(self.scalar(next()?)?, self.scalar(next()?)?);
                check_comparable(&op, &a, &b)?;
                Ok(Node::Cmp(name, a, b))
            }
            "like" => {
                arity(2)?;
                let a = self.scalar(next()?)?;
                if !matches!(kind(&a), Kind::Text | Kind::Null) {
                    return err(format!(
                        "wrong types: LIKE needs a string on the left, got {}",
                        describe(&a)
                    ));
                }
                match self.scalar(next()?)? {
                    Scalar::Str(p) => Ok(Node::Like(a, LikePattern::new(&p)?)),
                    Scalar::CaseI(inner) => match *inner {
                        Scalar::Str(p) => {
                            Ok(Node::Like(Scalar::CaseI(Box::new(a)), LikePattern::new(&p.to_lowercase())?))
                        }
                        other => err(format!(
                            "wrong types: a LIKE pattern must be a string literal, got {}",
                            describe(&other)
                        )),
                    },
                    other => err(format!(
                        "wrong types: a LIKE pattern must be a string literal, got {}",
                        describe(&other)
                    )),
                }
            }
            "between" => {
                arity(3)?;
                let (a, lo, hi) = (self.scalar(next()?)?, self.scalar(next()?)?, self.scalar(next()?)?);
                for bound in [&lo, &hi] {
                    check_comparable(&op, &a, bound)?;
                }
                Ok(Node::Between(a, lo, hi))
            }
            "in" => {
                arity(2)?;
                let a = self.scalar(next()?)?;
                let Expr::Array(items) = next()? else { return err("IN needs a list: x IN ('a', 'b')") };
                let list: Vec<Scalar> =
                    items.into_iter().map(|i| self.scalar(*i)).collect::<Result<_, _>>()?;
                for item in &list {
                    check_comparable("IN", &a, item)?;
                }
                Ok(Node::In(a, list))
            }
            "isnull" => {
                arity(1)?;
                Ok(Node::IsNull(self.scalar(next()?)?))
            }
            "s_intersects" | "s_disjoint" | "s_within" | "s_contains" | "s_equals" | "s_touches"
            | "s_overlaps" | "s_crosses" => {
                arity(2)?;
                Ok(Node::Spatial(name, self.geometry(next()?)?, self.geometry(next()?)?))
            }
            "s_dwithin" => {
                if !(n == 3 || n == 4) {
                    return err(format!("{op} takes 3 arguments (or 4, with a unit), got {n}"));
                }
                let (a, b) = (self.geometry(next()?)?, self.geometry(next()?)?);
                let d = match next()? {
                    Expr::Float(d) if d >= 0.0 => d,
                    other => {
                        return err(format!(
                            "S_DWITHIN's distance must be a number of metres >= 0, got {}",
                            short(&other)
                        ));
                    }
                };
                // An optional unit, as ECQL's DWITHIN takes it: a bare word or a string.
                let scale = if n == 4 {
                    let unit = match next()? {
                        Expr::Property { property } => property,
                        Expr::Literal(s) => s,
                        other => {
                            return err(format!("S_DWITHIN's unit must be a word, got {}", short(&other)));
                        }
                    };
                    match unit.to_ascii_lowercase().as_str() {
                        "m" | "meters" | "metres" | "meter" | "metre" => 1.0,
                        "km" | "kilometers" | "kilometres" | "kilometer" | "kilometre" => 1000.0,
                        other => {
                            return err(format!(
                                "S_DWITHIN's unit '{other}' is not known; use meters or kilometers"
                            ));
                        }
                    }
                } else {
                    1.0
                };
                let measured = match (&a, &b) {
                    (GeomArg::Literal(g), GeomArg::Feature) | (GeomArg::Feature, GeomArg::Literal(g)) => {
                        Some(std::sync::Arc::new(geodesic::GeometryDistances::new(g)))
                    }
                    _ => None,
                };
                Ok(Node::DWithin(a, b, d * scale, measured))
            }
            "a_equals" | "a_contains" | "a_containedby" | "a_overlaps" => {
                arity(2)?;
                Ok(Node::Array(name, self.array(next()?)?, self.array(next()?)?))
            }
            "t_after" | "t_before" | "t_contains" | "t_disjoint" | "t_during" | "t_equals"
            | "t_finishedby" | "t_finishes" | "t_intersects" | "t_meets" | "t_metby" | "t_overlappedby"
            | "t_overlaps" | "t_startedby" | "t_starts" => {
                arity(2)?;
                Ok(Node::Temporal(name, self.period(next()?)?, self.period(next()?)?))
            }
            t if t.starts_with("t_") => err(format!(
                "unknown temporal function '{t}'; the temporal functions are T_AFTER, T_BEFORE, T_CONTAINS, \
                 T_DISJOINT, T_DURING, T_EQUALS, T_FINISHEDBY, T_FINISHES, T_INTERSECTS, T_MEETS, T_METBY, \
                 T_OVERLAPPEDBY, T_OVERLAPS, T_STARTEDBY and T_STARTS"
            )),
            other => err(format!(
                "unknown function '{other}'; this server evaluates comparisons, AND/OR/NOT, LIKE, BETWEEN, IN, IS NULL, \
                 CASEI, arithmetic, S_INTERSECTS/S_DISJOINT/S_WITHIN/S_CONTAINS/S_EQUALS/S_TOUCHES/S_OVERLAPS/S_CROSSES, \
                 S_DWITHIN (metres), A_EQUALS/A_CONTAINS/A_CONTAINEDBY/A_OVERLAPS and the T_* temporal functions"
            )),
        }
    }
}

fn short(e: &Expr) -> String {
    let s = e.to_text().unwrap_or_else(|_| format!("{e:?}"));
    if s.chars().count() > 60 { format!("{}…", s.chars().take(60).collect::<String>()) } else { s }
}

fn kind(s: &Scalar) -> Kind {
    match s {
        Scalar::Prop(_, PropertyType::String | PropertyType::StringArray | PropertyType::Geometry)
        | Scalar::Id
        | Scalar::Str(_)
        | Scalar::CaseI(_) => Kind::Text,
        Scalar::Prop(_, PropertyType::Number | PropertyType::Integer)
        | Scalar::Num(_)
        | Scalar::Arith(..) => Kind::Number,
        Scalar::Prop(_, PropertyType::Boolean) | Scalar::Bool(_) => Kind::Boolean,
        Scalar::Prop(_, PropertyType::Date) | Scalar::Date(_) => Kind::Date,
        Scalar::Prop(_, PropertyType::Timestamp) | Scalar::Timestamp(_) => Kind::Timestamp,
        Scalar::Null => Kind::Null,
    }
}

fn describe(s: &Scalar) -> String {
    match s {
        Scalar::Prop(name, PropertyType::StringArray) => format!("the array property '{name}'"),
        Scalar::Prop(name, PropertyType::Date) => format!("the date property '{name}'"),
        Scalar::Prop(name, PropertyType::Timestamp) => format!("the timestamp property '{name}'"),
        Scalar::Prop(name, t) => format!("the {} property '{name}'", t.json_type()),
        Scalar::Id => "the feature id".into(),
        Scalar::Str(v) => format!("the string '{v}'"),
        Scalar::Num(v) => format!("the number {v}"),
        Scalar::Bool(v) => format!("the boolean {v}"),
        Scalar::Null => "NULL".into(),
        Scalar::Arith(..) => "an arithmetic expression".into(),
        Scalar::CaseI(_) => "CASEI(…)".into(),
        Scalar::Date(_) => "a DATE".into(),
        Scalar::Timestamp(_) => "a TIMESTAMP".into(),
    }
}

/// A boolean property compared with 1 or 0 is compared with true or false: GDAL holds a boolean as an integer
/// field and writes `city_wide = 1` (any other number is still the wrong type).
fn boolean_digits(a: Scalar, b: Scalar) -> (Scalar, Scalar) {
    let digit = |s: &Scalar| match s {
        Scalar::Num(n) if *n == 0.0 || *n == 1.0 => Some(Scalar::Bool(*n == 1.0)),
        _ => None,
    };
    match (&a, &b) {
        (Scalar::Prop(_, PropertyType::Boolean), _) => match digit(&b) {
            Some(d) => (a, d),
            None => (a, b),
        },
        (_, Scalar::Prop(_, PropertyType::Boolean)) => match digit(&a) {
            Some(d) => (d, b),
            None => (a, b),
        },
        _ => (a, b),
    }
}

fn check_comparable(op: &str, a: &Scalar, b: &Scalar) -> Result<(), CqlError> {
    for s in [a, b] {
        if let Scalar::Prop(name, PropertyType::StringArray) = s {
            return err(format!(
                "wrong types: '{name}' is an array; use A_CONTAINS({name}, ('…')) or A_OVERLAPS to test its elements"
            ));
        }
    }
    let (ka, kb) = (kind(a), kind(b));
    if ka == Kind::Null || kb == Kind::Null || ka == kb {
        Ok(())
    } else {
        // A date written as a plain string ('2022-04-14' where DATE('2022-04-14') is meant): say how to write it.
        let hint = match (ka, kb, a, b) {
            (Kind::Date | Kind::Timestamp, _, _, Scalar::Str(v))
            | (_, Kind::Date | Kind::Timestamp, Scalar::Str(v), _) => {
                let f = if ka == Kind::Date || kb == Kind::Date { "DATE" } else { "TIMESTAMP" };
                format!("; write a {} literal as {f}('{v}')", f.to_ascii_lowercase())
            }
            _ => String::new(),
        };
        err(format!("wrong types: {op} compares {} with {}{hint}", describe(a), describe(b)))
    }
}

/// The R-tree hint: a box every match must meet, from a top-level S_INTERSECTS / S_DWITHIN with a literal.
fn hint(node: &Node) -> Option<Rect<f64>> {
    match node {
        Node::Spatial(op, GeomArg::Feature, GeomArg::Literal(g))
        | Node::Spatial(op, GeomArg::Literal(g), GeomArg::Feature)
            if matches!(
                op.as_str(),
                "s_intersects"
                    | "s_within"
                    | "s_contains"
                    | "s_equals"
                    | "s_touches"
                    | "s_overlaps"
                    | "s_crosses"
            ) =>
        {
            geom::bounding_rect(g)
        }
        Node::DWithin(GeomArg::Feature, GeomArg::Literal(g), d, _)
        | Node::DWithin(GeomArg::Literal(g), GeomArg::Feature, d, _) => {
            geodesic::reach_of(g).map(|r| geodesic::expand_rect_m(r, *d))
        }
        Node::And(parts) => parts.iter().find_map(hint),
        _ => None,
    }
}

/// A runtime value.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Null,
    Str(String),
    Num(f64),
    /// A whole number as stored (a double would round one beyond 2^53).
    Int(i128),
    Bool(bool),
}

impl Val {
    /// The number as a whole number, when it is one exactly.
    fn whole(&self) -> Option<i128> {
        match self {
            Self::Int(i) => Some(*i),
            Self::Num(x) if x.fract() == 0.0 && x.abs() < I128_LIMIT => Some(*x as i128),
            _ => None,
        }
    }

    /// The number as a double, for arithmetic.
    fn number(&self) -> Option<f64> {
        match self {
            Self::Num(x) => Some(*x),
            Self::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

fn to_val(v: Option<&Value>) -> Val {
    match v {
        Some(Value::String(s)) => Val::Str(s.clone()),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Val::Int(i.into()),
            (None, Some(u)) => Val::Int(u.into()),
            _ => n.as_f64().map_or(Val::Null, Val::Num),
        },
        Some(Value::Bool(b)) => Val::Bool(*b),
        _ => Val::Null,
    }
}

fn eval_scalar(s: &Scalar, f: &Feature) -> Val {
    match s {
        Scalar::Prop(name, PropertyType::Date | PropertyType::Timestamp) => {
            match f.properties.get(name).and_then(Value::as_str).and_then(timestamp_ms) {
                Some(ms) => Val::Num(ms),
                None => Val::Null,
            }
        }
        Scalar::Prop(name, _) => to_val(f.properties.get(name)),
        Scalar::Date(ms) | Scalar::Timestamp(ms) => Val::Num(*ms),
        Scalar::Id => Val::Str(f.id.clone()),
        Scalar::Str(v) => Val::Str(v.clone()),
        Scalar::Num(v) => Val::Num(*v),
        Scalar::Bool(v) => Val::Bool(*v),
        Scalar::Null => Val::Null,
        Scalar::CaseI(inner) => match eval_scalar(inner, f) {
            Val::Str(v) => Val::Str(v.to_lowercase()),
            other => other,
        },
        Scalar::Arith(op, a, b) => {
            let (a, b) = (eval_scalar(a, f), eval_scalar(b, f));
            // Whole numbers add, subtract, multiply and divide exactly (through doubles, an integer property
            // past 2^53 plus one was itself).
            if let (Some(x), Some(y)) = (a.whole(), b.whole()) {
                let exact = match op.as_str() {
                    "+" => x.checked_add(y),
                    "-" => x.checked_sub(y),
                    "*" => x.checked_mul(y),
                    "%" => x.checked_rem(y),
                    "/" | "^" => None,
                    _ => x.checked_div(y),
                };
                if let Some(v) = exact {
                    return Val::Int(v);
                }
            }
            arith(op, a.number(), b.number())
        }
    }
}

/// Arithmetic on doubles; not a number (a division by zero…) is NULL.
fn arith(op: &str, a: Option<f64>, b: Option<f64>) -> Val {
    let (Some(x), Some(y)) = (a, b) else { return Val::Null };
    let r = match op {
        "+" => x + y,
        "-" => x - y,
        "*" => x * y,
        "/" => x / y,
        "%" => x % y,
        "^" => x.powf(y),
        _ => (x / y).trunc(),
    };
    if r.is_finite() { Val::Num(r) } else { Val::Null }
}

fn compare(a: &Val, b: &Val) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(x.cmp(y)),
        (Val::Num(x), Val::Num(y)) => x.partial_cmp(y),
        (Val::Int(x), Val::Int(y)) => Some(x.cmp(y)),
        (Val::Int(i), Val::Num(x)) => int_cmp_float(*i, *x),
        (Val::Num(x), Val::Int(i)) => int_cmp_float(*i, *x).map(std::cmp::Ordering::reverse),
        (Val::Bool(x), Val::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// 2^127: every whole double below it in magnitude is an i128.
const I128_LIMIT: f64 = 1.701_411_834_604_692_3e38;

/// A whole number against a double, exactly (through a double, 2^53 + 1 equalled 2^53).
fn int_cmp_float(i: i128, x: f64) -> Option<std::cmp::Ordering> {
    use std::cmp::Ordering;
    if x.is_nan() {
        return None;
    }
    if x >= I128_LIMIT {
        return Some(Ordering::Less);
    }
    if x < -I128_LIMIT {
        return Some(Ordering::Greater);
    }
    let whole = x.trunc();
    let ordering = i.cmp(&(whole as i128));
    // Equal whole parts: the fraction decides.
    Some(if ordering.is_eq() { 0.0f64.partial_cmp(&(x - whole))? } else { ordering })
}

fn geometry_of<'a>(arg: &'a GeomArg, f: &'a Feature) -> Option<&'a Geometry<f64>> {
    match arg {
        GeomArg::Feature => f.geometry.as_ref(),
        GeomArg::Literal(g) => Some(g),
    }
}

fn array_of(arg: &ArrArg, f: &Feature) -> Option<Vec<Val>> {
    match arg {
        ArrArg::Prop(name) => match f.properties.get(name) {
            Some(Value::Array(items)) => Some(items.iter().map(|i| to_val(Some(i))).collect()),
            _ => None,
        },
        ArrArg::Literal(items) => Some(items.iter().map(|s| eval_scalar(s, f)).collect()),
    }
}

/// Three-valued evaluation: `Some(true)`, `Some(false)` or unknown (`None`, as SQL's NULL).
fn eval(node: &Node, f: &Feature) -> Option<bool> {
    match node {
        Node::Const(b) => Some(*b),
        Node::And(parts) => {
            let mut unknown = false;
            for p in parts {
                match eval(p, f) {
                    Some(false) => return Some(false),
                    None => unknown = true,
                    Some(true) => {}
                }
            }
            if unknown { None } else { Some(true) }
        }
        Node::Or(parts) => {
            let mut unknown = false;
            for p in parts {
                match eval(p, f) {
                    Some(true) => return Some(true),
                    None => unknown = true,
                    Some(false) => {}
                }
            }
            if unknown { None } else { Some(false) }
        }
        Node::Not(inner) => eval(inner, f).map(|b| !b),
        Node::Cmp(op, a, b) => {
            let o = compare(&eval_scalar(a, f), &eval_scalar(b, f))?;
            Some(match op.as_str() {
                "=" => o.is_eq(),
                "<>" => o.is_ne(),
                "<" => o.is_lt(),
                "<=" => o.is_le(),
                ">" => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        Node::Like(a, pattern) => match eval_scalar(a, f) {
            Val::Str(s) => Some(pattern.matches(&s)),
            _ => None,
        },
        Node::Between(a, lo, hi) => {
            let v = eval_scalar(a, f);
            Some(compare(&v, &eval_scalar(lo, f))?.is_ge() && compare(&v, &eval_scalar(hi, f))?.is_le())
        }
        Node::In(a, list) => {
            let v = eval_scalar(a, f);
            if v == Val::Null {
                return None;
            }
            Some(list.iter().any(|i| compare(&v, &eval_scalar(i, f)).is_some_and(std::cmp::Ordering::is_eq)))
        }
        Node::IsNull(Scalar::Prop(name, _)) => Some(f.properties.get(name).is_none_or(Value::is_null)),
        Node::IsNull(a) => Some(eval_scalar(a, f) == Val::Null),
        Node::Spatial(op, a, b) => {
            let (ga, gb) = (geometry_of(a, f)?, geometry_of(b, f)?);
            Some(match op.as_str() {
                "s_intersects" => ga.intersects(gb),
                "s_disjoint" => !ga.intersects(gb),
                _ => {
                    let m = ga.relate(gb);
                    match op.as_str() {
                        "s_within" => m.is_within(),
                        "s_contains" => m.is_contains(),
                        "s_equals" => m.is_equal_topo(),
                        "s_touches" => m.is_touches(),
                        "s_overlaps" => m.is_overlaps(),
                        _ => m.is_crosses(),
                    }
                }
            })
        }
        Node::DWithin(a, b, d, measured) => {
            let (ga, gb) = (geometry_of(a, f)?, geometry_of(b, f)?);
            Some(
                match (measured, a) {
                    (Some(m), GeomArg::Feature) => m.to(ga),
                    (Some(m), GeomArg::Literal(_)) => m.to(gb),
                    (None, _) => geodesic::geometry_distance_m(ga, gb),
                } <= *d,
            )
        }
        Node::Array(op, a, b) => {
            let (xs, ys) = (array_of(a, f)?, array_of(b, f)?);
            let has = |set: &[Val], v: &Val| {
                set.iter().any(|s| s == v || compare(s, v).is_some_and(std::cmp::Ordering::is_eq))
            };
            Some(match op.as_str() {
                "a_equals" => {
                    xs.len() == ys.len() && xs.iter().all(|x| has(&ys, x)) && ys.iter().all(|y| has(&xs, y))
                }
                "a_contains" => ys.iter().all(|y| has(&xs, y)),
                "a_containedby" => xs.iter().all(|x| has(&ys, x)),
                _ => xs.iter().any(|x| has(&ys, x)),
            })
        }
        Node::Temporal(op, a, b) => Some(temporal(op, span(a, f)?, span(b, f)?)),
    }
}

/// A temporal argument's ends in milliseconds (open ends infinite); `None` when a value is NULL.
fn span(p: &Period, f: &Feature) -> Option<(f64, f64)> {
    let end = |b: &Bound, open: f64| match b {
        Bound::Open => Some(open),
        Bound::At(s) => match eval_scalar(s, f) {
            Val::Num(ms) => Some(ms),
            _ => None,
        },
    };
    Some((end(&p.start, f64::NEG_INFINITY)?, end(&p.end, f64::INFINITY)?))
}

/// Allen's relations between intervals (an instant is an interval whose ends are equal), as CQL2 defines them.
fn temporal(op: &str, (s1, e1): (f64, f64), (s2, e2): (f64, f64)) -> bool {
    match op {
        "t_after" => s1 > e2,
        "t_before" => e1 < s2,
        "t_contains" => s1 < s2 && e1 > e2,
        "t_disjoint" => e1 < s2 || s1 > e2,
        "t_during" => s1 > s2 && e1 < e2,
        "t_equals" => s1 == s2 && e1 == e2,
        "t_finishedby" => s1 < s2 && e1 == e2,
        "t_finishes" => s1 > s2 && e1 == e2,
        "t_intersects" => s1 <= e2 && e1 >= s2,
        "t_meets" => e1 == s2,
        "t_metby" => s1 == e2,
        "t_overlappedby" => s1 > s2 && s1 < e2 && e1 > e2,
        "t_overlaps" => s1 < s2 && e1 > s2 && e1 < e2,
        "t_startedby" => s1 == s2 && e1 > e2,
        _ => s1 == s2 && e1 < e2,
    }
}

impl CqlFilter {
    /// Whether the feature matches (unknown counts as no, as in SQL's WHERE).
    pub fn matches(&self, f: &Feature) -> bool {
        eval(&self.node, f) == Some(true)
    }
}

/// The most numbers any position of a WKT text has: the numbers between two of its delimiters.
fn widest_position(wkt: &str) -> usize {
    wkt.split(['(', ')', ','])
        .map(|part| part.split_whitespace().filter(|t| t.parse::<f64>().is_ok()).count())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::{LikePattern, check_text_limits, limits};
    use proptest::prelude::*;

    fn like(text: &str, pattern: &str) -> bool {
        LikePattern::new(pattern).expect("pattern compiles").matches(text)
    }

    /// The reference: SQL LIKE by dynamic programming over (text position, pattern position), O(n·m).
    fn like_reference(text: &str, pattern: &str) -> bool {
        // Tokens: Some(c) a literal, None for '_', and '%' as a separate marker.
        #[derive(Clone, Copy, PartialEq)]
        enum T {
            Lit(char),
            One,
            Any,
        }
        let mut toks = Vec::new();
        let mut it = pattern.chars();
        while let Some(c) = it.next() {
            toks.push(match c {
                '%' => T::Any,
                '_' => T::One,
                '\\' => T::Lit(it.next().unwrap_or('\\')),
                c => T::Lit(c),
            });
        }
        let t: Vec<char> = text.chars().collect();
        // m[j]: pattern prefix of length j matches the text prefix seen so far.
        let mut m = vec![false; toks.len() + 1];
        m[0] = true;
        for j in 0..toks.len() {
            m[j + 1] = m[j] && toks[j] == T::Any;
        }
        for &c in &t {
            let mut next = vec![false; toks.len() + 1];
            for j in 0..toks.len() {
                next[j + 1] = match toks[j] {
                    T::Any => next[j] || m[j + 1],
                    T::One => m[j],
                    T::Lit(l) => m[j] && l == c,
                };
            }
            m = next;
        }
        m[toks.len()]
    }

    #[test]
    fn like_handles_wildcards_and_chinese() {
        assert!(like("沈阳桃仙机场二跑道", "%机场%"));
        assert!(like("沈白高铁", "沈_高铁"));
        assert!(!like("沈白高铁", "沈_铁"));
        assert!(like("100%", "100\\%"));
        assert!(!like("1000", "100\\%"));
        assert!(like("a.b", "a.b"));
        assert!(!like("axb", "a.b"), "regex metacharacters are literals");
        assert!(like("line1\nline2", "line1%"), "% spans newlines");
        assert!(like("(x)[y]{z}*+?^$|", "(x)[y]{z}*+?^$|"));
    }

    #[test]
    fn like_is_linear_on_the_backtracking_worst_case() {
        // The pattern from the issue: exponential for a backtracking matcher, one pass for a DFA.
        let text =
            "Shenyang Taoxian International Airport second runway and terminal T3 expansion".repeat(40);
        let pattern = format!("{}~", "%_".repeat(200));
        assert!(!like(&text, &pattern));
        assert!(like(&format!("{text}~"), &pattern));
    }

    proptest! {
        #[test]
        fn like_agrees_with_the_reference(
            text in "[ab%_\\\\机]{0,12}",
            pattern in "[ab%_\\\\机]{0,8}",
        ) {
            prop_assert_eq!(like(&text, &pattern), like_reference(&text, &pattern), "{:?} LIKE {:?}", text, pattern);
        }
    }

    #[test]
    fn the_parser_is_bounded_on_malformed_nesting_and_still_takes_big_valid_filters() {
        let c = crate::store::Catalog::load(crate::store::DataSource::Embedded).expect("data loads");
        let projects = c.projects();
        let parse =
            |f: &str| super::parse(f, super::FilterLang::Text, crate::geom::crs::Crs::Crs84, projects);
        for depth in [10, 20, 40, 60] {
            let bad =
                format!("{}(sections + 0) * 5 > 2) AND (NOT (((())){}", "(".repeat(depth), ")".repeat(depth));
            let t = std::time::Instant::now();
            let e = parse(&bad).expect_err("malformed");
            eprintln!("depth {depth}: {:?} {}", t.elapsed(), e.0);
        }
        let list: Vec<String> = (0..9_999).map(|i| format!("'v{i}'")).collect();
        let t = std::time::Instant::now();
        let big = format!("category IN ({}) OR {}", list.join(","), vec!["length_km > 1"; 900].join(" OR "));
        if let Err(e) = parse(&big) {
            panic!("a big filter within the limits parses: {e}");
        }
        eprintln!("big: {:?}", t.elapsed());
        let nested = format!("{}length_km > 1{}", "(".repeat(60), ")".repeat(60));
        assert!(parse(&nested).is_ok());
        let nots = format!("{}length_km > 1{}", "NOT (".repeat(31), ")".repeat(31));
        assert!(parse(&nots).is_ok());
    }

    #[test]
    fn text_limits_count_nesting_and_operators() {
        let nested = |n: usize| format!("{}category='airport'{}", "NOT (".repeat(n), ")".repeat(n));
        assert!(check_text_limits(&nested(10)).is_ok());
        let e = check_text_limits(&nested(600)).expect_err("600 levels are refused");
        assert!(e.0.contains("nested more than 64"), "{e}");
        // Quoted parentheses and words do not count.
        let quoted = format!("name_zh = '{}' OR name_en LIKE '%not and or%'", "(".repeat(500));
        assert!(check_text_limits(&quoted).is_ok());
        // Many flat ORs: operators, not depth.
        let ors = vec!["sections=1"; 2000].join(" OR ");
        assert!(check_text_limits(&ors).expect_err("too many").0.contains("operators"));
        let list = format!("category IN ({})", vec!["'a'"; limits::MAX_LIST + 1].join(","));
        assert!(check_text_limits(&list).expect_err("too long").0.contains("values"));
        // A closing parenthesis also closes the NOTs opened inside it.
        let many_not = vec!["(NOT sections=1)"; 200].join(" AND ");
        assert!(check_text_limits(&many_not).is_ok());
    }
}
