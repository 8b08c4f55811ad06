//! A lint run's findings, as text lines (one per finding, then the counts) or JSON.

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::{Finding, Location, Severity};

/// Every finding of a run, sorted by file, then position.
#[derive(Debug, Clone, Default)]
pub struct LintReport {
    pub findings: Vec<Finding>,
    /// Detections read (ESCU detections and Sigma rules).
    pub detections: usize,
    /// Of them, Sigma rules.
    pub sigma: usize,
    /// Detections whose search the compiler followed to the end, and Sigma rules that
    /// compiled (every check applied).
    pub followed: usize,
}

impl LintReport {
    pub(super) fn sort(&mut self) {
        self.findings.sort_by(|a, b| {
            (&a.file, a.position, a.severity, a.code)
                .cmp(&(&b.file, b.position, b.severity, b.code))
        });
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    /// Findings by code, for the summary.
    pub fn by_code(&self) -> Vec<(Severity, &'static str, usize)> {
        let mut counts: Vec<(Severity, &'static str, usize)> = Vec::new();
        for f in &self.findings {
            match counts
                .iter_mut()
                .find(|(s, c, _)| *s == f.severity && *c == f.code)
            {
                Some(entry) => entry.2 += 1,
                None => counts.push((f.severity, f.code, 1)),
            }
        }
        counts.sort();
        counts
    }

    /// One line per finding (notes only when `notes`), then the summary.
    pub fn text(&self, notes: bool) -> String {
        let mut out = String::new();
        for f in &self.findings {
            if f.severity == Severity::Note && !notes {
                continue;
            }
            let _ = writeln!(out, "{}", line(f));
        }
        let (sigma, compiled) = if self.sigma > 0 {
            (format!(" ({} Sigma rules)", self.sigma), " or compiled")
        } else {
            (String::new(), "")
        };
        let _ = writeln!(
            out,
            "{} detections{sigma}, {} followed to the end of the search{compiled}: {} errors, {} warnings, {} notes",
            self.detections,
            self.followed,
            self.count(Severity::Error),
            self.count(Severity::Warning),
            self.count(Severity::Note)
        );
        for (severity, code, n) in self.by_code() {
            let _ = writeln!(out, "  {n:5}  {} {code}", severity.name());
        }
        out
    }

    pub fn json(&self) -> Value {
        let findings: Vec<Value> = self
            .findings
            .iter()
            .map(|f| {
                json!({
                    "severity": f.severity.name(),
                    "code": f.code,
                    "file": f.file.display().to_string(),
                    "rule": f.rule,
                    "field": f.field,
                    "position": f.position,
                    "location": f.location.as_ref().map(ToString::to_string),
                    "message": f.message,
                    "suggestion": f.suggestion,
                })
            })
            .collect();
        json!({
            "detections": self.detections,
            "sigma_rules": self.sigma,
            "followed": self.followed,
            "errors": self.count(Severity::Error),
            "warnings": self.count(Severity::Warning),
            "notes": self.count(Severity::Note),
            "findings": findings,
        })
    }
}

/// `error[unknown-field] FILE: rule `R`: field `F` at byte N of the expanded search (LOCATION):
/// MESSAGE; did you mean `S`?`
pub fn line(f: &Finding) -> String {
    let mut s = format!("{}[{}] {}", f.severity.name(), f.code, f.file.display());
    if !f.rule.is_empty() {
        let _ = write!(s, ": rule `{}`", f.rule);
    }
    match (f.position, &f.location) {
        (Some(_), Some(line @ Location::Line { .. })) => {
            let _ = write!(s, ": {line}");
        }
        (Some(position), location) => {
            let _ = write!(s, ": byte {position} of the expanded search");
            if let Some(location) = location {
                let _ = write!(s, " ({location})");
            }
        }
        (None, _) => {}
    }
    let _ = write!(s, ": {}", f.message);
    if let Some(suggestion) = &f.suggestion {
        if suggestion.contains(' ') {
            let _ = write!(s, "; try `{suggestion}`");
        } else {
            let _ = write!(s, "; did you mean `{suggestion}`?");
        }
    }
    s
}
