//! The `PostgreSQL`/PostGIS store, for several instances on one database (`--store postgres://…`).
//!
//! The same store as the embedded SQLite one ([`super::db::Store`]) behind the same [`Backend`] interface:
//! the features (geometry in a PostGIS column in EPSG:4326 with a `GiST` index, the input properties as
//! `jsonb`), every version of each, the tokens (hashes only) and the store's notes, in schema `planatlas`,
//! made by the migrations in `src/store/migrations` (refinery) at start.
//!
//! Instances stay stateless: each keeps its read model in memory and follows the change table
//! (`planatlas.versions`) by revision. A write takes a transaction-scoped advisory lock, so writes from every
//! instance are serialised and revisions are given in commit order; what the writer's plan saw (the rows at
//! the head revision) cannot change before its commit, so `If-Match` holds across instances. The commit
//! sends `NOTIFY planatlas_changes`; a listener connection wakes the instance's store watcher, which catches
//! up from its revision. Notifications sent while an instance was disconnected are lost, so the listener
//! wakes the watcher on every (re)connect too, and the watcher also looks every two seconds.

use std::future::Future;
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::{AsyncMessage, NoTls, Row};

use super::db::{
    Backend, Change, Committed, Dump, Op, Snapshot, StoreError, Stored, TokenInfo, Version, WriteFn, now,
    split_key,
};

mod embedded {
    refinery::embed_migrations!("src/store/migrations");
}

/// The advisory lock every writer takes (transaction-scoped): "planatl" and 1.
const WRITE_LOCK: i64 = 0x706c_616e_6174_6c01;
/// The advisory lock the migrations run under (session-scoped), so instances starting together migrate once.
const MIGRATE_LOCK: i64 = 0x706c_616e_6174_6c02;
/// The channel commits notify.
const CHANNEL: &str = "planatlas_changes";

/// The runtime the `PostgreSQL` connections run on: two threads of the process's own, apart from the HTTP
/// workers, so a store call can wait on it from any thread.
fn runtime() -> Result<&'static tokio::runtime::Runtime, StoreError> {
    static RT: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("planatlas-pg")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| StoreError::Dir(format!("cannot start the PostgreSQL runtime: {e}")))
}

/// Runs `fut` to completion on this thread, its connections and timers on the store's runtime.
fn block<F: Future>(fut: F) -> Result<F::Output, StoreError> {
    let rt = runtime()?;
    let _enter = rt.enter();
    Ok(futures_executor::block_on(fut))
}

/// The wake-up flag the listener sets and the store watcher waits on.
#[derive(Default)]
struct Wake {
    pending: Mutex<bool>,
    cv: Condvar,
}

impl Wake {
    fn ping(&self) {
        let mut p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *p = true;
        self.cv.notify_all();
    }

    fn wait(&self, timeout: Duration) {
        let p = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let (mut p, _) = self
            .cv
            .wait_timeout_while(p, timeout, |p| !*p)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *p = false;
    }
}

/// The `PostgreSQL` store.
pub struct PgStore {
    pool: Pool,
    config: tokio_postgres::Config,
    shown: String,
    wake: Arc<Wake>,
}

/// A connection string as shown in messages and logs: without its password.
pub fn shown(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_default();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "postgres://{}@{host}:{port}/{}",
        config.get_user().unwrap_or(""),
        config.get_dbname().unwrap_or("")
    )
}

/// Whether a store location names `PostgreSQL`.
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

impl PgStore {
    fn error(&self, e: &tokio_postgres::Error) -> StoreError {
        pg_error(&self.shown, e)
    }

    /// Connects to `url`, runs the migrations, and seeds the store on first start as the SQLite store does
    /// (`seed` gives (key, record) pairs, stored as version 1 by `seed_actor`). Starts the listener.
    pub fn open(
        url: &str,
        seed: impl FnOnce() -> Result<Vec<(String, String)>, String>,
        seed_actor: &str,
    ) -> Result<Self, StoreError> {
        let store = Self::connect(url)?;
        store.migrate()?;
        store.seed(seed, seed_actor)?;
        store.listen()?;
        Ok(store)
    }

    /// Connects and migrates, without seeding or listening (`planatlas migrate`).
    pub fn open_empty(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect(url)?;
        store.migrate()?;
        Ok(store)
    }

    fn connect(url: &str) -> Result<Self, StoreError> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
            StoreError::Dir(format!(
                "PostgreSQL connection string {}: {e}",
                url.split('@').next_back().unwrap_or("")
            ))
        })?;
        config
            .application_name("planatlas")
            .connect_timeout(Duration::from_secs(5))
            .keepalives_idle(Duration::from_secs(10))
            // No statement waits forever on a lock or a stalled disk.
            // An instance that stops mid-transaction (frozen, cut off) gives the write lock back within a
            // minute instead of holding every instance's writes.
            .options("-c statement_timeout=60000 -c lock_timeout=30000 -c idle_in_transaction_session_timeout=60000");
        let shown = shown(&config);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig { recycling_method: RecyclingMethod::Fast },
        );
        let pool = Pool::builder(manager)
            .max_size(8)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(Duration::from_secs(5)))
            .create_timeout(Some(Duration::from_secs(5)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Dir(format!("{shown}: {e}")))?;
        Ok(Self { pool, config, shown, wake: Arc::new(Wake::default()) })
    }

    async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(|e| StoreError::Unavailable {
            store: self.shown.clone(),
            detail: match &e {
                deadpool_postgres::PoolError::Backend(pg) => describe(pg),
                other => other.to_string(),
            },
        })
    }

    fn migrate(&self) -> Result<(), StoreError> {
        block(async {
            let mut client = self.client().await?;
            let e = |e: tokio_postgres::Error| self.error(&e);
            client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATE_LOCK]).await.map_err(e)?;
            let ran = async {
                client.batch_execute("CREATE SCHEMA IF NOT EXISTS planatlas").await.map_err(e)?;
                let mut runner = embedded::migrations::runner();
                runner.set_migration_table_name("planatlas.schema_history");
                let pg: &mut tokio_postgres::Client = &mut client;
                runner.run_async(pg).await.map_err(|m| StoreError::Database {
                    store: self.shown.clone(),
                    detail: format!("migrating the schema: {m}"),
                })
            }
            .await;
            client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATE_LOCK]).await.map_err(e)?;
            let report = ran?;
            for m in report.applied_migrations() {
                tracing::info!(store = %self.shown, migration = %m, "migrated the PostgreSQL schema");
            }
            Ok(())
        })?
    }

    fn seed(
        &self,
        seed: impl FnOnce() -> Result<Vec<(String, String)>, String>,
        seed_actor: &str,
    ) -> Result<(), StoreError> {
        block(async {
            let mut client = self.client().await?;
            let e = |e: tokio_postgres::Error| self.error(&e);
            let tx = client.transaction().await.map_err(e)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]).await.map_err(e)?;
            let seeded = tx
                .query_opt("SELECT value FROM planatlas.meta WHERE key = 'seeded'", &[])
                .await
                .map_err(e)?;
            if seeded.is_some() {
                return Ok(());
            }
            let features = seed().map_err(StoreError::Dir)?;
            let at = now();
            for (revision, (key, record)) in (1_i64..).zip(&features) {
                insert_version(&tx, revision, key, 1, Op::Seed, &at, seed_actor, Some(record))
                    .await
                    .map_err(e)?;
                upsert_feature(&tx, key, 1, Some(record), revision).await.map_err(e)?;
            }
            tx.execute(
                "INSERT INTO planatlas.meta (key, value) VALUES ('seeded', $1), ('seed_actor', $2)",
                &[&at, &seed_actor],
            )
            .await
            .map_err(e)?;
            tx.commit().await.map_err(e)
        })?
    }

    /// Copies a whole store (its history, tokens and notes) into this one, which must be empty.
    pub fn restore(&self, dump: &Dump, progress: &dyn Fn(usize)) -> Result<(), StoreError> {
        block(async {
            let mut client = self.client().await?;
            let e = |e: tokio_postgres::Error| self.error(&e);
            let tx = client.transaction().await.map_err(e)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]).await.map_err(e)?;
            let held: i64 = tx
                .query_one("SELECT (SELECT count(*) FROM planatlas.versions) + (SELECT count(*) FROM planatlas.tokens)", &[])
                .await
                .map_err(e)?
                .get(0);
            if held > 0 {
                return Err(StoreError::Dir(format!(
                    "{} already holds a store ({held} versions and tokens); migrate copies into an empty one",
                    self.shown
                )));
            }
            let mut first: std::collections::HashMap<&str, i64> = std::collections::HashMap::new();
            for (n, v) in dump.versions.iter().enumerate() {
                insert_version(
                    &tx,
                    v.revision,
                    &v.id,
                    v.version,
                    v.operation,
                    &v.at,
                    &v.actor,
                    v.record.as_deref(),
                )
                .await
                .map_err(e)?;
                let first_revision = *first.entry(&v.id).or_insert(v.revision);
                upsert_feature(&tx, &v.id, v.version, v.record.as_deref(), first_revision)
                    .await
                    .map_err(e)?;
                if n % 100 == 0 {
                    progress(n);
                }
            }
            progress(dump.versions.len());
            for (t, hash) in &dump.tokens {
                tx.execute(
                    "INSERT INTO planatlas.tokens (id, name, scope, hash, created, revoked) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&t.id, &t.name, &t.scope, hash, &t.created, &t.revoked],
                )
                .await
                .map_err(e)?;
            }
            for (k, v) in &dump.meta {
                tx.execute("INSERT INTO planatlas.meta (key, value) VALUES ($1, $2)", &[k, v])
                    .await
                    .map_err(e)?;
            }
            tx.execute("SELECT pg_notify($1, 'restored')", &[&CHANNEL]).await.map_err(e)?;
            tx.commit().await.map_err(e)
        })?
    }

    /// Starts the listener: a connection of its own that `LISTEN`s and wakes the store watcher on every
    /// notification and on every (re)connect, retrying every half second while the database is away.
    fn listen(&self) -> Result<(), StoreError> {
        let mut config = self.config.clone();
        config.application_name("planatlas-listen").connect_timeout(Duration::from_secs(5));
        let wake = self.wake.clone();
        let shown = self.shown.clone();
        runtime()?.spawn(async move {
            let mut was_up = true;
            loop {
                match config.connect(NoTls).await {
                    Ok((client, mut connection)) => {
                        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                        let driver = tokio::spawn(async move {
                            while let Some(m) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                                match m {
                                    Ok(AsyncMessage::Notification(_)) => {
                                        if tx.send(()).is_err() {
                                            break;
                                        }
                                    }
                                    Ok(_) => {}
                                    Err(_) => break,
                                }
                            }
                        });
                        if client.batch_execute(&format!("LISTEN {CHANNEL}")).await.is_ok() {
                            if !was_up {
                                tracing::info!(store = %shown, "the store is back; catching up");
                            }
                            was_up = true;
                            wake.ping();
                            while rx.recv().await.is_some() {
                                wake.ping();
                            }
                        }
                        driver.abort();
                        // The connection ended: the watcher looks now, and notes the store's trouble if any.
                        wake.ping();
                    }
                    Err(e) => {
                        if was_up {
                            tracing::warn!(store = %shown, error = %describe(&e), "cannot listen for changes; retrying");
                        }
                        was_up = false;
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
        Ok(())
    }
}

/// A `PostgreSQL` error as the store reports it: a lost or refused connection, a server shutting down or
/// out of resources is [`StoreError::Unavailable`] (503, try again); anything else the database said is
/// [`StoreError::Database`].
fn pg_error(store: &str, e: &tokio_postgres::Error) -> StoreError {
    // tokio-postgres does not expose its error kinds; these are its words for a connection that failed.
    let text = e.to_string();
    let lost = ["error connecting", "error communicating", "connection closed", "timeout"]
        .iter()
        .any(|w| text.starts_with(w));
    let unavailable = e.is_closed()
        || (e.as_db_error().is_none() && lost)
        || e.code().is_some_and(|c| ["08", "53", "57"].iter().any(|class| c.code().starts_with(class)))
        // The write lock not had in time (another instance holds it), a deadlock broken: try again.
        || e.code().is_some_and(|c| ["55P03", "40P01", "40001"].contains(&c.code()));
    if unavailable {
        StoreError::Unavailable { store: store.to_owned(), detail: describe(e) }
    } else {
        StoreError::Database { store: store.to_owned(), detail: describe(e) }
    }
}

fn stored(r: &Row) -> Stored {
    Stored { id: r.get(0), version: r.get(1), record: r.get(2) }
}

#[expect(clippy::too_many_arguments, reason = "one column each")]
async fn insert_version(
    tx: &tokio_postgres::Transaction<'_>,
    revision: i64,
    key: &str,
    version: i64,
    op: Op,
    at: &str,
    actor: &str,
    record: Option<&str>,
) -> Result<u64, tokio_postgres::Error> {
    tx.execute(
        "INSERT INTO planatlas.versions (revision, key, version, op, at, actor, record)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&revision, &key, &version, &op.as_str(), &at, &actor, &record],
    )
    .await
}

/// Writes a feature's current row; its properties and geometry (EPSG:4326) are the record's, for SQL and GIS
/// clients. A planner's imported layer is one record holding the whole layer: it gets neither.
async fn upsert_feature(
    tx: &tokio_postgres::Transaction<'_>,
    key: &str,
    version: i64,
    record: Option<&str>,
    first_revision: i64,
) -> Result<u64, tokio_postgres::Error> {
    let (collection, id) = split_key(key);
    tx.execute(
        "INSERT INTO planatlas.features (key, collection, id, version, record, first_revision, properties, geom)
         SELECT $1, $2, $3, $4, s.t, $6,
                CASE WHEN $2 = 'layers' THEN NULL ELSE r.j -> 'properties' END,
                CASE WHEN $2 = 'layers' THEN NULL
                     ELSE ST_SetSRID(ST_GeomFromGeoJSON(r.j ->> 'geometry'), 4326) END
         FROM (SELECT $5::text AS t) AS s CROSS JOIN LATERAL (SELECT s.t::jsonb AS j) AS r
         ON CONFLICT (key) DO UPDATE SET version = excluded.version, record = excluded.record,
             properties = excluded.properties, geom = excluded.geom",
        &[&key, &collection, &id, &version, &record, &first_revision],
    )
    .await
}

async fn head(c: &tokio_postgres::Transaction<'_>) -> Result<(i64, Option<String>), tokio_postgres::Error> {
    let row = c
        .query_opt("SELECT revision, at FROM planatlas.versions ORDER BY revision DESC LIMIT 1", &[])
        .await?;
    Ok(row.map_or((0, None), |r| (r.get(0), Some(r.get(1)))))
}

async fn all_rows(c: &tokio_postgres::Transaction<'_>) -> Result<Vec<Stored>, tokio_postgres::Error> {
    let rows =
        c.query("SELECT key, version, record FROM planatlas.features ORDER BY first_revision", &[]).await?;
    Ok(rows.iter().map(stored).collect())
}

fn version_row(r: &Row) -> Version {
    let op: String = r.get(3);
    Version {
        revision: r.get(0),
        id: r.get(1),
        version: r.get(2),
        operation: Op::parse(&op),
        at: r.get(4),
        actor: r.get(5),
        record: r.get(6),
    }
}

impl PgStore {
    /// Runs a read-only query on a pooled connection.
    fn read<T>(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        f: impl Fn(&Row) -> T,
    ) -> Result<Vec<T>, StoreError> {
        block(async {
            let client = self.client().await?;
            let rows = client.query(sql, params).await.map_err(|e| self.error(&e))?;
            Ok(rows.iter().map(f).collect())
        })?
    }
}

impl Backend for PgStore {
    fn describe(&self) -> String {
        self.shown.clone()
    }

    fn seeded_from(&self) -> Option<String> {
        self.read("SELECT value FROM planatlas.meta WHERE key = 'seed_actor'", &[], |r| r.get(0)).ok()?.pop()
    }

    fn current(&self) -> Result<Vec<Stored>, StoreError> {
        self.read(
            "SELECT key, version, record FROM planatlas.features WHERE record IS NOT NULL ORDER BY first_revision",
            &[],
            stored,
        )
    }

    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        block(async {
            let mut client = self.client().await?;
            let e = |e: tokio_postgres::Error| self.error(&e);
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(e)?;
            let rows = all_rows(&tx).await.map_err(e)?;
            let (revision, updated) = head(&tx).await.map_err(e)?;
            tx.commit().await.map_err(e)?;
            Ok(Snapshot { rows, revision, updated })
        })?
    }

    fn get(&self, id: &str) -> Result<Option<Stored>, StoreError> {
        Ok(self
            .read("SELECT key, version, record FROM planatlas.features WHERE key = $1", &[&id], stored)?
            .pop())
    }

    fn revision(&self) -> Result<(i64, Option<String>), StoreError> {
        let rows = self.read(
            "SELECT revision, at FROM planatlas.versions ORDER BY revision DESC LIMIT 1",
            &[],
            |r| (r.get::<_, i64>(0), Some(r.get::<_, String>(1))),
        )?;
        Ok(rows.into_iter().next().unwrap_or((0, None)))
    }

    fn write(
        &self,
        actor: &str,
        known: i64,
        plan: &mut WriteFn<'_>,
    ) -> Result<Option<Committed>, StoreError> {
        block(async {
            let mut client = self.client().await?;
            let e = |e: tokio_postgres::Error| self.error(&e);
            let tx = client.transaction().await.map_err(e)?;
            // Every writer of every instance queues here; the lock ends with the transaction.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]).await.map_err(e)?;
            let (revision, updated) = head(&tx).await.map_err(e)?;
            let fresh = if revision == known {
                None
            } else {
                Some(Snapshot { rows: all_rows(&tx).await.map_err(e)?, revision, updated })
            };
            let Some(changes) = plan(fresh) else {
                tx.rollback().await.map_err(e)?;
                return Ok(None);
            };
            let made = commit_in(&tx, &changes, actor, revision).await.map_err(e)?;
            tx.commit().await.map_err(e)?;
            Ok(Some(made))
        })?
    }

    fn wait_for_change(&self, timeout: Duration) {
        self.wake.wait(timeout);
    }

    fn versions(&self, id: &str) -> Result<Vec<Version>, StoreError> {
        self.read(
            "SELECT revision, key, version, op, at, actor, record FROM planatlas.versions WHERE key = $1 ORDER BY revision",
            &[&id],
            version_row,
        )
    }

    fn as_of(&self, at: &str) -> Result<Vec<Stored>, StoreError> {
        self.read(
            "SELECT v.key, v.version, v.record FROM planatlas.versions v
             JOIN (SELECT key, MAX(revision) AS rev, MIN(revision) AS first FROM planatlas.versions
                   WHERE at <= $1 GROUP BY key) l ON v.revision = l.rev
             WHERE v.record IS NOT NULL ORDER BY l.first",
            &[&at],
            stored,
        )
    }

    fn versions_from_start(&self) -> Result<Option<String>, StoreError> {
        Ok(self.read("SELECT at FROM planatlas.versions ORDER BY revision LIMIT 1", &[], |r| r.get(0))?.pop())
    }

    fn add_token(&self, name: &str, scope: &str, hash: &str) -> Result<i64, StoreError> {
        let made = now();
        // The next number; two adds at once (two instances, two shells) may both take it, and the second is
        // refused by the key: it takes the one after.
        let mut attempt = 0;
        let ids = loop {
            attempt += 1;
            match self.read(
                "INSERT INTO planatlas.tokens (id, name, scope, hash, created)
                 SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4 FROM planatlas.tokens RETURNING id",
                &[&name, &scope, &hash, &made],
                |r| r.get(0),
            ) {
                Err(StoreError::Database { detail, .. }) if detail.contains("23505") && attempt < 20 => {}
                other => break other?,
            }
        };
        ids.into_iter()
            .next()
            .ok_or_else(|| StoreError::Database { store: self.shown.clone(), detail: "no token id".into() })
    }

    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.read("SELECT id, name, scope, created, revoked FROM planatlas.tokens ORDER BY id", &[], |r| {
            TokenInfo { id: r.get(0), name: r.get(1), scope: r.get(2), created: r.get(3), revoked: r.get(4) }
        })
    }

    fn token_by_hash(&self, hash: &str) -> Result<Option<(String, String)>, StoreError> {
        Ok(self
            .read(
                "SELECT name, scope FROM planatlas.tokens WHERE hash = $1 AND revoked IS NULL",
                &[&hash],
                |r| (r.get(0), r.get(1)),
            )?
            .pop())
    }

    fn revoke_token(&self, id: i64) -> Result<bool, StoreError> {
        let at = now();
        let n = self.read(
            "UPDATE planatlas.tokens SET revoked = $1 WHERE id = $2 AND revoked IS NULL RETURNING id",
            &[&at, &id],
            |_| (),
        )?;
        Ok(!n.is_empty())
    }
}

/// Writes `changes` as revisions after `revision` inside the writer's transaction, and notifies the other
/// instances (delivered when it commits).
async fn commit_in(
    tx: &tokio_postgres::Transaction<'_>,
    changes: &[Change],
    actor: &str,
    mut revision: i64,
) -> Result<Committed, tokio_postgres::Error> {
    // The database's clock, not this instance's: instances whose clocks differ would stamp history out of
    // order (a later version "before" the one it follows, and `?datetime=` at the first answering the
    // second). Never before the head either.
    let row = tx
        .query_one(
            "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                    (SELECT at FROM planatlas.versions ORDER BY revision DESC LIMIT 1)",
            &[],
        )
        .await?;
    let (clock, head): (String, Option<String>) = (row.get(0), row.get(1));
    let at = head.filter(|h| *h > clock).unwrap_or(clock);
    let mut versions = Vec::with_capacity(changes.len());
    for ch in changes {
        revision += 1;
        let version = tx
            .query_opt("SELECT version FROM planatlas.features WHERE key = $1", &[&ch.id])
            .await?
            .map_or(1, |r| r.get::<_, i64>(0) + 1);
        insert_version(tx, revision, &ch.id, version, ch.op, &at, actor, ch.record.as_deref()).await?;
        upsert_feature(tx, &ch.id, version, ch.record.as_deref(), revision).await?;
        versions.push(version);
    }
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &revision.to_string()]).await?;
    Ok(Committed { revision, versions, at })
}
