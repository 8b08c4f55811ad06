//! The regex stages: `regex field="re"` (a filter) and `rex field=x "(?<g>...)"` (named groups
//! become computed fields).

use super::super::error::SplError;
use super::super::expr::{Cond, Ex};
use super::super::pipeline::{quoted_end, unescape_quoted};
use super::env::{resolve_ex, resolve_src, Binding, CompiledSearch};
use super::eval::compile_pcre;

pub(super) fn compile_regex_stage(
    args: &str,
    base: usize,
    out: &mut CompiledSearch,
) -> Result<Cond, SplError> {
    if args.trim_start().starts_with('"') {
        return Err(SplError::unsupported(
            "regex \"...\"",
            base,
            "regex over _raw (no field=) is not row-level CIM data",
        ));
    }
    let (name, negate, pattern, pos) = field_op_value(args, base)?;
    let re = compile_pcre(&pattern, pos)?;
    let src = resolve_src(out, &name, pos)?;
    Ok(Cond::Regex { src, re, negate })
}

/// Reads `name=value` / `name!=value` where value is quoted or bare; returns (name, negated, value, pos).
fn field_op_value(args: &str, base: usize) -> Result<(String, bool, String, usize), SplError> {
    let b = args.as_bytes();
    let name_end = args.find(['=', '!', ' ', '"']).unwrap_or(args.len());
    let name = args[..name_end].trim().to_string();
    let mut i = name_end;
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let negated = args[i..].starts_with("!=");
    if negated {
        i += 2;
    } else if args[i..].starts_with('=') {
        i += 1;
    } else {
        return Err(SplError::unsupported(
            args.chars().take(30).collect::<String>(),
            base,
            "expected `field=\"regex\"`",
        ));
    }
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let value = if b.get(i) == Some(&b'"') {
        let end = quoted_end(b, i)
            .ok_or_else(|| SplError::unsupported("\"", base + i, "unterminated string"))?;
        let v = unescape_quoted(&args[i + 1..end - 1]);
        if !args[end..].trim().is_empty() {
            return Err(SplError::unsupported(
                args[end..].trim(),
                base + end,
                "unexpected text after the regex",
            ));
        }
        v
    } else {
        args[i..].trim().to_string()
    };
    Ok((name, negated, value, base))
}

pub(super) fn compile_rex(
    args: &str,
    base: usize,
    out: &mut CompiledSearch,
) -> Result<(), SplError> {
    let mut field = "_raw".to_string();
    let mut field_at = base;
    let mut pattern = None;
    let b = args.as_bytes();
    let mut i = 0;
    // Whitespace is Unicode whitespace here as in the word search below, so every step
    // consumes at least one character (a vertical tab used to loop forever).
    while let Some(c) = args[i..].chars().next() {
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        if c == '"' {
            let end = quoted_end(b, i)
                .ok_or_else(|| SplError::unsupported("rex", base + i, "unterminated string"))?;
            pattern = Some(unescape_quoted(&args[i + 1..end - 1]));
            i = end;
            continue;
        }
        let end = args[i..]
            .find(char::is_whitespace)
            .map_or(b.len(), |e| i + e);
        let word = &args[i..end];
        if let Some(f) = word.strip_prefix("field=") {
            field = f.to_string();
            field_at = base + i + "field=".len();
        } else if word.starts_with("mode=")
            || word.starts_with("max_match=")
            || word.starts_with("offset_field=")
        {
            // sed mode rewrites the field; max_match makes multivalue groups: refuse both if read later.
            let err =
                SplError::unsupported(format!("rex {word}"), base + i, "rex option not supported");
            out.env.insert(field.clone(), Binding::Invalid(err));
            return Ok(());
        }
        i = end;
    }
    let Some(pattern) = pattern else {
        return Err(SplError::unsupported(
            "rex",
            base,
            "rex without a quoted regex",
        ));
    };
    match compile_pcre(&pattern, base) {
        Ok(re) => {
            let src = resolve_ex(out, &field, field_at);
            for g in re.group_names() {
                let binding = match &src {
                    Ok(ex) => Binding::Expr(Box::new(Ex::RexGroup {
                        src: Box::new(ex.clone()),
                        re: re.clone(),
                        group: g.clone(),
                    })),
                    Err(e) => Binding::Invalid(e.clone()),
                };
                out.env.insert(g, binding);
            }
        }
        Err(e) => {
            // Keep going: the groups are only an error if a later stage reads them.
            for g in named_groups(&pattern) {
                out.env.insert(g, Binding::Invalid(e.clone()));
            }
        }
    }
    Ok(())
}

/// Named groups `(?<name>` / `(?P<name>` of a pattern, found textually.
fn named_groups(pattern: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = pattern;
    while let Some(at) = rest.find("(?") {
        let after = &rest[at + 2..];
        let after = after.strip_prefix('P').unwrap_or(after);
        if let Some(body) = after.strip_prefix('<') {
            if let Some(end) = body.find('>') {
                let n = &body[..end];
                if !n.is_empty() && !n.starts_with(['=', '!']) {
                    names.push(n.to_string());
                }
            }
        }
        rest = &rest[at + 2..];
    }
    names
}
