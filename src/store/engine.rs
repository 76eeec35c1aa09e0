//! The store seam every route goes through: the current read model (catalog, indexes, tile caches) swapped
//! atomically per revision, and the write path that changes it.
//!
//! A write takes the writer lock, computes the changed feature set, rebuilds the catalog from the unchanging
//! boundaries and the new projects with the loader's own validation and joins ([`Catalog::assemble`]), checks
//! the caller's scope on the old and new catalogs, commits to SQLite (fsync), and only then swaps the read
//! model in. A reader holds one `Arc<ReadModel>` for its whole request, so it sees the state before a write
//! or after it, never half of it; caches (tiles, JSON) live in the model, so a new revision starts with fresh
//! ones and no key can serve stale data.

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde_json::Value;

use super::admin::Admin;
use super::db::{self, Backend, Change, Committed, Op, Store, StoreError, Stored};
use super::layers::{self, LayerFile, LayerSpec};
use super::source::{DataSource, LoadError};
use super::tiles::TileSource;
use super::{Catalog, Feature};

/// Moves each time the store's revision goes back (a restored backup): kept answers are keyed by it as well as
/// by revision, since the same revision numbers then come again with other data.
static STORE_EPOCH: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many times the store's revision has been seen going back (twice per time): part of every kept
/// answer's key.
pub fn store_epoch() -> u64 {
    STORE_EPOCH.load(std::sync::atomic::Ordering::SeqCst)
}

/// One revision of the data, as readers see it.
pub struct ReadModel {
    /// Every collection with its indexes.
    pub catalog: Arc<Catalog>,
    /// Vector tiles of this revision, encoded on first use.
    pub tiles: TileSource,
    /// The store's revision (0 without a store).
    pub revision: i64,
    /// When the revision was made (RFC 3339), if it came from the store.
    pub updated: Option<String>,
    /// The current version number of each stored feature (by store key).
    pub versions: HashMap<String, i64>,
    /// The store's rows this model was built from (deleted ones too), in first-stored order.
    stored: Arc<Vec<Stored>>,
    /// Per collection: a fingerprint of what its answers show, and the revision at which that last changed.
    marks: HashMap<&'static str, (u128, i64)>,
}

/// Each collection's fingerprint ([`Collection::fingerprint`]), with `revision` as the revision it changed at.
/// An uploaded layer's mark also carries its stored version: its document's ETag names the version, so
/// replacing it with the same content still changes what its answers show.
fn marks_of(
    catalog: &Catalog,
    revision: i64,
    versions: &HashMap<String, i64>,
) -> HashMap<&'static str, (u128, i64)> {
    catalog
        .collections()
        .iter()
        .map(|c| {
            let version = versions.get(&store_key("layers", c.id())).copied().unwrap_or(0);
            (c.id(), (c.fingerprint() ^ u128::from(version.unsigned_abs()).rotate_left(64), revision))
        })
        .collect()
}

impl ReadModel {
    fn new(catalog: Catalog, revision: i64, updated: Option<String>, stored: Vec<Stored>) -> Self {
        let versions =
            stored.iter().filter(|s| s.record.is_some()).map(|s| (s.id.clone(), s.version)).collect();
        let marks = marks_of(&catalog, revision, &versions);
        Self {
            catalog: Arc::new(catalog),
            tiles: TileSource::new(),
            revision,
            updated,
            versions,
            stored: Arc::new(stored),
            marks,
        }
    }

    /// This model, continuing `previous`'s tile counters (its caches start empty: the data changed), and the
    /// revision of each collection whose fingerprint did not change.
    #[must_use]
    fn after(mut self, previous: &ReadModel) -> Self {
        self.tiles = TileSource::continuing(&previous.tiles);
        for (id, (print, changed)) in &mut self.marks {
            if let Some(&(was, at)) = previous.marks.get(id)
                && was == *print
            {
                *changed = at;
            }
        }
        self
    }

    /// A model of a catalog alone (no store): revision 0.
    pub fn of(catalog: Arc<Catalog>) -> Self {
        let marks = marks_of(&catalog, 0, &HashMap::new());
        Self {
            catalog,
            tiles: TileSource::new(),
            revision: 0,
            updated: None,
            versions: HashMap::new(),
            stored: Arc::new(Vec::new()),
            marks,
        }
    }

    /// The revision at which what collection `id` shows (its features, their properties and geometries, its
    /// description) last changed: a write that leaves a collection as it was leaves its answers valid. The
    /// model's revision for a collection it does not have.
    pub fn revision_of(&self, id: &str) -> i64 {
        self.marks.get(id).map_or(self.revision, |m| m.1)
    }

    /// The store's row of a feature (by store key) in this model, deleted or not.
    pub fn row(&self, key: &str) -> Option<&Stored> {
        self.stored.iter().find(|s| s.id == key)
    }

    /// The version of a project, when the data comes from the store.
    pub fn version_of(&self, id: &str) -> Option<i64> {
        self.versions.get(id).copied()
    }
}

/// Why a write was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// This server runs without a store.
    #[error("this server runs read-only (no data directory)")]
    ReadOnly,
    /// No such feature.
    #[error("no feature '{0}'")]
    NotFound(String),
    /// The feature was deleted.
    #[error("feature '{0}' was deleted")]
    Gone(String),
    /// The id is taken.
    #[error("a feature '{0}' already exists")]
    Conflict(String),
    /// `If-Match` does not match the current version.
    #[error("{0}")]
    Precondition(String),
    /// The new data breaks a rule of the loader.
    #[error("{0}")]
    Invalid(String),
    /// The caller may not touch this feature.
    #[error("{0}")]
    Forbidden(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The data could not be rebuilt for another reason.
    #[error("{0}")]
    Load(String),
}

pub use super::db::{STORED, feature_key, split_key, store_key};

/// The scope check of a write: the feature as it is (`None` when new) and as it will be (`None` when deleted).
pub type Allowed<'a> = dyn Fn(Option<&Feature>, Option<&Feature>) -> Result<(), WriteError> + 'a;

/// What a write proposes: given the current stored row (if any), the changes to commit.
pub type Plan<'a> = dyn FnOnce(Option<&Stored>) -> Result<Vec<Change>, WriteError> + 'a;

/// The changes of a write, given the store's rows as they are under its write lock.
type Make<'a> = dyn FnMut(&[Stored]) -> Result<Vec<Change>, WriteError> + 'a;

/// What a write built before committing: the new catalog, the rows it is made of, and the changes.
type Built = (Catalog, Vec<Stored>, Vec<Change>);

/// The engine: the base data, the store and the current read model.
pub struct Engine {
    base: DataSource,
    admin: Option<Admin>,
    store: Option<Box<dyn Backend>>,
    model: ArcSwap<ReadModel>,
    writer: Mutex<()>,
    /// Why the store cannot be reached now, and since when (`None` while it can).
    trouble: Mutex<Option<(String, String)>>,
}

/// Where the durable store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The embedded SQLite store in this data directory.
    Dir(std::path::PathBuf),
    /// A `PostgreSQL`/PostGIS database (`postgres://…`), shared by several instances.
    Postgres(String),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Dir(d) => write!(f, "{}", d.display()),
            Self::Postgres(url) => match tokio_postgres::Config::from_str(url) {
                Ok(c) => f.write_str(&super::pg::shown(&c)),
                Err(_) => f.write_str("the PostgreSQL store"),
            },
        }
    }
}

/// What a successful write made.
pub struct Written {
    /// The new revision.
    pub revision: i64,
    /// The model now served.
    pub model: Arc<ReadModel>,
}

fn load_error(e: LoadError) -> WriteError {
    match e {
        LoadError::Feature { feature, reason, .. } => {
            WriteError::Invalid(format!("feature '{feature}': {reason}"))
        }
        other => WriteError::Load(other.to_string()),
    }
}

impl Engine {
    /// An engine over an already loaded catalog, without a store: reads only (tests, benchmarks).
    pub fn read_only(catalog: Catalog) -> Self {
        Self {
            base: catalog.source().clone(),
            admin: None,
            store: None,
            model: ArcSwap::from_pointee(ReadModel::new(catalog, 0, None, Vec::new())),
            writer: Mutex::new(()),
            trouble: Mutex::new(None),
        }
    }

    /// [`Engine::read_only`] over a catalog shared with others (tests load the data once).
    pub fn read_only_shared(catalog: Arc<Catalog>) -> Self {
        Self {
            base: catalog.source().clone(),
            admin: None,
            store: None,
            model: ArcSwap::from_pointee(ReadModel::of(catalog)),
            writer: Mutex::new(()),
            trouble: Mutex::new(None),
        }
    }

    /// Opens the store in `data_dir` (seeding it from `base`'s `projects.geojson` on first start) and builds the
    /// first read model from the boundaries of `base` and the stored projects.
    pub fn open(base: DataSource, data_dir: &Path) -> Result<Self, String> {
        Self::open_at(base, &Location::Dir(data_dir.to_owned()), &[])
    }

    /// [`Engine::open`], serving planners' layers (`--layer`) beside the plan's collections.
    pub fn open_with_layers(base: DataSource, data_dir: &Path, layers: &[LayerSpec]) -> Result<Self, String> {
        Self::open_at(base, &Location::Dir(data_dir.to_owned()), layers)
    }

    /// Opens the store at `location` (the embedded one in a directory, or `PostgreSQL`), seeding it from
    /// `base`'s `projects.geojson` when it is new, and builds the first read model from the boundaries of
    /// `base`, the stored features and the planners' `layers`.
    pub fn open_at(base: DataSource, location: &Location, layers: &[LayerSpec]) -> Result<Self, String> {
        // Planners' layers (a large one takes seconds) are read while the store opens and the boundaries load.
        std::thread::scope(|scope| {
            let files = std::thread::Builder::new()
                .name("planatlas-read-layers".into())
                .spawn_scoped(scope, || {
                    // A panic in a reader must stop start-up with a message, not end the scope with a panic.
                    std::panic::catch_unwind(|| super::layers::read_all(layers)).unwrap_or_else(|_| {
                        Err(LoadError::File {
                            file: layers
                                .iter()
                                .map(|l| l.path.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", "),
                            reason: "reading the layer failed unexpectedly".into(),
                        })
                    })
                })
                .map_err(|e| format!("cannot start reading the layers: {e}"))?;
            Self::open_reading(base, location, files)
        })
    }

    /// [`Engine::open_at`] with the layers being read by `files`.
    fn open_reading(
        base: DataSource,
        location: &Location,
        files: std::thread::ScopedJoinHandle<'_, Result<Vec<LayerFile>, LoadError>>,
    ) -> Result<Self, String> {
        let seed_source = base.clone();
        let seed = move || seed_rows(&seed_source);
        let actor = format!("seed from {} projects.geojson", base.describe());
        let store: Box<dyn Backend> = match location {
            Location::Dir(dir) => Box::new(Store::open(dir, seed, &actor).map_err(|e| e.to_string())?),
            Location::Postgres(url) => {
                Box::new(super::pg::PgStore::open(url, seed, &actor).map_err(|e| e.to_string())?)
            }
        };
        if let Some(from) = store.seeded_from().filter(|from| *from != actor) {
            // The store keeps its projects; a different --data only supplies the boundaries now.
            tracing::warn!(
                store = %store.describe(),
                seeded = %from,
                "the store was seeded from another source; its projects are served, not those of {}",
                base.describe()
            );
        }
        let mut admin = Catalog::load_admin(&base).map_err(|e| e.to_string())?;
        let files = files.join().map_err(|_| "reading a layer failed unexpectedly".to_owned())?;
        admin.layers = super::layers::join_all(files.map_err(|e| e.to_string())?, &admin);
        let snapshot = store.snapshot().map_err(|e| e.to_string())?;
        Store::check_records(&snapshot.rows, &store.describe()).map_err(|e| e.to_string())?;
        let catalog =
            build(&admin, &base, &store.describe(), &snapshot.rows, today()).map_err(|e| e.to_string())?;
        Ok(Self {
            base,
            admin: Some(admin),
            store: Some(store),
            model: ArcSwap::from_pointee(ReadModel::new(
                catalog,
                snapshot.revision,
                snapshot.updated,
                snapshot.rows,
            )),
            writer: Mutex::new(()),
            trouble: Mutex::new(None),
        })
    }

    /// Why the store cannot be reached, and since when (RFC 3339), while it cannot.
    pub fn store_trouble(&self) -> Option<(String, String)> {
        self.trouble.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Notes how the last use of the store went: an unreachable store is remembered (for `/ready`) until a
    /// use succeeds.
    fn note<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        let mut trouble = self.trouble.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match &result {
            Ok(_) => *trouble = None,
            Err(e @ StoreError::Unavailable { .. }) => {
                if trouble.is_none() {
                    tracing::warn!(error = %e, "the store cannot be reached; reads go on from memory, writes are refused");
                    *trouble = Some((e.to_string(), db::now()));
                }
            }
            Err(_) => {}
        }
        result
    }

    /// Waits until the store may have changed (another instance's notification) or `timeout` passes.
    pub fn wait_for_change(&self, timeout: std::time::Duration) {
        match &self.store {
            Some(s) => s.wait_for_change(timeout),
            None => std::thread::sleep(timeout),
        }
    }

    /// The read model now: hold it for a whole request.
    pub fn model(&self) -> Arc<ReadModel> {
        self.model.load_full()
    }

    /// The store, when there is one.
    pub fn store(&self) -> Option<&dyn Backend> {
        self.store.as_deref()
    }

    /// Writes one feature: `plan` turns the current stored row into changes; `allowed` checks the caller may
    /// make them, given the feature as it is (`None` when new) and as it will be (`None` when deleted).
    /// Commits before returning; the new model is served from then on.
    pub fn write(
        &self,
        collection: &str,
        id: &str,
        actor: &str,
        plan: Box<Plan<'_>>,
        allowed: &Allowed<'_>,
    ) -> Result<Written, WriteError> {
        // A write through a project id `layers/zones` would change an uploaded layer under a project's scope
        // check: such an id names no feature.
        let key =
            feature_key(collection, id).ok_or_else(|| WriteError::NotFound(store_key(collection, id)))?;
        let mut plan = Some(plan);
        let mut make = |rows: &[Stored]| -> Result<Vec<Change>, WriteError> {
            let plan = plan.take().ok_or_else(|| WriteError::Load("a write's plan ran twice".into()))?;
            plan(rows.iter().find(|s| s.id == key))
        };
        self.commit_with(actor, &mut make, allowed, &|_| {})
    }

    /// The write path every write takes: under the store's write lock (which serialises the writers of every
    /// process and instance on the store), asks `make` for the changes given the store's rows as they are
    /// (this model's, or the newer ones another writer committed), rebuilds the catalog with them (the
    /// loader's validation and joins), checks `allowed` on each changed feature before and after, commits
    /// (durably), and only then serves the new model, which has every other writer's changes too. No
    /// changes: nothing is committed.
    fn commit_with(
        &self,
        actor: &str,
        make: &mut Make<'_>,
        allowed: &Allowed<'_>,
        progress: &dyn Fn(&str),
    ) -> Result<Written, WriteError> {
        let (Some(store), Some(admin)) = (&self.store, &self.admin) else { return Err(WriteError::ReadOnly) };
        let _guard = match self.writer.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut failure = None;
        let mut built = None;
        let known = self.model().revision;
        let mut plan = |fresh: Option<db::Snapshot>| {
            let outcome = (|| -> Result<Option<Built>, WriteError> {
                let old = self.model();
                // The store's rows under the lock: this model's, or newer ones another process or instance
                // committed since it was built.
                let fresh = fresh.map(|s| s.rows);
                let rows: &[Stored] = fresh.as_deref().unwrap_or(&old.stored);
                let changes = make(rows)?;
                if changes.is_empty() {
                    return Ok(None);
                }
                // The scope check needs each changed feature as it is now: this model's catalog has it unless
                // another writer changed that very feature since; then the catalog is rebuilt first.
                let row_version =
                    |rows: &[Stored], id: &str| rows.iter().find(|r| r.id == id).map(|r| r.version);
                let stale =
                    changes.iter().any(|ch| row_version(rows, &ch.id) != row_version(&old.stored, &ch.id));
                let before = if stale {
                    Arc::new(build(admin, &self.base, &store.describe(), rows, today()).map_err(load_error)?)
                } else {
                    old.catalog.clone()
                };
                // A change that writes what is already stored (a merge patch of derived properties only, a PUT
                // of the same record) makes no version: checked for scope like any write, then nothing is
                // committed. A layer's replace is always a version (its ETag names it).
                let same = changes.iter().all(|ch| {
                    if split_key(&ch.id).0 == "layers" {
                        return false;
                    }
                    let now = rows.iter().find(|r| r.id == ch.id).and_then(|r| r.record.as_deref());
                    match (ch.record.as_deref(), now) {
                        (Some(new), Some(now)) => {
                            comparable(new).is_some() && comparable(new) == comparable(now)
                        }
                        _ => false,
                    }
                });
                // A feature the caller may not change is refused before the change is validated, so a
                // token learns nothing of another area's records from the loader's complaints.
                for ch in &changes {
                    let (c, fid) = split_key(&ch.id);
                    if let Some(now) = before.collection(c).and_then(|b| b.get(fid)) {
                        allowed(Some(now), Some(now))?;
                    }
                }
                let mut rows = rows.to_vec();
                apply(&mut rows, &changes);
                progress("validating and joining");
                let catalog =
                    build(admin, &self.base, &store.describe(), &rows, today()).map_err(load_error)?;
                for ch in &changes {
                    let (c, fid) = split_key(&ch.id);
                    let (before, after) = (before.collection(c), catalog.collection(c));
                    allowed(before.and_then(|b| b.get(fid)), after.and_then(|a| a.get(fid)))?;
                }
                if same {
                    return Ok(None);
                }
                progress("committing");
                Ok(Some((catalog, rows, changes)))
            })();
            match outcome {
                Ok(Some((catalog, rows, changes))) => {
                    let commit = changes.clone();
                    built = Some((catalog, rows, changes));
                    Some(commit)
                }
                Ok(None) => None,
                Err(e) => {
                    failure = Some(e);
                    None
                }
            }
        };
        let committed = self.note(store.write(actor, known, &mut plan))?;
        if let Some(e) = failure {
            return Err(e);
        }
        let old = self.model();
        let (Some(Committed { revision, versions, at }), Some((catalog, mut rows, changes))) =
            (committed, built)
        else {
            return Ok(Written { revision: old.revision, model: old });
        };
        for (ch, version) in changes.iter().zip(versions) {
            if let Some(row) = rows.iter_mut().find(|r| r.id == ch.id) {
                row.version = version;
            }
        }
        // `updated` is the time the store stamped the revision with, so every instance says the same.
        let model = Arc::new(ReadModel::new(catalog, revision, Some(at), rows).after(&old));
        self.model.store(model.clone());
        Ok(Written { revision, model })
    }

    /// A read model of a snapshot of the store, continuing the current one's counters.
    fn model_of(
        &self,
        admin: &Admin,
        store: &dyn Backend,
        snapshot: db::Snapshot,
    ) -> Result<ReadModel, WriteError> {
        let catalog =
            build(admin, &self.base, &store.describe(), &snapshot.rows, today()).map_err(load_error)?;
        Ok(ReadModel::new(catalog, snapshot.revision, snapshot.updated, snapshot.rows).after(&self.model()))
    }

    /// Imports records (id, GeoJSON Feature text), all or nothing: each new id is created, each changed one
    /// replaced, each identical one left alone; the whole set is validated with the loader's rules and
    /// committed in one transaction. `progress` hears each step.
    pub fn import(
        &self,
        actor: &str,
        records: Vec<(String, String)>,
        progress: &dyn Fn(&str),
    ) -> Result<Imported, WriteError> {
        let (mut created, mut changed, mut unchanged) = (Vec::new(), Vec::new(), 0);
        let mut make = |rows: &[Stored]| -> Result<Vec<Change>, WriteError> {
            (created, changed, unchanged) = (Vec::new(), Vec::new(), 0);
            let mut seen = std::collections::HashSet::new();
            let mut changes = Vec::new();
            for (id, record) in &records {
                if !seen.insert(id.clone()) {
                    return Err(WriteError::Invalid(format!("feature '{id}' appears twice in the file")));
                }
                // Compared as JSON values: the same feature written with other spacing or member order, or
                // with a null property where the store has none (how a GeoPackage writes an empty column), is
                // unchanged.
                let same = |r: &str| comparable(r).is_some() && comparable(r) == comparable(record);
                match rows.iter().find(|s| s.id == *id).and_then(|s| s.record.as_deref()) {
                    Some(r) if same(r) => {
                        unchanged += 1;
                        continue;
                    }
                    Some(_) => changed.push(id.clone()),
                    None => created.push(id.clone()),
                }
                changes.push(upsert(id, Op::Import, record.clone()));
            }
            Ok(changes)
        };
        let written = self.commit_with(actor, &mut make, &|_, _| Ok(()), progress)?;
        Ok(Imported { created, changed, unchanged, revision: written.revision })
    }

    /// Stores a planner's layer as collection `file.id`, replacing an earlier import of the same id, in one
    /// commit; it is served, joined to the plan's areas, from then on and after every restart.
    ///
    /// `expected` is what the caller saw (`If-Match`, `If-None-Match: *`): checked under the write lock, so two
    /// planners replacing one layer cannot both win.
    pub fn put_layer(
        &self,
        actor: &str,
        file: &LayerFile,
        expected: LayerExpect,
    ) -> Result<Written, WriteError> {
        let key = store_key("layers", &file.id);
        let model = self.model();
        if model.catalog.collection(&file.id).is_some() && model.version_of(&key).is_none() {
            return Err(WriteError::Conflict(format!(
                "collection '{}' is not an imported layer (it is the plan's, or given by --layer)",
                file.id
            )));
        }
        drop(model);
        self.not_a_cli_layer(&file.id)?;
        let record = layers::to_record(file);
        self.write(
            "layers",
            &file.id,
            actor,
            Box::new(move |row| {
                let now = row.filter(|r| r.record.is_some()).map(|r| r.version);
                layer_precondition(expected, now)?;
                let op = if now.is_some() { Op::Replace } else { Op::Import };
                Ok(vec![upsert(&key, op, record)])
            }),
            &|_, _| Ok(()),
        )
    }

    /// Removes an imported layer (`expected` as for [`Engine::put_layer`]).
    pub fn delete_layer(&self, actor: &str, id: &str, expected: LayerExpect) -> Result<Written, WriteError> {
        self.not_a_cli_layer(id)?;
        let key = store_key("layers", id);
        self.write(
            "layers",
            id,
            actor,
            Box::new(move |row| match row {
                Some(r) if r.record.is_some() => {
                    layer_precondition(expected, Some(r.version))?;
                    Ok(vec![Change { id: key, op: Op::Delete, record: None }])
                }
                _ => Err(WriteError::NotFound(id.to_owned())),
            }),
            &|_, _| Ok(()),
        )
    }

    /// A `--layer` file given at start-up is served over a stored layer of its id: a write to the stored one
    /// would answer 2xx and change nothing that is served.
    fn not_a_cli_layer(&self, id: &str) -> Result<(), WriteError> {
        if self.admin.as_ref().is_some_and(|a| a.layers.iter().any(|l| l.id() == id)) {
            return Err(WriteError::Conflict(format!(
                "collection '{id}' is given by --layer at start-up: it is served from that file, not the store"
            )));
        }
        Ok(())
    }

    /// Picks up writes another process committed to the store (`planatlas import`, another instance):
    /// rebuilds the model when the store's revision is not the model's (ahead of it, or behind it after a
    /// backup was restored). Returns whether it did.
    pub fn refresh(&self) -> Result<bool, WriteError> {
        let (Some(store), Some(admin)) = (&self.store, &self.admin) else { return Ok(false) };
        let (revision, _) = self.note(store.revision())?;
        // A new day can change the projects' progress state (a quarter begins) without a write.
        if revision == self.model().revision && self.model().catalog.state_day() == today() {
            return Ok(false);
        }
        let _guard = match self.writer.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let snapshot = self.note(store.snapshot())?;
        // Behind: the store was restored, and its revision numbers will be used again for other data. Answers
        // kept by revision are made unreachable, before the new model serves and after.
        let restored = snapshot.revision < self.model().revision;
        if restored {
            STORE_EPOCH.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tracing::warn!(
                from = self.model().revision,
                to = snapshot.revision,
                "the store's revision went back (restored?): rebuilding"
            );
        }
        let next = self.model_of(admin, store.as_ref(), snapshot)?;
        self.model.store(Arc::new(next));
        if restored {
            STORE_EPOCH.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        Ok(true)
    }

    /// The catalog as it stood at `at` (RFC 3339 UTC), built afresh: the projects as the store recorded them
    /// then (transaction time; the seeded ones when `at` is before the store began), and each project's
    /// progress as the reports now recorded say it stood on that day (valid time: the latest report whose
    /// quarter had begun by then).
    pub fn as_of(&self, at: &str) -> Result<Catalog, WriteError> {
        let (Some(store), Some(admin)) = (&self.store, &self.admin) else { return Err(WriteError::ReadOnly) };
        let day = chrono::DateTime::parse_from_rfc3339(at)
            .map(|t| t.with_timezone(&super::progress::china()).date_naive())
            .map_err(|e| WriteError::Invalid(format!("datetime '{at}': {e}")))?;
        let first = store.versions_from_start()?;
        let when =
            if first.as_deref().is_some_and(|f| at < f) { first.unwrap_or_default() } else { at.to_owned() };
        let mut then: Vec<Stored> =
            store.as_of(&when)?.into_iter().filter(|s| split_key(&s.id).0 == "projects").collect();
        let projects: std::collections::HashSet<String> = then.iter().map(|s| s.id.clone()).collect();
        let now = store.current()?;
        // The targets projects carry, then and now: a value of a target whose project did not exist then is
        // left out, as are the reports of such projects (the loader would refuse both).
        let targets_of = |records: &[Stored]| -> std::collections::HashSet<String> {
            records
                .iter()
                .filter(|s| split_key(&s.id).0 == "projects")
                .filter_map(|s| serde_json::from_str::<serde_json::Value>(s.record.as_deref()?).ok())
                .flat_map(|doc| {
                    doc.pointer("/properties/targets")
                        .and_then(serde_json::Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t.get("id").and_then(serde_json::Value::as_str).map(str::to_owned))
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let (targets_then, targets_now) = (targets_of(&then), targets_of(&now));
        then.extend(now.into_iter().filter(|s| match split_key(&s.id) {
            ("progress", fid) => fid.split_once('@').is_some_and(|(p, _)| projects.contains(p)),
            ("indicators", fid) => {
                fid.rsplit_once('@').is_none_or(|(t, _)| targets_then.contains(t) || !targets_now.contains(t))
            }
            // Uploaded layers as they are now: `within=<layer>:<id>` with `datetime=` names a zone of today.
            ("layers", _) => true,
            _ => false,
        }));
        build(admin, &self.base, &store.describe(), &then, day).map_err(load_error)
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Ids created.
    pub created: Vec<String>,
    /// Ids replaced.
    pub changed: Vec<String>,
    /// Records identical to what was stored.
    pub unchanged: usize,
    /// The store's revision after it.
    pub revision: i64,
}

/// Applies changes to the store's rows, for the rebuild (a deletion keeps the row without a record; the
/// versions come from the commit).
fn apply(current: &mut Vec<Stored>, changes: &[Change]) {
    for ch in changes {
        match (current.iter().position(|s| s.id == ch.id), &ch.record) {
            (Some(i), r) => current[i].record.clone_from(r),
            (None, Some(r)) => {
                current.push(Stored { id: ch.id.clone(), version: 0, record: Some(r.clone()) });
            }
            (None, None) => {}
        }
    }
}

/// The rows a new store starts with: the shipped projects, progress reports and indicator values, checked as
/// the loader checks a data file before anything is stored, so a bad file stops start-up naming the file, the
/// feature and the reason, and leaves no store behind it.
/// A record as a JSON value to compare, with null properties left out (null and absent mean the same in a
/// project record).
fn comparable(record: &str) -> Option<Value> {
    let mut v = serde_json::from_str::<Value>(record).ok()?;
    if let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) {
        props.retain(|_, p| !p.is_null());
    }
    Some(v)
}

fn seed_rows(source: &DataSource) -> Result<Vec<(String, String)>, String> {
    let (file, text) = source.read("projects.geojson").map_err(|e| e.to_string())?;
    let fc: Value = serde_json::from_str(&text).map_err(|e| format!("{file}: {e}"))?;
    let features = fc.get("features").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut rows: Vec<(String, String)> = features
        .into_iter()
        .map(|f| {
            let id = f.pointer("/properties/id").and_then(Value::as_str).unwrap_or_default().to_owned();
            (id, f.to_string())
        })
        .collect();
    // The shipped progress reports and indicator values, as the loader just accepted them.
    let catalog = Catalog::load(source.clone()).map_err(|e| e.to_string())?;
    for (collection, records) in [
        ("progress", catalog.progress_reports().iter().map(|r| (&r.id, &r.record)).collect::<Vec<_>>()),
        ("indicators", catalog.indicator_values().iter().map(|i| (&i.id, &i.record)).collect()),
    ] {
        for (id, record) in records {
            rows.push((store_key(collection, id), record_feature(id, record)));
        }
    }
    Ok(rows)
}

fn today() -> chrono::NaiveDate {
    super::progress::today()
}

/// A stored record of a non-spatial collection: a GeoJSON Feature with no geometry.
pub fn record_feature(id: &str, properties: &serde_json::Map<String, Value>) -> String {
    serde_json::json!({"type": "Feature", "id": id, "geometry": null, "properties": properties}).to_string()
}

/// The properties of stored records as one JSON array, for the loader.
fn record_array(rows: &[&Stored]) -> String {
    let items: Vec<Value> = rows
        .iter()
        .filter_map(|s| s.record.as_deref())
        .filter_map(|r| serde_json::from_str::<Value>(r).ok())
        .map(|mut f| f.get_mut("properties").map_or(Value::Null, Value::take))
        .collect();
    Value::Array(items).to_string()
}

/// A stored layer's cache key: the boundaries it is joined to (by address), its store key, its record's hash.
type LayerKey = (usize, String, u128);

/// A cached layer: the boundaries' index it was joined with (held, so its address stays its own), and the layer.
type LayerEntry = (Arc<super::admin::CountyIndex>, Arc<super::Collection>);

/// Stored layers already parsed and joined, by [`LayerKey`].
fn layer_cache() -> &'static std::sync::Mutex<std::collections::HashMap<LayerKey, LayerEntry>> {
    static CACHE: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<LayerKey, LayerEntry>>> =
        std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The catalog of `admin`'s boundaries and these stored projects, reports and values, with the projects'
/// progress as of `day`.
fn build(
    admin: &Admin,
    base: &DataSource,
    db: &str,
    stored: &[Stored],
    day: chrono::NaiveDate,
) -> Result<Catalog, LoadError> {
    let of = |c: &str| stored.iter().filter(|s| split_key(&s.id).0 == c).collect::<Vec<&Stored>>();
    let projects: Vec<Stored> = of("projects").into_iter().cloned().collect();
    let mut admin = admin.clone();
    // A stored layer is parsed and joined once per record and boundaries, not at every write: a project's
    // edit re-read a 30 000-point layer from its JSON each time, and the new collection's identity dropped
    // its cached answers.
    let boundaries = Arc::as_ptr(&admin.county_index) as usize;
    let mut used: Vec<LayerKey> = Vec::new();
    for s in of("layers") {
        let Some(record) = &s.record else { continue };
        let key: LayerKey = (boundaries, s.id.clone(), xxhash_rust::xxh3::xxh3_128(record.as_bytes()));
        let cached = layer_cache()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&key)
            .map(|e| e.1.clone());
        let c = match cached {
            Some(c) => c,
            None => {
                let file =
                    layers::from_record(record).map_err(|e| LoadError::feature(db, s.id.clone(), e))?;
                if file.flattened {
                    tracing::warn!(
                        collection = %file.id,
                        "the stored layer's positions have heights (Z) or measures (M), which are not kept: it is \
                         served in 2-D"
                    );
                }
                let c = Arc::new(layers::collection(file, &admin));
                // The entry holds the boundaries' index, so no other boundaries can take its address (the
                // key's first part) while the entry is there.
                layer_cache()
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(key.clone(), (admin.county_index.clone(), c.clone()));
                c
            }
        };
        used.push(key);
        if admin.layers.iter().any(|l| l.id() == c.id()) {
            // Imported by another process while this one serves a --layer of that id: the file given at
            // start-up is served, and writes go on.
            tracing::warn!(
                collection = %c.id(),
                "an imported layer has the id of a --layer file; the --layer file is served, the imported one is not"
            );
            continue;
        }
        admin.layers.push(c);
    }
    // What these boundaries' stores no longer hold is let go (other boundaries' entries are another engine's).
    layer_cache()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .retain(|k, _| k.0 != boundaries || used.contains(k));
    let source = DataSource::Stored {
        base: Box::new(base.clone()),
        projects: Arc::from(db::feature_collection(&projects)),
        progress: Arc::from(record_array(&of("progress"))),
        indicators: Arc::from(record_array(&of("indicators"))),
        db: db.to_owned(),
    };
    Catalog::assemble_on(admin, source, day)
}

/// Whether a layer now at version `now` (`None`: not there) is the one the caller expected.
fn layer_precondition(expected: LayerExpect, now: Option<i64>) -> Result<(), WriteError> {
    let holds = match expected {
        LayerExpect::Any => true,
        LayerExpect::Absent => now.is_none(),
        LayerExpect::Exists => now.is_some(),
        LayerExpect::At(v) => now == Some(v),
    };
    if holds {
        return Ok(());
    }
    Err(WriteError::Precondition(match now {
        Some(v) => format!("the layer is at v{v}, not as the request's precondition names it; GET it again"),
        None => "the layer does not exist (any more)".to_owned(),
    }))
}

/// What a layer write expects of the stored layer (its `If-Match` / `If-None-Match: *`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerExpect {
    /// No precondition.
    Any,
    /// That there is none (`If-None-Match: *`; or, under `--require-if-match`, a write without `If-Match`,
    /// which may only create).
    Absent,
    /// That there is one, whatever its version (`If-Match: *`).
    Exists,
    /// That it is at this version.
    At(i64),
}

/// The change that creates or replaces `id` with `record`.
pub fn upsert(id: &str, op: Op, record: String) -> Change {
    Change { id: id.to_owned(), op, record: Some(record) }
}
