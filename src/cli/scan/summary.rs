//! The counts a scan ends with.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::rules::sigma::DataSource;

#[derive(Debug, Default)]
pub(super) struct Summary {
    pub files: u64,
    /// Files that could not be opened, or whose format could not be told.
    pub files_failed: u64,
    /// Files whose reading stopped early (I/O error, corrupt compression).
    pub files_cut_short: u64,
    pub records: u64,
    pub process_events: u64,
    /// Skipped (non-process) records by event id.
    pub skipped: BTreeMap<String, u64>,
    pub malformed: u64,
    /// Rows at least one rule matched.
    pub matched_rows: u64,
    /// Matches per rule, by rule name (every loaded rule is listed, 0 included).
    pub per_rule: Vec<(String, u64)>,
    pub rules_note: Option<String>,
    /// Process events by data source (for the Sigma reach notes).
    pub by_source: BTreeMap<DataSource, u64>,
    /// Sigma rules that could not match some of the sources read.
    pub sigma_notes: Vec<String>,
}

/// Above this many rules, rules without matches are counted rather than listed.
const LIST_EVERY_RULE_UP_TO: usize = 40;

impl Summary {
    pub(super) fn render(&self) -> String {
        let mut s = String::new();
        let skipped: u64 = self.skipped.values().sum();
        let _ = writeln!(s, "── summary ──");
        let _ = writeln!(
            s,
            "files: {} read, {} failed, {} cut short",
            self.files - self.files_failed,
            self.files_failed,
            self.files_cut_short
        );
        let _ = writeln!(
            s,
            "events: {} records, {} process events, {} skipped, {} malformed",
            self.records, self.process_events, skipped, self.malformed
        );
        if !self.skipped.is_empty() {
            let by_id: Vec<String> = self
                .skipped
                .iter()
                .map(|(id, n)| format!("{id}: {n}"))
                .collect();
            let _ = writeln!(s, "skipped by event id: {}", by_id.join(", "));
        }
        match &self.rules_note {
            Some(note) => {
                let _ = writeln!(s, "rules: {note}");
            }
            None => {
                let _ = writeln!(s, "matches per rule ({} rules):", self.per_rule.len());
                let width = self
                    .per_rule
                    .iter()
                    .filter(|(_, n)| self.per_rule.len() <= LIST_EVERY_RULE_UP_TO || *n > 0)
                    .map(|(n, _)| n.len())
                    .max()
                    .unwrap_or(0);
                let list_all = self.per_rule.len() <= LIST_EVERY_RULE_UP_TO;
                for (name, count) in &self.per_rule {
                    if list_all || *count > 0 {
                        let _ = writeln!(s, "  {name:<width$}  {count}");
                    }
                }
                let silent = self.per_rule.iter().filter(|(_, n)| *n == 0).count();
                if !list_all && silent > 0 {
                    let _ = writeln!(s, "  ({silent} rules without matches not listed)");
                }
                let _ = writeln!(s, "rows matched: {}", self.matched_rows);
                for note in &self.sigma_notes {
                    let _ = writeln!(s, "{note}");
                }
            }
        }
        s
    }
}
