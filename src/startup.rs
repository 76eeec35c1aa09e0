//! Building the server: bind (port 0 allowed), wire middleware and routes, report the bound address.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::{Server, ServerHandle};
use actix_web::http::Method;
use actix_web::middleware::{Compress, from_fn};
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::config::Settings;
use crate::ops;
use crate::routes::{self, AppState};
use crate::store::Catalog;

/// Headers a browser script may read from our responses.
const EXPOSED_HEADERS: [&str; 6] =
    ["location", "etag", "content-crs", "link", "content-disposition", "x-request-id"];

/// A built, bound, not yet running server.
pub struct Application {
    address: SocketAddr,
    server: Server,
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
    pub fn build(settings: Settings, catalog: Arc<Catalog>) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.listen).map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", settings.listen))
        })?;
        let address = listener.local_addr()?;
        let workers = settings.workers;
        let origins = settings.cors_origins.clone();
        let state = web::Data::new(AppState::new(catalog, settings));
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
                .wrap(from_fn(ops::enforce_limits))
                .wrap(from_fn(ops::echo_request_id))
                .wrap(Compress::default())
                .wrap(from_fn(ops::weaken_encoded_etag))
                .wrap(TracingLogger::default())
                .wrap(from_fn(ops::record_metrics))
                .wrap(cors(&origins))
        })
        .shutdown_timeout(30);
        if let Some(n) = workers {
            server = server.workers(n);
        }
        let server = server.listen(listener)?.run();
        Ok(Self { address, server })
    }

    /// The address the server is bound to (with the real port when 0 was asked).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Runs until stopped (SIGINT/SIGTERM stop it gracefully, finishing requests in flight).
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}
