//! A large body's rows processed on several threads, the reply the same byte for byte.
//!
//! With many rules a row costs far more to decide than to move (the ESCU corpus: ~1.6 µs a row
//! against ~0.25 µs for the whole pipe), so one core bounds the command while splunkd and the
//! body reader leave the other mostly idle. When the processor can be forked
//! ([`RowProcessor::fork`]), the rows received so far are cut into blocks of whole rows, and
//! the session's thread and its helpers each take the next block, process it with their own
//! scratch and processor into a buffer of their own, and the session's thread appends the
//! finished blocks to the reply in input order (a block it takes when every block before it is
//! in the reply goes straight into the reply). The first error in row order wins: the blocks
//! after its block are dropped, as the single-threaded loop would never reach them.
//!
//! Blocks are cut where a newline follows an even number of `"` since the first block's start,
//! which is a row's end in well-formed CSV; the cut also counts the rows before each block, so
//! each row keeps its number. A `"` inside an unquoted field breaks that reading, so every
//! block is checked as it is appended: it must end exactly where it was cut, with the rows it
//! was counted to hold. A block that does not (it stops at a row that runs past its end) is
//! still right up to where it stopped; the blocks after it are dropped and the session's thread
//! processes their rows again, one by one, as it would have without helpers.
//!
//! Helpers are scoped threads, started once per hand-over of received bytes (a hand-over is up
//! to a few MiB, thousands of rows with many rules) and ended before the loop returns, so no
//! byte of the body is read after the loop has returned how far it got (`protocol::prefetch`
//! gives those pages back). Under [`Threads::Auto`] helpers run only while rows cost more than
//! [`AUTO_MIN_NS_PER_ROW`] of the session thread's CPU: a cheap rule set stays on one thread,
//! where a helper would cost more in hand-overs than it saves.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};

use super::chunk::{BodyError, BodyStats, Layout, RowRunner};
use super::processor::{RowProcessor, Threads};

/// Bytes of rows in a block: a hundred rows or so, small enough that both threads stay busy
/// to the end of a hand-over and that the replies waiting to be appended stay small.
const BLOCK: usize = 32 << 10;

/// How many blocks past the first one not yet in the reply may be taken: a thread that runs
/// ahead (the other one descheduled on a busy machine) waits instead of piling up replies, so
/// the memory this costs is a few blocks' replies, not a hand-over's.
const LEAD: usize = 4;

/// Under [`Threads::Auto`], rows costing less CPU than this on the session's thread stay on
/// it: the 2 shipped rules cost ~0.17 µs a row (helpers would only add hand-overs), the ESCU
/// corpus ~1.6 µs.
pub(crate) const AUTO_MIN_NS_PER_ROW: f64 = 500.0;

/// Rows timed before the cost estimate is trusted, and after which older rows count half.
const COST_ROWS: f64 = 20_000.0;

/// The helpers and what they need, kept across chunks.
#[derive(Default)]
pub(crate) struct Parallel {
    /// Threads for the current chunk (1: none beside the session's).
    threads: usize,
    auto: bool,
    /// Forks of the current chunk's processor, made at its first parallel hand-over.
    helpers: Vec<Helper>,
    forked: bool,
    blocks: Vec<Block>,
    /// Reply buffers of appended blocks, for the next blocks.
    spare: Vec<Vec<u8>>,
    /// The session thread's CPU time and rows, older ones decaying ([`COST_ROWS`]).
    cost_ns: f64,
    cost_rows: f64,
}

impl fmt::Debug for Parallel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parallel")
            .field("threads", &self.threads)
            .field("auto", &self.auto)
            .field("helpers", &self.helpers.len())
            .finish()
    }
}

/// Another thread's processor and rows.
struct Helper {
    processor: Box<dyn RowProcessor + Send>,
    rows: RowRunner,
}

/// A run of whole rows: `start..end` of the body, holding `rows` rows from row `first_row`.
#[derive(Debug, Clone, Copy)]
struct Block {
    start: usize,
    end: usize,
    first_row: usize,
    rows: usize,
}

/// How a block's processing ended.
struct Outcome {
    /// Where the block's thread stopped, and its counts (`rows_in` numbers from the chunk's
    /// first row, the others count this block's rows only).
    pos: usize,
    stats: BodyStats,
    error: Option<BodyError>,
}

/// A block processed into a buffer of its own.
struct Finished {
    reply: Vec<u8>,
    outcome: Outcome,
}

/// What the threads of one hand-over share.
struct Shared<'b> {
    blocks: &'b [Block],
    next: AtomicUsize,
    /// Set once a block is found wrong or failed: later blocks are not worth processing.
    stop: AtomicBool,
    finished: Vec<Mutex<Option<Finished>>>,
    spare: Mutex<Vec<Vec<u8>>>,
    /// Blocks in the reply (a copy of [`Merge::next`]), and the signal of its change or of a
    /// block finished.
    merged: Mutex<usize>,
    progress: Condvar,
}

/// The appended part of a hand-over: blocks before `next` are in the reply.
struct Merge {
    next: usize,
    stats: BodyStats,
    pos: usize,
    stopped: bool,
    error: Option<BodyError>,
}

impl Parallel {
    /// A new body: no helpers until it proves large enough.
    pub(crate) fn begin(&mut self) {
        self.helpers.clear();
        self.forked = false;
        self.threads = 1;
    }

    /// The chunk's header is read: how many threads its rows may use.
    pub(crate) fn start_chunk<P: RowProcessor + ?Sized>(&mut self, processor: &P) {
        let cores = cores();
        (self.threads, self.auto) = match processor.threads() {
            Threads::Auto(n) => (n.clamp(1, cores), true),
            Threads::Fixed(n) => (n.max(1), false),
        };
    }

    /// The session thread's CPU clock when the estimate is wanted ([`observe`](Self::observe)).
    pub(crate) fn timer(&self) -> Option<f64> {
        (self.threads > 1 && self.auto).then(thread_cpu_ns)
    }

    /// Adds `rows` rows processed on the session's thread since `started` to the estimate.
    pub(crate) fn observe(&mut self, started: Option<f64>, rows: usize) {
        let Some(started) = started else { return };
        self.cost_ns += thread_cpu_ns() - started;
        self.cost_rows += rows as f64;
        if self.cost_rows > 2.0 * COST_ROWS {
            self.cost_ns /= 2.0;
            self.cost_rows /= 2.0;
        }
    }

    /// Helpers pay off for this chunk's rows as far as is known.
    fn wanted(&self) -> bool {
        self.threads > 1
            && (!self.auto
                || (self.cost_rows >= COST_ROWS
                    && self.cost_ns / self.cost_rows >= AUTO_MIN_NS_PER_ROW))
    }

    /// Processes the whole rows of `body` from `rows.pos` on with helpers, when that pays:
    /// afterwards `rows` stands where the session's thread carries on alone (the body's last,
    /// incomplete row; or where a block proved cut wrong).
    pub(crate) fn run<P: RowProcessor + ?Sized>(
        &mut self,
        layout: &Layout,
        body: &[u8],
        rows: &mut RowRunner,
        processor: &mut P,
        out: &mut Vec<u8>,
    ) -> Result<(), BodyError> {
        if !self.wanted() || !self.fork(layout, processor) {
            return Ok(());
        }
        cut_blocks(body, rows.pos, rows.stats.rows_in, &mut self.blocks);
        if self.blocks.len() < 2 {
            return Ok(());
        }
        let shared = Shared {
            blocks: &self.blocks,
            next: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            finished: self.blocks.iter().map(|_| Mutex::new(None)).collect(),
            spare: Mutex::new(std::mem::take(&mut self.spare)),
            merged: Mutex::new(0),
            progress: Condvar::new(),
        };
        let mut merge = Merge {
            next: 0,
            stats: rows.stats,
            pos: rows.pos,
            stopped: false,
            error: None,
        };
        let started = self.timer();
        let main_rows = std::thread::scope(|scope| {
            for helper in &mut self.helpers {
                let shared = &shared;
                scope.spawn(move || helper_blocks(helper, layout, body, shared));
            }
            session_blocks(rows, layout, body, processor, out, &shared, &mut merge)
        });
        merge.append_finished(&shared, out);
        let spare = shared
            .spare
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        self.spare = spare;
        self.observe(started, main_rows);
        (rows.pos, rows.stats) = (merge.pos, merge.stats);
        merge.error.map_or(Ok(()), Err)
    }

    /// Forks the processor for each helper and binds the forks to the chunk's columns, once a
    /// chunk; `false` when the processor cannot be forked.
    fn fork<P: RowProcessor + ?Sized>(&mut self, layout: &Layout, processor: &P) -> bool {
        if !self.forked {
            self.forked = true;
            let mut slots = Vec::new();
            for _ in 1..self.threads {
                let Some(mut fork) = processor.fork() else {
                    break;
                };
                fork.bind_columns(layout.columns(), &mut slots);
                self.helpers.push(Helper {
                    processor: fork,
                    rows: RowRunner::default(),
                });
            }
        }
        !self.helpers.is_empty()
    }
}

/// A helper's loop: the next block, into a buffer of its own, until none is left.
fn helper_blocks(helper: &mut Helper, layout: &Layout, body: &[u8], shared: &Shared<'_>) {
    while let Some(index) = shared.claim() {
        if !shared.wait_turn(index) {
            return;
        }
        let mut reply = shared.spare_buffer();
        let block = shared.blocks[index];
        let outcome = run_block(
            &mut helper.rows,
            layout,
            body,
            block,
            &mut *helper.processor,
            &mut reply,
        );
        shared.finish(index, Finished { reply, outcome });
    }
}

/// The session thread's loop: like a helper's, but a block whose predecessors are all in the
/// reply is processed straight into it, and finished blocks are appended as they come.
/// Returns how many rows this thread processed.
fn session_blocks<P: RowProcessor + ?Sized>(
    rows: &mut RowRunner,
    layout: &Layout,
    body: &[u8],
    processor: &mut P,
    out: &mut Vec<u8>,
    shared: &Shared<'_>,
    merge: &mut Merge,
) -> usize {
    let mut processed = 0;
    while let Some(index) = shared.claim() {
        merge.append_until_turn(index, shared, out);
        let block = shared.blocks[index];
        if merge.next == index && !merge.stopped {
            let outcome = run_block(rows, layout, body, block, processor, out);
            processed += outcome.stats.rows_in - block.first_row;
            merge.accept(block, outcome, shared);
            merge.publish(shared);
        } else {
            let mut reply = shared.spare_buffer();
            let outcome = run_block(rows, layout, body, block, processor, &mut reply);
            processed += outcome.stats.rows_in - block.first_row;
            shared.finish(index, Finished { reply, outcome });
        }
        merge.append_finished(shared, out);
    }
    processed
}

/// Processes `block` alone: its rows, and nothing past its end.
fn run_block<P: RowProcessor + ?Sized>(
    rows: &mut RowRunner,
    layout: &Layout,
    body: &[u8],
    block: Block,
    processor: &mut P,
    out: &mut Vec<u8>,
) -> Outcome {
    rows.pos = block.start;
    rows.stats = BodyStats {
        rows_in: block.first_row,
        ..BodyStats::default()
    };
    // Not `complete`: a row running past the block's end is left unprocessed, not misread.
    let result = rows.run(layout, &body[..block.end], false, processor, out);
    Outcome {
        pos: rows.pos,
        stats: rows.stats,
        error: result.err(),
    }
}

impl Shared<'_> {
    /// The next block to process, unless none is left or the rest is not wanted.
    fn claim(&self) -> Option<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return None;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed);
        (index < self.blocks.len()).then_some(index)
    }

    /// Waits until block `index` is within [`LEAD`] of the reply; `false` when the rest is
    /// not wanted any more.
    fn wait_turn(&self, index: usize) -> bool {
        let mut merged = self.lock_merged();
        while index >= *merged + LEAD {
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            merged = self
                .progress
                .wait(merged)
                .unwrap_or_else(PoisonError::into_inner);
        }
        !self.stop.load(Ordering::Relaxed)
    }

    fn lock_merged(&self) -> MutexGuard<'_, usize> {
        self.merged.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn spare_buffer(&self) -> Vec<u8> {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buffer = spare.pop().unwrap_or_default();
        buffer.clear();
        buffer
    }

    fn finish(&self, index: usize, finished: Finished) {
        let mut slot = self.finished[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *slot = Some(finished);
        drop(slot);
        let _merged = self.lock_merged();
        self.progress.notify_all();
    }

    fn take_finished(&self, index: usize) -> Option<Finished> {
        self.finished[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl Merge {
    /// Appends finished blocks until block `index` is within [`LEAD`] of the reply, waiting
    /// for the blocks before it as needed (another thread is processing the next one).
    fn append_until_turn(&mut self, index: usize, shared: &Shared<'_>, out: &mut Vec<u8>) {
        loop {
            self.append_finished(shared, out);
            if self.stopped || index < self.next + LEAD {
                return;
            }
            let merged = shared.lock_merged();
            let ready = shared.finished[self.next]
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some();
            if !ready {
                drop(shared.progress.wait(merged));
            }
        }
    }

    /// Tells waiting threads how far the reply is (and whether the rest is still wanted).
    fn publish(&self, shared: &Shared<'_>) {
        *shared.lock_merged() = self.next;
        shared.progress.notify_all();
    }

    /// Appends the finished blocks that come next in input order.
    fn append_finished(&mut self, shared: &Shared<'_>, out: &mut Vec<u8>) {
        while !self.stopped && self.next < shared.blocks.len() {
            let Some(finished) = shared.take_finished(self.next) else {
                return;
            };
            out.extend_from_slice(&finished.reply);
            let block = shared.blocks[self.next];
            self.accept(block, finished.outcome, shared);
            let mut spare = shared.spare.lock().unwrap_or_else(PoisonError::into_inner);
            spare.push(finished.reply);
            drop(spare);
            self.publish(shared);
        }
    }

    /// Takes the next block's counts (its reply is in `out`): stops at its error, or where
    /// it proves cut wrong.
    fn accept(&mut self, block: Block, outcome: Outcome, shared: &Shared<'_>) {
        self.next += 1;
        self.pos = outcome.pos;
        self.stats.rows_in = outcome.stats.rows_in;
        self.stats.rows_out += outcome.stats.rows_out;
        self.stats.rows_gated += outcome.stats.rows_gated;
        let whole =
            outcome.pos == block.end && outcome.stats.rows_in == block.first_row + block.rows;
        if outcome.error.is_some() || !whole {
            self.error = outcome.error;
            self.stopped = true;
            shared.stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Cuts the rows of `body` from `from` (row `first_row`) into blocks of about [`BLOCK`]
/// bytes, each ending after a newline that follows an even number of `"` since `from`. The
/// bytes after the last such newline (a row still arriving) are left out.
fn cut_blocks(body: &[u8], from: usize, first_row: usize, blocks: &mut Vec<Block>) {
    blocks.clear();
    let (mut start, mut rows, mut next_row) = (from, 0, first_row);
    let mut quoted = false;
    let mut last_end = from;
    for at in memchr::memchr2_iter(b'"', b'\n', &body[from..]) {
        let at = from + at;
        if body[at] == b'"' {
            quoted = !quoted;
            continue;
        }
        if quoted {
            continue;
        }
        rows += 1;
        last_end = at + 1;
        if last_end - start >= BLOCK {
            blocks.push(Block {
                start,
                end: last_end,
                first_row: next_row,
                rows,
            });
            (start, next_row, rows) = (last_end, next_row + rows, 0);
        }
    }
    if rows > 0 {
        blocks.push(Block {
            start,
            end: last_end,
            first_row: next_row,
            rows,
        });
    }
}

/// The machine's cores, as the standard library sees them (asked once: it reads cgroup files).
fn cores() -> usize {
    static CORES: OnceLock<usize> = OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// This thread's CPU time in nanoseconds: the cost estimate must not count time the thread
/// spent waiting for a core on a loaded machine.
fn thread_cpu_ns() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; CLOCK_THREAD_CPUTIME_ID exists on every Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 * 1e9 + ts.tv_nsec as f64
}
