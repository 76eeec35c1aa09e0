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
    /// Where the file `name` of `revision` is (or will be) kept.
    pub fn path(&self, revision: i64, name: &str) -> PathBuf {
        self.dir.join(format!("r{revision}-{name}"))
    }

    /// The lock held while `path` is made.
    pub fn lock(&self, path: &std::path::Path) -> Arc<tokio::sync::Mutex<()>> {
        let mut making = self.making.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        making.entry(path.display().to_string()).or_default().clone()
    }

    /// Removes the files of revisions before `revision`: they are not served again.
    pub fn prune(&self, revision: i64) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rev =
                name.strip_prefix('r').and_then(|r| r.split('-').next()).and_then(|r| r.parse::<i64>().ok());
            if rev.is_some_and(|r| r < revision) {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let mut making = self.making.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        making.retain(|_, lock| Arc::strong_count(lock) > 1);
    }
}
