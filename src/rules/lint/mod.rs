//! `netdiscover lint`: what breaks a detection silently in Splunk and ES, found from the
//! compiler's own facts about each search ([`super::compile::search_facts`]):
//!
//! - every field a rule reads (the `tstats` predicate, aggregations and `by` clause, later
//!   stages) is checked against the CIM Endpoint.Processes field list ([`cim`]) and against
//!   what the earlier stages output (after `rename`/`eval`/`rex`); an unknown field is an
//!   error naming the rule, the field and its position, with a "did you mean";
//! - risk-message `$tokens$` and risk/threat object fields the search does not output, or
//!   that the data sources can leave empty and no `fillnull` guards, are warnings;
//! - metadata that breaks ES (missing or duplicate id, scores out of range, unknown
//!   detection type, ...) is an error.
//!
//! A search the compiler does not follow to its end (not row-level, unsupported) gets a note;
//! its reads up to that point are still checked.
//!
//! Sigma rules are checked from the same facts, which the Sigma front door records
//! ([`sigma`](self::sigma) has the Sigma-specific checks).

mod escu6;
mod fields;
mod location;
mod meta;
mod outputs;
mod report;
mod sigma;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::compile::search_facts;
use super::error::Warning;
use super::model::{classify, rule_meta, DocKind, RawDoc};
use super::ruleset::Sources;

pub use super::cim;
pub use location::Location;
pub use report::LintReport;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
    /// Information (a search the compiler does not follow to the end); never fails a run.
    Note,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// One problem found in one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    /// A stable short name (`unknown-field`, `token-not-output`, `duplicate-id`, ...).
    pub code: &'static str,
    pub file: PathBuf,
    pub rule: String,
    /// The field concerned, as written.
    pub field: Option<String>,
    /// Byte offset in the macro-expanded search.
    pub position: Option<usize>,
    /// The same position in the rule's own `search` text.
    pub location: Option<Location>,
    pub message: String,
    /// "did you mean": the closest known field.
    pub suggestion: Option<String>,
}

/// Which CIM fields each data source fills, by data-source name as ESCU writes it in
/// `data_source:` (`Sysmon EventID 1`). A field a rule's data source never fills can be
/// empty in that rule's results.
#[derive(Debug, Clone, Default)]
pub struct DataSourceFields {
    by_name: HashMap<String, BTreeSet<String>>,
    /// The data sources, as inserted.
    names: Vec<String>,
}

impl DataSourceFields {
    pub fn insert(&mut self, data_source: &str, fields: impl IntoIterator<Item = String>) {
        let key = data_source.trim().to_ascii_lowercase();
        if !self.by_name.contains_key(&key) {
            self.names.push(data_source.trim().to_string());
        }
        self.by_name.insert(key, fields.into_iter().collect());
    }

    /// Every known data source (a Sigma rule of `process_creation` applies to them all).
    pub fn names(&self) -> Vec<String> {
        self.names.clone()
    }

    /// The fields `data_source` fills; for `A AND B` (ESCU's multi-source entries) those of
    /// the first part that is known. `None` when no part is known.
    pub fn fills(&self, data_source: &str) -> Option<&BTreeSet<String>> {
        data_source
            .split(" AND ")
            .find_map(|part| self.by_name.get(&part.trim().to_ascii_lowercase()))
    }
}

/// What lint knows besides the rules.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    pub data_sources: DataSourceFields,
}

/// What lint reads from a detection besides the rule model: its `data_source:` list and
/// its ESCU 6 risk keys.
#[derive(Debug, Deserialize, Default)]
struct Extras {
    #[serde(default)]
    data_source: Vec<String>,
    #[serde(flatten)]
    escu6: escu6::Escu6Keys,
}

/// Lints every detection below `dirs` (with the macros found there and the built-in
/// Splunk_SA_CIM ones).
pub fn lint_dirs(dirs: &[PathBuf], options: &LintOptions) -> LintReport {
    let mut warnings: Vec<Warning> = Vec::new();
    let mut sources = Sources::new();
    for dir in dirs {
        sources.add_dir(dir, &mut warnings);
    }
    let mut report = LintReport::default();
    report.findings.extend(warnings.iter().map(load_problem));
    report
        .findings
        .extend(meta::duplicate_ids(&identities(&sources)));
    for (path, doc) in &sources.detections {
        report.detections += 1;
        if lint_detection(path, doc, &sources, options, &mut report.findings) {
            report.followed += 1;
        }
    }
    for (path, rule) in &sources.sigma {
        report.detections += 1;
        report.sigma += 1;
        if sigma::lint_rule(path, rule, &sources, options, &mut report.findings) {
            report.followed += 1;
        }
    }
    report.sort();
    report
}

/// The id of every ESCU detection and Sigma rule, for the duplicate check across formats.
fn identities(sources: &Sources) -> Vec<meta::Identity<'_>> {
    let escu = sources.detections.iter().map(|(path, doc)| meta::Identity {
        file: path,
        id: doc.id.as_deref(),
        rule: doc.name.as_deref().unwrap_or(""),
    });
    let sigma = sources.sigma.iter().map(|(path, rule)| meta::Identity {
        file: path,
        id: rule.id.as_deref(),
        rule: &rule.title,
    });
    escu.chain(sigma).collect()
}

/// A file the loader could not read (YAML, macros.conf): an error, since Splunk cannot load
/// it either.
fn load_problem(w: &Warning) -> Finding {
    let file = w.error.path().map(Path::to_path_buf).unwrap_or_default();
    Finding {
        severity: Severity::Error,
        code: "unreadable",
        file,
        rule: String::new(),
        field: None,
        position: None,
        location: None,
        message: w.error.to_string(),
        suggestion: None,
    }
}

/// Lints one detection; returns whether its search was followed to the end.
fn lint_detection(
    path: &Path,
    doc: &RawDoc,
    sources: &Sources,
    options: &LintOptions,
    out: &mut Vec<Finding>,
) -> bool {
    if !matches!(classify(doc), DocKind::Detection) {
        return false;
    }
    let rule = doc
        .name
        .clone()
        .unwrap_or_else(|| path.display().to_string());
    let finding = |severity, code, message: String| Finding {
        severity,
        code,
        file: path.to_path_buf(),
        rule: rule.clone(),
        field: None,
        position: None,
        location: None,
        message,
        suggestion: None,
    };
    let extras = read_extras(path);
    let problems = if extras.escu6.is_escu6() {
        let mut p = meta::check_identity(doc);
        p.extend(extras.escu6.check(doc.kind.as_deref().unwrap_or("")));
        p
    } else {
        meta::check(doc)
    };
    out.extend(
        problems
            .into_iter()
            .map(|(code, message)| finding(Severity::Error, code, message)),
    );
    let search = doc.search.as_deref().unwrap_or("");
    let expanded = match sources.macros.expand(search) {
        Ok(e) => e,
        Err(e) => {
            out.push(finding(Severity::Error, "macro", e.to_string()));
            return false;
        }
    };
    let facts = search_facts(&expanded);
    let map = location::PositionMap::build(search, &sources.macros).unwrap_or_default();
    let locate = |position: usize| map.locate(position);
    let context = fields::Context {
        file: path,
        rule: &rule,
        locate: &locate,
    };
    out.extend(fields::check(&facts, &context));
    if let Some(stopped) = &facts.stopped {
        out.push(finding(
            Severity::Note,
            "not-followed",
            format!("{stopped}; the fields read after it and the outputs are not checked"),
        ));
        return false;
    }
    if let Ok((meta, _)) = rule_meta(doc) {
        out.extend(outputs::check(
            &meta,
            &facts,
            &extras.data_source,
            &options.data_sources,
            &context,
        ));
    }
    true
}

fn read_extras(path: &Path) -> Extras {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|text| serde_yaml::from_str::<Extras>(&text).ok())
        .unwrap_or_default()
}
