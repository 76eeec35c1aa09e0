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
use tracing_actix_web::RequestId;

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
    let answer_cache_bytes = IntGauge::new(
        "planatlas_answer_cache_bytes",
        "Bytes held by the compressed-answer cache (at most --answer-cache-mib)",
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
        answer_cache_bytes,
        answer_cache_entries,
        expensive_in_flight,
        render_lock: std::sync::Mutex::new(()),
    }
});

impl Metrics {
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
        for (counter, now) in
            [(&self.answer_hits, &state.answers.hits), (&self.answer_misses, &state.answers.misses)]
        {
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

/// Records every request's route, method, status and latency.
pub async fn record_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let route = req.match_pattern().unwrap_or_else(|| "(unmatched)".to_owned());
    let method = req.method().to_string();
    let res = next.call(req).await;
    let status = match &res {
        Ok(r) => r.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    METRICS.requests.with_label_values(&[&route, &method, &status.to_string()]).inc();
    METRICS.latency.with_label_values(&[&route]).observe(start.elapsed().as_secs_f64());
    res
}

/// Marks the ETag of a compressed answer weak (`W/"…"`): the hash is of the uncompressed body, and a strong
/// tag promises the same bytes. `If-None-Match` compares weakly, so revalidation still answers 304.
pub async fn weaken_encoded_etag(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let encoded = res
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
    Ok(res)
}

/// Echoes the request id (from the tracing span) as `X-Request-Id`, so a client can quote it.
pub async fn echo_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req.extensions().get::<RequestId>().and_then(|i| HeaderValue::from_str(&i.to_string()).ok());
    let name = HeaderName::from_static("x-request-id");
    match next.call(req).await {
        Ok(mut res) => {
            if let Some(id) = id {
                res.headers_mut().insert(name, id);
            }
            Ok(res)
        }
        // Errors from the limits are turned into responses further out; mark those too.
        Err(mut err) => {
            if let Some(id) = id {
                err.add_response_mapper(move |mut res| {
                    res.headers_mut().insert(name.clone(), id.clone());
                    res
                });
            }
            Err(err)
        }
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
    let limit = Duration::from_secs_f64(settings.request_timeout_secs);
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
