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
    let mut in_quotes = false;
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        if in_quotes {
            if b == b'\\' {
                i += 2;
                continue;
            }
            if b == b'"' {
                in_quotes = false;
            }
        } else {
            match b {
                b'"' => in_quotes = true,
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b'|' if depth == 0 => {
                    push_stage(search, start, i, &mut stages);
                    start = i + 1;
                }
                _ => {}
            }
        }
        i += 1;
    }
    push_stage(search, start, bytes.len(), &mut stages);
    stages
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
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('\\') => {
                    out.push('\\');
                    chars.next();
                }
                Some('"') => {
                    out.push('"');
                    chars.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Finds the end (exclusive, after the closing quote) of a quoted string starting at `start`
/// (which must index a `"`). Returns `None` if unterminated.
pub fn quoted_end(text: &[u8], start: usize) -> Option<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn unescapes_only_backslash_and_quote() {
        assert_eq!(unescape_quoted(r#"*\\windows\\*"#), r"*\windows\*");
        assert_eq!(unescape_quoted(r#"a\"b\.c"#), r#"a"b\.c"#);
    }
}
