//! The compressed-answer cache: the gzip, brotli or identity bytes of a GET answer (pages, features, tiles,
//! documents) kept by (data revision, day, request, negotiated variant), so a map client asking again for what
//! it, or any other client, asked before gets bytes already made and compressed, with no handler work.
//!
//! Only answers that say they may be cached are kept: a 200 with an `ETag`, a public `Cache-Control`, a body
//! of known size under [`MAX_ENTRY_BYTES`], no `Content-Encoding` of its own. `--answer-cache-mib` bounds the
//! memory (default [`MAX_BYTES`]; 0 turns it off). Exports (files with ranges),
//! health, readiness, metrics and requests carrying credentials or a `Range` pass by.
//!
//! An answer is kept the second time it is asked for within a while, not the first: a map's tiles and pages
//! come back, while a nearest query at a point no one asks twice would only push useful entries out and cost a
//! copy. A small table of recently seen keys ([`SEEN_SLOTS`] slots, one hash each) remembers the first time.
//!
//! The revision in the key is the revision at which the data the answer shows last changed: for an answer
//! that shows one collection's data and nothing else (`/collections/counties/items`, a layer's nearest, not a
//! stored collection nor a corridor), that collection's
//! ([`crate::store::engine::ReadModel::revision_of`]); for anything else the store's. A write makes the entries of what it changed unreachable and leaves the others
//! (a planner's layer, the counties when only a project's name changed) to be served on; unreachable entries
//! leave as the byte bound pushes the oldest out. The day is part of the key too, for answers that depend on
//! the date (the current quarter).

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{HttpResponse, ResponseError};

use chrono::Datelike as _;

use crate::state::AppState;
use crate::store::engine::ReadModel;

/// The default bound on the bytes of answers kept (the compressed sizes); `--answer-cache-mib` sets another.
pub const MAX_BYTES: usize = 128 * 1024 * 1024;
/// Answers larger than this (uncompressed) are not kept.
pub const MAX_ENTRY_BYTES: usize = 8 * 1024 * 1024;

/// Answers from this size up are compressed on the compute pool (with the request's deadline) rather than on
/// the HTTP worker: a megabyte of brotli takes tens of milliseconds, a worker must not be held that long.
pub const POOL_ENCODE_BYTES: u64 = 256 * 1024;
/// Slots of the table of keys seen once (a power of two; 8 bytes each).
pub const SEEN_SLOTS: usize = 1 << 16;

/// How an answer's bytes are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Brotli (quality 5: a good ratio at a cost paid once per entry; 3 for large answers).
    Brotli,
    /// Gzip (level 6; 1 for large answers).
    Gzip,
    /// As made.
    Identity,
}

impl Encoding {
    /// The best encoding the client accepts: brotli, then gzip, else identity (`q=0` refuses one).
    pub fn negotiate(accept: Option<&HeaderValue>) -> Self {
        let Some(accept) = accept.and_then(|v| v.to_str().ok()) else { return Self::Identity };
        // Each coding's weight (RFC 9110 §12.5.3): its own entry, else `*`'s; `None` when neither is given.
        // The heaviest of br and gzip wins (br on a tie); none above 0 is identity.
        let weight = |name: &str| -> Option<f32> {
            let mut star = None;
            for part in accept.split(',') {
                let mut it = part.split(';');
                let coding = it.next().unwrap_or("").trim();
                // The weight's name is case-insensitive (`Q=0` refuses as `q=0` does).
                let q = it
                    .find_map(|p| {
                        let p = p.trim();
                        p.get(..2)
                            .filter(|n| n.eq_ignore_ascii_case("q="))
                            .map(|_| p[2..].trim().parse::<f32>().unwrap_or(0.0))
                    })
                    .unwrap_or(1.0);
                if coding.eq_ignore_ascii_case(name) {
                    return Some(q);
                }
                if coding == "*" {
                    star = Some(q);
                }
            }
            star
        };
        let (br, gzip) = (weight("br").unwrap_or(0.0), weight("gzip").unwrap_or(0.0));
        // Identity is acceptable unless refused, so fully acceptable when not named; a client weighting it above
        // every coding (`gzip;q=0.001, identity`) gets the bytes as made. On a tie a coding wins.
        let identity = weight("identity").unwrap_or(1.0);
        if identity > br.max(gzip) {
            Self::Identity
        } else if br > 0.0 && br >= gzip {
            Self::Brotli
        } else if gzip > 0.0 {
            Self::Gzip
        } else {
            Self::Identity
        }
    }

    fn header(self) -> Option<&'static str> {
        match self {
            Self::Brotli => Some("br"),
            Self::Gzip => Some("gzip"),
            Self::Identity => None,
        }
    }

    /// The bytes encoded. Up to [`POOL_ENCODE_BYTES`] at gzip 6 / brotli 5, a good ratio for answers that
    /// are kept and served again; larger ones at the levels the compression middleware uses (gzip 1, brotli
    /// 3), several times faster, so big pages keep their throughput.
    fn encode(self, bytes: &[u8]) -> std::io::Result<Bytes> {
        let large = bytes.len() as u64 >= POOL_ENCODE_BYTES;
        match self {
            Self::Identity => Ok(Bytes::copy_from_slice(bytes)),
            Self::Gzip => {
                let level = if large { flate2::Compression::fast() } else { flate2::Compression::new(6) };
                let mut e = flate2::write::GzEncoder::new(Vec::new(), level);
                e.write_all(bytes)?;
                let mut out = e.finish()?;
                // Kept in the cache: no spare capacity held beyond what the bound counts.
                out.shrink_to_fit();
                Ok(Bytes::from(out))
            }
            Self::Brotli => {
                let mut out = Vec::new();
                {
                    let quality = if large { 3 } else { 5 };
                    let mut w = brotli::CompressorWriter::new(&mut out, 64 * 1024, quality, 22);
                    w.write_all(bytes)?;
                }
                out.shrink_to_fit();
                Ok(Bytes::from(out))
            }
        }
    }
}

/// One kept answer.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// A request's key: a 128-bit hash of everything the answer depends on (see [`key`]).
type Key = u128;

#[derive(Default)]
struct Inner {
    map: HashMap<Key, Arc<Answer>>,
    /// Keys, oldest first, for eviction.
    order: VecDeque<Key>,
    bytes: usize,
}

/// Bytes a kept answer is counted for: its body, its headers (names, values and their map's overhead) and a
/// fixed share for its key, its place in the map and the eviction queue.
fn footprint(answer: &Answer) -> usize {
    let headers: usize = answer.headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 128).sum();
    answer.body.len() + headers + 256
}

/// The cache, shared by every worker.
pub struct AnswerCache {
    inner: Mutex<Inner>,
    /// Keys asked for once recently (a hash each, by slot), so the second asking keeps the answer.
    seen: Box<[AtomicU64]>,
    /// At most this many bytes are kept; 0: nothing is.
    max_bytes: usize,
    /// Answers served from the cache.
    pub hits: AtomicU64,
    /// Answers made (and kept when they may be).
    pub misses: AtomicU64,
    /// Answers pushed out to keep to the byte bound.
    pub evictions: AtomicU64,
}

impl Default for AnswerCache {
    fn default() -> Self {
        Self::new(MAX_BYTES)
    }
}

impl AnswerCache {
    /// A cache holding at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        let slots = if max_bytes > 0 { SEEN_SLOTS } else { 0 };
        Self {
            inner: Mutex::default(),
            seen: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            max_bytes,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// Whether anything is kept.
    pub fn enabled(&self) -> bool {
        self.max_bytes > 0
    }

    fn get(&self, key: Key) -> Option<Arc<Answer>> {
        self.inner.lock().ok()?.map.get(&key).cloned()
    }

    /// Whether `key` was asked for recently; notes it when it was not. Two keys may share a slot, and the later
    /// one then takes it: the table forgets, it never keeps what was asked for once.
    fn seen_before(&self, key: Key) -> bool {
        let Some(slot) = self.seen.get((key as usize) & (self.seen.len().max(1) - 1)) else { return false };
        // The high half, never 0 (an empty slot).
        let tag = ((key >> 64) as u64) | 1;
        slot.swap(tag, Ordering::Relaxed) == tag
    }

    fn put(&self, key: Key, answer: Answer) -> Arc<Answer> {
        let answer = Arc::new(answer);
        let size = footprint(&answer);
        if size > self.max_bytes {
            return answer;
        }
        let Ok(mut inner) = self.inner.lock() else { return answer };
        while inner.bytes + size > self.max_bytes {
            let Some(old) = inner.order.pop_front() else { break };
            if let Some(a) = inner.map.remove(&old) {
                inner.bytes -= footprint(&a);
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(previous) = inner.map.insert(key, answer.clone()) {
            inner.bytes -= footprint(&previous);
        } else {
            inner.order.push_back(key);
        }
        inner.bytes += size;
        answer
    }

    /// (bytes, entries) held now.
    pub fn size(&self) -> (usize, usize) {
        self.inner.lock().map(|i| (i.bytes, i.map.len())).unwrap_or_default()
    }
}

/// Whether a request may be answered from (and kept in) the cache.
fn cacheable(req: &ServiceRequest) -> bool {
    let path = req.path();
    req.method() == actix_web::http::Method::GET
        && !req.headers().contains_key(header::AUTHORIZATION)
        && !req.headers().contains_key(header::RANGE)
        && !req.headers().contains_key(header::COOKIE)
        && !matches!(path, "/health" | "/ready" | "/metrics")
        && !path.starts_with("/exports/")
}

/// The collection a path's answer shows (`/collections/{id}` and everything under it), if any.
fn collection_of(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("/collections/")?;
    Some(rest.split('/').next().unwrap_or(rest)).filter(|id| !id.is_empty())
}

/// The collection whose revision an answer may be keyed by: one whose answers show nothing but its own data.
/// Not the stored ones (projects, progress reports, indicator values), whose answers also show versions,
/// histories and the store's revision; not corridors (`/along` follows a project's line), nor requests naming
/// another collection's feature (`within=layer:id`) or a time (`datetime`): those are keyed by the store's
/// revision, which every write moves. The names are read as the handlers read them, percent-decoded (`%77ithin`
/// is `within`); a path with any percent-escape is keyed by the store's revision (the router decodes it, and
/// `/alon%67` is `/along`).
fn self_contained(req: &ServiceRequest) -> Option<&str> {
    let path = req.path();
    if path.contains('%') {
        return None;
    }
    let id = collection_of(path)?;
    let other = req.query_string().split('&').any(|pair| {
        let raw = pair.split('=').next().unwrap_or_default();
        // Decoded only when escaped: the common name is compared in place, with no copy.
        let name: std::borrow::Cow<'_, str> = if raw.contains(['%', '+']) {
            percent_encoding::percent_decode_str(&raw.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
                .into()
        } else {
            raw.into()
        };
        name.eq_ignore_ascii_case("within") || name.eq_ignore_ascii_case("datetime")
    });
    let stored = crate::store::engine::STORED.contains(&id);
    (!stored && !path.ends_with("/along") && !other).then_some(id)
}

/// Everything a GET answer depends on besides the data: the revision at which what it shows last changed and
/// the day, the path and query, what the client accepts, and the service's own address as this request gets
/// it (the links' base: forwarded headers count only from a trusted proxy, so a client sending a proxy's
/// headers directly gets, and keeps, answers of its own); hashed (128 bits) with a separator between the parts.
fn key(
    req: &ServiceRequest,
    model: &ReadModel,
    settings: &crate::config::Settings,
    encoding: Encoding,
) -> Key {
    let revision = self_contained(req).map_or(model.revision, |c| model.revision_of(c));
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(&revision.to_le_bytes());
    h.update(&crate::store::engine::store_epoch().to_le_bytes());
    h.update(&model.catalog.state_day().num_days_from_ce().to_le_bytes());
    let mut part = |bytes: &[u8]| {
        h.update(&(bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    part(req.path().as_bytes());
    part(req.query_string().as_bytes());
    part(req.headers().get(header::ACCEPT).map_or(&[][..], HeaderValue::as_bytes));
    part(crate::state::base_url(req.request(), settings).as_bytes());
    part(&[encoding as u8]);
    h.digest128()
}

/// Whether an `If-None-Match` value already holds this entity tag (weak comparison, RFC 9110 §13.1.2: `W/`
/// prefixes aside, the tags must be equal; `*` holds any). Shared with the handlers' own answers.
pub fn if_none_match_holds(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    if_none_match
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == "*" || bare(t) == bare(etag)))
}

fn respond(req: ServiceRequest, answer: &Answer) -> ServiceResponse<BoxBody> {
    if let Some(etag) = answer.headers.get(header::ETAG).and_then(|e| e.to_str().ok())
        && if_none_match_holds(req.headers().get(header::IF_NONE_MATCH), etag)
    {
        let mut res = HttpResponse::NotModified();
        for name in [header::ETAG, header::CACHE_CONTROL, header::VARY] {
            if let Some(v) = answer.headers.get(&name) {
                res.insert_header((name, v.clone()));
            }
        }
        return req.into_response(res.finish());
    }
    let mut res = HttpResponse::build(answer.status);
    for (name, value) in &answer.headers {
        // `identity` only told the compression middleware to leave the answer alone; it is not sent, as the
        // answer made afresh does not send it.
        if name == header::CONTENT_ENCODING && value.as_bytes().eq_ignore_ascii_case(b"identity") {
            continue;
        }
        res.append_header((name.clone(), value.clone()));
    }
    req.into_response(res.body(answer.body.clone()))
}

/// The middleware: answers from the cache, or makes the answer, keeps it compressed when it may, and serves
/// it. It sits inside the compression middleware, which leaves an answer that is already encoded alone.
pub async fn cache_answers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    if !state.answers.enabled() || !cacheable(&req) {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    }
    let encoding = Encoding::negotiate(req.headers().get(header::ACCEPT_ENCODING));
    let model = state.model();
    let key = key(&req, &model, &state.settings, encoding);
    drop(model);
    let cache = &state.answers;
    if let Some(answer) = cache.get(key) {
        cache.hits.fetch_add(1, Ordering::Relaxed);
        return Ok(respond(req, &answer));
    }
    cache.misses.fetch_add(1, Ordering::Relaxed);
    // Asked for the first time (lately): answered as made, noted, not kept.
    let first_time = !cache.seen_before(key);
    let res = next.call(req).await?;
    let plain_ok = res.status() == StatusCode::OK && !res.headers().contains_key(header::CONTENT_ENCODING);
    let size = match res.response().body().size() {
        BodySize::Sized(n) => Some(n),
        _ => None,
    };
    let keep = !first_time
        && plain_ok
        && res.headers().contains_key(header::ETAG)
        && res
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.contains("public") && !c.contains("no-store"))
        && size.is_some_and(|n| n <= MAX_ENTRY_BYTES as u64);
    // A large answer is compressed on the compute pool, never on the HTTP worker that also answers /health.
    let large = plain_ok && encoding != Encoding::Identity && size.is_some_and(|n| n >= POOL_ENCODE_BYTES);
    if !keep && !large {
        return Ok(res.map_into_boxed_body());
    }
    let (req, res) = res.into_parts();
    let status = res.status();
    let mut headers = res.headers().clone();
    let Ok(body) = actix_web::body::to_bytes(res.into_body()).await else {
        let e = crate::error::ApiError::Internal("the answer's body could not be read".into());
        return Ok(ServiceResponse::new(req, e.error_response()));
    };
    let encoded = if large {
        let budget = std::time::Duration::from_secs_f64(state.settings.request_timeout_secs);
        let plain = body.clone();
        state
            .compute
            .run(budget, move || {
                encoding.encode(&plain).map_err(|e| crate::error::ApiError::Internal(e.to_string()))
            })
            .await
            .ok()
    } else {
        encoding.encode(&body).ok()
    };
    // Not compressed (the pool busy, out of time): the answer goes as made rather than not at all, and not
    // compressed on the worker after all.
    let (keep, encoding, encoded) = match encoded {
        Some(e) => (keep, encoding, e),
        None => (false, Encoding::Identity, body),
    };
    if let Some(coding) = encoding.header() {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(coding));
    } else {
        // Kept as made: tell the compression middleware to leave it alone.
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("identity"));
    }
    headers.insert(header::VARY, HeaderValue::from_static("Accept, Accept-Encoding"));
    headers.remove(header::CONTENT_LENGTH);
    if !keep {
        let mut res = HttpResponse::build(status);
        for (name, value) in &headers {
            res.append_header((name.clone(), value.clone()));
        }
        return Ok(ServiceResponse::new(req, res.body(encoded)).map_into_boxed_body());
    }
    let answer = cache.put(key, Answer { status, headers, body: encoded });
    let service_request = ServiceRequest::from_request(req);
    Ok(respond(service_request, &answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_accepted_encoding_is_chosen() {
        let n = |s: &str| Encoding::negotiate(Some(&HeaderValue::from_str(s).unwrap()));
        assert_eq!(n("gzip, deflate, br"), Encoding::Brotli);
        assert_eq!(n("gzip, br;q=0"), Encoding::Gzip);
        assert_eq!(n("gzip, br;Q=0"), Encoding::Gzip, "the weight's name is case-insensitive");
        assert_eq!(n("gzip;q=0.001, identity"), Encoding::Identity, "identity weighted above gzip");
        assert_eq!(n("gzip, identity;q=0.5"), Encoding::Gzip);
        assert_eq!(n("gzip, identity"), Encoding::Gzip, "a tie goes to the coding");
        assert_eq!(n("identity"), Encoding::Identity);
        assert_eq!(n("br;q=0.5, gzip;q=1"), Encoding::Gzip);
        assert_eq!(n("*;q=0.2, gzip;q=0.1"), Encoding::Brotli);
        assert_eq!(n("*;q=0"), Encoding::Identity);
        assert_eq!(Encoding::negotiate(None), Encoding::Identity);
    }

    #[test]
    fn the_cache_keeps_to_its_byte_bound_oldest_out_first() {
        let c = AnswerCache::new(3_000);
        let big = || Answer {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from(vec![0u8; 1_000]),
        };
        for i in 0..5 {
            c.put(i, big());
        }
        let (bytes, n) = c.size();
        assert!(bytes <= 3_000 && n == 2, "{bytes} bytes in {n} entries");
        assert!(c.get(0).is_none() && c.get(4).is_some());
    }

    #[test]
    fn a_key_is_seen_before_only_from_its_second_asking() {
        let c = AnswerCache::new(3_000);
        let k: Key = 0x1234_5678_9abc_def0_1122_3344_5566_7788;
        assert!(!c.seen_before(k));
        assert!(c.seen_before(k));
        // Another key in the same slot takes it over.
        let other = k ^ (1 << 100);
        assert!(!c.seen_before(other));
        assert!(!c.seen_before(k));
        assert!(!AnswerCache::new(0).seen_before(k), "a cache that keeps nothing sees nothing");
    }

    #[test]
    fn paths_under_a_collection_name_it() {
        assert_eq!(collection_of("/collections/counties/items"), Some("counties"));
        assert_eq!(collection_of("/collections/projects"), Some("projects"));
        assert_eq!(collection_of("/collections"), None);
        assert_eq!(collection_of("/collections/"), None);
        assert_eq!(collection_of("/tiles/5/26/12.mvt"), None);
    }

    #[test]
    fn encodings_round_trip() {
        let text = "辽宁 planatlas ".repeat(500);
        let gz = Encoding::Gzip.encode(text.as_bytes()).unwrap();
        let mut back = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&gz[..]), &mut back).unwrap();
        assert_eq!(back, text);
        let br = Encoding::Brotli.encode(text.as_bytes()).unwrap();
        let mut back = Vec::new();
        std::io::Read::read_to_end(&mut brotli::Decompressor::new(&br[..], 4096), &mut back).unwrap();
        assert_eq!(back, text.as_bytes());
        assert!(br.len() < text.len() / 10);
    }
}
