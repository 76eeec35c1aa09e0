//! Query values shared by every endpoint: `bbox`, `limit`/`offset` and the errors their parsing reports.

use std::fmt;

use geo::{Coord, Rect};

/// A request parameter that could not be accepted: which one, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    /// The parameter's name as it appears on the wire (`bbox`, `limit`, `lon`).
    pub parameter: String,
    /// What is wrong, phrased so the caller knows what to send instead.
    pub detail: String,
}

impl ParamError {
    /// A new error for `parameter`.
    pub fn new(parameter: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { parameter: parameter.into(), detail: detail.into() }
    }
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameter `{}`: {}", self.parameter, self.detail)
    }
}

impl std::error::Error for ParamError {}

/// Parses a finite number, naming the parameter when it is not one.
pub fn parse_f64(parameter: &str, raw: &str) -> Result<f64, ParamError> {
    let value: f64 =
        raw.trim().parse().map_err(|_| ParamError::new(parameter, format!("'{raw}' is not a number")))?;
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ParamError::new(parameter, format!("'{raw}' is not a finite number")))
    }
}

/// A longitude in degrees, checked to lie in [-180, 180].
pub fn parse_lon(parameter: &str, raw: &str) -> Result<f64, ParamError> {
    let v = parse_f64(parameter, raw)?;
    if (-180.0..=180.0).contains(&v) {
        Ok(v)
    } else {
        Err(ParamError::new(parameter, format!("longitude {v} is outside [-180, 180]")))
    }
}

/// A latitude in degrees, checked to lie in [-90, 90].
pub fn parse_lat(parameter: &str, raw: &str) -> Result<f64, ParamError> {
    let v = parse_f64(parameter, raw)?;
    if (-90.0..=90.0).contains(&v) {
        Ok(v)
    } else {
        Err(ParamError::new(parameter, format!("latitude {v} is outside [-90, 90]")))
    }
}

/// A bounding box: `minx,miny,maxx,maxy` (or six numbers with heights, which are ignored).
///
/// The numbers are in the CRS the request names (`bbox-crs`), CRS84 by default; [`Bbox::parse`] only checks the
/// shape and order, and [`Bbox::check_lon_lat`] the ranges once the CRS is known to be geographic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    /// The lower-left corner (first axis, second axis) as written in the request.
    pub min: Coord<f64>,
    /// The upper-right corner as written.
    pub max: Coord<f64>,
}

impl Bbox {
    /// Parses `a,b,c,d` or `a,b,zmin,c,d,zmax` in a CRS whose first axis is the eastern one, or the northern one
    /// when `north_first` (EPSG:4326's latitude, longitude): see [`Bbox::from_numbers`].
    pub fn parse(raw: &str, north_first: bool) -> Result<Self, ParamError> {
        let numbers =
            raw.split(',').map(|p| parse_f64("bbox", p)).collect::<Result<Vec<f64>, ParamError>>().map_err(
                |_| ParamError::new("bbox", format!("'{raw}' must be 4 (or 6) comma-separated numbers")),
            )?;
        Self::from_numbers(&numbers, north_first)
            .map_err(|reason| ParamError::new("bbox", format!("'{raw}' {reason}")))
    }

    /// A box from its 4 numbers (or 6, with heights, which are checked and dropped), as `bbox` and CQL2's
    /// `BBOX` write it: the lower corner, then the upper one. The northern axis and the heights must run
    /// from low to high; the eastern one may run west > east (a box across the antimeridian, allowed in
    /// longitude/latitude only, which the caller checks with [`Bbox::is_reversed`]).
    pub fn from_numbers(numbers: &[f64], north_first: bool) -> Result<Self, String> {
        let (min, max) = match numbers {
            [a, b, c, d] => (Coord { x: *a, y: *b }, Coord { x: *c, y: *d }),
            [a, b, low, c, d, high] => {
                if low > high {
                    return Err(format!(
                        "has its lower corner's height {low} above its upper corner's {high} (minimum first)"
                    ));
                }
                (Coord { x: *a, y: *b }, Coord { x: *c, y: *d })
            }
            _ => {
                return Err(format!(
                    "has {} numbers; 4 (minx,miny,maxx,maxy) or 6 are needed",
                    numbers.len()
                ));
            }
        };
        // An eastern axis west > east is a box across the antimeridian; [`Bbox::crs84_rects`] splits it.
        let (south, north) = if north_first { (min.x, max.x) } else { (min.y, max.y) };
        if south > north {
            return Err(
                "has its lower corner above its upper corner (min <= max on each axis; only longitudes \
                        may run west > east, across the antimeridian)"
                    .to_owned(),
            );
        }
        Ok(Self { min, max })
    }

    /// Whether either axis runs from a larger to a smaller value: across the antimeridian in CRS84, an error
    /// in a projected CRS.
    pub fn is_reversed(&self) -> bool {
        self.min.x > self.max.x || self.min.y > self.max.y
    }

    /// The box with its axes swapped: EPSG:4326's latitude-first numbers as CRS84's longitude, latitude.
    #[must_use]
    pub fn swapped(self) -> Self {
        let swap = |c: Coord<f64>| Coord { x: c.y, y: c.x };
        Self { min: swap(self.min), max: swap(self.max) }
    }

    /// The CRS84 box as one rectangle, or two when it crosses the antimeridian (west edge east of the east
    /// edge, OGC API – Features Part 1): from the west edge to 180° and from −180° to the east edge.
    pub fn crs84_rects(&self) -> Vec<Rect<f64>> {
        if self.is_reversed() {
            vec![
                Rect::new(self.min, Coord { x: 180.0, y: self.max.y }),
                Rect::new(Coord { x: -180.0, y: self.min.y }, self.max),
            ]
        } else {
            vec![self.rect()]
        }
    }

    /// Checks that a CRS84 box lies within longitude [-180, 180] and latitude [-90, 90].
    pub fn check_lon_lat(&self) -> Result<(), ParamError> {
        let lon_ok = |v: f64| (-180.0..=180.0).contains(&v);
        let lat_ok = |v: f64| (-90.0..=90.0).contains(&v);
        if lon_ok(self.min.x) && lon_ok(self.max.x) && lat_ok(self.min.y) && lat_ok(self.max.y) {
            Ok(())
        } else {
            Err(ParamError::new(
                "bbox",
                "longitudes must lie in [-180, 180] and latitudes in [-90, 90] (CRS84 takes lon,lat; EPSG:4326 lat,lon)",
            ))
        }
    }

    /// The box as a `geo` rectangle.
    pub fn rect(&self) -> Rect<f64> {
        Rect::new(self.min, self.max)
    }
}

/// The paging limits a deployment allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Items per page when the request gives no `limit`.
    pub default_limit: usize,
    /// The most items one page may hold; larger requests are clamped to it.
    pub max_limit: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { default_limit: 10, max_limit: 1000 }
    }
}

/// One page of a result: `limit` items from `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Items on the page, already clamped to the allowed maximum.
    pub limit: usize,
    /// Items skipped before the page.
    pub offset: usize,
}

impl Page {
    /// Where the previous page starts, for a `prev` link: `limit` back, or, from past the end of `matched`
    /// items, the last full page, so that `prev` always leads back to features.
    pub fn prev_offset(&self, matched: usize) -> usize {
        self.offset.saturating_sub(self.limit).min(matched.saturating_sub(self.limit))
    }

    /// Parses `limit` and `offset`, clamping `limit` to [1, max] as OGC API – Features asks.
    pub fn parse(limit: Option<&str>, offset: Option<&str>, limits: Limits) -> Result<Self, ParamError> {
        let limit = match limit {
            None => limits.default_limit,
            Some(raw) => {
                // A whole number too large for 64 bits is still only "too many": clamped like any other.
                let digits = raw.trim().strip_prefix('+').unwrap_or(raw.trim());
                let significant = digits.trim_start_matches('0');
                let huge = significant.len() > 18 && digits.bytes().all(|b| b.is_ascii_digit());
                let v: i64 = if huge {
                    i64::MAX
                } else {
                    digits.parse().map_err(|_| {
                        ParamError::new(
                            "limit",
                            format!("'{raw}' is not a whole number (1..={})", limits.max_limit),
                        )
                    })?
                };
                if v < 1 {
                    return Err(ParamError::new("limit", format!("{v} is below the minimum of 1")));
                }
                usize::try_from(v).unwrap_or(usize::MAX).min(limits.max_limit)
            }
        };
        let offset = match offset {
            None => 0,
            Some(raw) => {
                let v: i64 = raw.trim().parse().map_err(|_| {
                    ParamError::new("offset", format!("'{raw}' is not a whole number (>= 0)"))
                })?;
                usize::try_from(v).map_err(|_| ParamError::new("offset", format!("{v} is negative")))?
            }
        };
        Ok(Self { limit, offset })
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn prev_from_past_the_end_leads_to_the_last_full_page() {
        let page = |offset, limit| Page { limit, offset };
        assert_eq!(page(14, 7).prev_offset(100), 7);
        assert_eq!(page(3, 7).prev_offset(100), 0);
        assert_eq!(page(500, 7).prev_offset(100), 93);
        assert_eq!(page(500, 7).prev_offset(0), 0);
    }
    use super::*;

    #[test]
    fn bbox_with_three_numbers_is_rejected() {
        let e = Bbox::parse("1,2,3", false).unwrap_err();
        assert_eq!(e.parameter, "bbox");
        assert!(e.detail.contains("3 numbers"));
    }

    #[test]
    fn bbox_with_min_above_max_is_rejected_but_longitudes_may_cross_the_antimeridian() {
        assert!(Bbox::parse("123,42,124,41", false).is_err());
        let b = Bbox::parse("170,41,-170,42", false).unwrap();
        assert!(b.is_reversed());
        let rects = b.crs84_rects();
        assert_eq!(rects.len(), 2);
        assert_eq!((rects[0].min().x, rects[0].max().x), (170.0, 180.0));
        assert_eq!((rects[1].min().x, rects[1].max().x), (-180.0, -170.0));
        assert_eq!(Bbox::parse("123,41,124,42", false).unwrap().crs84_rects().len(), 1);
        // Latitude first (EPSG:4326): the latitudes must be ordered, the longitudes may cross.
        assert!(Bbox::parse("42,123,41,124", true).is_err());
        let b = Bbox::parse("41,170,42,-170", true).unwrap().swapped();
        assert_eq!(b, Bbox::parse("170,41,-170,42", false).unwrap());
    }

    #[test]
    fn bbox_with_six_numbers_drops_heights() {
        let b = Bbox::parse("123,41,0,124,42,100", false).unwrap();
        assert_eq!(b.max, Coord { x: 124.0, y: 42.0 });
    }

    #[test]
    fn limit_above_the_maximum_is_clamped_not_rejected() {
        let p = Page::parse(Some("100000"), None, Limits::default()).unwrap();
        assert_eq!(p.limit, 1000);
    }

    #[test]
    fn limit_zero_and_negative_offset_are_rejected() {
        assert_eq!(Page::parse(Some("0"), None, Limits::default()).unwrap_err().parameter, "limit");
        assert_eq!(Page::parse(None, Some("-1"), Limits::default()).unwrap_err().parameter, "offset");
        assert_eq!(Page::parse(Some("ten"), None, Limits::default()).unwrap_err().parameter, "limit");
    }
}
