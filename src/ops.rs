//! Operations: request limits (query length, time), the request id echoed to clients, and Prometheus metrics.
//!
//! Each limit answers with an RFC 7807 problem rather than letting a request tie up the server: a query string
//! over the limit is `414`, a request running past the time limit is `503` (with `Retry-After`), and the
//! expensive endpoints (exports, posted area queries) take a slot from a fixed pool or answer `429` with
//! `Retry-After`.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

use crate::error::ApiError;
use crate::state::AppState;

/// The metrics registry and the instruments the middleware feeds.
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    tile_hits: IntCounter,
    tile_misses: IntCounter,
    tile_cache_bytes: IntGauge,
    tile_cache_tiles: IntGauge,
    answer_hits: IntCounter,
    answer_misses: IntCounter,
    answer_evictions: IntCounter,
    answer_cache_bytes: IntGauge,
    answer_cache_entries: IntGauge,
    expensive_in_flight: IntGauge,
    /// Serialises renders, which bring the tile counters up to date.
    render_lock: std::sync::Mutex<()>,
}

/// The process-wide metrics.
pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let registry = Registry::new();
    let requests = IntCounterVec::new(
        Opts::new("planatlas_http_requests_total", "HTTP requests by route pattern, method and status"),
        &["route", "method", "status"],
    )
    .expect("valid metric");
    let latency = HistogramVec::new(
        HistogramOpts::new(
            "planatlas_http_request_duration_seconds",
            "Time to the response head, by route pattern",
        )
        .buckets(vec![0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        &["route"],
    )
    .expect("valid metric");
    let tile_hits = IntCounter::new("planatlas_tile_cache_hits_total", "Tiles answered from the tile cache")
        .expect("valid metric");
    let tile_misses =
        IntCounter::new("planatlas_tile_cache_misses_total", "Tiles encoded (not in the cache)")
            .expect("valid metric");
    let tile_cache_bytes = IntGauge::new(
        "planatlas_tile_cache_bytes",
        format!("Bytes held by the tile cache (at most {})", crate::store::tiles::CACHE_BYTES),
    )
    .expect("valid metric");
    let tile_cache_tiles =
        IntGauge::new("planatlas_tile_cache_tiles", "Tiles held by the tile cache").expect("valid metric");
    let answer_hits = IntCounter::new(
        "planatlas_answer_cache_hits_total",
        "GET answers served from the compressed-answer cache",
    )
    .expect("valid metric");
    let answer_misses = IntCounter::new(
        "planatlas_answer_cache_misses_total",
        "GET answers made by a handler (kept in the cache when they may be)",
    )
    .expect("valid metric");
    let answer_evictions = IntCounter::new(
        "planatlas_answer_cache_evictions_total",
        "Answers pushed out of the compressed-answer cache to keep to its byte bound",
    )
    .expect("valid metric");
    let answer_cache_bytes = IntGauge::new(
        "planatlas_answer_cache_bytes",
        "Bytes held by the compressed-answer cache, bodies and headers (at most --answer-cache-mib)",
    )
    .expect("valid metric");
    let answer_cache_entries =
        IntGauge::new("planatlas_answer_cache_entries", "Answers held by the compressed-answer cache")
            .expect("valid metric");
    let expensive_in_flight = IntGauge::new(
        "planatlas_expensive_requests_in_flight",
        "Expensive requests (exports, posted area queries) holding a slot now",
    )
    .expect("valid metric");
    for m in [
        Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
        Box::new(latency.clone()),
        Box::new(tile_hits.clone()),
        Box::new(tile_misses.clone()),
        Box::new(tile_cache_bytes.clone()),
        Box::new(tile_cache_tiles.clone()),
        Box::new(answer_hits.clone()),
        Box::new(answer_misses.clone()),
        Box::new(answer_evictions.clone()),
        Box::new(answer_cache_bytes.clone()),
        Box::new(answer_cache_entries.clone()),
        Box::new(expensive_in_flight.clone()),
    ] {
        registry.register(m).expect("metric registered once");
    }
    Metrics {
        registry,
        requests,
        latency,
        tile_hits,
        tile_misses,
        tile_cache_bytes,
        tile_cache_tiles,
        answer_hits,
        answer_misses,
        answer_evictions,
        answer_cache_bytes,
        answer_cache_entries,
        expensive_in_flight,
        render_lock: std::sync::Mutex::new(()),
    }
});

impl Metrics {
    /// Counts one answer and its latency.
    pub fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let code = actix_web::http::StatusCode::from_u16(status).ok();
        let code = code.as_ref().map_or("000", actix_web::http::StatusCode::as_str);
        self.requests.with_label_values(&[route, method, code]).inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// The metrics in the Prometheus text format, tile cache counters read from `state`.
    pub fn render(&self, state: &AppState) -> String {
        use std::sync::atomic::Ordering;
        let _guard = self.render_lock.lock();
        let model = state.model();
        // The tile source counts on its own; bring the counters up to its figures.
        for (counter, now) in [(&self.tile_hits, &model.tiles.hits), (&self.tile_misses, &model.tiles.misses)]
        {
            let now = now.load(Ordering::Relaxed);
            counter.inc_by(now.saturating_sub(counter.get()));
        }
        for (counter, now) in [
            (&self.answer_hits, &state.answers.hits),
            (&self.answer_misses, &state.answers.misses),
            (&self.answer_evictions, &state.answers.evictions),
        ] {
            let now = now.load(Ordering::Relaxed);
            counter.inc_by(now.saturating_sub(counter.get()));
        }
        let (bytes, entries) = state.answers.size();
        self.answer_cache_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.answer_cache_entries.set(i64::try_from(entries).unwrap_or(i64::MAX));
        let (bytes, tiles) = model.tiles.cache_size();
        self.tile_cache_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.tile_cache_tiles.set(i64::try_from(tiles).unwrap_or(i64::MAX));
        let busy =
            state.settings.max_concurrent_expensive.saturating_sub(state.expensive.available_permits());
        self.expensive_in_flight.set(i64::try_from(busy).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// The id of one request: 32 hex digits, unique within the process and not guessable from outside it. It is
/// in the request's log lines, in `X-Request-Id` on the answer, and in the request's extensions for handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestId(u128);

impl RequestId {
    /// A new id: a counter hashed with a seed drawn once per process.
    pub fn next() -> Self {
        use std::hash::{BuildHasher, Hasher};
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEED: LazyLock<u64> = LazyLock::new(|| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u32(std::process::id());
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos(),
            );
            h.finish()
        });
        static COUNT: AtomicU64 = AtomicU64::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        Self(xxhash_rust::xxh3::xxh3_128_with_seed(&n.to_le_bytes(), *SEED))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Observes every request, once: gives it an id (echoed as `X-Request-Id`), runs it in a span carrying the id
/// (so what its handler logs names the request), marks the tag of a compressed answer weak (it sits outside
/// the compression), counts it by route pattern, method and status with its latency in `/metrics`, and logs
/// one line when it is answered (target `planatlas::access`; `http.method`,
/// `http.route`, `http.target`, `http.status_code`, `http.client_ip`, `duration_ms`). The route pattern is
/// matched once here for both.
pub async fn observe<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B, BoxBody>>, actix_web::Error> {
    use tracing::Instrument as _;
    let start = Instant::now();
    let id = RequestId::next();
    req.extensions_mut().insert(id);
    let route = req.match_pattern();
    let method = req.method().clone();
    let target = req.uri().path_and_query().map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
    let client = client_address(&req);
    let span = tracing::info_span!("request", request_id = %id);
    let res = next.call(req).instrument(span).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    let route = route.as_deref().unwrap_or("(unmatched)");
    let elapsed = start.elapsed();
    METRICS.observe(route, method.as_str(), status, elapsed.as_secs_f64());
    // Outside the span, with the id as a field of its own: the line needs nothing the span holds.
    tracing::event!(
        target: "planatlas::access",
        tracing::Level::INFO,
        "http.method" = %method,
        "http.route" = route,
        "http.target" = target,
        "http.status_code" = status,
        "http.client_ip" = client.as_deref(),
        duration_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
        request_id = %id,
        "answered"
    );
    let name = HeaderName::from_static("x-request-id");
    let value = HeaderValue::from_str(&id.to_string()).ok();
    match res {
        Ok(mut res) => {
            // A 304 stands for the 200 the client holds: a compressed one carried its tag weak, and the client
            // sends it back so.
            let weak_held = res.status() == actix_web::http::StatusCode::NOT_MODIFIED
                && res.response().headers().get(actix_web::http::header::ETAG).is_some_and(|tag| {
                    res.request()
                        .headers()
                        .get(actix_web::http::header::IF_NONE_MATCH)
                        .and_then(|v| v.to_str().ok())
                        .is_some_and(|held| {
                            held.split(',').any(|t| t.trim().as_bytes() == [b"W/", tag.as_bytes()].concat())
                        })
                });
            weaken_encoded_etag(res.response_mut(), weak_held);
            // The compression's own 406 (an `Accept-Encoding` refusing every coding, identity too) is a bare
            // text body: it gets the service's problem+json like every other error.
            let mut res = if res.status() == actix_web::http::StatusCode::NOT_ACCEPTABLE
                && !res.headers().contains_key(actix_web::http::header::CONTENT_TYPE)
            {
                let err = ApiError::NotAcceptable(
                    "Accept-Encoding refuses every content coding this server sends (br, gzip, deflate and \
                     identity); allow one of them"
                        .to_owned(),
                );
                let (req, _) = res.into_parts();
                ServiceResponse::new(req, err.error_response()).map_into_right_body()
            } else {
                res.map_into_left_body()
            };
            if let Some(v) = value {
                res.headers_mut().insert(name, v);
            }
            Ok(res)
        }
        // Errors from the limits are turned into responses further out; mark those too.
        Err(mut err) => {
            if let Some(v) = value {
                err.add_response_mapper(move |mut res| {
                    res.headers_mut().insert(name.clone(), v.clone());
                    res
                });
            }
            Err(err)
        }
    }
}

/// The client's address: the peer's, or, when the peer is a trusted proxy (`--trusted-proxy`), the address it
/// forwards (`Forwarded: for=` or `X-Forwarded-For`); nobody else can set what the log says.
fn client_address(req: &ServiceRequest) -> Option<String> {
    client_ip(req.request()).map(|ip| ip.to_string())
}

/// The client's IP address: the peer's, or what a trusted proxy forwards; what the access log shows and what
/// is counted per client (failed token attempts). A forwarded value that is not an address (`unknown`,
/// an obfuscated `_name`) counts as the proxy's own.
pub fn client_ip(req: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
    let peer = req.peer_addr()?.ip().to_canonical();
    let Some(settings) = req
        .app_data::<web::Data<AppState>>()
        .map(|s| &s.settings)
        .filter(|s| s.trusted_proxies.iter().any(|net| net.contains(&peer)))
    else {
        return Some(peer);
    };
    // The chain of addresses in the one header the proxies write (`--client-header`), nearest last. Proxies
    // append the address they saw to what the client sent, so only the entries from the right up to the first
    // untrusted one can be believed: that one is the client. Taking the leftmost (or reading a header the
    // proxy passes through untouched) let a client name any address it liked, and dodge the per-client count
    // of failed tokens.
    let headers = req.headers();
    let chain: Vec<String> = match settings.client_header {
        crate::config::ClientHeader::Forwarded => headers
            .get_all(actix_web::http::header::FORWARDED)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (k, v) = pair.split_once('=')?;
                    k.trim().eq_ignore_ascii_case("for").then(|| v.trim().to_owned())
                })
            })
            .collect(),
        crate::config::ClientHeader::XForwardedFor => headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|v| v.trim().to_owned())
            .collect(),
    };
    for entry in chain.iter().rev() {
        // A value that is not an address (`unknown`, an obfuscated `_name`) counts as the proxy's own.
        let Some(ip) = forwarded_address(entry) else { return Some(peer) };
        if !settings.trusted_proxies.iter().any(|net| net.contains(&ip)) {
            return Some(ip);
        }
    }
    Some(peer)
}

/// An address as a proxy forwards it: `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn forwarded_address(value: &str) -> Option<std::net::IpAddr> {
    let v = value.trim().trim_matches('"');
    let bare = v.trim_start_matches('[').split(']').next().unwrap_or_default();
    v.parse::<std::net::IpAddr>()
        .or_else(|_| v.parse::<std::net::SocketAddr>().map(|a| a.ip()))
        .or_else(|_| bare.parse::<std::net::IpAddr>())
        .ok()
        .map(|ip| ip.to_canonical())
}

/// Marks the ETag of a compressed answer weak (`W/"…"`): the hash is of the uncompressed body, and a strong
/// tag promises the same bytes. `If-None-Match` compares weakly, so revalidation still answers 304.
fn weaken_encoded_etag(res: &mut actix_web::HttpResponse<impl MessageBody>, weak_held: bool) {
    let encoded = weak_held
        || res
            .headers()
            .get(actix_web::http::header::CONTENT_ENCODING)
            .is_some_and(|e| e.as_bytes() != b"identity");
    if encoded
        && let Some(tag) = res.headers().get(actix_web::http::header::ETAG)
        && tag.as_bytes().starts_with(b"\"")
        && let Ok(weak) = HeaderValue::from_bytes(&[b"W/", tag.as_bytes()].concat())
    {
        res.headers_mut().insert(actix_web::http::header::ETAG, weak);
    }
}

fn refuse<B>(req: ServiceRequest, err: &ApiError) -> ServiceResponse<EitherBody<B, BoxBody>> {
    req.into_response(err.error_response()).map_into_right_body()
}

/// Enforces the query-string length and the request time limits.
pub async fn enforce_limits(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let settings = &state.settings;
    let query_len = req.query_string().len();
    if query_len > settings.max_query_bytes {
        let err = ApiError::UriTooLong(format!(
            "the query string has {query_len} bytes; the limit is {} (POST /collections/{{id}}/search takes long filters in a body)",
            settings.max_query_bytes
        ));
        return Ok(refuse(req, &err));
    }
    // A write is not stopped half-way: once it is committed its answer must say so (a 503 for a write that
    // went through made clients retry into 409s and 412s). It runs off the HTTP workers, and the store's own
    // lock and statement timeouts bound it. Queries posted as bodies (search, along, intersecting) are reads
    // and keep the limit.
    let method = req.method();
    let write = matches!(
        *method,
        actix_web::http::Method::PUT | actix_web::http::Method::PATCH | actix_web::http::Method::DELETE
    ) || (*method == actix_web::http::Method::POST && req.path().ends_with("/items"));
    if write {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let limit = Duration::from_secs_f64(settings.request_timeout_secs);
    // A body still arriving when the limit is near is the client's delay: the handler answers 408 a moment
    // before this 503 would fire (`routes::body_deadline`). Only a POST carries a body here, so a GET (the
    // map's load) pays nothing for it.
    if *req.method() == actix_web::http::Method::POST {
        let margin = (limit / 20).min(Duration::from_millis(250));
        req.extensions_mut().insert(BodyDeadline(tokio::time::Instant::now() + limit - margin));
    }
    match actix_web::rt::time::timeout(limit, next.call(req)).await {
        Ok(res) => Ok(res?.map_into_left_body()),
        // The request is gone with the stopped future (and a clone of it held here would break routing), so
        // the problem travels as an error, which the outer middleware (CORS, request id, metrics) and the
        // server turn into the response.
        Err(_) => {
            let err = ApiError::Unavailable {
                detail: format!(
                    "the request took longer than {:.0} s and was stopped; try a narrower one",
                    settings.request_timeout_secs
                ),
                retry_after_secs: 5,
            };
            Err(err.into())
        }
    }
}

/// When a read request's body must have arrived: a little before the request time limit that began when the
/// request did, so a stalled body is a 408 (the client's delay), not a 503 (ours).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub tokio::time::Instant);

/// A slot for an expensive request (exports, posted area queries); held until the work is done.
pub type Slot = tokio::sync::OwnedSemaphorePermit;

/// Takes a slot from the pool, or refuses with 429 and `Retry-After` when all are busy.
pub fn take_slot(state: &AppState) -> Result<Slot, ApiError> {
    state.expensive.clone().try_acquire_owned().map_err(|_| ApiError::TooManyRequests {
        detail: format!(
            "all {} slots for expensive requests (exports, area queries) are busy; retry shortly",
            state.settings.max_concurrent_expensive
        ),
        retry_after_secs: 2,
    })
}
