//! Whole-collection exports (`/exports/{file}`) made once per data revision and kept as files, so they are
//! served with `Content-Length`, an `ETag` and `Range` (what GDAL's `/vsicurl/` and QGIS "Add layer from URL"
//! need), not streamed.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// The directory of made export files, for the life of the process, and a lock per file being made so two
/// requests for the same new file make it once.
pub struct ExportFiles {
    dir: PathBuf,
    /// Removes the directory when the server stops.
    _cleanup: Option<tempfile::TempDir>,
    making: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Default for ExportFiles {
    /// A new, empty temporary directory of export files. If none can be made, the files go to a fixed path under
    /// the temporary directory, and a failure to write there fails the export, not the server.
    fn default() -> Self {
        let made = tempfile::Builder::new().prefix("planatlas-exports-").tempdir();
        let dir = made.as_ref().map_or_else(
            |_| std::env::temp_dir().join(format!("planatlas-exports-{}", std::process::id())),
            |d| d.path().to_path_buf(),
        );
        Self { dir, _cleanup: made.ok(), making: Mutex::default() }
    }
}

impl ExportFiles {
    /// Where the file `name` of the data `stamp` (revision, store epoch and day: [`data_stamp`]) is (or will
    /// be) kept.
    pub fn path(&self, stamp: &str, name: &str) -> PathBuf {
        self.dir.join(format!("{stamp}-{name}"))
    }

    /// The lock held while `path` is made.
    pub fn lock(&self, path: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut making = self.making.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        making.entry(path.display().to_string()).or_default().clone()
    }

    /// Removes the files of every data stamp but `current` (an older revision, the store before a restore,
    /// another day): they are not served again. Files still being made (`.part`) are left to their maker.
    /// The caller passes the stamp of the data being served now, not of the request's own (older) model:
    /// a request that made an export of data that has since changed must not remove the newer files.
    pub fn prune(&self, current: &str) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        let mine = format!("{current}-");
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let making = e.path().extension().is_some_and(|x| x == "part");
            if !name.starts_with(&mine) && !making {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let mut making = self.making.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        making.retain(|_, lock| Arc::strong_count(lock) > 1);
    }
}

/// What an export's bytes depend on besides what was asked: the store's revision and when it was made (a
/// restore reuses revision numbers, in this process or before a restart, with other times), how many times
/// this process saw the store go back, and the day (Liaoning's date: the projects' stage and progress are
/// stated as of it). Names the kept files and starts the streamed exports' `ETag`s.
pub fn data_stamp(model: &crate::store::engine::ReadModel) -> String {
    let made = xxhash_rust::xxh3::xxh3_64(model.updated.as_deref().unwrap_or_default().as_bytes());
    format!(
        "r{}e{}t{made:016x}d{}",
        model.revision,
        crate::store::engine::store_epoch(),
        model.catalog.state_day().format("%Y%m%d")
    )
}
