//! A large body's rows processed on several threads, the reply the same byte for byte.
//!
//! With many rules a row costs far more to decide than to move (the ESCU corpus: ~1.6 µs a row
//! against ~0.25 µs for the whole pipe), so one core bounds the command while splunkd and the
//! body reader leave the other mostly idle. When the processor can be forked
//! ([`RowProcessor::fork`]), the rows received so far are taken in rounds of about [`ROUND`]
//! bytes, each cut into blocks of whole rows: the session's thread takes blocks from the
//! round's front and processes them straight into the reply, helpers (each with its own
//! scratch and fork) take blocks from the back into buffers of their own, and when they meet
//! the helpers' blocks are appended in input order. Neither side waits for the other before
//! the round's end (on a busy machine a thread may be descheduled for milliseconds), and the
//! round bounds the replies held in buffers, so the memory this costs. The first error in row
//! order wins: the blocks after its block are dropped, as the single-threaded loop would never
//! reach them.
//!
//! Blocks are cut where a newline follows an even number of `"` since the first block's start,
//! which is a row's end in well-formed CSV; the cut also counts the rows before each block, so
//! each row keeps its number. A `"` inside an unquoted field breaks that reading, so every
//! block is checked as it is appended: it must end exactly where it was cut, with the rows it
//! was counted to hold. A block that does not (it stops at a row that runs past its end) is
//! still right up to where it stopped; the blocks after it are dropped, the session's thread
//! processes the row where it stopped alone, and the rows after it are cut afresh.
//!
//! Helpers are scoped threads, started once per hand-over of received bytes (up to a few MiB,
//! thousands of rows with many rules) and fed its rounds; they end before the loop returns, so
//! no byte of the body is read after the loop has returned how far it got (`protocol::prefetch`
//! gives those pages back). Under [`Threads::Auto`] helpers run only while rows cost more than
//! [`AUTO_MIN_NS_PER_ROW`] of the session thread's CPU (a cheap rule set stays on one thread,
//! where a helper would cost more in hand-overs than it saves), and while rows take less wall
//! time with them than without: on a machine whose cores are busy with other work, the session
//! thread waits for descheduled helpers at each round's end, so they are left out for
//! [`BACKOFF_ROWS`] rows, then tried again.

use std::fmt;
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Instant;

use super::chunk::{BodyError, BodyStats, Layout, RowRunner, RunEnd};
use super::processor::{RowProcessor, Threads};

/// Bytes of rows in a block: a hundred rows or so, so that the threads finish a round
/// close together.
const BLOCK: usize = 32 << 10;

/// Bytes of rows in a round: the session's thread takes blocks from its front straight into
/// the reply, the helpers from its back into buffers of their own, appended when the round
/// ends. A round bounds those buffers (and so the memory this costs) without making either
/// side wait for the other before the round's end, which matters on a busy machine where a
/// thread may be descheduled for milliseconds.
const ROUND: usize = 256 << 10;

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

/// A helper's block, processed into a buffer of its own.
struct Finished {
    index: usize,
    reply: Vec<u8>,
    outcome: Outcome,
}

/// What the session's thread and the helpers of one hand-over share.
struct Shared {
    round: Mutex<Round>,
    /// Signals a new round, a helper's finished block, or the end.
    changed: Condvar,
    spare: Mutex<Vec<Vec<u8>>>,
}

/// The current round: its blocks not taken yet are `front..back`.
#[derive(Default)]
struct Round {
    blocks: Vec<Block>,
    front: usize,
    back: usize,
    /// Helpers processing a block of this round.
    busy: usize,
    finished: Vec<Finished>,
    /// No more rounds: helpers return.
    over: bool,
}

/// The appended part of a round: blocks before `next` are in the reply.
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

    /// Processes the whole rows of `body` from `rows.pos` on with helpers, round by round,
    /// when that pays: afterwards `rows` stands where the session's thread carries on alone
    /// (the body's last, incomplete row; or where a block proved cut wrong). The helpers are
    /// started once for all of this hand-over's rounds.
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
        cut_blocks(body, rows.pos, rows.stats.rows_in, &mut self.blocks);
        if self.blocks.len() < 2 {
            return Ok(());
        }
        let shared = Shared {
            round: Mutex::new(Round::default()),
            changed: Condvar::new(),
            spare: Mutex::new(std::mem::take(&mut self.spare)),
        };
        let (started, first_row) = (self.timer(), rows.stats.rows_in);
        let (blocks, helpers) = (&mut self.blocks, &mut self.helpers);
        let (result, main_rows) = std::thread::scope(|scope| {
            let _over = EndRounds(&shared);
            for helper in helpers.iter_mut() {
                let shared = &shared;
                scope.spawn(move || helper_blocks(helper, layout, body, shared));
            }
            let mut main_rows = 0;
            loop {
                let round = run_round(blocks, layout, body, rows, processor, out, &shared);
                let (more, processed) = match round {
                    Ok((more, processed)) => (more, processed),
                    Err(e) => break (Err(e), main_rows),
                };
                main_rows += processed;
                if !more {
                    // A block proved cut wrong at the row at `pos`: that row alone, then the
                    // rows after it are cut afresh.
                    let next_row = rows.stats.rows_in + 1;
                    match rows.run(layout, (body, complete), next_row, processor, out) {
                        Ok(RunEnd::Done) => {}
                        Ok(RunEnd::Waiting) => break (Ok(()), main_rows),
                        Err(e) => break (Err(e), main_rows),
                    }
                }
                cut_blocks(body, rows.pos, rows.stats.rows_in, blocks);
                if blocks.len() < 2 {
                    break (Ok(()), main_rows);
                }
            }
        });
        self.spare = shared
            .spare
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        self.observe_helped(started, main_rows, rows.stats.rows_in - first_row);
        result
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

/// One round over `blocks`: the session's thread from the front, straight into `out`, the
/// helpers from the back; then the helpers' blocks are appended in order. Returns whether
/// the next round may follow (no block proved cut wrong) and the rows this thread processed.
fn run_round<P: RowProcessor + ?Sized>(
    blocks: &[Block],
    layout: &Layout,
    body: &[u8],
    rows: &mut RowRunner,
    processor: &mut P,
    out: &mut Vec<u8>,
    shared: &Shared,
) -> Result<(bool, usize), BodyError> {
    shared.start_round(blocks);
    let mut merge = Merge {
        next: 0,
        stats: rows.stats,
        pos: rows.pos,
        stopped: false,
        error: None,
    };
    let mut processed = 0;
    while let Some(index) = shared.take_front(merge.stopped) {
        let block = blocks[index];
        let outcome = run_block(rows, layout, body, block, processor, out);
        processed += outcome.stats.rows_in - block.first_row;
        merge.accept(block, outcome);
    }
    let mut finished = shared.end_round();
    finished.sort_unstable_by_key(|f| f.index);
    for block in finished {
        if merge.next == block.index && !merge.stopped {
            out.extend_from_slice(&block.reply);
            merge.accept(blocks[block.index], block.outcome);
        }
        shared.give_back(block.reply);
    }
    (rows.pos, rows.stats) = (merge.pos, merge.stats);
    match merge.error {
        Some(error) => Err(error),
        None => Ok((!merge.stopped, processed)),
    }
}

/// A helper's loop: the last block not taken of the current round, into a buffer of its own,
/// until the rounds are over.
fn helper_blocks(helper: &mut Helper, layout: &Layout, body: &[u8], shared: &Shared) {
    while let Some((index, block)) = shared.take_back() {
        let mut reply = shared.spare_buffer();
        let outcome = run_block(
            &mut helper.rows,
            layout,
            body,
            block,
            &mut *helper.processor,
            &mut reply,
        );
        shared.finish(Finished {
            index,
            reply,
            outcome,
        });
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

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Round> {
        self.round.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn start_round(&self, blocks: &[Block]) {
        let mut round = self.lock();
        round.blocks.clear();
        round.blocks.extend_from_slice(blocks);
        (round.front, round.back) = (0, blocks.len());
        drop(round);
        self.changed.notify_all();
    }

    /// The first block not taken yet; none once `stopped` (the rest is not wanted).
    fn take_front(&self, stopped: bool) -> Option<usize> {
        let mut round = self.lock();
        if stopped {
            round.front = round.back;
        }
        (round.front < round.back).then(|| {
            round.front += 1;
            round.front - 1
        })
    }

    /// Waits for a block of a round to take from the back; `None` once the rounds are over.
    fn take_back(&self) -> Option<(usize, Block)> {
        let mut round = self.lock();
        loop {
            if round.over {
                return None;
            }
            if round.front < round.back {
                round.back -= 1;
                round.busy += 1;
                return Some((round.back, round.blocks[round.back]));
            }
            round = self
                .changed
                .wait(round)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn finish(&self, finished: Finished) {
        let mut round = self.lock();
        round.finished.push(finished);
        round.busy -= 1;
        drop(round);
        self.changed.notify_all();
    }

    /// Waits for the helpers' blocks of this round and takes them.
    fn end_round(&self) -> Vec<Finished> {
        let mut round = self.lock();
        while round.busy > 0 {
            round = self
                .changed
                .wait(round)
                .unwrap_or_else(PoisonError::into_inner);
        }
        std::mem::take(&mut round.finished)
    }

    fn spare_buffer(&self) -> Vec<u8> {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buffer = spare.pop().unwrap_or_default();
        buffer.clear();
        buffer
    }

    fn give_back(&self, buffer: Vec<u8>) {
        let mut spare = self.spare.lock().unwrap_or_else(PoisonError::into_inner);
        spare.push(buffer);
    }
}

/// Ends the rounds when the session's thread leaves them, however it leaves (an error, a
/// panic): the helpers return, so the scope can end.
struct EndRounds<'s>(&'s Shared);

impl Drop for EndRounds<'_> {
    fn drop(&mut self) {
        self.0.lock().over = true;
        self.0.changed.notify_all();
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

/// Cuts the rows of `body` from `from` (row `first_row`), about [`ROUND`] bytes of them, into
/// blocks of about [`BLOCK`] bytes, each ending after a newline that follows an even number of
/// `"` since `from`. The bytes after the last such newline (a row still arriving) are left out.
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
        if last_end - from >= ROUND {
            break;
        }
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
