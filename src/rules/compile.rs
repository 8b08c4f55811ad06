//! Compiles a macro-expanded ESCU search into one row [`Cond`].
//!
//! The first stage must be `tstats ... from datamodel=Endpoint.Processes [where <pred>] [by ...]`.
//! Later stages are followed in order with an environment of visible field names:
//! filters (`search`, `where`, `regex`) are AND-ed into the condition, `eval`/`rex`/`rename`/
//! `fields`/`table`/`convert`/`fillnull` update the environment (so a later filter reading a
//! renamed or computed field reads the right thing), and stages that need several rows make
//! the whole rule "not row-level". Nothing is ever half-compiled: any error refuses the rule.

use std::collections::HashMap;

use regex::bytes::{Regex, RegexBuilder};

use super::pcre::Pcre;

use super::error::SplError;
use super::eval_lang::{parse_assignments, parse_expr, BinOp, EvalAst};
use super::expr::{Cond, Ex, Func, Src};
use super::glob::Glob;
use super::pipeline::{quoted_end, split_stages, unescape_quoted, Stage};
use super::search_lang::{parse_search, CmpOp, SearchAst};

/// The only data model the compiler accepts.
pub const DATAMODEL: &str = "Endpoint.Processes";

/// Commands that never change which rows exist (they only reshape fields).
pub const FORMATTING_COMMANDS: &[&str] = &["rename", "fields", "table", "convert", "fillnull"];

/// Commands that need more than one row (or an external table) to decide about a row.
const MULTI_ROW_COMMANDS: &[&str] = &[
    "stats",
    "eventstats",
    "streamstats",
    "join",
    "lookup",
    "inputlookup",
    "outputlookup",
    "transaction",
    "dedup",
    "head",
    "tail",
    "sort",
    "top",
    "rare",
    "append",
    "appendcols",
    "appendpipe",
    "tstats",
    "mstats",
    "chart",
    "timechart",
    "union",
    "map",
    "multisearch",
    "mvexpand",
    "collect",
    "from",
    "datamodel",
    "iplocation",
    "geostats",
    "anomalydetection",
    "outlier",
    "bin",
    "bucket",
    "makeresults",
    "inputcsv",
];

/// What a visible field name refers to at some point of the pipeline.
#[derive(Debug, Clone)]
enum Binding {
    /// A CIM field of the row (bare name, no `Processes.` prefix).
    Field(String),
    /// A computed value (`eval`, `rex`).
    Expr(Ex),
    /// Produced by an aggregation: not a row-level value.
    /// The aggregate's text, and for single-value aggregates (`values(x)`, `min(x)`, ...)
    /// the row field it summarises: the per-row value an output (risk object, message
    /// token) reads, never a filter.
    Aggregate(String, Option<String>),
    /// Defined by a construct we could not compile; an error only if something reads it.
    Invalid(SplError),
}

/// A compiled search: the row condition plus what is needed to resolve output fields.
#[derive(Debug, Clone)]
pub struct CompiledSearch {
    pub cond: Cond,
    /// Local slot → bare CIM field name.
    pub fields: Vec<String>,
    env: HashMap<String, Binding>,
}

impl CompiledSearch {
    fn slot(&mut self, name: &str) -> usize {
        local_slot(&mut self.fields, name)
    }

    /// Resolves a field of the search's *output* (risk object, threat object, message token)
    /// to where its value comes from. Unknown names fall back to the row field of that name.
    pub fn resolve_output(&mut self, name: &str) -> Option<Src> {
        match self.env.get(name).cloned() {
            Some(Binding::Field(f)) => Some(Src::Slot(self.slot(&f))),
            Some(Binding::Expr(e)) => Some(Src::Expr(Box::new(e))),
            Some(Binding::Aggregate(_, Some(field))) => Some(Src::Slot(self.slot(&field))),
            Some(Binding::Aggregate(_, None)) | Some(Binding::Invalid(_)) => None,
            None => {
                let bare = name.strip_prefix("Processes.").unwrap_or(name);
                if bare.contains('.') || bare.contains('*') || bare.is_empty() {
                    None
                } else {
                    Some(Src::Slot(self.slot(bare)))
                }
            }
        }
    }
}

fn local_slot(fields: &mut Vec<String>, name: &str) -> usize {
    if let Some(i) = fields.iter().position(|f| f == name) {
        return i;
    }
    fields.push(name.to_string());
    fields.len() - 1
}

/// Classification of the stages after `tstats`, for coverage reporting.
pub fn later_stages_are_formatting_only(expanded: &str) -> bool {
    split_stages(expanded).iter().skip(1).all(|s| {
        FORMATTING_COMMANDS.contains(&s.command.as_str())
            || (s.command == "search" && s.args.trim() == "*")
    })
}

/// Compiles an expanded search.
pub fn compile_search(expanded: &str) -> Result<CompiledSearch, SplError> {
    let stages = split_stages(expanded);
    let Some(first) = stages.first() else {
        return Err(SplError::unsupported(
            "<empty search>",
            0,
            "the search is empty",
        ));
    };
    if first.command != "tstats" {
        return Err(SplError::unsupported(
            first.command.clone(),
            first.offset,
            "the search must start with `| tstats ... from datamodel=Endpoint.Processes`",
        ));
    }
    let mut out = CompiledSearch {
        cond: Cond::True,
        fields: Vec::new(),
        env: HashMap::new(),
    };
    let mut conds = Vec::new();
    compile_tstats(first, &mut out, &mut conds)?;
    for stage in &stages[1..] {
        compile_stage(stage, &mut out, &mut conds)?;
    }
    out.cond = match conds.len() {
        0 => Cond::True,
        1 => conds.remove(0),
        _ => Cond::And(conds),
    };
    Ok(out)
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
fn find_keyword(text: &str, kw: &str, from: usize) -> Option<usize> {
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

fn compile_tstats(
    stage: &Stage,
    out: &mut CompiledSearch,
    conds: &mut Vec<Cond>,
) -> Result<(), SplError> {
    let args = stage.args;
    let base = stage.args_offset;
    let from = find_keyword(args, "from", 0).ok_or_else(|| {
        SplError::unsupported("tstats", stage.offset, "no `from datamodel=...` clause")
    })?;
    // Aggregations (`count`, `min(_time) as firstTime`, `values(x) as y`): their outputs are not row values.
    let head = &args[..from];
    let words: Vec<&str> = head.split_whitespace().collect();
    for (i, w) in words.iter().enumerate() {
        if w.eq_ignore_ascii_case("as") {
            if let Some(name) = words.get(i + 1) {
                let source = i.checked_sub(1).and_then(|j| per_row_source(words[j]));
                out.env.insert(
                    name.trim_matches('"').to_string(),
                    Binding::Aggregate(name.to_string(), source),
                );
            }
        } else {
            let is_option = w.contains('=');
            let is_alias = i > 0 && words[i - 1].eq_ignore_ascii_case("as");
            let has_alias = words
                .get(i + 1)
                .is_some_and(|n| n.eq_ignore_ascii_case("as"));
            if is_option || is_alias || has_alias {
                continue;
            }
            out.env
                .insert(w.to_string(), Binding::Aggregate(w.to_string(), None));
        }
    }
    let after_from = from + 4;
    let rest = args[after_from..].trim_start();
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
    let mut cursor = rest_at + dm_end;
    let where_at = find_keyword(args, "where", cursor);
    let by_at = find_keyword(args, "by", where_at.unwrap_or(cursor));
    if let Some(w) = where_at {
        let between = args[cursor..w].trim();
        if !between.is_empty() {
            return Err(SplError::unsupported(
                between,
                base + cursor,
                "unexpected tstats option",
            ));
        }
        let pred_start = w + 5;
        let pred_end = by_at.unwrap_or(args.len());
        let pred = &args[pred_start..pred_end];
        let ast = parse_search(pred, base + pred_start)?;
        let fields = &mut out.fields;
        let cond = search_to_cond(&ast, &mut |name, pos| {
            let bare = name.strip_prefix("Processes.").unwrap_or(name);
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
        })?;
        conds.push(cond);
        cursor = pred_end;
    } else if let Some(b) = by_at {
        let between = args[cursor..b].trim();
        if !between.is_empty() {
            return Err(SplError::unsupported(
                between,
                base + cursor,
                "unexpected tstats option",
            ));
        }
    }
    if let Some(b) = by_at {
        for name in args[b + 2..]
            .split(|c: char| c.is_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
        {
            if name.contains('=') {
                continue; // span=1h
            }
            let bare = name.strip_prefix("Processes.").unwrap_or(name);
            out.env
                .insert(name.to_string(), Binding::Field(bare.to_string()));
        }
    } else if where_at.is_none() {
        let tail = args[cursor..].trim();
        if !tail.is_empty() {
            return Err(SplError::unsupported(
                tail,
                base + cursor,
                "unexpected tstats option",
            ));
        }
    }
    Ok(())
}

fn compile_stage(
    stage: &Stage,
    out: &mut CompiledSearch,
    conds: &mut Vec<Cond>,
) -> Result<(), SplError> {
    let cmd = stage.command.as_str();
    let args = stage.args;
    let base = stage.args_offset;
    if args.contains('[') && !matches!(cmd, "regex" | "rex" | "where" | "eval") {
        return Err(SplError::not_row_level(
            "[subsearch]",
            stage.offset,
            "a subsearch needs other rows or a lookup",
        ));
    }
    match cmd {
        "search" => {
            let ast = parse_search(args, base)?;
            let cond = search_to_cond(&ast, &mut |name, pos| resolve_src(out, name, pos))?;
            if !matches!(cond, Cond::True) {
                conds.push(cond);
            }
        }
        "where" => {
            let ast = parse_expr(args, base)?;
            let ex = compile_ex(&ast, out)?;
            conds.push(Cond::Truthy(ex));
        }
        "regex" => conds.push(compile_regex_stage(args, base, out)?),
        "eval" => {
            for (name, ast) in parse_assignments(args, base)? {
                let binding = match compile_ex(&ast, out) {
                    Ok(ex) => Binding::Expr(ex),
                    Err(e) => Binding::Invalid(e),
                };
                out.env.insert(name, binding);
            }
        }
        "rex" => compile_rex(args, base, out)?,
        "rename" => compile_rename(args, base, out)?,
        "fields" | "table" => compile_fields(cmd, args, out),
        "sort" => {
            // Without a count, sort only reorders rows (the row set is the same); `sort N` or
            // `limit=` keeps the first N rows, which depends on the other rows.
            let first = args.split_whitespace().next().unwrap_or("");
            if first.parse::<u64>().is_ok() || args.contains("limit=") {
                return Err(SplError::not_row_level(
                    "sort N",
                    stage.offset,
                    "sort with a count keeps only the first rows",
                ));
            }
        }
        "convert" => {
            // `convert [timeformat=...] ctime(x) [as y]`: the converted field is a formatted value.
            for part in args.split_whitespace() {
                if let (Some(open), true) = (part.find('('), part.ends_with(')')) {
                    let field = &part[open + 1..part.len() - 1];
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
        "fillnull" => {
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
                out.env.insert(
                    k,
                    Binding::Invalid(SplError::unsupported(
                        "fillnull",
                        stage.offset,
                        "field rewritten by fillnull",
                    )),
                );
            }
        }
        _ if MULTI_ROW_COMMANDS.contains(&cmd) => {
            return Err(SplError::not_row_level(
                cmd,
                stage.offset,
                "this command needs more than one row or an external table",
            ));
        }
        _ => {
            return Err(SplError::unsupported(
                cmd,
                stage.offset,
                "unknown or unsupported command",
            ))
        }
    }
    Ok(())
}

/// Resolves a field read by a filter stage through the environment.
fn resolve_src(out: &mut CompiledSearch, name: &str, pos: usize) -> Result<Src, SplError> {
    match resolve_ex(out, name, pos)? {
        Ex::Field(slot) => Ok(Src::Slot(slot)),
        other => Ok(Src::Expr(Box::new(other))),
    }
}

fn resolve_ex(out: &mut CompiledSearch, name: &str, pos: usize) -> Result<Ex, SplError> {
    match out.env.get(name).cloned() {
        Some(Binding::Field(f)) => Ok(Ex::Field(out.slot(&f))),
        Some(Binding::Expr(e)) => Ok(e),
        Some(Binding::Aggregate(a, _)) => Err(SplError::not_row_level(
            name,
            pos,
            format!("`{a}` is an aggregate computed by tstats over several rows"),
        )),
        Some(Binding::Invalid(e)) => Err(e),
        None => Err(SplError::unsupported(
            name,
            pos,
            "field is not produced by the earlier stages",
        )),
    }
}

fn search_to_cond(
    ast: &SearchAst,
    resolve: &mut dyn FnMut(&str, usize) -> Result<Src, SplError>,
) -> Result<Cond, SplError> {
    Ok(match ast {
        SearchAst::MatchAll => Cond::True,
        SearchAst::And(items) => Cond::And(
            items
                .iter()
                .map(|a| search_to_cond(a, resolve))
                .collect::<Result<_, _>>()?,
        ),
        SearchAst::Or(items) => Cond::Or(
            items
                .iter()
                .map(|a| search_to_cond(a, resolve))
                .collect::<Result<_, _>>()?,
        ),
        SearchAst::Not(inner) => Cond::Not(Box::new(search_to_cond(inner, resolve)?)),
        SearchAst::Cmp {
            field,
            op,
            value,
            position,
        } => {
            let src = resolve(field, *position)?;
            match op {
                CmpOp::Eq => Cond::Glob {
                    src,
                    pat: Glob::new(value),
                },
                CmpOp::Ne => Cond::NotGlob {
                    src,
                    pat: Glob::new(value),
                },
                _ => Cond::Order {
                    src,
                    op: *op,
                    value: value.as_bytes().to_vec(),
                    num: super::expr::parse_num(value.as_bytes()),
                },
            }
        }
        SearchAst::In {
            field,
            values,
            position,
        } => {
            let src = resolve(field, *position)?;
            Cond::Or(
                values
                    .iter()
                    .map(|v| Cond::Glob {
                        src: src.clone(),
                        pat: Glob::new(v),
                    })
                    .collect(),
            )
        }
    })
}

/// Compiles a PCRE pattern as used by Splunk (`regex`, `rex`, `match()`, `replace()`).
fn compile_pcre(pattern: &str, pos: usize) -> Result<Pcre, SplError> {
    Pcre::new(pattern, pos)
}

fn like_to_regex(pattern: &str, pos: usize) -> Result<Regex, SplError> {
    let mut re = String::from("(?s)^");
    for c in pattern.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    RegexBuilder::new(&re)
        .build()
        .map_err(|e| SplError::unsupported(format!("like {pattern}"), pos, e.to_string()))
}

fn literal_str(ast: &EvalAst, what: &str, pos: usize) -> Result<String, SplError> {
    match ast {
        EvalAst::Str(s) => Ok(s.clone()),
        _ => Err(SplError::unsupported(
            what,
            pos,
            "the pattern must be a string literal",
        )),
    }
}

fn compile_ex(ast: &EvalAst, out: &mut CompiledSearch) -> Result<Ex, SplError> {
    Ok(match ast {
        EvalAst::Num(n) => Ex::Num(*n),
        EvalAst::Str(s) => Ex::Str(s.as_bytes().to_vec()),
        EvalAst::Field { name, position } => resolve_ex(out, name, *position)?,
        EvalAst::Not(e) => Ex::Not(Box::new(compile_ex(e, out)?)),
        EvalAst::Neg(e) => Ex::Neg(Box::new(compile_ex(e, out)?)),
        EvalAst::Bin {
            op: BinOp::Like,
            left,
            right,
        } => {
            let pat = literal_str(right, "LIKE", 0)?;
            Ex::Like(Box::new(compile_ex(left, out)?), like_to_regex(&pat, 0)?)
        }
        EvalAst::Bin { op, left, right } => Ex::Bin(
            *op,
            Box::new(compile_ex(left, out)?),
            Box::new(compile_ex(right, out)?),
        ),
        EvalAst::Call {
            name,
            args,
            position,
        } => {
            let pos = *position;
            let want = |n: usize| -> Result<(), SplError> {
                if args.len() == n {
                    Ok(())
                } else {
                    Err(SplError::unsupported(
                        format!("{name}()"),
                        pos,
                        format!("expects {n} argument(s), got {}", args.len()),
                    ))
                }
            };
            match name.as_str() {
                "match" => {
                    want(2)?;
                    let re = compile_pcre(&literal_str(&args[1], "match()", pos)?, pos)?;
                    Ex::Match(Box::new(compile_ex(&args[0], out)?), re)
                }
                "like" => {
                    want(2)?;
                    let re = like_to_regex(&literal_str(&args[1], "like()", pos)?, pos)?;
                    Ex::Like(Box::new(compile_ex(&args[0], out)?), re)
                }
                "replace" => {
                    want(3)?;
                    let re = compile_pcre(&literal_str(&args[1], "replace()", pos)?, pos)?;
                    let rep = pcre_replacement(&literal_str(&args[2], "replace()", pos)?);
                    Ex::Replace(Box::new(compile_ex(&args[0], out)?), re, rep.into_bytes())
                }
                other => {
                    let f = Func::by_name(other).ok_or_else(|| {
                        SplError::unsupported(
                            format!("{other}()"),
                            pos,
                            "eval function not supported",
                        )
                    })?;
                    let (min, max) = f.arity();
                    if args.len() < min || args.len() > max {
                        return Err(SplError::unsupported(
                            format!("{other}()"),
                            pos,
                            "wrong number of arguments",
                        ));
                    }
                    Ex::Call(
                        f,
                        args.iter()
                            .map(|a| compile_ex(a, out))
                            .collect::<Result<_, _>>()?,
                    )
                }
            }
        }
    })
}

/// Splunk's `replace()` writes groups as `\1`; the regex crate wants `${1}`.
fn pcre_replacement(rep: &str) -> String {
    let mut out = String::new();
    let mut chars = rep.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(char::is_ascii_digit) => {
                let d = chars.next().unwrap_or('0');
                out.push_str(&format!("${{{d}}}"));
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
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

fn compile_regex_stage(
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

fn compile_rex(args: &str, base: usize, out: &mut CompiledSearch) -> Result<(), SplError> {
    let mut field = "_raw".to_string();
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
            let src = resolve_ex(out, &field, base);
            for g in re.group_names() {
                let binding = match &src {
                    Ok(ex) => Binding::Expr(Ex::RexGroup {
                        src: Box::new(ex.clone()),
                        re: re.clone(),
                        group: g.clone(),
                    }),
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

/// Splunk wildcard rename: `*` in the source captures, `*` in the target inserts the capture.
fn compile_rename(args: &str, base: usize, out: &mut CompiledSearch) -> Result<(), SplError> {
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
    for (from, to) in pairs {
        let moved: Vec<(String, String, Binding)> = match from.split_once('*') {
            Some((pre, suf)) => out
                .env
                .iter()
                .filter(|(k, _)| {
                    k.len() >= pre.len() + suf.len() && k.starts_with(pre) && k.ends_with(suf)
                })
                .map(|(k, v)| {
                    (
                        k.clone(),
                        to.replacen('*', &k[pre.len()..k.len() - suf.len()], 1),
                        v.clone(),
                    )
                })
                .collect(),
            None => out
                .env
                .get(&from)
                .map(|v| vec![(from.clone(), to.clone(), v.clone())])
                .unwrap_or_default(),
        };
        // Remove every source first, then insert the targets (a wildcard rename may overlap itself).
        for (old, _, _) in &moved {
            out.env.remove(old);
        }
        for (_, new, v) in moved {
            out.env.insert(new, v);
        }
    }
    Ok(())
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

fn compile_fields(cmd: &str, args: &str, out: &mut CompiledSearch) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tstats_predicate_and_by_clause() {
        let s = r#"| tstats summariesonly=false count min(_time) as firstTime from datamodel=Endpoint.Processes where (Processes.process_name="netstat.exe") (Processes.process=*-a*) by Processes.dest Processes.process | rename "Processes.*" as * | search *"#;
        let c = compile_search(s).unwrap();
        assert_eq!(c.fields, vec!["process_name", "process"]);
        assert!(later_stages_are_formatting_only(s));
    }

    #[test]
    fn where_after_rename_follows_the_field() {
        let s = "| tstats count from datamodel=Endpoint.Processes where Processes.process_name=a by Processes.process | rename Processes.process as cmd | where match(cmd, \"x\")";
        let mut c = compile_search(s).unwrap();
        assert_eq!(c.fields, vec!["process_name", "process"]);
        assert!(matches!(c.resolve_output("cmd"), Some(Src::Slot(1))));
    }

    #[test]
    fn refusals() {
        let agg =
            "| tstats count from datamodel=Endpoint.Processes by Processes.dest | where count > 5";
        let e = compile_search(agg).unwrap_err();
        assert!(e.is_not_row_level() && e.construct() == "count", "{e:?}");
        let join = "| tstats count from datamodel=Endpoint.Processes by Processes.dest | join dest [| tstats count from datamodel=X]";
        assert!(compile_search(join).unwrap_err().is_not_row_level());
        let dm = "| tstats count from datamodel=Endpoint.Filesystem where Filesystem.file_name=x";
        assert_eq!(
            compile_search(dm).unwrap_err().construct(),
            "datamodel=Endpoint.Filesystem"
        );
        let unknown =
            "| tstats count from datamodel=Endpoint.Processes by Processes.dest | frobnicate x";
        let e = compile_search(unknown).unwrap_err();
        assert!(
            matches!(e, SplError::Unsupported { ref construct, position: 69, .. } if construct == "frobnicate"),
            "{e:?}"
        );
    }

    #[test]
    fn eval_used_by_later_filter_is_followed() {
        let s = "| tstats count from datamodel=Endpoint.Processes by Processes.process_name | rename Processes.* as * | eval l=len(process_name) | search l=5";
        let c = compile_search(s).unwrap();
        assert!(matches!(
            c.cond,
            Cond::Glob {
                src: Src::Expr(_),
                ..
            }
        ));
        let bad = "| tstats count from datamodel=Endpoint.Processes by Processes.process_name | rename Processes.* as * | eval l=frob(process_name) | search l=5";
        assert_eq!(compile_search(bad).unwrap_err().construct(), "frob()");
        let unused = "| tstats count from datamodel=Endpoint.Processes by Processes.process_name | rename Processes.* as * | eval l=frob(process_name)";
        assert!(compile_search(unused).is_ok());
    }
}

#[cfg(test)]
mod output_tests {
    use super::*;

    #[test]
    fn outputs_read_per_row_values_of_single_value_aggregates() {
        let s = "| tstats values(Processes.user) as user count from datamodel=Endpoint.Processes where Processes.process_name=a by Processes.dest | rename Processes.* as *";
        let mut c = compile_search(s).unwrap();
        assert!(matches!(c.resolve_output("user"), Some(Src::Slot(_))));
        assert_eq!(c.fields.last().map(String::as_str), Some("user"));
        assert!(c.resolve_output("count").is_none());
        let filter = format!("{s} | search user=bob");
        assert!(
            compile_search(&filter).unwrap_err().is_not_row_level(),
            "filters on aggregates stay refused"
        );
    }
}
