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
