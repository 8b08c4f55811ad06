//! Coverage of the compiler over a directory of ESCU detections and Sigma rules: which
//! compile, which are not row-level or out of scope, which hit unsupported constructs, the
//! construct that stopped each, every key or block the loader read past (an error under
//! `strict`), and for Sigma rules which data sources they can match.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::compile::later_stages_are_formatting_only;
use super::error::{RuleError, Warning};
use super::ruleset::{compile_rule, Sources};
use super::sigma::{self, DataSource, Reach};

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
    /// A Sigma rule for another logsource than process creation (the logsource).
    OutOfScope(String),
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
    /// A Sigma rule (else ESCU).
    pub sigma: bool,
    /// For a compiled Sigma rule: its reach on every data source.
    pub reach: Vec<(DataSource, Reach)>,
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
    /// Sigma rules out of scope (another logsource than process creation).
    pub fn out_of_scope(&self) -> usize {
        self.entries
            .iter()
            .filter(|e| matches!(e.outcome, Outcome::OutOfScope(_)))
            .count()
    }
    /// The Sigma entries.
    pub fn sigma(&self) -> impl Iterator<Item = &CoverageEntry> {
        self.entries.iter().filter(|e| e.sigma)
    }
    /// Compiled Sigma rules that cannot match on `source`.
    pub fn sigma_cannot_match(&self, source: DataSource) -> usize {
        self.sigma()
            .filter(|e| {
                e.reach
                    .iter()
                    .any(|(s, r)| *s == source && matches!(r, Reach::Cannot(_)))
            })
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
        if self.sigma().next().is_some() {
            write_sigma(f, self)?;
        }
        let mut by_construct: BTreeMap<(String, String), usize> = BTreeMap::new();
        for e in &self.entries {
            let kind = match &e.outcome {
                Outcome::Compiled => continue,
                Outcome::NotRowLevel(_) => "not row-level",
                Outcome::Unsupported(_) => "unsupported",
                Outcome::Invalid(_) => "invalid",
                Outcome::OutOfScope(_) => "out of scope",
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
                Outcome::OutOfScope(_) => {}
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

/// The Sigma part of the report: totals, out-of-scope logsources, and per data source how
/// many compiled rules cannot match there (and the fields they miss).
fn write_sigma(f: &mut fmt::Formatter<'_>, report: &CoverageReport) -> fmt::Result {
    let total = report.sigma().count();
    let compiled = report
        .sigma()
        .filter(|e| e.outcome == Outcome::Compiled)
        .count();
    writeln!(
        f,
        "  Sigma rules:                 {total}, compiled {compiled}, out of scope {}",
        report.out_of_scope()
    )?;
    let mut logsources: BTreeMap<&str, usize> = BTreeMap::new();
    for e in report.sigma() {
        if let Outcome::OutOfScope(l) = &e.outcome {
            *logsources.entry(l).or_default() += 1;
        }
    }
    for (logsource, n) in logsources {
        writeln!(f, "    out of scope {n:4}  {logsource}")?;
    }
    writeln!(f, "Sigma rules by data source (compiled {compiled}):")?;
    for source in DataSource::ALL {
        let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
        let (mut degraded, mut cannot) = (0, 0);
        for (_, reach) in report
            .sigma()
            .flat_map(|e| &e.reach)
            .filter(|(s, _)| *s == source)
        {
            match reach {
                Reach::Full => {}
                Reach::Degraded(_) => degraded += 1,
                Reach::Cannot(fields) => {
                    cannot += 1;
                    fields
                        .iter()
                        .for_each(|m| *missing.entry(m).or_default() += 1);
                }
            }
        }
        let fields: Vec<String> = missing.iter().map(|(m, n)| format!("{m} {n}")).collect();
        writeln!(
            f,
            "  {:32} can match {:4}; cannot {:4}{}; reads fields it lacks but can match {degraded}",
            source.name(),
            compiled - cannot,
            cannot,
            if fields.is_empty() {
                String::new()
            } else {
                format!(" (needs {})", fields.join(", "))
            }
        )?;
    }
    Ok(())
}

/// Compiles every detection and Sigma rule under `detections` with the macros (and
/// `sigma_settings`) under `macro_places` (plus the built-in Splunk_SA_CIM macros) and
/// reports the outcome of each.
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
            sigma: false,
            reach: Vec::new(),
            ignored,
        });
    }
    let settings = if corpus.sigma_settings == Default::default() {
        &sources.sigma_settings
    } else {
        &corpus.sigma_settings
    };
    for (path, rule) in &corpus.sigma {
        report.entries.push(sigma_entry(path, rule, settings));
    }
    report.warnings = warnings.iter().map(|w| w.to_string()).collect();
    report
}

fn sigma_entry(
    path: &Path,
    rule: &sigma::SigmaRule,
    settings: &sigma::SigmaSettings,
) -> CoverageEntry {
    let mut reach = Vec::new();
    let (outcome, construct) = match sigma::compile_rule(path, rule, settings) {
        Ok((compiled, _)) => {
            if let Some(info) = &compiled.sigma {
                reach = DataSource::ALL
                    .iter()
                    .map(|&s| (s, info.reach(s)))
                    .collect();
            }
            (Outcome::Compiled, String::new())
        }
        Err(RuleError::OutOfScope { logsource, .. }) => {
            (Outcome::OutOfScope(logsource), "logsource".to_string())
        }
        Err(RuleError::Sigma { source, .. }) => {
            (Outcome::Unsupported(source.to_string()), source.construct)
        }
        Err(other) => (Outcome::Invalid(other.to_string()), "yaml".to_string()),
    };
    CoverageEntry {
        file: path.to_path_buf(),
        rule: rule.title.clone(),
        formatting_only: false,
        construct,
        outcome,
        sigma: true,
        reach,
        ignored: Vec::new(),
    }
}
