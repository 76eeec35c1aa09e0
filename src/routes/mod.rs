//! HTTP: the route table, and what every handler shares (query parsing, content negotiation, links, ETags).
//!
//! Handlers are thin: parse the request into domain values, ask the store, shape the response. Geometry
//! maths and file reading live in `store`/`geom`.

mod collections;
mod dispatch;
mod edit;
pub mod exports;
mod features;
pub mod html;
mod items;
mod landing;
mod locate;
mod map;
pub(crate) mod proximity;
mod reports;
mod selection;
mod tiles;

use actix_web::http::{Method, header};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::export::ExportFormat;

pub use crate::state::AppState;

/// `application/geo+json`.
pub const GEO_JSON: &str = "application/geo+json";
/// `application/json`.
pub const JSON: &str = "application/json";
/// `text/html; charset=utf-8`.
pub const HTML: &str = "text/html; charset=utf-8";

/// The route table, shared by the server and the in-process tests.
///
/// Every resource answers 405 (problem+json, with `Allow`) for methods it does not take; unknown paths fall
/// through to the app's default service (404 problem+json).
pub fn configure(cfg: &mut web::ServiceConfig) {
    get_resource(cfg, "/", landing::get_landing);
    get_resource(cfg, "/conformance", landing::get_conformance);
    get_resource(cfg, "/api", landing::get_api);
    get_resource(cfg, "/health", landing::get_health);
    get_resource(cfg, "/ready", landing::get_ready);
    get_resource(cfg, "/metrics", landing::get_metrics);
    get_resource(cfg, "/collections", collections::get_collections);
    // Everything under one collection in one scope: its id is matched once, and the rest of the path against
    // fixed names, instead of a pattern per resource tried in turn.
    let scope = web::scope("/collections/{collection_id}")
        .service(
            web::resource("")
                .route(web::get().to(collections::get_collection))
                .route(web::head().to(collections::get_collection))
                .route(web::put().to(edit::put_collection))
                .route(web::delete().to(edit::delete_collection))
                .route(options("GET, HEAD, PUT, DELETE, OPTIONS"))
                .default_service(not_allowed("GET, HEAD, PUT, DELETE, OPTIONS")),
        )
        .service(
            web::resource("/items")
                .route(web::get().to(items::get_items))
                .route(web::head().to(items::get_items))
                .route(web::post().to(edit::post_item))
                .route(web::method(Method::OPTIONS).to(edit::options_items))
                .default_service(web::to(edit::not_allowed_items)),
        )
        .service(
            web::resource("/items/{feature_id}")
                .route(web::get().to(items::get_item))
                .route(web::head().to(items::get_item))
                .route(web::put().to(edit::put_item))
                .route(web::patch().to(edit::patch_item))
                .route(web::delete().to(edit::delete_item))
                .route(web::method(Method::OPTIONS).to(edit::options_item))
                .default_service(web::to(edit::not_allowed_item)),
        )
        .service(get_only("/items/{feature_id}/versions", edit::get_versions))
        .service(post_only("/search", items::post_search))
        .service(get_only("/queryables", collections::get_queryables))
        .service(get_only("/schema", collections::get_schema))
        .service(get_only("/feature-schema", collections::get_feature_schema))
        .service(get_only("/nearest", proximity::get_nearest))
        .service(get_only("/within-distance", proximity::get_within_distance))
        .service(
            web::resource("/along")
                .route(web::get().to(proximity::get_along))
                .route(web::head().to(proximity::get_along))
                .route(web::post().to(proximity::post_along))
                .route(options("GET, HEAD, POST, OPTIONS"))
                .default_service(not_allowed("GET, HEAD, POST, OPTIONS")),
        )
        .service(post_only("/intersecting", proximity::post_intersecting))
        .service(get_only("/tiles", tiles::get_tilesets))
        .service(get_only("/tiles.json", tiles::get_collection_tilejson))
        .service(get_only("/tiles/{tms}", tiles::get_tileset))
        .service(get_only("/tiles/{tms}/{z}/{row}/{col}", tiles::get_collection_tile));
    cfg.service(scope);
    get_resource(cfg, "/locate", locate::get_locate);
    get_resource(cfg, "/reports/consistency", reports::get_consistency);
    get_resource(cfg, "/reports/data-quality", reports::get_data_quality);
    get_resource(cfg, "/reports/dispatch", dispatch::get_dispatch);
    get_resource(cfg, "/reports/summary", dispatch::get_summary);
    get_resource(cfg, "/exports/{file}", exports::get_export);
    get_resource(cfg, "/tiles.json", tiles::get_tilejson);
    get_resource(cfg, "/tiles/{z}/{x}/{y}", tiles::get_tile);
    get_resource(cfg, "/tileMatrixSets", tiles::get_tile_matrix_sets);
    get_resource(cfg, "/tileMatrixSets/{tms}", tiles::get_tile_matrix_set);
    get_resource(cfg, "/styles/default.json", map::get_style);
    get_resource(cfg, "/map", map::get_map);
    get_resource(cfg, "/assets/{file:.*}", map::get_asset);
    get_resource(cfg, "/favicon.ico", map::get_favicon);
}

/// `OPTIONS` on a resource: 200 with `Allow`, the methods it takes (the same list its 405s name).
fn options(allowed: &'static str) -> actix_web::Route {
    web::method(Method::OPTIONS).to(move |req: HttpRequest| async move { allow_answer(&req, allowed) })
}

/// The answer to `OPTIONS`: `Allow`, and for a CORS preflight (`Access-Control-Request-Method`) the same
/// methods as `Access-Control-Allow-Methods`, so a browser is told what the resource really takes (the CORS
/// middleware adds the origin headers; it leaves preflights to the routes).
pub fn allow_answer(req: &HttpRequest, allowed: &str) -> HttpResponse {
    let mut resp = HttpResponse::Ok();
    resp.insert_header((header::ALLOW, allowed));
    if req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD) {
        resp.insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, allowed));
        resp.insert_header((header::ACCESS_CONTROL_MAX_AGE, "3600"));
        if let Some(h) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            resp.insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone()));
        }
    }
    resp.finish()
}

/// The default service of a resource: 405 naming the methods it takes.
fn not_allowed(allowed: &'static str) -> actix_web::Route {
    web::to(move |req: HttpRequest| async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed { method: req.method().to_string(), allowed })
    })
}

/// Registers a GET (and HEAD) resource that answers 405 to anything else.
fn get_resource<F, Args>(cfg: &mut web::ServiceConfig, path: &str, handler: F)
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    cfg.service(get_only(path, handler));
}

/// A GET (and HEAD) resource that answers 405 to anything else.
fn get_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::get().to(handler.clone()))
        .route(web::head().to(handler))
        .route(options("GET, HEAD, OPTIONS"))
        .default_service(not_allowed("GET, HEAD, OPTIONS"))
}

/// A POST resource that answers 405 to anything else.
fn post_only<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .route(options("POST, OPTIONS"))
        .default_service(not_allowed("POST, OPTIONS"))
}

/// The answer for paths that match no route.
pub async fn not_found(req: HttpRequest) -> ApiResult<HttpResponse> {
    if req.method() == Method::OPTIONS {
        return Ok(HttpResponse::NoContent().finish());
    }
    Err(ApiError::NotFound(format!("no resource at {}; start at / for the links", req.path())))
}

/// The query string as name/value pairs, each name given at most once.
#[derive(Debug, Clone, Default)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl QueryParams {
    /// Parses the request's query string.
    pub fn from_request(req: &HttpRequest) -> ApiResult<Self> {
        // Percent-escapes that decode to no UTF-8 text (`%FF%FE`) were replaced by U+FFFD and searched for.
        if let Some(bad) = req
            .query_string()
            .split('&')
            .find(|p| percent_encoding::percent_decode_str(&p.replace('+', " ")).decode_utf8().is_err())
        {
            let name = bad.split('=').next().unwrap_or_default();
            return Err(ApiError::param(
                &percent_encoding::percent_decode_str(name).decode_utf8_lossy(),
                "its percent-escapes decode to bytes that are not UTF-8 text (encode the text as UTF-8 first)",
            ));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
            .map_err(|e| ApiError::BadRequest(format!("the query string cannot be decoded: {e}")))?;
        for (i, (name, _)) in pairs.iter().enumerate() {
            if pairs[..i].iter().any(|(n, _)| n == name) {
                return Err(ApiError::param(name, "is given more than once"));
            }
        }
        Ok(Self { pairs })
    }

    /// Parameters given as pairs (from a JSON search body), each name once.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        Self { pairs }
    }

    /// The value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Every pair, in request order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// Rejects any parameter not in `known` (OGC API: unknown parameters are a 400, not silently ignored).
    pub fn only(&self, known: &[&str]) -> ApiResult<()> {
        match self.pairs.iter().find(|(n, _)| !known.contains(&n.as_str())) {
            Some((name, _)) => Err(ApiError::param(
                name,
                format!("is not a parameter of this endpoint; known parameters: {}", known.join(", ")),
            )),
            None => Ok(()),
        }
    }

    /// The query string rebuilt with `overrides` replacing (or, with `None`, removing) parameters.
    pub fn with(&self, overrides: &[(&str, Option<String>)]) -> String {
        serde_urlencoded::to_string(self.with_pairs(overrides)).unwrap_or_default()
    }

    /// The pairs with `overrides` replacing (or, with `None`, removing) parameters.
    pub fn with_pairs(&self, overrides: &[(&str, Option<String>)]) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> =
            self.pairs.iter().filter(|(n, _)| !overrides.iter().any(|(o, _)| o == n)).cloned().collect();
        for (name, value) in overrides {
            if let Some(v) = value {
                pairs.push(((*name).to_owned(), v.clone()));
            }
        }
        pairs
    }
}

/// The representations a resource can give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JSON (GeoJSON for features).
    Json,
    /// An HTML page for people.
    Html,
}

/// What a data request asks for: a page (JSON or HTML) or a file download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// A JSON or HTML page.
    Page(Format),
    /// A file in an export format.
    File(ExportFormat),
}

/// Chooses the representation: `f` wins; otherwise the best match of `Accept`; JSON when neither is given.
pub fn negotiate(req: &HttpRequest, params: &QueryParams) -> ApiResult<Format> {
    match negotiate_with(req, params, false)? {
        Representation::Page(f) => Ok(f),
        Representation::File(_) => Err(ApiError::Internal("export chosen where none is offered".into())),
    }
}

/// [`negotiate`], also offering the export formats (for items).
pub fn negotiate_with(req: &HttpRequest, params: &QueryParams, exports: bool) -> ApiResult<Representation> {
    if let Some(f) = params.get("f") {
        let lower = f.to_ascii_lowercase();
        return match lower.as_str() {
            "json" | "geojson" | "application/json" | "application/geo+json" => {
                Ok(Representation::Page(Format::Json))
            }
            "html" | "text/html" => Ok(Representation::Page(Format::Html)),
            other => match ExportFormat::parse(other).filter(|_| exports) {
                Some(e) => Ok(Representation::File(e)),
                None => {
                    let offered = if exports {
                        let files: Vec<&str> = ExportFormat::ALL
                            .iter()
                            .filter(|e| **e != ExportFormat::GeoJson)
                            .map(|e| e.name())
                            .collect();
                        format!("json (GeoJSON), html, {}", files.join(", "))
                    } else {
                        "json or html".to_owned()
                    };
                    Err(ApiError::param(
                        "f",
                        format!("'{other}' is not a format of this resource; use {offered}"),
                    ))
                }
            },
        };
    }
    let Some(accept) = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(Representation::Page(Format::Json));
    };
    let ranges = accept_ranges(accept);
    // A type named with q=0 is "not acceptable" (RFC 9110 §12.4.2): a wildcard does not bring it back. JSON is
    // served as application/json or application/geo+json; refusing another JSON type (problem+json) leaves it.
    let refused = |rep: Representation| {
        ranges.iter().any(|(media, q)| {
            *q <= 0.0
                && specific(media, exports) == Some(rep)
                && (rep != Representation::Page(Format::Json)
                    || ["application/json", "application/geo+json"].contains(&media.as_str()))
        })
    };
    let mut best: Option<(f32, u8, Representation)> = None;
    for (media, q) in &ranges {
        let q = *q;
        if q <= 0.0 {
            continue;
        }
        // Specific types beat wildcards at equal q.
        let (rep, specificity) = if let Some(rep) = specific(media, exports) {
            (rep, 2)
        } else {
            let offered: &[Representation] = match media.as_str() {
                "application/*" | "*/*" => {
                    &[Representation::Page(Format::Json), Representation::Page(Format::Html)]
                }
                "text/*" => &[Representation::Page(Format::Html)],
                _ => &[],
            };
            match offered.iter().copied().find(|rep| !refused(*rep)) {
                Some(rep) => (rep, 1),
                None => continue,
            }
        };
        if best.is_none_or(|(bq, bs, _)| q.total_cmp(&bq).then(specificity.cmp(&bs)).is_gt()) {
            best = Some((q, specificity, rep));
        }
    }
    best.map(|(_, _, r)| r).ok_or_else(|| {
        ApiError::NotAcceptable(format!(
            "none of the media types in Accept ({accept}) is available; this resource offers application/json \
             (or application/geo+json) and text/html{}",
            if exports { ", and the export formats (text/csv, application/geopackage+sqlite3, …)" } else { "" }
        ))
    })
}

/// The media ranges of an `Accept` value with their weights (`q`, 1 when not given), media types lower-cased.
fn accept_ranges(accept: &str) -> Vec<(String, f32)> {
    accept
        .split(',')
        .map(|range| {
            let mut parts = range.split(';');
            let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            (media, q)
        })
        .collect()
}

/// For a resource that also answers as files not among the export formats (a report's CSV and XLSX): the key of
/// the file type `Accept` prefers to every JSON or HTML page (named exactly, it beats a wildcard at equal
/// weight), if any. `offered` pairs a media type with its `f` value.
pub fn accept_prefers(req: &HttpRequest, offered: &[(&str, &'static str)]) -> Option<&'static str> {
    let accept = req.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok())?;
    let mut page: (f32, u8) = (0.0, 0);
    let mut file: Option<(f32, &'static str)> = None;
    for (media, q) in accept_ranges(accept) {
        if q <= 0.0 {
            continue;
        }
        if let Some((_, key)) = offered.iter().find(|(m, _)| *m == media) {
            if file.is_none_or(|(bq, _)| q > bq) {
                file = Some((q, key));
            }
            continue;
        }
        let specificity = match specific(&media, false) {
            Some(_) => 2,
            None if ["*/*", "application/*", "text/*"].contains(&media.as_str()) => 1,
            None => continue,
        };
        if (q, specificity) > page {
            page = (q, specificity);
        }
    }
    file.filter(|(q, _)| (*q, 2) > page).map(|(_, key)| key)
}

/// The representation a media type names exactly, if this resource offers it.
fn specific(media: &str, exports: bool) -> Option<Representation> {
    match media {
        "text/html" | "application/xhtml+xml" => Some(Representation::Page(Format::Html)),
        "application/json"
        | "application/geo+json"
        | "application/schema+json"
        | "application/problem+json"
        | "application/vnd.oai.openapi+json"
        | "application/vnd.oai.openapi" => Some(Representation::Page(Format::Json)),
        other => ExportFormat::from_media_type(other).filter(|_| exports).map(Representation::File),
    }
}

pub use crate::state::base_url;

/// A link object.
pub fn link(href: impl Into<String>, rel: &str, media_type: &str, title: &str) -> Value {
    json!({ "href": href.into(), "rel": rel, "type": media_type, "title": title })
}

/// How long clients and caches may keep a response.
#[derive(Debug, Clone, Copy)]
pub enum Caching {
    /// Data that changes only on redeploy: a minute, then revalidate with the ETag.
    Data,
    /// Answers that change every request (health).
    None,
    /// The map's own resources (scripts, styles, icon), which change only with the binary: an hour, then
    /// revalidate with the ETag.
    Assets,
}

/// A 200 with a strong ETag (hash of the body), or a 304 when `If-None-Match` already has it.
pub fn respond(
    req: &HttpRequest,
    content_type: &str,
    body: impl Into<Bytes>,
    caching: Caching,
) -> HttpResponse {
    let body: Bytes = body.into();
    let etag = etag_of(&body);
    respond_tagged(req, content_type, body, &etag, caching)
}

/// A strong entity tag for these bytes.
pub fn etag_of(bytes: &[u8]) -> String {
    format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// A 200 with the given ETag, or a 304 when `If-None-Match` already has it.
pub fn respond_tagged(
    req: &HttpRequest,
    content_type: &str,
    body: impl Into<Bytes>,
    etag: &str,
    caching: Caching,
) -> HttpResponse {
    let cache_control = match caching {
        Caching::Data => "public, max-age=60, must-revalidate",
        Caching::Assets => "public, max-age=3600, must-revalidate",
        Caching::None => "no-store",
    };
    let cacheable = !matches!(caching, Caching::None);
    let matches = crate::answers::if_none_match_holds(req.headers().get(header::IF_NONE_MATCH), etag);
    if matches && cacheable {
        // The same Vary as the 200 it stands for (RFC 9110 §15.4.5): caches update stored headers from it.
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .insert_header((header::VARY, "Accept, Accept-Encoding"))
            .finish();
    }
    let mut builder = HttpResponse::Ok();
    builder
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((header::CACHE_CONTROL, cache_control));
    if cacheable {
        builder.insert_header((header::ETAG, etag)).insert_header((header::VARY, "Accept, Accept-Encoding"));
    }
    builder.body(body.into())
}

/// Serialises JSON and answers it.
pub fn respond_json(req: &HttpRequest, content_type: &str, value: &impl serde::Serialize) -> HttpResponse {
    respond(req, content_type, to_json_text(value), Caching::Data)
}

/// Adds a `Link` header (RFC 8288) holding the answer's links of these relations, as OGC API – Features
/// Part 1 recommends: clients that read headers (GDAL, `ogctests`) find paging and the queryables without
/// parsing the body.
pub fn with_link_header(mut resp: HttpResponse, links: &[Value], rels: &[&str]) -> HttpResponse {
    let quoted = |s: &str| s.replace(['"', '\\'], "");
    let parts: Vec<String> = links
        .iter()
        .filter(|l| l["rel"].as_str().is_some_and(|r| rels.contains(&r)))
        // A link to be followed with a POST body cannot be said in a header.
        .filter(|l| l.get("method").is_none())
        .filter_map(|l| {
            // A link carrying a long filter stays in the body only: a header line of hundreds of kilobytes
            // breaks clients (curl, Python's http.client) that read the body's links fine.
            let href = l["href"].as_str().filter(|h| h.len() <= MAX_HEADER_LINK_BYTES)?;
            let rel = quoted(l["rel"].as_str()?);
            Some(match l["type"].as_str() {
                Some(t) => format!("<{href}>; rel=\"{rel}\"; type=\"{}\"", quoted(t)),
                None => format!("<{href}>; rel=\"{rel}\""),
            })
        })
        .collect();
    if !parts.is_empty()
        && let Ok(v) = header::HeaderValue::from_str(&parts.join(", "))
    {
        resp.headers_mut().insert(header::LINK, v);
    }
    resp
}

/// The longest link a `Link` header carries; longer ones are in the body's `links` only.
const MAX_HEADER_LINK_BYTES: usize = 2048;

/// The relations a `Link` header carries.
pub const HEADER_RELS: &[&str] =
    &["self", "alternate", "next", "prev", "collection", "http://www.opengis.net/def/rel/ogc/1.0/queryables"];

/// JSON text of an answer. Everything answered serialises (string keys, finite numbers); should that ever
/// break, the client gets `null` and the log says why, rather than a panic.
pub(crate) fn to_json_text(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "an answer did not serialise");
        "null".to_owned()
    })
}

/// Answers a JSON object, which `write` writes into the buffer it is given, with a `timeStamp` member added
/// first, the (weak) ETag computed without it so that an unchanged result revalidates with 304 even though the
/// time moves on. The stamp is written first and the object after it, once: its opening brace becomes a space
/// (`{"timeStamp":"…", "type":…}`), so nothing is copied to make room. `size_hint` is about how long the object
/// will be: the buffer is allocated for it once.
pub fn respond_written_stamped(
    req: &HttpRequest,
    content_type: &str,
    size_hint: usize,
    write: impl FnOnce(&mut Vec<u8>),
) -> HttpResponse {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out = Vec::with_capacity(64 + size_hint);
    out.extend_from_slice(b"{\"timeStamp\":\"");
    out.extend_from_slice(now.as_bytes());
    out.extend_from_slice(b"\",");
    let at = out.len();
    write(&mut out);
    let etag = etag_of(&out[at..]);
    // An answer is kept as it is allocated (a `Bytes` of the buffer, in the answer cache too): what the hint
    // overshot by more than a quarter is given back.
    if out.capacity() > out.len() + out.len() / 4 {
        out.shrink_to_fit();
    }
    match out.get(at..at + 2) {
        Some(b"{}") => {
            out.truncate(at - 1);
            out.push(b'}');
        }
        Some([b'{', _]) => out[at] = b' ',
        // Not an object: answered as written.
        _ => drop(out.drain(..at)),
    }
    // Weak: the tag covers everything but the time stamp, so two answers with one tag differ in that member.
    respond_tagged(req, content_type, out, &format!("W/{etag}"), Caching::Data)
}

/// Reads a request body up to the configured limit, answering 413 beyond it and 415 for a non-JSON type.
pub async fn read_json_body(req: &HttpRequest, payload: web::Payload, limit: usize) -> ApiResult<Value> {
    read_json_body_as(req, payload, limit, JSON_MEDIA).await
}

/// The media types a JSON body may be sent as.
pub const JSON_MEDIA: &[&str] = &["application/json", "application/geo+json"];

/// A request body's bytes as JSON, or a 400 naming the body.
pub fn parse_json_body(bytes: &[u8]) -> ApiResult<Value> {
    use crate::store::cql::limits::{MAX_JSON_DEPTH, json_depth};
    // A body around a cql2-json filter at its limit nests a few levels more.
    let depth = json_depth(bytes);
    if depth > MAX_JSON_DEPTH + 4 {
        return Err(ApiError::param(
            "body",
            format!(
                "nests {depth} levels of JSON; the limit is {} (a cql2-json filter's operation takes two: its \
                 object and its args list)",
                MAX_JSON_DEPTH + 4
            ),
        ));
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::param("body", format!("is not valid JSON: {e}")))
}

/// Reads a JSON request body of one of the `media` types (or none named), up to `limit` bytes.
pub async fn read_json_body_as(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    media_types: &[&str],
) -> ApiResult<Value> {
    parse_json_body(&read_body(req, payload, limit, media_types).await?)
}

/// The bytes of a request body of one of the `media` types (or none named), up to `limit` bytes.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    media_types: &[&str],
) -> ApiResult<Bytes> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !(media_types.contains(&media.as_str()) || media.is_empty()) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "the body must be {}, not '{media}'",
            media_types.join(" or ")
        )));
    }
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(ApiError::PayloadTooLarge(format!("the body has {len} bytes; the limit is {limit}")));
    }
    let mut body = web::BytesMut::new();
    let deadline = body_deadline(req, 1);
    while let Some(chunk) = next_chunk(&mut payload, deadline).await? {
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(format!("the body is over the limit of {limit} bytes")));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// When a request's body must have arrived: `times` the request time limit from now (writes are not cut short
/// by it once their body is in, but a body that never finishes must not hold a connection and a worker forever).
pub fn body_deadline(req: &HttpRequest, times: u32) -> tokio::time::Instant {
    // A read's time limit began when the request did (the middleware's deadline); a write's begins now.
    if let Some(at) = actix_web::HttpMessage::extensions(req).get::<crate::ops::BodyDeadline>().map(|d| d.0) {
        return at;
    }
    let secs = req.app_data::<State>().map_or(30.0, |s| s.settings.request_timeout_secs);
    tokio::time::Instant::now() + std::time::Duration::from_secs_f64(secs) * times
}

/// The next chunk of a request body; a 408 when it has not come by `deadline`.
pub async fn next_chunk(
    payload: &mut web::Payload,
    deadline: tokio::time::Instant,
) -> ApiResult<Option<Bytes>> {
    use futures_util::StreamExt;
    match tokio::time::timeout_at(deadline, payload.next()).await {
        Err(_) => Err(ApiError::RequestTimeout(
            "the request body did not arrive within the request time limit (--request-timeout)".into(),
        )),
        Ok(None) => Ok(None),
        Ok(Some(chunk)) => {
            chunk.map(Some).map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))
        }
    }
}

/// The app state, for handlers.
pub type State = web::Data<AppState>;

/// A read of the store, run off the HTTP workers (a store that is down may take its connect timeout to say
/// so, and the workers must go on answering `/health` and reads meanwhile); `None` without a store. A store
/// that cannot answer is its own error (503 with Retry-After), never "not found".
pub async fn store_read<T, F>(state: &State, read: F) -> ApiResult<Option<T>>
where
    T: Send + 'static,
    F: FnOnce(&dyn crate::store::db::Backend) -> Result<T, crate::store::db::StoreError> + Send + 'static,
{
    if state.engine.store().is_none() {
        return Ok(None);
    }
    let engine = state.engine.clone();
    web::block(move || engine.store().map(read).transpose())
        .await
        .map_err(|e| ApiError::Internal(format!("a read of the store did not run: {e}")))?
        .map_err(ApiError::from)
}

/// Runs work that grows with the input (filtering, sorting, distances, tiles) on the compute pool, within the
/// request's time budget: 503 when the budget is spent or the pool is full (see [`crate::compute`]).
/// The job gets the same read model the handler answers from, so a write in between cannot mix two revisions.
pub async fn compute<T, F>(
    state: &State,
    model: &std::sync::Arc<crate::store::engine::ReadModel>,
    f: F,
) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce(&crate::store::engine::ReadModel) -> ApiResult<T> + Send + 'static,
{
    let model = model.clone();
    let budget = std::time::Duration::from_secs_f64(state.settings.request_timeout_secs);
    state.compute.run(budget, move || f(&model)).await
}

/// [`compute`] for a query whose loops check the budget (nearest, within a distance, a page of a small
/// collection): first here, on the HTTP worker, within `--inline-budget-ms`, where most finish well within it
/// and skip the hand-over; one that needs longer is stopped there and run again on the pool. `f` may therefore
/// run twice, so it takes what it needs by reference.
pub async fn compute_here_first<T, F>(
    state: &State,
    model: &std::sync::Arc<crate::store::engine::ReadModel>,
    f: F,
) -> ApiResult<T>
where
    T: Send + 'static,
    F: Fn(&crate::store::engine::ReadModel) -> ApiResult<T> + Send + Sync + 'static,
{
    if let Some(done) = crate::compute::try_here(state.settings.inline_budget, || f(model)) {
        return done;
    }
    compute(state, model, f).await
}
