//! Detection metadata that breaks ES or the content tooling, checked on the YAML as written:
//! id and name present, id a UUID and unique, `type` one of ESCU's four, risk scores within
//! range, risk object types ES knows, a risk block where the type needs one and none where
//! it forbids one. Sources: contentctl's detection model and `rba.py` (v5), contentctl-ng's
//! (ESCU 6), summarised in `../shared/docs/escu-content.md` §6 and `escu6-and-es8.md` §1.

use std::collections::HashMap;
use std::path::Path;

use super::super::model::RawDoc;
use super::{Finding, Severity};

/// ESCU detection types (contentctl `AnalyticsType`, contentctl-ng `DetectionAnalyticsType`).
const TYPES: &[&str] = &["TTP", "Anomaly", "Hunting", "Correlation"];

/// ES risk object types (`risk_object_type`).
const RISK_OBJECT_TYPES: &[&str] = &["system", "user", "other"];

/// Threat object types of contentctl (`rba.py` `ThreatObjectType`) and contentctl-ng.
const THREAT_OBJECT_TYPES: &[&str] = &[
    "bucket_name",
    "certificate_common_name",
    "certificate_organization",
    "certificate_serial",
    "certificate_unit",
    "command",
    "dns_query",
    "domain",
    "email_address",
    "email_subject",
    "file_hash",
    "file_name",
    "file_path",
    "http_user_agent",
    "ip_address",
    "loaded_file",
    "parent_process",
    "parent_process_name",
    "parent_process_path",
    "pipe_name",
    "process",
    "process_hash",
    "process_name",
    "process_path",
    "registry_key_name",
    "registry_path",
    "registry_value_data",
    "registry_value_name",
    "registry_value_text",
    "service",
    "signature",
    "system",
    "tls_hash",
    "uri",
    "url",
    "user",
];

/// The metadata problems of one detection, as (code, message).
pub fn check(doc: &RawDoc) -> Vec<(&'static str, String)> {
    let mut out = check_identity(doc);
    risk_block(doc, doc.kind.as_deref().unwrap_or(""), &mut out);
    out
}

/// Name, id and type: the same in every schema.
pub fn check_identity(doc: &RawDoc) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if doc.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        out.push(("missing-name", "no `name`".to_string()));
    }
    match doc.id.as_deref().map(str::trim) {
        None | Some("") => out.push((
            "missing-id",
            "no `id`: ES and contentctl key every detection by its UUID".to_string(),
        )),
        Some(id) if !is_uuid(id) => out.push(("bad-id", format!("`id: {id}` is not a UUID"))),
        Some(_) => {}
    }
    let kind = doc.kind.as_deref().unwrap_or("");
    if kind.is_empty() {
        out.push(("unknown-type", "no `type`".to_string()));
    } else if !TYPES.contains(&kind) {
        out.push((
            "unknown-type",
            format!(
                "unknown detection type `{kind}` (expected one of {})",
                TYPES.join(", ")
            ),
        ));
    }
    out
}

/// Scores, risk and threat object types, and whether the type carries risk.
fn risk_block(doc: &RawDoc, kind: &str, out: &mut Vec<(&'static str, String)>) {
    let carries_risk = kind == "TTP" || kind == "Anomaly";
    let legacy = doc
        .tags
        .as_ref()
        .filter(|t| t.impact.is_some() || t.confidence.is_some());
    match (&doc.rba, legacy) {
        (Some(rba), _) => {
            if kind == "Hunting" && !(rba.risk_objects.is_empty() && rba.threat_objects.is_empty())
            {
                out.push((
                    "hunting-risk",
                    "a Hunting detection has risk or threat objects (contentctl rejects them; ES writes no risk for Hunting)".into(),
                ));
            }
            if carries_risk && rba.risk_objects.is_empty() {
                out.push((
                    "missing-risk",
                    format!("a {kind} detection has no risk object: ES writes no risk event"),
                ));
            }
            for r in &rba.risk_objects {
                if !(1.0..=100.0).contains(&r.score) || r.score.fract() != 0.0 {
                    out.push((
                        "score-range",
                        format!(
                            "risk object `{}` has score {} (a whole number 1..100 is required)",
                            r.field, r.score
                        ),
                    ));
                }
                if !RISK_OBJECT_TYPES.contains(&r.kind.as_str()) {
                    out.push((
                        "risk-object-type",
                        format!(
                            "risk object `{}` has type `{}` (ES knows system, user, other)",
                            r.field, r.kind
                        ),
                    ));
                }
            }
            for t in &rba.threat_objects {
                if !THREAT_OBJECT_TYPES.contains(&t.kind.as_str()) {
                    out.push((
                        "threat-object-type",
                        format!("threat object `{}` has unknown type `{}`", t.field, t.kind),
                    ));
                }
            }
        }
        (None, Some(tags)) => {
            for (what, value) in [("impact", tags.impact), ("confidence", tags.confidence)] {
                match value {
                    Some(v) if !(0.0..=100.0).contains(&v) => out.push((
                        "score-range",
                        format!("`tags.{what}: {v}` is outside 0..100"),
                    )),
                    None if carries_risk => out.push((
                        "score-range",
                        format!("`tags.{what}` is missing: the legacy risk score is impact × confidence / 100"),
                    )),
                    _ => {}
                }
            }
        }
        (None, None) if carries_risk => out.push((
            "missing-risk",
            format!("a {kind} detection has no `rba:` block: ES writes no risk event"),
        )),
        (None, None) => {}
    }
}

/// `8-4-4-4-12` hexadecimal digits.
pub(super) fn is_uuid(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Who carries an id: a detection or a Sigma rule.
pub struct Identity<'a> {
    pub file: &'a Path,
    pub id: Option<&'a str>,
    pub rule: &'a str,
}

/// Rules sharing an id (case-insensitively), ESCU and Sigma alike: an error on each, naming
/// the others. The loader keeps only the last of them, so the others never run.
pub fn duplicate_ids(rules: &[Identity<'_>]) -> Vec<Finding> {
    let mut by_id: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, rule) in rules.iter().enumerate() {
        if let Some(id) = rule.id.map(str::trim).filter(|s| !s.is_empty()) {
            by_id.entry(id.to_ascii_lowercase()).or_default().push(i);
        }
    }
    let mut out = Vec::new();
    for (id, users) in by_id.into_iter().filter(|(_, u)| u.len() > 1) {
        for &i in &users {
            let others: Vec<String> = users
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| rules[j].file.display().to_string())
                .collect();
            out.push(Finding {
                severity: Severity::Error,
                code: "duplicate-id",
                file: rules[i].file.to_path_buf(),
                rule: rules[i].rule.to_string(),
                field: None,
                position: None,
                location: None,
                message: format!(
                    "id {id} is also the id of {} (only one of them is loaded)",
                    others.join(", ")
                ),
                suggestion: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::super::model::parse_doc;
    use super::*;

    fn codes(yaml: &str) -> Vec<&'static str> {
        check(&parse_doc(yaml).unwrap())
            .into_iter()
            .map(|(c, _)| c)
            .collect()
    }

    #[test]
    fn metadata_problems() {
        let ok = "name: A\nid: c137bfe8-6036-4cff-b77b-4e327dd0a1cf\ntype: Anomaly\nsearch: x\nrba:\n  message: m\n  risk_objects:\n  - field: dest\n    type: system\n    score: 49\n  threat_objects: []\n";
        assert!(codes(ok).is_empty(), "{:?}", codes(ok));
        assert_eq!(codes(&ok.replace("id: c137", "id: 0137x")), vec!["bad-id"]);
        assert_eq!(
            codes(&ok.replace("score: 49", "score: 140")),
            vec!["score-range"]
        );
        assert_eq!(
            codes(&ok.replace("type: Anomaly", "type: Anomoly")),
            vec!["unknown-type"]
        );
        assert_eq!(
            codes(&ok.replace("type: system", "type: host")),
            vec!["risk-object-type"]
        );
        assert_eq!(
            codes("name: A\nid: c137bfe8-6036-4cff-b77b-4e327dd0a1cf\ntype: TTP\nsearch: x\n"),
            vec!["missing-risk"]
        );
        assert_eq!(
            codes("name: A\ntype: Hunting\nsearch: x\n"),
            vec!["missing-id"]
        );
    }
}
