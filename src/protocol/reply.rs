//! Where a reply body goes while it is built.
//!
//! Most rows leave unchanged: their bytes are a range of the request body followed by the
//! empty appended columns. [`ReplyPieces`] records such a row as that range instead of copying
//! it, and the session writes the reply with `writev` straight from the request buffer
//! (which stays alive until the reply is written: the protocol is lock-step). A `Vec<u8>` is
//! also a [`ReplyOut`], receiving a copy of every byte, for tests and callers that want the
//! bytes.

use std::io::{self, IoSlice, Write};
use std::ops::Range;

/// A reply body being built.
pub trait ReplyOut {
    /// Starts an empty reply.
    fn reset(&mut self);
    /// Bytes of the reply that are not taken from the request body, appended in order.
    fn own(&mut self) -> &mut Vec<u8>;
    /// Appends `body[range]` (the request body) to the reply.
    fn from_body(&mut self, body: &[u8], range: Range<usize>);
}

impl ReplyOut for Vec<u8> {
    fn reset(&mut self) {
        self.clear();
    }

    fn own(&mut self) -> &mut Vec<u8> {
        self
    }

    fn from_body(&mut self, body: &[u8], range: Range<usize>) {
        self.extend_from_slice(&body[range]);
    }
}

/// A reply body as ranges of the request body interleaved with bytes of its own.
#[derive(Debug, Default)]
pub struct ReplyPieces {
    own: Vec<u8>,
    pieces: Vec<Piece>,
    /// Start of the own bytes not yet recorded as a piece.
    own_mark: usize,
    body_bytes: usize,
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    from_body: bool,
    start: usize,
    end: usize,
}

/// `writev` takes at most this many slices per call (Linux's `IOV_MAX`).
const SLICES_PER_WRITE: usize = 1024;

impl ReplyOut for ReplyPieces {
    fn reset(&mut self) {
        self.own.clear();
        self.pieces.clear();
        self.own_mark = 0;
        self.body_bytes = 0;
    }

    fn own(&mut self) -> &mut Vec<u8> {
        &mut self.own
    }

    fn from_body(&mut self, _body: &[u8], range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        self.close_own();
        self.body_bytes += range.len();
        match self.pieces.last_mut() {
            Some(last) if last.from_body && last.end == range.start => last.end = range.end,
            _ => self.pieces.push(Piece {
                from_body: true,
                start: range.start,
                end: range.end,
            }),
        }
    }
}

impl ReplyPieces {
    pub fn new() -> ReplyPieces {
        ReplyPieces::default()
    }

    /// The reply body's length in bytes.
    pub fn len(&self) -> usize {
        self.own.len() + self.body_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records the own bytes written since the last piece as a piece.
    fn close_own(&mut self) {
        if self.own.len() > self.own_mark {
            self.pieces.push(Piece {
                from_body: false,
                start: self.own_mark,
                end: self.own.len(),
            });
            self.own_mark = self.own.len();
        }
    }

    /// The reply's bytes in order; `body` must be the request body the pieces refer to.
    pub fn slices<'a>(&'a self, body: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let tail = (self.own.len() > self.own_mark).then(|| &self.own[self.own_mark..]);
        self.pieces
            .iter()
            .map(move |p| match p.from_body {
                true => &body[p.start..p.end],
                false => &self.own[p.start..p.end],
            })
            .chain(tail)
    }

    /// The reply's bytes as one vector.
    pub fn to_vec(&self, body: &[u8]) -> Vec<u8> {
        self.slices(body).collect::<Vec<_>>().concat()
    }

    /// Writes the reply's bytes to `output` with vectored writes.
    pub fn write_to<W: Write + ?Sized>(&self, body: &[u8], output: &mut W) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = Vec::with_capacity(SLICES_PER_WRITE);
        let mut pieces = self.slices(body).peekable();
        while pieces.peek().is_some() {
            slices.clear();
            slices.extend(pieces.by_ref().take(SLICES_PER_WRITE).map(IoSlice::new));
            write_all_vectored(output, &mut slices)?;
        }
        Ok(())
    }
}

/// `Write::write_all_vectored` (unstable): writes every slice, resuming after short writes.
fn write_all_vectored<W: Write + ?Sized>(
    output: &mut W,
    mut slices: &mut [IoSlice<'_>],
) -> io::Result<()> {
    IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match output.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer that takes at most `step` bytes per call, like a full pipe.
    struct Trickle {
        written: Vec<u8>,
        step: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.step);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn pieces_write_the_same_bytes_as_a_copy() {
        let body: Vec<u8> = (0..5_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let mut copy = Vec::new();
        let mut pieces = ReplyPieces::new();
        for out in [&mut copy as &mut dyn ReplyOut, &mut pieces] {
            out.reset();
            out.own().extend_from_slice(b"header\n");
            for row in 0..2_500usize {
                out.from_body(&body, row * 8..row * 8 + 5);
                if row % 3 == 0 {
                    // Adjacent body ranges merge into one piece.
                    out.from_body(&body, row * 8 + 5..row * 8 + 8);
                }
                out.own().extend_from_slice(b",,\n");
            }
            out.from_body(&body, 0..0);
            out.own().push(b'!');
        }
        assert_eq!(pieces.len(), copy.len());
        assert_eq!(pieces.to_vec(&body), copy);
        for step in [1, 7, 4096, usize::MAX] {
            let mut trickle = Trickle {
                written: Vec::new(),
                step,
            };
            pieces.write_to(&body, &mut trickle).expect("write");
            assert_eq!(trickle.written, copy, "step {step}");
        }
        pieces.reset();
        assert!(pieces.is_empty());
        assert_eq!(pieces.to_vec(&body), b"");
    }
}
