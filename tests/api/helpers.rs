//! Starting the real application on 127.0.0.1:0 and talking to it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::Duration;

use planatlas::config::Settings;
use planatlas::startup::Application;
use planatlas::store::engine::{Engine, Location};
use planatlas::store::{Catalog, DataSource};
use reqwest::blocking::{Client, Response};
use serde_json::Value;

/// A running server and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: Client,
}

/// The shipped data, loaded once per test binary.
pub fn catalog() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    CATALOG.get_or_init(|| Arc::new(Catalog::load(DataSource::Embedded).expect("shipped data loads"))).clone()
}

/// The shared server with default settings.
pub fn app() -> &'static TestApp {
    static APP: OnceLock<TestApp> = OnceLock::new();
    APP.get_or_init(|| spawn_with(Settings::local()))
}

/// A new server with these settings (for limits and configuration tests).
pub fn spawn_with(settings: Settings) -> TestApp {
    spawn_engine(settings, Arc::new(Engine::read_only_shared(catalog())))
}

/// A server with a durable store, a new temporary directory (the store's, when it is the embedded one) and
/// where the store is.
pub struct StoreApp {
    pub app: TestApp,
    pub dir: tempfile::TempDir,
    pub store: Location,
}

/// Where a test's new store is: the embedded one in `dir`, or, when `PLANATLAS_TEST_POSTGRES` names a
/// throwaway cluster (`scripts/test` sets it for its second run of the write-path tests, from
/// `scripts/pg-throwaway`), a new database on it made from its PostGIS template.
pub fn new_store(dir: &std::path::Path) -> Location {
    static N: AtomicUsize = AtomicUsize::new(0);
    match std::env::var("PLANATLAS_TEST_POSTGRES") {
        Ok(server) if !server.is_empty() => {
            let name = format!("t{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
            let out = std::process::Command::new("psql")
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &format!("{server}/postgres"), "-c"])
                .arg(format!("CREATE DATABASE {name} TEMPLATE planatlas_template"))
                .output()
                .expect("psql runs");
            assert!(out.status.success(), "createdb: {}", String::from_utf8_lossy(&out.stderr));
            Location::Postgres(format!("{server}/{name}"))
        }
        _ => Location::Dir(dir.to_owned()),
    }
}

/// The command-line options that name a store: `--data-dir DIR` or `--store URL`.
pub fn store_args(at: &Location) -> Vec<String> {
    match at {
        Location::Dir(d) => vec!["--data-dir".into(), d.display().to_string()],
        Location::Postgres(url) => vec!["--store".into(), url.clone()],
    }
}

/// The engine over a test's store (a restart, in-process).
pub fn open_store(at: &Location, layers: &[planatlas::store::layers::LayerSpec]) -> Engine {
    Engine::open_at(DataSource::Embedded, at, layers).expect("store opens")
}

/// Starts a server over a new store (seeded from the shipped projects).
pub fn spawn_store(settings: Settings) -> StoreApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = new_store(dir.path());
    let engine = Arc::new(open_store(&store, &[]));
    let app = spawn_engine(settings, engine);
    StoreApp { app, dir, store }
}

/// A new token from the real command line: `planatlas token add --name NAME --scope SCOPE` and the store's
/// `--data-dir DIR` or `--store URL`.
pub fn add_token(at: &Location, name: &str, scope: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_planatlas"))
        .args(["token", "add", "--name", name, "--scope", scope])
        .args(store_args(at))
        .output()
        .expect("planatlas token add runs");
    assert!(out.status.success(), "token add: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// A server over this engine.
pub fn spawn_engine(settings: Settings, engine: Arc<Engine>) -> TestApp {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let app = Application::build(settings, engine).expect("server binds");
            tx.send(app.address()).expect("test waits for the address");
            app.run().await.expect("server runs");
        });
    });
    let address = rx.recv_timeout(Duration::from_mins(1)).expect("server started");
    let client = Client::builder().no_proxy().timeout(Duration::from_mins(2)).build().expect("client");
    TestApp { base: format!("http://{address}"), client }
}

impl TestApp {
    /// GET a path (with query) on this server.
    pub fn get(&self, path_and_query: &str) -> Response {
        self.client.get(self.url(path_and_query)).send().expect("request completes")
    }

    /// The absolute URL of a path.
    pub fn url(&self, path_and_query: &str) -> String {
        if path_and_query.starts_with("http") {
            path_and_query.to_owned()
        } else {
            format!("{}{}", self.base, path_and_query)
        }
    }

    /// GET and parse JSON, asserting 200.
    pub fn get_json(&self, path_and_query: &str) -> Value {
        let r = self.get(path_and_query);
        let status = r.status();
        let body = r.text().expect("body");
        assert_eq!(status, 200, "GET {path_and_query}: {body}");
        serde_json::from_str(&body).expect("JSON body")
    }

    /// GET and assert a problem+json answer with this status; returns the problem document.
    pub fn get_problem(&self, path_and_query: &str, status: u16) -> Value {
        let r = self.get(path_and_query);
        assert_problem(r, status)
    }
}

/// Asserts a response is an RFC 7807 problem with `status`, and returns its body.
pub fn assert_problem(r: Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let ct = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let body = r.text().expect("body");
    assert_eq!(got, status, "expected {status}, got {got}: {body}");
    assert_eq!(ct, "application/problem+json", "content type of a {status}: {body}");
    let v: Value = serde_json::from_str(&body).expect("problem body is JSON");
    assert_eq!(v["status"], status);
    assert!(v["title"].is_string() && v["type"].is_string());
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "detail says what is wrong: {v}");
    v
}

/// The Python that has the test clients (cql2, schemathesis, `OWSLib`): `PLANATLAS_PYTHON`, else the venv
/// `scripts/setup --test` makes, else `python3` from `PATH`.
pub fn python() -> String {
    if let Ok(p) = std::env::var("PLANATLAS_PYTHON") {
        return p;
    }
    let venv = std::env::var("HOME").map(|h| format!("{h}/.cache/planatlas/venv/bin/python3"));
    match venv {
        Ok(v) if std::path::Path::new(&v).exists() => v,
        _ => "python3".to_owned(),
    }
}

/// Runs an external program, returning (success, stdout+stderr).
pub fn run(program: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(program)
        .args(args)
        .env("GDAL_HTTP_TIMEOUT", "120")
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (the test command installs it): {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A small seeded generator (`SplitMix64`) so random cases are the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The tile containing a longitude/latitude at zoom z.
pub fn tile_of(lon: f64, lat: f64, z: u32) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y = ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (x, y)
}

/// The tag `key` of a feature as a string.
pub fn tag(layer: &geozero::mvt::tile::Layer, f: &geozero::mvt::tile::Feature, key: &str) -> Option<String> {
    let k = layer.keys.iter().position(|x| x == key)? as u32;
    let t = f.tags.chunks(2).find(|t| t[0] == k)?;
    layer.values[t[1] as usize].string_value.clone()
}

/// The `Feature Count:` `ogrinfo -so` prints (the first layer's).
pub fn feature_count(ogrinfo: &str) -> u64 {
    ogrinfo
        .split("Feature Count: ")
        .nth(1)
        .and_then(|s| s.lines().next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no feature count in {ogrinfo}"))
}
