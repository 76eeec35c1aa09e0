//! The embedded durable store: SQLite (WAL, `synchronous=FULL`) in the data directory.
//!
//! It keeps what can change: the projects, every version of each (transaction time, OGC "Versioned Features"),
//! and the write tokens (as SHA-256 hashes). The boundaries, regions, plan items and targets come from the
//! shipped geodata and do not change at run time. On first start the projects are seeded from
//! `projects.geojson`; later starts load them from here. A write is one transaction, committed (fsync'd)
//! before the caller answers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;

/// The file name of the database inside the data directory.
pub const FILE_NAME: &str = "planatlas.sqlite";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("{path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// The data directory cannot be used.
    #[error("{0}")]
    Dir(String),
    /// The store cannot be reached now (`PostgreSQL` stopped or restarting, the network down): reads go on
    /// from memory, writes are refused with 503 until it is back.
    #[error("the store {store} cannot be reached: {detail}")]
    Unavailable {
        /// The store, as shown (no password).
        store: String,
        /// What failed.
        detail: String,
    },
    /// The database refused a statement.
    #[error("{store}: {detail}")]
    Database {
        /// The store, as shown (no password).
        store: String,
        /// The database's message.
        detail: String,
    },
    /// A stored record is not what was written (should never happen).
    #[error("{path}: stored record {id} is not valid JSON: {detail}")]
    Corrupt {
        /// The database file.
        path: String,
        /// The feature.
        id: String,
        /// The parse error.
        detail: String,
    },
}

/// The collections kept in the store besides `projects`; their records are stored under `{collection}/{id}`
/// (a project id never holds a `/`), so one history and one revision cover them all. `layers/{id}` holds a
/// planner's imported layer, served as collection `{id}`.
pub const STORED: &[&str] = &["projects", "progress", "indicators", "layers"];

/// The store's key of a feature of a stored collection.
pub fn store_key(collection: &str, id: &str) -> String {
    if collection == "projects" { id.to_owned() } else { format!("{collection}/{id}") }
}

/// The store key of a feature, when it reads back as that feature: a project id holding `/` (`layers/zones`)
/// would be another collection's key (an uploaded layer's), so it names no feature.
pub fn feature_key(collection: &str, id: &str) -> Option<String> {
    let key = store_key(collection, id);
    (split_key(&key) == (collection, id)).then_some(key)
}

/// The collection and feature id of a store key.
pub fn split_key(key: &str) -> (&str, &str) {
    match key.split_once('/') {
        Some((c, id)) if STORED.contains(&c) => (c, id),
        _ => ("projects", key),
    }
}

/// What a version records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Loaded from the shipped `projects.geojson` on first start.
    Seed,
    /// `POST`.
    Create,
    /// `PUT`.
    Replace,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `planatlas import`.
    Import,
}

impl Op {
    /// The name stored in the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seed => "seed",
            Self::Create => "create",
            Self::Replace => "replace",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::Import => "import",
        }
    }

    /// The operation of a stored name.
    pub fn parse(s: &str) -> Self {
        match s {
            "create" => Self::Create,
            "replace" => Self::Replace,
            "patch" => Self::Patch,
            "delete" => Self::Delete,
            "import" => Self::Import,
            _ => Self::Seed,
        }
    }
}

/// A feature as stored: its id, version and GeoJSON Feature text (`None` once deleted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The feature id.
    pub id: String,
    /// Its version, 1 for the first.
    pub version: i64,
    /// The GeoJSON Feature as written (input properties only), or `None` when deleted.
    pub record: Option<String>,
}

/// One version of a feature.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Version {
    /// Position in the store's whole history (the revision it made).
    pub revision: i64,
    /// The feature id.
    pub id: String,
    /// The feature's version number.
    pub version: i64,
    /// What was done.
    pub operation: Op,
    /// When (transaction time, RFC 3339 UTC with milliseconds).
    pub at: String,
    /// Who: the token's name, or the seed file.
    pub actor: String,
    /// The full new state (`None` for a deletion).
    #[serde(skip)]
    pub record: Option<String>,
}

/// One change of a write.
#[derive(Debug, Clone)]
pub struct Change {
    /// The feature id.
    pub id: String,
    /// What is done.
    pub op: Op,
    /// The new record, `None` to delete.
    pub record: Option<String>,
}

/// A consistent reading of the store: every row (deleted ones with `record: None`) in first-stored order, and the
/// revision they are at.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every feature row, deleted or not, in first-stored order.
    pub rows: Vec<Stored>,
    /// The revision of this state (0 for an empty store).
    pub revision: i64,
    /// When that revision was made.
    pub updated: Option<String>,
}

/// The caller's part of a write, run while the store's write lock is held: given the store's state when it
/// is newer than the revision the caller said it knows (`None` when the caller's copy is current), the
/// changes to commit, or `None` to commit nothing.
pub type WriteFn<'a> = dyn FnMut(Option<Snapshot>) -> Option<Vec<Change>> + 'a;

/// What a commit made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The new revision.
    pub revision: i64,
    /// The version each change got, in order.
    pub versions: Vec<i64>,
    /// The time the store stamped the revision with (`updated` on every instance).
    pub at: String,
}

/// A write token as listed (never the token itself).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    /// Its number.
    pub id: i64,
    /// Who holds it (shown in the history).
    pub name: String,
    /// `province`, `region:<id>` or `city:<adcode>`.
    pub scope: String,
    /// When it was made.
    pub created: String,
    /// When it was revoked, if it was.
    pub revoked: Option<String>,
}

/// The durable store behind the engine (the one interface the write path and the history use): the embedded
/// SQLite [`Store`] here; a `PostgreSQL` one for several instances implements the same.
pub trait Backend: Send + Sync {
    /// Where it is, for messages (a file path, a connection name).
    fn describe(&self) -> String;
    /// What it was seeded from, if it says.
    fn seeded_from(&self) -> Option<String>;
    /// Every feature that is not deleted, in first-stored order.
    fn current(&self) -> Result<Vec<Stored>, StoreError>;
    /// Every row and the revision they are at, read in one transaction.
    fn snapshot(&self) -> Result<Snapshot, StoreError>;
    /// One feature's current row, deleted or not.
    fn get(&self, id: &str) -> Result<Option<Stored>, StoreError>;
    /// The latest revision and when it was made.
    fn revision(&self) -> Result<(i64, Option<String>), StoreError>;
    /// One write, serialised with every other writer of this store (other processes and instances too): takes
    /// the store's write lock, calls `plan` with the store's state if it is past revision `known`, and commits
    /// what `plan` returns in the same transaction (durably), so nothing can come between what `plan` saw and
    /// the commit. `None` when `plan` declined.
    fn write(&self, actor: &str, known: i64, plan: &mut WriteFn<'_>)
    -> Result<Option<Committed>, StoreError>;
    /// Waits until another writer may have committed (a notification) or `timeout` passes.
    fn wait_for_change(&self, timeout: std::time::Duration) {
        std::thread::sleep(timeout);
    }
    /// Every version of a feature, oldest first.
    fn versions(&self, id: &str) -> Result<Vec<Version>, StoreError>;
    /// The features as they stood at transaction time `at`.
    fn as_of(&self, at: &str) -> Result<Vec<Stored>, StoreError>;
    /// When the first version was stored (the seed), if any was.
    fn versions_from_start(&self) -> Result<Option<String>, StoreError>;
    /// Adds a token (its hash only); returns its number.
    fn add_token(&self, name: &str, scope: &str, hash: &str) -> Result<i64, StoreError>;
    /// Every token.
    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError>;
    /// The live token with this hash: (name, scope).
    fn token_by_hash(&self, hash: &str) -> Result<Option<(String, String)>, StoreError>;
    /// Revokes a token; false when there was no live one.
    fn revoke_token(&self, id: i64) -> Result<bool, StoreError>;
}

impl Backend for Store {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
    fn seeded_from(&self) -> Option<String> {
        Store::seeded_from(self)
    }
    fn current(&self) -> Result<Vec<Stored>, StoreError> {
        Store::current(self)
    }
    fn snapshot(&self) -> Result<Snapshot, StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let rows = all_rows(&tx)?;
            let (revision, updated) = head(&tx)?;
            tx.commit()?;
            Ok(Snapshot { rows, revision, updated })
        })
    }
    fn get(&self, id: &str) -> Result<Option<Stored>, StoreError> {
        Store::get(self, id)
    }
    fn revision(&self) -> Result<(i64, Option<String>), StoreError> {
        Store::revision(self)
    }
    fn write(
        &self,
        actor: &str,
        known: i64,
        plan: &mut WriteFn<'_>,
    ) -> Result<Option<Committed>, StoreError> {
        self.with(|c| {
            // IMMEDIATE takes SQLite's write lock now, so another process (`planatlas import`) cannot commit
            // between the reading below and this commit.
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let (revision, updated) = head(&tx)?;
            let fresh = if revision == known {
                None
            } else {
                Some(Snapshot { rows: all_rows(&tx)?, revision, updated })
            };
            let Some(changes) = plan(fresh) else { return Ok(None) };
            let made = commit_in(&tx, &changes, actor)?;
            tx.commit()?;
            Ok(Some(made))
        })
    }
    fn versions(&self, id: &str) -> Result<Vec<Version>, StoreError> {
        Store::versions(self, id)
    }
    fn as_of(&self, at: &str) -> Result<Vec<Stored>, StoreError> {
        Store::as_of(self, at)
    }
    fn versions_from_start(&self) -> Result<Option<String>, StoreError> {
        self.with(|c| {
            c.query_row("SELECT at FROM versions ORDER BY revision LIMIT 1", [], |r| r.get(0)).optional()
        })
    }
    fn add_token(&self, name: &str, scope: &str, hash: &str) -> Result<i64, StoreError> {
        Store::add_token(self, name, scope, hash)
    }
    fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        Store::tokens(self)
    }
    fn token_by_hash(&self, hash: &str) -> Result<Option<(String, String)>, StoreError> {
        Store::token_by_hash(self, hash)
    }
    fn revoke_token(&self, id: i64) -> Result<bool, StoreError> {
        Store::revoke_token(self, id)
    }
}

/// Everything a store holds, as `planatlas migrate` copies it.
#[derive(Debug, Clone)]
pub struct Dump {
    /// The store's own notes (`seeded`, `seed_actor`).
    pub meta: Vec<(String, String)>,
    /// Every version, in revision order, with its record.
    pub versions: Vec<Version>,
    /// Every token and its hash.
    pub tokens: Vec<(TokenInfo, String)>,
}

/// The SQLite store.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

/// Now, as the store writes times.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS features (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    record TEXT,
    first_revision INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    revision INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    version INTEGER NOT NULL,
    op TEXT NOT NULL,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    record TEXT
);
CREATE INDEX IF NOT EXISTS versions_by_id ON versions (id, version);
CREATE INDEX IF NOT EXISTS versions_by_time ON versions (at);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    scope TEXT NOT NULL,
    hash TEXT NOT NULL UNIQUE,
    created TEXT NOT NULL,
    revoked TEXT
);
";

impl Store {
    /// Opens (creating if needed) the store in `dir`. `seed` gives the features to start with when it is new:
    /// (id, GeoJSON Feature text) pairs, stored as version 1 by `seed_actor`.
    pub fn open(
        dir: &Path,
        seed: impl FnOnce() -> Result<Vec<(String, String)>, String>,
        seed_actor: &str,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Dir(format!("cannot create the data directory {}: {e}", dir.display()))
        })?;
        let path = dir.join(FILE_NAME);
        let shown = path.display().to_string();
        let sql = |source| StoreError::Sqlite { path: shown.clone(), source };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        let store = Self { conn: Mutex::new(conn), path };
        let seeded: Option<String> = store.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = 'seeded'", [], |r| r.get(0)).optional()
        })?;
        if seeded.is_none() {
            let features = seed().map_err(StoreError::Dir)?;
            let at = now();
            store.with(|c| {
                let tx = c.transaction()?;
                for (id, record) in &features {
                    tx.execute(
                        "INSERT INTO versions (id, version, op, at, actor, record) VALUES (?1, 1, 'seed', ?2, ?3, ?4)",
                        params![id, at, seed_actor, record],
                    )?;
                    let revision = tx.last_insert_rowid();
                    tx.execute(
                        "INSERT INTO features (id, version, record, first_revision) VALUES (?1, 1, ?2, ?3)",
                        params![id, record, revision],
                    )?;
                }
                tx.execute("INSERT INTO meta (key, value) VALUES ('seeded', ?1)", params![at])?;
                tx.execute("INSERT INTO meta (key, value) VALUES ('seed_actor', ?1)", params![seed_actor])?;
                tx.commit()
            })?;
        }
        Ok(store)
    }

    /// What the store was seeded from (the seed actor), if it says.
    pub fn seeded_from(&self) -> Option<String> {
        self.with(|c| {
            c.query_row("SELECT value FROM meta WHERE key = 'seed_actor'", [], |r| r.get(0)).optional()
        })
        .ok()
        .flatten()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let mut conn = match self.conn.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut conn).map_err(|source| StoreError::Sqlite { path: self.path.display().to_string(), source })
    }

    /// Every feature that is not deleted, in the order they were first stored.
    pub fn current(&self) -> Result<Vec<Stored>, StoreError> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT id, version, record FROM features WHERE record IS NOT NULL ORDER BY first_revision",
            )?;
            q.query_map([], |r| Ok(Stored { id: r.get(0)?, version: r.get(1)?, record: r.get(2)? }))?
                .collect()
        })
    }

    /// One feature's current row, deleted or not.
    pub fn get(&self, id: &str) -> Result<Option<Stored>, StoreError> {
        self.with(|c| {
            c.query_row("SELECT id, version, record FROM features WHERE id = ?1", params![id], |r| {
                Ok(Stored { id: r.get(0)?, version: r.get(1)?, record: r.get(2)? })
            })
            .optional()
        })
    }

    /// The latest revision (0 for an empty store) and when it was made.
    pub fn revision(&self) -> Result<(i64, Option<String>), StoreError> {
        self.with(|c| head(c))
    }

    /// Commits `changes` in one transaction, each as a new version by `actor`; returns the new revision and
    /// the version each change made. Nothing is visible, and nothing is kept, unless all are.
    pub fn commit(&self, changes: &[Change], actor: &str) -> Result<Committed, StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let made = commit_in(&tx, changes, actor)?;
            tx.commit()?;
            Ok(made)
        })
    }

    /// Every version of a feature, oldest first.
    pub fn versions(&self, id: &str) -> Result<Vec<Version>, StoreError> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT revision, id, version, op, at, actor, record FROM versions WHERE id = ?1 ORDER BY revision",
            )?;
            q.query_map(params![id], row_version)?.collect()
        })
    }

    /// The features as they stood at transaction time `at` (RFC 3339 UTC), in first-stored order.
    pub fn as_of(&self, at: &str) -> Result<Vec<Stored>, StoreError> {
        self.with(|c| {
            let mut q = c.prepare(
                "SELECT v.id, v.version, v.record FROM versions v
                 JOIN (SELECT id, MAX(revision) AS rev, MIN(revision) AS first FROM versions WHERE at <= ?1 GROUP BY id) l
                   ON v.revision = l.rev
                 WHERE v.record IS NOT NULL ORDER BY l.first",
            )?;
            q.query_map(params![at], |r| Ok(Stored { id: r.get(0)?, version: r.get(1)?, record: r.get(2)? }))?
                .collect()
        })
    }

    /// Adds a token; stores only `hash`.
    pub fn add_token(&self, name: &str, scope: &str, hash: &str) -> Result<i64, StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO tokens (name, scope, hash, created) VALUES (?1, ?2, ?3, ?4)",
                params![name, scope, hash, now()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    /// Every token, revoked ones too.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        self.with(|c| {
            let mut q = c.prepare("SELECT id, name, scope, created, revoked FROM tokens ORDER BY id")?;
            q.query_map([], |r| {
                Ok(TokenInfo {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    scope: r.get(2)?,
                    created: r.get(3)?,
                    revoked: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// The live token with this hash: (name, scope).
    pub fn token_by_hash(&self, hash: &str) -> Result<Option<(String, String)>, StoreError> {
        self.with(|c| {
            c.query_row(
                "SELECT name, scope FROM tokens WHERE hash = ?1 AND revoked IS NULL",
                params![hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
        })
    }

    /// Revokes the token with this number; false when there is none (or it was already revoked).
    pub fn revoke_token(&self, id: i64) -> Result<bool, StoreError> {
        self.with(|c| {
            c.execute("UPDATE tokens SET revoked = ?1 WHERE id = ?2 AND revoked IS NULL", params![now(), id])
                .map(|n| n > 0)
        })
    }

    /// Everything the store holds (its history, tokens and what it was seeded from), for `planatlas migrate`.
    pub fn dump(&self) -> Result<Dump, StoreError> {
        self.with(|c| {
            let tx = c.transaction()?;
            let meta = {
                let mut q = tx.prepare("SELECT key, value FROM meta ORDER BY key")?;
                q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let versions = {
                let mut q = tx.prepare(
                    "SELECT revision, id, version, op, at, actor, record FROM versions ORDER BY revision",
                )?;
                q.query_map([], row_version)?.collect::<rusqlite::Result<Vec<_>>>()?
            };
            let tokens = {
                let mut q =
                    tx.prepare("SELECT id, name, scope, created, revoked, hash FROM tokens ORDER BY id")?;
                q.query_map([], |r| {
                    Ok((
                        TokenInfo {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            scope: r.get(2)?,
                            created: r.get(3)?,
                            revoked: r.get(4)?,
                        },
                        r.get(5)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.commit()?;
            Ok(Dump { meta, versions, tokens })
        })
    }

    /// A check that every stored record parses (used by start-up to stop on a damaged store).
    pub fn check_records(features: &[Stored], path: &str) -> Result<(), StoreError> {
        for f in features {
            if let Some(r) = &f.record
                && let Err(e) = serde_json::from_str::<Value>(r)
            {
                return Err(StoreError::Corrupt {
                    path: path.to_owned(),
                    id: f.id.clone(),
                    detail: e.to_string(),
                });
            }
        }
        Ok(())
    }
}

/// The latest revision (0 for an empty store) and when it was made.
fn head(c: &Connection) -> rusqlite::Result<(i64, Option<String>)> {
    c.query_row("SELECT revision, at FROM versions ORDER BY revision DESC LIMIT 1", [], |r| {
        Ok((r.get(0)?, Some(r.get(1)?)))
    })
    .optional()
    .map(|o| o.unwrap_or((0, None)))
}

/// Every row, deleted ones too, in first-stored order.
fn all_rows(c: &Connection) -> rusqlite::Result<Vec<Stored>> {
    let mut q = c.prepare("SELECT id, version, record FROM features ORDER BY first_revision")?;
    q.query_map([], |r| Ok(Stored { id: r.get(0)?, version: r.get(1)?, record: r.get(2)? }))?.collect()
}

/// Writes `changes` as new versions inside the caller's transaction.
fn commit_in(tx: &Connection, changes: &[Change], actor: &str) -> rusqlite::Result<Committed> {
    let at = now();
    let mut revision = 0;
    let mut versions = Vec::with_capacity(changes.len());
    for ch in changes {
        let version: i64 = tx
            .query_row("SELECT version FROM features WHERE id = ?1", params![ch.id], |r| r.get(0))
            .optional()?
            .map_or(1, |v: i64| v + 1);
        tx.execute(
            "INSERT INTO versions (id, version, op, at, actor, record) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![ch.id, version, ch.op.as_str(), at, actor, ch.record],
        )?;
        revision = tx.last_insert_rowid();
        tx.execute(
            "INSERT INTO features (id, version, record, first_revision) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version, record = excluded.record",
            params![ch.id, version, ch.record, revision],
        )?;
        versions.push(version);
    }
    Ok(Committed { revision, versions, at })
}

fn row_version(r: &rusqlite::Row<'_>) -> rusqlite::Result<Version> {
    let op: String = r.get(3)?;
    Ok(Version {
        revision: r.get(0)?,
        id: r.get(1)?,
        version: r.get(2)?,
        operation: Op::parse(&op),
        at: r.get(4)?,
        actor: r.get(5)?,
        record: r.get(6)?,
    })
}

/// The stored features as one GeoJSON FeatureCollection, for the loader.
pub fn feature_collection(features: &[Stored]) -> String {
    let mut out = String::from("{\"type\":\"FeatureCollection\",\"features\":[");
    let mut first = true;
    for r in features.iter().filter_map(|f| f.record.as_deref()) {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(r);
    }
    out.push_str("]}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeded(dir: &Path) -> Store {
        Store::open(
            dir,
            || Ok(vec![("a".into(), r#"{"type":"Feature","id":"a"}"#.into()), ("b".into(), "{}".into())]),
            "seed",
        )
        .unwrap()
    }

    #[test]
    fn seeds_once_then_keeps_every_version() {
        let dir = tempfile::tempdir().unwrap();
        let store = seeded(dir.path());
        assert_eq!(store.current().unwrap().len(), 2);
        // Times have millisecond resolution.
        std::thread::sleep(std::time::Duration::from_millis(5));
        let made = store
            .commit(&[Change { id: "a".into(), op: Op::Replace, record: Some("{\"x\":1}".into()) }], "t")
            .unwrap();
        assert_eq!(made.revision, 3);
        assert_eq!(store.revision().unwrap(), (3, Some(made.at)));
        drop(store);
        // Reopened: not seeded again, the change is there.
        let store = seeded(dir.path());
        let cur = store.current().unwrap();
        assert_eq!(cur.len(), 2);
        assert_eq!(cur[0].version, 2);
        assert_eq!(cur[0].record.as_deref(), Some("{\"x\":1}"));
        store.commit(&[Change { id: "a".into(), op: Op::Delete, record: None }], "t").unwrap();
        assert_eq!(store.current().unwrap().len(), 1);
        let v = store.versions("a").unwrap();
        assert_eq!(v.iter().map(|v| v.operation).collect::<Vec<_>>(), [Op::Seed, Op::Replace, Op::Delete]);
        // As of the seed: both, the first at version 1.
        let then = store.as_of(&v[0].at).unwrap();
        assert_eq!(then.len(), 2);
        assert_eq!(then[0].version, 1);
    }
}
