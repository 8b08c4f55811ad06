//! What a Sigma rule reads and what its matches carry, recorded in the compiler's own
//! [`SearchFacts`] (the structure the ESCU compiler fills as it follows a search), so
//! `netdiscover lint` checks both rule formats with one set of checks:
//!
//! - each detection item's field, and each `fieldref` target, is a read by the stage
//!   `detection.<search identifier>`, at the byte of its key in the rule file; it refers to
//!   its CIM Endpoint.Processes field ([`FieldSource::DataModel`]), to an event field outside
//!   the data model that ingest carries ([`FieldSource::Event`]), or to nothing the mapping
//!   knows ([`FieldSource::Missing`]);
//! - the outputs (what `| netdiscover` annotates and ES reads from) are the process row's
//!   fields: the data set's and the mapped event fields;
//! - a rule the front door refuses, or leaves out of scope, has `stopped` and no outputs.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use super::super::cim;
use super::super::compile::{FieldRead, FieldSource, SearchFacts, Stopped};
use super::super::error::{RuleError, SigmaError};
use super::super::model::RuleMeta;
use super::document::{Item, Search, SigmaRule, SigmaValue};
use super::fields::{self, DataSource};
use super::{compile_rule, rule_meta, SigmaInfo, SigmaSettings};

/// A Sigma rule as lint sees it.
#[derive(Debug, Clone)]
pub struct RuleFacts {
    pub facts: SearchFacts,
    /// The annotation metadata, as the loaded rule carries it.
    pub meta: RuleMeta,
    /// The compiled rule's Sigma form (for its reach on each data source); `None` when the
    /// rule is refused or out of scope (`facts.stopped` says why).
    pub info: Option<Box<SigmaInfo>>,
}

/// The facts of `rule`, read from `text` (the rule file) at `path`, compiled with `settings`
/// exactly as the loader compiles it.
pub fn rule_facts(
    path: &Path,
    text: &str,
    rule: &SigmaRule,
    settings: &SigmaSettings,
) -> RuleFacts {
    let mut facts = SearchFacts::default();
    record_reads(text, rule, &mut facts);
    let mut info = None;
    match compile_rule(path, rule, settings) {
        Ok((compiled, _)) => {
            info = compiled.sigma;
            facts.outputs = Some(row_fields());
        }
        Err(RuleError::Sigma { source, .. }) => facts.stopped = Some(source.into()),
        Err(RuleError::OutOfScope { logsource, .. }) => {
            facts.stopped = Some(Stopped::Sigma(SigmaError::new(
                format!("logsource `{logsource}`"),
                "out of scope: netdiscover runs `category: process_creation` rules",
            )));
        }
        Err(other) => {
            facts.stopped = Some(Stopped::Sigma(SigmaError::new("rule", other.to_string())));
        }
    }
    RuleFacts {
        facts,
        meta: rule_meta(path, rule, settings),
        info,
    }
}

/// What a Sigma field refers to in a process row.
pub fn source_of(sigma_field: &str) -> FieldSource {
    match fields::lookup(sigma_field) {
        Some(map) if map.sources.contains(&DataSource::DataModel) => {
            FieldSource::DataModel(map.slot.to_string())
        }
        Some(map) => FieldSource::Event(map.slot.to_string()),
        None => FieldSource::Missing,
    }
}

/// The fields of the process row a Sigma rule annotates: every CIM Endpoint.Processes field,
/// and the event fields outside the data model that the mapping reads.
fn row_fields() -> BTreeMap<String, FieldSource> {
    let mut out: BTreeMap<String, FieldSource> = cim::fields()
        .iter()
        .map(|f| (f.name.clone(), FieldSource::DataModel(f.name.clone())))
        .collect();
    for map in fields::FIELDS {
        if map.sigma != fields::PARENT_NAME && cim::field(map.slot).is_none() {
            out.insert(
                map.slot.to_string(),
                FieldSource::Event(map.slot.to_string()),
            );
        }
    }
    out
}

fn record_reads(text: &str, rule: &SigmaRule, facts: &mut SearchFacts) {
    let detection = detection_block(text);
    for (identifier, search) in &rule.searches {
        let block = detection
            .clone()
            .and_then(|d| identifier_block(text, d, identifier));
        let stage = format!("detection.{identifier}");
        let mut cursor = block.as_ref().map_or(0, |b| b.start);
        let mut items = Vec::new();
        flatten(search, &mut items);
        for item in items {
            let Some(field) = &item.field else { continue };
            let position = match block
                .as_ref()
                .and_then(|b| key_position(text, cursor..b.end, field))
            {
                Some(at) => {
                    cursor = at + field.len();
                    at
                }
                None => block.as_ref().map_or(0, |b| b.start),
            };
            let mut read = |name: &str| {
                facts.reads.push(FieldRead {
                    name: name.to_string(),
                    position,
                    stage: stage.clone(),
                    source: source_of(name),
                })
            };
            read(field);
            if item.modifiers.iter().any(|m| m == "fieldref") {
                for value in &item.values {
                    if let SigmaValue::Str(other) = value {
                        read(other);
                    }
                }
            }
        }
    }
}

/// The detection items of a search identifier, in document order.
fn flatten<'a>(search: &'a Search, out: &mut Vec<&'a Item>) {
    match search {
        Search::Map(items) => out.extend(items),
        Search::AnyOf(searches) => searches.iter().for_each(|s| flatten(s, out)),
        Search::Keywords(item) => out.push(item),
    }
}

// Positions: the YAML model keeps none, so the block-style text rules are written in is
// scanned. A key that cannot be placed (flow style, anchors) takes the position of its search
// identifier, or of the start of the file.

/// The lines of `text` in `range`, each with its byte offset.
fn lines_in(text: &str, range: Range<usize>) -> impl Iterator<Item = (usize, &str)> {
    let base = range.start;
    text[range].split_inclusive('\n').scan(base, |at, line| {
        let start = *at;
        *at += line.len();
        Some((start, line.trim_end_matches(['\r', '\n'])))
    })
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

/// Whether a line holds content (not blank, not a comment).
fn is_content(line: &str) -> bool {
    let t = line.trim_start();
    !t.is_empty() && !t.starts_with('#')
}

/// Whether `line` (trimmed) starts with the key `name` (plain or quoted), followed by `:`
/// or, for a field, by `|` and its modifiers.
fn starts_with_key(line: &str, name: &str) -> bool {
    let line = line.trim_start_matches(['\'', '"']);
    line.strip_prefix(name).is_some_and(|rest| {
        let rest = rest.trim_start_matches(['\'', '"']);
        rest.starts_with(':') || rest.starts_with('|')
    })
}

/// The bytes of the top-level `detection:` block.
fn detection_block(text: &str) -> Option<Range<usize>> {
    let mut lines = lines_in(text, 0..text.len());
    let (start, _) = lines.find(|(_, l)| indent(l) == 0 && starts_with_key(l, "detection"))?;
    let end = lines
        .find(|(_, l)| is_content(l) && indent(l) == 0)
        .map_or(text.len(), |(at, _)| at);
    Some(start..end)
}

/// The bytes of search identifier `name`'s block inside the detection block, starting at
/// its name. Identifiers are the keys at the block's first indentation.
fn identifier_block(text: &str, detection: Range<usize>, name: &str) -> Option<Range<usize>> {
    let mut lines = lines_in(text, detection.clone())
        .skip(1)
        .filter(|(_, l)| is_content(l))
        .peekable();
    let level = lines.peek().map(|(_, l)| indent(l))?;
    let (at, _) =
        lines.find(|(_, l)| indent(l) == level && starts_with_key(l.trim_start(), name))?;
    let end = lines
        .find(|(_, l)| indent(l) <= level)
        .map_or(detection.end, |(next, _)| next);
    Some(at + level..end)
}

/// The byte of the first key `field` in `range` (after any `- ` list markers).
fn key_position(text: &str, range: Range<usize>, field: &str) -> Option<usize> {
    lines_in(text, range).find_map(|(at, line)| {
        let mut rest = line.trim_start();
        while let Some(after) = rest.strip_prefix("- ") {
            rest = after.trim_start();
        }
        let offset = line.len() - rest.len();
        starts_with_key(rest, field)
            .then(|| at + offset + usize::from(rest.starts_with(['\'', '"'])))
    })
}

#[cfg(test)]
mod tests {
    use super::super::document::parse_rule;
    use super::*;

    const RULE: &str = "title: T
id: 698d4431-514f-4c82-af4d-cf573872a9f5
logsource:
    category: process_creation
    product: windows
detection:
    selection_parent:
        - GrandParentImage|endswith: '\\rundll32.exe'
        - ParentImage|endswith:
              - '\\SearchFilterHost.exe'
    selection_child:
        # a comment
        CommandLine: 'whoami.exe /all'
        'Image|endswith': '\\whoami.exe'
        ParentImage|fieldref: Image
    keywords:
        - 'EVIL'
    condition: all of selection_*
level: high
";

    #[test]
    fn reads_sit_at_their_keys_with_their_identifier_and_source() {
        let rule = parse_rule(RULE).unwrap();
        let facts = rule_facts(Path::new("t.yml"), RULE, &rule, &SigmaSettings::default());
        let reads: Vec<(&str, &str, usize, &FieldSource)> = facts
            .facts
            .reads
            .iter()
            .map(|r| (r.name.as_str(), r.stage.as_str(), r.position, &r.source))
            .collect();
        let at = |needle: &str| RULE.find(needle).unwrap();
        assert_eq!(
            reads,
            vec![
                (
                    "GrandParentImage",
                    "detection.selection_parent",
                    at("GrandParentImage"),
                    &FieldSource::Missing
                ),
                (
                    "ParentImage",
                    "detection.selection_parent",
                    at("- ParentImage") + 2,
                    &FieldSource::DataModel("parent_process_path".into())
                ),
                (
                    "CommandLine",
                    "detection.selection_child",
                    at("CommandLine"),
                    &FieldSource::DataModel("process".into())
                ),
                (
                    "Image",
                    "detection.selection_child",
                    at("Image|endswith'"),
                    &FieldSource::DataModel("process_path".into())
                ),
                (
                    "ParentImage",
                    "detection.selection_child",
                    at("ParentImage|fieldref"),
                    &FieldSource::DataModel("parent_process_path".into())
                ),
                (
                    "Image",
                    "detection.selection_child",
                    at("ParentImage|fieldref"),
                    &FieldSource::DataModel("process_path".into())
                ),
            ]
        );
        let outputs = facts.facts.outputs.as_ref().unwrap();
        assert_eq!(
            outputs["process_name"],
            FieldSource::DataModel("process_name".into())
        );
        assert_eq!(
            outputs["Description"],
            FieldSource::Event("Description".into())
        );
        assert!(facts.info.is_some() && facts.facts.stopped.is_none());
        assert_eq!(facts.meta.id, "698d4431-514f-4c82-af4d-cf573872a9f5");
    }

    #[test]
    fn a_refused_rule_stops_with_the_construct() {
        let text = RULE.replace("CommandLine: 'whoami", "CommandLine|hour: 'whoami");
        let rule = parse_rule(&text).unwrap();
        let facts = rule_facts(Path::new("t.yml"), &text, &rule, &SigmaSettings::default());
        let stopped = facts.facts.stopped.unwrap().to_string();
        assert!(stopped.contains("modifier `hour`"), "{stopped}");
        assert!(facts.facts.outputs.is_none() && facts.info.is_none());
        // The reads are still recorded.
        assert_eq!(facts.facts.reads.len(), 6);
    }
}
