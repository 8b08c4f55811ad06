//! Detection rules: ESCU YAML (ESCU 6 `finding`/`intermediate_findings`, v5 `rba:` and
//! legacy v4 schemas, read into one [`RuleMeta`]) and macros are parsed, the row-level part of
//! each detection's SPL is compiled to native matchers, every rule is evaluated in one pass
//! per row, and matching rows are annotated with ES risk fields.
//!
//! This module knows neither the protocol nor the ingest formats: rows are read through the
//! [`Row`] trait, by slot (the index of a field in [`RuleSet::fields`]).
//!
//! ```text
//! locate ─► RuleSet::load ─► (macros ─► expand) ─► compile ─► Cond per rule
//! row ─► Matcher::match_row (prefilter + Cond) ─► RuleSet::annotate / risk_events
//! ```

mod anchored;
mod annotate;
pub mod cim;
mod compile;
mod coverage;
mod decided;
mod error;
mod eval_lang;
mod expr;
mod glob;
mod lexer;
pub mod lint;
mod locate;
mod macros;
mod matcher;
mod model;
mod optimize;
mod parallel;
mod pcre;
mod pcre_prefilter;
mod pipeline;
mod prefilter;
mod regex_literals;
mod row;
mod ruleset;
mod search_lang;
mod select;
mod shape;
pub mod sigma;

pub use annotate::{render_finding_title, render_messages, Annotation};
pub use compile::{
    compile_search, later_stages_are_formatting_only, search_facts, CompiledSearch, FieldRead,
    FieldSource, FilledField, SearchFacts, Stopped,
};
pub use coverage::{coverage, coverage_with, CoverageEntry, CoverageReport, Outcome};
pub use error::{MacroError, RuleError, SelectionError, SigmaError, SplError, Warning};
pub use glob::{Glob, Globs};
pub use locate::{locate, rule_places, shipped_places, RulePlaces, RULES_DIR_ENV};
pub use macros::{Macro, MacroTable};
pub use matcher::{MatchStats, Matcher};
pub use model::{
    parse_block_yaml, parse_doc, parse_doc_full, rule_meta, EscuSchema, Finding, Ignored,
    IntermediateFinding, Origin, Prose, RawDoc, RawDrilldown, RawFinding, RawIntermediateFindings,
    RawObservable, RawRba, RawRiskObject, RawSchedule, RawTags, RawThreatObject, RiskEntity,
    RiskObjectSpec, RuleMeta, Score, ThreatObjectSpec, KNOWN_KEYS,
};
pub(crate) use parallel::{cores, never_free_loading};
pub use pcre::Pcre;
pub use prefilter::{Place, RequiredLiteral};
pub use row::{bare_field_name, OwnedRow, Row};
pub use ruleset::{Rule, RuleSet, Sources};
pub use search_lang::{parse_search, parse_search_noting, CmpOp, Parsed, SearchAst};
pub use select::{Selected, Selection};
