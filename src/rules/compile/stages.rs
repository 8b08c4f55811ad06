//! The stages after `tstats`, in order: filters add a condition, reshaping stages update the
//! environment, stages that need several rows refuse the rule.

use super::super::error::SplError;
use super::super::eval_lang::{parse_assignments, parse_expr};
use super::super::expr::Cond;
use super::super::pipeline::Stage;
use super::super::search_lang::parse_search_noting;
use super::env::{resolve_src, Binding, CompiledSearch};
use super::eval::compile_ex;
use super::regex_stages::{compile_regex_stage, compile_rex};
use super::reshape::{compile_convert, compile_fields, compile_fillnull, compile_rename};
use super::search::search_to_cond;

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

/// Compiles one later stage; a filter's condition is pushed onto `conds`.
pub(super) fn compile_stage(
    stage: &Stage,
    out: &mut CompiledSearch,
    conds: &mut Vec<Cond>,
) -> Result<(), SplError> {
    let cmd = stage.command.as_str();
    let (args, base) = (stage.args, stage.args_offset);
    if args.contains('[') && !matches!(cmd, "regex" | "rex" | "where" | "eval") {
        return Err(SplError::not_row_level(
            "[subsearch]",
            stage.offset,
            "a subsearch needs other rows or a lookup",
        ));
    }
    match cmd {
        "search" => {
            let parsed = parse_search_noting(args, base)?;
            out.or_in_and.extend(&parsed.or_in_and);
            let cond = search_to_cond(&parsed.ast, &mut |name, pos| resolve_src(out, name, pos))?;
            if !matches!(cond, Cond::True) {
                conds.push(cond);
            }
        }
        "where" => {
            let ex = compile_ex(&parse_expr(args, base)?, out)?;
            conds.push(Cond::Truthy(ex));
        }
        "regex" => conds.push(compile_regex_stage(args, base, out)?),
        "eval" => compile_eval(args, base, out)?,
        "rex" => compile_rex(args, base, out)?,
        "rename" => compile_rename(args, base, out)?,
        "fields" | "table" => compile_fields(cmd, args, out),
        "sort" => compile_sort(stage)?,
        "convert" => compile_convert(args, base, out),
        "fillnull" => compile_fillnull(args, stage.offset, out),
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

/// `eval a=..., b=...`: each name is bound to its expression; one that does not compile is an
/// error only if a later stage reads it.
fn compile_eval(args: &str, base: usize, out: &mut CompiledSearch) -> Result<(), SplError> {
    for (name, ast) in parse_assignments(args, base)? {
        let binding = match compile_ex(&ast, out) {
            Ok(ex) => Binding::Expr(Box::new(ex)),
            Err(e) => Binding::Invalid(e),
        };
        out.env.insert(name, binding);
    }
    Ok(())
}

/// Without a count, sort only reorders rows (the row set is the same); `sort N` or `limit=`
/// keeps the first N rows, which depends on the other rows.
fn compile_sort(stage: &Stage) -> Result<(), SplError> {
    let first = stage.args.split_whitespace().next().unwrap_or("");
    if first.parse::<u64>().is_ok() || stage.args.contains("limit=") {
        return Err(SplError::not_row_level(
            "sort N",
            stage.offset,
            "sort with a count keeps only the first rows",
        ));
    }
    Ok(())
}
