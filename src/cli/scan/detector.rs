//! The bridge between scan and the rules engine: loads the rules and evaluates them on
//! each CIM process row.

use std::path::PathBuf;

use crate::ingest::ProcessRow;

/// What a matching row gets: the indices of the matched rules (in [`Detector::rule_names`])
/// and the annotation fields in output order (every one may be multivalue).
pub(super) struct Detection {
    pub rules: Vec<usize>,
    pub fields: Vec<(&'static str, Vec<String>)>,
}

/// Names of the annotation fields, in output order (the search command's contract).
pub(super) const ANNOTATION_FIELDS: [&str; 11] = [
    "detection",
    "detection_id",
    "detection_type",
    "mitre_attack_id",
    "analytic_story",
    "risk_score",
    "risk_object",
    "risk_object_type",
    "risk_message",
    "threat_object",
    "threat_object_type",
];

pub(super) trait Detector {
    fn rule_names(&self) -> &[String];
    /// `None` for a row no rule matches.
    fn detect(&mut self, row: &ProcessRow) -> Option<Detection>;
}

/// Loaded rules, or why there are none, plus warnings (rules skipped) to print.
pub(super) struct Loaded {
    pub detector: Box<dyn Detector>,
    pub warnings: Vec<String>,
    /// Set when no rule engine is available: scan still reads and counts every event.
    pub unavailable: Option<String>,
}

/// Loads the shipped rules plus `extra` directories.
pub(super) fn load(_extra: &[PathBuf]) -> Loaded {
    Loaded {
        detector: Box::new(NoRules { names: Vec::new() }),
        warnings: Vec::new(),
        unavailable: Some(
            "the rules engine is not wired into scan yet: no rule was evaluated".into(),
        ),
    }
}

struct NoRules {
    names: Vec<String>,
}

impl Detector for NoRules {
    fn rule_names(&self) -> &[String] {
        &self.names
    }

    fn detect(&mut self, _row: &ProcessRow) -> Option<Detection> {
        None
    }
}
