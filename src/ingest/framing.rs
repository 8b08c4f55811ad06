//! Splits a byte stream into records without holding more than one record (plus a read
//! block) in memory, and keeps the stream offset of every record so readers can report
//! where a bad record is and where to resume.

use std::io::{self, Read};

use memchr::memmem;

/// What ends a record.
pub(crate) enum Delimiter {
    /// A newline (NDJSON).
    Line,
    /// A newline outside double quotes (CSV, whose quoted fields may span lines).
    CsvRow,
    /// A byte pattern, already encoded as the file stores it (`</Event>` in UTF-8 or
    /// UTF-16); `unit` is the code-unit size, so hits at odd offsets in UTF-16 are ignored.
    Pattern { pattern: Vec<u8>, unit: usize },
    /// The end of a top-level JSON object or array, outside strings (pretty-printed JSON
    /// values one after another, as `evtx_dump -o json` writes them).
    JsonValue,
}

/// Where a JSON scan is: nesting depth and string state.
#[derive(Debug, Clone, Copy, Default)]
struct JsonScan {
    depth: usize,
    in_string: bool,
    escaped: bool,
}

impl JsonScan {
    /// Scans `bytes`; the index just past the byte that closes the top-level value, if any.
    fn find_end(&mut self, bytes: &[u8]) -> Option<usize> {
        for (i, &b) in bytes.iter().enumerate() {
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        *self = JsonScan::default();
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// The delimiter with its search state prepared once.
enum Search {
    Line,
    CsvRow,
    JsonValue,
    Pattern {
        finder: Box<memmem::Finder<'static>>,
        unit: usize,
    },
}

/// One step of the split.
#[derive(Debug)]
pub(crate) enum Frame<'a> {
    /// A complete record, delimiter included, and the stream offset of its first byte.
    Record { offset: u64, bytes: &'a [u8] },
    /// Bytes at the end of the stream that no delimiter follows.
    Tail { offset: u64, bytes: &'a [u8] },
    /// A record longer than the limit; its bytes were skipped up to its delimiter. `lead`
    /// counts the whitespace and NUL bytes it starts with (the newline after the previous
    /// record, UTF-16 padding), so the record itself can be located.
    Oversized { offset: u64, len: u64, lead: u64 },
}

const READ_BLOCK: usize = 64 * 1024;

/// The longest record kept; longer ones are skipped and reported, so memory stays bounded
/// whatever the input holds.
pub(crate) const MAX_RECORD: usize = 16 * 1024 * 1024;

pub(crate) struct Framer<R> {
    source: R,
    delimiter: Search,
    buf: Vec<u8>,
    /// Index in `buf` of the first byte not yet returned.
    start: usize,
    /// Index in `buf` up to which the delimiter search has looked without success.
    scanned: usize,
    /// CSV only: whether `scanned` is inside a quoted field.
    in_quotes: bool,
    /// JSON values only: the scan state at `scanned`.
    json: JsonScan,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    max_record: usize,
}

impl<R: Read> Framer<R> {
    /// A framer over `source`, whose first byte is at stream offset `base`.
    pub(crate) fn new(source: R, delimiter: Delimiter, base: u64) -> Self {
        let delimiter = match delimiter {
            Delimiter::Line => Search::Line,
            Delimiter::CsvRow => Search::CsvRow,
            Delimiter::JsonValue => Search::JsonValue,
            Delimiter::Pattern { pattern, unit } => Search::Pattern {
                finder: Box::new(memmem::Finder::new(&pattern).into_owned()),
                unit,
            },
        };
        Framer {
            source,
            delimiter,
            buf: Vec::new(),
            start: 0,
            scanned: 0,
            in_quotes: false,
            json: JsonScan::default(),
            base,
            eof: false,
            max_record: MAX_RECORD,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_max_record(mut self, max: usize) -> Self {
        self.max_record = max;
        self
    }

    /// Stream offset just after the last frame returned.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// The next frame, or `None` at the end of the stream.
    pub(crate) fn next_frame(&mut self) -> io::Result<Option<Frame<'_>>> {
        // (stream offset, bytes dropped so far, leading blank bytes) of a record being
        // skipped for its size.
        let mut oversized: Option<(u64, u64, u64)> = None;
        loop {
            if let Some(end) = self.find_delimiter() {
                let begin = self.start;
                self.start = end;
                self.scanned = end;
                self.in_quotes = false;
                self.json = JsonScan::default();
                if let Some((offset, dropped, lead)) = oversized {
                    let len = dropped + (end - begin) as u64;
                    return Ok(Some(Frame::Oversized { offset, len, lead }));
                }
                let offset = self.base + begin as u64;
                return Ok(Some(Frame::Record {
                    offset,
                    bytes: &self.buf[begin..end],
                }));
            }
            if self.eof {
                let begin = self.start;
                let end = self.buf.len();
                self.start = end;
                self.scanned = end;
                if let Some((offset, dropped, lead)) = oversized {
                    let len = dropped + (end - begin) as u64;
                    return Ok(Some(Frame::Oversized { offset, len, lead }));
                }
                if begin == end {
                    return Ok(None);
                }
                let offset = self.base + begin as u64;
                return Ok(Some(Frame::Tail {
                    offset,
                    bytes: &self.buf[begin..end],
                }));
            }
            if self.buf.len() - self.start > self.max_record {
                // Drop what is buffered but a few bytes, which may hold the start of the
                // delimiter; the search state (`in_quotes`) carries over.
                let keep = 32.min(self.buf.len() - self.start);
                let drop_to = self.buf.len() - keep;
                let lead = self.buf[self.start..]
                    .iter()
                    .take_while(|b| b.is_ascii_whitespace() || **b == 0)
                    .count() as u64;
                let entry = oversized.get_or_insert((self.base + self.start as u64, 0, lead));
                entry.1 += (drop_to - self.start) as u64;
                self.start = drop_to;
                self.scanned = self.scanned.max(drop_to);
            }
            self.fill()?;
        }
    }

    /// Index in `buf` just past the next delimiter after `start`, if buffered.
    fn find_delimiter(&mut self) -> Option<usize> {
        let found = match &self.delimiter {
            Search::Line => {
                memchr::memchr(b'\n', &self.buf[self.scanned..]).map(|i| self.scanned + i + 1)
            }
            Search::CsvRow => {
                let mut i = self.scanned;
                let mut found = None;
                while let Some(j) = memchr::memchr2(b'"', b'\n', &self.buf[i..]) {
                    let at = i + j;
                    if self.buf[at] == b'"' {
                        self.in_quotes = !self.in_quotes;
                    } else if !self.in_quotes {
                        found = Some(at + 1);
                        break;
                    }
                    i = at + 1;
                }
                if found.is_none() {
                    // Everything up to the end was scanned; quote state is current.
                    self.scanned = self.buf.len();
                }
                return found;
            }
            Search::JsonValue => {
                let found = self.json.find_end(&self.buf[self.scanned..]);
                let found = found.map(|i| self.scanned + i);
                if found.is_none() {
                    self.scanned = self.buf.len();
                }
                return found;
            }
            Search::Pattern { finder, unit } => {
                let len = finder.needle().len();
                let from = self.scanned.saturating_sub(len - 1).max(self.start);
                let mut hit = None;
                for i in finder.find_iter(&self.buf[from..]) {
                    let at = from + i;
                    if (self.base + at as u64).is_multiple_of(*unit as u64) {
                        hit = Some(at + len);
                        break;
                    }
                }
                hit
            }
        };
        if found.is_none() {
            self.scanned = self.buf.len();
        }
        found
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 && (self.start >= self.buf.len() / 2 || self.start > READ_BLOCK) {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.scanned -= self.start;
            self.start = 0;
        }
        let len = self.buf.len();
        self.buf.resize(len + READ_BLOCK, 0);
        let read = loop {
            match self.source.read(&mut self.buf[len..]) {
                Ok(n) => break Ok(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(e),
            }
        };
        match read {
            Ok(n) => {
                self.buf.truncate(len + n);
                self.eof = n == 0;
                Ok(())
            }
            Err(e) => {
                self.buf.truncate(len);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its data a few bytes at a time, to cross block borders.
    struct Trickle<'a>(&'a [u8], usize);
    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.1.min(self.0.len()).min(out.len());
            out[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    fn frames(data: &[u8], delimiter: Delimiter, step: usize, max: usize) -> Vec<String> {
        let mut framer = Framer::new(Trickle(data, step), delimiter, 0).with_max_record(max);
        let mut out = Vec::new();
        while let Some(frame) = framer.next_frame().unwrap() {
            out.push(match frame {
                Frame::Record { offset, bytes } => {
                    format!("R{offset}:{}", String::from_utf8_lossy(bytes))
                }
                Frame::Tail { offset, bytes } => {
                    format!("T{offset}:{}", String::from_utf8_lossy(bytes))
                }
                Frame::Oversized { offset, len, lead } => format!("O{offset}+{lead}:{len}"),
            });
        }
        out
    }

    fn xml() -> Delimiter {
        Delimiter::Pattern {
            pattern: b"</Event>".to_vec(),
            unit: 1,
        }
    }

    #[test]
    fn splits_on_pattern_across_reads_with_offsets() {
        let data = b"<Event>a\nb</Event>\n<Event>c</Event><Event>d";
        for step in [1, 2, 3, 7, 100] {
            assert_eq!(
                frames(data, xml(), step, 1 << 20),
                [
                    "R0:<Event>a\nb</Event>",
                    "R18:\n<Event>c</Event>",
                    "R35:<Event>d"
                ]
                .map(|s| s.replacen("R35", "T35", 1))
                .to_vec(),
                "step {step}"
            );
        }
    }

    #[test]
    fn json_values_end_at_their_closing_brace_outside_strings() {
        let data = b"{\n \"a\": \"}{\\\"\",\n \"b\": [1, {\"c\": 2}]\n}\n{\"d\": 1}\n{\"e\"";
        for step in [1, 3, 100] {
            assert_eq!(
                frames(data, Delimiter::JsonValue, step, 1 << 20),
                [
                    "R0:{\n \"a\": \"}{\\\"\",\n \"b\": [1, {\"c\": 2}]\n}",
                    "R37:\n{\"d\": 1}",
                    "T46:\n{\"e\""
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn csv_rows_keep_quoted_newlines() {
        let data = b"a,b\n\"x\ny\",\"q\"\"\"\nlast";
        assert_eq!(
            frames(data, Delimiter::CsvRow, 2, 1 << 20),
            ["R0:a,b\n", "R4:\"x\ny\",\"q\"\"\"\n", "T16:last"]
        );
    }

    #[test]
    fn oversized_records_are_skipped_and_reported() {
        let mut data = b"<Event>ok</Event>".to_vec();
        data.extend(std::iter::repeat_n(b'x', 500));
        data.extend(b"</Event><Event>next</Event>");
        let got = frames(&data, xml(), 64, 100);
        assert_eq!(
            got,
            [
                "R0:<Event>ok</Event>",
                "O17+0:508",
                "R525:<Event>next</Event>"
            ]
        );
    }

    #[test]
    fn utf16_pattern_only_matches_on_code_unit_boundaries() {
        // A UTF-16LE stream whose bytes, read at an odd offset, would spell the pattern.
        let enc = |s: &str| {
            s.encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect::<Vec<u8>>()
        };
        let pattern = enc("</Event>");
        let mut data = enc("<Event>x");
        data.extend(&pattern);
        data.extend(enc("<Event>y"));
        data.extend(&pattern);
        let mut framer = Framer::new(&data[..], Delimiter::Pattern { pattern, unit: 2 }, 0);
        let mut offsets = Vec::new();
        while let Some(Frame::Record { offset, .. }) = framer.next_frame().unwrap() {
            offsets.push(offset);
        }
        assert_eq!(offsets, [0, 32]);
    }
}
