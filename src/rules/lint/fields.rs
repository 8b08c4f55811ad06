//! The fields a search reads, checked against the CIM Endpoint.Processes list (names the
//! `tstats` stage reads from the data model) and against what earlier stages output (names
//! later stages read).

use std::collections::HashSet;
use std::path::Path;

use super::super::compile::{FieldRead, FieldSource, SearchFacts};
use super::super::sigma;
use super::cim;
use super::{Finding, Location, Severity};

/// The rule a finding belongs to and how to place its positions.
pub struct Context<'a> {
    pub file: &'a Path,
    pub rule: &'a str,
    /// Where a position of the facts is in what the author wrote.
    pub locate: &'a dyn Fn(usize) -> Location,
}

impl Context<'_> {
    pub fn finding(
        &self,
        severity: Severity,
        code: &'static str,
        field: &str,
        position: Option<usize>,
        message: String,
        suggestion: Option<String>,
    ) -> Finding {
        Finding {
            severity,
            code,
            file: self.file.to_path_buf(),
            rule: self.rule.to_string(),
            field: Some(field.to_string()),
            position,
            location: position.map(|p| (self.locate)(p)),
            message,
            suggestion,
        }
    }
}

fn cim_names() -> impl Iterator<Item = &'static str> {
    cim::fields().iter().map(|f| f.name.as_str())
}

/// One finding per unknown or unavailable field read of an ESCU search.
pub fn check(facts: &SearchFacts, cx: &Context<'_>) -> Vec<Finding> {
    each_read(facts, cx, check_read)
}

/// `check_one` on each read, each name and position once.
fn each_read(
    facts: &SearchFacts,
    cx: &Context<'_>,
    check_one: fn(&FieldRead, &Context<'_>) -> Option<Finding>,
) -> Vec<Finding> {
    let mut seen = HashSet::new();
    facts
        .reads
        .iter()
        .filter(|r| seen.insert((r.name.as_str(), r.position)))
        .filter_map(|r| check_one(r, cx))
        .collect()
}

fn check_read(read: &FieldRead, cx: &Context<'_>) -> Option<Finding> {
    let from_data_model = read.stage == "tstats";
    match &read.source {
        FieldSource::DataModel(bare) if from_data_model && cim::field(bare).is_none() => {
            let suggestion = cim::did_you_mean(bare, cim_names()).map(str::to_string);
            Some(cx.finding(
                Severity::Error,
                "unknown-field",
                &read.name,
                Some(read.position),
                format!("`{}`: the CIM Endpoint.Processes data set has no field `{bare}`, so it is null in every row", read.name),
                suggestion,
            ))
        }
        FieldSource::Missing if from_data_model => {
            let bare = read.name.rsplit('.').next().unwrap_or(&read.name);
            Some(cx.finding(
                Severity::Error,
                "unknown-field",
                &read.name,
                Some(read.position),
                format!("`{}` names no field of the data set (field names are case-sensitive; data-model fields are `Processes.<field>`)", read.name),
                cim::field(bare).map(|_| format!("Processes.{bare}")),
            ))
        }
        FieldSource::Missing if matches!(read.stage.as_str(), "convert" | "rename") => {
            Some(cx.finding(
                Severity::Warning,
                "reshapes-missing-field",
                &read.name,
                Some(read.position),
                format!(
                    "`{}` reshapes `{}`, which no earlier stage outputs: a no-op, and the results have no `{}`",
                    read.stage, read.name, read.name
                ),
                None,
            ))
        }
        FieldSource::Missing => Some(not_output(read, cx)),
        _ => None,
    }
}

/// A later stage reads a name no earlier stage outputs.
fn not_output(read: &FieldRead, cx: &Context<'_>) -> Finding {
    let bare = read.name.strip_prefix("Processes.").unwrap_or(&read.name);
    let message = if cim::field(bare).is_some() {
        format!(
            "`{}` is read by `{}`, but no earlier stage outputs it (tstats outputs only its `by` fields and aggregates): it is null in every row",
            read.name, read.stage
        )
    } else {
        format!(
            "`{}` is read by `{}`, but no earlier stage outputs it and the data set has no such field: it is null in every row",
            read.name, read.stage
        )
    };
    let suggestion = if cim::field(bare).is_some() {
        Some(format!("add Processes.{bare} to the tstats `by` clause"))
    } else {
        cim::did_you_mean(bare, cim_names()).map(str::to_string)
    };
    cx.finding(
        Severity::Error,
        "field-not-output",
        &read.name,
        Some(read.position),
        message,
        suggestion,
    )
}

/// One finding per Sigma field read that the process row cannot have under that name: a
/// field outside the mapping (a warning: only raw events with a field of that exact name fill
/// it), or a mapped field whose CIM name the data set lacks (an error in the mapping itself).
pub fn check_sigma(facts: &SearchFacts, cx: &Context<'_>) -> Vec<Finding> {
    each_read(facts, cx, check_sigma_read)
}

fn check_sigma_read(read: &FieldRead, cx: &Context<'_>) -> Option<Finding> {
    let identifier = read.stage.strip_prefix("detection.").unwrap_or(&read.stage);
    match &read.source {
        FieldSource::DataModel(slot) if cim::field(slot).is_none() => Some(cx.finding(
            Severity::Error,
            "unknown-field",
            &read.name,
            Some(read.position),
            format!(
                "the Sigma field `{}` (search identifier `{identifier}`) is mapped to `{slot}`, which the CIM Endpoint.Processes data set does not have",
                read.name
            ),
            cim::did_you_mean(slot, cim_names()).map(str::to_string),
        )),
        FieldSource::Missing => {
            let names = sigma::fields::FIELDS
                .iter()
                .map(|f| f.sigma)
                .filter(|f| *f != sigma::fields::PARENT_NAME);
            Some(cx.finding(
                Severity::Warning,
                "unmapped-field",
                &read.name,
                Some(read.position),
                format!(
                    "the Sigma field `{}` (search identifier `{identifier}`) is not in netdiscover's process_creation mapping: no data source netdiscover reads carries it (only raw events with a field of that exact name can)",
                    read.name
                ),
                cim::did_you_mean(&read.name, names).map(str::to_string),
            ))
        }
        _ => None,
    }
}
