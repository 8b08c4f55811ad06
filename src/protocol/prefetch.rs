//! Reads an execute body of known length on a helper thread while the session processes the
//! part already received.
//!
//! A pipe serialises its two ends: splunkd's copy into it and the command's copy out of it both
//! hold the pipe's lock. Read on the thread that processes rows, the command's copy and its row
//! work add up, and the second core has little to do. With the copy on a helper thread, rows
//! are processed while the transfer runs, so a chunk costs about the longer of the two instead
//! of their sum.
//!
//! # A window of the body, not all of it
//!
//! SCP v2 answers each request with one reply whose length is in its header, so a whole reply
//! is in memory at the end of its chunk, and the reply buffer stays resident from one chunk to
//! the next (rewriting its pages costs nothing; giving them back would mean faulting in the
//! whole reply again every chunk). Were the whole request resident too, the peak would be
//! request + reply: with the ESCU corpus, whose annotations make a reply twice its request,
//! three times the request. So a body of [`WINDOW_MIN`] bytes and more is held as a window:
//!
//! - the consumer returns, from each call, how far it has processed the body: it never reads
//!   the bytes before that offset again;
//! - the helper reads at most [`AHEAD`] bytes beyond the prefix handed to the consumer, so it
//!   cannot fill the whole body while the consumer (slow with many rules) is still near its
//!   start and the previous reply's pages are resident;
//! - between calls, once [`RELEASE_STEP`] of processed pages have gathered, they are moved
//!   past the helper's limit, where it will write next (`mremap` into our own mapping,
//!   [`super::pages`]). Near the body's end, where no room is left ahead, they stay; after the
//!   body, the pages still held move to the buffer's front, where the next body starts.
//!
//! About `RELEASE_STEP + AHEAD` of the body is then resident at any time, and the peak is the
//! largest reply plus that, not request plus reply. The same few MiB of pages circulate through
//! the buffer, so the kernel does not fault in (and zero) a fresh page per 4 KiB of request:
//! giving processed pages back and letting the helper fault in new ones costs ~3 µs a page on
//! the benchmark machine (writing 16 MiB: 13–17 ms instead of 3). Where pages cannot be moved
//! (Linux before 5.7, or no mapping could be had) they are given back instead.
//!
//! # The unsafe contract
//!
//! The body lands in one contiguous buffer (rows are located by byte offset across reads).
//! - The helper writes only at or past the prefix it has published (`filled`), and only below
//!   the limit the consumer has allowed; the consumer reads only the published prefix, through
//!   a slice that lives for one `consume` call.
//! - Between calls, with no slice alive, the consumer takes whole pages below the offset the
//!   last call returned (never past the published prefix) and moves them at or past the
//!   helper's limit (which it raises only afterwards), or gives them back. The pages left
//!   behind stay mapped and read as zeros, so a later slice over the published prefix is still
//!   valid, initialised memory; the consumer's promise is that it never reads those bytes again
//!   for this body. Moved pages hold stale bytes until the helper overwrites them, and it
//!   publishes no byte it has not written. `tests` prove with `mincore` that the pages taken
//!   are not touched again while a body is processed, and that replies are unchanged.

use std::io::{self, Read};
use std::slice;
use std::sync::{Condvar, Mutex, PoisonError};

use super::pages;

/// Bytes asked for by one `read` on the helper thread: all that a full 1 MiB pipe holds. Each
/// read empties the pipe, so splunkd's next write can fill all of it in one go; fewer, larger
/// hand-overs of the pipe's lock beat an earlier start on rows (256 KiB reads: 2.75 M rows/s,
/// 1 MiB: 3.05 M, same bench run).
const READ_STEP: usize = super::pipes::PIPE_SIZE;

/// Bodies of this size and up are held as a window (module docs). Below it, the memory saved
/// is a few MiB at most.
pub const WINDOW_MIN: usize = 4 << 20;

/// Processed pages are moved (or given back) in runs of at least this many: one `mremap` (and
/// the TLB flush it costs the helper's core) per 512 KiB.
const RELEASE_STEP: usize = 512 << 10;

/// How far the helper may read beyond the prefix handed to the consumer, in a windowed body:
/// two full reads, so the helper has one to make while the consumer processes the other even
/// when the machine is slow to wake it.
const AHEAD: usize = 2 * READ_STEP;

/// Why a prefetched body did not arrive whole, or why its consumer stopped.
#[derive(Debug)]
pub enum PrefetchError<E> {
    /// The stream ended after `got` of the body's bytes.
    Truncated {
        got: usize,
    },
    Io(io::Error),
    /// The consumer's error. The rest of the body was still read (and discarded), so the stream
    /// stands at the next request.
    Consume(E),
}

/// A reusable body buffer. It only grows, and its bytes are zero-filled when it does, so every
/// byte handed to `read` is initialised.
#[derive(Debug)]
pub struct PrefetchBuffer {
    storage: Storage,
    /// Pages below this offset are resident, ready for the next body's first bytes.
    front: usize,
    /// Cleared once the kernel refuses to move pages: they are given back instead.
    movable: bool,
    /// Bytes of windowed bodies whose pages were moved ahead or given back (tests check it).
    recycled: usize,
    /// Of those, bytes whose pages were moved ahead.
    moved: usize,
}

impl Default for PrefetchBuffer {
    fn default() -> Self {
        PrefetchBuffer {
            storage: Storage::Heap(Vec::new()),
            front: 0,
            movable: true,
            recycled: 0,
            moved: 0,
        }
    }
}

/// Where a body lands.
#[derive(Debug)]
enum Storage {
    /// The allocator's memory, where no mapping of our own can be had: processed pages of a
    /// windowed body are only given back.
    Heap(Vec<u8>),
    /// Our own mapping: processed pages are moved ahead of the helper to be written again.
    Mapped(pages::Mapping),
}

impl Storage {
    fn with_len(len: usize) -> Storage {
        match pages::Mapping::new(len) {
            Some(mapping) => Storage::Mapped(mapping),
            None => Storage::Heap(vec![0; len]),
        }
    }

    fn len(&self) -> usize {
        match self {
            Storage::Heap(v) => v.len(),
            Storage::Mapped(m) => m.size(),
        }
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        match self {
            Storage::Heap(v) => v.as_mut_ptr(),
            Storage::Mapped(m) => m.as_mut_ptr(),
        }
    }
}

impl PrefetchBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `len` bytes of `input` on a helper thread. `consume(received, complete)` is called
    /// on this thread with the body's received prefix whenever it has grown, and once more with
    /// `complete = true` and the whole body; it returns how far it has processed the body (it
    /// will not read the bytes before that offset again, see the module docs). After a
    /// consumer error the helper still reads the body to its end before this returns. Where no
    /// thread can be started, the same calls happen with reads on this thread.
    pub fn read_while<R, E>(
        &mut self,
        input: &mut R,
        len: usize,
        mut consume: impl FnMut(&[u8], bool) -> Result<usize, E>,
    ) -> Result<(), PrefetchError<E>>
    where
        R: Read + Send,
    {
        if self.storage.len() < len {
            // Drop the old buffer first so the two are never both resident. A quarter more
            // than asked for: the next chunk is often a little longer, and a new buffer's
            // pages must all be faulted in, while untouched ones cost nothing.
            self.storage = Storage::Heap(Vec::new());
            self.storage = Storage::with_len(len.saturating_add(len / 4));
            self.front = 0;
        }
        let movable = self.movable && matches!(self.storage, Storage::Mapped(_));
        let base = BufferStart(self.storage.as_mut_ptr());
        let mut window = (len >= WINDOW_MIN).then(|| Window::new(self.front, movable));
        let progress = Progress::new(if window.is_some() { AHEAD } else { len });
        let overlapped = std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("body-reader".into())
                .spawn_scoped(scope, || {
                    let _finish = FinishOnExit(&progress);
                    fill(&mut *input, base, len, &progress);
                });
            if helper.is_err() {
                return None;
            }
            // However the consumer stops, the helper may then read on to the body's end.
            let _unthrottle = Unthrottle(&progress);
            Some(consume_arriving(
                base,
                len,
                &progress,
                window.as_mut(),
                &mut consume,
            ))
            // The scope waits for the helper, which reads on to the body's end or the stream's.
        });
        if let Some(outcome) = overlapped {
            self.front = match &mut window {
                Some(window) => {
                    // SAFETY: the helper has stopped and no slice of the buffer is alive; the
                    // body is processed (or abandoned), so none of its bytes will be read again.
                    let front = unsafe { window.finish(base, len) };
                    self.recycled += window.recycled;
                    self.moved += window.moved;
                    self.movable &= window.movable;
                    front
                }
                None => self.front.max(len),
            };
            return outcome;
        }
        // No thread: read the whole body here, then hand it over once.
        self.front = self.front.max(len);
        let progress = Progress::new(len);
        fill(input, base, len, &progress);
        let (filled, end) = progress.wait_beyond(len);
        match end {
            Some(End::Eof) => Err(PrefetchError::Truncated { got: filled }),
            Some(End::Failed(e)) => Err(PrefetchError::Io(e)),
            Some(End::Complete) | None => {
                // SAFETY: the buffer's first `len` bytes are initialised and nothing else
                // refers to them now.
                let whole = unsafe { slice::from_raw_parts(base.0, len) };
                consume(whole, true)
                    .map(drop)
                    .map_err(PrefetchError::Consume)
            }
        }
    }
}

/// The consumer's side of an overlapped read: hands each longer prefix to `consume` until the
/// body is whole, letting the helper read on and recycling processed pages between calls.
fn consume_arriving<E>(
    base: BufferStart,
    len: usize,
    progress: &Progress,
    mut window: Option<&mut Window>,
    consume: &mut impl FnMut(&[u8], bool) -> Result<usize, E>,
) -> Result<(), PrefetchError<E>> {
    let mut handed = 0;
    loop {
        let (filled, end) = progress.wait_beyond(handed);
        if filled == len {
            // SAFETY: `base` points at the buffer's `len` initialised bytes, all published;
            // the helper writes no more.
            let whole = unsafe { slice::from_raw_parts(base.0, len) };
            return consume(whole, true)
                .map(drop)
                .map_err(PrefetchError::Consume);
        }
        match end {
            Some(End::Eof) => return Err(PrefetchError::Truncated { got: filled }),
            Some(End::Failed(e)) => return Err(PrefetchError::Io(e)),
            Some(End::Complete) | None => {}
        }
        let limit = filled + AHEAD;
        if window.is_some() {
            progress.allow(limit);
        }
        let processed = {
            // SAFETY: `base` points at the buffer, at least `len` initialised bytes that
            // nothing else borrows until the scope ends. The helper published `filled` after
            // writing `[0, filled)` and writes only at or past it from then on.
            let received = unsafe { slice::from_raw_parts(base.0, filled) };
            consume(received, false).map_err(PrefetchError::Consume)?
        };
        handed = filled;
        if let Some(window) = window.as_deref_mut() {
            // SAFETY: the slice above has ended. Below `processed` (within the published
            // prefix) the helper no longer writes and the consumer will not read again; at
            // and past `limit` the helper writes only once the next call allows it.
            unsafe { window.recycle(base, processed.min(filled), limit, len) };
        }
    }
}

/// What has become of a windowed body's pages.
struct Window {
    /// Pages below this offset have been moved ahead or given back (page-aligned, or 0).
    below: usize,
    /// Pages moved ahead of the helper lie below this offset.
    stocked: usize,
    movable: bool,
    recycled: usize,
    moved: usize,
}

impl Window {
    /// A window over a buffer whose pages below `front` are resident.
    fn new(front: usize, movable: bool) -> Window {
        Window {
            below: 0,
            stocked: front,
            movable,
            recycled: 0,
            moved: 0,
        }
    }

    /// Between calls: once [`RELEASE_STEP`] of the pages below `processed` are free, moves
    /// them past the helper's `limit`, where it will write next. Near the body's end, where
    /// there is no room left, they stay until [`finish`](Self::finish); where pages cannot be
    /// moved, they are given back.
    ///
    /// # Safety
    /// No slice of the buffer is alive; nothing reads or writes below `processed` again
    /// during this body, and nothing writes at or past `limit` during the call.
    unsafe fn recycle(&mut self, base: BufferStart, processed: usize, limit: usize, len: usize) {
        if processed < self.below + RELEASE_STEP {
            return;
        }
        let free = pages::whole_pages(base.0, self.below..processed);
        let ahead = pages::whole_pages(base.0, limit.min(len)..len);
        let to = self.stocked.max(ahead.start);
        // SAFETY: the caller's contract: `free` is below `processed`, `to..` at or past
        // `limit`, both inside the buffer.
        let rest = unsafe { self.move_some(base, free.clone(), to, ahead.end.saturating_sub(to)) };
        if rest.start > free.start {
            self.stocked = to + (rest.start - free.start);
        }
        if !self.movable {
            // SAFETY: as above.
            unsafe { pages::release(base.0, rest.clone()) };
            self.recycled += rest.len();
            self.below = free.end;
        } else {
            self.below = rest.start;
        }
    }

    /// After the body (the helper has stopped): moves the pages still held to the buffer's
    /// front, where the next body starts, as far as they fit before themselves (the rest stay
    /// where they are, for the next body to write when it gets there); returns the end of the
    /// pages moved. Where pages cannot be moved, the held ones are given back.
    ///
    /// # Safety
    /// No slice of the buffer is alive and nothing reads or writes it during the call.
    unsafe fn finish(&mut self, base: BufferStart, len: usize) -> usize {
        let held = pages::whole_pages(base.0, self.below..len);
        // SAFETY: the caller's contract; `0..held.start` does not overlap `held`.
        let rest = unsafe { self.move_some(base, held.clone(), 0, held.start) };
        if !self.movable {
            // SAFETY: the caller's contract.
            unsafe { pages::release(base.0, rest.clone()) };
            self.recycled += rest.len();
        }
        rest.start - held.start
    }

    /// Moves the first pages of `free`, at most `room` bytes of them, to `to`; returns the
    /// pages not moved.
    ///
    /// # Safety
    /// `free` and `to..to + room` are whole pages in the buffer, disjoint, and nothing else
    /// reads or writes them during the call; the caller treats both as overwritten.
    unsafe fn move_some(
        &mut self,
        base: BufferStart,
        free: std::ops::Range<usize>,
        to: usize,
        room: usize,
    ) -> std::ops::Range<usize> {
        let n = free.len().min(room);
        if !self.movable || n == 0 {
            return free;
        }
        // SAFETY: the caller's contract.
        if unsafe { pages::move_pages(base.0, free.start..free.start + n, to) } {
            self.moved += n;
            self.recycled += n;
            free.start + n..free.end
        } else {
            self.movable = false;
            free
        }
    }
}

/// The start of the buffer, sent to the helper thread.
#[derive(Clone, Copy)]
struct BufferStart(*mut u8);

// SAFETY: the pointer is only dereferenced under the split described in the module docs: the
// helper writes past the published prefix, the consumer reads within it.
unsafe impl Send for BufferStart {}
unsafe impl Sync for BufferStart {}

enum End {
    Complete,
    Eof,
    Failed(io::Error),
}

struct Progress {
    state: Mutex<State>,
    /// Signalled when `filled` grows or the helper stops.
    grown: Condvar,
    /// Signalled when `limit` grows.
    room: Condvar,
}

struct State {
    filled: usize,
    end: Option<End>,
    /// The helper reads only below this offset.
    limit: usize,
    /// Set while the consumer sleeps, so the helper signals only when someone is waiting.
    waiting: bool,
    /// Set while the helper sleeps for room.
    helper_waiting: bool,
}

impl Progress {
    fn new(limit: usize) -> Self {
        Progress {
            state: Mutex::new(State {
                filled: 0,
                end: None,
                limit,
                waiting: false,
                helper_waiting: false,
            }),
            grown: Condvar::new(),
            room: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn publish(&self, filled: usize) {
        let mut state = self.lock();
        state.filled = filled;
        if state.waiting {
            self.grown.notify_one();
        }
    }

    fn finish(&self, end: End) {
        let mut state = self.lock();
        if state.end.is_none() {
            state.end = Some(end);
        }
        self.grown.notify_one();
    }

    /// Waits until more than `seen` bytes have arrived or the helper has stopped; returns the
    /// received length and, once, how the helper stopped.
    fn wait_beyond(&self, seen: usize) -> (usize, Option<End>) {
        let mut state = self.lock();
        while state.filled <= seen && state.end.is_none() {
            state.waiting = true;
            state = self
                .grown
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.waiting = false;
        }
        let end = match state.end {
            Some(End::Complete) | None => None,
            Some(_) => state.end.take(),
        };
        (state.filled, end)
    }

    /// Lets the helper read below `limit`.
    fn allow(&self, limit: usize) {
        let mut state = self.lock();
        if limit > state.limit {
            state.limit = limit;
            if state.helper_waiting {
                self.room.notify_one();
            }
        }
    }

    /// The helper's wait: returns the limit once it is past `filled`.
    fn room_beyond(&self, filled: usize) -> usize {
        let mut state = self.lock();
        while state.limit <= filled {
            state.helper_waiting = true;
            state = self
                .room
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            state.helper_waiting = false;
        }
        state.limit
    }
}

/// Marks the helper as stopped however it leaves (a panicking `read` included), so the consumer
/// never waits for bytes that cannot come.
struct FinishOnExit<'a>(&'a Progress);

impl Drop for FinishOnExit<'_> {
    fn drop(&mut self) {
        self.0
            .finish(End::Failed(io::Error::other("the body reader stopped")));
    }
}

/// Lifts the helper's limit however the consumer leaves (an error or a panic included), so the
/// helper never waits for room that cannot come and reads the body to its end.
struct Unthrottle<'a>(&'a Progress);

impl Drop for Unthrottle<'_> {
    fn drop(&mut self) {
        self.0.allow(usize::MAX);
    }
}

fn fill<R: Read>(input: &mut R, base: BufferStart, len: usize, progress: &Progress) {
    let mut filled = 0;
    while filled < len {
        let limit = progress.room_beyond(filled).min(len);
        let want = (limit - filled).min(READ_STEP);
        // SAFETY: `[filled, filled + want)` lies within the buffer's `len` initialised bytes
        // and past the published prefix, so no slice the consumer holds overlaps it, nor any
        // page it releases (only whole pages below the published prefix).
        let dest = unsafe { slice::from_raw_parts_mut(base.0.add(filled), want) };
        match input.read(dest) {
            Ok(0) => return progress.finish(End::Eof),
            Ok(n) => {
                filled += n;
                progress.publish(filled);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return progress.finish(End::Failed(e)),
        }
    }
    progress.finish(End::Complete);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives `good` bytes in 1000-byte reads, an `Interrupted` before each, then `fail`.
    struct Flaky {
        good: Vec<u8>,
        interrupt: bool,
        fail: io::ErrorKind,
    }

    impl Read for Flaky {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            if self.good.is_empty() {
                return Err(self.fail.into());
            }
            let n = buf.len().min(1000).min(self.good.len());
            buf[..n].copy_from_slice(&self.good[..n]);
            self.good.drain(..n);
            Ok(n)
        }
    }

    #[test]
    fn prefixes_grow_to_the_whole_body_and_interrupted_reads_are_retried() {
        let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let mut input = Flaky {
            good: body.clone(),
            interrupt: false,
            fail: io::ErrorKind::UnexpectedEof,
        };
        let mut calls = Vec::new();
        let mut buffer = PrefetchBuffer::new();
        let outcome = buffer.read_while(&mut input, body.len(), |received, complete| {
            assert_eq!(received, &body[..received.len()]);
            calls.push((received.len(), complete));
            Ok::<usize, ()>(0)
        });
        assert!(outcome.is_ok());
        assert_eq!(calls.last(), Some(&(body.len(), true)));
        assert_eq!(calls.iter().filter(|c| c.1).count(), 1);
        assert!(calls.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn a_read_error_is_returned_and_a_consumer_error_waits_for_the_body_end() {
        let mut buffer = PrefetchBuffer::new();
        let mut input = Flaky {
            good: vec![b'x'; 5_000],
            interrupt: false,
            fail: io::ErrorKind::BrokenPipe,
        };
        let outcome = buffer.read_while(&mut input, 8_000, |_, _| Ok::<usize, ()>(0));
        assert!(
            matches!(&outcome, Err(PrefetchError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe),
            "{outcome:?}"
        );

        let stream = vec![b'y'; 300_000];
        let mut unread: &[u8] = &stream;
        let outcome = buffer.read_while(&mut unread, 200_000, |received, _| {
            if received.is_empty() {
                Ok(0)
            } else {
                Err("stop")
            }
        });
        assert!(matches!(outcome, Err(PrefetchError::Consume("stop"))));
        assert_eq!(unread.len(), 100_000, "the helper read the body to its end");
    }

    /// Windowed bodies: the consumer is the real body processor, so what is released is what
    /// `BodyProcessor::consumed` says it will not read again.
    #[cfg(target_os = "linux")]
    mod window {
        use super::*;
        use crate::protocol::pages::tests::try_resident;
        use crate::protocol::{BodyProcessor, Emitter, ProcessError, Row, RowProcessor, Verdict};

        /// Annotates rows whose `process` holds "netstat".
        struct Flagger {
            fields: Vec<String>,
            appended: Vec<String>,
        }

        impl Flagger {
            fn new() -> Self {
                Flagger {
                    fields: vec!["process".into()],
                    appended: vec!["detection".into()],
                }
            }
        }

        impl RowProcessor for Flagger {
            fn input_fields(&self) -> &[String] {
                &self.fields
            }
            fn appended_columns(&self) -> &[String] {
                &self.appended
            }
            fn process_row(
                &mut self,
                row: &Row<'_>,
                emit: &mut Emitter,
            ) -> Result<Verdict, ProcessError> {
                if row.values(0).any(|v| v.windows(7).any(|w| w == b"netstat")) {
                    emit.push(0, b"Netstat");
                    return Ok(Verdict::Emit);
                }
                Ok(Verdict::Pass)
            }
        }

        /// At least `min_len` bytes of rows: plain, quoted with `""`, multi-line and multivalue,
        /// and one row longer than two read steps, so rows straddle reads, hand-overs and
        /// release steps. Different seeds differ at almost every offset.
        fn rows(min_len: usize, seed: u64) -> Vec<u8> {
            let mut body = b"process,user,_time,__mv_process\n".to_vec();
            let mut n = seed * 1_000_003;
            while body.len() < min_len {
                n += 1;
                let row = match n % 6 {
                    0 => format!("\"C:\\netstat.exe -ano {n}\",alice,{n},\n"),
                    1 => format!("\"cmd.exe /c \"\"echo {n}\"\"\",bob,{n},\n"),
                    2 => format!("\"line one {n}\nline two\",dave,{n},\n"),
                    3 => format!("\"a\nb\",erin,{n},\"$a {n}$;$netstat -a$\"\n"),
                    _ => format!("notepad.exe file{n}.txt,frank,{n},\n"),
                };
                body.extend_from_slice(row.as_bytes());
                if n % 20_000 == 7 {
                    let long = "x".repeat(2 * READ_STEP + 12_345);
                    body.extend_from_slice(format!("\"{long} netstat\",zed,{n},\n").as_bytes());
                }
            }
            body
        }

        /// Hands out its bytes in pieces of irregular sizes, up to ~1.2 MiB.
        struct Trickle<'a> {
            bytes: &'a [u8],
            step: usize,
        }

        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                self.step = (self.step * 7919 + 13) % 1_299_709;
                let n = (self.step + 1).min(buf.len()).min(self.bytes.len());
                buf[..n].copy_from_slice(&self.bytes[..n]);
                self.bytes = &self.bytes[n..];
                Ok(n)
            }
        }

        fn reference_reply(body: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            BodyProcessor::new()
                .process(body, &mut Flagger::new(), &mut out, &mut Vec::new())
                .expect("reference pass");
            out
        }

        /// Processes `body` through `buffer` as the session does, checking at every call that
        /// the helper kept within its window and that no page released so far has been
        /// touched since (`mincore`: a read would map the zero page). Returns the reply.
        fn windowed_reply(buffer: &mut PrefetchBuffer, body: &[u8], seed: usize) -> Vec<u8> {
            let mut bodies = BodyProcessor::new();
            let mut processor = Flagger::new();
            let mut reply = Vec::new();
            bodies.begin(&mut reply);
            let mut input = Trickle {
                bytes: body,
                step: seed,
            };
            let mut handed = 0;
            let mut processed = 0;
            let mut released_pages = 0;
            let mut observed = true;
            let outcome = buffer.read_while(&mut input, body.len(), |received, complete| {
                assert!(
                    received.len() <= handed + AHEAD,
                    "the helper read {} bytes past the prefix handed",
                    received.len() - handed
                );
                // The pages before what the last call processed that are not resident were
                // released: every one released earlier must still be untouched.
                match observed_residency(received.as_ptr(), processed) {
                    Some(now) => {
                        let released = now.iter().take_while(|&&r| !r).count();
                        assert!(
                            released >= released_pages,
                            "a released page was touched again ({released} < {released_pages})"
                        );
                        assert!(
                            now[released..].iter().all(|&r| r),
                            "released pages form one prefix"
                        );
                        released_pages = released;
                    }
                    None => observed = false,
                }
                bodies.feed(received, complete, &mut processor, &mut reply)?;
                handed = received.len();
                processed = bodies.consumed();
                Ok::<usize, BodyError>(processed)
            });
            assert!(outcome.is_ok(), "{outcome:?}");
            let page = pages::page_size().expect("page size");
            assert!(
                !observed || released_pages * page >= RELEASE_STEP,
                "{released_pages} pages were recycled while the body was processed"
            );
            reply
        }

        use crate::protocol::BodyError;

        /// Which pages of `base[..len]` are resident. Natively `mincore` must answer; under
        /// the emulator CI runs the aarch64 tests in (`NETDISCOVER_TEST_RUNNER`, qemu-user) it
        /// fails on pages a move left behind, so residency cannot be observed there and only
        /// the window's bound and the reply are checked.
        fn observed_residency(base: *const u8, len: usize) -> Option<Vec<bool>> {
            match try_resident(base, 0..len) {
                Ok(now) => Some(now),
                Err(e) if std::env::var_os("NETDISCOVER_TEST_RUNNER").is_some() => {
                    eprintln!("residency not observable under the test runner: mincore: {e}");
                    None
                }
                Err(e) => panic!("mincore: {e}"),
            }
        }

        #[test]
        fn a_large_body_is_held_as_a_window_whose_released_pages_are_never_touched_again() {
            let mut buffer = PrefetchBuffer::new();
            for (seed, len) in [
                (1, 3 * WINDOW_MIN),
                (2, 2 * WINDOW_MIN + 777),
                (3, WINDOW_MIN),
            ] {
                let body = rows(len, seed as u64);
                let (recycled_before, moved_before) = (buffer.recycled, buffer.moved);
                let reply = windowed_reply(&mut buffer, &body, seed);
                assert!(
                    reply == reference_reply(&body),
                    "body {seed}: the reply differs from a whole-body pass"
                );
                let recycled = buffer.recycled - recycled_before;
                let moved = buffer.moved - moved_before;
                // Linux has moved pages (`mremap` with MREMAP_DONTUNMAP) since 5.7: none was
                // given back to be faulted in again.
                let movable = pages::moves_keep_their_source();
                assert!(
                    (movable && moved == recycled && moved >= RELEASE_STEP)
                        || (!movable && moved == 0 && recycled >= RELEASE_STEP),
                    "body {seed}: {moved} bytes moved, {recycled} recycled, of {}",
                    body.len()
                );
                assert!(reply.windows(8).filter(|w| w == b",Netstat").count() > 100);
            }
        }

        #[test]
        fn a_consumer_error_or_panic_in_a_windowed_body_lets_the_helper_read_to_its_end() {
            let mut buffer = PrefetchBuffer::new();
            let stream = vec![b'y'; WINDOW_MIN + 3 * READ_STEP + 1000];
            let mut unread: &[u8] = &stream;
            let outcome = buffer.read_while(&mut unread, WINDOW_MIN + 3 * READ_STEP, |_, _| {
                Err::<usize, _>("stop")
            });
            assert!(matches!(outcome, Err(PrefetchError::Consume("stop"))));
            assert_eq!(unread.len(), 1000, "the helper read the body to its end");

            let mut unread: &[u8] = &stream;
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                buffer.read_while(&mut unread, WINDOW_MIN, |_, _| -> Result<usize, ()> {
                    panic!("consumer bug")
                })
            }));
            assert!(panicked.is_err());
            assert_eq!(unread.len(), stream.len() - WINDOW_MIN);
        }
    }
}
