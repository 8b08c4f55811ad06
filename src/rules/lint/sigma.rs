//! Sigma rules in `netdiscover lint`, checked from the facts the Sigma front door records in
//! the compiler's own [`SearchFacts`](super::super::compile::SearchFacts)
//! ([`sigma::rule_facts`]), with the checks ESCU detections get where they apply:
//!
//! - metadata the Sigma specification and ES need (errors): an `id` that is present and a
//!   UUID (duplicates across ESCU and Sigma are found with the detections'), a known `level`
//!   and `status`, and `attack.tNNNN` tags that are ATT&CK technique ids;
//! - the fields the detection reads ([`fields::check_sigma`]): each must be one the process
//!   row carries under the mapping (a CIM Endpoint.Processes field or an event field ingest
//!   carries);
//! - the fields ES reads from the annotation (risk objects, message tokens), as for ESCU
//!   ([`outputs::check`]);
//! - per data source, whether the rule can match its rows at all: the front door's own reach
//!   ([`SigmaInfo::reach`](super::super::sigma::SigmaInfo::reach)), a note per data source
//!   that lacks fields the rule needs, an error when no data source has them.

use std::path::Path;

use super::super::model::RuleMeta;
use super::super::ruleset::Sources;
use super::super::sigma::{self, DataSource, Reach, SigmaInfo, SigmaRule};
use super::{fields, meta, outputs, Finding, LintOptions, Location, Severity};

/// Sigma levels (specification, "Level"; the rule JSON schema's `level` values).
const LEVELS: &[&str] = &["informational", "low", "medium", "high", "critical"];

/// Sigma statuses (specification, "Status"; the rule JSON schema's `status` values).
const STATUSES: &[&str] = &[
    "stable",
    "test",
    "experimental",
    "deprecated",
    "unsupported",
];

/// Lints one Sigma rule; returns whether it compiled (every check applied).
pub fn lint_rule(
    path: &Path,
    rule: &SigmaRule,
    sources: &Sources,
    options: &LintOptions,
    out: &mut Vec<Finding>,
) -> bool {
    let finding = |severity, code, field: Option<String>, message: String| Finding {
        severity,
        code,
        file: path.to_path_buf(),
        rule: rule.title.clone(),
        field,
        position: None,
        location: None,
        message,
        suggestion: None,
    };
    out.extend(
        metadata(rule)
            .into_iter()
            .map(|(code, message)| finding(Severity::Error, code, None, message)),
    );
    // The loader has just read the file; if it is gone now, positions fall back to byte 0.
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let facts = sigma::rule_facts(path, &text, rule, &sources.sigma_settings);
    let locate = |byte: usize| Location::line_of(&text, byte);
    let cx = fields::Context {
        file: path,
        rule: &rule.title,
        locate: &locate,
    };
    out.extend(fields::check_sigma(&facts.facts, &cx));
    if let Some(stopped) = &facts.facts.stopped {
        let code = if sigma::fields::in_scope(rule) {
            "not-followed"
        } else {
            "out-of-scope"
        };
        out.push(finding(
            Severity::Note,
            code,
            None,
            format!("{stopped}; the rule is not loaded, its fields are checked but not its reach"),
        ));
        return false;
    }
    out.extend(outputs::check(
        &without_title(&facts.meta, &rule.title),
        &facts.facts,
        &options.data_sources.names(),
        &options.data_sources,
        &cx,
    ));
    if let Some(info) = &facts.info {
        out.extend(
            reach(info)
                .into_iter()
                .map(|(severity, code, field, message)| finding(severity, code, field, message)),
        );
    }
    true
}

/// The metadata problems of a Sigma rule, as (code, message).
pub fn metadata(rule: &SigmaRule) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match rule.id.as_deref().map(str::trim) {
        None | Some("") => out.push((
            "missing-id",
            "no `id`: the rule's detection_id is then its path (`sigma:<path>`), so its ES risk and findings history breaks when the file moves".to_string(),
        )),
        Some(id) if !meta::is_uuid(id) => out.push((
            "bad-id",
            format!("`id: {id}` is not a UUID (the Sigma rule schema's `id` has format uuid)"),
        )),
        Some(_) => {}
    }
    // The loader reads `level` case-insensitively (as pySigma does); so does this check.
    if let Some(level) = rule.level.as_deref().filter(|l| !LEVELS.contains(l)) {
        out.push((
            "unknown-level",
            format!(
                "`level: {level}` is not a Sigma level ({}): the rule is scored as medium and its detection_type is `sigma:{level}`",
                LEVELS.join(", ")
            ),
        ));
    }
    if let Some(status) = rule
        .status
        .as_deref()
        .filter(|s| !STATUSES.contains(&s.to_ascii_lowercase().as_str()))
    {
        out.push((
            "unknown-status",
            format!(
                "`status: {status}` is not a Sigma status ({})",
                STATUSES.join(", ")
            ),
        ));
    }
    out.extend(
        rule.tags
            .iter()
            .filter(|t| looks_like_technique(t) && !is_technique_tag(t))
            .map(|t| {
                (
                    "bad-attack-tag",
                    format!("tag `{t}` is not an ATT&CK technique id (`attack.t` and 4 digits, then optionally `.` and 3 digits, lower case): its mitre_attack_id and Navigator layer entry are wrong"),
                )
            }),
    );
    out
}

/// `attack.t` (or `T`) followed by a digit: a tag meant as a technique.
fn looks_like_technique(tag: &str) -> bool {
    let Some(rest) = tag.strip_prefix("attack.") else {
        return false;
    };
    let mut chars = rest.chars();
    matches!(chars.next(), Some('t' | 'T')) && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// `attack.tNNNN` or `attack.tNNNN.NNN` (the tags appendix: `t1234` refers to a technique;
/// tags are lower case in the rule schema's pattern).
fn is_technique_tag(tag: &str) -> bool {
    let Some(id) = tag.strip_prefix("attack.t") else {
        return false;
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match id.split_once('.') {
        None => digits(id, 4),
        Some((technique, sub)) => digits(technique, 4) && digits(sub, 3),
    }
}

/// The rule's metadata with its title cut out of the messages: the annotation builds them
/// from the title as text, so a `$` in a title is no token.
fn without_title(meta: &RuleMeta, title: &str) -> RuleMeta {
    let mut meta = meta.clone();
    if let Some(finding) = &mut meta.finding {
        finding.title = finding.title.replace(title, "");
    }
    for i in &mut meta.intermediate_findings {
        i.message = i.message.replace(title, "");
    }
    meta
}

/// Which data sources' rows the rule cannot match, from the front door's reach: a note for
/// each such source, or one error when it is every source that serves the rule's product.
fn reach(info: &SigmaInfo) -> Vec<(Severity, &'static str, Option<String>, String)> {
    let product = info.logsource.product.as_deref();
    let serving: Vec<DataSource> = DataSource::ALL
        .into_iter()
        .filter(|s| s.serves(product))
        .collect();
    let cannot: Vec<(DataSource, Vec<String>)> = serving
        .iter()
        .filter_map(|&source| match info.reach(source) {
            Reach::Cannot(fields) => Some((source, fields)),
            _ => None,
        })
        .collect();
    if cannot.len() == serving.len() {
        let mut fields: Vec<String> = cannot.iter().flat_map(|(_, f)| f.clone()).collect();
        fields.sort();
        fields.dedup();
        let names: Vec<&str> = serving.iter().map(|s| s.name()).collect();
        return vec![(
            Severity::Error,
            "never-matches",
            fields.first().cloned(),
            format!(
                "the rule cannot match the rows of any data source netdiscover reads ({}): none of them carries {}, which it needs",
                names.join(", "),
                quoted(&fields)
            ),
        )];
    }
    cannot
        .into_iter()
        .map(|(source, fields)| {
            (
                Severity::Note,
                "cannot-match",
                fields.first().cloned(),
                format!(
                    "the rule cannot match {} rows: they never carry {}, which it needs",
                    source.name(),
                    quoted(&fields)
                ),
            )
        })
        .collect()
}

/// `` `A`, `B` ``.
fn quoted(fields: &[String]) -> String {
    fields
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::super::sigma::parse_rule;
    use super::*;

    fn codes(head: &str) -> Vec<&'static str> {
        let text = format!("{head}logsource:\n    category: process_creation\ndetection:\n    sel:\n        Image: x\n    condition: sel\n");
        metadata(&parse_rule(&text).unwrap())
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    }

    #[test]
    fn sigma_metadata_problems() {
        let ok = "title: T\nid: 929a690e-bef0-4204-a928-ef5e620d6fcc\nstatus: test\nlevel: High\ntags:\n    - attack.t1059.001\n    - attack.execution\n    - attack.g0010\n";
        assert!(codes(ok).is_empty(), "{:?}", codes(ok));
        assert_eq!(codes("title: T\n"), vec!["missing-id"]);
        assert_eq!(codes(&ok.replace("929a690e-", "929a690e")), vec!["bad-id"]);
        assert_eq!(
            codes(&ok.replace("level: High", "level: severe")),
            vec!["unknown-level"]
        );
        assert_eq!(
            codes(&ok.replace("status: test", "status: testing")),
            vec!["unknown-status"]
        );
        for bad in [
            "attack.t1059.1",
            "attack.t10590",
            "attack.T1059",
            "attack.t1059-001",
        ] {
            assert_eq!(
                codes(&ok.replace("attack.t1059.001", bad)),
                vec!["bad-attack-tag"],
                "{bad}"
            );
        }
    }
}
