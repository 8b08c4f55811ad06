//! What ES reads from a detection's results: the risk message's `$tokens$`, the risk object
//! fields and the threat object fields. Each must be output by the search; one that a data
//! source of the rule never fills, that the CIM data model does not fill either, and that
//! no `fillnull` guards, renders empty (or gives no risk object) for that source's events.

use std::collections::BTreeMap;

use super::super::compile::{FieldSource, SearchFacts};
use super::super::model::RuleMeta;
use super::super::ruleset::parse_message;
use super::cim;
use super::fields::Context;
use super::{DataSourceFields, Finding, Severity};

/// What ES does with a field of the results.
#[derive(Clone, Copy)]
enum Use {
    Token,
    RiskObject,
    ThreatObject,
}

impl Use {
    fn code(self) -> &'static str {
        match self {
            Use::Token => "token-not-output",
            Use::RiskObject => "risk-object-not-output",
            Use::ThreatObject => "threat-object-not-output",
        }
    }

    fn describe(self, field: &str) -> String {
        match self {
            Use::Token => format!("risk message token `${field}$`"),
            Use::RiskObject => format!("risk object field `{field}`"),
            Use::ThreatObject => format!("threat object field `{field}`"),
        }
    }

    fn consequence(self) -> &'static str {
        match self {
            Use::Token => "ES renders the token empty",
            Use::RiskObject => "ES gets no risk object value (no risk event)",
            Use::ThreatObject => "ES records no threat object",
        }
    }
}

/// The findings about the fields ES reads from `meta`'s results.
pub fn check(
    meta: &RuleMeta,
    facts: &SearchFacts,
    rule_sources: &[String],
    known: &DataSourceFields,
    cx: &Context<'_>,
) -> Vec<Finding> {
    let Some(outputs) = &facts.outputs else {
        return Vec::new();
    };
    let mut uses: Vec<(Use, String)> = Vec::new();
    let entities = meta.risk_entities();
    for token in entities
        .iter()
        .flat_map(|e| parse_message(e.message))
        .filter_map(Result::err)
    {
        if !uses
            .iter()
            .any(|(u, f)| matches!(u, Use::Token) && *f == token)
        {
            uses.push((Use::Token, token.to_string()));
        }
    }
    for entity in &entities {
        let field = entity.object.field.clone();
        if !uses
            .iter()
            .any(|(u, f)| matches!(u, Use::RiskObject) && *f == field)
        {
            uses.push((Use::RiskObject, field));
        }
    }
    uses.extend(
        meta.threat_objects
            .iter()
            .map(|t| (Use::ThreatObject, t.field.clone())),
    );
    uses.iter()
        .filter_map(|(usage, field)| {
            check_use(*usage, field, outputs, facts, rule_sources, known, cx)
        })
        .collect()
}

fn check_use(
    usage: Use,
    field: &str,
    outputs: &BTreeMap<String, FieldSource>,
    facts: &SearchFacts,
    rule_sources: &[String],
    known: &DataSourceFields,
    cx: &Context<'_>,
) -> Option<Finding> {
    let Some(source) = outputs.get(field) else {
        let suggestion =
            cim::did_you_mean(field, outputs.keys().map(String::as_str)).map(str::to_string);
        return Some(cx.finding(
            Severity::Warning,
            usage.code(),
            field,
            None,
            format!(
                "the {} is not output by the search: {}",
                usage.describe(field),
                usage.consequence()
            ),
            suggestion,
        ));
    };
    let data_model_field = match source {
        FieldSource::DataModel(f) | FieldSource::Aggregate(Some(f)) => f,
        _ => return None,
    };
    if facts.fill_of(field).is_some() || cim::never_empty(data_model_field) {
        return None;
    }
    let leaving_empty: Vec<&str> = rule_sources
        .iter()
        .filter(|s| {
            known
                .fills(s)
                .is_some_and(|set| !set.contains(data_model_field))
        })
        .map(String::as_str)
        .collect();
    if leaving_empty.is_empty() {
        return None;
    }
    Some(cx.finding(
        Severity::Warning,
        "may-be-empty",
        field,
        None,
        format!(
            "the {} reads `{data_model_field}`, which {} never fill{} and no fillnull guards: for those events {}",
            usage.describe(field),
            leaving_empty.join(", "),
            if leaving_empty.len() == 1 { "s" } else { "" },
            usage.consequence()
        ),
        Some(format!("| fillnull value=\"unknown\" {field}")),
    ))
}
