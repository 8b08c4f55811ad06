//! The bridge between scan and the rules engine: loads the rules and evaluates them on
//! each CIM process row.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::output::{OutputFormat, Render};
use crate::detect::ProcessDetector;
use crate::ingest::ProcessRow;
use crate::rules::sigma::{fields, DataSource, Unmatchable};
use crate::rules::{self, RuleSet};

/// A matching row: the indices of the matched rules (in [`Detector::rule_names`]), their
/// names, and the annotation fields written where the output needs them.
pub(super) type Detection<'d> = crate::detect::Matches<'d>;

/// Names of the annotation fields, in output order (the search command's contract).
pub(super) const ANNOTATION_FIELDS: [&str; 12] = rules::Annotation::FIELDS;

/// How many of the first [`ANNOTATION_FIELDS`] depend only on which rules matched.
pub(super) const IDENTITY_FIELDS: usize = rules::Annotation::IDENTITY_FIELDS;

pub(super) trait Detector: Send {
    fn rule_names(&self) -> &[String];
    /// `None` for a row no rule matches.
    fn detect<'d>(&'d mut self, row: &'d ProcessRow) -> Option<Detection<'d>>;
    /// A detector over the same rules for another thread.
    fn fork(&self) -> Box<dyn Detector>;
    /// The Sigma rules that cannot match on events of `source`, and the fields they need
    /// (nothing for other rules); on the scan's threads when `split`, else on this one.
    fn unmatchable(&self, _source: DataSource, _split: bool) -> Unmatchable {
        Unmatchable::default()
    }
}

/// The summary's line for the `events` events read of `source`, when some Sigma rules
/// cannot match on them.
pub(super) fn sigma_note(
    source: DataSource,
    events: u64,
    unmatchable: &Unmatchable,
) -> Option<String> {
    (!unmatchable.rules.is_empty()).then(|| {
        format!(
            "sigma: on the {events} {} event(s), {unmatchable}",
            source.name()
        )
    })
}

/// Loaded rules plus warnings (rules skipped) to print.
pub(super) struct Loaded {
    pub detector: Box<dyn Detector>,
    pub warnings: Vec<String>,
    /// `--rules` directories that do not exist (exit status 2).
    pub errors: Vec<String>,
    /// Why no rule can be evaluated, when none loaded: scan still reads and counts every
    /// event, and exits 2.
    pub unavailable: Option<String>,
}

/// The loaded rules as a scan's threads share them, once loading is done: each worker
/// matches with a fork of the detector and renders with `render`; the rest is reported
/// before anything else.
pub(super) struct Ready {
    detector: Mutex<Box<dyn Detector>>,
    pub render: Render,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    pub unavailable: Option<String>,
}

impl Ready {
    /// Loads the rules (as [`load`], on `threads` threads) and sizes the output's columns to
    /// their names.
    pub(super) fn load(extra: &[PathBuf], output: OutputFormat, threads: usize) -> Ready {
        let loaded = load(extra, threads);
        Ready {
            render: Render::new(output, loaded.detector.rule_names()),
            detector: Mutex::new(loaded.detector),
            warnings: loaded.warnings,
            errors: loaded.errors,
            unavailable: loaded.unavailable,
        }
    }

    /// A detector over the same rules for one thread.
    pub(super) fn fork(&self) -> Box<dyn Detector> {
        self.detector().fork()
    }

    /// The loaded detector (one thread matches with it, or reads its names and notes).
    pub(super) fn detector(&self) -> MutexGuard<'_, Box<dyn Detector>> {
        self.detector.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Loads the app's rules (`rules::locate`: shipped rules, `<app>/local/rules`,
/// `NETDISCOVER_RULES_DIR`) plus the `--rules` directories, on `threads` threads (the
/// calling one among them); the detector's Sigma notes use as many.
pub(super) fn load(extra: &[PathBuf], threads: usize) -> Loaded {
    let places = rules::locate(extra);
    let (ruleset, warnings) = places.load_on(threads);
    let warnings: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    let unavailable = ruleset.is_empty().then(|| {
        let searched: Vec<String> = places
            .all()
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "no rule loaded (searched: {})",
            if searched.is_empty() {
                "nothing found".to_string()
            } else {
                searched.join(", ")
            }
        )
    });
    let errors = extra
        .iter()
        .filter(|dir| !dir.is_dir())
        .map(|dir| format!("--rules {}: no such directory", dir.display()))
        .collect();
    Loaded {
        detector: Box::new(RulesDetector::new(ruleset, threads)),
        warnings,
        errors,
        unavailable,
    }
}

/// [`RuleSet::sigma_unmatchable`] over every rule, the rules split between `threads` (the
/// summary waits for it, after every row): the parts' rules in order, their field counts
/// added and sorted as one call sorts them.
fn unmatchable_on_threads(
    rules: &RuleSet,
    present: &(dyn Fn(&str) -> bool + Sync),
    threads: usize,
) -> Unmatchable {
    let all: Vec<usize> = (0..rules.len()).collect();
    let cores = threads;
    if cores <= 1 || all.len() < 64 {
        return rules.sigma_unmatchable(&all, present);
    }
    let parts: Vec<Unmatchable> = std::thread::scope(|scope| {
        let handles: Vec<_> = all
            .chunks(all.len().div_ceil(cores))
            .map(|part| scope.spawn(move || rules.sigma_unmatchable(part, present)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    let mut out = Unmatchable::default();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for part in parts {
        out.rules.extend(part.rules);
        for (field, n) in part.fields {
            *counts.entry(field).or_default() += n;
        }
    }
    out.fields = counts.into_iter().collect();
    out.fields
        .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

/// The rules engine over CIM process rows, with the rule names scan reports.
struct RulesDetector {
    names: Arc<[String]>,
    detector: ProcessDetector,
    /// The threads the scan was given (for the Sigma notes).
    threads: usize,
}

impl RulesDetector {
    fn new(rules: RuleSet, threads: usize) -> Self {
        RulesDetector {
            names: rules.rules().iter().map(|r| r.meta.name.clone()).collect(),
            detector: ProcessDetector::new(rules),
            threads,
        }
    }
}

impl Detector for RulesDetector {
    fn rule_names(&self) -> &[String] {
        &self.names
    }

    fn fork(&self) -> Box<dyn Detector> {
        Box::new(RulesDetector {
            names: Arc::clone(&self.names),
            detector: self.detector.fork(),
            threads: self.threads,
        })
    }

    fn unmatchable(&self, source: DataSource, split: bool) -> Unmatchable {
        let present = |sigma: &str| fields::sources_with(sigma).contains(&source);
        let threads = if split { self.threads } else { 1 };
        unmatchable_on_threads(self.detector.rules(), &present, threads)
    }

    fn detect<'d>(&'d mut self, row: &'d ProcessRow) -> Option<Detection<'d>> {
        self.detector.matches(row)
    }
}
