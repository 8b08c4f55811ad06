//! `savedsearches.conf`: one stanza per detection, key for key and value for value what
//! contentctl 5.6.2's `savedsearches_detections.j2` renders (only the label prefix differs:
//! [`crate::APP_LABEL`] instead of `ESCU`), plus our combined search.

use crate::conf::escape_newlines;
use crate::model::{Content, Deployment, Detection, Loaded};
use crate::tojson::tojson;
use crate::{AppError, APP_LABEL};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

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

const DEPRECATED_TEMPLATE: &str = "**WARNING**, this Detection has been marked **DEPRECATED** by the Splunk Threat Research Team. This means that it will no longer be maintained or supported. If you have any questions feel free to email us at: research@splunk.com. ";
const EXPERIMENTAL_TEMPLATE: &str = "**WARNING**, this Detection is marked **EXPERIMENTAL** by the Splunk Threat Research Team. This means that the Detection has been manually tested but we do not have the associated attack data to perform automated testing or cannot share this attack dataset due to its sensitive nature. If you have any questions feel free to email us at: research@splunk.com. ";

/// Name of the combined search's stanza and of its ES label.
pub fn combined_stanza_name() -> String {
    stanza_name("Combined Detections")
}

/// `"<label> - <name> - Rule"` (contentctl's `CONTENTCTL_DETECTION_STANZA_NAME_FORMAT_TEMPLATE`).
pub fn stanza_name(detection_name: &str) -> String {
    format!("{APP_LABEL} - {detection_name} - Rule")
}

/// contentctl's generated filter macro name: lower-cased, ` - . /` → `_`, plus `_filter`.
pub fn filter_macro_name(detection_name: &str) -> String {
    let base: String = detection_name
        .chars()
        .map(|c| match c {
            ' ' | '-' | '.' | '/' => '_',
            c => c,
        })
        .collect();
    format!("{}_filter", base.to_lowercase())
}

fn status_aware_description(d: &Detection) -> String {
    match d.status.as_str() {
        "experimental" => format!("{EXPERIMENTAL_TEMPLATE}{}", d.description),
        "deprecated" => format!("{DEPRECATED_TEMPLATE}{}", d.description),
        _ => d.description.clone(),
    }
}

fn mappings(d: &Detection) -> Map<String, Value> {
    let mut m = Map::new();
    let cis = if d.tags.security_domain.as_deref() == Some("network") {
        "CIS 13"
    } else {
        "CIS 10"
    };
    m.insert("cis20".into(), json!([cis]));
    if !d.tags.mitre_attack_id.is_empty() {
        m.insert("mitre_attack".into(), json!(d.tags.mitre_attack_id));
    }
    let nist = if d.kind == "TTP" { "DE.CM" } else { "DE.AE" };
    m.insert("nist".into(), json!([nist]));
    m
}

fn sorted_stories(d: &Detection) -> Vec<String> {
    let mut stories = d.tags.analytic_story.clone();
    stories.sort();
    stories
}

fn annotations(d: &Detection) -> Value {
    let mut a = mappings(d);
    a.insert("analytic_story".into(), json!(sorted_stories(d)));
    if !d.tags.cve.is_empty() {
        a.insert("cve".into(), json!(d.tags.cve));
    }
    a.insert("type".into(), json!(d.kind));
    a.insert("type_list".into(), json!([d.kind]));
    a.insert("data_source".into(), json!(d.data_source));
    Value::Object(a)
}

fn publish_time(loaded: &Loaded<Detection>) -> Result<f64, AppError> {
    let date = chrono::NaiveDate::parse_from_str(&loaded.item.date, "%Y-%m-%d").map_err(|e| {
        AppError::content(
            &loaded.path,
            format!("date {:?} is not YYYY-MM-DD: {e}", loaded.item.date),
        )
    })?;
    let midnight = date
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| AppError::content(&loaded.path, "date has no midnight (cannot happen)"))?;
    Ok(midnight.and_utc().timestamp() as f64)
}

fn metadata(loaded: &Loaded<Detection>) -> Result<Value, AppError> {
    let d = &loaded.item;
    Ok(json!({
        "detection_id": d.id,
        "deprecated": if d.status == "deprecated" { "1" } else { "0" },
        "detection_version": d.version.to_string(),
        "publish_time": publish_time(loaded)?,
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

/// `action.risk.param._risk`: risk objects then threat objects, each group sorted the way
/// contentctl's `__lt__` sorts them (by the concatenated string `field+type[+score]`).
fn risk(d: &Detection) -> Value {
    let Some(rba) = &d.rba else {
        return json!([]);
    };
    let mut risks: Vec<_> = rba.risk_objects.iter().collect();
    risks.sort_by_key(|o| format!("{}{}{}", o.field, o.kind, o.score));
    let mut threats: Vec<_> = rba.threat_objects.iter().collect();
    threats.sort_by_key(|o| format!("{}{}", o.field, o.kind));
    let mut out: Vec<Value> = risks
        .into_iter()
        .map(|o| json!({"risk_object_field": o.field, "risk_object_type": o.kind, "risk_score": o.score}))
        .collect();
    out.extend(
        threats
            .into_iter()
            .map(|o| json!({"threat_object_field": o.field, "threat_object_type": o.kind})),
    );
    Value::Array(out)
}

fn severity(d: &Detection) -> &'static str {
    let Some(max) = d
        .rba
        .as_ref()
        .and_then(|r| r.risk_objects.iter().map(|o| o.score).max())
    else {
        return "high";
    };
    match max {
        0..=20 => "informational",
        21..=40 => "low",
        41..=60 => "medium",
        61..=80 => "high",
        _ => "critical",
    }
}

/// contentctl's `custom_jinja2_enrichment_filter`: `%field%` → the detection's field.
fn enrich(loaded: &Loaded<Detection>, template: &str) -> Result<String, AppError> {
    let d = &loaded.item;
    let mut out = template.to_string();
    for (token, value) in [
        ("%name%", d.name.as_str()),
        ("%description%", d.description.as_str()),
        ("%search%", d.search.as_str()),
        (
            "%security_domain%",
            d.tags.security_domain.as_deref().unwrap_or(""),
        ),
    ] {
        out = out.replace(token, value);
    }
    if let Some(start) = out.find('%') {
        if out[start + 1..].contains('%') {
            return Err(AppError::content(
                &loaded.path,
                format!("unsupported %field% substitution in {template:?}"),
            ));
        }
    }
    Ok(out)
}

fn drilldowns(d: &Detection) -> Value {
    Value::Array(
        d.drilldown_searches
            .iter()
            .map(|dd| {
                let mut m = Map::new();
                m.insert("name".into(), json!(dd.name));
                m.insert(
                    "search".into(),
                    json!(dd.search.replace("%original_detection_search%", &d.search)),
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

/// One detection stanza as ordered `(key, value)` pairs.
pub fn detection_entries(
    loaded: &Loaded<Detection>,
    deployment: &Deployment,
) -> Result<Vec<(String, String)>, AppError> {
    let d = &loaded.item;
    if d.tags.throttling.is_some() {
        return Err(AppError::content(
            &loaded.path,
            "tags.throttling is not supported by our renderer",
        ));
    }
    let rba_enabled = deployment
        .alert_action
        .rba
        .as_ref()
        .is_some_and(|r| r.enabled);
    if rba_enabled && d.rba.is_none() {
        return Err(AppError::content(
            &loaded.path,
            format!(
                "type {} needs an `rba:` block (risk message and risk objects)",
                d.kind
            ),
        ));
    }
    let description = escape_newlines(&status_aware_description(d));
    let data_models: Vec<&str> = DATA_MODELS
        .iter()
        .copied()
        .filter(|dm| d.search.contains(dm))
        .collect();
    let techs = providing_technologies(&d.search);
    let mut e: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| e.push((k.to_string(), v));
    put("action.escu", "0".into());
    put("action.escu.enabled", "1".into());
    put("description", format!("{description} "));
    put("action.escu.mappings", tojson(&Value::Object(mappings(d))));
    put("action.escu.data_models", tojson(&json!(data_models)));
    put("action.escu.eli5", description.clone());
    put(
        "action.escu.how_to_implement",
        escape_newlines(&d.how_to_implement),
    );
    put(
        "action.escu.known_false_positives",
        escape_newlines(&d.known_false_positives),
    );
    put("action.escu.creation_date", d.date.clone());
    put("action.escu.modification_date", d.date.clone());
    put("action.escu.confidence", "high".into());
    put("action.escu.search_type", "detection".into());
    put("action.escu.product", tojson(&json!(d.tags.product)));
    if !d.tags.atomic_guid.is_empty() {
        put(
            "action.escu.atomic_red_team_guids",
            tojson(&json!(d.tags.atomic_guid)),
        );
    }
    put(
        "action.escu.providing_technologies",
        if techs.is_empty() {
            "null".into()
        } else {
            tojson(&json!(techs))
        },
    );
    put(
        "action.escu.analytic_story",
        tojson(&json!(sorted_stories(d))),
    );
    if let (true, Some(rba)) = (rba_enabled, &d.rba) {
        put("action.risk", "1".into());
        put(
            "action.risk.param._risk_message",
            escape_newlines(&rba.message),
        );
        put("action.risk.param._risk", tojson(&risk(d)));
        put("action.risk.param._risk_score", "0".into());
        put("action.risk.param.verbose", "0".into());
    }
    let s = &deployment.scheduling;
    put("cron_schedule", s.cron_schedule.clone());
    put("dispatch.earliest_time", s.earliest_time.clone());
    put("dispatch.latest_time", s.latest_time.clone());
    put("action.correlationsearch.enabled", "1".into());
    put("action.correlationsearch.detection_type", "ebd".into());
    put("action.correlationsearch.label", stanza_name(&d.name));
    put(
        "action.correlationsearch.annotations",
        tojson(&annotations(d)),
    );
    put(
        "action.correlationsearch.metadata",
        tojson(&metadata(loaded)?),
    );
    put("schedule_window", s.schedule_window.clone());
    if let Some(notable) = &deployment.alert_action.notable {
        let title = enrich(loaded, &notable.rule_title)?;
        put("action.notable", "1".into());
        put(
            "action.notable.param._entities",
            r#"[{"risk_object_field": "N/A", "risk_object_type": "N/A", "risk_score": 0}]"#.into(),
        );
        put(
            "action.notable.param.nes_fields",
            notable.nes_fields.join(","),
        );
        put(
            "action.notable.param.rule_description",
            escape_newlines(&enrich(loaded, &notable.rule_description)?),
        );
        put(
            "action.notable.param.rule_title",
            if d.kind.eq_ignore_ascii_case("correlation") {
                format!("RBA: {title}")
            } else {
                title
            },
        );
        put(
            "action.notable.param.security_domain",
            d.tags.security_domain.clone().unwrap_or_default(),
        );
        put("action.notable.param.severity", severity(d).into());
    }
    put("alert.digest_mode", "1".into());
    put("disabled", (!d.enabled_by_default).to_string());
    for (key, value) in SCHEDULED_ALERT_KEYS {
        put(key, value.into());
    }
    put("search", escape_newlines(&d.search));
    put(
        "action.notable.param.drilldown_searches",
        escape_newlines(&tojson(&drilldowns(d))),
    );
    Ok(e)
}

/// The fixed keys contentctl writes after `disabled` in every scheduled detection stanza, in
/// its order; the combined search uses them too.
const SCHEDULED_ALERT_KEYS: [(&str, &str); 7] = [
    ("enableSched", "1"),
    ("allow_skew", "100%"),
    ("counttype", "number of events"),
    ("relation", "greater than"),
    ("quantity", "0"),
    ("realtime_schedule", "0"),
    ("is_visible", "false"),
];

/// The risk-object routing macro the combined search uses: ES's risk action takes each risk
/// object's *type* from its configuration, not from the row, so the row's single
/// `risk_object` is copied into the one per-type field its `risk_object_type` names.
pub const RISK_OBJECT_FIELDS_MACRO: &str = "netdiscover_risk_object_fields";
/// The combined search's filter macro (`search *`), namespaced so it cannot meet an ESCU one.
pub const COMBINED_FILTER_MACRO: &str = "netdiscover_combined_detections_filter";
/// The risk object types contentctl allows (`RiskObjectType`).
pub const RISK_OBJECT_TYPES: &[&str] = &["other", "system", "user"];

/// The combined search: one `tstats` pass grouped by every field the rules read, then
/// `| netdiscover mode=risk` (one row per matched rule × risk object), then ES's risk action.
pub fn combined_entries(content: &Content) -> Result<Vec<(String, String)>, AppError> {
    let deployment = content
        .deployments
        .iter()
        .find(|d| d.item.alert_action.rba.as_ref().is_some_and(|r| r.enabled))
        .map(|d| &d.item)
        .ok_or_else(|| {
            AppError::Invalid("app/deployments has no deployment with rba enabled".into())
        })?;
    let fields = crate::fields::rule_fields(content);
    let by: Vec<String> = fields.iter().map(|f| format!("Processes.{f}")).collect();
    let search = format!(
        "| tstats `security_content_summariesonly` count min(_time) as firstTime max(_time) as lastTime \
from datamodel=Endpoint.Processes by {} | `drop_dm_object_name(Processes)` | netdiscover mode=risk \
| `{RISK_OBJECT_FIELDS_MACRO}` | `security_content_ctime(firstTime)` | `security_content_ctime(lastTime)` \
| `{}`",
        by.join(" "),
        COMBINED_FILTER_MACRO,
    );
    let risk: Vec<Value> = RISK_OBJECT_TYPES
        .iter()
        .map(|t| json!({"risk_object_field": format!("risk_object_{t}"), "risk_object_type": t, "risk_score": 0}))
        .collect();
    let s = &deployment.scheduling;
    let description =
        "Runs every detection rule netdiscover loads (the shipped ESCU rules and any rules in \
local/rules) over one tstats pass of Endpoint.Processes, grouped by every field those rules read, \
and writes one Enterprise Security risk event per matched rule and risk object, with that rule's \
risk score and risk message. Disabled by default: enable it instead of the per-rule searches.";
    let mut e: Vec<(String, String)> = Vec::new();
    let mut put = |k: &str, v: String| e.push((k.to_string(), v));
    put("description", description.into());
    put("action.risk", "1".into());
    put("action.risk.param._risk_message", "$risk_message$".into());
    put("action.risk.param._risk", tojson(&Value::Array(risk)));
    put("action.risk.param._risk_score", "0".into());
    put("action.risk.param.verbose", "0".into());
    put("cron_schedule", s.cron_schedule.clone());
    put("dispatch.earliest_time", s.earliest_time.clone());
    put("dispatch.latest_time", s.latest_time.clone());
    put("action.correlationsearch.enabled", "1".into());
    put("action.correlationsearch.detection_type", "ebd".into());
    put("action.correlationsearch.label", combined_stanza_name());
    put("schedule_window", s.schedule_window.clone());
    put("alert.digest_mode", "1".into());
    put("disabled", "true".into());
    for (key, value) in SCHEDULED_ALERT_KEYS {
        put(key, value.into());
    }
    put("search", search);
    Ok(e)
}

fn write_stanza(out: &mut String, name: &str, entries: &[(String, String)]) {
    out.push_str(&format!("[{name}]\n"));
    for (k, v) in entries {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out.push('\n');
}

/// The whole `default/savedsearches.conf`.
pub fn render(content: &Content, header: &str) -> Result<String, AppError> {
    let mut out = String::from(header);
    out.push_str(
        "[default]\n\
disabled = 1\n\
description = \"This search was removed in a previous release, or is otherwise not present.\"\n\
search = | makeresults | eval text = \"This search was removed in a previous release, or is otherwise not present.\"\n\n",
    );
    out.push_str(&format!("### {APP_LABEL} DETECTIONS ###\n\n\n"));
    for loaded in &content.detections {
        let deployment = content.deployment_for(loaded)?;
        write_stanza(
            &mut out,
            &stanza_name(&loaded.item.name),
            &detection_entries(loaded, deployment)?,
        );
    }
    out.push_str(&format!("### END {APP_LABEL} DETECTIONS ###\n\n"));
    out.push_str(&format!("### {APP_LABEL} COMBINED SEARCH ###\n\n"));
    write_stanza(
        &mut out,
        &combined_stanza_name(),
        &combined_entries(content)?,
    );
    out.push_str(&format!("### END {APP_LABEL} COMBINED SEARCH ###\n"));
    Ok(out)
}
