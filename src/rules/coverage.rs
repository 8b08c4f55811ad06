//! Coverage of the compiler over a directory of ESCU detections: which compile, which are
//! not row-level, which hit unsupported SPL, the construct that stopped each, and every key
//! or block the loader read past (an error under `strict`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::compile::later_stages_are_formatting_only;
use super::error::{RuleError, Warning};
use super::ruleset::{compile_rule, Sources};

/// The outcome for one detection.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Compiled,
    /// Valid SPL that needs more than one row (construct, detail).
    NotRowLevel(String),
    /// SPL the compiler does not implement (construct, detail).
    Unsupported(String),
    /// Macro or YAML problem, or (strict) a key or block read past.
    Invalid(String),
}

/// One detection's coverage line.
#[derive(Debug, Clone, PartialEq)]
pub struct CoverageEntry {
    pub file: PathBuf,
    pub rule: String,
    /// Every stage after `tstats` only reshapes fields.
    pub formatting_only: bool,
    /// The construct that stopped compilation (empty when compiled).
    pub construct: String,
    pub outcome: Outcome,
    /// Keys or blocks of the file the loader read past, as warning lines.
    pub ignored: Vec<String>,
}

/// Coverage over a corpus.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CoverageReport {
    pub entries: Vec<CoverageEntry>,
    /// Problems reading the corpus or its macros.
    pub warnings: Vec<String>,
}

impl CoverageReport {
    pub fn total(&self) -> usize {
        self.entries.len()
    }
    pub fn compiled(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.outcome == Outcome::Compiled)
            .count()
    }
    pub fn formatting_only(&self) -> usize {
        self.entries.iter().filter(|e| e.formatting_only).count()
    }
    pub fn formatting_only_compiled(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| e.formatting_only && e.outcome == Outcome::Compiled)
            .count()
    }
    pub fn not_row_level(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::NotRowLevel(_)))
            .count()
    }
    /// Keys or blocks read past, over every rule.
    pub fn ignored(&self) -> usize {
        self.entries.iter().map(|e| e.ignored.len()).sum()
    }
    pub fn unsupported(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::Unsupported(_) | Outcome::Invalid(_)))
            .count()
    }
    /// Compiled share of the corpus, in percent.
    pub fn compiled_percent(&self) -> f64 {
        if self.entries.is_empty() {
            return 0.0;
        }
        100.0 * self.compiled() as f64 / self.total() as f64
    }
}

impl fmt::Display for CoverageReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "netdiscover rule coverage")?;
        writeln!(f, "  detections:                  {}", self.total())?;
        writeln!(
            f,
            "  compiled:                    {} ({:.1}%)",
            self.compiled(),
            self.compiled_percent()
        )?;
        writeln!(
            f,
            "  formatting-only later stages: {} of which compiled {}",
            self.formatting_only(),
            self.formatting_only_compiled()
        )?;
        writeln!(f, "  not row-level:               {}", self.not_row_level())?;
        writeln!(f, "  unsupported / invalid:       {}", self.unsupported())?;
        writeln!(f, "  keys or blocks ignored:      {}", self.ignored())?;
        let mut by_construct: BTreeMap<(String, String), usize> = BTreeMap::new();
        for e in &self.entries {
            let kind = match &e.outcome {
                Outcome::Compiled => continue,
                Outcome::NotRowLevel(_) => "not row-level",
                Outcome::Unsupported(_) => "unsupported",
                Outcome::Invalid(_) => "invalid",
            };
            let key: String = e.construct.chars().take(40).collect();
            *by_construct.entry((kind.to_string(), key)).or_default() += 1;
        }
        writeln!(f, "stopping constructs:")?;
        for ((kind, construct), n) in &by_construct {
            writeln!(f, "  {n:4}  {kind:14} {construct}")?;
        }
        writeln!(f, "rules not compiled:")?;
        for e in &self.entries {
            match &e.outcome {
                Outcome::Compiled => {}
                Outcome::NotRowLevel(d) => writeln!(f, "  [not row-level] {}: {}", e.rule, d)?,
                Outcome::Unsupported(d) => writeln!(f, "  [unsupported]   {}: {}", e.rule, d)?,
                Outcome::Invalid(d) => writeln!(f, "  [invalid]       {}: {}", e.rule, d)?,
            }
        }
        for line in self.entries.iter().flat_map(|e| &e.ignored) {
            writeln!(f, "{line}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

/// Compiles every detection under `detections` with the macros under `macro_places`
/// (plus the built-in Splunk_SA_CIM macros) and reports the outcome of each.
pub fn coverage(detections: &Path, macro_places: &[PathBuf]) -> CoverageReport {
    coverage_with(detections, macro_places, false)
}

/// [`coverage`]; with `strict`, a rule whose file has a key or block the loader reads past
/// (an unknown top-level key, `rba:` on a Hunting rule, ...) counts as invalid.
pub fn coverage_with(detections: &Path, macro_places: &[PathBuf], strict: bool) -> CoverageReport {
    let mut warnings: Vec<Warning> = Vec::new();
    let mut sources = Sources::new();
    for place in macro_places {
        sources.add_dir(place, &mut warnings);
    }
    let mut corpus = Sources::new();
    corpus.add_dir(detections, &mut warnings);
    let mut report = CoverageReport::default();
    for (path, doc) in &corpus.detections {
        let name = doc
            .name
            .clone()
            .unwrap_or_else(|| path.display().to_string());
        let formatting_only = sources
            .macros
            .expand(doc.search.as_deref().unwrap_or(""))
            .map(|s| later_stages_are_formatting_only(&s))
            .unwrap_or(false);
        let mut ignored = Vec::new();
        let (outcome, construct) = match compile_rule(path, doc, &sources.macros) {
            Ok((rule, _, notes)) => {
                ignored = notes
                    .into_iter()
                    .map(|note| Warning::ignored(&rule, note).to_string())
                    .collect();
                match ignored.first() {
                    Some(first) if strict => (
                        Outcome::Invalid(format!("strict: {first}")),
                        "ignored key".to_string(),
                    ),
                    _ => (Outcome::Compiled, String::new()),
                }
            }
            Err(RuleError::Spl { source, .. }) if source.is_not_row_level() => (
                Outcome::NotRowLevel(source.to_string()),
                source.construct().to_string(),
            ),
            Err(RuleError::Spl { source, .. }) => (
                Outcome::Unsupported(source.to_string()),
                source.construct().to_string(),
            ),
            Err(RuleError::Macro { source, .. }) => {
                (Outcome::Invalid(source.to_string()), "macro".to_string())
            }
            Err(other) => (Outcome::Invalid(other.to_string()), "yaml".to_string()),
        };
        report.entries.push(CoverageEntry {
            file: path.clone(),
            rule: name,
            formatting_only,
            construct,
            outcome,
            ignored,
        });
    }
    report.warnings = warnings.iter().map(|w| w.to_string()).collect();
    report
}
