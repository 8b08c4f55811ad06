//! Byte-level framing of SCP v2 chunks: `chunked 1.0,<meta_len>,<body_len>\n` + meta + body.
//!
//! Lengths are byte counts. Reads are exact (short reads are normal on a pipe) and bodies are read
//! incrementally: a header that announces a huge length does not allocate it up front, so a
//! corrupt or hostile length fails at EOF instead of aborting the process on allocation.

use std::io::{self, BufRead, Read, Write};

/// Longest header line accepted, in bytes. Real headers are under 40 bytes; the cap keeps a
/// stream of garbage without a newline from being buffered whole.
const MAX_HEADER_LINE: usize = 256;

/// Largest piece by which a body buffer grows ahead of the bytes actually received.
const READ_STEP: usize = 8 << 20;

/// Why a chunk could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("I/O error reading the chunk stream: {0}")]
    Io(#[from] io::Error),
    #[error("malformed chunk header {found:?} (expected `chunked 1.0,<meta_len>,<body_len>`)")]
    BadHeader { found: String },
    #[error("chunk header line longer than {MAX_HEADER_LINE} bytes without a newline")]
    HeaderTooLong,
    #[error("stream ended inside a chunk: {what} announced {expected} bytes, got {got}")]
    Truncated {
        what: &'static str,
        expected: u64,
        got: u64,
    },
    #[error("stream ended inside a chunk header ({got} bytes of header, no newline)")]
    TruncatedHeader { got: usize },
}

/// Lengths announced by a chunk header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    pub meta_len: u64,
    pub body_len: u64,
}

/// Reads one chunk into caller-owned buffers (reused across chunks, so steady-state reading
/// allocates nothing). Returns `Ok(None)` on EOF at a chunk boundary, which ends the stream.
///
/// Blank lines (`\n`, `\r\n`, spaces) before a header are skipped: recordings carry a stray
/// newline after the getinfo chunk (`pypygeneratetext.input`), and the SDK's reader tolerates
/// whitespace inside the header (`chunked\s+1.0\s*,\s*(\d+)\s*,\s*(\d+)\s*\n`).
pub fn read_chunk<R: BufRead>(
    input: &mut R,
    meta: &mut Vec<u8>,
    body: &mut Vec<u8>,
) -> Result<Option<ChunkHeader>, FrameError> {
    let Some(header) = read_header(input)? else {
        return Ok(None);
    };
    read_exact_into(input, header.meta_len, meta, "metadata")?;
    read_exact_into(input, header.body_len, body, "body")?;
    Ok(Some(header))
}

/// Reads the next header line, skipping blank lines. `Ok(None)` means EOF before any
/// non-blank byte.
pub fn read_header<R: BufRead>(input: &mut R) -> Result<Option<ChunkHeader>, FrameError> {
    let mut line: Vec<u8> = Vec::with_capacity(48);
    loop {
        line.clear();
        let got_newline = read_line_bounded(input, &mut line)?;
        let is_blank = line.iter().all(|b| b.is_ascii_whitespace());
        if !got_newline {
            if is_blank {
                return Ok(None);
            }
            return Err(FrameError::TruncatedHeader { got: line.len() });
        }
        if is_blank {
            continue;
        }
        return parse_header(&line).map(Some);
    }
}

/// Reads up to and including `\n` into `line`; returns whether a newline ended it.
fn read_line_bounded<R: BufRead>(input: &mut R, line: &mut Vec<u8>) -> Result<bool, FrameError> {
    loop {
        let available = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if available.is_empty() {
            return Ok(false);
        }
        let (take, done) = match memchr::memchr(b'\n', available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if line.len() + take > MAX_HEADER_LINE {
            return Err(FrameError::HeaderTooLong);
        }
        line.extend_from_slice(&available[..take]);
        input.consume(take);
        if done {
            return Ok(true);
        }
    }
}

/// Parses `chunked 1.0,<m>,<b>` with optional whitespace around the parts, as the SDK's
/// regex does, and tolerates a trailing `\r`.
pub fn parse_header(line: &[u8]) -> Result<ChunkHeader, FrameError> {
    let bad = || FrameError::BadHeader {
        found: String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(line)).into_owned(),
    };
    let text = std::str::from_utf8(line).map_err(|_| bad())?;
    let text = text.trim();
    let rest = text.strip_prefix("chunked").ok_or_else(bad)?;
    if !rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        return Err(bad());
    }
    let rest = rest.trim_start().strip_prefix("1.0").ok_or_else(bad)?;
    let mut parts = rest.split(',');
    let (Some(version_tail), Some(meta), Some(body), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if !version_tail.trim().is_empty() {
        return Err(bad());
    }
    let number = |s: &str| -> Result<u64, FrameError> {
        let s = s.trim();
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse::<u64>().map_err(|_| bad())
    };
    Ok(ChunkHeader {
        meta_len: number(meta)?,
        body_len: number(body)?,
    })
}

/// Reads exactly `len` bytes into `buf` (cleared first), reserving at most [`READ_STEP`] bytes
/// ahead of the data received. `read_to_end` fills the reserved capacity without zeroing it.
pub fn read_exact_into<R: Read>(
    input: &mut R,
    len: u64,
    buf: &mut Vec<u8>,
    what: &'static str,
) -> Result<(), FrameError> {
    buf.clear();
    let mut remaining = len;
    while remaining > 0 {
        let step = remaining.min(READ_STEP as u64);
        buf.reserve(step as usize);
        let got = input.by_ref().take(step).read_to_end(buf)? as u64;
        if got < step {
            return Err(FrameError::Truncated {
                what,
                expected: len,
                got: buf.len() as u64,
            });
        }
        remaining -= got;
    }
    Ok(())
}

/// Writes one chunk exactly as the SDK does (`chunked 1.0,{m},{b}\n` + meta + body) and flushes,
/// so splunkd sees every reply as soon as it is complete.
pub fn write_chunk<W: Write>(output: &mut W, meta: &[u8], body: &[u8]) -> io::Result<()> {
    write_chunk_head(output, meta, body.len())?;
    output.write_all(body)?;
    output.flush()
}

/// Writes a chunk's header line and metadata; its `body_len` bytes of body are to follow.
pub fn write_chunk_head<W: Write + ?Sized>(
    output: &mut W,
    meta: &[u8],
    body_len: usize,
) -> io::Result<()> {
    writeln!(output, "chunked 1.0,{},{}", meta.len(), body_len)?;
    output.write_all(meta)
}

/// Serialises one chunk into a byte vector (used by test drivers and benchmarks to build
/// request streams).
pub fn encode_chunk(meta: &[u8], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(meta.len() + body.len() + 32);
    out.extend_from_slice(format!("chunked 1.0,{},{}\n", meta.len(), body.len()).as_bytes());
    out.extend_from_slice(meta);
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_tolerates_spaces_and_cr() {
        for line in [
            &b"chunked 1.0,12,34\n"[..],
            b"chunked  1.0 , 12 , 34 \r\n",
            b"chunked\t1.0,12,34\r\n",
        ] {
            assert_eq!(
                parse_header(line).unwrap(),
                ChunkHeader {
                    meta_len: 12,
                    body_len: 34
                }
            );
        }
    }

    #[test]
    fn header_rejects_other_protocols_and_garbage() {
        for line in [
            &b"chunked 2.0,1,2\n"[..],
            b"chunked1.0,1,2\n",
            b"chunked 1.0,1\n",
            b"chunked 1.0,1,2,3\n",
            b"chunked 1.0,-1,2\n",
            b"chunked 1.0,1,x\n",
            b"chunked 1.0,99999999999999999999999,0\n",
            b"\xff\xfe\n",
        ] {
            assert!(parse_header(line).is_err(), "{line:?}");
        }
    }

    #[test]
    fn huge_announced_length_fails_at_eof_without_allocating_it() {
        let stream = b"chunked 1.0,2,1000000000000\n{}abc";
        let (mut meta, mut body) = (Vec::new(), Vec::new());
        let err = read_chunk(&mut &stream[..], &mut meta, &mut body).unwrap_err();
        assert!(matches!(
            err,
            FrameError::Truncated {
                what: "body",
                expected: 1_000_000_000_000,
                got: 3
            }
        ));
        assert!(body.capacity() <= READ_STEP);
    }

    #[test]
    fn eof_at_boundary_and_after_blank_line_is_end_of_stream() {
        let (mut meta, mut body) = (Vec::new(), Vec::new());
        assert!(read_chunk(&mut &b""[..], &mut meta, &mut body)
            .unwrap()
            .is_none());
        assert!(read_chunk(&mut &b"\n\r\n"[..], &mut meta, &mut body)
            .unwrap()
            .is_none());
        assert!(matches!(
            read_chunk(&mut &b"chunked 1.0"[..], &mut meta, &mut body),
            Err(FrameError::TruncatedHeader { .. })
        ));
    }
}
