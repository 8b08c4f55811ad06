//! A v5 (`rba:`) detection's stanza, key for key and value for value what contentctl 5.6.2's
//! `savedsearches_detections.j2` renders (only the label prefix differs: [`crate::APP_LABEL`]
//! instead of `ESCU`), scheduled by ESCU's per-type deployment.

use super::{severity_of, stanza_name, status_aware_description};
use crate::conf::escape_newlines;
use crate::model::{Common, Deployment, Detection, Loaded};
use crate::tojson::tojson;
use crate::AppError;
use netdiscover::rules::RawTags;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::path::Path;

/// contentctl's `DataModel` enum, in its order: a detection uses each one whose name occurs
/// anywhere in its search (a plain substring test, as contentctl does).
const DATA_MODELS: &[&str] = &[
    "Endpoint",
    "Network_Traffic",
    "Authentication",
    "Change",
    "Change_Analysis",
    "Email",
    "Network_Resolution",
    "Network_Sessions",
    "UEBA",
    "Updates",
    "Vulnerabilities",
    "Web",
    "Risk",
    "Splunk_Audit",
];

/// contentctl's `ProvidingTechnology.getProvidingTechFromSearch` table: search substring →
/// technologies (the result is the sorted union).
const PROVIDING_TECHNOLOGIES: &[(&str, &[&str])] = &[
    ("`amazon_security_lake`", &["Amazon Security Lake"]),
    ("audit_searches", &["Splunk Internal Logs"]),
    ("`azure_monitor_aad`", &["Azure AD", "Entra ID"]),
    ("`cloudtrail`", &["Amazon Web Services - Cloudtrail"]),
    (
        "Endpoint",
        &[
            "Microsoft Sysmon",
            "Microsoft Windows",
            "Carbon Black Response",
            "CrowdStrike Falcon",
            "Symantec Endpoint Protection",
        ],
    ),
    ("`google_", &["Google Workspace", "Google Cloud Platform"]),
    ("`gsuite", &["Google Workspace", "Google Cloud Platform"]),
    ("`gws_", &["Google Workspace", "Google Cloud Platform"]),
    ("`kube", &["Kubernetes"]),
    ("`ms_defender`", &["Microsoft Defender"]),
    ("`o365_", &["Microsoft Office 365"]),
    ("`okta", &["Okta"]),
    ("`pingid`", &["Ping ID"]),
    ("`powershell`", &["Microsoft Windows"]),
    ("`splunkd_", &["Splunk Internal Logs"]),
    ("`sysmon`", &["Microsoft Sysmon"]),
    ("`wineventlog_security`", &["Microsoft Windows"]),
    ("`zeek_", &["Zeek"]),
];

/// The fixed keys contentctl writes after `disabled` in every scheduled detection stanza, in
/// its order; the combined search uses them too.
pub(super) const SCHEDULED_ALERT_KEYS: [(&str, &str); 7] = [
    ("enableSched", "1"),
    ("allow_skew", "100%"),
    ("counttype", "number of events"),
    ("relation", "greater than"),
    ("quantity", "0"),
    ("realtime_schedule", "0"),
    ("is_visible", "false"),
];

/// What a v5 stanza reads from a detection, checked present once.
struct V5<'a> {
    path: &'a Path,
    d: &'a Detection,
    tags: &'a RawTags,
    name: &'a str,
    kind: &'a str,
    common: Common<'a>,
    date: &'a str,
    how_to_implement: &'a str,
    known_false_positives: &'a str,
}

impl<'a> V5<'a> {
    fn of(loaded: &'a Loaded<Detection>) -> Result<V5<'a>, AppError> {
        let path = loaded.path.as_path();
        let d = &loaded.item;
        let p = &d.doc.prose;
        let need = |key: &str, v: &'a Option<String>| Detection::required(path, key, v);
        Ok(V5 {
            path,
            d,
            tags: d
                .doc
                .tags
                .as_ref()
                .ok_or_else(|| AppError::content(path, "missing `tags`"))?,
            name: &d.meta.name,
            kind: &d.meta.kind,
            common: d.common(path)?,
            date: need("date", &p.date)?,
            how_to_implement: need("how_to_implement", &p.how_to_implement)?,
            known_false_positives: need("known_false_positives", &p.known_false_positives)?,
        })
    }

    fn data_source(&self) -> &[String] {
        self.d.doc.prose.data_source.as_deref().unwrap_or_default()
    }
}

fn mappings(v: &V5) -> Map<String, Value> {
    let mut m = Map::new();
    let cis = if v.tags.security_domain.as_deref() == Some("network") {
        "CIS 13"
    } else {
        "CIS 10"
    };
    m.insert("cis20".into(), json!([cis]));
    if !v.tags.mitre_attack_id.is_empty() {
        m.insert("mitre_attack".into(), json!(v.tags.mitre_attack_id));
    }
    let nist = if v.kind == "TTP" { "DE.CM" } else { "DE.AE" };
    m.insert("nist".into(), json!([nist]));
    m
}

fn sorted_stories(v: &V5) -> Vec<String> {
    let mut stories = v.tags.analytic_story.clone();
    stories.sort();
    stories
}

fn annotations(v: &V5) -> Value {
    let mut a = mappings(v);
    a.insert("analytic_story".into(), json!(sorted_stories(v)));
    if !v.tags.cve.is_empty() {
        a.insert("cve".into(), json!(v.tags.cve));
    }
    a.insert("type".into(), json!(v.kind));
    a.insert("type_list".into(), json!([v.kind]));
    a.insert("data_source".into(), json!(v.data_source()));
    Value::Object(a)
}

/// Midnight UTC of a `YYYY-MM-DD` date, in epoch seconds (contentctl's `publish_time`).
pub(super) fn publish_time(path: &Path, key: &str, date: &str) -> Result<f64, AppError> {
    let day = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|e| AppError::content(path, format!("{key} {date:?} is not YYYY-MM-DD: {e}")))?;
    let midnight = day
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| AppError::content(path, "date has no midnight (cannot happen)"))?;
    Ok(midnight.and_utc().timestamp() as f64)
}

fn metadata(v: &V5) -> Result<Value, AppError> {
    Ok(json!({
        "detection_id": v.d.meta.id,
        "deprecated": if v.common.status == "deprecated" { "1" } else { "0" },
        "detection_version": v.common.version.to_string(),
        "publish_time": publish_time(v.path, "date", v.date)?,
    }))
}

fn providing_technologies(search: &str) -> Vec<&'static str> {
    let mut set = BTreeSet::new();
    for (needle, techs) in PROVIDING_TECHNOLOGIES {
        if search.contains(needle) {
            set.extend(techs.iter().copied());
        }
    }
    set.into_iter().collect()
}

/// `action.risk.param._risk`: risk objects (the finding's entity and the intermediate
/// findings: every `rba.risk_objects` entry) then threat objects, each group sorted the way
/// contentctl's `__lt__` sorts them (by the concatenated string `field+type[+score]`).
fn risk(v: &V5) -> Value {
    let meta = &v.d.meta;
    let mut risks: Vec<_> = meta.risk_entities().into_iter().map(|e| e.object).collect();
    risks.sort_by_key(|o| format!("{}{}{}", o.field, o.kind, o.score));
    let mut threats: Vec<_> = meta.threat_objects.iter().collect();
    threats.sort_by_key(|o| format!("{}{}", o.field, o.kind));
    let mut out: Vec<Value> = risks
        .into_iter()
        .map(|o| json!({"risk_object_field": o.field, "risk_object_type": o.kind, "risk_score": o.score.get()}))
        .collect();
    out.extend(
        threats
            .into_iter()
            .map(|o| json!({"threat_object_field": o.field, "threat_object_type": o.kind})),
    );
    Value::Array(out)
}

/// The one `rba.message` (every finding title and entity message of a v5 rule is it).
fn rba_message(v: &V5) -> String {
    let entities = v.d.meta.risk_entities();
    entities
        .first()
        .map(|e| e.message.to_string())
        .unwrap_or_default()
}

fn severity(v: &V5) -> &'static str {
    let max =
        v.d.meta
            .risk_entities()
            .iter()
            .map(|e| e.object.score.get())
            .max();
    severity_of(max)
}

/// contentctl's `custom_jinja2_enrichment_filter`: `%field%` → the detection's field.
fn enrich(v: &V5, template: &str) -> Result<String, AppError> {
    let mut out = template.to_string();
    for (token, value) in [
        ("%name%", v.name),
        ("%description%", v.common.description),
        ("%search%", v.common.search),
        (
            "%security_domain%",
            v.tags.security_domain.as_deref().unwrap_or(""),
        ),
    ] {
        out = out.replace(token, value);
    }
    if let Some(start) = out.find('%') {
        if out[start + 1..].contains('%') {
            return Err(AppError::content(
                v.path,
                format!("unsupported %field% substitution in {template:?}"),
            ));
        }
    }
    Ok(out)
}

fn drilldowns(v: &V5) -> Value {
    let all =
        v.d.doc
            .prose
            .drilldown_searches
            .as_deref()
            .unwrap_or_default();
    Value::Array(
        all.iter()
            .map(|dd| {
                let mut m = Map::new();
                m.insert("name".into(), json!(dd.name));
                m.insert(
                    "search".into(),
                    json!(dd
                        .search
                        .replace("%original_detection_search%", v.common.search)),
                );
                if let Some(e) = &dd.earliest_offset {
                    m.insert("earliest_offset".into(), json!(e));
                }
                if let Some(l) = &dd.latest_offset {
                    m.insert("latest_offset".into(), json!(l));
                }
                Value::Object(m)
            })
            .collect(),
    )
}

/// One v5 detection stanza as ordered `(key, value)` pairs.
pub fn detection_entries(
    loaded: &Loaded<Detection>,
    deployment: &Deployment,
) -> Result<Vec<(String, String)>, AppError> {
    let v = V5::of(loaded)?;
    if v.tags.throttling.is_some() {
        return Err(AppError::content(
            v.path,
            "tags.throttling is not supported by our renderer",
        ));
    }
    let rba_enabled = deployment
        .alert_action
        .rba
        .as_ref()
        .is_some_and(|r| r.enabled);
    if rba_enabled && !v.d.meta.carries_risk() {
        return Err(AppError::content(
            v.path,
            format!(
                "type {} needs an `rba:` block (risk message and risk objects)",
                v.kind
            ),
        ));
    }
    let mut e: Vec<(String, String)> = Vec::new();
    escu_keys(&v, &mut e);
    if rba_enabled {
        put(&mut e, "action.risk", "1");
        put(
            &mut e,
            "action.risk.param._risk_message",
            &escape_newlines(&rba_message(&v)),
        );
        put(&mut e, "action.risk.param._risk", &tojson(&risk(&v)));
        put(&mut e, "action.risk.param._risk_score", "0");
        put(&mut e, "action.risk.param.verbose", "0");
    }
    schedule_and_label_keys(&v, deployment, &mut e)?;
    if let Some(notable) = &deployment.alert_action.notable {
        notable_keys(&v, notable, &mut e)?;
    }
    put(&mut e, "alert.digest_mode", "1");
    let enabled = v.d.doc.prose.enabled_by_default.unwrap_or(false);
    put(&mut e, "disabled", &(!enabled).to_string());
    for (key, value) in SCHEDULED_ALERT_KEYS {
        put(&mut e, key, value);
    }
    put(&mut e, "search", &escape_newlines(v.common.search));
    put(
        &mut e,
        "action.notable.param.drilldown_searches",
        &escape_newlines(&tojson(&drilldowns(&v))),
    );
    Ok(e)
}

fn put(e: &mut Vec<(String, String)>, key: &str, value: &str) {
    e.push((key.to_string(), value.to_string()));
}

/// The `action.escu.*` block contentctl 5 writes first.
fn escu_keys(v: &V5, e: &mut Vec<(String, String)>) {
    let description = escape_newlines(&status_aware_description(v.common));
    let data_models: Vec<&str> = DATA_MODELS
        .iter()
        .copied()
        .filter(|dm| v.common.search.contains(dm))
        .collect();
    let techs = providing_technologies(v.common.search);
    put(e, "action.escu", "0");
    put(e, "action.escu.enabled", "1");
    put(e, "description", &format!("{description} "));
    put(
        e,
        "action.escu.mappings",
        &tojson(&Value::Object(mappings(v))),
    );
    put(e, "action.escu.data_models", &tojson(&json!(data_models)));
    put(e, "action.escu.eli5", &description);
    put(
        e,
        "action.escu.how_to_implement",
        &escape_newlines(v.how_to_implement),
    );
    put(
        e,
        "action.escu.known_false_positives",
        &escape_newlines(v.known_false_positives),
    );
    put(e, "action.escu.creation_date", v.date);
    put(e, "action.escu.modification_date", v.date);
    put(e, "action.escu.confidence", "high");
    put(e, "action.escu.search_type", "detection");
    put(e, "action.escu.product", &tojson(&json!(v.tags.product)));
    if !v.tags.atomic_guid.is_empty() {
        put(
            e,
            "action.escu.atomic_red_team_guids",
            &tojson(&json!(v.tags.atomic_guid)),
        );
    }
    let techs = if techs.is_empty() {
        "null".to_string()
    } else {
        tojson(&json!(techs))
    };
    put(e, "action.escu.providing_technologies", &techs);
    put(
        e,
        "action.escu.analytic_story",
        &tojson(&json!(sorted_stories(v))),
    );
}

fn schedule_and_label_keys(
    v: &V5,
    deployment: &Deployment,
    e: &mut Vec<(String, String)>,
) -> Result<(), AppError> {
    let s = &deployment.scheduling;
    put(e, "cron_schedule", &s.cron_schedule);
    put(e, "dispatch.earliest_time", &s.earliest_time);
    put(e, "dispatch.latest_time", &s.latest_time);
    put(e, "action.correlationsearch.enabled", "1");
    put(e, "action.correlationsearch.detection_type", "ebd");
    put(e, "action.correlationsearch.label", &stanza_name(v.name));
    put(
        e,
        "action.correlationsearch.annotations",
        &tojson(&annotations(v)),
    );
    put(
        e,
        "action.correlationsearch.metadata",
        &tojson(&metadata(v)?),
    );
    put(e, "schedule_window", &s.schedule_window);
    Ok(())
}

fn notable_keys(
    v: &V5,
    notable: &crate::model::NotableAction,
    e: &mut Vec<(String, String)>,
) -> Result<(), AppError> {
    let title = enrich(v, &notable.rule_title)?;
    put(e, "action.notable", "1");
    put(
        e,
        "action.notable.param._entities",
        r#"[{"risk_object_field": "N/A", "risk_object_type": "N/A", "risk_score": 0}]"#,
    );
    put(
        e,
        "action.notable.param.nes_fields",
        &notable.nes_fields.join(","),
    );
    put(
        e,
        "action.notable.param.rule_description",
        &escape_newlines(&enrich(v, &notable.rule_description)?),
    );
    let title = if v.kind.eq_ignore_ascii_case("correlation") {
        format!("RBA: {title}")
    } else {
        title
    };
    put(e, "action.notable.param.rule_title", &title);
    put(
        e,
        "action.notable.param.security_domain",
        v.tags.security_domain.as_deref().unwrap_or_default(),
    );
    put(e, "action.notable.param.severity", severity(v));
    Ok(())
}
