//! Reads an execute body of known length on a helper thread while the session processes the
//! part already received.
//!
//! A pipe serialises its two ends: splunkd's copy into it and the command's copy out of it both
//! hold the pipe's lock. Read on the thread that processes rows, the command's copy and its row
//! work add up, and the second core has little to do. With the copy on a helper thread, rows
//! are processed while the transfer runs, so a chunk costs about the longer of the two instead
//! of their sum.
//!
//! The body lands in one contiguous buffer (rows are located by byte offset across reads). The
//! helper writes only past the prefix it has published; the consumer reads only the published
//! prefix. That split is the whole of the unsafe contract below.

use std::io::{self, Read};
use std::slice;
use std::sync::{Condvar, Mutex, PoisonError};

/// Bytes asked for by one `read` on the helper thread: all that a full 1 MiB pipe holds. Each
/// read empties the pipe, so splunkd's next write can fill all of it in one go; fewer, larger
/// hand-overs of the pipe's lock beat an earlier start on rows (256 KiB reads: 2.75 M rows/s,
/// 1 MiB: 3.05 M, same bench run).
const READ_STEP: usize = super::pipes::PIPE_SIZE;

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

/// A reusable body buffer. It only grows, and is zero-filled once when it does, so every byte
/// handed to `read` is initialised.
#[derive(Debug, Default)]
pub struct PrefetchBuffer {
    buf: Vec<u8>,
}

impl PrefetchBuffer {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads `len` bytes of `input` on a helper thread. `consume(received, complete)` is called
    /// on this thread with the body's received prefix whenever it has grown, and once more with
    /// `complete = true` and the whole body. After a consumer error the helper still reads the
    /// body to its end before this returns. Where no thread can be started, the same calls happen
    /// with reads on this thread.
    pub fn read_while<R, E>(
        &mut self,
        input: &mut R,
        len: usize,
        mut consume: impl FnMut(&[u8], bool) -> Result<(), E>,
    ) -> Result<(), PrefetchError<E>>
    where
        R: Read + Send,
    {
        if self.buf.len() < len {
            // Drop the old buffer first so the two are never both resident.
            self.buf = Vec::new();
            self.buf = vec![0; len];
        }
        let base = BufferStart(self.buf.as_mut_ptr());
        let progress = Progress::default();
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
            let mut seen = 0;
            let outcome = loop {
                let (filled, end) = progress.wait_beyond(seen);
                // SAFETY: `base` points at `self.buf`, at least `len` initialised bytes that
                // nothing else borrows until the scope ends. The helper published `filled` after
                // writing `[0, filled)` and writes only at or past it from then on.
                let received = unsafe { slice::from_raw_parts(base.0, filled) };
                if filled == len {
                    break consume(received, true).map_err(PrefetchError::Consume);
                }
                match end {
                    Some(End::Eof) => break Err(PrefetchError::Truncated { got: filled }),
                    Some(End::Failed(e)) => break Err(PrefetchError::Io(e)),
                    Some(End::Complete) | None => {}
                }
                if let Err(e) = consume(received, false) {
                    break Err(PrefetchError::Consume(e));
                }
                seen = filled;
            };
            // The scope waits for the helper, which reads on to the body's end or the stream's.
            Some(outcome)
        });
        if let Some(outcome) = overlapped {
            return outcome;
        }
        // No thread: read the whole body here, then hand it over once.
        let progress = Progress::default();
        fill(input, base, len, &progress);
        let (filled, end) = progress.wait_beyond(len);
        match end {
            Some(End::Eof) => Err(PrefetchError::Truncated { got: filled }),
            Some(End::Failed(e)) => Err(PrefetchError::Io(e)),
            Some(End::Complete) | None => {
                consume(&self.buf[..len], true).map_err(PrefetchError::Consume)
            }
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

#[derive(Default)]
struct Progress {
    state: Mutex<State>,
    grown: Condvar,
}

#[derive(Default)]
struct State {
    filled: usize,
    end: Option<End>,
    /// Set while the consumer sleeps, so the helper signals only when someone is waiting.
    waiting: bool,
}

impl Progress {
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

fn fill<R: Read>(input: &mut R, base: BufferStart, len: usize, progress: &Progress) {
    let mut filled = 0;
    while filled < len {
        let want = (len - filled).min(READ_STEP);
        // SAFETY: `[filled, filled + want)` lies within the buffer's `len` initialised bytes
        // and past the published prefix, so no slice the consumer holds overlaps it.
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
            Ok::<(), ()>(())
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
        let outcome = buffer.read_while(&mut input, 8_000, |_, _| Ok::<(), ()>(()));
        assert!(
            matches!(&outcome, Err(PrefetchError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe),
            "{outcome:?}"
        );

        let stream = vec![b'y'; 300_000];
        let mut unread: &[u8] = &stream;
        let outcome = buffer.read_while(&mut unread, 200_000, |received, _| {
            if received.is_empty() {
                Ok(())
            } else {
                Err("stop")
            }
        });
        assert!(matches!(outcome, Err(PrefetchError::Consume("stop"))));
        assert_eq!(unread.len(), 100_000, "the helper read the body to its end");
    }
}
