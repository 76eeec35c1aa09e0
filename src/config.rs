//! Command line and environment: what the binary can be asked to do, validated once into [`Settings`].

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::Limits;
use crate::export::ExportFormat;
use crate::geom::crs::Crs;
use crate::store::DataSource;
use crate::store::layers::LayerSpec;

/// planatlas: the Liaoning "one circle, one belt, two zones" plan as an OGC API – Features service.
///
/// Serves the plan's four regions, its 14 cities and 100 counties, and the plan's projects, with proximity
/// and "which region is this place in" queries, to web maps, planners and GIS tools (QGIS, GDAL, ArcGIS).
/// What `--help` says about the limits every request is held to.
const LIMITS_HELP: &str = "Limits on every request:\n  \
    - CQL2 filters: nesting at most 64 levels deep (each parenthesis and NOT in cql2-text; in \
    cql2-json 120 levels of JSON, two per operation), at most 1000 operators (AND, OR, NOT, arithmetic), at most 10000 values in one IN list; over a \
    limit is a 400 naming it. LIKE is matched in time linear in the text.\n  \
    - Filtering, sorting, distances and tile encoding run on the compute threads (--compute-threads) and stop \
    with 503 when --request-timeout is spent; /health keeps answering meanwhile.\n  \
    - Query strings over --max-query-bytes are 414; bodies over --max-body-bytes are 413.\n  \
    - Links use --base-url, else the Host header; Forwarded/X-Forwarded-* only from --trusted-proxy peers.";

/// With no subcommand it runs `serve`.
#[derive(Debug, Parser)]
#[command(
    name = "planatlas",
    version,
    args_conflicts_with_subcommands = true,
    max_term_width = 110,
    after_long_help = LIMITS_HELP
)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for `serve` when no subcommand is given.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve(Box<ServeArgs>),
    /// Load and validate the data, print what was loaded and how long it took, and exit (status 1 on a bad file).
    Check(DataArgs),
    /// Write a collection, or the whole plan, to a file GIS tools open: the same file the HTTP export serves
    /// (`/collections/{id}/items?f=..`, `/exports/planatlas.gpkg`).
    Export(ExportArgs),
    /// Manage write tokens: `token add --name 沈阳市发展改革委 --scope city:210100` prints a new token once (only
    /// its SHA-256 hash is stored); `token list`; `token revoke ID`.
    Token(TokenArgs),
    /// Import projects from a GeoJSON or GeoPackage file into the store, all or nothing: validated with the
    /// loader's rules, new ids created, changed ones replaced (each a version by "import"), then committed in
    /// one transaction. Reports what was created and changed. A running server on the same data directory
    /// picks the change up within seconds.
    Import(ImportArgs),
    /// Copy the embedded store (`--data-dir`) into a `PostgreSQL`/PostGIS database for several instances: every
    /// version of every feature, the tokens (hashes) and what it was seeded from, in one transaction, into an
    /// empty database (the schema is made by the same migrations `serve --store postgres://…` runs).
    Migrate(MigrateArgs),
}

/// Options of `migrate`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The `PostgreSQL` database to copy into, e.g. `postgres://planatlas@127.0.0.1:5432/planatlas` (or
    /// `host=… dbname=…`). It needs the PostGIS extension, or the right to create it.
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The embedded store to copy from.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Options of `import`.
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The file: GeoJSON (FeatureCollection) or GeoPackage (.gpkg, its first feature table); with
    /// `--new-collection`, also FlatGeobuf or a Shapefile, and `FILE:LAYER`.
    pub file: PathBuf,
    /// The collection to import into (only `projects` is editable).
    #[arg(long, default_value = "projects")]
    pub collection: String,
    /// Import the file as a new collection of its own with this id (a planner's layer: development zones,
    /// parks, red lines), kept in the store and served after every restart; importing the same id again
    /// replaces it. FILE may then be any format `--layer` reads, with `:LAYER` to pick a GeoPackage table; its
    /// CRS is read from the file.
    #[arg(long, value_name = "ID", conflicts_with = "collection")]
    pub new_collection: Option<String>,
    /// The CRS of the file's coordinates, easting (longitude) first as files hold them. Without it, the CRS
    /// the file names (a GeoJSON `crs` member, a GeoPackage table's SRS), else CRS84; given, it must agree
    /// with what the file names. Not with `--new-collection`: a layer's CRS is read from its file (.prj, the
    /// GeoPackage's SRS).
    #[arg(long, value_parser = parse_crs, value_name = "CRS", conflicts_with = "new_collection")]
    pub crs: Option<Crs>,
    /// The boundaries to validate against.
    #[command(flatten)]
    pub data: DataArgs,
    /// The store to import into.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Options of `token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TokenAction,
    /// The store the tokens live in.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// `token` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum TokenAction {
    /// Make a token and print it (once).
    Add {
        /// Who holds it: shown in every version it writes (e.g. 沈阳市发展改革委); not empty.
        #[arg(long, value_parser = non_empty)]
        name: String,
        /// What it may change: `province` (everything), `region:<id>` (e.g. region:shenyang-circle) or
        /// `city:<adcode>` (e.g. city:210100). A scoped token may create, change or delete only projects lying
        /// in its area before and after the change.
        #[arg(long)]
        scope: String,
    },
    /// List the tokens (names, scopes, dates; never the tokens).
    List,
    /// Revoke a token by its number (from `token list`).
    Revoke {
        /// The token's number.
        id: i64,
    },
}

/// Where the durable store lives.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Directory of the embedded store (SQLite, planatlas.sqlite): the projects, every version of them, and
    /// the write tokens. Created and seeded from the shipped projects on first start. Default:
    /// `$XDG_DATA_HOME/planatlas`, else `~/.local/share/planatlas`.
    #[arg(long, env = "PLANATLAS_DATA_DIR", value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// A `PostgreSQL`/PostGIS database to keep the store in instead (`postgres://user@host:port/db`), so several
    /// instances can serve one catalogue: each keeps its read model in memory and follows the database's
    /// change table. The schema is made (migrated) at start and seeded if new; `planatlas migrate --to URL`
    /// copies an embedded store in.
    #[arg(long, env = "PLANATLAS_STORE", value_name = "URL", global = true, value_parser = parse_store)]
    pub store: Option<String>,
}

fn parse_store(s: &str) -> Result<String, String> {
    let pg = crate::store::pg::is_postgres(s) || s.contains("dbname=") || s.contains("host=");
    if !pg {
        return Err(format!(
            "'{s}' is not a PostgreSQL connection string (postgres://user@host:port/db); the embedded store is chosen with --data-dir"
        ));
    }
    s.parse::<tokio_postgres::Config>().map(|_| s.to_owned()).map_err(|e| format!("'{s}': {e}"))
}

impl StoreArgs {
    /// Where the store is: `--store` when given, else the embedded store in the data directory.
    pub fn location(&self) -> crate::store::engine::Location {
        match &self.store {
            Some(url) => crate::store::engine::Location::Postgres(url.clone()),
            None => crate::store::engine::Location::Dir(self.dir()),
        }
    }

    /// The data directory: the option, else the XDG data home, else `./planatlas-data`.
    pub fn dir(&self) -> PathBuf {
        if let Some(d) = &self.data_dir {
            return d.clone();
        }
        if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
            return PathBuf::from(x).join("planatlas");
        }
        match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
            Some(h) => PathBuf::from(h).join(".local/share/planatlas"),
            None => PathBuf::from("planatlas-data"),
        }
    }
}

/// Options of `export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// File format: gpkg (GeoPackage), fgb (FlatGeobuf), shp (zipped Shapefile), kml, csv, geojson or
    /// geojsonseq (GeoJSON text sequence).
    #[arg(long, value_parser = parse_format, value_name = "FORMAT")]
    pub format: ExportFormat,

    /// The file to write (overwritten if it exists).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,

    /// The collection to export (regions, cities, counties, projects, targets, sections). Without it, gpkg
    /// writes the whole plan, one layer per collection; the other formats need it.
    #[arg(long, value_name = "ID")]
    pub collection: Option<String>,

    /// Output CRS: CRS84 (default), EPSG:4326, EPSG:4490, EPSG:3857, EPSG:4549/4550/4551, GCJ-02 or BD-09
    /// (or their URIs).
    #[arg(long, default_value = "CRS84", value_parser = parse_crs, value_name = "CRS")]
    pub crs: Crs,

    /// CSV only: start the file with a UTF-8 byte-order mark so Excel shows Chinese text correctly.
    #[arg(long)]
    pub bom: bool,

    /// The boundaries (and `--layer`s) to export with.
    #[command(flatten)]
    pub data: DataArgs,

    /// The store whose projects, progress and layers are exported: the same catalogue a server on it serves.
    #[command(flatten)]
    pub store: StoreArgs,
}

fn non_empty(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        Err("must not be empty: it names who wrote each version".into())
    } else {
        Ok(t.to_owned())
    }
}

fn parse_format(s: &str) -> Result<ExportFormat, String> {
    ExportFormat::parse(s).ok_or_else(|| {
        let names: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.name()).collect();
        format!("'{s}' is not a format; use one of {}", names.join(", "))
    })
}

fn parse_crs(s: &str) -> Result<Crs, String> {
    Crs::parse(s).ok_or_else(|| format!("'{s}' is not a supported CRS; supported: {}", Crs::supported_list()))
}

/// Where the data comes from.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Directory holding the geodata files (liaoning-cities.geojson, liaoning-counties.geojson, regions.toml, ...).
    /// Default: the copy of the shipped geodata/ embedded in the binary, so it runs from any directory.
    #[arg(long, env = "PLANATLAS_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,

    /// A planner's own layer to serve as a collection beside the plan's: `[ID=]FILE[:LAYER]`, a GeoPackage
    /// (every feature table, or the one named after `:`), GeoJSON, FlatGeobuf, or a Shapefile (`.shp` with its
    /// `.dbf`/`.prj` beside it, or a `.zip` holding them). The file's CRS is read and transformed to CRS84;
    /// features inside Liaoning are joined to counties, cities and regions. The collection id is ID, or the
    /// layer's name in lower case. Repeatable. A bad file stops start-up naming the file, layer and feature.
    #[arg(long = "layer", value_name = "[ID=]FILE[:LAYER]", value_parser = parse_layer)]
    pub layers: Vec<LayerSpec>,
}

fn parse_layer(s: &str) -> Result<LayerSpec, String> {
    s.parse()
}

impl DataArgs {
    /// The data source these arguments name.
    pub fn source(&self) -> DataSource {
        self.data.clone().map_or(DataSource::Embedded, DataSource::Dir)
    }
}

/// Where a trusted proxy puts the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientHeader {
    /// `X-Forwarded-For: client, proxy1` (nginx `$proxy_add_x_forwarded_for`, `HAProxy`, most load balancers).
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Options of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address and port to listen on. Use 0.0.0.0:PORT to accept connections from other hosts; port 0 picks a
    /// free port (the bound address is logged).
    #[arg(long, env = "PLANATLAS_LISTEN", default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,

    /// The data to serve.
    #[command(flatten)]
    pub data: DataArgs,

    /// Where edits are kept.
    #[command(flatten)]
    pub store: StoreArgs,

    /// Refuse PUT, PATCH and DELETE without `If-Match` (428), for deployments where several planners edit one
    /// project. Without it a write with no `If-Match` (QGIS and `OWSLib` send none) is accepted and the
    /// overwritten version stays in the history.
    #[arg(long, env = "PLANATLAS_REQUIRE_IF_MATCH")]
    pub require_if_match: bool,

    /// Public base URL used in every link the service writes (e.g. `https://maps.example.org/planatlas`) when it
    /// runs behind a reverse proxy. Default: derived from each request's Host header and scheme.
    #[arg(long, env = "PLANATLAS_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,

    /// Items per page when a request gives no `limit`.
    #[arg(long, env = "PLANATLAS_DEFAULT_LIMIT", default_value_t = 10, value_name = "N")]
    pub default_limit: usize,

    /// Largest page a request may get; a larger `limit` is clamped to this, not rejected.
    #[arg(long, env = "PLANATLAS_MAX_LIMIT", default_value_t = 1000, value_name = "N")]
    pub max_limit: usize,

    /// Origins allowed by CORS (repeat the flag or separate with commas); `*` allows any origin.
    #[arg(long = "cors-origin", env = "PLANATLAS_CORS_ORIGINS", value_delimiter = ',', default_value = "*")]
    pub cors_origins: Vec<String>,

    /// Log format.
    #[arg(long, env = "PLANATLAS_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Largest request body accepted (GeoJSON geometries for area and corridor queries), in bytes; larger
    /// bodies are answered with 413.
    #[arg(long, env = "PLANATLAS_MAX_BODY_BYTES", default_value_t = 1_048_576, value_name = "BYTES")]
    pub max_body_bytes: usize,

    /// An optional raster base map for the map page and the style, as an XYZ tile URL template
    /// (e.g. `https://tiles.example.org/{z}/{x}/{y}.png`). Without it the map has no base map.
    #[arg(long, env = "PLANATLAS_BASEMAP_URL", value_name = "URL")]
    pub basemap_url: Option<String>,

    /// Attribution shown for the base map.
    #[arg(long, env = "PLANATLAS_BASEMAP_ATTRIBUTION", value_name = "TEXT")]
    pub basemap_attribution: Option<String>,

    /// Most features one file download from the server may hold (`/exports`, `items?f=..`); more is a 413.
    /// `planatlas export` on the command line has no such limit.
    #[arg(long, env = "PLANATLAS_MAX_EXPORT_FEATURES", default_value_t = 1_000_000, value_name = "N")]
    pub max_export_features: usize,

    /// Longest query string accepted, in bytes; longer ones are answered with 414 (long filters can be POSTed to
    /// /collections/{id}/search).
    #[arg(long, env = "PLANATLAS_MAX_QUERY_BYTES", default_value_t = 8192, value_name = "BYTES")]
    pub max_query_bytes: usize,

    /// Seconds a request may take to produce its answer before it is stopped with 503; a request body not in
    /// by then is a 408 (a layer upload has ten times as long).
    #[arg(long, env = "PLANATLAS_REQUEST_TIMEOUT", default_value_t = 30.0, value_name = "SECONDS")]
    pub request_timeout: f64,

    /// Expensive requests (exports, posted along/intersecting area queries) allowed at once; more are answered with 429.
    #[arg(long, env = "PLANATLAS_MAX_CONCURRENT_EXPENSIVE", default_value_t = 4, value_name = "N")]
    pub max_concurrent_expensive: usize,

    /// Memory for compressed GET answers kept for repeat requests (0 turns the cache off).
    #[arg(long, env = "PLANATLAS_ANSWER_CACHE_MIB", default_value_t = 128, value_name = "MIB")]
    pub answer_cache_mib: usize,

    /// Worker threads (default: one per CPU core). They only parse requests and write answers: filtering,
    /// sorting, distances, tiles and exports run on the compute threads, so `/health` answers while they work.
    #[arg(long, env = "PLANATLAS_WORKERS", value_name = "N")]
    pub workers: Option<usize>,

    /// Compute threads: at most this many requests filter, sort, measure, encode tiles or write exports at once
    /// (default: one per CPU core). Each checks the request's deadline (`--request-timeout`) as it goes and stops
    /// with 503 when it is spent; a request arriving when all are busy and the queue is full gets 503 at once.
    #[arg(long, env = "PLANATLAS_COMPUTE_THREADS", value_name = "N")]
    pub compute_threads: Option<usize>,

    /// Milliseconds a query may run on the HTTP worker that took the request before it is handed to the compute
    /// threads. Most queries (a nearest, a page) finish well within it and skip the hand-over; one that does not
    /// is stopped at the limit and run again on a compute thread, so a worker is never held longer. 0: every
    /// query goes to the compute threads.
    #[arg(long, env = "PLANATLAS_INLINE_BUDGET_MS", default_value_t = 1.0, value_name = "MS")]
    pub inline_budget_ms: f64,

    /// Addresses of reverse proxies (CIDR, repeat the flag or separate with commas, e.g. `127.0.0.1/32`) whose
    /// `Forwarded` / `X-Forwarded-Host` / `X-Forwarded-Proto` headers are believed when writing links. From any
    /// other peer those headers are ignored and links use the `Host` header (or `--base-url`), so nobody can make
    /// the service write links to another host.
    #[arg(
        long = "trusted-proxy",
        env = "PLANATLAS_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_name = "CIDR"
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// The header a trusted proxy writes the client's address into (appending to what the client sent): the
    /// address before the trusted proxies at its right end is the client's, for the access log and the count of
    /// failed tokens. Only that header is read; the other may come from the client.
    #[arg(long, env = "PLANATLAS_CLIENT_HEADER", value_enum, default_value_t = ClientHeader::XForwardedFor, value_name = "HEADER")]
    pub client_header: ClientHeader,

    /// Seconds to finish requests in flight after SIGTERM or SIGINT; then the process exits whatever is still
    /// running.
    #[arg(long, env = "PLANATLAS_SHUTDOWN_TIMEOUT", default_value_t = 10, value_name = "SECONDS")]
    pub shutdown_timeout: u64,
}

/// Validated server settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Public base URL without a trailing slash, if fixed.
    pub base_url: Option<String>,
    /// Paging limits.
    pub limits: Limits,
    /// CORS origins (`*` for any).
    pub cors_origins: Vec<String>,
    /// Worker threads.
    pub workers: Option<usize>,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most features in one export.
    pub max_export_features: usize,
    /// Longest query string, in bytes.
    pub max_query_bytes: usize,
    /// Time limit per request, in seconds.
    pub request_timeout_secs: f64,
    /// Expensive requests at once.
    pub max_concurrent_expensive: usize,
    /// Bytes of compressed answers kept (see [`crate::answers`]); 0: none.
    pub answer_cache_bytes: usize,
    /// Compute threads (see [`crate::compute`]).
    pub compute_threads: usize,
    /// Time a query may run on its HTTP worker before it goes to the compute threads (see
    /// [`crate::compute::try_here`]); zero: none.
    pub inline_budget: std::time::Duration,
    /// Peers whose forwarding headers are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The header those proxies write the client's address into.
    pub client_header: ClientHeader,
    /// Seconds to drain requests after a stop signal.
    pub shutdown_timeout_secs: u64,
    /// PUT/PATCH/DELETE need `If-Match`.
    pub require_if_match: bool,
    /// Raster base map tile URL template, if any.
    pub basemap_url: Option<String>,
    /// Its attribution.
    pub basemap_attribution: Option<String>,
}

impl Settings {
    /// Settings for tests and embedding: listen on 127.0.0.1 with an OS-chosen port, default limits.
    pub fn local() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            base_url: None,
            limits: Limits::default(),
            cors_origins: vec!["*".to_owned()],
            workers: Some(2),
            max_body_bytes: 1_048_576,
            max_export_features: 1_000_000,
            max_query_bytes: 8192,
            request_timeout_secs: 30.0,
            max_concurrent_expensive: 4,
            answer_cache_bytes: 128 * 1024 * 1024,
            compute_threads: 2,
            inline_budget: std::time::Duration::from_millis(1),
            trusted_proxies: Vec::new(),
            client_header: ClientHeader::XForwardedFor,
            shutdown_timeout_secs: 10,
            require_if_match: false,
            basemap_url: None,
            basemap_attribution: None,
        }
    }
}

impl TryFrom<&ServeArgs> for Settings {
    type Error = String;

    fn try_from(a: &ServeArgs) -> Result<Self, Self::Error> {
        if a.max_limit == 0 {
            return Err("--max-limit must be at least 1".into());
        }
        if a.default_limit == 0 || a.default_limit > a.max_limit {
            return Err(format!("--default-limit must be between 1 and --max-limit ({})", a.max_limit));
        }
        let base_url = match &a.base_url {
            Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                return Err(format!("--base-url '{u}' must start with http:// or https://"));
            }
            Some(u) => Some(u.trim_end_matches('/').to_owned()),
            None => None,
        };
        if !(a.request_timeout.is_finite() && a.request_timeout > 0.0) {
            return Err("--request-timeout must be a positive number of seconds".into());
        }
        if a.max_concurrent_expensive == 0 {
            return Err("--max-concurrent-expensive must be at least 1".into());
        }
        if !(a.inline_budget_ms.is_finite() && (0.0..=1000.0).contains(&a.inline_budget_ms)) {
            return Err("--inline-budget-ms must be between 0 and 1000".into());
        }
        if a.compute_threads == Some(0) {
            return Err("--compute-threads must be at least 1".into());
        }
        if a.workers == Some(0) {
            return Err("--workers must be at least 1".into());
        }
        for o in a.cors_origins.iter().map(|o| o.trim()).filter(|o| !o.is_empty() && *o != "*") {
            // An origin is scheme://host[:port], nothing after it (browsers send exactly that).
            let rest = o.strip_prefix("http://").or_else(|| o.strip_prefix("https://"));
            if rest.is_none_or(|r| r.is_empty() || r.contains('/')) {
                return Err(format!(
                    "--cors-origin '{o}' is not an origin: use scheme://host[:port] (e.g. https://map.example.org) or *"
                ));
            }
        }
        Ok(Self {
            listen: a.listen,
            base_url,
            limits: Limits { default_limit: a.default_limit, max_limit: a.max_limit },
            cors_origins: a
                .cors_origins
                .iter()
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            workers: a.workers,
            max_body_bytes: a.max_body_bytes,
            max_export_features: a.max_export_features,
            max_query_bytes: a.max_query_bytes,
            request_timeout_secs: a.request_timeout,
            max_concurrent_expensive: a.max_concurrent_expensive,
            answer_cache_bytes: a.answer_cache_mib.saturating_mul(1024 * 1024),
            compute_threads: a
                .compute_threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get)),
            inline_budget: std::time::Duration::from_secs_f64(a.inline_budget_ms / 1e3),
            trusted_proxies: a.trusted_proxies.clone(),
            client_header: a.client_header,
            shutdown_timeout_secs: a.shutdown_timeout,
            require_if_match: a.require_if_match,
            basemap_url: a.basemap_url.clone(),
            basemap_attribution: a.basemap_attribution.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn settings(args: &[&str]) -> Result<Settings, String> {
        let cli = Cli::try_parse_from(std::iter::once("planatlas").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        Settings::try_from(&cli.serve)
    }

    #[test]
    fn cors_origins_must_be_origins() {
        assert!(settings(&[]).is_ok());
        assert!(settings(&["--cors-origin", "https://map.example.org,http://127.0.0.1:5173"]).is_ok());
        for bad in ["not-a-url", "https://map.example.org/app", "ftp://x", "https://"] {
            let e = settings(&["--cors-origin", bad]).unwrap_err();
            assert!(e.contains("is not an origin"), "{bad}: {e}");
        }
    }
}
