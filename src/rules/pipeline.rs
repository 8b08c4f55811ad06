//! Splits an (already macro-expanded) SPL search into pipeline stages.
//!
//! Splitting respects double-quoted strings (a `|` inside `"..."` is data) and
//! square-bracket subsearches (a `|` inside `[...]` belongs to the subsearch).

/// One stage of a pipeline: the command name (lower-cased) and its argument text.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage<'a> {
    /// Command name, lower-cased (`tstats`, `search`, `where`, ...).
    pub command: String,
    /// Everything after the command name, trimmed.
    pub args: &'a str,
    /// Byte offset of `args` within the whole search string.
    pub args_offset: usize,
    /// Byte offset of the command name within the whole search string.
    pub offset: usize,
}

/// Splits `search` at top-level pipes. A leading pipe (generating command) is skipped.
pub fn split_stages(search: &str) -> Vec<Stage<'_>> {
    let bytes = search.as_bytes();
    let mut stages = Vec::new();
    let mut start = 0usize;
    let mut depth = 0usize;
    let mut i = 0usize;
    // Only quotes, brackets and pipes matter: the bytes between are passed over with
    // `memchr` (a macro-expanded search is several kilobytes, and every rule's is split).
    let mut pipe = memchr::memchr(b'|', bytes);
    while let Some(found) = next_structural(bytes, i, &mut pipe) {
        i = found;
        match bytes[i] {
            b'"' => match closing_quote(bytes, i + 1) {
                Some(end) => i = end,
                None => break,
            },
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            _ if depth == 0 => {
                push_stage(search, start, i, &mut stages);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    push_stage(search, start, bytes.len(), &mut stages);
    stages
}

/// The offset of the first `"`, `[`, `]` or `|` from `from` on. `pipe` is the first `|` at
/// or after some earlier offset (`None`: there is none), kept so that each byte is searched
/// for a pipe once.
fn next_structural(bytes: &[u8], from: usize, pipe: &mut Option<usize>) -> Option<usize> {
    if pipe.is_some_and(|at| at < from) {
        *pipe = memchr::memchr(b'|', &bytes[from..]).map(|at| from + at);
    }
    let end = pipe.unwrap_or(bytes.len());
    let other = memchr::memchr3(b'"', b'[', b']', &bytes[from..end]);
    other.map(|at| from + at).or(*pipe)
}

/// The offset of the `"` closing a quoted string whose text starts at `from` (a `\` escapes
/// the byte after it); `None` when it runs to the end.
fn closing_quote(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        i += memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
        if bytes[i] == b'"' {
            return Some(i);
        }
        i += 2;
    }
}

fn push_stage<'a>(search: &'a str, start: usize, end: usize, stages: &mut Vec<Stage<'a>>) {
    let text = &search[start..end];
    let trimmed_start = text.len() - text.trim_start().len();
    let body = text.trim();
    if body.is_empty() {
        return;
    }
    let offset = start + trimmed_start;
    let name_len = body
        .find(|c: char| c.is_whitespace() || c == '[' || c == '"')
        .unwrap_or(body.len());
    let command = body[..name_len].to_ascii_lowercase();
    let rest = &body[name_len..];
    let rest_trim = rest.trim_start();
    let args_offset = offset + name_len + (rest.len() - rest_trim.len());
    stages.push(Stage {
        command,
        args: rest_trim,
        args_offset,
        offset,
    });
}

/// Unescapes the body of an SPL double-quoted string: `\\` → `\` and `\"` → `"`;
/// any other backslash sequence is kept as written (so regex escapes like `\.` survive).
pub fn unescape_quoted(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let bytes = body.as_bytes();
    let mut from = 0;
    // The text between backslashes is copied as is.
    while let Some(found) = memchr::memchr(b'\\', &bytes[from..]) {
        let at = from + found;
        match bytes.get(at + 1) {
            Some(&escaped @ (b'\\' | b'"')) => {
                out.push_str(&body[from..at]);
                out.push(escaped as char);
                from = at + 2;
            }
            // Kept as written; the byte after it is read as any other.
            _ => {
                out.push_str(&body[from..=at]);
                from = at + 1;
            }
        }
    }
    out.push_str(&body[from..]);
    out
}

/// Finds the end (exclusive, after the closing quote) of a quoted string starting at `start`
/// (which must index a `"`). Returns `None` if unterminated.
pub fn quoted_end(text: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    // Only backslashes and quotes matter; the bytes between are passed over with `memchr`.
    while let Some(found) = memchr::memchr2(b'\\', b'"', text.get(i..)?) {
        i += found;
        if text[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_strings::random_picks;

    #[test]
    fn splits_respecting_quotes_and_brackets() {
        let s =
            r#"| tstats count where a="x|y" by b | search [| inputlookup t | fields a] | where c"#;
        let st = split_stages(s);
        assert_eq!(st.len(), 3);
        assert_eq!(st[0].command, "tstats");
        assert!(st[0].args.contains("x|y"));
        assert_eq!(st[1].command, "search");
        assert_eq!(st[2].command, "where");
        assert_eq!(&s[st[2].args_offset..st[2].args_offset + 1], "c");
    }

    /// The byte-at-a-time split this one replaced.
    fn split_bytewise(search: &str) -> Vec<(String, &str, usize, usize)> {
        let bytes = search.as_bytes();
        let (mut stages, mut start, mut depth, mut in_quotes, mut i) =
            (Vec::new(), 0, 0usize, false, 0);
        while i < bytes.len() {
            match (in_quotes, bytes[i]) {
                (true, b'\\') => i += 1,
                (true, b'"') => in_quotes = false,
                (false, b'"') => in_quotes = true,
                (false, b'[') => depth += 1,
                (false, b']') => depth = depth.saturating_sub(1),
                (false, b'|') if depth == 0 => {
                    push_stage(search, start, i, &mut stages);
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        push_stage(search, start, bytes.len(), &mut stages);
        let parts = stages.into_iter();
        parts
            .map(|s| (s.command, s.args, s.args_offset, s.offset))
            .collect()
    }

    #[test]
    fn splits_as_the_bytewise_scan_did() {
        let pieces = [
            "|", "\"", "\\", "[", "]", " ", "a", "search", "x=\"|\"", "é",
        ];
        let mut seed = 7u64;
        for _ in 0..5000 {
            let mut search = String::new();
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            for k in 0..(seed >> 60) + 1 {
                search.push_str(pieces[((seed >> (4 * k)) % pieces.len() as u64) as usize]);
            }
            let new: Vec<_> = split_stages(&search)
                .into_iter()
                .map(|s| (s.command, s.args, s.args_offset, s.offset))
                .collect();
            assert_eq!(new, split_bytewise(&search), "{search:?}");
        }
    }

    #[test]
    fn unescapes_only_backslash_and_quote() {
        assert_eq!(unescape_quoted(r#"*\\windows\\*"#), r"*\windows\*");
        assert_eq!(unescape_quoted(r#"a\"b\.c"#), r#"a"b\.c"#);
    }

    /// The unescaping as first written, one char at a time: the reference for the byte runs.
    fn unescape_reference(body: &str) -> String {
        let mut out = String::new();
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('\\', Some(&next @ ('\\' | '"'))) => {
                    out.push(next);
                    chars.next();
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// The quoted-string end as first written, a byte at a time.
    fn quoted_end_reference(text: &[u8], start: usize) -> Option<usize> {
        let mut i = start + 1;
        while i < text.len() {
            match text[i] {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
        None
    }

    #[test]
    fn quoted_end_is_the_bytewise_scan() {
        let pieces: [&[u8]; 5] = [b"\"", b"\\", b"ab", b" ", b"\\\""];
        for picks in random_picks(0x6A09_E667_F3BC_C908, 5_000, 9, pieces.len()) {
            let text: Vec<u8> = picks.iter().flat_map(|&p| pieces[p]).copied().collect();
            for start in 0..text.len() {
                assert_eq!(
                    quoted_end(&text, start),
                    quoted_end_reference(&text, start),
                    "{text:?} {start}"
                );
            }
        }
    }

    #[test]
    fn unescaping_is_the_char_by_char_unescaping() {
        let pieces = ["\\", "\"", "a", "é", ".", " "];
        for picks in random_picks(0x9E37_79B9_7F4A_7C15, 5_000, 10, pieces.len()) {
            let body: String = picks.iter().map(|&p| pieces[p]).collect();
            assert_eq!(
                unescape_quoted(&body),
                unescape_reference(&body),
                "{body:?}"
            );
        }
    }
}
