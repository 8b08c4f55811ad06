//! Compiles a macro-expanded ESCU search into one row [`Cond`].
//!
//! The first stage must be `tstats ... from datamodel=Endpoint.Processes [where <pred>] [by ...]`.
//! Later stages are followed in order with an environment of visible field names:
//! filters (`search`, `where`, `regex`) are AND-ed into the condition, `eval`/`rex`/`rename`/
//! `fields`/`table`/`convert`/`fillnull` update the environment (so a later filter reading a
//! renamed or computed field reads the right thing), and stages that need several rows make
//! the whole rule "not row-level". Nothing is ever half-compiled: any error refuses the rule.

//!
//! One file per job: [`tstats`] (the first stage), [`stages`] (the later ones), [`search`]
//! (search language → [`Cond`]), [`eval`] (eval language → [`Ex`](super::expr::Ex)),
//! [`regex_stages`] (`regex`, `rex`), [`reshape`] (`rename`, `fields`, `convert`, ...), and
//! [`env`] (the visible field names and how a read resolves).

mod env;
mod eval;
mod facts;
mod regex_stages;
mod reshape;
mod search;
mod stages;
#[cfg(test)]
mod tests;
mod tstats;

pub use env::CompiledSearch;
pub use facts::{FieldRead, FieldSource, FilledField, SearchFacts, Stopped};

use super::error::SplError;
use super::expr::Cond;
use super::pipeline::split_stages;

/// The only data model the compiler accepts.
pub const DATAMODEL: &str = "Endpoint.Processes";

/// Commands that never change which rows exist (they only reshape fields).
pub const FORMATTING_COMMANDS: &[&str] = &["rename", "fields", "table", "convert", "fillnull"];

/// Classification of the stages after `tstats`, for coverage reporting.
pub fn later_stages_are_formatting_only(expanded: &str) -> bool {
    split_stages(expanded).iter().skip(1).all(|s| {
        FORMATTING_COMMANDS.contains(&s.command.as_str())
            || (s.command == "search" && s.args.trim() == "*")
    })
}

/// Compiles an expanded search.
pub fn compile_search(expanded: &str) -> Result<CompiledSearch, SplError> {
    let mut out = CompiledSearch::empty();
    follow(expanded, &mut out)?;
    Ok(out)
}

/// [`compile_search`] without recording the search's facts (`facts` stays empty): what
/// matching needs, without the allocations of the facts only lint reads.
pub(crate) fn compile_search_unrecorded(expanded: &str) -> Result<CompiledSearch, SplError> {
    let mut out = CompiledSearch::empty();
    out.facts.unrecorded = true;
    follow(expanded, &mut out)?;
    Ok(out)
}

/// The field facts of an expanded search, recorded by the same compilation as
/// [`compile_search`]. When compilation stops (a construct that is not row-level or not
/// supported), the facts hold the reads up to that point, `outputs` is `None` and
/// `stopped` says why.
pub fn search_facts(expanded: &str) -> SearchFacts {
    let mut out = CompiledSearch::empty();
    if let Err(e) = follow(expanded, &mut out) {
        out.facts.outputs = None;
        out.facts.stopped = Some(e.into());
    }
    out.facts
}

/// Follows the stages of `expanded` into `out`: the condition, the environment and the facts.
fn follow(expanded: &str, out: &mut CompiledSearch) -> Result<(), SplError> {
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
    let mut conds = Vec::new();
    out.facts.enter("tstats");
    tstats::compile_tstats(first, out, &mut conds)?;
    for stage in &stages[1..] {
        out.facts.enter(&stage.command);
        stages::compile_stage(stage, out, &mut conds)?;
    }
    out.cond = match conds.len() {
        0 => Cond::True,
        1 => conds.remove(0),
        _ => Cond::And(conds),
    };
    if !out.facts.unrecorded {
        out.facts.outputs = Some(
            out.env
                .iter()
                .map(|(name, binding)| (name.clone(), facts::FieldSource::of(Some(binding))))
                .collect(),
        );
    }
    Ok(())
}
