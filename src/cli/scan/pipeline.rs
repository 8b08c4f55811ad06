//! Runs a scan's jobs on every core, each worker on a CPU of its own, and applies their
//! results in input order.
//!
//! The jobs ([`work::jobs`]: each file, or each chunk of an EVTX file) are taken in order
//! from one shared list by the workers (this thread and `threads - 1` others); the one that
//! takes a job numbers it. No thread hands jobs out and none collects: the worker that
//! finishes the job next in order (the *head*) applies it to the collector, then every later
//! job already finished; a worker that finishes a job ahead of the head leaves it for the one
//! that applies the head. Jobs of a few hundred records each (EVTX chunks) cost no thread a
//! wake-up, and the output is the order a single thread produces, whatever order the jobs
//! finish in.
//!
//! This thread loads the rules once it has started the other workers, with helpers on every
//! core for a large set; the workers wait for them before they take a job, then each binds
//! itself to a CPU of its own ([`threaded`], [`crate::cpus`]). Decoding does not need the
//! rules, and the workers used to decode up to 16,384 items ahead while they loaded:
//! measured, that cost more than it saved (bulk Sysmon XML with the ESCU corpus on 2
//! threads: 7,200 page faults instead of 3,000 and about 40 ms more CPU; no rule set or
//! input where it was faster), as the loading already keeps every core busy; decoding up to 4
//! EVTX chunks per worker meanwhile was no faster either once the workers were bound
//! (`datasets/evtx`, 2 rules, medians: 7.91 ms against 7.99). The collector is made (and
//! prints the rules' warnings) when the first job is applied, as one thread prints them
//! before anything else.
//!
//! Memory stays bounded: the jobs in flight (taken and not yet applied) are at most
//! [`IN_FLIGHT`] slots per worker (a whole file takes [`FILE_SLOTS`], an EVTX chunk one: what
//! a job may hold ahead of the head is what the window bounds); a worker that finds no room
//! waits for the head to be applied. The head job's worker applies what it finds as it goes
//! (every [`BATCH`] things); a job ahead of it holds at most [`HELD`] things, then its worker
//! waits for its turn. No deadlock: jobs are taken in order, so the head is taken, and its
//! worker never waits for a later job.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use indicatif::ProgressBar;

use super::collect::Collector;
use super::detector::Ready;
use super::output::RowScratch;
use super::work::{self, Found, Job, Matching, Tally};
use super::ScanOptions;
use crate::cpus::Binding;

/// Found things the head job's worker gathers before it applies them (a job ahead of it
/// looks whether it has become the head as often).
const BATCH: usize = 256;
/// Found things a job ahead of the head holds, at most, before its worker waits its turn.
const HELD: usize = BATCH * 64;
/// Window slots a whole file takes: a job ahead of the head holds up to [`HELD`] found
/// things, an EVTX chunk at most its records, under a sixteenth of that.
const FILE_SLOTS: usize = 16;
/// Window slots (jobs taken and not yet applied, by [`slots`]) per worker: 4 whole files, or
/// 64 EVTX chunks. Chunks differ several times over in cost, and a
/// worker can lose its core for a while (to the rule loading thread, or another process):
/// with 4 chunks per worker the other worker soon found no room, and waited idle for the slow
/// head.
const IN_FLIGHT: usize = 4 * FILE_SLOTS;
/// Files opened ahead at most ([`open_ahead`]): an EVTX file opened holds a descriptor until
/// its jobs are taken, and the SigmaHQ rules load for as long as a thousand files take to
/// open.
const OPEN_AHEAD: usize = 32;
/// Loads the rules (on the calling thread, which may start helpers).
pub(super) type Load<'l> = dyn Fn() -> Ready + Sync + 'l;
/// Makes the collector once the rules are there (it prints what loading reported first).
pub(super) type Begin<'b, 'w, W> = dyn Fn(&Ready) -> Collector<'w, W> + Sync + 'b;

/// The jobs not taken yet, and how many were.
struct Queue<'w> {
    jobs: Box<dyn Iterator<Item = (usize, Job)> + Send + 'w>,
    taken: usize,
    /// The window slots of the jobs taken so far.
    slots: usize,
}

/// A job and where it belongs: its place in the input order, its file's index, and whether
/// it is an EVTX piece (the collector numbers a piece's records through its file).
#[derive(Clone, Copy)]
struct Place {
    seq: usize,
    file: usize,
    piece: bool,
}

/// The window slots a job takes.
fn slots(place: &Place) -> usize {
    if place.piece {
        1
    } else {
        FILE_SLOTS
    }
}

/// A job finished ahead of the head, waiting for its turn.
struct Finished {
    place: Place,
    found: Vec<Found>,
    tally: Tally,
}

/// What the collector has applied, and the jobs finished ahead of it.
struct Order<'w, W: Write> {
    /// Made when the first job is applied (the rules are there by then).
    collector: Option<Collector<'w, W>>,
    /// The head: the job to apply next.
    next: usize,
    /// The window slots of the jobs applied.
    applied_slots: usize,
    /// The head's start has been applied (its worker applies what it finds as it goes).
    head_started: bool,
    done: BTreeMap<usize, Finished>,
    /// Workers waiting for the head to move (nobody is woken when none waits).
    waiting: usize,
}

/// What the workers share.
struct Shared<'a, 'w, W: Write> {
    files: &'w [PathBuf],
    options: &'a ScanOptions,
    rules: &'a OnceLock<Ready>,
    progress: &'a ProgressBar,
    begin: &'a Begin<'a, 'w, W>,
    /// The files, opened ahead ([`open_ahead`]) or by the list of jobs when it comes to them.
    opened: Arc<[work::Opened]>,
    /// The next file to open ahead.
    next_open: AtomicUsize,
    queue: Mutex<Queue<'w>>,
    order: Mutex<Order<'w, W>>,
    /// Signalled when the head advances.
    turn: Condvar,
    /// The head, as `order` has it (read without its lock).
    applied: AtomicUsize,
    /// The window slots of the jobs applied, as `order` has them.
    applied_slots: AtomicUsize,
    /// Window slots of the jobs in flight at most.
    window: usize,
    /// Found things a job ahead of the head holds at most ([`HELD`]; tests make it small).
    held: usize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs every job of `files` with `options.threads` workers (on this thread alone when 1),
/// with the rules `load` loads on this thread (kept in `rules`; the other workers wait for
/// them). Once the rules are there, `begin` makes the collector (it prints what loading
/// reported first), which is returned when every job has been applied.
pub(super) fn run<'w, W: Write + Send>(
    files: &'w [PathBuf],
    options: &ScanOptions,
    rules: &OnceLock<Ready>,
    load: &Load<'_>,
    progress: &ProgressBar,
    begin: &Begin<'_, 'w, W>,
) -> Collector<'w, W> {
    if options.threads <= 1 {
        let ready = rules.get_or_init(load);
        return inline(files, options, ready, progress, begin);
    }
    threaded(&Shared::new(files, options, rules, progress, begin), load)
}

/// One thread: the rules are loaded first, then every job runs here in order.
fn inline<'w, W: Write>(
    files: &'w [PathBuf],
    options: &ScanOptions,
    ready: &Ready,
    progress: &ProgressBar,
    begin: &Begin<'_, 'w, W>,
) -> Collector<'w, W> {
    let mut collector = begin(ready);
    let mut detector = ready.detector();
    let mut matching = Matching {
        detector: &mut **detector,
        render: &ready.render,
        scratch: RowScratch::default(),
    };
    // Nothing is opened ahead on one thread: every file is opened as the list comes to it.
    for (index, job) in work::jobs(files, options.format, Arc::new([])) {
        collector.job_start(index, matches!(job, Job::EvtxPiece(_)));
        let found = &mut |found| collector.found(found);
        let tally = work::run(job, &files[index], options, &mut matching, progress, found);
        collector.job_end(tally);
    }
    collector
}

impl<'a, 'w, W: Write + Send> Shared<'a, 'w, W> {
    fn new(
        files: &'w [PathBuf],
        options: &'a ScanOptions,
        rules: &'a OnceLock<Ready>,
        progress: &'a ProgressBar,
        begin: &'a Begin<'a, 'w, W>,
    ) -> Self {
        let opened = work::openings(files.len());
        Shared {
            files,
            options,
            rules,
            progress,
            begin,
            opened: Arc::clone(&opened),
            next_open: AtomicUsize::new(0),
            queue: Mutex::new(Queue {
                jobs: Box::new(work::jobs(files, options.format, Arc::clone(&opened))),
                taken: 0,
                slots: 0,
            }),
            order: Mutex::new(Order {
                collector: None,
                next: 0,
                applied_slots: 0,
                head_started: false,
                done: BTreeMap::new(),
                waiting: 0,
            }),
            turn: Condvar::new(),
            applied: AtomicUsize::new(0),
            applied_slots: AtomicUsize::new(0),
            window: options.threads * IN_FLIGHT,
            held: HELD,
        }
    }
}

/// The workers, this thread among them once it has loaded the rules (`load`), each on a CPU
/// of its own when there are enough ([`Binding`]); returns the collector once every job is
/// applied.
///
/// No thread is bound while the rules load: a large rule set loads on helpers this thread
/// starts, which inherit its CPUs, and with either thread bound they ran side by side less
/// (the ESCU corpus on 2 threads over `datasets/evtx`, medians of 11 runs: 23.7 ms so, 24.8
/// with the other worker bound as it starts; nothing to scan: 28 ms with this thread bound,
/// 17.4 unbound). This thread takes its CPU before the others wake: binding itself after
/// took up to 1.8 ms in half the runs, the woken worker having been queued on its CPU.
fn threaded<'w, W: Write + Send>(shared: &Shared<'_, 'w, W>, load: &Load<'_>) -> Collector<'w, W> {
    let threads = shared.options.threads;
    let binding = (shared.options.bind)
        .then(|| Binding::plan(threads))
        .flatten();
    let binding = binding.as_ref();
    std::thread::scope(|scope| {
        for n in 1..threads {
            scope.spawn(move || {
                open_ahead(shared);
                let ready = shared.rules.wait();
                binding.iter().for_each(|b| b.bind(n));
                worker(shared, ready);
            });
        }
        let ready = load();
        binding.iter().for_each(|b| b.bind(0));
        worker(shared, shared.rules.get_or_init(|| ready));
    });
    binding.iter().for_each(|b| b.release());
    let collector = lock(&shared.order).collector.take();
    // No job at all: the collector is made here, as one thread makes it.
    collector.unwrap_or_else(|| (shared.begin)(shared.rules.wait()))
}

/// What taking the next job gave.
enum Take {
    Job(Place, Job),
    /// The jobs in flight are at their limit.
    Full,
    /// No job is left.
    Empty,
}

/// Takes the next job, when there is room for it.
fn take<W: Write>(shared: &Shared<'_, '_, W>) -> Take {
    let mut queue = lock(&shared.queue);
    let room = shared.applied_slots.load(Ordering::Acquire) + shared.window;
    if queue.slots >= room {
        return Take::Full;
    }
    let Some((file, job)) = queue.jobs.next() else {
        return Take::Empty;
    };
    let place = Place {
        seq: queue.taken,
        file,
        piece: matches!(job, Job::EvtxPiece(_)),
    };
    queue.taken += 1;
    queue.slots += slots(&place);
    Take::Job(place, job)
}

/// Waits until the head has moved past `seen` (a value of `applied` read before).
fn wait_past<W: Write>(shared: &Shared<'_, '_, W>, seen: usize) {
    drop(wait_while(shared, |order| order.next <= seen));
}

/// Waits on `turn` while `waits` says so; returns the lock.
fn wait_while<'s, 'w, W: Write>(
    shared: &'s Shared<'_, 'w, W>,
    waits: impl Fn(&Order<'w, W>) -> bool,
) -> MutexGuard<'s, Order<'w, W>> {
    let mut order = lock(&shared.order);
    while waits(&order) {
        order.waiting += 1;
        order = shared
            .turn
            .wait(order)
            .unwrap_or_else(PoisonError::into_inner);
        order.waiting -= 1;
    }
    order
}

/// Opens the first [`OPEN_AHEAD`] files in order, ahead of their jobs, until the rules are
/// loaded: the list of jobs opens the next file under its lock when it comes to it, and a
/// worker that needs a job meanwhile waits for it.
fn open_ahead<W: Write>(shared: &Shared<'_, '_, W>) {
    while shared.rules.get().is_none() {
        let at = shared.next_open.fetch_add(1, Ordering::Relaxed);
        let (Some(path), Some(opened)) = (shared.files.get(at), shared.opened.get(at)) else {
            return;
        };
        if at >= OPEN_AHEAD {
            return;
        }
        work::open_ahead(path, shared.options.format, opened);
    }
}

/// Takes jobs and runs them with the rules `ready` until there are none.
fn worker<W: Write + Send>(shared: &Shared<'_, '_, W>, ready: &Ready) {
    let mut detector = ready.fork();
    let mut matching = Matching {
        detector: &mut *detector,
        render: &ready.render,
        scratch: RowScratch::default(),
    };
    loop {
        let seen = shared.applied.load(Ordering::Acquire);
        match take(shared) {
            Take::Job(place, job) => run_job(shared, ready, place, job, &mut matching),
            Take::Full => wait_past(shared, seen),
            Take::Empty => return,
        }
    }
}

/// Runs a job; what it finds is applied as it goes when the job is the head, else held
/// until it is (or its worker waits its turn once it holds too much).
fn run_job<W: Write + Send>(
    shared: &Shared<'_, '_, W>,
    ready: &Ready,
    place: Place,
    job: Job,
    matching: &mut Matching<'_>,
) {
    let mut found = Vec::new();
    let path = &shared.files[place.file];
    let tally = work::run(
        job,
        path,
        shared.options,
        matching,
        shared.progress,
        &mut |f| {
            found.push(f);
            if found.len() >= BATCH.min(shared.held) {
                hand_over(shared, ready, place, &mut found);
            }
        },
    );
    let mut order = lock(&shared.order);
    let before = order.next;
    order.complete(shared.begin, ready, place, found, tally);
    if order.next != before {
        shared
            .applied_slots
            .store(order.applied_slots, Ordering::Release);
        shared.applied.store(order.next, Ordering::Release);
        if order.waiting > 0 {
            shared.turn.notify_all();
        }
    }
}

/// Applies what a job found so far when it is the head; a job ahead of the head that holds
/// too much waits for its turn first.
fn hand_over<W: Write + Send>(
    shared: &Shared<'_, '_, W>,
    ready: &Ready,
    place: Place,
    found: &mut Vec<Found>,
) {
    let head = shared.applied.load(Ordering::Acquire) == place.seq;
    if !head && found.len() < shared.held {
        return;
    }
    let mut order = wait_while(shared, |order| order.next != place.seq);
    order.apply(shared.begin, ready, place, found.drain(..));
}

impl<'w, W: Write> Order<'w, W> {
    /// Applies things the head job found (its start first, once).
    fn apply(
        &mut self,
        begin: &Begin<'_, 'w, W>,
        ready: &Ready,
        place: Place,
        found: impl Iterator<Item = Found>,
    ) {
        let collector = self.collector.get_or_insert_with(|| begin(ready));
        if !self.head_started {
            collector.job_start(place.file, place.piece);
            self.head_started = true;
        }
        found.for_each(|f| collector.found(f));
    }

    /// A job is finished: when it is the head, it is applied with every job finished after
    /// it in order; otherwise it waits in `done` for its turn.
    fn complete(
        &mut self,
        begin: &Begin<'_, 'w, W>,
        ready: &Ready,
        place: Place,
        found: Vec<Found>,
        tally: Tally,
    ) {
        let mut job = Finished {
            place,
            found,
            tally,
        };
        if job.place.seq != self.next {
            self.done.insert(job.place.seq, job);
            return;
        }
        loop {
            self.apply(begin, ready, job.place, job.found.into_iter());
            if let Some(collector) = &mut self.collector {
                collector.job_end(job.tally);
            }
            self.head_started = false;
            self.next += 1;
            self.applied_slots += slots(&job.place);
            match self.done.remove(&self.next) {
                Some(next) => job = next,
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::scan::output::{OutputFormat, Writer};
    use std::time::Duration;

    fn options(threads: usize) -> ScanOptions {
        ScanOptions {
            format: None,
            all: true,
            show_progress: false,
            threads,
            bind: true,
        }
    }

    /// Output shared by the workers (whichever applies a job writes).
    struct Sink<'m>(&'m Mutex<Vec<u8>>);

    impl Write for Sink<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            lock(self.0).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Closes the writer; the records counted and the errors.
    fn output(outcome: (super::super::Outcome, Writer<Sink<'_>>)) -> (u64, u64) {
        let (outcome, writer) = outcome;
        writer.finish().expect("write to memory");
        (outcome.summary.records, outcome.errors)
    }

    fn collector<'w>(
        ready: &Ready,
        files: &'w [PathBuf],
        out: &'w Mutex<Vec<u8>>,
    ) -> Collector<'w, Sink<'w>> {
        let writer = Writer::new(Sink(out), ready.render.clone());
        let rules = ready.detector().rule_names().len();
        Collector::new(writer, files, ProgressBar::hidden(), rules, 0)
    }

    /// Several formats, the same files many times over, one that cannot be opened.
    fn files(copies: usize) -> Vec<PathBuf> {
        let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
        let mut files: Vec<PathBuf> = Vec::new();
        for _ in 0..copies {
            files.extend(
                [
                    "windows_process_creation.xml",
                    "crowdstrike_processrollup2.ndjson",
                    "processes.csv",
                ]
                .iter()
                .map(|f| examples.join(f)),
            );
        }
        files.insert(2, examples.join("no such file.xml"));
        files
    }

    /// What one thread writes over `files`: the output, the records and errors counted.
    fn one_thread(files: &[PathBuf]) -> (Vec<u8>, (u64, u64)) {
        let ready = OnceLock::new();
        let load = || Ready::load(&[], OutputFormat::Ndjson, 1);
        let one = Mutex::new(Vec::new());
        let progress = ProgressBar::hidden();
        let begin = |r: &Ready| collector(r, files, &one);
        let run = run(files, &options(1), &ready, &load, &progress, &begin);
        let counts = output(run.finish(&**ready.wait().detector(), None));
        let written = lock(&one).clone();
        (written, counts)
    }

    /// Runs `files` on `threads` workers, the rules loading for `rules_after` and more (the
    /// workers wait for them), with jobs ahead of the head holding at most `held` found
    /// things; returns the output and the counts.
    fn threads(
        files: &[PathBuf],
        threads: usize,
        rules_after: Duration,
        held: usize,
    ) -> (Vec<u8>, (u64, u64)) {
        let rules = OnceLock::new();
        let options = options(threads);
        let progress = ProgressBar::hidden();
        let many = Mutex::new(Vec::new());
        let begin = |r: &Ready| collector(r, files, &many);
        let mut shared = Shared::new(files, &options, &rules, &progress, &begin);
        shared.held = held;
        let load = || {
            std::thread::sleep(rules_after);
            Ready::load(&[], OutputFormat::Ndjson, threads)
        };
        let collector = threaded(&shared, &load);
        let counts = output(collector.finish(&**rules.wait().detector(), None));
        drop(shared);
        let written = lock(&many).clone();
        (written, counts)
    }

    fn assert_same(one: &[u8], many: &[u8]) {
        assert!(
            one == many,
            "{}\n---\n{}",
            String::from_utf8_lossy(one),
            String::from_utf8_lossy(many)
        );
    }

    /// While the rules load, the files are opened ahead in order, the first [`OPEN_AHEAD`]
    /// of them only; the list of jobs takes what was opened (and keeps nothing of it).
    #[test]
    fn files_are_opened_ahead_up_to_the_bound_and_taken_by_the_jobs() {
        let files = files(OPEN_AHEAD);
        assert!(files.len() > OPEN_AHEAD + 10);
        let rules = OnceLock::new();
        let options = options(2);
        let progress = ProgressBar::hidden();
        let out = Mutex::new(Vec::new());
        let begin = |r: &Ready| collector(r, &files, &out);
        let shared = Shared::new(&files, &options, &rules, &progress, &begin);
        open_ahead(&shared);
        let open = |opened: &[work::Opened]| -> Vec<bool> {
            opened
                .iter()
                .map(|o| matches!(*lock(o), work::Opening::Open(_)))
                .collect()
        };
        let expected: Vec<bool> = (0..files.len()).map(|at| at < OPEN_AHEAD).collect();
        assert_eq!(open(&shared.opened), expected);
        let first_jobs: Vec<usize> = (0..3)
            .map(|_| match take(&shared) {
                Take::Job(place, _) => place.file,
                _ => panic!("a job"),
            })
            .collect();
        assert_eq!(first_jobs, [0, 1, 2]);
        assert!(!open(&shared.opened)[..3].iter().any(|&o| o));
        assert!(matches!(*lock(&shared.opened[0]), work::Opening::Taken));
    }

    /// Workers started before the rules are loaded wait for them, then write what one
    /// thread writes, in order.
    #[test]
    fn workers_started_before_the_rules_write_what_one_thread_writes() {
        let files = files(2);
        let (one, expected) = one_thread(&files);
        let (many, counts) = threads(&files, 3, Duration::from_millis(20), HELD);
        assert_eq!(counts, expected);
        assert!(expected.0 > 10 && expected.1 == 1, "{expected:?}");
        assert!(!one.is_empty());
        assert_same(&one, &many);
    }

    /// More jobs than the window holds, and jobs ahead of the head that hold more than they
    /// may (a limit of 1 found thing), so workers wait for room and for their turn: they
    /// write what one thread writes, and do not hang.
    #[test]
    fn workers_that_wait_for_room_and_their_turn_write_what_one_thread_writes() {
        let files = files(12);
        let (one, expected) = one_thread(&files);
        for threads_count in [2, 5] {
            let (many, counts) = threads(&files, threads_count, Duration::ZERO, 1);
            assert_eq!(counts, expected);
            assert_same(&one, &many);
        }
    }
}
