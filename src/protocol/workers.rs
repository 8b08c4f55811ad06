//! Threads kept for a session's life that run jobs borrowing the caller's data.
//!
//! [`Workers::run`] hands each job to a thread of its own and returns only once every job has
//! finished, as `std::thread::scope` does, but the threads stay for the next run. A thread's
//! start and end cost 85–300 µs on the 2-core benchmark machine (the end gives its stack's
//! pages back; the next thread faults them in again), and `protocol::parallel` runs once per
//! hand-over of received bytes, every few milliseconds. Waiting is a condition variable's:
//! an idle thread costs no CPU.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

/// A job handed to a worker: the caller's closure, borrowed for one [`Workers::run`].
pub(crate) type Job<'a> = &'a mut (dyn FnMut() + Send);

/// The kept threads, started as runs first need them; ended when dropped.
#[derive(Default)]
pub(crate) struct Workers {
    threads: Vec<Worker>,
}

struct Worker {
    mailbox: Arc<Mailbox>,
    handle: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Mailbox {
    slot: Mutex<Slot>,
    /// Signals a change of `slot`, either way.
    changed: Condvar,
}

#[derive(Default)]
enum Slot {
    #[default]
    Idle,
    Posted(Erased),
    Running,
    /// The job returned, or panicked with this payload.
    Done(Option<Box<dyn Any + Send>>),
    Quit,
}

/// A job with its lifetime erased. [`Workers::run`] does not return or unwind before the
/// worker has reported the job done, so the closure outlives every use of the pointer.
struct Erased(*mut (dyn FnMut() + Send + 'static));

// SAFETY: the closure is `Send`, and only the one worker it is posted to calls it, while the
// poster waits.
unsafe impl Send for Erased {}

impl Workers {
    /// Runs `jobs[i]` on kept thread `i` and `own` on the calling thread, and returns `own`'s
    /// result once every job has finished; a job's panic is passed on then. A job for which no
    /// thread could be started is not run: each job must be a share of work the others take
    /// over (`protocol::parallel`'s threads take blocks until none is left).
    pub(crate) fn run<R>(&mut self, jobs: &mut [Job<'_>], own: impl FnOnce() -> R) -> R {
        while self.threads.len() < jobs.len() {
            match Worker::start() {
                Some(worker) => self.threads.push(worker),
                None => break,
            }
        }
        let mut posted = Posted {
            workers: &self.threads,
            count: 0,
        };
        for (worker, job) in self.threads.iter().zip(jobs.iter_mut()) {
            let job: *mut (dyn FnMut() + Send + '_) = &mut **job;
            // SAFETY: only the lifetime changes; `posted` waits for the job to finish before
            // this function returns or unwinds (its `Drop`), so the borrow outlives the job.
            let job: *mut (dyn FnMut() + Send + 'static) = unsafe { std::mem::transmute(job) };
            worker.mailbox.post(Erased(job));
            posted.count += 1;
        }
        let result = own();
        if let Some(payload) = posted.wait_all() {
            panic::resume_unwind(payload);
        }
        result
    }
}

/// The workers given a job in this run; dropping it waits for them (also while unwinding).
struct Posted<'w> {
    workers: &'w [Worker],
    count: usize,
}

impl Posted<'_> {
    /// Waits for every posted job; returns the first panic's payload.
    fn wait_all(&mut self) -> Option<Box<dyn Any + Send>> {
        let mut first = None;
        for worker in &self.workers[..self.count] {
            let panic = worker.mailbox.wait_done();
            first = first.or(panic);
        }
        self.count = 0;
        first
    }
}

impl Drop for Posted<'_> {
    fn drop(&mut self) {
        self.wait_all();
    }
}

impl Worker {
    fn start() -> Option<Worker> {
        let mailbox = Arc::new(Mailbox::default());
        let served = Arc::clone(&mailbox);
        let handle = std::thread::Builder::new()
            .name("row-helper".into())
            .spawn(move || served.serve())
            .ok()?;
        Some(Worker {
            mailbox,
            handle: Some(handle),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        *self.mailbox.lock() = Slot::Quit;
        self.mailbox.changed.notify_all();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl Mailbox {
    fn lock(&self) -> MutexGuard<'_, Slot> {
        self.slot.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'g>(&self, slot: MutexGuard<'g, Slot>) -> MutexGuard<'g, Slot> {
        self.changed
            .wait(slot)
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn post(&self, job: Erased) {
        *self.lock() = Slot::Posted(job);
        self.changed.notify_all();
    }

    /// Waits for the posted job to finish; its panic's payload, if it panicked.
    fn wait_done(&self) -> Option<Box<dyn Any + Send>> {
        let mut slot = self.lock();
        loop {
            match std::mem::take(&mut *slot) {
                Slot::Done(panic) => return panic,
                other => {
                    *slot = other;
                    slot = self.wait(slot);
                }
            }
        }
    }

    /// The worker's loop: each posted job, until told to quit.
    fn serve(&self) {
        let mut slot = self.lock();
        loop {
            match std::mem::replace(&mut *slot, Slot::Running) {
                Slot::Posted(Erased(job)) => {
                    drop(slot);
                    // SAFETY: the poster keeps the closure alive, and touches it not, until
                    // it sees `Done` (`Workers::run`).
                    let result = panic::catch_unwind(AssertUnwindSafe(|| unsafe { (*job)() }));
                    slot = self.lock();
                    *slot = Slot::Done(result.err());
                    self.changed.notify_all();
                }
                Slot::Quit => return,
                other => {
                    *slot = other;
                    slot = self.wait(slot);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread::ThreadId;

    #[test]
    fn borrowed_jobs_run_on_the_same_kept_threads_each_run() {
        let mut workers = Workers::default();
        let ids: Mutex<Vec<ThreadId>> = Mutex::new(Vec::new());
        let mut counts = [0usize; 2];
        for round in 1..=3 {
            let [a, b] = &mut counts;
            let ids = &ids;
            let mut first = || {
                *a += 1;
                ids.lock().unwrap().push(std::thread::current().id());
            };
            let mut second = || *b += 10;
            let own = workers.run(&mut [&mut first, &mut second], || round);
            assert_eq!(own, round);
        }
        assert_eq!(counts, [3, 30]);
        let ids = ids.into_inner().unwrap();
        assert_eq!(ids.len(), 3);
        assert!(ids.iter().all(|&id| id == ids[0]), "{ids:?}");
        assert_ne!(ids[0], std::thread::current().id());
        assert_eq!(workers.threads.len(), 2);
    }

    #[test]
    fn a_job_that_panics_is_passed_on_once_every_job_has_finished() {
        let mut workers = Workers::default();
        let finished = AtomicUsize::new(0);
        let result = panic::catch_unwind(AssertUnwindSafe(|| {
            let mut fails = || panic!("job failed");
            let mut slow = || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                finished.fetch_add(1, Ordering::SeqCst);
            };
            workers.run(&mut [&mut fails, &mut slow], || ());
        }));
        assert!(result.is_err());
        assert_eq!(finished.load(Ordering::SeqCst), 1);
        // The threads serve the next run.
        let mut again = || {
            finished.fetch_add(1, Ordering::SeqCst);
        };
        workers.run(&mut [&mut again], || ());
        assert_eq!(finished.load(Ordering::SeqCst), 2);
    }
}
