//! The compute pool: where work that grows with the input runs (filtering, sorting, distances, tile encoding),
//! away from the HTTP workers, so `/health` and every cheap request keep answering while it runs.
//!
//! A fixed number of threads take jobs from a bounded queue. Each job carries a deadline (the request timeout)
//! and a cancellation flag (set when the request is dropped, e.g. by the time limit or a client that went
//! away). The loops over candidates call [`spent`] as they go and stop early; the pool then answers 503 for
//! the job, whatever partial result it had. A full queue answers 503 at once rather than piling work up.
//! Threads have large stacks, so a filter at the nesting limit is far from overflowing one.
//!
//! Most jobs are small (a nearest query, a page, a cached tile's neighbours) and cost less than handing them
//! to another thread and waking the worker again. [`try_here`] runs a job on the calling HTTP worker under a
//! short budget (`--inline-budget-ms`, 1 ms by default) first: it either finishes within it or is stopped by
//! the same [`spent`] checks and goes to the pool, so a worker is never held longer than that budget per
//! request.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::error::ApiError;

/// Stack of a compute thread.
const STACK_BYTES: usize = 64 * 1024 * 1024;

type Job = Box<dyn FnOnce() + Send>;

/// The deadline and cancellation of a job.
struct Budget {
    deadline: Instant,
    /// Set when the request is dropped (jobs on the pool; a job run in place cannot outlive its request).
    cancelled: Option<Arc<AtomicBool>>,
}

thread_local! {
    /// The budget of the job running on this thread, and whether it was found spent.
    static CURRENT: RefCell<Option<(Budget, bool)>> = const { RefCell::new(None) };
}

/// Whether the job running on this thread is out of time or cancelled. Outside the pool (the command line,
/// benchmarks) there is no budget and this is always false. Cheap: a thread-local read and a clock read.
pub fn spent() -> bool {
    CURRENT.with(|c| match &mut *c.borrow_mut() {
        None => false,
        Some((_, true)) => true,
        Some((budget, found)) => {
            *found = Instant::now() >= budget.deadline
                || budget.cancelled.as_ref().is_some_and(|c| c.load(Ordering::Relaxed));
            *found
        }
    })
}

/// Runs `f` under `budget` on this thread: `Ok` of its result, or `Err(())` when it used the budget up.
fn run_budgeted<T>(
    budget: Budget,
    f: impl FnOnce() -> Result<T, ApiError>,
) -> Result<Result<T, ApiError>, ()> {
    CURRENT.with(|c| *c.borrow_mut() = Some((budget, false)));
    let result = std::panic::catch_unwind(AssertUnwindSafe(f));
    // Whether a loop of the job saw the budget spent and stopped early: its result is then partial. A job that
    // finished without seeing it (late or not) has a whole result.
    let cut_short = CURRENT.with(|c| c.borrow().as_ref().is_some_and(|(_, found)| *found));
    CURRENT.with(|c| *c.borrow_mut() = None);
    match result {
        Ok(_) if cut_short => Err(()),
        Ok(r) => Ok(r),
        Err(_) => Ok(Err(ApiError::Internal("the computation failed unexpectedly (logged)".into()))),
    }
}

fn run_job<T>(budget: Budget, f: impl FnOnce() -> Result<T, ApiError>) -> Result<T, ApiError> {
    run_budgeted(budget, f).unwrap_or_else(|()| Err(out_of_time()))
}

/// Runs `f` here, on the calling thread, with `budget` to finish. `Some` of its result when it finished; `None`
/// when it used the budget up (its loops saw [`spent`] and stopped early): the caller then runs it again on the
/// pool with the full budget, and whatever it had found is dropped. A zero budget runs nothing. Only for jobs
/// whose work is in loops that check [`spent`]: work without such checks runs to its end here whatever the
/// budget.
pub fn try_here<T>(budget: Duration, f: impl FnOnce() -> Result<T, ApiError>) -> Option<Result<T, ApiError>> {
    if budget.is_zero() {
        return None;
    }
    run_budgeted(Budget { deadline: Instant::now() + budget, cancelled: None }, f).ok()
}

fn out_of_time() -> ApiError {
    ApiError::Unavailable {
        detail: "the request used up its time budget (--request-timeout) and was stopped; narrow it (bbox, \
                 filter, a smaller distance) or retry"
            .into(),
        retry_after_secs: 5,
    }
}

/// Whether a queued job's request went away before a thread took it.
fn cancelled_before_start(budget: &Budget) -> bool {
    budget.cancelled.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
}

/// Sets the cancellation flag when the waiting request is dropped.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A fixed pool of compute threads with a bounded queue.
pub struct Compute {
    tx: mpsc::SyncSender<Job>,
    threads: usize,
}

impl Compute {
    /// Starts `threads` compute threads with room for `queue` waiting jobs.
    pub fn new(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(queue.max(1));
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("planatlas-compute-{n}"))
                .stack_size(STACK_BYTES)
                .spawn(move || {
                    loop {
                        // The lock is held only to take one job.
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => break,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a compute thread");
            }
        }
        Self { tx, threads }
    }

    /// Runs `f` on a compute thread with `budget` to finish; 503 when the queue is full, the budget is spent
    /// (see [`spent`]) or the request is dropped first.
    pub async fn run<T: Send + 'static>(
        &self,
        budget: Duration,
        f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let cancelled = Arc::new(AtomicBool::new(false));
        let job_budget = Budget { deadline: Instant::now() + budget, cancelled: Some(cancelled.clone()) };
        let job: Job = Box::new(move || {
            let result =
                if cancelled_before_start(&job_budget) { Err(out_of_time()) } else { run_job(job_budget, f) };
            let _ = tx.send(result);
        });
        if self.tx.try_send(job).is_err() {
            return Err(ApiError::Unavailable {
                detail: format!(
                    "all {} compute threads are busy and the queue is full; retry shortly",
                    self.threads
                ),
                retry_after_secs: 1,
            });
        }
        let _cancel = CancelOnDrop(cancelled);
        rx.await.unwrap_or_else(|_| Err(ApiError::Internal("a compute thread stopped".into())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_job_past_its_deadline_answers_503_and_the_pool_goes_on() {
        let pool = Compute::new(1, 4);
        let slow = pool
            .run(Duration::from_millis(50), || {
                while !spent() {
                    std::thread::yield_now();
                }
                Ok(1)
            })
            .await;
        assert!(matches!(slow, Err(ApiError::Unavailable { .. })), "{slow:?}");
        let quick = pool.run(Duration::from_secs(5), || Ok(2)).await;
        assert_eq!(quick.ok(), Some(2));
        assert!(!spent(), "no budget outside the pool");
    }

    #[test]
    fn a_job_run_here_finishes_within_its_budget_or_is_given_back() {
        let quick = try_here(Duration::from_millis(50), || Ok(7));
        assert!(matches!(quick, Some(Ok(7))));
        let slow = try_here(Duration::from_millis(5), || {
            while !spent() {
                std::thread::yield_now();
            }
            Ok(1)
        });
        assert!(slow.is_none(), "a job that used its budget up is given back");
        assert!(!spent(), "no budget left on the thread");
        assert!(try_here(Duration::ZERO, || Ok(1)).is_none(), "a zero budget runs nothing here");
        let failed: Option<Result<(), ApiError>> = try_here(Duration::from_secs(1), || panic!("boom"));
        assert!(matches!(failed, Some(Err(ApiError::Internal(_)))));
    }

    #[tokio::test]
    async fn a_panic_is_an_error_not_a_dead_thread() {
        let pool = Compute::new(1, 4);
        let r: Result<(), ApiError> = pool.run(Duration::from_secs(5), || panic!("boom")).await;
        assert!(matches!(r, Err(ApiError::Internal(_))));
        assert_eq!(pool.run(Duration::from_secs(5), || Ok(3)).await.ok(), Some(3));
    }
}
