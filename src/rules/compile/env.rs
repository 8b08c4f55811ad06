//! The environment of visible field names a pipeline builds up stage by stage, and how a
//! name read by a filter or an output resolves through it.

use std::collections::HashMap;

use super::super::error::SplError;
use super::super::expr::{Cond, Ex, Src};
use super::super::prefilter::FastHash;
use super::facts::{FieldSource, SearchFacts};

/// What a visible field name refers to at some point of the pipeline.
#[derive(Debug, Clone)]
pub(super) enum Binding {
    /// A CIM field of the row (bare name, no `Processes.` prefix).
    Field(String),
    /// A computed value (`eval`, `rex`), boxed: an expression is large (a regex inline), and
    /// the environment moves its bindings on every insert and rename.
    Expr(Box<Ex>),
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
    /// Positions (in the expanded search) of each search-language `OR` that sits unparenthesized
    /// in an AND list: where the predicate's meaning rests on OR binding tighter than AND.
    pub or_in_and: Vec<usize>,
    /// Hashed with [`FastHash`]: the names are the search's own, and a rule's compilation
    /// looks them up many times.
    pub(super) env: HashMap<String, Binding, FastHash>,
    /// The fields the search reads and outputs (for `netdiscover lint`).
    pub facts: SearchFacts,
}

impl CompiledSearch {
    pub(super) fn empty() -> CompiledSearch {
        CompiledSearch {
            cond: Cond::True,
            fields: Vec::new(),
            or_in_and: Vec::new(),
            // A data-model search binds its twenty-odd `by` fields first: sized for them at
            // once rather than grown four times (a rehash each, for every rule).
            env: HashMap::with_capacity_and_hasher(32, FastHash),
            facts: SearchFacts::default(),
        }
    }

    pub(super) fn slot(&mut self, name: &str) -> usize {
        local_slot(&mut self.fields, name)
    }

    /// Resolves a field of the search's *output* (risk object, threat object, message token)
    /// to where its value comes from. Unknown names fall back to the row field of that name.
    pub fn resolve_output(&mut self, name: &str) -> Option<Src> {
        // The binding is read in place (the field list is apart from the environment).
        let fields = &mut self.fields;
        match self.env.get(name) {
            Some(Binding::Field(f)) => Some(Src::Slot(local_slot(fields, f))),
            Some(Binding::Expr(e)) => Some(Src::Expr(e.clone())),
            Some(Binding::Aggregate(_, Some(field))) => Some(Src::Slot(local_slot(fields, field))),
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

/// The local slot of row field `name`, added on first use.
pub(super) fn local_slot(fields: &mut Vec<String>, name: &str) -> usize {
    if let Some(i) = fields.iter().position(|f| f == name) {
        return i;
    }
    fields.push(name.to_string());
    fields.len() - 1
}

/// Resolves a field read by a filter stage through the environment.
pub(super) fn resolve_src(
    out: &mut CompiledSearch,
    name: &str,
    pos: usize,
) -> Result<Src, SplError> {
    match resolve_ex(out, name, pos)? {
        Ex::Field(slot) => Ok(Src::Slot(slot)),
        other => Ok(Src::Expr(Box::new(other))),
    }
}

/// Resolves a field read by an expression through the environment.
pub(super) fn resolve_ex(out: &mut CompiledSearch, name: &str, pos: usize) -> Result<Ex, SplError> {
    out.facts
        .read(name, pos, || FieldSource::of(out.env.get(name)));
    let fields = &mut out.fields;
    match out.env.get(name) {
        Some(Binding::Field(f)) => Ok(Ex::Field(local_slot(fields, f))),
        Some(Binding::Expr(e)) => Ok(Ex::clone(e)),
        Some(Binding::Aggregate(a, _)) => Err(SplError::not_row_level(
            name,
            pos,
            format!("`{a}` is an aggregate computed by tstats over several rows"),
        )),
        Some(Binding::Invalid(e)) => Err(e.clone()),
        None => Err(SplError::unsupported(
            name,
            pos,
            "field is not produced by the earlier stages",
        )),
    }
}
