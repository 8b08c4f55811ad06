//! The first stage: `tstats <aggregations> from datamodel=Endpoint.Processes [where <pred>]
//! [by <fields>]`. Its phases, in the order they read the text: aggregations (their outputs
//! are not row values), the data model, the `where` predicate (search language), the `by`
//! fields (row values, named as written).

use super::super::error::SplError;
use super::super::expr::{Cond, Ex, Src};
use super::super::lexer::byte_table;
use super::super::pipeline::{quoted_end, Stage};
use super::super::search_lang::parse_search_noting;
use super::env::{local_slot, Binding, CompiledSearch};
use super::facts::{offset_in, FieldSource};
use super::search::search_to_cond;
use super::DATAMODEL;

/// Compiles the tstats stage: the `where` predicate becomes a condition in `conds`, the
/// aggregations and `by` fields become bindings of `out`.
pub(super) fn compile_tstats(
    stage: &Stage,
    out: &mut CompiledSearch,
    conds: &mut Vec<Cond>,
) -> Result<(), SplError> {
    let args = stage.args;
    let base = stage.args_offset;
    let from = find_keyword(args, "from", 0).ok_or_else(|| {
        SplError::unsupported("tstats", stage.offset, "no `from datamodel=...` clause")
    })?;
    let cursor = datamodel_clause(args, from + "from".len(), base)?;
    bind_aggregates(&args[..from], base, out);
    let where_at = find_keyword(args, "where", cursor);
    let by_at = find_keyword(args, "by", where_at.unwrap_or(cursor));
    let options_end = where_at.or(by_at).unwrap_or(args.len());
    no_options(args, cursor, options_end, base)?;
    if let Some(w) = where_at {
        let pred_start = w + "where".len();
        let pred_end = by_at.unwrap_or(args.len());
        conds.push(where_predicate(
            &args[pred_start..pred_end],
            base + pred_start,
            out,
        )?);
    }
    if let Some(b) = by_at {
        bind_by_fields(&args[b + "by".len()..], base + b + "by".len(), out);
    }
    Ok(())
}

/// Aggregations (`count`, `min(_time) as firstTime`, `values(x) as y`): their outputs are
/// not row values, except that a single-value aggregate's output reads the row's own value.
/// The field each one reads (`_time`, `Processes.x`) is recorded at byte `base` + its offset.
/// Words are separated by whitespace and commas (`min(_time) AS firstTime, max(_time) AS
/// lastTime` names `firstTime`, not `firstTime,`).
fn bind_aggregates(head: &str, base: usize, out: &mut CompiledSearch) {
    let words = words_between_commas(head);
    for (i, w) in words.iter().enumerate() {
        if let Some((name, at)) = aggregate_argument(w) {
            let bare = name.strip_prefix("Processes.").unwrap_or(name);
            let position = base + offset_in(head, w) + at;
            out.facts
                .read(name, position, || FieldSource::DataModel(bare.to_string()));
        }
        if w.eq_ignore_ascii_case("as") {
            if let Some(name) = words.get(i + 1) {
                let source = i.checked_sub(1).and_then(|j| per_row_source(words[j]));
                out.env.insert(
                    name.trim_matches('"').to_string(),
                    Binding::Aggregate(name.to_string(), source),
                );
            }
            continue;
        }
        let is_option = w.contains('=');
        let is_alias = i > 0 && words[i - 1].eq_ignore_ascii_case("as");
        let has_alias = words
            .get(i + 1)
            .is_some_and(|n| n.eq_ignore_ascii_case("as"));
        if !(is_option || is_alias || has_alias) {
            out.env
                .insert(w.to_string(), Binding::Aggregate(w.to_string(), None));
        }
    }
}

/// Reads `datamodel=Endpoint.Processes` starting at `at` (just after `from`); returns the
/// offset after it.
fn datamodel_clause(args: &str, at: usize, base: usize) -> Result<usize, SplError> {
    let rest = args[at..].trim_start();
    let rest_at = args.len() - rest.len();
    let dm_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    let dm = &rest[..dm_end];
    let dataset = dm
        .strip_prefix("datamodel=")
        .or_else(|| dm.strip_prefix("datamodel:"))
        .map(|d| d.trim_matches('"'))
        .ok_or_else(|| {
            SplError::unsupported(
                dm,
                base + rest_at,
                "expected `datamodel=Endpoint.Processes` after `from`",
            )
        })?;
    if !dataset.eq_ignore_ascii_case(DATAMODEL) {
        return Err(SplError::unsupported(
            format!("datamodel={dataset}"),
            base + rest_at,
            "only the Endpoint.Processes data model is compiled",
        ));
    }
    Ok(rest_at + dm_end)
}

/// Nothing but whitespace may sit between the data model and `where`/`by`/the end.
fn no_options(args: &str, from: usize, to: usize, base: usize) -> Result<(), SplError> {
    let between = args[from..to].trim();
    if between.is_empty() {
        return Ok(());
    }
    Err(SplError::unsupported(
        between,
        base + from,
        "unexpected tstats option",
    ))
}

/// The `where` predicate (search language) over the data model's fields: `Processes.x` is
/// row field `x`.
fn where_predicate(pred: &str, base: usize, out: &mut CompiledSearch) -> Result<Cond, SplError> {
    let parsed = parse_search_noting(pred, base)?;
    out.or_in_and.extend(&parsed.or_in_and);
    let (fields, facts) = (&mut out.fields, &mut out.facts);
    search_to_cond(&parsed.ast, &mut |name, pos| {
        let bare = name.strip_prefix("Processes.").unwrap_or(name);
        facts.read(name, pos, || {
            if bare.contains('.') {
                FieldSource::Missing
            } else {
                FieldSource::DataModel(bare.to_string())
            }
        });
        if bare.contains('*') || bare.is_empty() {
            return Err(SplError::unsupported(
                name,
                pos,
                "wildcard field names are not supported",
            ));
        }
        if bare.contains('.') {
            // Not a field of the data set (Splunk field names are case-sensitive, so
            // `processes.x` is not `Processes.x`): it is null in every row.
            return Ok(Src::Expr(Box::new(Ex::Null)));
        }
        Ok(Src::Slot(local_slot(fields, bare)))
    })
}

/// `by Processes.dest Processes.user span=1h`: each field is visible under the name written.
/// `list` starts at byte `base` of the search.
fn bind_by_fields(list: &str, base: usize, out: &mut CompiledSearch) {
    for name in words_between_commas(list)
        .into_iter()
        .filter(|s| !s.contains('='))
    {
        let bare = name.strip_prefix("Processes.").unwrap_or(name);
        out.facts.read(name, base + offset_in(list, name), || {
            FieldSource::DataModel(bare.to_string())
        });
        out.env
            .insert(name.to_string(), Binding::Field(bare.to_string()));
    }
}

/// The non-empty pieces of `text` between (Unicode) whitespace and commas. ASCII text, what
/// searches are, is split by its bytes (no char decoding per byte); the ASCII characters
/// `char::is_whitespace` takes are tab to carriage return and the space.
fn words_between_commas(text: &str) -> Vec<&str> {
    if !text.is_ascii() {
        return text
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .collect();
    }
    let separates = |b: u8| matches!(b, b'\t'..=b'\r' | b' ' | b',');
    let bytes = text.as_bytes();
    let mut words = Vec::with_capacity(32);
    // Without tabs and line breaks (a fold the compiler vectorizes), spaces and commas are
    // the only separators, found with `memchr`.
    let controls = bytes.iter().fold(false, |seen, &b| {
        seen | (b.wrapping_sub(b'\t') <= b'\r' - b'\t')
    });
    if !controls {
        let mut start = 0;
        for end in memchr::memchr2_iter(b' ', b',', bytes).chain(std::iter::once(bytes.len())) {
            if end > start {
                words.push(&text[start..end]);
            }
            start = end + 1;
        }
        return words;
    }
    let mut at = 0;
    while at < bytes.len() {
        while at < bytes.len() && separates(bytes[at]) {
            at += 1;
        }
        let start = at;
        while at < bytes.len() && !separates(bytes[at]) {
            at += 1;
        }
        if at > start {
            words.push(&text[start..at]);
        }
    }
    words
}

/// The field an aggregation word reads and its offset in the word: `min(_time)` → `_time`,
/// `values(Processes.x)` → `Processes.x`. `None` for `count`, options and computed arguments.
fn aggregate_argument(word: &str) -> Option<(&str, usize)> {
    let open = word.find('(')?;
    let arg = word[open + 1..].strip_suffix(')')?;
    let simple = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    (simple && !word.contains('=')).then_some((arg, open + 1))
}

/// For `values(Processes.x)`, `min(x)`, `latest(x)`, ...: the bare field `x` (one row's value
/// of it is what the aggregate shows for that row).
fn per_row_source(call: &str) -> Option<String> {
    let (func, rest) = call.split_once('(')?;
    let arg = rest.strip_suffix(')')?;
    let single = [
        "values", "min", "max", "latest", "earliest", "first", "last",
    ];
    if !single.iter().any(|f| func.eq_ignore_ascii_case(f)) || arg.contains([',', '(', ' ']) {
        return None;
    }
    let bare = arg.strip_prefix("Processes.").unwrap_or(arg);
    (!bare.contains('.') && !bare.is_empty()).then(|| bare.to_string())
}

/// Finds a keyword (case-insensitive, whitespace-delimited) outside quotes/brackets/parens.
/// `kw` is a word of letters (`from`, `where`, `by`). Only quotes, brackets, parentheses and
/// whitespace matter to the walk ([`STOPS`]); a keyword may start at `from` (when it starts
/// the text or follows whitespace) and after each whitespace byte outside them.
fn find_keyword(text: &str, kw: &str, from: usize) -> Option<usize> {
    debug_assert!(kw.bytes().all(|b| b.is_ascii_alphabetic()));
    let b = text.as_bytes();
    let is_keyword_at = |at: usize| {
        b.len() >= at + kw.len()
            && b[at..at + kw.len()].eq_ignore_ascii_case(kw.as_bytes())
            && (at + kw.len() == b.len() || b[at + kw.len()].is_ascii_whitespace())
    };
    if from < b.len() && (from == 0 || b[from - 1].is_ascii_whitespace()) && is_keyword_at(from) {
        return Some(from);
    }
    let mut i = from;
    let mut depth = 0i32;
    while i < b.len() {
        if !STOPS[usize::from(b[i])] {
            i += 1;
            continue;
        }
        match b[i] {
            b'"' => {
                i = quoted_end(b, i).unwrap_or(b.len());
                continue;
            }
            b'(' | b'[' => depth += 1,
            b')' | b']' => depth -= 1,
            _ if depth == 0 && is_keyword_at(i + 1) => return Some(i + 1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The bytes [`find_keyword`] stops at: quotes, brackets, parentheses and ASCII whitespace.
static STOPS: [bool; 256] =
    byte_table!(b => b.is_ascii_whitespace() || matches!(b, b'"' | b'(' | b')' | b'[' | b']'));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_strings::random_picks;

    /// The byte split of ASCII text gives what the char split gives, and other text takes
    /// the char split.
    #[test]
    fn words_between_commas_is_the_char_split() {
        let pieces = [
            "a",
            "Processes.x",
            " ",
            ",",
            "\t",
            "\u{b}",
            "\r\n",
            "\u{a0}",
            "é",
            "=1",
        ];
        let mut next = crate::test_strings::below(0xD1B5_4A32_D192_ED03);
        for round in 0..10_000 {
            // Half the texts without tabs and line breaks, the common case.
            let pieces = &pieces[..if round % 2 == 0 { 4 } else { pieces.len() }];
            let text: String = (0..next(9)).map(|_| pieces[next(pieces.len())]).collect();
            let by_chars: Vec<&str> = text
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|w| !w.is_empty())
                .collect();
            assert_eq!(words_between_commas(&text), by_chars, "{text:?}");
        }
    }

    /// The keyword search as first written, a byte at a time.
    fn find_keyword_reference(text: &str, kw: &str, from: usize) -> Option<usize> {
        let b = text.as_bytes();
        let mut i = from;
        let mut depth = 0i32;
        while i < b.len() {
            match b[i] {
                b'"' => {
                    i = quoted_end(b, i).unwrap_or(b.len());
                    continue;
                }
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                _ => {}
            }
            if depth == 0
                && (i == 0 || b[i - 1].is_ascii_whitespace())
                && b.len() >= i + kw.len()
                && b[i..i + kw.len()].eq_ignore_ascii_case(kw.as_bytes())
                && (i + kw.len() == b.len() || b[i + kw.len()].is_ascii_whitespace())
            {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    #[test]
    fn find_keyword_is_the_bytewise_search() {
        let pieces = [
            "by", "BY", "where", "x", " ", "\t", "\u{b}", "(", ")", "[", "]", "\"", "\\", "=",
        ];
        for picks in random_picks(0xBB67_AE85_84CA_A73B, 20_000, 10, pieces.len()) {
            let text: String = picks.iter().map(|&p| pieces[p]).collect();
            for kw in ["by", "where"] {
                for from in 0..=text.len() {
                    assert_eq!(
                        find_keyword(&text, kw, from),
                        find_keyword_reference(&text, kw, from),
                        "{text:?} {kw} {from}"
                    );
                }
            }
        }
    }

    #[test]
    fn keywords_stand_alone_outside_quotes_and_brackets() {
        let args = r#"count FROM datamodel=x where a="b where c" (where) [by] x BY y"#;
        assert_eq!(find_keyword(args, "from", 0), Some(6));
        assert_eq!(find_keyword(args, "where", 0), Some(23));
        assert_eq!(find_keyword(args, "by", 0), Some(args.len() - 4));
        assert_eq!(find_keyword(args, "x", 0), Some(args.len() - 6));
        assert_eq!(find_keyword("fromage from", "from", 0), Some(8));
    }
}
