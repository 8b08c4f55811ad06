//! The CIM Endpoint.Processes fields the shipped detections read, computed from their YAML:
//! every `Processes.<field>` the search names (predicates and by-clause, with macros expanded),
//! every `$field$` token of the risk message, and every risk/threat object field; minus the
//! names the search computes itself (`... as firstTime`). The combined search groups its one
//! `tstats` pass by exactly these fields, so every rule sees every field it needs.
//!
//! The rules engine's own answer, `RuleSet::fields()` (every field a compiled rule reads), is
//! added to the union, so the by-clause can never miss a field the matchers need; the
//! YAML-level part adds the ESCU by-clause context fields analysts expect on each result.

use crate::model::{Content, Macro};
use netdiscover::rules::RuleSet;
use regex::Regex;
use std::collections::BTreeSet;
use std::sync::OnceLock;

const MAX_MACRO_DEPTH: usize = 16;

fn macro_call() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"`([A-Za-z0-9_]+)(?:\(([^`]*)\))?`").expect("static regex"))
}

fn dm_field() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\bProcesses\.([A-Za-z_][A-Za-z0-9_]*)").expect("static regex"))
}

fn alias() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(?i)\bas\s+([A-Za-z_][A-Za-z0-9_]*)").expect("static regex"))
}

fn token() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\$([A-Za-z_][A-Za-z0-9_]*)\$").expect("static regex"))
}

/// Expands the macros of `search` that `macros` defines (with `$arg$` substitution),
/// recursively; calls of macros it does not define (e.g. Splunk_SA_CIM's
/// `drop_dm_object_name`) are left as they are.
pub fn expand_macros(search: &str, macros: &[Macro]) -> String {
    let mut text = search.to_string();
    for _ in 0..MAX_MACRO_DEPTH {
        let mut changed = false;
        let expanded = macro_call().replace_all(&text, |caps: &regex::Captures| {
            let name = &caps[1];
            let args: Vec<&str> = caps
                .get(2)
                .map(|a| {
                    a.as_str()
                        .split(',')
                        .map(|s| s.trim().trim_matches('"'))
                        .collect()
                })
                .unwrap_or_default();
            match macros
                .iter()
                .find(|m| m.name == name && m.arguments.len() == args.len())
            {
                Some(m) => {
                    changed = true;
                    let mut body = m.definition.clone();
                    for (param, value) in m.arguments.iter().zip(&args) {
                        body = body.replace(&format!("${param}$"), value);
                    }
                    body
                }
                None => caps[0].to_string(),
            }
        });
        text = expanded.into_owned();
        if !changed {
            break;
        }
    }
    text
}

/// The fields the compiled rules of the shipped `detections` and `macros` read, as the rules
/// engine reports them (rules it cannot compile are left out; `| netdiscover` warns about them).
pub fn compiled_rule_fields(content: &Content) -> BTreeSet<String> {
    let places = [
        content.app_dir.join("detections"),
        content.app_dir.join("macros"),
    ];
    let (set, _warnings) = RuleSet::load(&places);
    set.fields().iter().cloned().collect()
}

/// The union of CIM field names (no `Processes.` prefix) the detections in `content` read:
/// the YAML-level fields and [`compiled_rule_fields`].
pub fn rule_fields(content: &Content) -> BTreeSet<String> {
    let mut fields = yaml_fields(content);
    fields.extend(compiled_rule_fields(content));
    fields
}

/// The YAML-level fields: `Processes.<field>` names in the (macro-expanded) searches, the
/// `$field$` tokens of finding titles and entity messages, entity and threat object fields.
pub fn yaml_fields(content: &Content) -> BTreeSet<String> {
    let macros: Vec<Macro> = content.macros.iter().map(|m| m.item.clone()).collect();
    let mut fields = BTreeSet::new();
    for detection in &content.detections {
        let d = &detection.item;
        let search = expand_macros(d.doc.search.as_deref().unwrap_or_default(), &macros);
        let computed: BTreeSet<&str> = alias()
            .captures_iter(&search)
            .filter_map(|c| c.get(1).map(|m| m.as_str()))
            .collect();
        for caps in dm_field().captures_iter(&search) {
            fields.insert(caps[1].to_string());
        }
        for entity in d.meta.risk_entities() {
            for caps in token().captures_iter(entity.message) {
                if !computed.contains(&caps[1]) {
                    fields.insert(caps[1].to_string());
                }
            }
            fields.insert(entity.object.field.clone());
        }
        fields.extend(d.meta.threat_objects.iter().map(|o| o.field.clone()));
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(name: &str, args: &[&str], def: &str) -> Macro {
        Macro {
            name: name.into(),
            definition: def.into(),
            description: String::new(),
            arguments: args.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn expands_known_macros_with_arguments_and_keeps_unknown_ones() {
        let macros = vec![
            mac("a", &[], "x `b(Processes.user)`"),
            mac("b", &["f"], "rename $f$"),
        ];
        assert_eq!(
            expand_macros("`a` | `drop_dm_object_name(Processes)`", &macros),
            "x rename Processes.user | `drop_dm_object_name(Processes)`"
        );
    }
}
