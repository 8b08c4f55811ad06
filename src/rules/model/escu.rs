//! ESCU detection documents into [`RuleMeta`]: the three schemas, told apart by their keys
//! (docs/escu6-and-es8.md §0), and every key or block that cannot be used reported as an
//! [`Ignored`] note instead of being dropped.
//!
//! v5 `rba:` becomes a finding and intermediate findings exactly as contentctl-ng 1.1.1's
//! porter does it (`port_ttp`, `port_anomaly`; doc §2); a v4 rule is first mapped to `rba:` as
//! contentctl 4.4.7 did (escu-content.md §3.5), then ported the same way.

use super::doc::{Extra, RawDoc, RawRiskObject, RawTags, RawThreatObject};
use super::{
    EscuSchema, Finding, IntermediateFinding, Origin, RiskObjectSpec, RuleMeta, Score,
    ThreatObjectSpec,
};

/// A key or block of a rule file that the loader read past: the rule still loads, without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// The key, with its path inside a block (`rba.risk_objects[1].mesage`).
    pub key: String,
    /// Why it cannot be used.
    pub why: String,
}

impl Ignored {
    fn new(key: impl Into<String>, why: impl Into<String>) -> Ignored {
        Ignored {
            key: key.into(),
            why: why.into(),
        }
    }
}

/// Keys whose presence makes a document ESCU 6 (none of them exists in v4 or v5).
const V6_KEYS: &[&str] = &[
    "finding",
    "intermediate_findings",
    "threat_objects",
    "creation_date",
    "modification_date",
    "analytic_story",
    "mitre_attack_id",
];

/// The schema a detection document is written in.
pub fn schema_of(doc: &RawDoc) -> EscuSchema {
    let v6 = doc.finding.is_some()
        || doc.intermediate_findings.is_some()
        || doc.threat_objects.is_some()
        || doc.analytic_story.is_some()
        || doc.mitre_attack_id.is_some()
        || V6_KEYS.iter().any(|k| doc.has_key(k));
    if v6 {
        EscuSchema::V6
    } else if doc.rba.is_none() && doc.tags.as_ref().is_some_and(has_legacy_risk) {
        EscuSchema::V4
    } else {
        EscuSchema::V5
    }
}

fn has_legacy_risk(t: &RawTags) -> bool {
    t.impact.is_some() || t.confidence.is_some() || !t.observable.is_empty()
}

/// The blocks each detection type may carry (contentctl-ng `validate_type_field_constraints`;
/// doc §1.3). Types outside the four carry whatever they declare.
struct Allowed {
    finding: bool,
    intermediate: bool,
    threats: bool,
}

fn allowed(kind: &str) -> Allowed {
    let is = |t: &str| kind.eq_ignore_ascii_case(t);
    Allowed {
        finding: !(is("Anomaly") || is("Hunting")),
        intermediate: !(is("Correlation") || is("Hunting")),
        threats: !is("Hunting"),
    }
}

/// Normalises a detection document. Errors are human-readable reasons (the rule is skipped);
/// [`Ignored`] notes name what was read past (the rule loads without it).
pub fn rule_meta(doc: &RawDoc) -> Result<(RuleMeta, Vec<Ignored>), String> {
    let name = doc.name.clone().ok_or("missing `name`")?;
    let id = doc.id.clone().ok_or("missing `id`")?;
    let kind = doc.kind.clone().ok_or("missing `type`")?;
    let schema = schema_of(doc);
    let mut ignored: Vec<Ignored> = doc
        .unknown_keys()
        .map(|k| Ignored::new(k, "not a key of any ESCU detection schema (v4, v5, ESCU 6)"))
        .collect();
    let mut meta = RuleMeta {
        name,
        id,
        kind,
        analytic_story: Vec::new(),
        mitre_attack_id: Vec::new(),
        finding: None,
        intermediate_findings: Vec::new(),
        threat_objects: Vec::new(),
        origin: Origin::Escu(schema),
    };
    match schema {
        EscuSchema::V6 => read_v6(doc, &mut meta, &mut ignored)?,
        EscuSchema::V5 => read_v5(doc, &mut meta, &mut ignored)?,
        EscuSchema::V4 => read_v4(doc, &mut meta, &mut ignored)?,
    }
    Ok((meta, ignored))
}

fn read_v6(doc: &RawDoc, meta: &mut RuleMeta, ignored: &mut Vec<Ignored>) -> Result<(), String> {
    meta.analytic_story = doc.analytic_story.clone().unwrap_or_default();
    meta.mitre_attack_id = doc.mitre_attack_id.clone().unwrap_or_default();
    for key in ["tags", "rba", "date"] {
        if doc.has_key(key) || (key == "rba" && doc.rba.is_some()) {
            ignored.push(Ignored::new(
                key,
                "an ESCU 6 rule (it has ESCU 6 keys such as `finding`, `creation_date` or a \
                 top-level `analytic_story`) keeps its risk, stories and MITRE ids at the top level",
            ));
        }
    }
    let may = allowed(&meta.kind);
    let refuse = |key: &str, ignored: &mut Vec<Ignored>| {
        ignored.push(Ignored::new(
            key,
            format!("a {} rule may not carry it (ESCU 6 type rules)", meta.kind),
        ))
    };
    if let Some(f) = &doc.finding {
        if may.finding {
            report_extra("finding", &f.extra, ignored);
            report_extra("finding.entity", &f.entity.extra, ignored);
            if f.entity.message.is_some() {
                ignored.push(Ignored::new(
                    "finding.entity.message",
                    "a finding's message is its `title`",
                ));
            }
            meta.finding = Some(Finding {
                title: f.title.trim().to_string(),
                entity: risk_object(&f.entity, 0, "finding.entity")?,
            });
        } else {
            refuse("finding", ignored);
        }
    }
    if let Some(inter) = &doc.intermediate_findings {
        if !may.intermediate {
            refuse("intermediate_findings", ignored);
        } else if inter.entities.is_empty() {
            ignored.push(Ignored::new(
                "intermediate_findings",
                "it has no `entities`",
            ));
        } else {
            report_extra("intermediate_findings", &inter.extra, ignored);
            for (i, e) in inter.entities.iter().enumerate() {
                let at = format!("intermediate_findings.entities[{i}]");
                report_extra(&at, &e.extra, ignored);
                let message = e
                    .message
                    .as_deref()
                    .ok_or_else(|| format!("`{at}` has no `message`"))?;
                meta.intermediate_findings.push(IntermediateFinding {
                    entity: risk_object(e, 0, &at)?,
                    message: message.trim().to_string(),
                });
            }
        }
    }
    if let Some(threats) = &doc.threat_objects {
        if may.threats {
            meta.threat_objects = threat_objects(threats, "threat_objects", ignored);
        } else if !threats.is_empty() {
            refuse("threat_objects", ignored);
        }
    }
    Ok(())
}

fn read_v5(doc: &RawDoc, meta: &mut RuleMeta, ignored: &mut Vec<Ignored>) -> Result<(), String> {
    let tags = doc.tags.as_ref();
    meta.analytic_story = tags.map(|t| t.analytic_story.clone()).unwrap_or_default();
    meta.mitre_attack_id = tags.map(|t| t.mitre_attack_id.clone()).unwrap_or_default();
    let Some(rba) = &doc.rba else {
        return Ok(());
    };
    if meta.kind.eq_ignore_ascii_case("Hunting") {
        ignored.push(Ignored::new(
            "rba",
            "Hunting rules carry no risk (contentctl 5 forbids `rba:` on them)",
        ));
        return Ok(());
    }
    report_extra("rba", &rba.extra, ignored);
    let mut objects = Vec::new();
    for (i, r) in rba.risk_objects.iter().enumerate() {
        let at = format!("rba.risk_objects[{i}]");
        report_extra(&at, &r.extra, ignored);
        if r.message.is_some() {
            ignored.push(Ignored::new(
                format!("{at}.message"),
                "a v5 risk object has no message of its own: `rba.message` is used",
            ));
        }
        objects.push(risk_object(r, 1, &at)?);
    }
    let threats = threat_objects(&rba.threat_objects, "rba.threat_objects", ignored);
    port(meta, rba.message.trim(), objects, threats, "rba", ignored);
    Ok(())
}

fn read_v4(doc: &RawDoc, meta: &mut RuleMeta, ignored: &mut Vec<Ignored>) -> Result<(), String> {
    let Some(t) = doc.tags.as_ref() else {
        return Ok(());
    };
    meta.analytic_story = t.analytic_story.clone();
    meta.mitre_attack_id = t.mitre_attack_id.clone();
    // contentctl 4 rendered no risk for Hunting, whose tags still carry impact/confidence.
    if meta.kind.eq_ignore_ascii_case("Hunting") {
        return Ok(());
    }
    let (objects, threats) = legacy_risk(t)?;
    let message = t.message.clone().unwrap_or_default();
    port(
        meta,
        message.trim(),
        objects,
        threats,
        "tags.observable",
        ignored,
    );
    Ok(())
}

/// The porter's split of one message and a list of risk objects (doc §2): a TTP's finding is
/// its first `user` object (else its first object) and the rest are intermediate findings; an
/// Anomaly's objects are all intermediate findings; a Correlation's are not ported (its ESCU 6
/// author supplies a finding). Every finding title and entity message is the one message.
fn port(
    meta: &mut RuleMeta,
    message: &str,
    mut objects: Vec<RiskObjectSpec>,
    threats: Vec<ThreatObjectSpec>,
    block: &str,
    ignored: &mut Vec<Ignored>,
) {
    let kind = meta.kind.as_str();
    if kind.eq_ignore_ascii_case("Correlation") {
        if !objects.is_empty() || !threats.is_empty() {
            ignored.push(Ignored::new(
                block,
                "ESCU's porter does not port a Correlation's risk objects: give the rule a \
                 `finding:` (ESCU 6)",
            ));
        }
        return;
    }
    meta.threat_objects = threats;
    if kind.eq_ignore_ascii_case("TTP") && !objects.is_empty() {
        let first = objects
            .iter()
            .position(|o| o.kind.eq_ignore_ascii_case("user"))
            .unwrap_or(0);
        let entity = objects.remove(first);
        // Remaining users first, then system/other objects, each in YAML order.
        let (users, others): (Vec<_>, Vec<_>) = objects
            .into_iter()
            .partition(|o| o.kind.eq_ignore_ascii_case("user"));
        objects = users.into_iter().chain(others).collect();
        meta.finding = Some(Finding {
            title: message.to_string(),
            entity,
        });
    }
    meta.intermediate_findings = objects
        .into_iter()
        .map(|entity| IntermediateFinding {
            entity,
            message: message.to_string(),
        })
        .collect();
}

/// A declared score as a [`Score`]: an integer from `min` (1 in contentctl 5, 0 in ESCU 6)
/// to 100; both tools refuse fractions and anything outside.
fn score(value: f64, min: u8, at: &str) -> Result<Score, String> {
    let valid = value.fract() == 0.0 && value >= f64::from(min) && value <= f64::from(Score::MAX);
    match Score::new(value as u8) {
        Some(s) if valid => Ok(s),
        _ => Err(format!(
            "`{at}` has score {value}, not an integer from {min} to {}",
            Score::MAX
        )),
    }
}

fn risk_object(raw: &RawRiskObject, min_score: u8, at: &str) -> Result<RiskObjectSpec, String> {
    Ok(RiskObjectSpec {
        field: raw.field.clone(),
        kind: raw.kind.clone(),
        score: score(raw.score, min_score, at)?,
    })
}

/// Threat objects sorted by field, as ESCU 6 stores them (the porter sorts; the sort is
/// stable, so objects on one field keep their order).
fn threat_objects(
    raw: &[RawThreatObject],
    at: &str,
    ignored: &mut Vec<Ignored>,
) -> Vec<ThreatObjectSpec> {
    let mut out: Vec<ThreatObjectSpec> = raw
        .iter()
        .enumerate()
        .map(|(i, t)| {
            report_extra(&format!("{at}[{i}]"), &t.extra, ignored);
            ThreatObjectSpec {
                field: t.field.clone(),
                kind: t.kind.clone(),
            }
        })
        .collect();
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn report_extra(at: &str, extra: &Extra, ignored: &mut Vec<Ignored>) {
    for key in extra.keys() {
        ignored.push(Ignored::new(
            format!("{at}.{key}"),
            "not a key of this block in any ESCU schema",
        ));
    }
}

/// Legacy v4: score = round(impact × confidence / 100); Victim observables become risk
/// objects (user-like → `user`, host-like → `system`, else `other`); Attacker observables
/// become threat objects (contentctl 4.4.7 `detection_tags.py` / `detection_abstract.py`).
fn legacy_risk(t: &RawTags) -> Result<(Vec<RiskObjectSpec>, Vec<ThreatObjectSpec>), String> {
    let (Some(impact), Some(confidence)) = (t.impact, t.confidence) else {
        return Err("legacy tags need both `impact` and `confidence`".into());
    };
    let rounded = (impact * confidence / 100.0).round().clamp(0.0, 100.0) as u8;
    let score = Score::new(rounded).unwrap_or(Score(Score::MAX));
    let mut objects = Vec::new();
    let mut threats = Vec::new();
    for o in &t.observable {
        let kind = o.kind.to_ascii_lowercase();
        let has_role = |role: &str| o.role.iter().any(|r| r.eq_ignore_ascii_case(role));
        if has_role("Victim") {
            objects.push(RiskObjectSpec {
                field: o.name.clone(),
                kind: victim_type(&kind).into(),
                score,
            });
        } else if has_role("Attacker") {
            threats.push(ThreatObjectSpec {
                field: o.name.clone(),
                kind: attacker_type(&kind).into(),
            });
        }
    }
    threats.sort_by(|a, b| a.field.cmp(&b.field));
    Ok((objects, threats))
}

fn victim_type(observable_type: &str) -> &'static str {
    match observable_type {
        "user" | "username" | "user name" | "email address" => "user",
        "device" | "endpoint" | "hostname" | "ip address" => "system",
        _ => "other",
    }
}

fn attacker_type(observable_type: &str) -> &'static str {
    match observable_type {
        "process" => "process",
        "process name" => "process_name",
        "file" | "file name" => "file_name",
        "file hash" => "file_hash",
        "file path" => "file_path",
        "ip address" => "ip_address",
        "url" | "url string" => "url",
        "domain" => "domain",
        "registry key" => "registry_path",
        "email address" => "email_address",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::super::doc::parse_doc;
    use super::*;

    fn meta(text: &str) -> (RuleMeta, Vec<Ignored>) {
        rule_meta(&parse_doc(text).expect("yaml")).expect("meta")
    }

    const HEAD: &str = "name: R\nid: 1\nsearch: x\n";

    #[test]
    fn v5_ttp_ports_like_contentctl_ng() {
        let (m, ig) = meta(&format!(
            "{HEAD}type: TTP\nrba:\n  message: m $dest$\n  risk_objects:\n  - {{field: dest, type: system, score: 56}}\n  - {{field: user, type: user, score: 56}}\n  threat_objects:\n  - {{field: process_name, type: process_name}}\n  - {{field: parent_process_name, type: parent_process_name}}\ntags:\n  analytic_story: [S]\n"
        ));
        assert!(ig.is_empty(), "{ig:?}");
        assert_eq!(m.origin, Origin::Escu(EscuSchema::V5));
        let f = m.finding.expect("a TTP with a user has a finding");
        assert_eq!(
            (f.entity.field.as_str(), f.title.as_str()),
            ("user", "m $dest$")
        );
        assert_eq!(m.intermediate_findings.len(), 1);
        assert_eq!(m.intermediate_findings[0].entity.field, "dest");
        assert_eq!(m.threat_objects[0].field, "parent_process_name", "sorted");
        assert_eq!(m.analytic_story, ["S"]);
    }

    #[test]
    fn v6_blocks_are_read_and_forbidden_ones_reported() {
        let (m, ig) = meta(&format!(
            "{HEAD}type: Anomaly\ncreation_date: '2020-01-01'\nintermediate_findings:\n  entities:\n  - {{field: dest, type: system, score: 20, message: on $dest$}}\nfinding:\n  title: t $dest$\n  entity: {{field: user, type: user, score: 20}}\nanalytic_story: [S]\nmitre_attack_id: [T1]\nrba:\n  message: old\n"
        ));
        assert_eq!(m.origin, Origin::Escu(EscuSchema::V6));
        assert!(m.finding.is_none(), "an Anomaly has no finding");
        assert_eq!(m.intermediate_findings[0].message, "on $dest$");
        assert_eq!(m.intermediate_findings[0].entity.score.get(), 20);
        assert_eq!((m.analytic_story.len(), m.mitre_attack_id.len()), (1, 1));
        let keys: Vec<&str> = ig.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(keys, ["rba", "finding"]);
    }

    #[test]
    fn unknown_keys_and_nested_typos_are_named() {
        let (_, ig) = meta(&format!(
            "{HEAD}type: TTP\nMANUAL_REVIEW: x\nfinding:\n  title: t\n  entity: {{field: u, type: user, score: 0, scor: 5}}\nthreat_objects:\n- {{field: f, type: file_name, role: x}}\n"
        ));
        let keys: Vec<&str> = ig.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "MANUAL_REVIEW",
                "finding.entity.scor",
                "threat_objects[0].role"
            ]
        );
    }

    #[test]
    fn scores_outside_the_schema_are_errors() {
        let bad =
            |block: &str| rule_meta(&parse_doc(&format!("{HEAD}type: TTP\n{block}")).unwrap());
        assert!(
            bad("rba:\n  message: m\n  risk_objects: [{field: d, type: system, score: 0}]\n")
                .unwrap_err()
                .contains("not an integer from 1 to 100")
        );
        assert!(
            bad("finding: {title: t, entity: {field: d, type: system, score: 49.5}}\n")
                .unwrap_err()
                .contains("finding.entity")
        );
        assert!(bad("finding: {title: t, entity: {field: d, type: system, score: 0}}\n").is_ok());
    }

    #[test]
    fn hunting_rba_is_reported_not_silently_dropped() {
        let (m, ig) = meta(&format!(
            "{HEAD}type: Hunting\nrba:\n  message: m\n  risk_objects: [{{field: d, type: system, score: 5}}]\n"
        ));
        assert!(!m.carries_risk());
        assert_eq!(ig[0].key, "rba");
    }
}
