//! `savedsearches.conf`: one stanza per detection, rendered the way the tool of its schema
//! renders it — contentctl-ng 1.1.1 for ESCU 6 rules ([`escu6`], scheduled by `schedules/`),
//! contentctl 5.6.2 for v5 rules ([`contentctl5`], scheduled by `deployments/`) — plus our
//! combined search. Only the label prefix differs from ESCU's: [`crate::APP_LABEL`].

pub mod contentctl5;
pub mod escu6;

use crate::model::{Common, Content, Detection, Loaded, Schedule};
use crate::tojson::compact_json;
use crate::{AppError, APP_LABEL};
use netdiscover::rules::EscuSchema;
use serde_json::{json, Value};

pub use contentctl5::detection_entries as contentctl5_entries;
pub use escu6::detection_entries as escu6_entries;

/// Name of the combined search's stanza and of its ES label.
pub fn combined_stanza_name() -> String {
    stanza_name("Combined Detections")
}

/// `"<label> - <name> - Rule"` (contentctl's `CONTENTCTL_DETECTION_STANZA_NAME_FORMAT_TEMPLATE`,
/// contentctl-ng's `EventBasedDetection.stanza_name`); the name `| netdiscover mode=risk`
/// gives each rule's risk rows.
pub fn stanza_name(detection_name: &str) -> String {
    netdiscover::cli::command::rule_search_name(detection_name)
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

const DEPRECATED_TEMPLATE: &str = "**WARNING**, this Detection has been marked **DEPRECATED** by the Splunk Threat Research Team. This means that it will no longer be maintained or supported. If you have any questions feel free to email us at: research@splunk.com. ";
const EXPERIMENTAL_TEMPLATE: &str = "**WARNING**, this Detection is marked **EXPERIMENTAL** by the Splunk Threat Research Team. This means that the Detection has been manually tested but we do not have the associated attack data to perform automated testing or cannot share this attack dataset due to its sensitive nature. If you have any questions feel free to email us at: research@splunk.com. ";

/// The description with the notice contentctl and contentctl-ng put before an experimental or
/// deprecated detection's (the same text in both: contentctl 5 `detection.j2`, contentctl-ng
/// `SecurityContent.status_aware_description`).
fn status_aware_description(c: Common) -> String {
    match c.status {
        "experimental" => format!("{EXPERIMENTAL_TEMPLATE}{}", c.description),
        "deprecated" => format!("{DEPRECATED_TEMPLATE}{}", c.description),
        _ => c.description.to_string(),
    }
}

/// `action.notable.param.severity` for a score (contentctl and contentctl-ng: 0–20
/// informational, 21–40 low, 41–60 medium, 61–80 high, above critical; no score: high).
fn severity_of(score: Option<u8>) -> &'static str {
    match score {
        None => "high",
        Some(0..=20) => "informational",
        Some(21..=40) => "low",
        Some(41..=60) => "medium",
        Some(61..=80) => "high",
        Some(_) => "critical",
    }
}

/// One detection's stanza, by the renderer of its schema.
pub fn detection_entries(
    content: &Content,
    loaded: &Loaded<Detection>,
) -> Result<Vec<(String, String)>, AppError> {
    match loaded.item.schema() {
        EscuSchema::V6 => {
            let schedule = content.schedule_for(loaded)?;
            escu6_entries(loaded, &schedule, &content.mitre_tactics)
        }
        EscuSchema::V5 => contentctl5_entries(loaded, content.deployment_for(loaded)?),
        EscuSchema::V4 => Err(AppError::content(
            &loaded.path,
            "a v4 (tags.observable) rule is not rendered: port it to ESCU 6 or v5",
        )),
    }
}

/// The risk-object routing macro the combined search uses: ES's risk action takes each risk
/// object's *type* from its configuration, not from the row, so the row's single
/// `risk_object` is copied into the one per-type field its `risk_object_type` names.
pub const RISK_OBJECT_FIELDS_MACRO: &str = "netdiscover_risk_object_fields";
/// The combined search's filter macro (`search *`), namespaced so it cannot meet an ESCU one.
pub const COMBINED_FILTER_MACRO: &str = "netdiscover_combined_detections_filter";
/// The risk object types contentctl and contentctl-ng allow (`RiskObjectType`).
pub const RISK_OBJECT_TYPES: &[&str] = &["other", "system", "user"];

const COMBINED_DESCRIPTION: &str = "Runs every detection rule netdiscover loads (the shipped \
ESCU rules and any rules in local/rules) over one tstats pass of Endpoint.Processes, grouped by \
every field those rules read, and writes one Enterprise Security risk event (an intermediate \
finding in ES 8) per matched rule and entity, with that rule's score and message; each event \
carries the rule's own name (orig_search_name), MITRE ids (annotations.mitre_attack) and \
stories (analyticstories). Disabled by default: enable it instead of the per-rule searches.";

/// The combined search's schedule: the ESCU 6 default schedule, or (for a v5-only app) the
/// schedule of a deployment with risk enabled.
fn combined_schedule(content: &Content) -> Result<Schedule, AppError> {
    if let Some(s) = content.schedule_named(crate::model::DEFAULT_SCHEDULE) {
        return Ok(s.clone());
    }
    let deployment = content
        .deployments
        .iter()
        .find(|d| d.item.alert_action.rba.as_ref().is_some_and(|r| r.enabled))
        .ok_or_else(|| {
            AppError::Invalid(
                "app/ has neither schedules/ with the default schedule nor a deployment with rba enabled"
                    .into(),
            )
        })?;
    let s = &deployment.item.scheduling;
    Ok(Schedule {
        name: deployment.item.name.clone(),
        cron_schedule: s.cron_schedule.clone(),
        earliest_time: s.earliest_time.clone(),
        latest_time: s.latest_time.clone(),
        schedule_window: s.schedule_window.clone(),
    })
}

/// The combined search: one `tstats` pass grouped by every field the rules read, then
/// `| netdiscover mode=risk` (one row per matched rule × entity), then ES's risk action,
/// written as contentctl-ng writes a stanza (sorted keys, `1`/`0`, compact JSON). Each of the
/// three per-type risk objects carries the row's own message, which ES 8 reads per entity.
pub fn combined_entries(content: &Content) -> Result<Vec<(String, String)>, AppError> {
    let s = combined_schedule(content)?;
    let fields = crate::fields::rule_fields(content);
    let by: Vec<String> = fields.iter().map(|f| format!("Processes.{f}")).collect();
    let search = format!(
        "| tstats `security_content_summariesonly` count min(_time) as firstTime max(_time) as lastTime \
from datamodel=Endpoint.Processes by {} | `drop_dm_object_name(Processes)` | netdiscover mode=risk \
| `{RISK_OBJECT_FIELDS_MACRO}` | `security_content_ctime(firstTime)` | `security_content_ctime(lastTime)` \
| `{COMBINED_FILTER_MACRO}`",
        by.join(" "),
    );
    let risk: Vec<Value> = RISK_OBJECT_TYPES
        .iter()
        .map(|t| {
            json!({"risk_message": "$risk_message$", "risk_object_field": format!("risk_object_{t}"),
                   "risk_object_type": t, "risk_score": 0})
        })
        .collect();
    let mut e: Vec<(String, String)> = vec![
        ("description".into(), COMBINED_DESCRIPTION.into()),
        ("action.risk".into(), "1".into()),
        (
            "action.risk.param._risk".into(),
            compact_json(&Value::Array(risk)),
        ),
        (
            "action.risk.param._risk_message".into(),
            "$risk_message$".into(),
        ),
        ("action.risk.param._risk_score".into(), "0".into()),
        ("action.risk.param.verbose".into(), "0".into()),
        ("cron_schedule".into(), s.cron_schedule),
        ("dispatch.earliest_time".into(), s.earliest_time),
        ("dispatch.latest_time".into(), s.latest_time),
        ("schedule_window".into(), s.schedule_window),
        ("action.correlationsearch.enabled".into(), "1".into()),
        (
            "action.correlationsearch.detection_type".into(),
            "ebd".into(),
        ),
        (
            "action.correlationsearch.label".into(),
            combined_stanza_name(),
        ),
        ("search".into(), search),
    ];
    for (key, value) in escu6::FIXED_KEYS {
        e.push((key.into(), value.into()));
    }
    e.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(e)
}

fn write_stanza(out: &mut String, name: &str, entries: &[(String, String)]) {
    out.push_str(&format!("[{name}]\n"));
    for (k, v) in entries {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out.push('\n');
}

/// The whole `default/savedsearches.conf`: the `[default]` stanza contentctl and
/// contentctl-ng both write, the v5 detections in file order (contentctl 5), the ESCU 6 ones by
/// stanza name (contentctl-ng), then the combined search.
pub fn render(content: &Content, header: &str) -> Result<String, AppError> {
    let mut out = String::from(header);
    out.push_str(
        "[default]\n\
disabled = 1\n\
description = \"This search was removed in a previous release, or is otherwise not present.\"\n\
search = | makeresults | eval text = \"This search was removed in a previous release, or is otherwise not present.\"\n\n",
    );
    out.push_str(&format!("### {APP_LABEL} DETECTIONS ###\n\n\n"));
    let mut stanzas = Vec::new();
    for loaded in &content.detections {
        stanzas.push((stanza_name(&loaded.item.meta.name), loaded));
    }
    stanzas.sort_by_key(|(name, d)| (d.item.schema() == EscuSchema::V6).then(|| name.clone()));
    for (name, loaded) in stanzas {
        write_stanza(&mut out, &name, &detection_entries(content, loaded)?);
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
