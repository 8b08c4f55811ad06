//! The CSV dialect of SCP v2 bodies, read without copying.
//!
//! Splunk writes RFC-4180 CSV (`,` delimiter, `"` quote, `""` escape, LF terminator) and quotes
//! liberally. A reply can copy an unchanged row's bytes verbatim, so the reader does not decode
//! rows: [`scan_record`] only finds the byte span of every field (quotes included), and
//! [`decode_field`] decodes the few fields a processor reads, borrowing the body whenever the
//! field holds no `""` escape. Bytes are never interpreted as text, so invalid UTF-8 passes
//! through untouched.

use std::ops::Range;

/// A malformed CSV body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("unterminated quoted field starting at body byte {offset}")]
    UnterminatedQuote { offset: usize },
}

/// Where a scanned record ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordEnd {
    /// End of the record's content (its terminator, `\n` or `\r\n`, excluded).
    pub content_end: usize,
    /// Start of the next record.
    pub next: usize,
}

/// How a field is written, which decides how it is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Unquoted: the raw bytes are the value.
    Plain,
    /// `"…"` with no `""` inside: the value is the bytes between the quotes.
    Quoted,
    /// Quoted with `""` escapes, or with text after the closing quote: needs unescaping.
    Escaped,
}

/// The raw span of one field inside the body (quotes included) and how it is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpan {
    pub start: usize,
    pub end: usize,
    pub kind: FieldKind,
    /// For an escaped field: the end of its last `""` (every quote before it is part of a
    /// `""` pair) and the position of its closing quote, so decoding never searches the text
    /// between them again.
    pub escapes_end: usize,
    pub close: usize,
}

impl FieldSpan {
    pub fn range(&self) -> Range<usize> {
        self.start..self.end
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// Scans the record starting at `start` and stores the raw span of each field in `fields`
/// (cleared first). A quoted field's span includes its quotes. Text after a closing quote and
/// before the next delimiter belongs to the same field, as in the `csv` crate.
pub fn scan_record(
    body: &[u8],
    start: usize,
    fields: &mut Vec<FieldSpan>,
) -> Result<RecordEnd, CsvError> {
    fields.clear();
    let len = body.len();
    let mut pos = start;
    loop {
        let field_start = pos;
        let mut kind = FieldKind::Plain;
        let (mut escapes_end, mut close) = (field_start, field_start);
        if body.get(pos) == Some(&b'"') {
            let (after, last_escape_end) = closing_quote_end(body, pos)?;
            pos = after;
            close = after - 1;
            escapes_end = last_escape_end.unwrap_or(field_start + 1);
            kind = if last_escape_end.is_some() {
                FieldKind::Escaped
            } else {
                FieldKind::Quoted
            };
            // Almost always the delimiter follows the closing quote directly.
            match body.get(pos) {
                Some(b',' | b'\n') | None => {}
                Some(b'\r') if body.get(pos + 1) == Some(&b'\n') => {}
                Some(_) => kind = FieldKind::Escaped,
            }
        }
        pos = match body.get(pos) {
            Some(b',' | b'\n') => pos,
            None => len,
            Some(_) => match memchr::memchr2(b',', b'\n', &body[pos..]) {
                Some(n) => pos + n,
                None => len,
            },
        };
        let span = |end: usize| FieldSpan {
            start: field_start,
            end,
            kind,
            escapes_end,
            close,
        };
        match body.get(pos) {
            Some(b',') => {
                fields.push(span(pos));
                pos += 1;
            }
            Some(_) => {
                // `\n`: a preceding `\r` belongs to the terminator.
                let content_end = if pos > field_start && body[pos - 1] == b'\r' {
                    pos - 1
                } else {
                    pos
                };
                fields.push(span(content_end));
                return Ok(RecordEnd {
                    content_end,
                    next: pos + 1,
                });
            }
            None => {
                fields.push(span(len));
                return Ok(RecordEnd {
                    content_end: len,
                    next: len,
                });
            }
        }
    }
}

/// Given `open` at a `"`, returns the position just after the matching closing quote and,
/// if the field holds `""` escapes, the position just after the last one.
fn closing_quote_end(body: &[u8], open: usize) -> Result<(usize, Option<usize>), CsvError> {
    let mut i = open + 1;
    let mut last_escape_end = None;
    loop {
        match memchr::memchr(b'"', &body[i..]) {
            None => return Err(CsvError::UnterminatedQuote { offset: open }),
            Some(n) => {
                let quote = i + n;
                if body.get(quote + 1) == Some(&b'"') {
                    i = quote + 2;
                    last_escape_end = Some(i);
                } else {
                    return Ok((quote + 1, last_escape_end));
                }
            }
        }
    }
}

/// A decoded field: either borrowed from the body or written to the caller's scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// The value is `body[range]`.
    Borrowed(usize, usize),
    /// The value is `scratch[range]`.
    Scratch(usize, usize),
}

/// Decodes a scanned field: strips the quotes and unescapes `""`, borrowing the body when
/// nothing needs unescaping, else appending the value to `scratch`.
#[inline]
pub fn decode_field(body: &[u8], span: FieldSpan, scratch: &mut Vec<u8>) -> Decoded {
    match span.kind {
        FieldKind::Plain => return Decoded::Borrowed(span.start, span.end),
        FieldKind::Quoted => return Decoded::Borrowed(span.start + 1, span.end - 1),
        FieldKind::Escaped => {}
    }
    // Between the opening quote and `escapes_end` every quote is half of a `""` pair; from
    // there to the closing quote there is none; text after the closing quote is literal,
    // quotes included (the `csv` crate's reading).
    let start = scratch.len();
    let escapes_end = span.escapes_end.clamp(span.start + 1, span.end);
    let close = span.close.clamp(escapes_end, span.end);
    let mut rest = &body[span.start + 1..escapes_end];
    while let Some(i) = memchr::memchr(b'"', rest) {
        scratch.extend_from_slice(&rest[..=i]);
        rest = rest.get(i + 2..).unwrap_or_default();
    }
    scratch.extend_from_slice(rest);
    scratch.extend_from_slice(&body[escapes_end..close]);
    if close < span.end {
        scratch.extend_from_slice(&body[close + 1..span.end]);
    }
    Decoded::Scratch(start, scratch.len())
}

/// Decodes a field into an owned vector (for headers and tests; not on the per-row path).
pub fn decode_owned(body: &[u8], span: FieldSpan) -> Vec<u8> {
    let mut scratch = Vec::new();
    match decode_field(body, span, &mut scratch) {
        Decoded::Borrowed(s, e) => body[s..e].to_vec(),
        Decoded::Scratch(s, e) => scratch[s..e].to_vec(),
    }
}

/// Whether a value must be quoted in the output (Python csv `QUOTE_MINIMAL`).
pub fn needs_quotes(value: &[u8]) -> bool {
    static QUOTED: [bool; 256] = byte_set(b",\"\n\r");
    if value.len() < SHORT_VALUE {
        return holds_any(value, &QUOTED);
    }
    memchr::memchr3(b',', b'"', b'\n', value).is_some() || memchr::memchr(b'\r', value).is_some()
}

/// Values shorter than this are searched for a few bytes one byte at a time (a table lookup
/// each): `memchr` searches them byte by byte too, once per call, and two calls are needed.
pub(crate) const SHORT_VALUE: usize = 16;

/// The table of [`holds_any`] for `bytes`.
pub(crate) const fn byte_set(bytes: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < bytes.len() {
        set[bytes[i] as usize] = true;
        i += 1;
    }
    set
}

/// Whether `value` holds a byte of `set` (made by [`byte_set`]).
#[inline]
pub(crate) fn holds_any(value: &[u8], set: &[bool; 256]) -> bool {
    value.iter().any(|&b| set[usize::from(b)])
}

/// Appends `value` as one CSV field, quoted only when needed.
pub fn write_field(value: &[u8], out: &mut Vec<u8>) {
    if !needs_quotes(value) {
        out.extend_from_slice(value);
        return;
    }
    out.push(b'"');
    let mut rest = value;
    while let Some(i) = memchr::memchr(b'"', rest) {
        out.extend_from_slice(&rest[..=i]);
        out.push(b'"');
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(b'"');
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn fields(body: &[u8]) -> (Vec<Vec<u8>>, RecordEnd) {
        let mut spans = Vec::new();
        let end = scan_record(body, 0, &mut spans).unwrap();
        let values = spans.into_iter().map(|s| decode_owned(body, s)).collect();
        (values, end)
    }

    #[test]
    fn scans_quoted_fields_with_embedded_newlines_commas_and_quotes() {
        let body = b"\"a,b\",\"say \"\"hi\"\"\",\"line1\nline2\",plain\nnext";
        let (values, end) = fields(body);
        assert_eq!(
            values,
            [
                b"a,b".to_vec(),
                b"say \"hi\"".to_vec(),
                b"line1\nline2".to_vec(),
                b"plain".to_vec()
            ]
        );
        assert_eq!(&body[end.next..], b"next");
    }

    #[test]
    fn crlf_terminator_is_not_part_of_the_last_field() {
        let (values, end) = fields(b"a,\"b\"\r\nc");
        assert_eq!(values, [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(end.content_end, 5);
        assert_eq!(end.next, 7);
    }

    #[test]
    fn empty_fields_and_last_record_without_newline() {
        let (values, end) = fields(b",,x");
        assert_eq!(values, [b"".to_vec(), b"".to_vec(), b"x".to_vec()]);
        assert_eq!(end.next, 3);
    }

    #[test]
    fn decoding_follows_the_csv_crate_after_a_closing_quote() {
        for raw in [
            &b"\"ab\"c"[..],
            b"\"a\"\"b\"",
            b"\"a\"x\"y\"\"z\"",
            b"\"\"",
            b"\"\"\"\"",
        ] {
            let mut spans = Vec::new();
            scan_record(raw, 0, &mut spans).unwrap();
            let ours = decode_owned(raw, spans[0]);
            let mut reader = ::csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(raw);
            let theirs = reader.byte_records().next().unwrap().unwrap();
            assert_eq!(ours, theirs.get(0).unwrap(), "{raw:?}");
        }
    }

    #[test]
    fn unterminated_quote_is_an_error_with_its_offset() {
        let mut spans = Vec::new();
        assert_eq!(
            scan_record(b"a,\"open", 0, &mut spans),
            Err(CsvError::UnterminatedQuote { offset: 2 })
        );
    }

    /// Each of `special`'s bytes, and bytes that are not, at every position of values up to 40
    /// bytes (short and long ones take different searches): `finds` says whether a value holds
    /// one of `special`.
    pub(crate) fn check_each_byte_at_every_position(finds: fn(&[u8]) -> bool, special: &[u8]) {
        for len in 1..40 {
            for at in 0..len {
                for byte in [b',', b'"', b'\n', b'\r', b'$', b';', 0xff] {
                    let mut value = vec![b'a'; len];
                    value[at] = byte;
                    assert_eq!(finds(&value), special.contains(&byte), "{value:?}");
                }
            }
        }
        assert!(!finds(b""));
    }

    #[test]
    fn needs_quotes_finds_each_special_byte_at_every_position() {
        check_each_byte_at_every_position(needs_quotes, b",\"\n\r");
    }

    #[test]
    fn writer_quotes_minimally() {
        let mut out = Vec::new();
        for v in [&b"plain"[..], b"a,b", b"q\"", b"l\nf", b"", b"\xff"] {
            write_field(v, &mut out);
            out.push(b'|');
        }
        assert_eq!(out, b"plain|\"a,b\"|\"q\"\"\"|\"l\nf\"||\xff|");
    }
}
