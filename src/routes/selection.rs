//! The one parsed selection of a data request (`bbox`, `datetime`, `within`, `filter`, `sortby`, `properties`
//! and the collection's own filters), shared by items, search, proximity and tiles.

use super::QueryParams;
use super::features::crs_param;
use crate::domain::Bbox;
use crate::domain::query::{parse_f64, parse_lat, parse_lon};
use crate::error::{ApiError, ApiResult};
use crate::geom::crs::to_crs84;
use crate::geom::{self, crs::Crs};
use crate::store::cql::{self, FilterLang};
use crate::store::{Area, Catalog, Collection, Feature, Filter, ItemsQuery, ParamKind, SortKey};
use geo::Coord;

/// The parameters every items request takes besides property filters.
const ITEMS_PARAMS: &[&str] = &[
    "f",
    "bbox",
    "bbox-crs",
    "crs",
    "limit",
    "offset",
    "datetime",
    "within",
    "city_wide",
    "bom",
    "filter",
    "filter-lang",
    "filter-crs",
    "sortby",
    "properties",
];

/// A parsed selection: the store query, and the area it is confined to (`within`).
pub struct Selection {
    /// Bounding box and property filters.
    pub query: ItemsQuery,
    /// The `within` area, if any.
    pub area: Option<Area>,
    /// The `sortby` keys.
    pub sort: Vec<SortKey>,
    /// The `properties` to return (all when `None`).
    pub properties: Option<Vec<String>>,
}

impl Selection {
    /// A predicate over feature indexes: the property filters and the area.
    pub fn keeper<'a>(&'a self, catalog: &'a Catalog, c: &'a Collection) -> impl Fn(&Feature) -> bool + 'a {
        let area = self.area.as_ref().map(|a| catalog.area_test(c, a));
        move |f| {
            self.query.in_bbox(f) && self.query.matches_properties(f) && area.as_ref().is_none_or(|a| a(f))
        }
    }
}

/// Parses the selection parameters of a data request: `bbox`, `datetime`, `within`, the collection's own
/// filters (`region`, `section`, `q`…) and an equality filter for every parameter naming a queryable.
/// `reserved` are the endpoint's other parameters; anything else is a 400 naming it.
pub fn parse_selection(
    catalog: &Catalog,
    c: &Collection,
    params: &QueryParams,
    reserved: &[&str],
) -> ApiResult<Selection> {
    parse(catalog, c, params, reserved, false)
}

/// [`parse_selection`] for a ranked answer (nearest, within a distance, along): each of its features carries
/// its distance as `distance_m`, which `properties` may name as well (`properties=distance_m` for the distances
/// alone).
pub fn parse_ranked_selection(
    catalog: &Catalog,
    c: &Collection,
    params: &QueryParams,
    reserved: &[&str],
) -> ApiResult<Selection> {
    parse(catalog, c, params, reserved, true)
}

fn parse(
    catalog: &Catalog,
    c: &Collection,
    params: &QueryParams,
    reserved: &[&str],
    ranked: bool,
) -> ApiResult<Selection> {
    let mut query = ItemsQuery::default();
    let bbox_crs = crs_param(params, "bbox-crs")?;
    if let Some(raw) = params.get("bbox") {
        let bbox = Bbox::parse(raw, bbox_crs.north_first())?;
        // A collection without geometries matches every feature (Part 1, /req/core/fc-bbox-response C).
        if bbox_crs.is_crs84_alike() {
            // EPSG:4326's latitude-first box is CRS84's with its axes swapped, across the antimeridian too.
            let bbox = if bbox_crs.north_first() { bbox.swapped() } else { bbox };
            bbox.check_lon_lat()?;
            query.bbox = bbox.crs84_rects();
        } else if bbox.is_reversed() {
            return Err(ApiError::param(
                "bbox",
                format!(
                    "'{raw}': the lower corner must not exceed the upper corner in {bbox_crs} (only a box in \
                     longitude and latitude (CRS84, EPSG:4326) may cross the antimeridian, west edge east of the \
                     east edge)"
                ),
            ));
        } else {
            let rect = geom::crs::rect_to_crs84(bbox_crs, bbox.min, bbox.max)
                .map_err(|e| ApiError::param("bbox", format!("'{raw}' in {bbox_crs}: {e}")))?;
            query.bbox = vec![rect];
            // The lon/lat envelope of the box only narrows the candidates: the box itself decides, each
            // candidate taken into its CRS.
            if c.is_spatial() {
                query.filters.push(Filter::InBox { crs: bbox_crs, rect: bbox.rect() });
            }
        }
    }
    if let Some(dt) = params.get("datetime") {
        check_datetime(dt)?;
        // Collections whose records have a time (progress reports, indicator values) select by it.
        if let Some(ParamKind::Interval(start, end)) =
            c.meta.params.iter().map(|p| p.kind).find(|k| matches!(k, ParamKind::Interval(..)))
        {
            // Days on Liaoning's clock: 2024-03-31T23:00:00-08:00 is 1 April there.
            let day = |s: &str| {
                (!s.is_empty() && s != "..").then(|| {
                    crate::store::progress::day_of(s)
                        .map_or_else(|| s.chars().take(10).collect::<String>(), |d| d.to_string())
                })
            };
            let (from, to) = match dt.split_once('/') {
                Some((a, b)) => (day(a), day(b)),
                None => (day(dt), day(dt)),
            };
            query.filters.push(Filter::Interval { start, end, from, to });
        }
    }
    let mut area = None;
    if let Some(key) = params.get("within") {
        if !c.is_spatial() {
            return Err(ApiError::param("within", format!("collection '{}' has no geometries", c.id())));
        }
        if let Some(said) = catalog.ambiguous_name(key) {
            return Err(ApiError::param("within", said));
        }
        let (a, geometry) = catalog.area(key).ok_or_else(|| {
            ApiError::param(
                "within",
                format!(
                    "'{key}' is not a region id, a city/county adcode or Chinese name, or collection:featureId \
                     (a feature with a geometry, e.g. a planner's zone)"
                ),
            )
        })?;
        query.candidates_in = geom::bounding_rect(geometry);
        area = Some(a);
    }
    if let Some(on) = bool_param(params, "city_wide")? {
        match &mut area {
            Some(crate::store::Area::County { city, city_wide, .. }) => {
                *city_wide = on;
                // City-wide items sit on the city seat, which may lie outside the county.
                if on {
                    query.candidates_in = catalog
                        .cities()
                        .get(city)
                        .and_then(|f| f.geometry.as_ref())
                        .and_then(geom::bounding_rect);
                }
            }
            // Without `within` it is the projects' own `city_wide` property, filtered for equality as any
            // queryable is (GDAL sends `-where "city_wide = 1"` to the server as `?city_wide=1`).
            None if c.queryable("city_wide").is_some() => {
                query.filters.push(Filter::Eq { property: "city_wide".into(), value: on.to_string() });
            }
            _ => {
                return Err(ApiError::param(
                    "city_wide",
                    "applies to within=<county>: it adds the city-wide items of the county's city",
                ));
            }
        }
    }
    let filter_crs = crs_param(params, "filter-crs")?;
    let lang =
        FilterLang::from_param(params.get("filter-lang")).map_err(|e| ApiError::param("filter-lang", e))?;
    if let Some(raw) = params.get("filter") {
        let filter = cql::parse(raw, lang, filter_crs, c).map_err(|e| ApiError::param("filter", e.0))?;
        if query.candidates_in.is_none() {
            query.candidates_in = filter.candidates_in;
        }
        query.filters.push(Filter::Cql(Box::new(filter)));
    }
    let names = c.property_names();
    let known = |p: &str| p == "id" || names.iter().any(|n| n == p);
    let mut sort = Vec::new();
    if let Some(raw) = params.get("sortby") {
        for token in raw.split(',') {
            // A '+' sent unencoded in a query string arrives as a space.
            let (descending, name) = match token.trim_start_matches(' ').chars().next() {
                Some('-') => (true, token.trim()[1..].trim()),
                Some('+') => (false, token.trim()[1..].trim()),
                _ => (false, token.trim()),
            };
            if name.is_empty() || !known(name) {
                return Err(ApiError::param(
                    "sortby",
                    format!("'{name}' is not a property of '{}' (sortby=+name_zh,-sections)", c.id()),
                ));
            }
            sort.push(SortKey { property: name.to_owned(), descending });
        }
    }
    let properties = match params.get("properties") {
        None => None,
        Some(raw) => {
            let list: Vec<String> =
                raw.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
            if let Some(bad) = list.iter().find(|p| !(known(p) || ranked && *p == "distance_m")) {
                return Err(ApiError::param(
                    "properties",
                    format!("'{bad}' is not a property of '{}'", c.id()),
                ));
            }
            Some(list)
        }
    };
    for (name, value) in params.pairs() {
        if ITEMS_PARAMS.contains(&name.as_str()) || reserved.contains(&name.as_str()) {
            continue;
        }
        if let Some(spec) = c.meta.params.iter().find(|p| p.name == name) {
            query.filters.push(match spec.kind {
                ParamKind::Eq(property) => Filter::Eq { property: property.to_owned(), value: value.clone() },
                ParamKind::Place(codes, names) => Filter::Place { codes, names, value: value.clone() },
                ParamKind::SegmentPrefix(property) => {
                    Filter::SegmentPrefix { property, value: value.clone() }
                }
                ParamKind::Substring(properties) => {
                    Filter::Substring { properties: properties.to_vec(), value: value.to_lowercase() }
                }
                ParamKind::Interval(..) => continue,
            });
        } else if let Some(q) = c.queryable(name) {
            // A number queryable compares numbers: `length_km=abc` can match nothing, so it is a mistake to
            // say, not an empty page.
            let number =
                matches!(q.kind, crate::store::PropertyType::Number | crate::store::PropertyType::Integer);
            if number && value.trim().parse::<f64>().is_err() {
                return Err(ApiError::param(
                    name,
                    format!("'{value}' is not a number, and {name} holds numbers"),
                ));
            }
            query.filters.push(Filter::Eq { property: name.clone(), value: value.clone() });
        } else {
            let names: Vec<&str> = c
                .meta
                .params
                .iter()
                .map(|p| p.name)
                .chain(c.meta.queryables.iter().map(|q| q.name))
                .collect();
            let known: Vec<&str> = ITEMS_PARAMS.iter().chain(reserved).copied().collect();
            return Err(ApiError::param(
                name,
                format!(
                    "is neither a parameter of this endpoint ({}) nor a filter of '{}' ({})",
                    known.join(", "),
                    c.id(),
                    names.join(", ")
                ),
            ));
        }
    }
    Ok(Selection { query, area, sort, properties })
}

/// Checks `datetime` is an RFC 3339 instant or interval (`a/b`, `../b`, `a/..`). The data carries no time, so
/// every feature matches any valid value.
pub fn check_datetime(raw: &str) -> ApiResult<()> {
    let ok = |s: &str| {
        s.is_empty()
            || s == ".."
            || chrono::DateTime::parse_from_rfc3339(s).is_ok()
            // RFC 3339's full-date: 2024-02-03, not 2024-2-3.
            || crate::export::columns::is_day(s)
    };
    let parts: Vec<&str> = raw.split('/').collect();
    let valid = match parts.as_slice() {
        [one] => !one.is_empty() && *one != ".." && ok(one),
        [a, b] => ok(a) && ok(b) && !(a.is_empty() && b.is_empty()),
        _ => false,
    };
    // An interval that ends before it begins selects nothing by mistake: say so.
    let instant = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s).map(|t| t.to_utc()).ok().or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
    };
    if valid
        && let [a, b] = parts.as_slice()
        && let (Some(start), Some(end)) = (instant(a), instant(b))
        && start > end
    {
        return Err(ApiError::param("datetime", format!("'{raw}' ends before it begins")));
    }
    if valid {
        Ok(())
    } else {
        Err(ApiError::param(
            "datetime",
            format!("'{raw}' is not an RFC 3339 date-time or interval (a/b, ../b, a/..)"),
        ))
    }
}

/// A required parameter, or a 400 saying what it is.
pub fn required<'a>(params: &'a QueryParams, name: &str, what: &str) -> ApiResult<&'a str> {
    params.get(name).ok_or_else(|| ApiError::param(name, format!("is required ({what})")))
}

/// The query point from `lon`/`lat`, in `coord-crs` (default CRS84), as CRS84. In a projected `coord-crs`,
/// `lon` is the easting and `lat` the northing.
pub fn point_param(params: &QueryParams) -> ApiResult<Coord<f64>> {
    let crs = crs_param(params, "coord-crs")?;
    let raw_lon = required(params, "lon", "degrees east, CRS84")?;
    let raw_lat = required(params, "lat", "degrees north, CRS84")?;
    if crs.is_geographic() {
        let lon = parse_lon("lon", raw_lon)?;
        let lat = parse_lat("lat", raw_lat)?;
        if crs == Crs::Crs84 {
            return Ok(Coord { x: lon, y: lat });
        }
        // lon/lat are named, so they are read as such whatever the CRS's axis order.
        let c = if crs.north_first() { Coord { x: lat, y: lon } } else { Coord { x: lon, y: lat } };
        return to_crs84(crs, c).map_err(|e| ApiError::param("coord-crs", e.to_string()));
    }
    let e = parse_f64("lon", raw_lon)?;
    let n = parse_f64("lat", raw_lat)?;
    let c = if crs.north_first() { Coord { x: n, y: e } } else { Coord { x: e, y: n } };
    let out = to_crs84(crs, c).map_err(|err| ApiError::param("lon", format!("{e}, {n} in {crs}: {err}")))?;
    // Far outside a projection's area its inverse gives some longitude/latitude (1e308 in EPSG:3857 comes out
    // as the pole); only a point that projects back to where it was asked is that point.
    let back = geom::crs::from_crs84(crs, out).ok();
    let tolerance = 1.0 + 1e-9 * c.x.abs().max(c.y.abs());
    if back.is_none_or(|b| (b.x - c.x).abs() > tolerance || (b.y - c.y).abs() > tolerance) {
        return Err(ApiError::param(
            "lon",
            format!("{e}, {n} lies outside the area {crs} covers (it does not project back to itself)"),
        ));
    }
    Ok(out)
}

/// Reads `bom` (CSV: start with a UTF-8 byte-order mark for Excel).
pub fn bom_param(params: &QueryParams) -> ApiResult<bool> {
    bool_param(params, "bom").map(Option::unwrap_or_default)
}

/// A boolean parameter (`true`/`false`, `1`/`0`), if given.
fn bool_param(params: &QueryParams, name: &str) -> ApiResult<Option<bool>> {
    match params.get(name) {
        None => Ok(None),
        Some("false" | "0") => Ok(Some(false)),
        Some("true" | "1") => Ok(Some(true)),
        Some(other) => Err(ApiError::param(name, format!("'{other}' is not true or false"))),
    }
}
