//! Stages that reshape the visible fields without filtering rows: `rename` (with `*`),
//! `fields`/`table`, `convert`, `fillnull`.

use super::super::error::SplError;
use super::super::glob::Glob;
use super::super::pipeline::{quoted_end, unescape_quoted};
use super::env::{Binding, CompiledSearch};
use super::facts::FieldSource;

/// Splunk wildcard rename: `*` in the source captures, `*` in the target inserts the capture.
pub(super) fn compile_rename(
    args: &str,
    base: usize,
    out: &mut CompiledSearch,
) -> Result<(), SplError> {
    let tokens = tokenize_words(args);
    let mut i = 0;
    let mut pairs = Vec::new();
    while i < tokens.len() {
        if tokens[i] == "," {
            i += 1;
            continue;
        }
        if i + 2 >= tokens.len() || !tokens[i + 1].eq_ignore_ascii_case("as") {
            return Err(SplError::unsupported(
                format!("rename {args}"),
                base,
                "expected `old AS new`",
            ));
        }
        pairs.push((tokens[i].clone(), tokens[i + 2].clone()));
        i += 3;
    }
    record_rename_sources(args, base, &pairs, out);
    for (from, to) in pairs {
        match from.split_once('*') {
            Some((pre, suf)) => rename_matching(out, pre, suf, &to),
            None => {
                if let Some(binding) = out.env.remove(&from) {
                    out.env.insert(to, binding);
                }
            }
        }
    }
    Ok(())
}

/// Renames every visible field `pre*suf` to `to` with its `*` replaced by what the field's
/// `*` matched. Every source is taken out first, then the targets go in (a wildcard rename
/// may overlap itself). The names are rewritten in place and the bindings moved: with the
/// `rename Processes.* as *` of every data-model search, cloning and rehashing them was a
/// good part of compiling a rule.
fn rename_matching(out: &mut CompiledSearch, pre: &str, suf: &str, to: &str) {
    let matches =
        |k: &String| k.len() >= pre.len() + suf.len() && k.starts_with(pre) && k.ends_with(suf);
    let moved: Vec<(String, Binding)> = out.env.extract_if(|k, _| matches(k)).collect();
    let target = to.split_once('*').ok_or(to);
    for (mut name, binding) in moved {
        star_replace_in_place(&mut name, pre.len(), suf.len(), target);
        out.env.insert(name, binding);
    }
}

/// `name` (`pre` + captured + `suf`, of the given lengths) becomes the target with its first
/// `*` replaced by the captured part (`to.replacen('*', captured, 1)`), reusing its buffer.
/// The target comes split at that `*` (`Ok((before, after))`), or whole when it has none.
fn star_replace_in_place(
    name: &mut String,
    pre: usize,
    suf: usize,
    to: Result<(&str, &str), &str>,
) {
    match to {
        Ok((before, after)) => {
            name.truncate(name.len() - suf);
            name.replace_range(..pre, before);
            name.push_str(after);
        }
        Err(to) => {
            name.clear();
            name.push_str(to);
        }
    }
}

/// Records each plain (non-wildcard) rename source as a read, at its first occurrence in
/// the stage's text after the previous one.
fn record_rename_sources(
    args: &str,
    base: usize,
    pairs: &[(String, String)],
    out: &mut CompiledSearch,
) {
    let mut cursor = 0;
    for (from, _) in pairs {
        let at = args[cursor..].find(from.as_str()).map(|i| cursor + i);
        if let Some(at) = at {
            cursor = at + from.len();
        }
        if from.contains('*') {
            continue;
        }
        let position = base + at.unwrap_or(0);
        out.facts
            .read(from, position, || FieldSource::of(out.env.get(from)));
    }
}

/// Splits a field list into words, `,` tokens and quoted strings (unquoted). Whitespace is
/// Unicode whitespace throughout (a vertical tab or no-break space separates words too), so
/// every step consumes at least one character.
fn tokenize_words(args: &str) -> Vec<String> {
    let b = args.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = args[i..].chars().next() {
        match c {
            c if c.is_whitespace() => i += c.len_utf8(),
            ',' => {
                out.push(",".to_string());
                i += 1;
            }
            '"' => {
                // An unterminated quote runs to the end of the list.
                let (content_end, end) = match quoted_end(b, i) {
                    Some(end) => (end - 1, end),
                    None => (b.len(), b.len()),
                };
                out.push(unescape_quoted(args.get(i + 1..content_end).unwrap_or("")));
                i = end;
            }
            _ => {
                let end = args[i..]
                    .find(|c: char| c.is_whitespace() || c == ',')
                    .map_or(b.len(), |e| i + e);
                out.push(args[i..end].to_string());
                i = end;
            }
        }
    }
    out
}

pub(super) fn compile_fields(cmd: &str, args: &str, out: &mut CompiledSearch) {
    let mut words: Vec<String> = tokenize_words(args)
        .into_iter()
        .filter(|w| w != ",")
        .collect();
    let remove = cmd == "fields" && words.first().is_some_and(|w| w == "-");
    if words.first().is_some_and(|w| w == "-" || w == "+") {
        words.remove(0);
    }
    let globs: Vec<Glob> = words.iter().map(|w| Glob::new(w)).collect();
    let hit = |k: &str| {
        globs
            .iter()
            .any(|g| g.matches_folded(k.to_ascii_lowercase().as_bytes()))
    };
    out.env.retain(|k, _| if remove { !hit(k) } else { hit(k) });
}

/// `convert [timeformat=...] ctime(x) [as y]`: the converted field is a formatted value, not
/// the row's, so reading it later is refused.
pub(super) fn compile_convert(args: &str, base: usize, out: &mut CompiledSearch) {
    for part in args.split_whitespace() {
        if let (Some(open), true) = (part.find('('), part.ends_with(')')) {
            let field = &part[open + 1..part.len() - 1];
            let at = base + super::facts::offset_in(args, part) + open + 1;
            out.facts
                .read(field, at, || FieldSource::of(out.env.get(field)));
            out.env.insert(
                field.to_string(),
                Binding::Invalid(SplError::unsupported(
                    part,
                    base,
                    "field reformatted by convert",
                )),
            );
        }
    }
}

/// `fillnull [value=...] [fields]`: the listed fields (all visible ones if none is listed)
/// are rewritten, so reading them later is refused.
pub(super) fn compile_fillnull(args: &str, offset: usize, out: &mut CompiledSearch) {
    let listed: Vec<&str> = args
        .split_whitespace()
        .filter(|w| !w.contains('='))
        .collect();
    let keys: Vec<String> = if listed.is_empty() {
        out.env.keys().cloned().collect()
    } else {
        listed.iter().map(|s| s.to_string()).collect()
    };
    for k in keys {
        out.facts
            .fill(&k, offset, || FieldSource::of(out.env.get(&k)));
        out.env.insert(
            k,
            Binding::Invalid(SplError::unsupported(
                "fillnull",
                offset,
                "field rewritten by fillnull",
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::star_replace_in_place;

    #[test]
    fn star_replaced_in_place_is_replacen_once() {
        for to in ["*", "a*", "*b", "a*b*c", "plain", "", "**"] {
            for captured in ["", "x", "process_name", "*"] {
                for (pre, suf) in [("", ""), ("Processes.", ""), ("a", "_x"), ("", "*")] {
                    let mut name = format!("{pre}{captured}{suf}");
                    let target = to.split_once('*').ok_or(to);
                    star_replace_in_place(&mut name, pre.len(), suf.len(), target);
                    let expected = to.replacen('*', captured, 1);
                    assert_eq!(name, expected, "{pre}|{captured}|{suf} -> {to}");
                }
            }
        }
    }
}
