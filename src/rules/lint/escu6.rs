//! ESCU 6 risk metadata (`finding`, `intermediate_findings`), read from the YAML as written
//! until the rule model carries it: which type needs which block and entity types and scores
//! (contentctl-ng `validate_type_field_constraints` and `RiskScoredEntity`,
//! `../shared/docs/escu6-and-es8.md` §1.1 and §1.3).

use serde::Deserialize;
use serde_yaml::Value;

/// The ESCU 6 keys of a detection; `is_escu6` when any is present.
#[derive(Debug, Deserialize, Default)]
pub struct Escu6Keys {
    #[serde(default)]
    creation_date: Option<Value>,
    #[serde(default)]
    finding: Option<Value>,
    #[serde(default)]
    intermediate_findings: Option<Value>,
}

impl Escu6Keys {
    pub fn is_escu6(&self) -> bool {
        self.creation_date.is_some()
            || self.finding.is_some()
            || self.intermediate_findings.is_some()
    }

    /// The risk-block problems of an ESCU 6 detection of type `kind`, as (code, message).
    pub fn check(&self, kind: &str) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let (finding, intermediate) =
            (self.finding.is_some(), self.intermediate_findings.is_some());
        let (needs, forbids): (&[&str], &[&str]) = match kind {
            "TTP" => (&["finding"], &[]),
            "Anomaly" => (&["intermediate_findings"], &["finding"]),
            "Correlation" => (&["finding"], &["intermediate_findings"]),
            "Hunting" => (&[], &["finding", "intermediate_findings"]),
            _ => (&[], &[]),
        };
        let present = |key: &str| {
            if key == "finding" {
                finding
            } else {
                intermediate
            }
        };
        for key in needs.iter().filter(|k| !present(k)) {
            out.push((
                "missing-risk",
                format!("a {kind} detection needs `{key}` (ESCU 6): ES writes no risk or finding"),
            ));
        }
        for key in forbids.iter().filter(|k| present(k)) {
            out.push((
                "hunting-risk",
                format!("a {kind} detection may not have `{key}` (ESCU 6)"),
            ));
        }
        let mut entities: Vec<&Value> = Vec::new();
        if let Some(entity) = self.finding.as_ref().and_then(|f| f.get("entity")) {
            entities.push(entity);
        }
        if let Some(Value::Sequence(list)) = self
            .intermediate_findings
            .as_ref()
            .and_then(|i| i.get("entities"))
        {
            entities.extend(list);
        }
        for entity in entities {
            entity_problems(entity, &mut out);
        }
        out
    }
}

fn entity_problems(entity: &Value, out: &mut Vec<(&'static str, String)>) {
    let field = entity.get("field").and_then(Value::as_str).unwrap_or("?");
    match entity.get("score").and_then(Value::as_u64) {
        Some(score) if score <= 100 => {}
        _ => out.push((
            "score-range",
            format!(
                "entity `{field}` has score {:?} (a whole number 0..100 is required)",
                entity.get("score")
            ),
        )),
    }
    let kind = entity.get("type").and_then(Value::as_str).unwrap_or("");
    if !["system", "user", "other"].contains(&kind) {
        out.push((
            "risk-object-type",
            format!("entity `{field}` has type `{kind}` (ES knows system, user, other)"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(yaml: &str, kind: &str) -> Vec<&'static str> {
        let keys: Escu6Keys = serde_yaml::from_str(yaml).unwrap();
        assert!(keys.is_escu6());
        keys.check(kind).into_iter().map(|(c, _)| c).collect()
    }

    #[test]
    fn the_type_matrix_and_entities() {
        let anomaly = "creation_date: '2020-04-29'\nintermediate_findings:\n    entities:\n        - field: dest\n          type: system\n          score: 20\n          message: m $dest$\n";
        assert!(codes(anomaly, "Anomaly").is_empty());
        assert_eq!(codes(anomaly, "TTP"), vec!["missing-risk"]);
        assert_eq!(codes(anomaly, "Hunting"), vec!["hunting-risk"]);
        let bad = anomaly
            .replace("score: 20", "score: 120")
            .replace("type: system", "type: host");
        assert_eq!(
            codes(&bad, "Anomaly"),
            vec!["score-range", "risk-object-type"]
        );
        let ttp = "finding:\n    title: t $user$\n    entity:\n        field: user\n        type: user\n        score: 50\n";
        assert!(codes(ttp, "TTP").is_empty());
        assert_eq!(codes(ttp, "Anomaly"), vec!["missing-risk", "hunting-risk"]);
    }
}
