//! What every handler and middleware can reach: the data, the settings, the tile cache and the pools.

use std::sync::Arc;

use crate::compute::Compute;
use crate::config::Settings;
use crate::store::Catalog;
use crate::store::tiles::TileSource;

/// Jobs that may wait for a compute thread, per thread.
const QUEUE_PER_THREAD: usize = 32;

/// The application state.
pub struct AppState {
    /// The loaded data.
    pub catalog: Arc<Catalog>,
    /// Server settings (base URL, limits).
    pub settings: Settings,
    /// Vector tiles, simplified per zoom on first use and cached.
    pub tiles: TileSource,
    /// Slots for expensive requests (see [`crate::ops::take_slot`]).
    pub expensive: Arc<tokio::sync::Semaphore>,
    /// Where filtering, sorting, distances and tile encoding run (see [`crate::compute`]).
    pub compute: Compute,
}

impl AppState {
    /// The state for a loaded catalog and settings.
    pub fn new(catalog: Arc<Catalog>, settings: Settings) -> Self {
        let expensive = Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent_expensive));
        let compute = Compute::new(settings.compute_threads, settings.compute_threads * QUEUE_PER_THREAD);
        Self { catalog, settings, tiles: TileSource::new(), expensive, compute }
    }
}
