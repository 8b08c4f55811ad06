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

/// Scans the record starting at `start` and stores the raw span of each field in `fields`
/// (cleared first). A quoted field's span includes its quotes. Text after a closing quote and
/// before the next delimiter belongs to the same field, as in the `csv` crate.
pub fn scan_record(
    body: &[u8],
    start: usize,
    fields: &mut Vec<Range<usize>>,
) -> Result<RecordEnd, CsvError> {
    fields.clear();
    let len = body.len();
    let mut pos = start;
    loop {
        let field_start = pos;
        if body.get(pos) == Some(&b'"') {
            pos = closing_quote_end(body, pos)?;
        }
        pos = match memchr::memchr2(b',', b'\n', &body[pos..]) {
            Some(n) => pos + n,
            None => len,
        };
        match body.get(pos) {
            Some(b',') => {
                fields.push(field_start..pos);
                pos += 1;
            }
            Some(_) => {
                // `\n`: a preceding `\r` belongs to the terminator.
                let content_end = if pos > field_start && body[pos - 1] == b'\r' {
                    pos - 1
                } else {
                    pos
                };
                fields.push(field_start..content_end);
                return Ok(RecordEnd {
                    content_end,
                    next: pos + 1,
                });
            }
            None => {
                fields.push(field_start..len);
                return Ok(RecordEnd {
                    content_end: len,
                    next: len,
                });
            }
        }
    }
}

/// Given `open` at a `"`, returns the position just after the matching closing quote.
fn closing_quote_end(body: &[u8], open: usize) -> Result<usize, CsvError> {
    let mut i = open + 1;
    loop {
        match memchr::memchr(b'"', &body[i..]) {
            None => return Err(CsvError::UnterminatedQuote { offset: open }),
            Some(n) => {
                let quote = i + n;
                if body.get(quote + 1) == Some(&b'"') {
                    i = quote + 2;
                } else {
                    return Ok(quote + 1);
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

/// Decodes the raw field `body[span]`: strips the quotes and unescapes `""`, borrowing the body
/// when nothing needs unescaping, else appending the value to `scratch`.
pub fn decode_field(body: &[u8], span: Range<usize>, scratch: &mut Vec<u8>) -> Decoded {
    let raw = &body[span.clone()];
    if raw.first() != Some(&b'"') {
        return Decoded::Borrowed(span.start, span.end);
    }
    // A well-formed quoted field: `"` inner `"` with only `""` pairs inside.
    if raw.len() >= 2 && raw[raw.len() - 1] == b'"' {
        let inner = &raw[1..raw.len() - 1];
        if memchr::memchr(b'"', inner).is_none() {
            return Decoded::Borrowed(span.start + 1, span.end - 1);
        }
    }
    let start = scratch.len();
    let mut i = 1;
    let mut quoted = true;
    while i < raw.len() {
        let b = raw[i];
        if quoted && b == b'"' {
            if raw.get(i + 1) == Some(&b'"') {
                scratch.push(b'"');
                i += 2;
                continue;
            }
            quoted = false;
            i += 1;
            continue;
        }
        if !quoted && b == b'"' {
            quoted = true;
            i += 1;
            continue;
        }
        scratch.push(b);
        i += 1;
    }
    Decoded::Scratch(start, scratch.len())
}

/// Decodes a field into an owned vector (for headers and tests; not on the per-row path).
pub fn decode_owned(body: &[u8], span: Range<usize>) -> Vec<u8> {
    let mut scratch = Vec::new();
    match decode_field(body, span, &mut scratch) {
        Decoded::Borrowed(s, e) => body[s..e].to_vec(),
        Decoded::Scratch(s, e) => scratch[s..e].to_vec(),
    }
}

/// Whether a value must be quoted in the output (Python csv `QUOTE_MINIMAL`).
pub fn needs_quotes(value: &[u8]) -> bool {
    memchr::memchr3(b',', b'"', b'\n', value).is_some() || memchr::memchr(b'\r', value).is_some()
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
mod tests {
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
    fn unterminated_quote_is_an_error_with_its_offset() {
        let mut spans = Vec::new();
        assert_eq!(
            scan_record(b"a,\"open", 0, &mut spans),
            Err(CsvError::UnterminatedQuote { offset: 2 })
        );
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
