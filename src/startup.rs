//! Building the server: bind (port 0 allowed), wire middleware and routes, report the bound address.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::Method;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};

use crate::config::Settings;
use crate::ops;
use crate::routes;
use crate::state::AppState;
use crate::store::db::StoreError;
use crate::store::engine::Engine;
use crate::store::engine::WriteError;

/// Headers a browser script may read from our responses.
const EXPOSED_HEADERS: [&str; 8] = [
    "location",
    "etag",
    "content-crs",
    "link",
    "content-disposition",
    "x-request-id",
    "retry-after",
    "memento-datetime",
];

/// A built, bound, not yet running server.
pub struct Application {
    address: SocketAddr,
    server: Server,
    shutdown_timeout: u64,
}

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_any_header()
        .expose_headers(EXPOSED_HEADERS)
        // Preflights reach the routes, which answer with the methods each resource takes
        // (`routes::allow_answer`); this middleware adds the origin headers to them as to every answer.
        .disable_preflight()
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        cors = cors.allow_any_origin().send_wildcard();
    } else {
        for o in origins {
            cors = cors.allowed_origin(o);
        }
    }
    cors
}

impl Application {
    /// Binds the listener and builds the server around an already loaded catalog.
    pub fn build(settings: Settings, engine: Arc<Engine>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.listen).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", settings.listen))
        })?;
        let address = listener.local_addr()?;
        let workers = settings.workers;
        let shutdown_timeout = settings.shutdown_timeout_secs;
        let origins = settings.cors_origins.clone();
        if engine.store().is_some() {
            watch_store(Arc::downgrade(&engine));
        }
        let state = web::Data::new(AppState::new(engine, settings));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
                .wrap(from_fn(ops::enforce_limits))
                .wrap(from_fn(crate::answers::cache_answers))
                .wrap(Compress::default())
                .wrap(from_fn(ops::observe))
                .wrap(cors(&origins))
        })
        .shutdown_timeout(shutdown_timeout)
        // Signals are handled in `run`, which also makes sure the process ends within the timeout.
        .disable_signals();
        if let Some(n) = workers {
            server = server.workers(n);
        }
        let server = server.listen(listener)?.run();
        Ok(Self { address, server, shutdown_timeout })
    }

    /// The address the server is bound to (with the real port when 0 was asked).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Runs until stopped. SIGINT or SIGTERM stop it gracefully: no new connections, requests in flight get the
    /// shutdown timeout to finish, and then the process exits whatever is still running (a watchdog thread
    /// ends it a second after the timeout should anything hang).
    pub async fn run(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let timeout = self.shutdown_timeout;
        actix_web::rt::spawn(async move {
            stop_signal().await;
            tracing::info!(timeout_s = timeout, "stop signal: finishing requests in flight, then exiting");
            crate::geom::crs::process_ending();
            let watchdog = std::thread::Builder::new().name("planatlas-shutdown".into()).spawn(move || {
                std::thread::sleep(std::time::Duration::from_secs(timeout + 1));
                tracing::warn!("requests still running after the shutdown timeout; exiting now");
                crate::telemetry::flush();
                std::process::exit(0);
            });
            if let Err(e) = watchdog {
                tracing::error!(error = %e, "cannot start the shutdown watchdog");
            }
            handle.stop(true).await;
        });
        self.server.await
    }
}

/// Waits for SIGTERM or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use actix_web::rt::signal::unix::{SignalKind, signal};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                futures_util::future::select(Box::pin(term.recv()), Box::pin(int.recv())).await;
            }
            _ => {
                let _ = actix_web::rt::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = actix_web::rt::signal::ctrl_c().await;
    }
}

/// Picks up writes another process committed to the store (`planatlas import`, another instance on the same
/// data directory or database): woken by the store's notifications (`PostgreSQL`), and every two seconds in
/// any case; ends when the engine is dropped.
fn watch_store(engine: std::sync::Weak<Engine>) {
    let spawned = std::thread::Builder::new().name("planatlas-store-watch".into()).spawn(move || {
        loop {
            let Some(engine) = engine.upgrade() else { break };
            engine.wait_for_change(std::time::Duration::from_secs(2));
            match engine.refresh() {
                Ok(true) => {
                    tracing::info!(revision = engine.model().revision, "picked up writes from the store");
                }
                // An unreachable store is logged once by the engine, and shown by /ready.
                Ok(false) | Err(WriteError::Store(StoreError::Unavailable { .. })) => {}
                Err(e) => tracing::error!(error = %e, "cannot catch up with the store"),
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the store watcher");
    }
}
