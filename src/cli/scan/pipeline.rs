//! Runs a scan's jobs on every core and applies their results in input order, decoding while
//! the rules load.
//!
//! A producer thread lists the jobs ([`work::jobs`]: each file, or each chunk of an EVTX
//! file) and, for each, makes a bounded channel: the job and the channel's sending end go to
//! the workers (a shared queue, taken in order), the receiving end goes to the collector
//! (this thread) in job order. The collector drains one job's channel after the other, so
//! the output is the order a single thread produces, whatever order the jobs finish in.
//!
//! The rules load on a thread of their own meanwhile (`scan::run`). Decoding records into
//! CIM rows does not need them, so until they are there each worker takes jobs and decodes
//! them ([`work::start`]), about [`DECODE_AHEAD`] items in all; then it waits for the rules,
//! matches what it decoded, in order, and goes on as usual. A scan whose rules take as long to
//! load as its input takes to decode (the ESCU corpus or the Sigma rules over a directory of
//! EVTX files) costs about the longer of the two instead of their sum. The collector prints
//! the rules' warnings before anything else, as one thread does.
//!
//! Memory stays bounded: the jobs in flight (listed and not yet applied) are counted by a
//! [`Window`], wide while the rules load (the items decoded ahead are the bound then) and
//! [`IN_FLIGHT`] per worker after; a worker whose job is ahead of the collector waits once
//! its channel holds [`BATCHES`] batches. No deadlock: jobs are taken in order, so the job the
//! collector waits for has a worker that never waits on a later one, and a worker holding
//! decoded jobs never waits on the queue, or on its lock, longer than [`POLL`] without looking
//! for the rules.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Condvar, Mutex, OnceLock, PoisonError, TryLockError};
use std::time::Duration;

use indicatif::ProgressBar;

use super::collect::Collector;
use super::detector::Ready;
use super::work::{self, Found, Job, Matching, Started, Tally};
use super::ScanOptions;

/// Found things sent together.
const BATCH: usize = 256;
/// Batches a job may have waiting for the collector.
const BATCHES: usize = 64;
/// Jobs queued or running per worker once the rules are loaded.
const IN_FLIGHT: usize = 4;
/// Items (records) all workers decode, about, before the rules are loaded: a few tens of
/// MiB of rows at most, more than a second core decodes while the largest rule sets load.
pub(super) const DECODE_AHEAD: usize = 16_384;
/// Jobs in flight while the rules load (many small files decode ahead too).
const IN_FLIGHT_LOADING: usize = 1024;
/// How long a worker holding decoded jobs waits for the next job before it looks whether
/// the rules are there.
const POLL: Duration = Duration::from_millis(1);

enum Message {
    Found(Vec<Found>),
    /// Boxed: every job's channel holds room for [`BATCHES`] messages from the start.
    Done(Box<Tally>),
}

/// A job for a worker: its file's index, the job, where its results go.
type Task = (usize, Job, SyncSender<Message>);
/// A job decoded before the rules were there, waiting for them.
type Decoded = (usize, Started, SyncSender<Message>);

/// What the workers share.
struct Shared<'a> {
    files: &'a [PathBuf],
    options: &'a ScanOptions,
    rules: &'a OnceLock<Ready>,
    progress: &'a ProgressBar,
    queue: Mutex<Receiver<Task>>,
    /// Items decoded before the rules were there, by every worker.
    ahead: AtomicUsize,
    /// The most items to decode ahead ([`DECODE_AHEAD`]; tests make it small).
    budget: usize,
}

/// Runs every job of `files` with `options.threads` workers (on this thread alone when 1),
/// while `rules` are being loaded; once they are, `begin` makes the collector (it prints what
/// loading reported first), which is returned when every job has been applied.
pub(super) fn run<'w, W: Write>(
    files: &'w [PathBuf],
    options: &ScanOptions,
    rules: &OnceLock<Ready>,
    progress: &ProgressBar,
    begin: impl FnOnce(&Ready) -> Collector<'w, W>,
) -> Collector<'w, W> {
    if options.threads <= 1 {
        return inline(files, options, rules.wait(), progress, begin);
    }
    let (work_tx, work_rx) = sync_channel::<Task>(options.threads);
    let shared = Shared {
        files,
        options,
        rules,
        progress,
        queue: Mutex::new(work_rx),
        ahead: AtomicUsize::new(0),
        budget: options.decode_ahead,
    };
    threaded(&shared, work_tx, begin)
}

/// One thread: the rules are loaded first, then every job runs here in order.
fn inline<'w, W: Write>(
    files: &'w [PathBuf],
    options: &ScanOptions,
    ready: &Ready,
    progress: &ProgressBar,
    begin: impl FnOnce(&Ready) -> Collector<'w, W>,
) -> Collector<'w, W> {
    let mut collector = begin(ready);
    let mut detector = ready.detector();
    let mut matching = Matching {
        detector: &mut **detector,
        render: &ready.render,
    };
    for (index, job) in work::jobs(files, options.format) {
        collector.job_start(index, matches!(job, Job::EvtxPiece(_)));
        let found = &mut |found| collector.found(found);
        let tally = work::run(job, &files[index], options, &mut matching, progress, found);
        collector.job_end(tally);
    }
    collector
}

/// The producer, the workers and (on this thread) the collector.
fn threaded<'w, W: Write>(
    shared: &Shared<'_>,
    work_tx: SyncSender<Task>,
    begin: impl FnOnce(&Ready) -> Collector<'w, W>,
) -> Collector<'w, W> {
    let threads = shared.options.threads;
    let (order_tx, order_rx) = channel::<(usize, bool, Receiver<Message>)>();
    let window = &Window::new(IN_FLIGHT_LOADING.max(threads * IN_FLIGHT));
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (index, job) in work::jobs(shared.files, shared.options.format) {
                window.enter();
                let (tx, rx) = sync_channel(BATCHES);
                let piece = matches!(job, Job::EvtxPiece(_));
                if order_tx.send((index, piece, rx)).is_err()
                    || work_tx.send((index, job, tx)).is_err()
                {
                    return;
                }
            }
        });
        for _ in 0..threads {
            scope.spawn(move || worker(shared));
        }
        let ready = shared.rules.wait();
        window.narrow(threads * IN_FLIGHT);
        let mut collector = begin(ready);
        for (index, piece, rx) in order_rx {
            collector.job_start(index, piece);
            for message in rx {
                match message {
                    Message::Found(batch) => batch.into_iter().for_each(|f| collector.found(f)),
                    Message::Done(tally) => {
                        collector.job_end(*tally);
                        break;
                    }
                }
            }
            window.leave();
        }
        collector
    })
}

/// Decodes ahead while the rules load, then matches what it decoded and takes jobs until
/// there are none.
fn worker(shared: &Shared<'_>) {
    let (backlog, queue_closed) = decode_ahead(shared);
    let ready = shared.rules.wait();
    let mut detector = ready.fork();
    let mut matching = Matching {
        detector: &mut *detector,
        render: &ready.render,
    };
    for (index, started, tx) in backlog {
        finish(shared, index, started, &tx, &mut matching);
    }
    if queue_closed {
        return;
    }
    while let Some((index, job, tx)) = next_task(shared, None).ok().flatten() {
        let format = shared.options.format;
        let started = work::start(
            job,
            &shared.files[index],
            format,
            shared.progress,
            &mut || false,
        );
        finish(shared, index, started, &tx, &mut matching);
    }
}

/// Takes and decodes jobs until the rules are there or the budget of items decoded ahead is
/// spent; returns them in order, and whether the queue is closed (no job left).
fn decode_ahead(shared: &Shared<'_>) -> (Vec<Decoded>, bool) {
    let mut backlog = Vec::new();
    let loading = || shared.rules.get().is_none();
    while loading() && shared.ahead.load(Ordering::Relaxed) < shared.budget {
        let wait = (!backlog.is_empty()).then_some(POLL);
        let (index, job, tx) = match next_task(shared, wait) {
            Ok(Some(task)) => task,
            Ok(None) => return (backlog, true),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return (backlog, true),
        };
        let mut asked = 0;
        let mut more = || {
            asked += 1;
            loading() && shared.ahead.load(Ordering::Relaxed) + asked <= shared.budget
        };
        let path = &shared.files[index];
        let started = work::start(job, path, shared.options.format, shared.progress, &mut more);
        shared
            .ahead
            .fetch_add(started.decoded().max(1), Ordering::Relaxed);
        backlog.push((index, started, tx));
    }
    (backlog, false)
}

/// The next job from the queue: waits for one (`wait` None) or at most `wait`. `Ok(None)`
/// when there is none left.
///
/// With a `wait`, the queue's lock is only tried: a worker waiting for the next job holds it
/// without a time limit, and a worker holding decoded jobs that blocked on the lock behind it
/// would never look for the rules again. Once the window is full, the collector waits for
/// one of those jobs, the producer for the collector, the queue for the producer: a hang.
fn next_task(
    shared: &Shared<'_>,
    wait: Option<Duration>,
) -> Result<Option<Task>, RecvTimeoutError> {
    let Some(timeout) = wait else {
        let queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
        return Ok(queue.recv().ok());
    };
    let queue = match shared.queue.try_lock() {
        Ok(queue) => queue,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => {
            std::thread::sleep(timeout);
            return Err(RecvTimeoutError::Timeout);
        }
    };
    queue.recv_timeout(timeout).map(Some)
}

/// Matches a started job and sends what it finds in batches, then its tally.
fn finish(
    shared: &Shared<'_>,
    index: usize,
    started: Started,
    tx: &SyncSender<Message>,
    matching: &mut Matching<'_>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    let path = &shared.files[index];
    let tally = work::finish(
        started,
        path,
        shared.options.all,
        matching,
        shared.progress,
        &mut |found| {
            batch.push(found);
            if batch.len() == BATCH {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                let _ = tx.send(Message::Found(full));
            }
        },
    );
    if !batch.is_empty() {
        let _ = tx.send(Message::Found(batch));
    }
    let _ = tx.send(Message::Done(Box::new(tally)));
}

/// Counts the jobs in flight (listed by the producer, not yet applied by the collector)
/// against a limit, so the producer waits instead of listing jobs without end.
struct Window {
    state: Mutex<(usize, usize)>,
    changed: Condvar,
}

impl Window {
    fn new(limit: usize) -> Window {
        Window {
            state: Mutex::new((0, limit)),
            changed: Condvar::new(),
        }
    }

    /// One more job in flight, once there is room for it.
    fn enter(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.0 >= state.1 {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        state.0 += 1;
    }

    /// A job has been applied.
    fn leave(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.0 = state.0.saturating_sub(1);
        self.changed.notify_all();
    }

    /// Lowers the limit (the rules are loaded: nothing more is decoded ahead).
    fn narrow(&self, limit: usize) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1 = limit;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::scan::output::{OutputFormat, Writer};

    fn options(threads: usize, budget: usize) -> ScanOptions {
        ScanOptions {
            format: None,
            all: true,
            show_progress: false,
            threads,
            decode_ahead: budget,
        }
    }

    /// Closes the writer; the records counted and the errors.
    fn output(outcome: (super::super::Outcome, Writer<&mut Vec<u8>>)) -> (u64, u64) {
        let (outcome, writer) = outcome;
        writer.finish().expect("write to memory");
        (outcome.summary.records, outcome.errors)
    }

    fn collector<'w>(
        ready: &Ready,
        files: &'w [PathBuf],
        out: &'w mut Vec<u8>,
    ) -> Collector<'w, &'w mut Vec<u8>> {
        let writer = Writer::new(out, ready.render.clone());
        let rules = ready.detector().rule_names().len();
        Collector::new(writer, files, ProgressBar::hidden(), rules, 0)
    }

    /// A worker holding decoded jobs asks for the next one while another worker waits on the
    /// empty queue, holding its lock without a time limit (the rules are loaded, the window is
    /// full): it must come back after its wait to look for the rules, not block on the lock.
    /// This hung `scan` over `datasets/evtx` on two threads.
    #[test]
    fn a_worker_with_decoded_jobs_does_not_wait_on_a_held_queue() {
        let files: Vec<PathBuf> = Vec::new();
        let options = options(2, 16);
        let (work_tx, work_rx) = sync_channel::<Task>(options.threads);
        let rules = OnceLock::new();
        let progress = ProgressBar::hidden();
        let shared = Shared {
            files: &files,
            options: &options,
            rules: &rules,
            progress: &progress,
            queue: Mutex::new(work_rx),
            ahead: AtomicUsize::new(0),
            budget: options.decode_ahead,
        };
        let (held_tx, held_rx) = channel();
        let (answer_tx, answer_rx) = channel();
        let answered_while_held = std::thread::scope(|scope| {
            let queue = &shared.queue;
            let holder = scope.spawn(move || {
                let _queue = queue.lock().unwrap_or_else(PoisonError::into_inner);
                let _ = held_tx.send(());
                // Holds the lock until the other worker has answered; gives up after 30 s,
                // so the test fails instead of hanging.
                answer_rx.recv_timeout(Duration::from_secs(30)).is_ok()
            });
            held_rx.recv().expect("the lock is held");
            let asked = next_task(&shared, Some(POLL)).map(|task| task.is_some());
            assert_eq!(asked, Err(RecvTimeoutError::Timeout));
            let _ = answer_tx.send(());
            holder.join().expect("the holder ends")
        });
        assert!(answered_while_held, "next_task waited for the queue's lock");
        drop(work_tx);
    }

    /// Workers that decode ahead of the rules (a budget of 2 items, spent inside the first
    /// file, so a whole file's reading stops halfway and goes on after the rules) write what
    /// one thread writes, in order: several formats, the same files twice, one that cannot
    /// be opened.
    #[test]
    fn decoding_ahead_of_the_rules_writes_what_one_thread_writes() {
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut files: Vec<PathBuf> = [
            "windows_process_creation.xml",
            "crowdstrike_processrollup2.ndjson",
            "processes.csv",
        ]
        .iter()
        .map(|f| examples.join(f))
        .collect();
        files.extend(files.clone());
        files.insert(2, examples.join("no such file.xml"));

        let ready = OnceLock::new();
        let _ = ready.set(Ready::load(&[], OutputFormat::Ndjson, 1));
        let mut one = Vec::new();
        let progress = ProgressBar::hidden();
        let inline_run = run(&files, &options(1, 0), &ready, &progress, |r| {
            collector(r, &files, &mut one)
        });
        let expected = output(inline_run.finish(&**ready.wait().detector(), None));

        let rules = OnceLock::new();
        let options = options(3, 2);
        let (work_tx, work_rx) = sync_channel::<Task>(options.threads);
        let shared = Shared {
            files: &files,
            options: &options,
            rules: &rules,
            progress: &progress,
            queue: Mutex::new(work_rx),
            ahead: AtomicUsize::new(0),
            budget: options.decode_ahead,
        };
        let mut many = Vec::new();
        let threaded_run = std::thread::scope(|scope| {
            scope.spawn(|| {
                // The rules come only once something was decoded without them.
                while shared.ahead.load(Ordering::Relaxed) == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                let _ = rules.set(Ready::load(&[], OutputFormat::Ndjson, 3));
            });
            threaded(&shared, work_tx, |r| collector(r, &files, &mut many))
        });
        let counts = output(threaded_run.finish(&**rules.wait().detector(), None));
        assert!(shared.ahead.load(Ordering::Relaxed) >= 2);
        assert_eq!(counts, expected);
        assert!(expected.0 > 10 && expected.1 == 1, "{expected:?}");
        assert!(!one.is_empty());
        assert!(
            one == many,
            "{}\n---\n{}",
            String::from_utf8_lossy(&one),
            String::from_utf8_lossy(&many)
        );
    }
}
