//! An ATT&CK Navigator layer of the loaded rules, in the layer format contentctl's `report`
//! writes (`contentctl/output/attack_nav_writer.py`: layer 4.5, navigator 5.1.0, ATT&CK 16,
//! `techniques[{techniqueID, score, ...}]` with score = number of detections per technique),
//! plus what contentctl cannot say: which techniques have a rule that **passed a test on
//! data** (a test expecting at least one row), told apart by colour, comment and metadata.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Evidence for one rule, from `netdiscover test` results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evidence {
    /// No test of the rule ran on data (none declared, or all skipped).
    Untested,
    /// A positive test of the rule ran on data and failed.
    Failed,
    /// A positive test of the rule passed on data.
    Passed,
}

impl Evidence {
    fn label(self) -> &'static str {
        match self {
            Evidence::Passed => "passed a test on data",
            Evidence::Failed => "failed its test on data",
            Evidence::Untested => "tagged only (no test ran on data)",
        }
    }

    fn color(self) -> &'static str {
        match self {
            Evidence::Passed => "#31a354",
            Evidence::Failed => "#fc8d59",
            Evidence::Untested => "#66b1ff",
        }
    }
}

/// One loaded rule as the layer sees it.
#[derive(Debug, Clone)]
pub struct RuleCoverage {
    pub name: String,
    pub techniques: Vec<String>,
    pub evidence: Evidence,
}

/// The layer JSON. A technique's colour is that of its best-evidenced rule.
pub fn layer(rules: &[RuleCoverage], description: &str) -> Value {
    let mut by_technique: BTreeMap<&str, Vec<&RuleCoverage>> = BTreeMap::new();
    for rule in rules {
        for technique in &rule.techniques {
            by_technique.entry(technique.trim()).or_default().push(rule);
        }
    }
    let max = by_technique.values().map(Vec::len).max().unwrap_or(0);
    let techniques: Vec<Value> = by_technique
        .iter()
        .map(|(id, rules)| technique(id, rules))
        .collect();
    json!({
        "versions": {"attack": "16", "navigator": "5.1.0", "layer": "4.5"},
        "name": "netdiscover coverage",
        "description": description,
        "domain": "enterprise-attack",
        "techniques": techniques,
        "gradient": {"colors": ["#ffffff", "#66b1ff", "#096ed7"], "minValue": 0, "maxValue": max},
        "layout": {"layout": "side", "showName": true, "showID": true, "showAggregateScores": false},
        "legendItems": [
            {"label": Evidence::Passed.label(), "color": Evidence::Passed.color()},
            {"label": Evidence::Failed.label(), "color": Evidence::Failed.color()},
            {"label": Evidence::Untested.label(), "color": Evidence::Untested.color()},
        ],
        "showTacticRowBackground": true,
        "tacticRowBackground": "#dddddd",
        "selectTechniquesAcrossTactics": true,
    })
}

fn technique(id: &str, rules: &[&RuleCoverage]) -> Value {
    let best = rules
        .iter()
        .map(|r| r.evidence)
        .max()
        .unwrap_or(Evidence::Untested);
    let passed = rules
        .iter()
        .filter(|r| r.evidence == Evidence::Passed)
        .count();
    let metadata: Vec<Value> = rules
        .iter()
        .map(|r| json!({"name": r.name, "value": r.evidence.label()}))
        .collect();
    json!({
        "techniqueID": id,
        "score": rules.len(),
        "color": best.color(),
        "comment": format!(
            "{} rule(s), {passed} passed a test on data",
            rules.len()
        ),
        "enabled": true,
        "metadata": metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn techniques_are_scored_by_rules_and_coloured_by_evidence() {
        let rule = |name: &str, t: &[&str], evidence| RuleCoverage {
            name: name.into(),
            techniques: t.iter().map(|s| s.to_string()).collect(),
            evidence,
        };
        let rules = vec![
            rule("a", &["T1049"], Evidence::Untested),
            rule("b", &["T1090.001", "T1049"], Evidence::Passed),
            rule("c", &["T1059"], Evidence::Failed),
        ];
        let layer = layer(&rules, "d");
        assert_eq!(layer["versions"]["layer"], "4.5");
        let techniques = layer["techniques"].as_array().unwrap();
        let t1049 = techniques
            .iter()
            .find(|t| t["techniqueID"] == "T1049")
            .unwrap();
        assert_eq!(t1049["score"], 2);
        assert_eq!(t1049["color"], Evidence::Passed.color());
        assert_eq!(t1049["metadata"].as_array().unwrap().len(), 2);
        let t1059 = techniques
            .iter()
            .find(|t| t["techniqueID"] == "T1059")
            .unwrap();
        assert_eq!(t1059["color"], Evidence::Failed.color());
        assert_eq!(layer["gradient"]["maxValue"], 2);
    }
}
