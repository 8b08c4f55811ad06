//! A large body's rows processed on several threads, the reply the same byte for byte.
//!
//! With many rules a row costs far more to decide than to move (the ESCU corpus: ~1.5 µs a row
//! against ~0.25 µs for the whole pipe), so one core bounds the command while splunkd and the
//! body reader leave the other mostly idle. When the processor can be forked
//! ([`RowProcessor::fork`]), the whole rows received so far are cut into blocks of about
//! [`BLOCK`] bytes, and every thread (the session's and the helpers, each with its own scratch
//! and fork) takes the next block in input order from a shared counter, so the threads share
//! the rows evenly whatever each one's speed. A thread whose block is the next one the reply
//! is waiting for processes it straight into the reply; any other block goes into a buffer,
//! and whichever thread finishes the block the reply waits for appends it and every finished
//! block after it: the copying is shared too, and no thread waits for another except at the
//! hand-over's end, or when it would run more than [`AHEAD`] blocks past the reply (a thread
//! descheduled in the middle of a block on a busy machine; the bound is the memory this
//! costs). Waiting is a condition variable's, never a spin: on a 2-core machine the process
//! feeding the pipe needs CPU too. The first error in row order wins: the blocks after its
//! block are dropped, as the single-threaded loop would never reach them.
//!
//! Blocks are cut where a newline follows an even number of `"` since the block's start,
//! which is a row's end in well-formed CSV, 64 bytes at a time (the quote parity by prefix XOR,
//! [`unquoted_newlines`]); the cut also counts the rows before each block, so each row keeps
//! its number. Each block is cut when a thread takes it, under the lock the taking needs
//! anyway, so no thread waits for a whole hand-over to be cut before the rows start. A `"` inside an unquoted field breaks that reading, so every
//! block is checked as it is appended: it must end exactly where it was cut, with the rows it
//! was counted to hold. A block that does not (it stops at a row that runs past its end) is
//! still right up to where it stopped; the blocks after it are dropped, the session's thread
//! processes the row where it stopped alone, and the rows after it are cut afresh.
//!
//! Helpers run on threads kept for the session ([`super::workers`]: starting a thread per
//! hand-over of received bytes cost 85-300 µs, against a few ms of rows); their share of a
//! hand-over ends before the loop returns, so no byte of the body is read after the loop has
//! returned how far it got (`protocol::prefetch` gives those pages back). Under [`Threads::Auto`] helpers run only while rows cost more than
//! [`AUTO_MIN_NS_PER_ROW`] of the session thread's CPU (a cheap rule set stays on one thread,
//! where a helper would cost more in hand-overs than it saves), and while rows take less wall
//! time with them than without: on a machine whose cores are busy with other work, a
//! descheduled helper holds the reply up, so helpers are left out for [`BACKOFF_ROWS`] rows,
//! then tried again.

use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use super::chunk::{BodyError, BodyStats, Layout, RowRunner, RunEnd};
use super::processor::{RowProcessor, Threads};
use super::structural::unquoted_newlines;
use super::workers::{Job, Workers};

/// Bytes of rows in a block: some fifty rows of the benchmark's, ~75 µs with the ESCU
/// corpus. Each block costs a few lock round trips; the last one of a hand-over is what the
/// threads may finish apart.
const BLOCK: usize = 16 << 10;

/// Blocks a thread may process past the first block the reply still waits for: the finished
/// ones wait in buffers, so this bounds their memory (the replies of about `AHEAD * BLOCK`
/// bytes of rows) should a thread be descheduled in the middle of a block. The ESCU corpus's
/// peak RSS has ~1.5 MiB to spare (BENCHMARKS.md): 16 blocks of 32 KiB cost 3-4 MiB there.
const AHEAD: usize = 4;

/// Reply buffers kept for the next hand-over: about as many as the threads hold at once.
/// More were only needed while a thread lagged.
const SPARE_KEPT: usize = 2;

/// Under [`Threads::Auto`], rows costing less CPU than this on the session's thread stay on
/// it: the 2 shipped rules cost ~0.17 µs a row (helpers would only add hand-overs), the ESCU
/// corpus ~1.5 µs.
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
    /// The threads the forks run on, kept across hand-overs and chunks.
    workers: Workers,
    forked: bool,
    blocks: Vec<Block>,
    /// Reply buffers of appended blocks, for the next blocks.
    spare: Vec<Vec<u8>>,
    /// The session thread's CPU per row alone, its wall time per row alone and with helpers
    /// (the hand-over's rows), older rows decaying ([`COST_ROWS`]).
    cpu: Rate,
    alone: Rate,
    helped: Rate,
    /// Rows still to process alone before helpers are tried again, after they proved slower
    /// (a machine busy with other work leaves them no core).
    backoff_rows: f64,
}

/// Nanoseconds per row over the last rows.
#[derive(Debug, Default, Clone, Copy)]
struct Rate {
    ns: f64,
    rows: f64,
}

impl Rate {
    fn add(&mut self, ns: f64, rows: usize) {
        self.ns += ns;
        self.rows += rows as f64;
        if self.rows > 2.0 * COST_ROWS {
            self.ns /= 2.0;
            self.rows /= 2.0;
        }
    }

    /// Known once [`COST_ROWS`] rows are counted.
    fn per_row(&self) -> Option<f64> {
        (self.rows >= COST_ROWS).then(|| self.ns / self.rows)
    }
}

/// When a stretch of rows started: the session thread's CPU clock and the wall clock.
pub(crate) struct Clock {
    cpu: f64,
    wall: Instant,
}

/// Rows processed alone before helpers are tried again once they proved slower than none.
const BACKOFF_ROWS: f64 = 200_000.0;

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

/// A block processed into a buffer of its own, waiting for the blocks before it.
struct Finished {
    index: usize,
    block: Block,
    reply: Vec<u8>,
    outcome: Outcome,
}

/// Where a thread writes the block it took.
enum Target<'o> {
    /// The reply itself: every block before it is appended, and nobody else appends
    /// meanwhile.
    Reply(&'o mut Vec<u8>),
    /// A buffer, appended once the blocks before it are.
    Buffer(Vec<u8>),
}

/// What the threads of one pass over a hand-over's rows share.
struct Shared<'o> {
    body: &'o [u8],
    state: Mutex<State<'o>>,
    /// Signals that the reply moved on (or the pass ended), for threads waiting on it.
    changed: Condvar,
}

/// The reply's side of a pass.
struct State<'o> {
    /// The reply; `None` while a thread writes or appends to it.
    out: Option<&'o mut Vec<u8>>,
    merge: Merge,
    /// Blocks processed into buffers and not appended yet.
    finished: Vec<Finished>,
    spare: Vec<Vec<u8>>,
    /// Threads waiting on `changed`: nobody is woken (a system call) when none is.
    waiting: usize,
    /// The blocks cut so far (each as a thread takes it, so that cutting is shared too and
    /// no thread waits for the whole hand-over to be cut), and how many are taken.
    blocks: Vec<Block>,
    taken: usize,
    /// No whole row is left after the last block.
    cut_all: bool,
    /// A thread panicked: the others stop.
    abandoned: bool,
}

/// The appended part of the reply: blocks before `next` are in it.
struct Merge {
    next: usize,
    stats: BodyStats,
    pos: usize,
    stopped: bool,
    error: Option<BodyError>,
}

/// How a pass ended.
enum PassEnd {
    /// Every block is in the reply.
    Whole,
    /// A block proved cut wrong at the row where the rows now stand.
    Miscut,
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

    /// The clocks when the estimates are wanted ([`observe`](Self::observe)).
    pub(crate) fn timer(&self) -> Option<Clock> {
        (self.threads > 1 && self.auto).then(|| Clock {
            cpu: thread_cpu_ns(),
            wall: Instant::now(),
        })
    }

    /// Adds `rows` rows processed by the session's thread alone since `started`.
    pub(crate) fn observe(&mut self, started: Option<Clock>, rows: usize) {
        let Some(started) = started else { return };
        self.cpu.add(thread_cpu_ns() - started.cpu, rows);
        self.alone
            .add(started.wall.elapsed().as_nanos() as f64, rows);
        self.backoff_rows -= rows as f64;
    }

    /// Adds a hand-over processed with helpers: `own` rows by the session's thread, `rows` in
    /// all. Helpers slower than none (no core left for them) are left out for a while.
    fn observe_helped(&mut self, started: Option<Clock>, own: usize, rows: usize) {
        let Some(started) = started else { return };
        self.cpu.add(thread_cpu_ns() - started.cpu, own);
        self.helped
            .add(started.wall.elapsed().as_nanos() as f64, rows);
        if let (Some(helped), Some(alone)) = (self.helped.per_row(), self.alone.per_row()) {
            if helped > 0.95 * alone {
                self.backoff_rows = BACKOFF_ROWS;
                self.helped = Rate::default();
            }
        }
    }

    /// Helpers pay off for this chunk's rows as far as is known.
    fn wanted(&self) -> bool {
        self.threads > 1
            && (!self.auto
                || (self.backoff_rows <= 0.0
                    && self
                        .cpu
                        .per_row()
                        .is_some_and(|ns| ns >= AUTO_MIN_NS_PER_ROW)))
    }

    /// Processes the whole rows of `body` from `rows.pos` on with helpers, when that pays:
    /// afterwards `rows` stands where the session's thread carries on alone (the body's last,
    /// incomplete row).
    pub(crate) fn run<P: RowProcessor + ?Sized>(
        &mut self,
        layout: &Layout,
        (body, complete): (&[u8], bool),
        rows: &mut RowRunner,
        processor: &mut P,
        out: &mut Vec<u8>,
    ) -> Result<(), BodyError> {
        if !self.wanted() || !self.fork(layout, processor) {
            return Ok(());
        }
        let (started, first_row) = (self.timer(), rows.stats.rows_in);
        let mut own = 0;
        let result = loop {
            // Two blocks at least, else the session's thread is better off alone.
            self.blocks.clear();
            let Some(first) = cut_block(body, rows.pos, rows.stats.rows_in) else {
                break Ok(());
            };
            let Some(second) = cut_block(body, first.end, first.first_row + first.rows) else {
                break Ok(());
            };
            self.blocks.extend([first, second]);
            match self.pass(layout, body, rows, processor, out) {
                (Ok(PassEnd::Whole), processed) => own += processed,
                (Ok(PassEnd::Miscut), processed) => {
                    // The row at `pos` alone, then the rows after it are cut afresh.
                    own += processed + 1;
                    let next_row = rows.stats.rows_in + 1;
                    match rows.run(layout, (body, complete), next_row, processor, out) {
                        Ok(RunEnd::Done) => {}
                        Ok(RunEnd::Waiting) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                }
                (Err(e), _) => break Err(e),
            }
        };
        self.observe_helped(started, own, rows.stats.rows_in - first_row);
        result
    }

    /// One pass over the whole rows from `self.blocks`' first on every thread, the blocks
    /// after `self.blocks` cut as they are taken; returns how it ended and the rows the
    /// session's thread processed.
    fn pass<P: RowProcessor + ?Sized>(
        &mut self,
        layout: &Layout,
        body: &[u8],
        rows: &mut RowRunner,
        processor: &mut P,
        out: &mut Vec<u8>,
    ) -> (Result<PassEnd, BodyError>, usize) {
        let shared = Shared {
            body,
            state: Mutex::new(State {
                out: Some(out),
                merge: Merge {
                    next: 0,
                    stats: rows.stats,
                    pos: rows.pos,
                    stopped: false,
                    error: None,
                },
                finished: Vec::new(),
                spare: std::mem::take(&mut self.spare),
                waiting: 0,
                blocks: std::mem::take(&mut self.blocks),
                taken: 0,
                cut_all: false,
                abandoned: false,
            }),
            changed: Condvar::new(),
        };
        let processed = {
            let shared = &shared;
            let mut shares: Vec<_> = self
                .helpers
                .iter_mut()
                .map(|helper| {
                    move || {
                        shared.work(&mut helper.rows, &mut *helper.processor, layout, body);
                    }
                })
                .collect();
            let mut jobs: Vec<Job<'_>> = shares.iter_mut().map(|share| share as Job<'_>).collect();
            self.workers.run(&mut jobs, || {
                let processed = shared.work(rows, processor, layout, body);
                shared.wait_appended();
                processed
            })
        };
        let state = shared
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        self.spare = state.spare;
        self.spare.truncate(SPARE_KEPT);
        self.blocks = state.blocks;
        let mut merge = state.merge;
        (rows.pos, rows.stats) = (merge.pos, merge.stats);
        let end = match merge.error.take() {
            Some(error) => Err(error),
            None if merge.stopped => Ok(PassEnd::Miscut),
            None => Ok(PassEnd::Whole),
        };
        (end, processed)
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

impl<'o> Shared<'o> {
    fn lock(&self) -> MutexGuard<'_, State<'o>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'g>(&self, mut state: MutexGuard<'g, State<'o>>) -> MutexGuard<'g, State<'o>> {
        state.waiting += 1;
        let mut state = self
            .changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
        state.waiting -= 1;
        state
    }

    /// One thread's share: the next block not taken, until none is left; returns the rows
    /// this thread processed.
    fn work<P: RowProcessor + ?Sized>(
        &self,
        rows: &mut RowRunner,
        processor: &mut P,
        layout: &Layout,
        body: &[u8],
    ) -> usize {
        let _abandon = AbandonOnPanic(self);
        let mut processed = 0;
        while let Some((index, block, target)) = self.take() {
            match target {
                Target::Reply(out) => {
                    let outcome = run_block(rows, layout, body, block, processor, out);
                    processed += outcome.stats.rows_in - block.first_row;
                    let mut state = self.lock();
                    state.out = Some(out);
                    state.merge.accept(block, outcome);
                    self.append_finished(state);
                }
                Target::Buffer(mut reply) => {
                    let outcome = run_block(rows, layout, body, block, processor, &mut reply);
                    processed += outcome.stats.rows_in - block.first_row;
                    let mut state = self.lock();
                    state.finished.push(Finished {
                        index,
                        block,
                        reply,
                        outcome,
                    });
                    self.append_finished(state);
                }
            }
        }
        processed
    }

    /// Takes the next block (cutting it off the rows when it is not cut yet) and where to
    /// write it; `None` once no whole row is left, or the pass stopped. Waits while the block
    /// lies [`AHEAD`] blocks or more past the reply.
    fn take(&self) -> Option<(usize, Block, Target<'o>)> {
        let mut state = self.lock();
        if state.merge.stopped || state.abandoned || !state.cut_next(self.body) {
            return None;
        }
        let index = state.taken;
        let block = state.blocks[index];
        state.taken += 1;
        loop {
            if state.merge.stopped || state.abandoned {
                return None;
            }
            if index < state.merge.next + AHEAD {
                break;
            }
            state = self.wait(state);
        }
        if state.merge.next == index {
            if let Some(out) = state.out.take() {
                return Some((index, block, Target::Reply(out)));
            }
        }
        let mut buffer = state.spare.pop().unwrap_or_default();
        buffer.clear();
        Some((index, block, Target::Buffer(buffer)))
    }

    /// Appends the finished blocks the reply waits for, in order, unless another thread holds
    /// the reply (it appends them when it gives the reply back).
    fn append_finished<'s>(&'s self, mut state: MutexGuard<'s, State<'o>>) {
        loop {
            if state.merge.stopped {
                let dropped = std::mem::take(&mut state.finished);
                state.spare.extend(dropped.into_iter().map(|f| f.reply));
                break;
            }
            let next = state.merge.next;
            let Some(at) = state.finished.iter().position(|f| f.index == next) else {
                break;
            };
            let Some(out) = state.out.take() else { break };
            let finished = state.finished.swap_remove(at);
            drop(state);
            out.extend_from_slice(&finished.reply);
            state = self.lock();
            state.out = Some(out);
            state.merge.accept(finished.block, finished.outcome);
            state.spare.push(finished.reply);
        }
        if state.waiting > 0 {
            drop(state);
            self.changed.notify_all();
        }
    }

    /// Waits until the reply holds every block, or the pass stopped and the reply is back.
    fn wait_appended(&self) {
        let mut state = self.lock();
        while !state.abandoned
            && !(state.out.is_some()
                && (state.merge.stopped
                    || (state.cut_all && state.merge.next == state.blocks.len())))
        {
            state = self.wait(state);
        }
    }
}

impl State<'_> {
    /// Makes sure a block is cut for the next taker; `false` when no whole row is left.
    fn cut_next(&mut self, body: &[u8]) -> bool {
        if self.taken < self.blocks.len() {
            return true;
        }
        let next = self
            .blocks
            .last()
            .and_then(|last| cut_block(body, last.end, last.first_row + last.rows));
        match next {
            Some(block) => self.blocks.push(block),
            None => self.cut_all = true,
        }
        next.is_some()
    }
}

/// Stops the other threads of a pass when a thread leaves it by a panic, so the scope ends
/// (and passes the panic on) instead of waiting for a block that never comes.
struct AbandonOnPanic<'s, 'o>(&'s Shared<'o>);

impl Drop for AbandonOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.lock().abandoned = true;
            self.0.changed.notify_all();
        }
    }
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
    let result = rows.run(
        layout,
        (&body[..block.end], false),
        usize::MAX,
        processor,
        out,
    );
    Outcome {
        pos: rows.pos,
        stats: rows.stats,
        error: result.err(),
    }
}

impl Merge {
    /// Takes the next block's counts (its reply is in the reply): stops at its error, or where
    /// it proves cut wrong.
    fn accept(&mut self, block: Block, outcome: Outcome) {
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
        }
    }
}

/// Cuts the next block off the rows of `body` from `start` (row `first_row`): the rows up to
/// the first newline that ends at least [`BLOCK`] bytes after `start` and follows an even
/// number of `"` since `start` (a block's start is a row's start, outside quotes); short of
/// one, the rows up to the last such newline. `None` when no whole row is left (a row still
/// arriving is left out).
fn cut_block(body: &[u8], start: usize, first_row: usize) -> Option<Block> {
    let mut block = Block {
        start,
        end: start,
        first_row,
        rows: 0,
    };
    unquoted_newlines(body, start, |at, ends| {
        // A newline at `at + bit` closes the block once `at + bit + 1 - start >= BLOCK`.
        let closes_from = (start + BLOCK - 1).saturating_sub(at);
        let closing = match closes_from {
            0..=63 => ends & (u64::MAX << closes_from),
            _ => 0,
        };
        if closing == 0 {
            if ends != 0 {
                block.rows += ends.count_ones() as usize;
                block.end = at + 64 - ends.leading_zeros() as usize;
            }
            return true;
        }
        let bit = closing.trailing_zeros();
        block.rows += (ends & (u64::MAX >> (63 - bit))).count_ones() as usize;
        block.end = at + bit as usize + 1;
        false
    });
    (block.rows > 0).then_some(block)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The cut as it was first written: a stop at every quote and newline.
    fn cut_by_memchr(
        body: &[u8],
        from: usize,
        first_row: usize,
    ) -> Vec<(usize, usize, usize, usize)> {
        let mut blocks = Vec::new();
        let (mut start, mut rows, mut next_row) = (from, 0, first_row);
        let (mut quoted, mut last_end) = (false, from);
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
                blocks.push((start, last_end, next_row, rows));
                (start, next_row, rows) = (last_end, next_row + rows, 0);
            }
        }
        if rows > 0 {
            blocks.push((start, last_end, next_row, rows));
        }
        blocks
    }

    /// Rows of varying length with quoted fields, quoted newlines, `""` escapes and stray
    /// quotes, from a fixed seed.
    fn body(seed: u64, len: usize) -> Vec<u8> {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut body = Vec::with_capacity(len);
        while body.len() < len {
            let byte = match next() % 40 {
                0..=2 => b'"',
                3..=4 => b'\n',
                5..=8 => b',',
                _ => b'a' + (next() % 26) as u8,
            };
            body.push(byte);
            if next() % 4000 == 0 {
                body.extend(std::iter::repeat_n(b'x', (next() % 40_000) as usize));
            }
        }
        body
    }

    #[test]
    fn the_bitmask_cut_is_the_quote_by_quote_cut() {
        let mut blocks = Vec::new();
        for seed in 1..40u64 {
            let body = body(seed, 20_000 + 3_000 * seed as usize);
            for from in [
                0,
                1,
                63,
                64,
                65,
                1000,
                body.len() / 2,
                body.len() - 1,
                body.len(),
            ] {
                blocks.clear();
                let (mut start, mut row) = (from, 7);
                while let Some(block) = cut_block(&body, start, row) {
                    blocks.push(block);
                    (start, row) = (block.end, block.first_row + block.rows);
                }
                let got: Vec<_> = blocks
                    .iter()
                    .map(|b| (b.start, b.end, b.first_row, b.rows))
                    .collect();
                assert_eq!(
                    got,
                    cut_by_memchr(&body, from, 7),
                    "seed {seed} from {from}"
                );
            }
        }
    }
}
