//! A fast reader for the block-style YAML rule files are written in, giving exactly the
//! [`Value`] `serde_yaml` gives, or `None` when the text uses anything it does not read.
//!
//! Loading the ESCU corpus or the Sigma rules is mostly YAML parsing (`serde_yaml` over
//! `unsafe-libyaml`: a token queue, an event per node, a `String` per event), and every scan
//! and search pays it before the first row. Rule files keep to a small part of YAML: block
//! mappings and sequences, plain, quoted and literal or folded block scalars, comments. This
//! reader takes exactly that part, one line at a time, and says `None` (the caller then asks
//! `serde_yaml`) at the first thing outside it: flow collections, anchors, aliases, tags,
//! directives, several documents, tabs, complex or quoted keys, duplicate keys, `\` escapes
//! beyond the common ones, and whatever YAML would call an error. So every error, and every
//! rare construct, is still `serde_yaml`'s; what this reader accepts, it reads as `serde_yaml`
//! does (plain scalars that may be numbers, booleans or null are resolved by `serde_yaml`
//! itself). `tests/rules/yaml.rs` compares the two on every YAML file of `../shared`.

use serde_yaml::{Mapping, Value};

/// The document `text` holds, as `serde_yaml::from_str::<Value>` reads it; `None` when the
/// text is outside the part of YAML this reader takes (never a different value).
pub fn parse_block_yaml(text: &str) -> Option<Value> {
    if !plain_characters(text) {
        return None;
    }
    let mut reader = Reader {
        lines: split_lines(text),
        at: 0,
    };
    reader.skip_document_start()?;
    reader.skip_blank();
    let first = reader.lines.get(reader.at)?;
    let indent = first.indent;
    if indent != 0 {
        return None;
    }
    let value = if is_dash(first.text) {
        reader.sequence(indent)?
    } else {
        reader.mapping(indent)?
    };
    reader.skip_blank();
    (reader.at == reader.lines.len()).then_some(value)
}

/// No tabs, no control characters, no byte-order mark or Unicode line separators: what the
/// line splitting below would read differently from libyaml, or what libyaml refuses.
fn plain_characters(text: &str) -> bool {
    let bytes = text.as_bytes();
    // Control bytes other than line breaks, found by a fold the compiler vectorizes; a `\r`
    // is then looked at where it is (it must start a `\r\n`).
    let control = |b: u8| (b < 0x20 && b != b'\n' && b != b'\r') || b == 0x7f;
    let controls_ok = !bytes.iter().fold(false, |seen, &b| seen | control(b))
        && memchr::memchr_iter(b'\r', bytes).all(|at| bytes.get(at + 1) == Some(&b'\n'));
    controls_ok
        && (text.is_ascii()
            || !text.chars().any(|c| {
                matches!(
                    c,
                    '\u{80}'
                        ..='\u{9f}'
                            | '\u{2028}'
                            | '\u{2029}'
                            | '\u{feff}'
                            | '\u{fffe}'
                            | '\u{ffff}'
                )
            }))
}

/// One line: its indentation (spaces) and the rest, without the line break.
#[derive(Clone, Copy)]
struct Line<'a> {
    indent: usize,
    text: &'a str,
}

impl Line<'_> {
    /// Empty, or only a comment.
    fn is_blank(&self) -> bool {
        self.text.is_empty() || self.text.starts_with('#')
    }
}

/// The lines of `text` without its final line break, as `split('\n')` gives them (the
/// breaks found with the `memchr` crate's vector search, not one char search per line).
fn split_lines(text: &str) -> Vec<Line<'_>> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    // Sized at once: the lines are counted by a vector count first.
    let mut lines = Vec::with_capacity(memchr::memchr_iter(b'\n', text.as_bytes()).count() + 1);
    let mut start = 0;
    let breaks = memchr::memchr_iter(b'\n', text.as_bytes());
    for end in breaks.chain(std::iter::once(text.len())) {
        let raw = &text[start..end];
        start = end + 1;
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let body = raw.trim_start_matches(' ');
        lines.push(Line {
            indent: raw.len() - body.len(),
            text: body,
        });
    }
    lines
}

/// `- ` or a lone `-`: a sequence entry.
fn is_dash(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

struct Reader<'a> {
    lines: Vec<Line<'a>>,
    at: usize,
}

impl<'a> Reader<'a> {
    /// Passes over blank and comment lines.
    fn skip_blank(&mut self) {
        while self.lines.get(self.at).is_some_and(Line::is_blank) {
            self.at += 1;
        }
    }

    /// The next content line, if any (after blank and comment lines). A line at column 0
    /// starting a document (`---`, `...`) ends what this reader takes.
    fn peek(&mut self) -> Option<Option<Line<'a>>> {
        self.skip_blank();
        match self.lines.get(self.at) {
            None => Some(None),
            Some(line) if line.indent == 0 && is_document_marker(line.text) => None,
            Some(line) => Some(Some(*line)),
        }
    }

    /// A leading `---` line (alone or with a comment) is passed over; `%` directives are not
    /// taken.
    fn skip_document_start(&mut self) -> Option<()> {
        self.skip_blank();
        if let Some(line) = self.lines.get(self.at) {
            if line.indent == 0 && line.text.starts_with('%') {
                return None;
            }
            if line.indent == 0 && is_document_marker(line.text) {
                let rest = line.text[3..].trim_start_matches(' ');
                if !line.text.starts_with("---") || !(rest.is_empty() || rest.starts_with('#')) {
                    return None;
                }
                self.at += 1;
            }
        }
        Some(())
    }

    /// A block mapping whose keys sit at column `indent` (the current line is its first key).
    fn mapping(&mut self, indent: usize) -> Option<Value> {
        let mut map = Mapping::new();
        while let Some(line) = self.peek()? {
            if line.indent < indent || (line.indent == indent && is_dash(line.text)) {
                break;
            }
            if line.indent > indent {
                return None;
            }
            let (key, rest) = split_key(line.text)?;
            self.at += 1;
            let value = self.value_after_key(rest, indent)?;
            if map.insert(plain_scalar(key)?, value).is_some() {
                return None;
            }
        }
        Some(Value::Mapping(map))
    }

    /// The value of a mapping entry at column `indent` whose key line goes on with `rest`.
    fn value_after_key(&mut self, rest: &'a str, indent: usize) -> Option<Value> {
        if rest.is_empty() || rest.starts_with('#') {
            return match self.peek()? {
                Some(next) if next.indent > indent => self.node(next, indent),
                Some(next) if next.indent == indent && is_dash(next.text) => self.sequence(indent),
                _ => Some(Value::Null),
            };
        }
        self.inline_scalar(rest, indent)
    }

    /// A node on lines of its own, starting at `line` (more indented than `parent`).
    fn node(&mut self, line: Line<'a>, parent: usize) -> Option<Value> {
        if is_dash(line.text) {
            return self.sequence(line.indent);
        }
        if split_key(line.text).is_some() {
            return self.mapping(line.indent);
        }
        self.at += 1;
        match line.text.as_bytes().first()? {
            b'|' | b'>' => None,
            _ => self.inline_scalar(line.text, parent),
        }
    }

    /// A block sequence whose dashes sit at column `indent`.
    fn sequence(&mut self, indent: usize) -> Option<Value> {
        let mut items = Vec::new();
        while let Some(line) = self.peek()? {
            if line.indent != indent || !is_dash(line.text) {
                if line.indent > indent {
                    return None;
                }
                break;
            }
            let after = &line.text[1..];
            let rest = after.trim_start_matches(' ');
            if rest.is_empty() || rest.starts_with('#') {
                self.at += 1;
                items.push(match self.peek()? {
                    Some(next) if next.indent > indent => self.node(next, indent)?,
                    _ => Value::Null,
                });
                continue;
            }
            if is_dash(rest) {
                return None;
            }
            if split_key(rest).is_some() {
                // A compact mapping: its keys sit where the first one starts.
                let column = indent + 1 + (after.len() - rest.len());
                self.lines[self.at] = Line {
                    indent: column,
                    text: rest,
                };
                items.push(self.mapping(column)?);
                continue;
            }
            self.at += 1;
            items.push(self.inline_scalar(rest, indent)?);
        }
        Some(Value::Sequence(items))
    }

    /// A scalar starting at `text` (the rest of a line already taken), in a block whose
    /// parent sits at column `parent`.
    fn inline_scalar(&mut self, text: &'a str, parent: usize) -> Option<Value> {
        match text.as_bytes().first()? {
            b'\'' => self.quoted(&text[1..], parent, single_quoted_piece),
            b'"' => self.quoted(&text[1..], parent, double_quoted_piece),
            b'|' | b'>' => self.block_scalar(text, parent).map(Value::String),
            b'[' | b'{' => empty_flow(text),
            _ => self.plain(text, parent),
        }
    }

    /// A plain scalar, folded over the more indented lines that follow.
    fn plain(&mut self, first: &'a str, parent: usize) -> Option<Value> {
        if !plain_start(first) {
            return None;
        }
        let (head, commented) = plain_piece(first)?;
        let mut text = String::from(head);
        let mut multi = false;
        if !commented {
            let mut breaks = 0;
            let mut at = self.at;
            while let Some(line) = self.lines.get(at) {
                if line.text.is_empty() {
                    breaks += 1;
                    at += 1;
                    continue;
                }
                if line.indent <= parent || line.text.starts_with('#') {
                    break;
                }
                let (piece, commented) = plain_piece(line.text)?;
                if is_dash(line.text) || piece.is_empty() {
                    return None;
                }
                push_fold(&mut text, breaks, piece);
                multi = true;
                breaks = 0;
                at += 1;
                self.at = at;
                if commented {
                    break;
                }
            }
        }
        if multi {
            Some(Value::String(text))
        } else {
            plain_scalar(head)
        }
    }

    /// A quoted scalar whose text starts at `first` (after the opening quote), read line by
    /// line with `piece` (which says where the closing quote is).
    fn quoted(
        &mut self,
        first: &'a str,
        parent: usize,
        piece: fn(&str, &mut String) -> Option<Piece>,
    ) -> Option<Value> {
        let mut text = String::new();
        let mut line = first;
        loop {
            let start = text.len();
            let joined = match piece(line, &mut text)? {
                Piece::Closed(end) => {
                    let after = line[end..].trim_start_matches(' ');
                    let spaced = after.len() < line.len() - end;
                    if !(after.is_empty() || (spaced && after.starts_with('#'))) {
                        return None;
                    }
                    return Some(Value::String(text));
                }
                Piece::Folds => {
                    let kept = text[start..].trim_end_matches(' ').len();
                    text.truncate(start + kept);
                    false
                }
                Piece::Joins => true,
            };
            // The scalar goes on: line breaks fold (one to a space, more to newlines).
            let mut breaks = 0;
            loop {
                let next = self.lines.get(self.at)?;
                self.at += 1;
                if next.text.is_empty() {
                    breaks += 1;
                    continue;
                }
                if next.indent <= parent {
                    return None;
                }
                line = next.text;
                break;
            }
            if breaks == 0 && !joined {
                text.push(' ');
            }
            (0..breaks).for_each(|_| text.push('\n'));
        }
    }

    /// A literal (`|`) or folded (`>`) block scalar whose header is `header`, its lines more
    /// indented than `parent`. Clip (default) and strip (`-`) chomping; an explicit
    /// indentation indicator, keep chomping (`+`) and more-indented folded lines are not
    /// taken.
    fn block_scalar(&mut self, header: &str, parent: usize) -> Option<String> {
        let folded = header.starts_with('>');
        let rest = &header[1..];
        let (strip, rest) = match rest.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        let after = rest.trim_start_matches(' ');
        if !(after.is_empty() || (after.len() < rest.len() && after.starts_with('#'))) {
            return None;
        }
        let mut leading = 0;
        let indent = loop {
            let line = self.lines.get(self.at)?;
            if !line.text.is_empty() {
                break line.indent;
            }
            leading += 1;
            self.at += 1;
        };
        if indent <= parent {
            return None;
        }
        // Blank lines before the first one must not be longer than its indentation.
        let start = self.at - leading;
        if self.lines[start..self.at].iter().any(|l| l.indent > indent) {
            return None;
        }
        let mut text = "\n".repeat(leading);
        let mut breaks = 0;
        let mut first = true;
        while let Some(line) = self.lines.get(self.at) {
            if line.text.is_empty() {
                if line.indent > indent {
                    return None;
                }
                breaks += 1;
                self.at += 1;
                continue;
            }
            if line.indent < indent {
                break;
            }
            let more = line.indent - indent;
            if folded && more > 0 {
                return None;
            }
            if !first {
                if !folded {
                    text.push('\n');
                } else if breaks == 0 {
                    text.push(' ');
                }
                (0..breaks).for_each(|_| text.push('\n'));
            }
            (0..more).for_each(|_| text.push(' '));
            text.push_str(line.text);
            breaks = 0;
            first = false;
            self.at += 1;
        }
        if !strip && !first {
            text.push('\n');
        }
        Some(text)
    }
}

/// `[]` or `{}` (the only flow collections taken), with an optional comment.
fn empty_flow(text: &str) -> Option<Value> {
    let rest = text.get(2..)?;
    let after = rest.trim_start_matches(' ');
    if !(after.is_empty() || (after.len() < rest.len() && after.starts_with('#'))) {
        return None;
    }
    match &text[..2] {
        "[]" => Some(Value::Sequence(Vec::new())),
        "{}" => Some(Value::Mapping(Mapping::new())),
        _ => None,
    }
}

fn is_document_marker(text: &str) -> bool {
    let marker = text.starts_with("---") || text.starts_with("...");
    marker && matches!(text.as_bytes().get(3), None | Some(b' '))
}

/// Appends a folded line to a plain or quoted scalar: one line break becomes a space, each
/// blank line between becomes a newline.
fn push_fold(text: &mut String, breaks: usize, piece: &str) {
    if breaks == 0 {
        text.push(' ');
    }
    (0..breaks).for_each(|_| text.push('\n'));
    text.push_str(piece);
}

/// Whether a plain scalar may start with `text`'s first characters (not an indicator).
fn plain_start(text: &str) -> bool {
    let bytes = text.as_bytes();
    let Some(first) = bytes.first() else {
        return false;
    };
    match first {
        b'-' | b'?' | b':' => matches!(bytes.get(1), Some(b) if *b != b' '),
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' => false,
        _ => true,
    }
}

/// The part of a line that belongs to a plain scalar (up to a comment, trailing spaces
/// trimmed) and whether a comment ended it; `None` when the line holds `: ` (or ends with
/// `:`), which YAML refuses inside a plain scalar.
fn plain_piece(line: &str) -> Option<(&str, bool)> {
    let (text, commented) = match find_pair(line, b' ', b'#') {
        Some(at) => (&line[..at], true),
        None => (line, false),
    };
    let text = text.trim_end_matches(' ');
    if find_pair(text, b':', b' ').is_some() || text.ends_with(':') {
        return None;
    }
    Some((text, commented))
}

/// The offset of the first `first` directly followed by `second` (`text.find("ab")` for two
/// ASCII bytes, one of them a space), found by looking for the other byte, which is rare in
/// rule files: a substring search's set-up cost more than the search on their short lines.
fn find_pair(text: &str, first: u8, second: u8) -> Option<usize> {
    let bytes = text.as_bytes();
    if first == b' ' {
        let mut hits = memchr::memchr_iter(second, bytes);
        return hits
            .find(|&at| at > 0 && bytes[at - 1] == first)
            .map(|at| at - 1);
    }
    let mut hits = memchr::memchr_iter(first, bytes);
    hits.find(|&at| bytes.get(at + 1) == Some(&second))
}

/// A mapping key and the rest of its line (after `: `, leading spaces trimmed): the key is
/// plain and ends at the first `: ` (or a `:` ending the line) before any comment.
fn split_key(line: &str) -> Option<(&str, &str)> {
    if !plain_start(line) {
        return None;
    }
    let bytes = line.as_bytes();
    let colon = memchr::memchr_iter(b':', bytes)
        .find(|&at| matches!(bytes.get(at + 1), None | Some(b' ')))?;
    let key = &line[..colon];
    if find_pair(key, b' ', b'#').is_some() || key.len() > 1000 {
        return None;
    }
    let key = key.trim_end_matches(' ');
    let rest = line[colon + 1..].trim_start_matches(' ');
    Some((key, rest))
}

/// A plain scalar's value: text, unless it may be null, a boolean or a number, which
/// `serde_yaml` resolves (so the rules are exactly its own).
fn plain_scalar(text: &str) -> Option<Value> {
    if text.is_empty() {
        return Some(Value::Null);
    }
    if !may_not_be_text(text) {
        return Some(Value::String(text.to_string()));
    }
    if let Some(number) = plain_integer(text) {
        return Some(number);
    }
    // As a mapping's value, where `---` or `...` cannot mark a document.
    let mut holder = serde_yaml::from_str::<Mapping>(&format!("k: {text}")).ok()?;
    match holder.remove("k")? {
        scalar @ (Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_)) => {
            Some(scalar)
        }
        _ => None,
    }
}

/// A decimal integer without sign or leading zero (a risk score, a version, an event id)
/// that fits in a `u64`, as `serde_yaml` reads it; anything else is left to it.
fn plain_integer(text: &str) -> Option<Value> {
    let bytes = text.as_bytes();
    if !bytes.iter().all(u8::is_ascii_digit) || (bytes.len() > 1 && bytes[0] == b'0') {
        return None;
    }
    text.parse::<u64>().ok().map(|n| Value::Number(n.into()))
}

/// Whether `serde_yaml` might read a plain scalar as something other than text: null and
/// boolean words, `~`, `.inf`/`.nan` spellings, `0x`/`0o`/`0b` integers, and what has the
/// shape of a decimal integer or float (`[+-]digits[.digits][e[+-]digits]`). Dates, ids and
/// names (`2023/01/01`, `929a690e-bef0-...`) are text without asking.
fn may_not_be_text(text: &str) -> bool {
    if matches!(
        text,
        "~" | "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
    ) {
        return true;
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    if unsigned.starts_with(".inf")
        || unsigned.starts_with(".Inf")
        || unsigned.starts_with(".INF")
        || unsigned.starts_with(".nan")
        || unsigned.starts_with(".NaN")
        || unsigned.starts_with(".NAN")
        || unsigned.starts_with("0x")
        || unsigned.starts_with("0o")
        || unsigned.starts_with("0b")
    {
        return true;
    }
    let bytes = unsigned.as_bytes();
    let digits = |at: &mut usize| {
        let start = *at;
        while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
            *at += 1;
        }
        *at - start
    };
    let mut at = 0;
    let mut mantissa = digits(&mut at);
    if bytes.get(at) == Some(&b'.') {
        at += 1;
        mantissa += digits(&mut at);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        at += 1;
        if matches!(bytes.get(at), Some(b'+' | b'-')) {
            at += 1;
        }
        if digits(&mut at) == 0 {
            return false;
        }
    }
    at == bytes.len()
}

/// How a quoted scalar's line ends.
enum Piece {
    /// With the closing quote; the byte after it.
    Closed(usize),
    /// Inside the scalar, which goes on: the line break folds (trailing spaces dropped, one
    /// break a space, each blank line a newline).
    Folds,
    /// With an escaped line break (a double-quoted line ending in `\`): the next line's
    /// text follows at once (only blank lines between add a newline each), and the spaces
    /// before the `\` are kept. PyYAML writes long double-quoted searches this way.
    Joins,
}

/// Reads a single-quoted scalar's text on one line into `out`, saying how the line ends.
fn single_quoted_piece(line: &str, out: &mut String) -> Option<Piece> {
    let mut rest = line;
    let mut at = 0;
    while let Some(quote) = memchr::memchr(b'\'', rest.as_bytes()) {
        out.push_str(&rest[..quote]);
        if rest.as_bytes().get(quote + 1) == Some(&b'\'') {
            out.push('\'');
            at += quote + 2;
            rest = &rest[quote + 2..];
        } else {
            return Some(Piece::Closed(at + quote + 1));
        }
    }
    out.push_str(rest);
    Some(Piece::Folds)
}

/// As [`single_quoted_piece`] for a double-quoted scalar, with its `\` escapes (the rare
/// `\N \_ \L \P` are not taken).
fn double_quoted_piece(line: &str, out: &mut String) -> Option<Piece> {
    let bytes = line.as_bytes();
    let mut at = 0;
    loop {
        let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[at..]) else {
            // Trailing spaces are trimmed before the line break: an escaped one would be too.
            if line.contains('\\') {
                return None;
            }
            out.push_str(&line[at..]);
            return Some(Piece::Folds);
        };
        let stop = at + found;
        out.push_str(&line[at..stop]);
        if bytes[stop] == b'"' {
            return Some(Piece::Closed(stop + 1));
        }
        if stop + 1 == bytes.len() {
            return Some(Piece::Joins);
        }
        let (c, len) = escape(&line[stop + 1..])?;
        out.push(c);
        at = stop + 1 + len;
    }
}

/// The character a `\` escape stands for and the length of what follows the `\`.
fn escape(after: &str) -> Option<(char, usize)> {
    let hex = |digits: usize| {
        let code = after.get(1..1 + digits)?;
        if !code.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let c = char::from_u32(u32::from_str_radix(code, 16).ok()?)?;
        Some((c, 1 + digits))
    };
    let c = match after.as_bytes().first()? {
        b'0' => '\0',
        b'a' => '\u{7}',
        b'b' => '\u{8}',
        b't' => '\t',
        b'n' => '\n',
        b'v' => '\u{b}',
        b'f' => '\u{c}',
        b'r' => '\r',
        b'e' => '\u{1b}',
        b' ' => ' ',
        b'"' => '"',
        b'/' => '/',
        b'\\' => '\\',
        b'x' => return hex(2),
        b'u' => return hex(4),
        b'U' => return hex(8),
        _ => return None,
    };
    Some((c, 1))
}

#[cfg(test)]
mod tests {
    use super::parse_block_yaml;

    /// The fast reader and `serde_yaml` agree, or the fast reader declines.
    fn same(text: &str) -> bool {
        let fast = parse_block_yaml(text);
        let slow = serde_yaml::from_str::<serde_yaml::Value>(text).ok();
        if let Some(fast) = &fast {
            assert_eq!(Some(fast), slow.as_ref(), "{text:?}");
        }
        fast.is_some()
    }

    #[test]
    fn reads_what_rule_files_hold_as_serde_yaml_does() {
        let taken = [
            "a: 1\nb: x\nc:\n",
            "---\ntitle: T # c\nid: 5\nt: true\nn: ~\nz: 012\nh: 0x1F\nf: 1.5\ns: -x\n",
            "detection:\n    sel:\n        Image|endswith:\n            - '\\x.exe'\n            - \"a\\\\b\\\"c\"\n        CommandLine|contains|all: y\n    condition: sel and not 1 of filter*\n",
            "tags:\n- a\n- b\nnext: 1\n",
            "l:\n  - k: v\n    k2: v2\n  -   k3: 'it''s'\n  -\n    - nested\n  - plain\n",
            "d: |\n    line one\n\n    line  two\n      more\n\n\nnext: x\n",
            "d: |-\n  a\n  b\ne: >\n  folded\n  text\n\n  para\n",
            "s: 'multi\n  line\n\n  quoted '\nq: \"x\n  y\"\n",
            "p: plain text\n  goes on\n\n  and on # c\nr: C:\\Windows\\\n",
            "search: '| tstats `security_content_summariesonly` count from datamodel=Endpoint.Processes\n  where Processes.process_name=\"x\" by Processes.dest | `drop_dm_object_name(Processes)`'\n",
            "k: a#b\nk2: 'x' # c\nk3: \"\\u00e9\\x41\"\nempty: ''\n",
            "a:\r\n  b: c\r\n",
            "a: []\nb: {} # c\nc:\n- []\n",
            "x:\n  just a scalar\n  on two lines\ny: 2\n",
            "s: \"| tstats a \\\n  \\ as b from\\\n  \\ c \\\n\n  \\\n  d\\\n    e  \\\n\n\n  f\"\n",
            "s: \"\\\n  x\"\nt: \"a\\\n  \"\n",
            "a: \"x\\\n  y\"\n",
        ];
        for text in taken {
            assert!(same(text), "declined: {text:?}");
        }
    }

    #[test]
    fn resolves_plain_scalars_as_serde_yaml_does() {
        let scalars = [
            "++5",
            "+5",
            "-5",
            "5",
            "1.",
            "1e5",
            "1E+5",
            "1e-5",
            ".5",
            "+.5",
            "-.5",
            "0x1F",
            "-0x1f",
            "+0x1f",
            "0o7",
            "0b101",
            "012",
            "-012",
            "1_000",
            "inf",
            "infinity",
            "nan",
            ".inf",
            "-.Inf",
            "+.INF",
            ".nan",
            ".NaN",
            "1e",
            "e5",
            "929a690e-bef0-4204",
            "1e10-bef0",
            "2023/01/01",
            "1.2.3",
            "~",
            "null",
            "NULL",
            "nul",
            "True",
            "tRue",
            "FALSE",
            "18446744073709551616",
            "-9223372036854775809",
            "0",
            "-0",
            "00",
            "+",
            ".",
            "..",
            "1..2",
            "1e5e5",
            "0x",
            "0xG",
            "12 34",
        ];
        for text in scalars {
            let slow = serde_yaml::from_str::<serde_yaml::Mapping>(&format!("k: {text}")).ok();
            let slow = slow.as_ref().and_then(|m| m.get("k"));
            assert_eq!(super::plain_scalar(text).as_ref(), slow, "{text}");
        }
    }

    #[test]
    fn find_pair_is_find() {
        for text in [
            "", "#", " #", "a #b # c", "a: b", "a:b: c", "::", ": ", "x :", "é #é: ",
        ] {
            assert_eq!(
                super::find_pair(text, b' ', b'#'),
                text.find(" #"),
                "{text}"
            );
            assert_eq!(
                super::find_pair(text, b':', b' '),
                text.find(": "),
                "{text}"
            );
        }
    }

    #[test]
    fn declines_what_it_does_not_read() {
        let declined = [
            "a: [1, 2]\n",
            "a: [] x\n",
            "a: {b: 1}\n",
            "a: &x 1\nb: *x\n",
            "a: !tag 1\n",
            "a: 1\na: 2\n",
            "'a': 1\n",
            "a:\tb\n",
            "a: b: c\n",
            "a: 1\n---\nb: 2\n",
            "a: |2\n   x\n",
            "a: |+\n  x\n\n",
            "a: 'x' y\n",
            "a: 1\n b: 2\n",
            "? a\n: b\n",
            "%YAML 1.2\n---\na: 1\n",
            "- - a\n",
            "a: >\n  x\n    more\n",
        ];
        for text in declined {
            assert!(!same(text), "taken: {text:?}");
        }
    }
}
