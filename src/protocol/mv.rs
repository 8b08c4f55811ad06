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
}
