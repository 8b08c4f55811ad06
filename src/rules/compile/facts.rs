//! What a search reads and what it outputs, recorded by the compiler as it follows the
//! pipeline: every field name a stage reads (with its byte position in the macro-expanded
//! search and what the name refers to at that point), the fields `fillnull` guards, and the
//! fields visible at the end. `netdiscover lint` checks these facts; it never parses SPL itself.
//! The Sigma front door records its rules' facts in the same structure
//! (`rules::sigma::rule_facts`), so lint reads both formats the same way.

use std::collections::BTreeMap;

use super::super::error::{SigmaError, SplError};
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
    /// A field of the event outside the data model, read under its own name: a Sysmon field
    /// with no CIM name that ingest carries as an extra field of the row and the Splunk TA
    /// extracts from raw events (`Description`). Only Sigma rules read these.
    Event(String),
    /// Nothing earlier produces it: null in every row.
    Missing,
}

/// Why the compiler stopped following a rule: an SPL construct it does not follow (ESCU), or
/// a Sigma construct it refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Stopped {
    #[error(transparent)]
    Spl(#[from] SplError),
    #[error(transparent)]
    Sigma(#[from] SigmaError),
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
    pub stopped: Option<Stopped>,
    /// The stage being compiled (set by the stage loop).
    pub(super) stage: String,
    /// Set when nobody reads the facts (compiling rules for matching): nothing is recorded.
    pub(super) unrecorded: bool,
}

impl SearchFacts {
    /// Records a read of `name` at `position` in the current stage, from `source` (called
    /// only when the facts are recorded).
    pub(super) fn read(
        &mut self,
        name: &str,
        position: usize,
        source: impl FnOnce() -> FieldSource,
    ) {
        if self.unrecorded {
            return;
        }
        self.reads.push(FieldRead {
            name: name.to_string(),
            position,
            stage: self.stage.clone(),
            source: source(),
        });
    }

    /// Enters `stage` (a command name), for the reads that follow.
    pub(super) fn enter(&mut self, stage: &str) {
        if !self.unrecorded {
            stage.clone_into(&mut self.stage);
        }
    }

    /// Records that `fillnull` at `position` sets `name`, which was `before`.
    pub(super) fn fill(
        &mut self,
        name: &str,
        position: usize,
        before: impl FnOnce() -> FieldSource,
    ) {
        if !self.unrecorded {
            self.filled.push(FilledField {
                name: name.to_string(),
                position,
                before: before(),
            });
        }
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

#[cfg(test)]
mod tests {
    use super::super::{compile_search, search_facts};
    use super::*;

    #[test]
    fn reads_carry_positions_stages_and_sources() {
        let s = "| tstats count min(_time) AS firstTime, max(_time) AS lastTime from datamodel=Endpoint.Processes where Processes.proces_name=a by Processes.dest Processes.process | rename Processes.* as * | eval l=len(process) | search l>3 cmd=x | fillnull value=u dest";
        let facts = search_facts(s);
        let read = |name: &str| {
            facts
                .reads
                .iter()
                .find(|r| r.name == name)
                .unwrap_or_else(|| panic!("{name} not read: {:?}", facts.reads))
        };
        let time = read("_time");
        assert_eq!(
            (time.stage.as_str(), time.position),
            ("tstats", s.find("_time").unwrap())
        );
        let typo = read("Processes.proces_name");
        assert_eq!(typo.position, s.find("Processes.proces_name").unwrap());
        assert_eq!(typo.source, FieldSource::DataModel("proces_name".into()));
        let by = read("Processes.process");
        assert_eq!(by.position, s.find("Processes.process ").unwrap());
        let eval_read = read("process");
        assert_eq!(eval_read.stage, "eval");
        assert_eq!(eval_read.source, FieldSource::DataModel("process".into()));
        assert_eq!(read("l").source, FieldSource::Computed);
        let missing = read("cmd");
        assert_eq!(
            (missing.stage.as_str(), &missing.source),
            ("search", &FieldSource::Missing)
        );
        // `cmd` is not produced: compilation stops there, so outputs are unknown.
        assert!(facts.stopped.is_some() && facts.outputs.is_none());
    }

    #[test]
    fn outputs_and_fillnull_guards_of_a_compiled_search() {
        let s = "| tstats count min(_time) as firstTime values(Processes.user) as user from datamodel=Endpoint.Processes where Processes.process_name=a by Processes.dest | rename Processes.* as * | fillnull value=unknown dest";
        let facts = compile_search(s).unwrap().facts;
        let outputs = facts.outputs.clone().unwrap();
        assert_eq!(
            outputs["firstTime"],
            FieldSource::Aggregate(Some("_time".into()))
        );
        assert_eq!(outputs["count"], FieldSource::Aggregate(None));
        assert_eq!(outputs["user"], FieldSource::Aggregate(Some("user".into())));
        assert_eq!(outputs["dest"], FieldSource::Rewritten);
        let fill = facts.fill_of("dest").unwrap();
        assert_eq!(fill.before, FieldSource::DataModel("dest".into()));
        assert!(facts.fill_of("user").is_none());
    }
}
