//! What a search reads and what it outputs, recorded by the compiler as it follows the
//! pipeline: every field name a stage reads (with its byte position in the macro-expanded
//! search and what the name refers to at that point), the fields `fillnull` guards, and the
//! fields visible at the end. `netdiscover lint` checks these facts; it never parses SPL itself.

use std::collections::BTreeMap;

use super::super::error::SplError;
use super::env::Binding;

/// What a field name refers to where it is read (or at the end of the search).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSource {
    /// A field of the Endpoint.Processes data model (bare name, no `Processes.` prefix).
    DataModel(String),
    /// A value an earlier stage computed (`eval`, `rex`).
    Computed,
    /// An aggregate of `tstats` (`count`, `min(_time) as firstTime`); for a single-value
    /// aggregate of a data-model field (`values(Processes.user) as user`), that field.
    Aggregate(Option<String>),
    /// Reformatted or rewritten by an earlier stage (`convert`, `fillnull`, a `rex` or `eval`
    /// that could not be compiled): the name exists but not as a row value.
    Rewritten,
    /// Nothing earlier produces it: null in every row.
    Missing,
}

impl FieldSource {
    pub(super) fn of(binding: Option<&Binding>) -> FieldSource {
        match binding {
            Some(Binding::Field(f)) => FieldSource::DataModel(f.clone()),
            Some(Binding::Expr(_)) => FieldSource::Computed,
            Some(Binding::Aggregate(_, source)) => FieldSource::Aggregate(source.clone()),
            Some(Binding::Invalid(_)) => FieldSource::Rewritten,
            None => FieldSource::Missing,
        }
    }
}

/// One field name read by the search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRead {
    /// The name as written (`Processes.process_name`, `cmd`).
    pub name: String,
    /// Byte offset of the name in the macro-expanded search.
    pub position: usize,
    /// The command reading it (`tstats`, `search`, `where`, `eval`, `rex`, `rename`, ...).
    pub stage: String,
    pub source: FieldSource,
}

/// A field `fillnull` sets when it is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilledField {
    pub name: String,
    /// Byte offset of the `fillnull` stage.
    pub position: usize,
    /// What the name referred to before the fill.
    pub before: FieldSource,
}

/// Everything recorded about a search's fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFacts {
    pub reads: Vec<FieldRead>,
    pub filled: Vec<FilledField>,
    /// The fields visible after the last stage, by name; `None` when compilation stopped
    /// before the end (then only `reads` up to `stopped` are known).
    pub outputs: Option<BTreeMap<String, FieldSource>>,
    /// Why the compiler stopped following the pipeline, if it did.
    pub stopped: Option<SplError>,
    /// The stage being compiled (set by the stage loop).
    pub(super) stage: String,
}

impl SearchFacts {
    /// Records a read of `name` at `position` in the current stage.
    pub(super) fn read(&mut self, name: &str, position: usize, source: FieldSource) {
        self.reads.push(FieldRead {
            name: name.to_string(),
            position,
            stage: self.stage.clone(),
            source,
        });
    }

    /// The fillnull guarding output `name`, if any.
    pub fn fill_of(&self, name: &str) -> Option<&FilledField> {
        self.filled.iter().find(|f| f.name == name)
    }
}

/// Byte offset of `part` (a sub-slice of `whole`) inside `whole`.
pub(super) fn offset_in(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}
