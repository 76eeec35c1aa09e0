//! Selecting features: a bounding box narrowed through the R-tree, then property predicates.

use geo::{Intersects, Rect};
use serde_json::Value;

use super::collection::{Collection, Feature};

/// One property predicate.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// The property equals the value (an array property: any element does). Numbers compare numerically.
    Eq {
        /// Property name.
        property: String,
        /// The value as written in the query.
        value: String,
    },
    /// Any of the properties equals the value (e.g. `city` matches an adcode or a Chinese name).
    AnyEq {
        /// Property names.
        properties: Vec<&'static str>,
        /// The value as written.
        value: String,
    },
    /// The property (or an element of it) is the value or starts with the value followed by `.`:
    /// `四.(四)` matches `四.(四)`, `四.(四).1` and `四.(四).2`, but not `四.(四十)`.
    SegmentPrefix {
        /// Property name.
        property: &'static str,
        /// The prefix.
        value: String,
    },
    /// A place given by adcode or Chinese name (with or without its suffix: `桓仁` or `桓仁满族自治县`), matched
    /// against an array of adcodes and a parallel array of names.
    Place {
        /// Property holding adcodes.
        codes: &'static str,
        /// Property holding Chinese names.
        names: &'static str,
        /// The value as written.
        value: String,
    },
    /// A CQL2 filter (`filter=`), checked against the collection's queryables.
    Cql(Box<super::cql::CqlFilter>),
    /// A `bbox` in another CRS (`bbox-crs`): the feature, taken into that CRS (its axis order), meets the box
    /// there. Exact whatever the CRS does to the box's edges in longitude/latitude (a projection curves them,
    /// GCJ-02's and BD-09's offsets wave them). A feature without a geometry passes, as it does a CRS84 `bbox`
    /// (OGC API – Features Part 1, /req/core/fc-bbox-response C).
    InBox {
        /// The box's CRS.
        crs: crate::geom::crs::Crs,
        /// The box, in that CRS's axis order.
        rect: Rect<f64>,
    },
    /// Any of the properties contains the value, case-insensitively.
    Substring {
        /// Property names.
        properties: Vec<&'static str>,
        /// The value, already lower-cased.
        value: String,
    },
    /// The feature's interval (two date properties, `YYYY-MM-DD`) meets the query's (`datetime`); an open end
    /// is `None`.
    Interval {
        /// Property holding the first day.
        start: &'static str,
        /// Property holding the last day.
        end: &'static str,
        /// The query's first day.
        from: Option<String>,
        /// The query's last day.
        to: Option<String>,
    },
}

/// A selection: an optional bounding box (CRS84) and predicates that must all hold.
#[derive(Debug, Clone, Default)]
pub struct ItemsQuery {
    /// Keep features whose geometry intersects one of these boxes (none: no box; two: a box across the
    /// antimeridian).
    pub bbox: Vec<Rect<f64>>,
    /// Only features whose bounding box meets this one can match (e.g. the box of a `within` area); used to
    /// narrow candidates through the R-tree, not as a predicate.
    pub candidates_in: Option<Rect<f64>>,
    /// Keep features matching every filter.
    pub filters: Vec<Filter>,
}

fn scalar_eq(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        // Whole numbers compare exactly (a 19-digit id is not rounded to its neighbour through a double).
        Value::Number(n) => match (n.as_i64(), n.as_u64(), want.trim()) {
            (Some(a), _, w) if w.parse::<i64>().is_ok() => w.parse::<i64>() == Ok(a),
            (_, Some(a), w) if w.parse::<u64>().is_ok() => w.parse::<u64>() == Ok(a),
            (_, _, w) => matches!((n.as_f64(), w.parse::<f64>()), (Some(a), Ok(b)) if a == b),
        },
        // `1` and `0` as well: what GDAL and SQL clients write for a boolean.
        Value::Bool(b) => {
            let want = want.trim();
            want.eq_ignore_ascii_case(if *b { "true" } else { "false" }) || want == if *b { "1" } else { "0" }
        }
        Value::Array(items) => items.iter().any(|i| scalar_eq(i, want)),
        Value::Null | Value::Object(_) => false,
    }
}

fn segment_prefix(v: &Value, prefix: &str) -> bool {
    match v {
        Value::String(s) => s == prefix || s.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.')),
        Value::Array(items) => items.iter().any(|i| segment_prefix(i, prefix)),
        _ => false,
    }
}

fn contains_text(v: &Value, needle: &str) -> bool {
    match v {
        Value::String(s) => s.to_lowercase().contains(needle),
        Value::Array(items) => items.iter().any(|i| contains_text(i, needle)),
        _ => false,
    }
}

impl Filter {
    /// Whether `feature` satisfies the predicate.
    pub fn matches(&self, feature: &Feature) -> bool {
        let prop = |name: &str| feature.properties.get(name);
        match self {
            Self::Eq { property, value } => {
                if property == "id" && !feature.properties.contains_key("id") {
                    return feature.id == *value;
                }
                prop(property).is_some_and(|v| scalar_eq(v, value))
            }
            Self::AnyEq { properties, value } => {
                properties.iter().any(|p| prop(p).is_some_and(|v| scalar_eq(v, value)))
            }
            Self::SegmentPrefix { property, value } => {
                prop(property).is_some_and(|v| segment_prefix(v, value))
            }
            Self::Place { codes, names, value } => {
                prop(codes).is_some_and(|v| scalar_eq(v, value))
                    || prop(names).and_then(Value::as_array).is_some_and(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .any(|n| n == value || crate::domain::short_name(n) == value)
                    })
            }
            Self::Cql(filter) => filter.matches(feature),
            Self::InBox { crs, rect } => feature.geometry.as_ref().is_none_or(|g| {
                crate::geom::transform_geometry(g, *crs).is_ok_and(|there| there.intersects(rect))
            }),
            Self::Substring { properties, value } => {
                properties.iter().any(|p| prop(p).is_some_and(|v| contains_text(v, value)))
            }
            Self::Interval { start, end, from, to } => {
                let (Some(s), Some(e)) =
                    (prop(start).and_then(Value::as_str), prop(end).and_then(Value::as_str))
                else {
                    return false;
                };
                to.as_deref().is_none_or(|t| s <= t) && from.as_deref().is_none_or(|f| e >= f)
            }
        }
    }
}

impl ItemsQuery {
    /// Whether the feature meets the `bbox` (one box, or two across the antimeridian); features with no
    /// geometry meet any (Part 1).
    pub fn in_bbox(&self, feature: &Feature) -> bool {
        self.bbox.is_empty()
            || feature.geometry.as_ref().is_none_or(|g| self.bbox.iter().any(|r| g.intersects(r)))
    }

    /// Whether `feature` satisfies every predicate (the bounding box is checked by [`Collection::select`], or
    /// [`ItemsQuery::in_bbox`]).
    pub fn matches_properties(&self, feature: &Feature) -> bool {
        self.filters.iter().all(|f| f.matches(feature))
    }
}

impl Collection {
    /// Indexes of the features the query selects and `extra` keeps, in load order. A `bbox` selects the
    /// features it intersects and those with no geometry (OGC API – Features Part 1,
    /// `/req/core/fc-bbox-response` C).
    pub fn select(&self, query: &ItemsQuery, extra: impl Fn(usize) -> bool) -> Vec<usize> {
        let candidates: Vec<usize> = match (query.bbox.as_slice(), &query.candidates_in) {
            ([_, ..], _) => {
                let mut c: Vec<usize> =
                    query.bbox.iter().flat_map(|rect| self.bbox_candidates(rect)).collect();
                if query.candidates_in.is_none() && !self.unlocated().is_empty() {
                    c.extend_from_slice(self.unlocated());
                }
                if query.bbox.len() > 1 || query.candidates_in.is_none() {
                    c.sort_unstable();
                    c.dedup();
                }
                c
            }
            ([], Some(rect)) => self.bbox_candidates(rect),
            ([], None) => (0..self.features().len()).collect(),
        };
        let polys: Vec<geo::Polygon<f64>> = query.bbox.iter().map(|r| r.to_polygon()).collect();
        candidates
            .into_iter()
            .take_while(|_| !crate::compute::spent())
            .filter(|&i| {
                let f = self.feature(i);
                (polys.is_empty()
                    || f.geometry.as_ref().is_none_or(|g| polys.iter().any(|p| g.intersects(p))))
                    && query.matches_properties(f)
                    && extra(i)
            })
            .collect()
    }
}

/// One `sortby` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// The property (or `id`).
    pub property: String,
    /// Descending when true.
    pub descending: bool,
}

/// Orders two property values: null last, numbers numerically, strings lexicographically, arrays element by
/// element.
fn order(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match (a, b) {
        (None | Some(Value::Null), None | Some(Value::Null)) => Equal,
        (None | Some(Value::Null), _) => Greater,
        (_, None | Some(Value::Null)) => Less,
        // By (the value as a double, then the exact whole number): whole numbers past 2^53 in order exactly,
        // and one key for every number, so the order stays transitive when integers meet fractions (a sort
        // may panic on an order that is not).
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let key = |n: &serde_json::Number| {
                let f = n.as_f64().unwrap_or_default();
                #[expect(
                    clippy::cast_possible_truncation,
                    reason = "a tie-break: doubles saturate into i128"
                )]
                let whole =
                    n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from)).unwrap_or(f as i128);
                (f, whole)
            };
            let ((fx, wx), (fy, wy)) = (key(x), key(y));
            fx.total_cmp(&fy).then(wx.cmp(&wy))
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x.cmp(y),
        (Some(Value::Array(x)), Some(Value::Array(y))) => x
            .iter()
            .zip(y)
            .map(|(p, q)| order(Some(p), Some(q)))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

impl Collection {
    /// Sorts feature indexes by the keys, ties by load order, so paging through a sorted result is stable.
    pub fn sort(&self, features: &mut [&Feature], keys: &[SortKey]) {
        if keys.is_empty() {
            return;
        }
        // Timestamps order by the instant, whatever offset each is written with (`+08:00`, `Z`).
        let instants: Vec<bool> = keys
            .iter()
            .map(|k| self.queryable(&k.property).is_some_and(|q| q.kind == super::PropertyType::Timestamp))
            .collect();
        let instant = |f: &Feature, k: &str| {
            f.properties.get(k).and_then(Value::as_str).and_then(super::cql::timestamp_ms)
        };
        // Stable: ties keep the order they came in (load order).
        features.sort_by(|fa, fb| {
            keys.iter()
                .zip(&instants)
                .map(|(k, &by_instant)| {
                    let o = if k.property == "id" && !fa.properties.contains_key("id") {
                        fa.id.cmp(&fb.id)
                    } else if by_instant {
                        match (instant(fa, &k.property), instant(fb, &k.property)) {
                            (Some(a), Some(b)) => a.total_cmp(&b),
                            (Some(_), None) => return std::cmp::Ordering::Less,
                            (None, Some(_)) => return std::cmp::Ordering::Greater,
                            (None, None) => std::cmp::Ordering::Equal,
                        }
                    } else {
                        let (a, b) = (fa.properties.get(&k.property), fb.properties.get(&k.property));
                        // Null last whichever way the values run (a descending sort put the nulls first).
                        let null = |v: Option<&Value>| v.is_none_or(Value::is_null);
                        match (null(a), null(b)) {
                            (true, false) => return std::cmp::Ordering::Greater,
                            (false, true) => return std::cmp::Ordering::Less,
                            _ => order(a, b),
                        }
                    };
                    if k.descending { o.reverse() } else { o }
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::order;

    /// Whole numbers past 2^53 in exact order, and one transitive order when they meet doubles: 2^53 + 1 (an
    /// integer), 2^53 (a double) and 2^53 (an integer) sort without contradiction.
    #[test]
    fn numbers_order_exactly_and_transitively() {
        let a = json!(9_007_199_254_740_993_i64);
        let b: serde_json::Value = serde_json::from_str("9007199254740992.0").expect("a double");
        let c = json!(9_007_199_254_740_992_i64);
        assert!(order(Some(&c), Some(&a)).is_lt());
        assert!(order(Some(&b), Some(&a)).is_lt());
        assert!(order(Some(&b), Some(&c)).is_eq());
        let mut values = [a.clone(), b, c, json!(1.5), json!(-3)];
        values.sort_by(|x, y| order(Some(x), Some(y)));
        assert_eq!(values.last(), Some(&a));
        assert_eq!(values[0], json!(-3));
    }
}
