//! `/collections`, `/collections/{id}`, `/items`, `/items/{featureId}` and `/queryables`.

use std::fmt::Write;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::html::{Cell, Page as HtmlPage, Span, Style};
use super::{
    Caching, Format, GEO_JSON, HTML, JSON, QueryParams, Representation, State, base_url, link, negotiate,
    respond, respond_json, respond_json_stamped,
};
use crate::domain::{Bbox, Page};
use crate::error::{ApiError, ApiResult};
use crate::geom::{self, crs::Crs};
use crate::store::admin::BOUNDARY_ATTRIBUTION;
use crate::store::cql::{self, FilterLang};
use crate::store::engine::ReadModel;
use crate::store::{Area, Catalog, Collection, Feature, Filter, ItemsQuery, ParamKind, SortKey};

/// The OGC URI of CRS84 (longitude, latitude on WGS84).
pub const CRS84: &str = "http://www.opengis.net/def/crs/OGC/1.3/CRS84";

pub fn find<'a>(model: &'a ReadModel, id: &str) -> ApiResult<&'a Collection> {
    model.catalog.collection(id).ok_or_else(|| {
        let known: Vec<&str> = model.catalog.collections().iter().map(Collection::id).collect();
        ApiError::NotFound(format!("no collection '{id}'; collections: {}", known.join(", ")))
    })
}

/// A collection's metadata document; `revision` (number, time) for the editable, versioned one.
fn collection_json(c: &Collection, base: &str, revision: Option<(i64, Option<&str>)>) -> Value {
    let href = format!("{base}/collections/{}", c.id());
    let mut doc = json!({
        "id": c.id(),
        "title": c.meta.title,
        "description": c.meta.description,
        "itemType": c.meta.item_type,
        "links": [
            link(&href, "self", JSON, "This collection"),
            link(format!("{href}?f=html"), "alternate", "text/html", "This collection as HTML"),
            link(format!("{href}/items"), "items", GEO_JSON, "The items as GeoJSON"),
            link(format!("{href}/items?f=html"), "items", "text/html", "The items as HTML"),
            link(format!("{href}/queryables"), "http://www.opengis.net/def/rel/ogc/1.0/queryables", "application/schema+json", "Properties that can be filtered on"),
        ],
    });
    if let Some((n, updated)) = revision {
        // OGC "Versioned Features": every write keeps a version, stamped by the server (transaction time).
        doc["versioning"] = json!({"timeAxis": "transaction-time", "mutationTime": "server"});
        doc["revision"] = json!(n);
        doc["updated"] = json!(updated);
    }
    if c.is_spatial() {
        // Every collection with geometries is tiled (OGC API – Tiles /req/geodata-tilesets/desc-links).
        if let Some(links) = doc["links"].as_array_mut() {
            links.push(link(
                format!("{href}/tiles"),
                "http://www.opengis.net/def/rel/ogc/1.0/tilesets-vector",
                JSON,
                "Vector tile sets of this collection",
            ));
        }
        doc["crs"] = json!(Crs::ALL.iter().map(|c| c.uri()).collect::<Vec<_>>());
        doc["storageCrs"] = json!(CRS84);
        if let Some(e) = c.extent() {
            doc["extent"] = json!({
                "spatial": {
                    "bbox": [[e.min().x, e.min().y, e.max().x, e.max().y]],
                    "crs": CRS84,
                }
            });
        }
    }
    doc
}

/// The revision a collection declares: the store's, for the editable projects.
fn revision_of<'a>(state: &State, model: &'a ReadModel, c: &Collection) -> Option<(i64, Option<&'a str>)> {
    (c.id() == "projects" && state.engine.store().is_some())
        .then_some((model.revision, model.updated.as_deref()))
}

/// `GET /collections`.
pub async fn get_collections(req: HttpRequest, state: State) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    let format = negotiate(&req, &params)?;
    let base = base_url(&req, &state.settings);
    let collections: Vec<Value> = model
        .catalog
        .collections()
        .iter()
        .map(|c| collection_json(c, &base, revision_of(&state, &model, c)))
        .collect();
    let doc = json!({
        "links": [
            link(format!("{base}/collections"), if format == Format::Json { "self" } else { "alternate" }, JSON, "The collections"),
            link(format!("{base}/collections?f=html"), if format == Format::Html { "self" } else { "alternate" }, "text/html", "The collections as HTML"),
        ],
        "collections": collections,
    });
    match format {
        Format::Json => Ok(respond_json(&req, JSON, &doc)),
        Format::Html => {
            let rows = model
                .catalog
                .collections()
                .iter()
                .map(|c| {
                    let id = c.id();
                    vec![
                        Cell::spans(vec![
                            Span::link(c.meta.title, format!("{base}/collections/{id}?f=html"))
                                .styled(Style::Break),
                            Span::text(id).styled(Style::Code),
                        ]),
                        Span::link(
                            c.features().len().to_string(),
                            format!("{base}/collections/{id}/items?f=html"),
                        )
                        .into(),
                        Cell::text(c.meta.description.clone()),
                    ]
                })
                .collect();
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("Collections", format!("{base}/collections?f=html")),
            ];
            let page = HtmlPage::new("Collections", &crumbs, BOUNDARY_ATTRIBUTION)
                .table(&["Collection", "Features", "Description"], rows);
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}

/// `GET /collections/{collectionId}`.
pub async fn get_collection(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    let c = find(&model, &path)?;
    let base = base_url(&req, &state.settings);
    let doc = collection_json(c, &base, revision_of(&state, &model, c));
    match negotiate(&req, &params)? {
        Format::Json => Ok(respond_json(&req, JSON, &doc)),
        Format::Html => {
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("Collections", format!("{base}/collections?f=html")),
                (c.meta.title, format!("{base}/collections/{}?f=html", c.id())),
            ];
            let mut page = HtmlPage::new(c.meta.title, &crumbs, BOUNDARY_ATTRIBUTION)
                .text(c.meta.description.clone())
                .paragraph(vec![Span::link(
                    format!("Browse the {} items", c.features().len()),
                    format!("{base}/collections/{}/items?f=html", c.id()),
                )]);
            if let Some(e) = c.extent() {
                page = page.text(format!(
                    "Extent (CRS84): {:.4}, {:.4} – {:.4}, {:.4}",
                    e.min().x,
                    e.min().y,
                    e.max().x,
                    e.max().y
                ));
            }
            let rows = c
                .meta
                .queryables
                .iter()
                .map(|q| {
                    vec![
                        Span::text(q.name).styled(Style::Code).into(),
                        Cell::text(q.kind.json_type()),
                        Cell::text(q.description),
                    ]
                })
                .collect();
            let page = page
                .heading("Queryable properties")
                .table(&["Name", "Type", "Meaning"], rows)
                .heading("Links")
                .links(doc["links"].as_array().map_or(&[][..], Vec::as_slice));
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}

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
    pub fn keeper<'a>(&'a self, catalog: &'a Catalog, c: &'a Collection) -> impl Fn(usize) -> bool + 'a {
        move |i| {
            self.query.matches_properties(c.feature(i))
                && self.area.as_ref().is_none_or(|a| catalog.in_area(c, i, a))
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
    let mut query = ItemsQuery::default();
    let bbox_crs = crs_param(params, "bbox-crs")?;
    if let Some(raw) = params.get("bbox") {
        let bbox = Bbox::parse(raw)?;
        if bbox_crs == Crs::Crs84 {
            bbox.check_lon_lat()?;
        }
        let rect = geom::crs::rect_to_crs84(bbox_crs, bbox.min, bbox.max)
            .map_err(|e| ApiError::param("bbox", format!("'{raw}' in {bbox_crs}: {e}")))?;
        query.bbox = Some(rect);
        if !c.is_spatial() {
            return Err(ApiError::param("bbox", format!("collection '{}' has no geometries", c.id())));
        }
    }
    if let Some(dt) = params.get("datetime") {
        check_datetime(dt)?;
    }
    let mut area = None;
    if let Some(key) = params.get("within") {
        if !c.is_spatial() {
            return Err(ApiError::param("within", format!("collection '{}' has no geometries", c.id())));
        }
        let (a, geometry) = catalog.area(key).ok_or_else(|| {
            ApiError::param(
                "within",
                format!("'{key}' is not a region id or a city/county adcode or Chinese name"),
            )
        })?;
        query.candidates_in = geom::bounding_rect(geometry);
        area = Some(a);
    }
    let filter_crs = crs_param(params, "filter-crs")?;
    let lang = match params.get("filter-lang") {
        None | Some("cql2-text") => FilterLang::Text,
        Some("cql2-json") => FilterLang::Json,
        Some(other) => {
            return Err(ApiError::param("filter-lang", format!("'{other}' is not cql2-text or cql2-json")));
        }
    };
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
            if let Some(bad) = list.iter().find(|p| !known(p)) {
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
            });
        } else if c.queryable(name).is_some() {
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

/// The instant a `projects` items request asks for with `datetime`, normalised to the store's form, when the
/// server keeps versions. Intervals (and other collections, which never change) select the current state.
fn as_of_instant(state: &State, id: &str, params: &QueryParams) -> Option<String> {
    let raw = params.get("datetime")?;
    if id != "projects" || state.engine.store().is_none() || raw.contains('/') {
        return None;
    }
    let t = chrono::DateTime::parse_from_rfc3339(raw).ok()?;
    Some(t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// Checks `datetime` is an RFC 3339 instant or interval (`a/b`, `../b`, `a/..`). The data carries no time, so
/// every feature matches any valid value.
fn check_datetime(raw: &str) -> ApiResult<()> {
    let ok = |s: &str| {
        s.is_empty()
            || s == ".."
            || chrono::DateTime::parse_from_rfc3339(s).is_ok()
            || chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
    };
    let parts: Vec<&str> = raw.split('/').collect();
    let valid = match parts.as_slice() {
        [one] => !one.is_empty() && *one != ".." && ok(one),
        [a, b] => ok(a) && ok(b) && !(a.is_empty() && b.is_empty()),
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(ApiError::param(
            "datetime",
            format!("'{raw}' is not an RFC 3339 date-time or interval (a/b, ../b, a/..)"),
        ))
    }
}

/// A feature in a GeoJSON answer. Serialised straight from the store: in CRS84 the geometry and the full
/// property set are copied from text made once per feature ([`Feature::geometry_json`]), so a page costs a
/// copy, not a tree of values built and dropped per request.
#[derive(serde::Serialize)]
pub struct FeatureOut<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    geometry: Option<JsonOut<'a>>,
    properties: PropertiesOut<'a>,
    links: [Value; 3],
}

/// JSON made earlier (borrowed text) or now.
enum JsonOut<'a> {
    Raw(&'a serde_json::value::RawValue),
    Value(Value),
}

impl serde::Serialize for JsonOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Raw(r) => r.serialize(s),
            Self::Value(v) => v.serialize(s),
        }
    }
}

/// A feature's properties in an answer: all of them or the selected ones, and the distance of a ranked query.
struct PropertiesOut<'a> {
    feature: &'a Feature,
    only: Option<&'a [String]>,
    distance_m: Option<f64>,
}

impl serde::Serialize for PropertiesOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let rounded = self.distance_m.map(|d| (d * 1000.0).round() / 1000.0);
        if self.only.is_none() {
            let all = self.feature.properties_json().get();
            let Some(d) = rounded else { return self.feature.properties_json().serialize(s) };
            // The stored text with the distance spliced in before its closing brace.
            if let (Some(body), Ok(d)) = (all.strip_suffix('}'), serde_json::to_string(&d)) {
                let sep = if body.trim_end() == "{" { "" } else { "," };
                if let Ok(spliced) =
                    serde_json::value::RawValue::from_string(format!("{body}{sep}\"distance_m\":{d}}}"))
                {
                    return spliced.serialize(s);
                }
            }
        }
        let mut map = s.serialize_map(None)?;
        for (k, v) in &self.feature.properties {
            if self.only.is_none_or(|names| names.contains(k)) {
                map.serialize_entry(k, v)?;
            }
        }
        if let Some(d) = rounded {
            map.serialize_entry("distance_m", &d)?;
        }
        map.end()
    }
}

/// One feature as GeoJSON in `crs`, with its links; `only` selects properties, `distance_m` adds one.
pub fn feature_out<'a>(
    c: &Collection,
    f: &'a Feature,
    base: &str,
    crs: Crs,
    only: Option<&'a [String]>,
    distance_m: Option<f64>,
) -> ApiResult<FeatureOut<'a>> {
    let href = format!("{base}/collections/{}/items/{}", c.id(), urlencode(&f.id));
    // `self` names this representation, so it keeps a CRS other than the default.
    let self_href =
        if crs == Crs::Crs84 { href.clone() } else { format!("{href}?crs={}", urlencode(crs.uri())) };
    let geometry = match &f.geometry {
        None => None,
        Some(_) if crs == Crs::Crs84 => f.geometry_json().map(JsonOut::Raw),
        Some(g) => Some(JsonOut::Value(
            geom::geojson_in(g, crs).map_err(|e| ApiError::Internal(format!("feature {}: {e}", f.id)))?,
        )),
    };
    Ok(FeatureOut {
        kind: "Feature",
        id: &f.id,
        geometry,
        properties: PropertiesOut { feature: f, only, distance_m },
        links: [
            link(&self_href, "self", GEO_JSON, "This feature"),
            link(format!("{href}?f=html"), "alternate", "text/html", "This feature as HTML"),
            link(format!("{base}/collections/{}", c.id()), "collection", JSON, c.meta.title),
        ],
    })
}

/// A page of features as a GeoJSON FeatureCollection; `query` echoes a ranked query's parameters.
#[derive(serde::Serialize)]
pub struct PageOut<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<&'a Value>,
    #[serde(rename = "numberMatched")]
    pub number_matched: usize,
    #[serde(rename = "numberReturned")]
    pub number_returned: usize,
    pub features: Vec<FeatureOut<'a>>,
    pub links: &'a [Value],
}

/// The `crs` of an answer from collection `c`: one of those it lists (OGC API – Features Part 2
/// `/req/crs/crs-action`); a collection without geometries lists none, so only the default applies.
fn output_crs(params: &QueryParams, c: &Collection) -> ApiResult<Crs> {
    let crs = crs_param(params, "crs")?;
    if crs != Crs::Crs84 && !c.is_spatial() {
        return Err(ApiError::param(
            "crs",
            format!("collection '{}' has no geometries, so it offers no coordinate systems", c.id()),
        ));
    }
    Ok(crs)
}

/// Reads a CRS parameter (`crs`, `bbox-crs`, `coord-crs`), CRS84 when absent; 400 listing the supported
/// ones when unknown.
pub fn crs_param(params: &QueryParams, name: &str) -> ApiResult<Crs> {
    match params.get(name) {
        None => Ok(Crs::Crs84),
        Some(raw) => Crs::parse(raw).ok_or_else(|| {
            ApiError::param(
                name,
                format!("'{raw}' is not a supported CRS; supported: {}", Crs::supported_list()),
            )
        }),
    }
}

/// Adds `Content-Crs: <uri>` to a response carrying geometries.
pub fn with_content_crs(mut resp: HttpResponse, crs: Crs) -> HttpResponse {
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&format!("<{}>", crs.uri())) {
        resp.headers_mut().insert(actix_web::http::header::HeaderName::from_static("content-crs"), v);
    }
    resp
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `GET /collections/{collectionId}/items`.
pub async fn get_items(req: HttpRequest, state: State, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let params = QueryParams::from_request(&req)?;
    items_response(&req, &state, &path, &params).await
}

/// `POST /collections/{collectionId}/search`: the items request with its parameters in a JSON body, so a
/// long cql2-json filter need not fit in a URL. `{"filter": {...cql2-json...}, "limit": 50, "sortby": "-name_zh"}`;
/// every items parameter is accepted as a member (arrays are joined with commas). Paging links are GET items
/// URLs carrying the same parameters.
pub async fn post_search(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    QueryParams::from_request(&req)?.only(&["f"])?;
    let body = super::read_json_body(&req, payload, state.settings.max_body_bytes).await?;
    let Value::Object(members) = body else {
        return Err(ApiError::param(
            "body",
            "must be a JSON object of items parameters, e.g. {\"filter\": {...}}",
        ));
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(f) = QueryParams::from_request(&req)?.get("f") {
        pairs.push(("f".into(), f.to_owned()));
    }
    for (k, v) in members {
        let text = match (&*k, v) {
            ("filter", Value::Object(o)) => {
                if !pairs.iter().any(|(n, _)| n == "filter-lang") {
                    pairs.push(("filter-lang".into(), "cql2-json".into()));
                }
                Value::Object(o).to_string()
            }
            (_, Value::String(s)) => s,
            (_, Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
            (_, Value::Null) => continue,
            (_, other) => other.to_string(),
        };
        pairs.retain(|(n, _)| *n != k);
        pairs.push((k, text));
    }
    let params = QueryParams::from_pairs(pairs);
    items_response(&req, &state, &path, &params).await
}

/// The items answer for already parsed parameters (from the query string or a search body).
async fn items_response(
    req: &HttpRequest,
    state: &State,
    id: &str,
    params: &QueryParams,
) -> ApiResult<HttpResponse> {
    let (req, params) = (req.clone(), params.clone());
    let model = match as_of_instant(state, id, &params) {
        // The catalogue as it stood then (transaction time), rebuilt from the store's versions.
        Some(at) => {
            let engine = state.engine.clone();
            let key = at.clone();
            let catalog = web::block(move || engine.as_of(&key))
                .await
                .map_err(|e| ApiError::Internal(format!("rebuilding the catalogue as of {at}: {e}")))?
                .map_err(|e| {
                    ApiError::NotFound(format!("no catalogue at {at} (before the store was seeded?): {e}"))
                })?;
            std::sync::Arc::new(ReadModel::of(std::sync::Arc::new(catalog)))
        }
        None => state.model(),
    };
    let c = find(&model, id)?;
    let state = state.clone();
    let page = Page::parse(params.get("limit"), params.get("offset"), state.settings.limits)?;
    let out_crs = output_crs(&params, c)?;
    let representation = super::negotiate_with(&req, &params, true)?;
    let bom = super::exports::bom_param(&params)?;
    let id = c.id().to_owned();
    // Parsing the filter is work that grows with the input too: it runs on the compute pool with the rest.
    let job_params = params.clone();
    let (selection, selected) = super::compute(&state, &model, move |m| {
        let c =
            m.catalog.collection(&id).ok_or_else(|| ApiError::NotFound(format!("no collection '{id}'")))?;
        let selection = parse_selection(&m.catalog, c, &job_params, &[])?;
        let mut selected = c
            .select(&selection.query, |i| selection.area.as_ref().is_none_or(|a| m.catalog.in_area(c, i, a)));
        c.sort(&mut selected, &selection.sort);
        Ok((selection, selected))
    })
    .await?;
    let format = match representation {
        Representation::Page(f) => f,
        Representation::File(export) => {
            // A file holds every matching feature unless the request pages explicitly (up to the export cap).
            let cap = state.settings.max_export_features;
            let features: Vec<usize> = if params.get("limit").is_some() || params.get("offset").is_some() {
                let limit = params.get("limit").map_or(cap, |_| page.limit);
                selected.into_iter().skip(page.offset).take(limit).collect()
            } else {
                selected
            };
            if features.len() > cap {
                return Err(ApiError::PayloadTooLarge(format!(
                    "{} features match; an export holds at most {cap} (--max-export-features): narrow the \
                     filters or page with limit/offset",
                    features.len()
                )));
            }
            let options =
                crate::export::ExportOptions { crs: out_crs, bom, properties: selection.properties.clone() };
            let filename = format!("{}.{}", c.id(), export.extension());
            return super::exports::stream(
                &state,
                &model,
                crate::export::What::Collection { id: c.id().to_owned(), features },
                export,
                options,
                &filename,
            );
        }
    };
    let matched = selected.len();
    let on_page: Vec<usize> = selected.into_iter().skip(page.offset).take(page.limit).collect();
    let base = base_url(&req, &state.settings);
    let items_href = format!("{base}/collections/{}/items", c.id());
    let here = |overrides: &[(&str, Option<String>)]| {
        let q = params.with(overrides);
        if q.is_empty() { items_href.clone() } else { format!("{items_href}?{q}") }
    };
    let (self_type, alt_type, alt_f) = match format {
        Format::Json => (GEO_JSON, "text/html", "html"),
        Format::Html => ("text/html", GEO_JSON, "json"),
    };
    let mut links = vec![
        link(here(&[]), "self", self_type, "This page"),
        link(here(&[("f", Some(alt_f.to_owned()))]), "alternate", alt_type, "This page in another format"),
    ];
    if page.offset + on_page.len() < matched {
        links.push(link(
            here(&[
                ("offset", Some((page.offset + page.limit).to_string())),
                ("limit", Some(page.limit.to_string())),
            ]),
            "next",
            self_type,
            "Next page",
        ));
    }
    if page.offset > 0 {
        let prev = page.prev_offset(matched);
        links.push(link(
            here(&[("offset", Some(prev.to_string())), ("limit", Some(page.limit.to_string()))]),
            "prev",
            self_type,
            "Previous page",
        ));
    }
    links.push(link(format!("{base}/collections/{}", c.id()), "collection", JSON, c.meta.title));

    match format {
        Format::Json => {
            let only = selection.properties.as_deref();
            let features = on_page
                .iter()
                .map(|&i| feature_out(c, c.feature(i), &base, out_crs, only, None))
                .collect::<ApiResult<Vec<_>>>()?;
            let doc = PageOut {
                kind: "FeatureCollection",
                query: None,
                number_matched: matched,
                number_returned: features.len(),
                features,
                links: &links,
            };
            Ok(with_content_crs(respond_json_stamped(&req, GEO_JSON, &doc), out_crs))
        }
        Format::Html => {
            let rows = on_page
                .iter()
                .map(|&i| {
                    let f = c.feature(i);
                    vec![
                        Span::link(f.id.clone(), format!("{items_href}/{}?f=html", urlencode(&f.id))).into(),
                        Cell::text(f.str_prop("name_zh").unwrap_or("")),
                        Cell::text(f.str_prop("name_en").unwrap_or("")),
                    ]
                })
                .collect();
            let mut paging = Vec::new();
            for l in &links {
                let rel = l["rel"].as_str().unwrap_or("");
                if rel == "next" || rel == "prev" || rel == "alternate" {
                    paging.push(Span::link(
                        l["title"].as_str().unwrap_or(rel),
                        l["href"].as_str().unwrap_or(""),
                    ));
                    paging.push(Span::text(" "));
                }
            }
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("Collections", format!("{base}/collections?f=html")),
                (c.meta.title, format!("{base}/collections/{}?f=html", c.id())),
                ("Items", format!("{items_href}?f=html")),
            ];
            let html_page = HtmlPage::new(c.meta.title, &crumbs, BOUNDARY_ATTRIBUTION)
                .text(format!("{matched} matched; showing {} from offset {}.", on_page.len(), page.offset))
                .table(&["id", "名称", "Name"], rows)
                .paragraph(paging);
            Ok(respond(&req, HTML, html_page.render()?, Caching::Data))
        }
    }
}

/// `GET /collections/{collectionId}/items/{featureId}`.
pub async fn get_item(
    req: HttpRequest,
    state: State,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f", "crs", "datetime"])?;
    let (cid, fid) = path.into_inner();
    let c = find(&model, &cid)?;
    let out_crs = output_crs(&params, c)?;
    let base = base_url(&req, &state.settings);
    let store = state.engine.store().filter(|_| cid == "projects");
    if let Some(raw) = params.get("datetime") {
        let Some(store) = store else {
            check_datetime(raw)?;
            return Err(ApiError::param(
                "datetime",
                format!("collection '{cid}' keeps no versions; its features do not change"),
            ));
        };
        return version_at(&req, store, &base, &fid, raw);
    }
    let Some(f) = c.get(&fid) else {
        // A deleted project answers 410 with a link to its last version.
        if let Some(store) = store
            && let Ok(versions) = store.versions(&fid)
            && let Some(last) = versions.iter().rev().find(|v| v.record.is_some())
            && versions.last().is_some_and(|v| v.record.is_none())
        {
            let deleted = versions.last().map(|v| v.at.clone()).unwrap_or_default();
            return Err(ApiError::Gone {
                detail: format!("feature '{fid}' was deleted at {deleted}; its last version is linked"),
                latest: format!("{base}/collections/projects/items/{fid}?datetime={}", last.at),
            });
        }
        return Err(ApiError::NotFound(format!("no feature '{fid}' in collection '{cid}'")));
    };
    match negotiate(&req, &params)? {
        Format::Json => {
            let body = super::to_json_text(&feature_out(c, f, &base, out_crs, None, None)?);
            // A stored project's tag names its version, so If-Match on a write can tell which one it saw.
            let etag = match model.version_of(&fid) {
                Some(v) => format!("\"v{v}-{:016x}\"", xxhash_rust::xxh3::xxh3_64(body.as_bytes())),
                None => super::etag_of(body.as_bytes()),
            };
            Ok(with_content_crs(super::respond_tagged(&req, GEO_JSON, body, &etag, Caching::Data), out_crs))
        }
        Format::Html => {
            let title = f.str_prop("name_zh").unwrap_or(&f.id).to_owned();
            let mut rows = vec![("id".to_owned(), Cell::text(f.id.clone()))];
            if let Some(g) = &f.geometry {
                rows.push(("geometry".to_owned(), Cell::text(crate::store::admin::geometry_type(g))));
            }
            rows.extend(f.properties.iter().map(|(k, v)| (k.clone(), Cell::value(v.clone()))));
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                ("Collections", format!("{base}/collections?f=html")),
                (c.meta.title, format!("{base}/collections/{}?f=html", c.id())),
                ("Items", format!("{base}/collections/{}/items?f=html", c.id())),
                (title.as_str(), format!("{base}/collections/{}/items/{}?f=html", c.id(), urlencode(&f.id))),
            ];
            let page = HtmlPage::new(title.as_str(), &crumbs, BOUNDARY_ATTRIBUTION)
                .key_values(rows)
                .paragraph(vec![Span::link("GeoJSON", "?f=json")]);
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}

/// A stored project as it was at `raw` (an RFC 3339 instant): the version valid then (transaction time), as
/// written (input properties; the joins are those of the current boundaries), with `Memento-Datetime`.
fn version_at(
    req: &HttpRequest,
    store: &crate::store::db::Store,
    base: &str,
    fid: &str,
    raw: &str,
) -> ApiResult<HttpResponse> {
    let at =
        chrono::DateTime::parse_from_rfc3339(raw).map(|t| t.with_timezone(&chrono::Utc)).map_err(|_| {
            ApiError::param(
                "datetime",
                format!("'{raw}' is not an RFC 3339 instant (e.g. 2026-12-01T08:00:00Z)"),
            )
        })?;
    let key = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let versions = store.versions(fid).map_err(|e| ApiError::Internal(format!("store: {e}")))?;
    if versions.is_empty() {
        return Err(ApiError::NotFound(format!("no feature '{fid}' in collection 'projects'")));
    }
    let Some(v) = versions.iter().rev().find(|v| v.at <= key) else {
        return Err(ApiError::NotFound(format!(
            "feature '{fid}' did not exist yet at {key} (first stored {})",
            versions[0].at
        )));
    };
    let Some(record) = &v.record else {
        return Err(ApiError::NotFound(format!("feature '{fid}' had been deleted by {key} (at {})", v.at)));
    };
    let mut doc: Value =
        serde_json::from_str(record).map_err(|e| ApiError::Internal(format!("stored {fid}: {e}")))?;
    doc["id"] = json!(fid);
    doc["links"] = json!([
        link(
            format!("{base}/collections/projects/items/{fid}?datetime={}", v.at),
            "self",
            GEO_JSON,
            "This version"
        ),
        link(
            format!("{base}/collections/projects/items/{fid}"),
            "latest-version",
            GEO_JSON,
            "The current version"
        ),
        link(
            format!("{base}/collections/projects/items/{fid}/versions"),
            "version-history",
            JSON,
            "Every version"
        ),
    ]);
    let memento = chrono::DateTime::parse_from_rfc3339(&v.at)
        .map(|t| t.with_timezone(&chrono::Utc).format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default();
    let body = super::to_json_text(&doc);
    let etag = format!("\"v{}-{:016x}\"", v.version, xxhash_rust::xxh3::xxh3_64(body.as_bytes()));
    let mut resp = super::respond_tagged(req, GEO_JSON, body, &etag, Caching::Data);
    if let Ok(h) = actix_web::http::header::HeaderValue::from_str(&memento) {
        resp.headers_mut().insert(actix_web::http::header::HeaderName::from_static("memento-datetime"), h);
    }
    Ok(resp)
}

/// `GET /collections/{collectionId}/queryables`: the filterable properties as a JSON Schema.
pub async fn get_queryables(
    req: HttpRequest,
    state: State,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let model = state.model();
    let params = QueryParams::from_request(&req)?;
    params.only(&["f"])?;
    let c = find(&model, &path)?;
    let base = base_url(&req, &state.settings);
    let mut props = Map::new();
    for q in &c.meta.queryables {
        let mut schema = json!({ "type": q.kind.json_type(), "description": q.description });
        if q.kind == crate::store::PropertyType::StringArray {
            schema["items"] = json!({ "type": "string" });
        }
        props.insert(q.name.to_owned(), schema);
    }
    if c.is_spatial() {
        props.insert(
            "geometry".into(),
            json!({ "format": "geometry-any", "description": "the feature's geometry (CRS84)" }),
        );
    }
    let doc = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": format!("{base}/collections/{}/queryables", c.id()),
        "type": "object",
        "title": c.meta.title,
        "properties": props,
        "additionalProperties": false,
    });
    match negotiate(&req, &params)? {
        Format::Json => Ok(respond_json(&req, "application/schema+json", &doc)),
        Format::Html => {
            let crumbs = [
                ("planatlas", format!("{base}/?f=html")),
                (c.meta.title, format!("{base}/collections/{}?f=html", c.id())),
                ("Queryables", format!("{base}/collections/{}/queryables?f=html", c.id())),
            ];
            let page = HtmlPage::new("Queryables", &crumbs, BOUNDARY_ATTRIBUTION).value(&doc["properties"]);
            Ok(respond(&req, HTML, page.render()?, Caching::Data))
        }
    }
}
