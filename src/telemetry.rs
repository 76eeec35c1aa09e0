//! Logging: `tracing` to stderr, as text or JSON lines, filtered by `RUST_LOG` (default `info`).
//!
//! Lines are written by a thread of their own ([`tracing_appender::non_blocking()`]): a worker formats its line
//! and hands it over, and never waits for the write to stderr, which under a map's load (one request line per
//! answer, tens of thousands a second) cost more than most answers. The queue does not drop lines: when it is
//! full (128 000 lines behind) the worker waits. Keep the returned [`LogGuard`] alive until the process ends;
//! dropping it writes what is still queued.
//!
//! Request lines come from [`crate::ops::observe`], one event per answer with target `planatlas::access`:
//! `RUST_LOG=info,planatlas::access=warn` keeps every other line and drops them.

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The log writer thread's guard, while it runs: dropping it writes the lines still queued.
static WRITER: std::sync::Mutex<Option<WorkerGuard>> = std::sync::Mutex::new(None);

/// Keeps the log writer thread running; dropping it writes the lines still queued (see [`flush`]).
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard(());

impl Drop for LogGuard {
    fn drop(&mut self) {
        flush();
    }
}

/// Writes the lines still queued and stops the writer thread: for a process about to exit without unwinding
/// (the shutdown watchdog). Lines logged after it are dropped.
pub fn flush() {
    let guard = WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
    drop(guard);
}

/// Installs the global subscriber.
pub fn init(format: LogFormat) -> LogGuard {
    use std::io::IsTerminal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only on a terminal: a log file or a collector gets plain text.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    // The writer thread writes what it takes off the queue into a buffer and flushes it whenever the queue is
    // empty (and at shutdown): one write for a batch of lines under load instead of one per line, and every line
    // out as soon as the server is idle.
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("planatlas-log")
        .finish(std::io::BufWriter::with_capacity(64 * 1024, std::io::stderr()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(colour).with_writer(writer);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        // The request's span (its id) is on each line; the list of enclosing spans would repeat it.
        LogFormat::Json => builder.json().with_span_list(false).try_init(),
    };
    // A subscriber installed earlier (tests start several servers in one process) keeps its writer.
    if installed.is_ok() {
        *WRITER.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(guard);
    }
    LogGuard(())
}
