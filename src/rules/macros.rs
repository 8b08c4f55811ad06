//! Search macros: from ESCU macro YAML and from `macros.conf` stanzas, with argument
//! macros `name(N)` whose `$arg$` tokens are substituted, expanded recursively with cycle
//! detection (the error names the cycle).

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use super::error::{MacroError, RuleError};
use super::pipeline::quoted_end;
use super::prefilter::FastHash;

/// One macro definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Macro {
    pub name: String,
    pub args: Vec<String>,
    pub definition: String,
}

/// Macros by (lower-cased name, arity). Later insertions override earlier ones, so user
/// macros loaded after the shipped ones win.
#[derive(Debug, Clone, Default)]
pub struct MacroTable {
    map: HashMap<(String, usize), Macro, FastHash>,
}

const MAX_DEPTH: usize = 64;

/// Most macro calls one expansion may make. ESCU searches make a handful; the bound stops a
/// definition that calls another twice, 64 levels deep (2^64 calls), from running forever.
const MAX_CALLS: usize = 10_000;

/// Longest expanded search accepted. Expanded ESCU searches are a few KiB; the bound stops a
/// doubling chain of definitions from exhausting memory.
pub const MAX_EXPANDED_LEN: usize = 1 << 20;

/// A `macros.conf` stanza being read: (name, arity, line, args, definition).
type Stanza = (String, usize, usize, Vec<String>, Option<String>);

impl MacroTable {
    /// A table with the macros ESCU content assumes from other apps: `drop_dm_object_name(1)`
    /// from Splunk_SA_CIM (contentctl deliberately does not ship it; definition from
    /// Splunk_SA_CIM `default/macros.conf`).
    pub fn with_builtins() -> Self {
        let mut t = MacroTable::default();
        t.insert(Macro {
            name: "drop_dm_object_name".into(),
            args: vec!["object".into()],
            definition: "rename \"$object$.*\" as *".into(),
        });
        t
    }

    pub fn insert(&mut self, m: Macro) {
        self.map
            .insert((m.name.to_ascii_lowercase(), m.args.len()), m);
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Parses `macros.conf` text: `[name]` or `[name(N)]` stanzas with `args = a, b` and
    /// `definition = ...` (lines ending in `\` continue). Bad stanzas are returned as errors.
    pub fn add_conf(&mut self, text: &str, path: &Path) -> Vec<RuleError> {
        let conf_error = |line, message| RuleError::Conf {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut errors = Vec::new();
        let mut current: Option<Stanza> = None;
        for (n, line) in logical_lines(text) {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
                continue;
            }
            if t.starts_with('[') && t.ends_with(']') {
                if let Some(done) = current.take() {
                    errors.extend(self.finish_stanza(done).map(|(l, m)| conf_error(l, m)));
                }
                let inner = &t[1..t.len() - 1];
                match stanza_name(inner) {
                    Some((name, arity)) => current = Some((name, arity, n, Vec::new(), None)),
                    None => errors.push(conf_error(n, format!("bad stanza name [{inner}]"))),
                }
                continue;
            }
            let Some((key, value)) = t.split_once('=') else {
                errors.push(conf_error(n, format!("expected `key = value`, got `{t}`")));
                continue;
            };
            if let Some(cur) = current.as_mut() {
                match key.trim() {
                    "definition" => cur.4 = Some(value.trim().to_string()),
                    "args" => {
                        cur.3 = value
                            .split(',')
                            .map(|a| a.trim().to_string())
                            .filter(|a| !a.is_empty())
                            .collect()
                    }
                    _ => {}
                }
            }
        }
        if let Some(done) = current.take() {
            errors.extend(self.finish_stanza(done).map(|(l, m)| conf_error(l, m)));
        }
        errors
    }

    /// Adds a complete stanza as a macro, or says (line, message) why it cannot be one.
    fn finish_stanza(&mut self, stanza: Stanza) -> Option<(usize, String)> {
        let (name, arity, line, args, definition) = stanza;
        match definition {
            None => Some((line, format!("stanza [{name}] has no definition"))),
            Some(_) if args.len() != arity => Some((
                line,
                format!("stanza [{name}({arity})] declares {} args", args.len()),
            )),
            Some(definition) => {
                self.insert(Macro {
                    name,
                    args,
                    definition,
                });
                None
            }
        }
    }

    /// Expands every backtick macro call in `text`, recursively.
    ///
    /// A missing `<detection>_filter` macro expands to `search *`, as contentctl generates it.
    pub fn expand(&self, text: &str) -> Result<String, MacroError> {
        let mut stack = Vec::new();
        let mut calls = 0;
        self.expand_inner(text, &mut stack, &mut calls, 0)
            .map(Cow::into_owned)
    }

    /// `text` with its macro calls expanded; borrowed when it calls none (a definition
    /// without calls, as most are, is then not copied once more).
    fn expand_inner<'t>(
        &self,
        text: &'t str,
        stack: &mut Vec<String>,
        calls: &mut usize,
        base: usize,
    ) -> Result<Cow<'t, str>, MacroError> {
        let Some(first) = macro_tick(text) else {
            return Ok(Cow::Borrowed(text));
        };
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut offset = 0usize;
        let mut tick = Some(first);
        while let Some(open) = tick {
            out.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = memchr::memchr(b'`', after.as_bytes()).ok_or(MacroError::Unterminated {
                position: base + offset + open,
            })?;
            let call = after[..close].trim();
            let position = base + offset + open;
            let (name, args) = parse_call(call);
            let label = call_label(name, args.len());
            check_limits(stack, calls, &label)?;
            let body = self.body_of(name, &args, position)?;
            if body.len() > MAX_EXPANDED_LEN {
                // Arguments substituted into a definition can multiply its length per level.
                return Err(MacroError::TooLong {
                    name: label,
                    limit: MAX_EXPANDED_LEN,
                });
            }
            stack.push(label);
            let expanded = self.expand_inner(&body, stack, calls, position)?;
            let label = stack.pop().unwrap_or_default();
            if out.len() + expanded.len() > MAX_EXPANDED_LEN {
                return Err(MacroError::TooLong {
                    name: label,
                    limit: MAX_EXPANDED_LEN,
                });
            }
            out.push_str(&expanded);
            let consumed = open + 1 + close + 1;
            offset += consumed;
            rest = &rest[consumed..];
            tick = macro_tick(rest);
        }
        out.push_str(rest);
        Ok(Cow::Owned(out))
    }

    /// The definition `name(args)` expands to, its arguments substituted; a missing
    /// `<rule>_filter` macro is `search *`, as contentctl generates it.
    fn body_of(
        &self,
        name: &str,
        args: &[String],
        position: usize,
    ) -> Result<Cow<'_, str>, MacroError> {
        let key = (name.to_ascii_lowercase(), args.len());
        match self.map.get(&key) {
            Some(m) => {
                let mut def = Cow::Borrowed(m.definition.as_str());
                for (param, value) in m.args.iter().zip(args) {
                    def = Cow::Owned(substitute(&def, param, value));
                }
                Ok(def)
            }
            None if args.is_empty() && key.0.ends_with("_filter") => Ok(Cow::Borrowed("search *")),
            None => Err(MacroError::Unknown {
                name: name.to_string(),
                arity: args.len(),
                position,
            }),
        }
    }
}

/// The lines of a .conf file with `\` continuations joined (by a newline, as Splunk keeps
/// them), each with its first physical line's number (1-based).
fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((n, raw)) = lines.next() {
        let mut line = raw.trim_end().to_string();
        while line.ends_with('\\') {
            line.pop();
            match lines.next() {
                Some((_, more)) => {
                    line.push('\n');
                    line.push_str(more.trim_end());
                }
                None => break,
            }
        }
        out.push((n + 1, line));
    }
    out
}

/// `name` or `name(N)` of a stanza header; None when N is not a number.
fn stanza_name(inner: &str) -> Option<(String, usize)> {
    match inner.split_once('(') {
        Some((name, rest)) => {
            let arity = rest.trim_end_matches(')').trim().parse::<usize>().ok()?;
            Some((name.trim().to_string(), arity))
        }
        None => Some((inner.trim().to_string(), 0)),
    }
}

/// Refuses a call to `label` that would recurse into itself, nest deeper than
/// [`MAX_DEPTH`] or make more than [`MAX_CALLS`] calls in all (counted here).
fn check_limits(stack: &[String], calls: &mut usize, label: &str) -> Result<(), MacroError> {
    if stack.iter().any(|s| s.eq_ignore_ascii_case(label)) {
        let mut cycle: Vec<String> = stack
            .iter()
            .skip_while(|s| !s.eq_ignore_ascii_case(label))
            .cloned()
            .collect();
        cycle.push(label.to_string());
        return Err(MacroError::Cycle { cycle });
    }
    if stack.len() >= MAX_DEPTH {
        return Err(MacroError::TooDeep {
            name: label.to_string(),
            limit: MAX_DEPTH,
        });
    }
    *calls += 1;
    if *calls > MAX_CALLS {
        return Err(MacroError::TooManyCalls {
            name: label.to_string(),
            limit: MAX_CALLS,
        });
    }
    Ok(())
}

/// The first backtick of `text` outside double-quoted strings: a backtick inside quotes is
/// data (`split(process,"`")`, as ESCU writes it), not the start of a macro call.
fn macro_tick(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(found) = memchr::memchr2(b'`', b'"', &b[i..]) {
        i += found;
        if b[i] == b'`' {
            return Some(i);
        }
        i = quoted_end(b, i)?;
    }
    None
}

/// Replaces `$param$` by `value`. A quoted value substituted *inside* a quoted region of the
/// definition loses its own quotes (`rename "$object$.*"` with `"Processes"` gives
/// `rename "Processes.*"`), which is how ESCU's `drop_dm_object_name("Processes")` works in Splunk.
fn substitute(def: &str, param: &str, value: &str) -> String {
    let unquoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|_| value.len() >= 2)
        .unwrap_or(value);
    let mut out = String::with_capacity(def.len() + value.len());
    let mut in_quotes = false;
    let mut i = 0;
    let b = def.as_bytes();
    // Only `$`, `\` and `"` mean anything here; the text between them is copied as is.
    while let Some(found) = memchr::memchr3(b'$', b'\\', b'"', &b[i..]) {
        out.push_str(&def[i..i + found]);
        i += found;
        match b[i] {
            b'$' if is_token(&b[i..], param) => {
                out.push_str(if in_quotes { unquoted } else { value });
                i += param.len() + 2;
            }
            b'\\' if i + 1 < b.len() => {
                let escaped = def[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&def[i..i + 1 + escaped]);
                i += 1 + escaped;
            }
            quote_or_other => {
                in_quotes ^= quote_or_other == b'"';
                out.push(quote_or_other as char);
                i += 1;
            }
        }
    }
    out.push_str(&def[i..]);
    out
}

/// Whether `text` starts with the token `$param$`.
fn is_token(text: &[u8], param: &str) -> bool {
    let p = param.as_bytes();
    text.len() >= p.len() + 2 && text[1..=p.len()] == *p && text[p.len() + 1] == b'$'
}

/// The name a call is known by in cycle and limit errors: `name`, or `name(N)` with arguments.
fn call_label(name: &str, arity: usize) -> String {
    if arity == 0 {
        return name.to_string();
    }
    let digits = arity.to_string();
    let mut label = String::with_capacity(name.len() + digits.len() + 2);
    label.push_str(name);
    label.push('(');
    label.push_str(&digits);
    label.push(')');
    label
}

/// Splits `name(a, "b,c")` into the name and its arguments (quotes kept, as Splunk substitutes them verbatim).
fn parse_call(call: &str) -> (&str, Vec<String>) {
    let Some(open) = call.find('(') else {
        return (call, Vec::new());
    };
    if !call.ends_with(')') {
        return (call, Vec::new());
    }
    let name = call[..open].trim();
    let inner = &call[open + 1..call.len() - 1];
    let b = inner.as_bytes();
    let mut args = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = quoted_end(b, i).unwrap_or(b.len());
                continue;
            }
            b',' => {
                args.push(inner[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if !inner.trim().is_empty() || !args.is_empty() {
        args.push(inner[start..].trim().to_string());
    }
    (name, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, args: &[&str], def: &str) -> Macro {
        Macro {
            name: name.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            definition: def.into(),
        }
    }

    #[test]
    fn expands_arguments_and_nesting() {
        let mut t = MacroTable::with_builtins();
        t.insert(m("outer", &[], "x `inner(1, \"a,b\")` y"));
        t.insert(m("inner", &["n", "s"], "n=$n$ s=$s$"));
        assert_eq!(t.expand("`outer`").unwrap(), "x n=1 s=\"a,b\" y");
        assert_eq!(
            t.expand("| `drop_dm_object_name(\"Processes\")`").unwrap(),
            "| rename \"Processes.*\" as *"
        );
        assert_eq!(t.expand("`some_rule_filter`").unwrap(), "search *");
    }

    #[test]
    fn backtick_inside_a_quoted_string_is_data() {
        let mut t = MacroTable::default();
        t.insert(m("m", &[], "a"));
        let search = r#"| eval n=mvcount(split(process,"`")) x="\"`q`" | `m` | y="`""#;
        assert_eq!(
            t.expand(search).unwrap(),
            r#"| eval n=mvcount(split(process,"`")) x="\"`q`" | a | y="`""#
        );
    }

    /// The substitution as first written, one char at a time: the reference the byte-run
    /// version must agree with.
    fn substitute_reference(def: &str, param: &str, value: &str) -> String {
        let token = format!("${param}$");
        let unquoted = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|_| value.len() >= 2)
            .unwrap_or(value);
        let mut out = String::new();
        let mut in_quotes = false;
        let mut i = 0;
        while i < def.len() {
            if def[i..].starts_with(&token) {
                out.push_str(if in_quotes { unquoted } else { value });
                i += token.len();
                continue;
            }
            let c = def[i..].chars().next().unwrap_or(' ');
            if c == '\\' && i + 1 < def.len() {
                out.push(c);
                i += 1;
                let c2 = def[i..].chars().next().unwrap_or(' ');
                out.push(c2);
                i += c2.len_utf8();
                continue;
            }
            if c == '"' {
                in_quotes = !in_quotes;
            }
            out.push(c);
            i += c.len_utf8();
        }
        out
    }

    #[test]
    fn substitute_is_the_char_by_char_substitution() {
        let pieces = [
            "$x$", "$xy$", "$", "\\", "\"", "a", " ", "é", "\\$x$", "$$", "x$",
        ];
        for picks in
            crate::test_strings::random_picks(0x2545_F491_4F6C_DD1D, 5_000, 12, pieces.len())
        {
            let def: String = picks.iter().map(|&p| pieces[p]).collect();
            for (param, value) in [("x", "V"), ("x", "\"q\""), ("xy", "\"\""), ("", "e")] {
                assert_eq!(
                    substitute(&def, param, value),
                    substitute_reference(&def, param, value),
                    "{def:?} {param:?} {value:?}"
                );
            }
        }
    }

    #[test]
    fn cycle_is_named() {
        let mut t = MacroTable::default();
        t.insert(m("a", &[], "`b`"));
        t.insert(m("b", &[], "`c`"));
        t.insert(m("c", &[], "`a`"));
        let e = t.expand("x `a`").unwrap_err();
        assert_eq!(e.to_string(), "macro cycle: a -> b -> c -> a");
    }

    #[test]
    fn unknown_and_unterminated() {
        let t = MacroTable::default();
        assert_eq!(
            t.expand("ab `nope(2,3)`").unwrap_err(),
            MacroError::Unknown {
                name: "nope".into(),
                arity: 2,
                position: 3
            }
        );
        assert!(matches!(
            t.expand("a `x").unwrap_err(),
            MacroError::Unterminated { position: 2 }
        ));
    }

    #[test]
    fn macros_conf_stanzas() {
        let mut t = MacroTable::default();
        let errs = t.add_conf("# c\n[drop_dm_object_name(1)]\nargs       = object\ndefinition = rename \"$object$.*\" as *\n[plain]\ndefinition = a \\\n b\n[broken]\nargs = x\n", Path::new("m.conf"));
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].to_string().contains("[broken]"));
        assert_eq!(
            t.expand("`drop_dm_object_name(Processes)`").unwrap(),
            "rename \"Processes.*\" as *"
        );
        assert_eq!(t.expand("`plain`").unwrap(), "a \n b");
    }
}
