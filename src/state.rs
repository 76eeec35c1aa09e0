//! What every handler and middleware can reach: the store engine (with the current read model), the settings
//! and the pools.

use std::sync::Arc;

use crate::compute::Compute;
use crate::config::Settings;
use crate::store::engine::{Engine, ReadModel};

/// Jobs that may wait for a compute thread, per thread: enough for every connection of a busy map client
/// (hundreds) to wait its turn rather than be refused; each still has its deadline.
const QUEUE_PER_THREAD: usize = 512;

/// The application state.
pub struct AppState {
    /// The data: the current read model and the write path.
    pub engine: Arc<Engine>,
    /// Server settings (base URL, limits).
    pub settings: Settings,
    /// Slots for expensive requests (see [`crate::ops::take_slot`]).
    pub expensive: Arc<tokio::sync::Semaphore>,
    /// Where filtering, sorting, distances and tile encoding run (see [`crate::compute`]).
    pub compute: Compute,
    /// Failed token attempts per client address.
    pub failures: crate::auth::Failures,
    /// Whole-collection export files, made once per revision.
    pub exports: crate::export::files::ExportFiles,
    /// Compressed GET answers, by revision and variant (see [`crate::answers`]).
    pub answers: crate::answers::AnswerCache,
}

impl AppState {
    /// The state for an engine and settings.
    pub fn new(engine: Arc<Engine>, settings: Settings) -> Self {
        let expensive = Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent_expensive));
        let compute = Compute::new(settings.compute_threads, settings.compute_threads * QUEUE_PER_THREAD);
        let answers = crate::answers::AnswerCache::new(settings.answer_cache_bytes);
        Self {
            engine,
            settings,
            expensive,
            compute,
            failures: crate::auth::Failures::default(),
            exports: crate::export::files::ExportFiles::default(),
            answers,
        }
    }

    /// The read model now; a handler holds it for its whole request.
    pub fn model(&self) -> Arc<ReadModel> {
        self.engine.model()
    }
}

/// The base URL for links: `--base-url` when set; otherwise the request's own scheme and `Host` header.
/// `Forwarded` and `X-Forwarded-Host`/`-Proto` are believed only from a `--trusted-proxy` peer, so no client can
/// make the service write links (and the map page's script URLs) to another host. A `Host` that is not a
/// plain host name or address (with an optional port) is ignored for the server's own address.
pub fn base_url(req: &actix_web::HttpRequest, settings: &Settings) -> String {
    if let Some(base) = &settings.base_url {
        return base.clone();
    }
    let config = req.app_config();
    let from_proxy = req.peer_addr().is_some_and(|peer| {
        let ip = peer.ip().to_canonical();
        settings.trusted_proxies.iter().any(|net| net.contains(&ip))
    });
    let (scheme, host) = if from_proxy {
        let info = req.connection_info();
        (info.scheme().to_owned(), info.host().to_owned())
    } else {
        let host = req
            .headers()
            .get(actix_web::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned)
            .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
            .unwrap_or_default();
        ((if config.secure() { "https" } else { "http" }).to_owned(), host)
    };
    let scheme = if scheme == "https" { "https" } else { "http" };
    let host = if plain_host(&host) { host } else { config.host().to_owned() };
    format!("{scheme}://{host}")
}

/// A host name, IPv4 or bracketed IPv6 address, with an optional port: nothing a link could be bent with.
fn plain_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
}
