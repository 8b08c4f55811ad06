//! An ESCU 6 detection's stanza, key for key and value for value what contentctl-ng 1.1.1
//! writes (`EventBasedDetection.emit_ConfStanza_savedsearches` over
//! `Search.emit_ConfStanza_savedsearches`, serialised by `ConfLine`/`ConfStanza`;
//! docs/escu6-and-es8.md §3): keys sorted, booleans `1`/`0`, compact sorted JSON; a finding
//! becomes `action.notable` with its title and entity, intermediate findings `action.risk`
//! with one message per entity. Only the label prefix differs ([`crate::APP_LABEL`]).

use super::contentctl5::publish_time;
use super::{severity_of, stanza_name, status_aware_description};
use crate::conf::escape_newlines;
use crate::model::{Common, Detection, Loaded, MitreTactics, Schedule};
use crate::tojson::compact_json;
use crate::AppError;
use netdiscover::rules::{RiskObjectSpec, RuleMeta, ThreatObjectSpec};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// ES limits detection names to 99 characters and cloning adds 18, so contentctl-ng refuses
/// stanza names over 81 (`Search.emit_ConfStanza_savedsearches`).
const MAX_STANZA_NAME: usize = 81;

/// contentctl-ng's `DetectionAnalyticsType`.
const DETECTION_TYPES: [&str; 4] = ["TTP", "Anomaly", "Correlation", "Hunting"];

/// What an ESCU 6 stanza reads from a detection, checked present once.
struct V6<'a> {
    path: &'a Path,
    meta: &'a RuleMeta,
    stanza: String,
    common: Common<'a>,
    modification_date: &'a str,
    security_domain: &'a str,
}

impl<'a> V6<'a> {
    fn of(loaded: &'a Loaded<Detection>) -> Result<V6<'a>, AppError> {
        let path = loaded.path.as_path();
        let d = &loaded.item;
        let p = &d.doc.prose;
        let need = |key: &str, v: &'a Option<String>| Detection::required(path, key, v);
        if !DETECTION_TYPES.contains(&d.meta.kind.as_str()) {
            return Err(AppError::content(
                path,
                format!(
                    "type {:?} is not an ESCU 6 detection type ({})",
                    d.meta.kind,
                    DETECTION_TYPES.join(", ")
                ),
            ));
        }
        let stanza = stanza_name(&d.meta.name);
        if stanza.chars().count() > MAX_STANZA_NAME {
            return Err(AppError::content(
                path,
                format!("stanza name {stanza:?} is longer than {MAX_STANZA_NAME} characters"),
            ));
        }
        Ok(V6 {
            path,
            meta: &d.meta,
            stanza,
            common: d.common(path)?,
            modification_date: need("modification_date", &p.modification_date)?,
            security_domain: need("security_domain", &p.security_domain)?,
        })
    }
}

/// contentctl-ng's `ConfLine.value` for a string: stripped, newlines continued with ` \`.
fn text(value: &str) -> String {
    escape_newlines(value)
}

/// ATT&CK tactic short name → ES kill-chain phase (contentctl-ng
/// `MitreKillChainPhase.map_mitre_kill_chain_to_enterprise_security_killchain`).
fn kill_chain_phase(tactic: &str) -> Option<&'static str> {
    Some(match tactic {
        "reconnaissance" => "Reconnaissance",
        "resource-development" => "Weaponization",
        "initial-access" => "Delivery",
        "execution" | "persistence" => "Installation",
        "privilege-escalation"
        | "credential-access"
        | "discovery"
        | "lateral-movement"
        | "collection"
        | "stealth"
        | "defense-impairment" => "Exploitation",
        "command-and-control" => "Command and Control",
        "exfiltration" | "impact" => "Actions on Objectives",
        _ => return None,
    })
}

fn kill_chain_phases(v: &V6, tactics: &MitreTactics) -> Result<BTreeSet<&'static str>, AppError> {
    let mut phases = BTreeSet::new();
    for technique in &v.meta.mitre_attack_id {
        let known = tactics.get(technique).ok_or_else(|| {
            AppError::content(
                v.path,
                format!("no ATT&CK tactics for {technique} in app/mitre_tactics.yml"),
            )
        })?;
        for tactic in known {
            phases.insert(kill_chain_phase(tactic).ok_or_else(|| {
                AppError::content(v.path, format!("unknown ATT&CK tactic {tactic:?}"))
            })?);
        }
    }
    Ok(phases)
}

/// `data_source` as contentctl-ng keeps it for ES's onboarding assistant: each entry's
/// `A AND B` parts sorted, the entries sorted and deduplicated.
fn data_sources(d: &Detection) -> BTreeSet<String> {
    let all = d.doc.prose.data_source.as_deref().unwrap_or_default();
    all.iter()
        .map(|entry| {
            let parts: BTreeSet<&str> = entry.split(" AND ").collect();
            parts.into_iter().collect::<Vec<_>>().join(" AND ")
        })
        .collect()
}

/// A set as contentctl-ng writes it: sorted, without repeats.
fn sorted(items: &[String]) -> BTreeSet<&String> {
    items.iter().collect()
}

/// `action.correlationsearch.annotations`: the detection's own keys plus the framework
/// mappings, empty mappings dropped (`annotations`, `annotations_analytic_story`).
fn annotations(v: &V6, d: &Detection, tactics: &MitreTactics) -> Result<Value, AppError> {
    let mut a = serde_json::Map::new();
    a.insert(
        "analytic_story".into(),
        json!(sorted(&v.meta.analytic_story)),
    );
    a.insert("data_source".into(), json!(data_sources(d)));
    a.insert("type".into(), json!(v.meta.kind));
    a.insert("type_list".into(), json!([v.meta.kind]));
    let cve = d.doc.prose.cve.as_deref().unwrap_or_default();
    if !cve.is_empty() {
        a.insert("cve".into(), json!(sorted(cve)));
    }
    let cis = if v.security_domain == "network" {
        "CIS 13"
    } else {
        "CIS 10"
    };
    a.insert("cis20".into(), json!([cis]));
    let phases = kill_chain_phases(v, tactics)?;
    if !phases.is_empty() {
        a.insert("kill_chain_phases".into(), json!(phases));
    }
    if !v.meta.mitre_attack_id.is_empty() {
        a.insert(
            "mitre_attack".into(),
            json!(sorted(&v.meta.mitre_attack_id)),
        );
    }
    let nist = if v.meta.kind == "TTP" {
        "DE.CM"
    } else {
        "DE.AE"
    };
    a.insert("nist".into(), json!([nist]));
    Ok(Value::Object(a))
}

fn metadata(v: &V6, d: &Detection) -> Result<Value, AppError> {
    let deprecated = d.doc.prose.deprecation_info.is_some();
    Ok(json!({
        "deprecated": if deprecated { "1" } else { "0" },
        "detection_id": v.meta.id,
        "detection_version": v.common.version.to_string(),
        "publish_time": publish_time(v.path, "modification_date", v.modification_date)?,
    }))
}

fn entity(o: &RiskObjectSpec) -> Value {
    json!({"risk_object_field": o.field, "risk_object_type": o.kind, "risk_score": o.score.get()})
}

/// `action.risk.param._risk`: the intermediate findings sorted by (field, type, score), each
/// with its message, then the threat objects sorted by (field, type).
fn risk(meta: &RuleMeta) -> Vec<Value> {
    let mut entities: Vec<_> = meta.intermediate_findings.iter().collect();
    entities.sort_by(|a, b| {
        let key = |i: &&netdiscover::rules::IntermediateFinding| {
            (
                i.entity.field.clone(),
                i.entity.kind.clone(),
                i.entity.score,
            )
        };
        key(a).cmp(&key(b))
    });
    let mut out: Vec<Value> = entities
        .into_iter()
        .map(|i| {
            let mut e = entity(&i.entity);
            e["risk_message"] = json!(i.message);
            e
        })
        .collect();
    out.extend(threats(meta));
    out
}

fn threats(meta: &RuleMeta) -> Vec<Value> {
    let mut sorted: Vec<&ThreatObjectSpec> = meta.threat_objects.iter().collect();
    sorted.sort_by(|a, b| (&a.field, &a.kind).cmp(&(&b.field, &b.kind)));
    sorted.dedup_by(|a, b| a.field == b.field && a.kind == b.kind);
    sorted
        .into_iter()
        .map(|t| json!({"threat_object_field": t.field, "threat_object_type": t.kind}))
        .collect()
}

/// `_risk_message` (ES 7 compatibility): the message of the first intermediate finding in
/// (field, type, score, message) order.
fn first_message(meta: &RuleMeta) -> Option<&str> {
    meta.intermediate_findings
        .iter()
        .min_by(|a, b| {
            (&a.entity.field, &a.entity.kind, a.entity.score, &a.message).cmp(&(
                &b.entity.field,
                &b.entity.kind,
                b.entity.score,
                &b.message,
            ))
        })
        .map(|i| i.message.as_str())
}

/// `action.notable.param.severity`: from the finding's score, else the highest intermediate
/// score (contentctl-ng `EventBasedDetection.severity`).
fn severity(meta: &RuleMeta) -> &'static str {
    let score = match &meta.finding {
        Some(f) => Some(f.entity.score.get()),
        None => meta
            .intermediate_findings
            .iter()
            .map(|i| i.entity.score.get())
            .max(),
    };
    severity_of(score)
}

fn drilldowns(v: &V6, d: &Detection) -> Option<Value> {
    let all = d
        .doc
        .prose
        .drilldown_searches
        .as_deref()
        .unwrap_or_default();
    let saved = format!("| savedsearch \"{}\"", v.stanza);
    let list: Vec<Value> = all
        .iter()
        .map(|dd| {
            json!({
                "name": dd.name,
                "search": dd.search.replace("%original_detection_search%", &saved),
                "earliest_offset": dd.earliest_offset,
                "latest_offset": dd.latest_offset,
            })
        })
        .collect();
    (!list.is_empty()).then_some(Value::Array(list))
}

/// One ESCU 6 detection stanza as `(key, value)` pairs, sorted by key as contentctl-ng
/// writes them.
pub fn detection_entries(
    loaded: &Loaded<Detection>,
    schedule: &Schedule,
    tactics: &MitreTactics,
) -> Result<Vec<(String, String)>, AppError> {
    let v = V6::of(loaded)?;
    let d = &loaded.item;
    let mut e: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, value: String| e.push((k.to_string(), value));
    put("description", text(&status_aware_description(v.common)));
    put("cron_schedule", text(&schedule.cron_schedule));
    put("dispatch.earliest_time", text(&schedule.earliest_time));
    put("dispatch.latest_time", text(&schedule.latest_time));
    put("schedule_window", text(&schedule.schedule_window));
    for (key, value) in FIXED_KEYS {
        put(key, value.to_string());
    }
    put("search", text(v.common.search));
    let meta = v.meta;
    if !meta.intermediate_findings.is_empty() {
        put("action.risk", "1".into());
        put(
            "action.risk.param._risk",
            compact_json(&Value::Array(risk(meta))),
        );
        put(
            "action.risk.param._risk_message",
            text(first_message(meta).unwrap_or_default()),
        );
        put("action.risk.param._risk_score", "0".into());
        put("action.risk.param.verbose", "0".into());
    }
    if let Some(finding) = &meta.finding {
        if meta.intermediate_findings.is_empty() && !meta.threat_objects.is_empty() {
            put(
                "action.risk.param._risk",
                compact_json(&Value::Array(threats(meta))),
            );
        }
        put("action.notable", "1".into());
        put("action.notable.param.rule_title", text(&finding.title));
        put(
            "action.notable.param._entities",
            compact_json(&json!([entity(&finding.entity)])),
        );
        put("action.notable.param.nes_fields", "user,dest".into());
        put(
            "action.notable.param.rule_description",
            text(v.common.description),
        );
        put(
            "action.notable.param.security_domain",
            text(v.security_domain),
        );
        put("action.notable.param.severity", severity(meta).into());
    }
    put("action.correlationsearch.enabled", "1".into());
    put("action.correlationsearch.detection_type", "ebd".into());
    put("action.correlationsearch.label", text(&v.stanza));
    put(
        "action.correlationsearch.annotations",
        compact_json(&annotations(&v, d, tactics)?),
    );
    put(
        "action.correlationsearch.metadata",
        compact_json(&metadata(&v, d)?),
    );
    if let Some(list) = drilldowns(&v, d) {
        put(
            "action.notable.param.drilldown_searches",
            compact_json(&list),
        );
    }
    e.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(e)
}

/// The keys contentctl-ng writes with the same value on every detection (`Schedule`'s
/// computed fields: `digest_mode`, `disabled`, `enableSched`, `is_visible`, `allow_skew`,
/// `counttype`, `relation`, `quantity`, `realtime_schedule`).
pub(super) const FIXED_KEYS: [(&str, &str); 9] = [
    ("alert.digest_mode", "1"),
    ("allow_skew", "100%"),
    ("counttype", "number of events"),
    ("disabled", "1"),
    ("enableSched", "1"),
    ("is_visible", "0"),
    ("quantity", "0"),
    ("realtime_schedule", "0"),
    ("relation", "greater than"),
];
