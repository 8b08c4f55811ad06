//! The `__mv_` multivalue codec, byte for byte as splunk-sdk-python does it.
//!
//! Reader: the SDK applies `\$(?P<item>(?:\$\$|[^$])*)\$(?:;|$)` with `findall` and replaces
//! `$$` by `$` in every item (search_command.py `_decode_list`). [`decode_items`] is a hand-written
//! equivalent of that regex: the pattern never succeeds by backtracking (giving back a `$$`
//! token leaves a `$` where `;` or the end is required), so a single greedy scan per candidate
//! `$` finds exactly the regex's matches, including Python's `$` anchor that also matches just
//! before a final `\n`.
//!
//! Writer: 0 values → plain `""` and `__mv_` `""`; 1 value → plain `v`, `__mv_` `""`; n ≥ 2 →
//! plain = values joined by `\n`, `__mv_` = `$v$` items (with `$` doubled) joined by `;`
//! (internals.py `_write_record`).

/// One decoded multivalue item: a slice of the encoded value when it holds no `$$`, otherwise
/// the caller must unescape it (see [`unescape_into`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodedItem {
    /// Byte range of the item's text inside the encoded value (between the `$` delimiters).
    pub start: usize,
    pub end: usize,
    /// Whether the item contains `$$` escapes.
    pub escaped: bool,
}

/// Calls `each` for every item of an encoded `__mv_` value, in order.
pub fn decode_items(encoded: &[u8], mut each: impl FnMut(EncodedItem)) {
    let len = encoded.len();
    let mut pos = 0;
    while let Some(found) = memchr::memchr(b'$', &encoded[pos..]) {
        let open = pos + found;
        let mut i = open + 1;
        let mut escaped = false;
        loop {
            match encoded.get(i) {
                Some(b'$') if encoded.get(i + 1) == Some(&b'$') => {
                    escaped = true;
                    i += 2;
                }
                Some(b'$') | None => break,
                Some(_) => {
                    i += match memchr::memchr(b'$', &encoded[i..]) {
                        Some(n) => n,
                        None => len - i,
                    };
                }
            }
        }
        // `i` is at a lone `$` or at the end.
        if i < len {
            let after = i + 1;
            let anchored = after == len
                || encoded[after] == b';'
                || (after + 1 == len && encoded[after] == b'\n');
            if anchored {
                each(EncodedItem {
                    start: open + 1,
                    end: i,
                    escaped,
                });
                pos = if after < len && encoded[after] == b';' {
                    after + 1
                } else {
                    after
                };
                continue;
            }
        }
        // No match starting at `open`: the regex search resumes at the next position.
        pos = open + 1;
    }
}

/// Appends `item` with every `$$` replaced by `$`.
pub fn unescape_into(item: &[u8], out: &mut Vec<u8>) {
    let mut rest = item;
    while let Some(i) = memchr::memchr(b'$', rest) {
        out.extend_from_slice(&rest[..=i]);
        rest = &rest[i + 1..];
        if rest.first() == Some(&b'$') {
            rest = &rest[1..];
        }
    }
    out.extend_from_slice(rest);
}

/// Decodes an `__mv_` value into owned items (convenience for tests and tools; the hot path
/// uses [`decode_items`]).
pub fn decode(encoded: &[u8]) -> Vec<Vec<u8>> {
    let mut items = Vec::new();
    decode_items(encoded, |item| {
        let text = &encoded[item.start..item.end];
        let mut value = Vec::with_capacity(text.len());
        if item.escaped {
            unescape_into(text, &mut value);
        } else {
            value.extend_from_slice(text);
        }
        items.push(value);
    });
    items
}

/// Appends the SDK's plain-column text for `values` (joined by `\n`; empty for none).
pub fn encode_plain_into<'a>(values: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    for (n, value) in values.into_iter().enumerate() {
        if n > 0 {
            out.push(b'\n');
        }
        out.extend_from_slice(value);
    }
}

/// Appends `$item$;$item$…` with `$` doubled inside items: the SDK's `__mv_` text for two or
/// more values (callers leave the column empty for fewer).
pub fn encode_mv_into<'a>(values: impl IntoIterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    for (n, value) in values.into_iter().enumerate() {
        if n > 0 {
            out.push(b';');
        }
        out.push(b'$');
        let mut rest = value;
        while let Some(i) = memchr::memchr(b'$', rest) {
            out.extend_from_slice(&rest[..=i]);
            out.push(b'$');
            rest = &rest[i + 1..];
        }
        out.extend_from_slice(rest);
        out.push(b'$');
    }
}

/// Appends the plain and the `__mv_` CSV fields of one column holding `values` (what
/// [`encode_plain_into`] and [`encode_mv_into`] give, each then written by
/// [`write_field`](super::csv::write_field)), the plain field to `plain` and the `__mv_` field
/// to `mv`, in one pass that scans each value once: a value without `,` `"` `\n` `\r` `$`
/// (the common case) is copied as it is.
pub fn write_fields<'a, I>(values: I, plain: &mut Vec<u8>, mv: &mut Vec<u8>)
where
    I: ExactSizeIterator<Item = &'a [u8]> + Clone,
{
    match values.len() {
        0 => {}
        1 => values.for_each(|v| super::csv::write_field(v, plain)),
        _ => {
            // Joined by `\n`, the plain field is always quoted.
            let mut special = false;
            plain.push(b'"');
            for (n, value) in values.clone().enumerate() {
                if n > 0 {
                    plain.push(b'\n');
                }
                if is_special(value) {
                    special = true;
                    double(value, b'"', b'"', plain);
                } else {
                    plain.extend_from_slice(value);
                }
            }
            plain.push(b'"');
            write_mv_field(values, special, mv);
        }
    }
}

/// The `__mv_` field of two or more values; `special` when one of them holds a byte that
/// needs escaping. The field is quoted when a value holds `,` `"` `\n` or `\r`.
fn write_mv_field<'a>(
    values: impl Iterator<Item = &'a [u8]> + Clone,
    special: bool,
    mv: &mut Vec<u8>,
) {
    if !special {
        for (n, value) in values.enumerate() {
            if n > 0 {
                mv.push(b';');
            }
            mv.push(b'$');
            mv.extend_from_slice(value);
            mv.push(b'$');
        }
        return;
    }
    let quoted = values.clone().any(super::csv::needs_quotes);
    if quoted {
        mv.push(b'"');
    }
    for (n, value) in values.enumerate() {
        if n > 0 {
            mv.push(b';');
        }
        mv.push(b'$');
        // `$` doubles as the SDK escapes it, `"` as CSV escapes it (only in a quoted field).
        double(value, b'$', b'"', mv);
        mv.push(b'$');
    }
    if quoted {
        mv.push(b'"');
    }
}

/// Whether `value` holds a byte the plain or `__mv_` encoding must treat specially.
#[inline]
fn is_special(value: &[u8]) -> bool {
    use super::csv::{byte_set, holds_any, SHORT_VALUE};
    static SPECIAL: [bool; 256] = byte_set(b"\"$,\n\r");
    if value.len() < SHORT_VALUE {
        return holds_any(value, &SPECIAL);
    }
    memchr::memchr3(b'"', b'$', b',', value).is_some()
        || memchr::memchr2(b'\n', b'\r', value).is_some()
}

/// Appends `value` with every `a` and every `b` written twice.
fn double(value: &[u8], a: u8, b: u8, out: &mut Vec<u8>) {
    let mut rest = value;
    while let Some(i) = memchr::memchr2(a, b, rest) {
        out.extend_from_slice(&rest[..=i]);
        out.push(rest[i]);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

/// Encodes `values` as the SDK writes them: `(plain, __mv_)`.
pub fn encode(values: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
    let (mut plain, mut mv) = (Vec::new(), Vec::new());
    if values.len() == 1 {
        plain.extend_from_slice(values[0]);
    } else if values.len() > 1 {
        encode_plain_into(values.iter().copied(), &mut plain);
        encode_mv_into(values.iter().copied(), &mut mv);
    }
    (plain, mv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_special_finds_each_special_byte_at_every_position() {
        let special = b"\"$,\n\r";
        crate::protocol::csv::tests::check_each_byte_at_every_position(is_special, special);
    }

    fn items(s: &str) -> Vec<String> {
        decode(s.as_bytes())
            .into_iter()
            .map(|v| String::from_utf8(v).unwrap())
            .collect()
    }

    #[test]
    fn decodes_like_the_sdk_regex() {
        assert_eq!(items("$#mlb$;$#redsox$"), ["#mlb", "#redsox"]);
        assert_eq!(items("$a$;$$;$b$"), ["a", "", "b"]);
        assert_eq!(items("$a$$b$;$c$"), ["a$b", "c"]);
        assert_eq!(items("$$$$$"), ["$"]);
        assert_eq!(items("$x$\n"), ["x"]);
        // Python's findall gives ['b']: "$a$" is followed by 'x', "$x$" by 'b'; "$b$" ends it.
        assert_eq!(items("$a$x$b$"), ["b"]);
        assert_eq!(items("no dollars"), Vec::<String>::new());
        assert_eq!(items("$unterminated"), Vec::<String>::new());
        assert_eq!(items("$a$$"), [""]);
    }

    #[test]
    fn encodes_like_the_sdk_writer() {
        assert_eq!(encode(&[]), (vec![], vec![]));
        assert_eq!(encode(&[b"one"]), (b"one".to_vec(), vec![]));
        assert_eq!(
            encode(&[b"#mlb", b"#redsox"]),
            (b"#mlb\n#redsox".to_vec(), b"$#mlb$;$#redsox$".to_vec())
        );
        assert_eq!(
            encode(&[b"a", b"", b"b$"]),
            (b"a\n\nb$".to_vec(), b"$a$;$$;$b$$$".to_vec())
        );
    }

    #[test]
    fn writes_both_fields_as_the_two_encoders_and_write_field_would() {
        use crate::protocol::csv::write_field;
        let pieces: [&[u8]; 9] = [
            b"",
            b"plain",
            b"a,b",
            b"say \"hi\"",
            b"l1\nl2",
            b"cr\r",
            b"$5",
            b"$$\"$,",
            b";$x$;",
        ];
        let mut lists: Vec<Vec<&[u8]>> = vec![Vec::new()];
        for a in pieces {
            lists.push(vec![a]);
            for b in pieces {
                lists.push(vec![a, b]);
                lists.push(vec![b"story", a, b]);
            }
        }
        for values in lists {
            let (mut plain, mut mv) = (Vec::new(), Vec::new());
            let (p, m) = encode(&values);
            write_field(&p, &mut plain);
            write_field(&m, &mut mv);
            let (mut got_plain, mut got_mv) = (b"x".to_vec(), b"y".to_vec());
            write_fields(values.iter().copied(), &mut got_plain, &mut got_mv);
            assert_eq!(got_plain[1..], plain[..], "{values:?}");
            assert_eq!(got_mv[1..], mv[..], "{values:?}");
        }
    }
}
