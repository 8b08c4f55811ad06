//! A Sigma rule document (specification 2.x, "File Structure" and "Detection"): the metadata
//! netdiscover reads and the detection's search identifiers, each a tree of detection items,
//! exactly as written (modifiers are applied later, in [`super::lower`]).

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde_yaml::{Mapping, Value};

/// The parts of a Sigma rule netdiscover uses; everything else (description, references,
/// falsepositives, ...) is prose.
#[derive(Debug, Clone, PartialEq)]
pub struct SigmaRule {
    pub title: String,
    pub id: Option<String>,
    pub level: Option<String>,
    pub status: Option<String>,
    pub tags: Vec<String>,
    pub logsource: LogSource,
    /// Search identifiers in document order.
    pub searches: Vec<(String, Search)>,
    /// One or more conditions (a list is OR-ed, per the specification's "Condition").
    pub conditions: Vec<String>,
}

/// `logsource`: what the rule applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSource {
    pub category: Option<String>,
    pub product: Option<String>,
    pub service: Option<String>,
}

impl std::fmt::Display for LogSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = [
            ("category", &self.category),
            ("product", &self.product),
            ("service", &self.service),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
        .collect();
        if parts.is_empty() {
            f.write_str("(empty logsource)")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

/// A search identifier's definition: a map (items AND-ed), a list of maps (OR-ed), or a
/// keyword list (values searched in the whole event, OR-ed unless `|all`).
#[derive(Debug, Clone, PartialEq)]
pub enum Search {
    Map(Vec<Item>),
    AnyOf(Vec<Search>),
    Keywords(Item),
}

/// One detection item: `Field|mod1|mod2: value or list`. `field` is `None` for keywords.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub field: Option<String>,
    pub modifiers: Vec<String>,
    pub values: Vec<SigmaValue>,
}

/// A value as YAML gave it. Numbers keep their YAML spelling.
#[derive(Debug, Clone, PartialEq)]
pub enum SigmaValue {
    Str(String),
    Num(String),
    Bool(bool),
    Null,
}

/// True when a YAML text is a Sigma rule rather than ESCU content: it has top-level
/// `detection:` and `logsource:` keys (an ESCU detection has `search:` instead).
pub fn looks_like_sigma(text: &str) -> bool {
    static DETECTION: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("detection"));
    static LOGSOURCE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("logsource"));
    has_top_level_key(text, &DETECTION) && has_top_level_key(text, &LOGSOURCE)
}

/// Whether a line of `text` starts with the `key` searched for, followed by a colon (blanks
/// between). Every rule file is asked this at load time, so the key is searched for (memchr)
/// rather than every line split off and tested, with a searcher made once per key.
pub(crate) fn has_top_level_key(text: &str, key: &Finder<'_>) -> bool {
    let bytes = text.as_bytes();
    let len = key.needle().len();
    key.find_iter(bytes)
        .filter(|&at| at == 0 || bytes[at - 1] == b'\n')
        .any(|at| {
            let rest = &text[at + len..];
            let line = rest.split('\n').next().unwrap_or("");
            line.trim_start().starts_with(':')
        })
}

/// Parses a Sigma rule. Errors name the key or search identifier that is wrong.
pub fn parse_rule(text: &str) -> Result<SigmaRule, String> {
    // The fast reader takes what rule files hold; `serde_yaml` the rest, and every error.
    let doc: Value = match crate::rules::model::parse_block_yaml(text) {
        Some(doc) => doc,
        None => serde_yaml::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?,
    };
    let top = doc.as_mapping().ok_or("a Sigma rule is a YAML mapping")?;
    let title = string_at(top, "title")?.ok_or("missing `title`")?;
    let logsource = match top.get("logsource") {
        Some(Value::Mapping(m)) => LogSource {
            category: string_at(m, "category")?,
            product: string_at(m, "product")?,
            service: string_at(m, "service")?,
        },
        _ => return Err("`logsource` must be a mapping".into()),
    };
    let detection = match top.get("detection") {
        Some(Value::Mapping(m)) => m,
        _ => return Err("`detection` must be a mapping".into()),
    };
    let (searches, conditions) = parse_detection(detection)?;
    Ok(SigmaRule {
        title,
        id: string_at(top, "id")?,
        level: string_at(top, "level")?.map(|l| l.to_ascii_lowercase()),
        status: string_at(top, "status")?,
        tags: match top.get("tags") {
            Some(Value::Sequence(tags)) => tags.iter().filter_map(scalar_text).collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err("`tags` must be a list".into()),
        },
        logsource,
        searches,
        conditions,
    })
}

type Detection = (Vec<(String, Search)>, Vec<String>);

fn parse_detection(detection: &Mapping) -> Result<Detection, String> {
    let mut searches = Vec::new();
    let mut conditions = Vec::new();
    for (key, value) in detection {
        let name = scalar_text(key).ok_or("a detection key is not a string")?;
        if name == "condition" {
            conditions = match value {
                Value::String(c) => vec![c.clone()],
                Value::Sequence(list) => list
                    .iter()
                    .map(|c| scalar_text(c).ok_or("a condition is not a string"))
                    .collect::<Result<_, _>>()?,
                _ => return Err("`condition` must be a string or a list of strings".into()),
            };
            continue;
        }
        if name == "timeframe" {
            return Err("`timeframe` (aggregation over time) is not row-level".into());
        }
        let search = parse_search(value).map_err(|e| format!("search identifier `{name}`: {e}"))?;
        searches.push((name, search));
    }
    if conditions.is_empty() {
        return Err("`detection` has no `condition`".into());
    }
    Ok((searches, conditions))
}

fn parse_search(value: &Value) -> Result<Search, String> {
    match value {
        Value::Mapping(map) => parse_map(map),
        Value::Sequence(list) if list.is_empty() => Err("empty list".into()),
        Value::Sequence(list) if list.iter().all(|v| matches!(v, Value::Mapping(_))) => list
            .iter()
            .map(parse_search)
            .collect::<Result<Vec<_>, _>>()
            .map(Search::AnyOf),
        Value::Sequence(list) => Ok(Search::Keywords(Item {
            field: None,
            modifiers: Vec::new(),
            values: list
                .iter()
                .map(parse_value)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("keyword list: {e}"))?,
        })),
        other => Err(format!("must be a map or a list, not {}", yaml_kind(other))),
    }
}

fn parse_map(map: &Mapping) -> Result<Search, String> {
    let mut items = Vec::new();
    for (key, value) in map {
        let key = scalar_text(key).ok_or("a field name is not a string")?;
        let mut parts = key.split('|');
        let field = parts.next().unwrap_or("").to_string();
        let modifiers: Vec<String> = parts.map(str::to_string).collect();
        let values = match value {
            Value::Sequence(list) if list.is_empty() => {
                return Err(format!("`{key}`: empty value list"));
            }
            Value::Sequence(list) => list
                .iter()
                .map(parse_value)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("`{key}`: {e}"))?,
            other => vec![parse_value(other).map_err(|e| format!("`{key}`: {e}"))?],
        };
        items.push(Item {
            field: (!field.is_empty()).then_some(field),
            modifiers,
            values,
        });
    }
    if items.is_empty() {
        return Err("empty map".into());
    }
    Ok(Search::Map(items))
}

fn parse_value(value: &Value) -> Result<SigmaValue, String> {
    Ok(match value {
        Value::String(s) => SigmaValue::Str(s.clone()),
        Value::Number(n) => SigmaValue::Num(n.to_string()),
        Value::Bool(b) => SigmaValue::Bool(*b),
        Value::Null => SigmaValue::Null,
        other => return Err(format!("a value is a {}", yaml_kind(other))),
    })
}

fn yaml_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Sequence(_) => "list",
        Value::Mapping(_) => "map",
        Value::Tagged(_) => "tagged value",
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_at(map: &Mapping, key: &str) -> Result<Option<String>, String> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => scalar_text(v)
            .map(Some)
            .ok_or_else(|| format!("`{key}` must be a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "title: Whoami Execution
id: 929a690e-bef0-4204-a928-ef5e620d6fcc
logsource:
    category: process_creation
    product: windows
detection:
    selection:
        Image: 'C:\\Windows\\System32\\whoami.exe'
    keywords:
        - 'EVILSERVICE'
        - 42
    list_of_maps:
        - Image|endswith: '\\example.exe'
        - Description|contains: 'Test executable'
    condition: selection
level: High
tags:
    - attack.t1033
";

    #[test]
    fn top_level_keys_start_a_line_and_end_at_a_colon() {
        for (text, found) in [
            ("detection: x", true),
            ("a: 1\r\ndetection :\r\n  b", true),
            ("a: 1\ndetection\t: x", true),
            ("  detection: nested", false),
            ("xdetection: 1", false),
            ("detection\n: 1", false),
            ("detections: 1", false),
            ("a: detection: 1\ndetection", false),
        ] {
            assert_eq!(
                has_top_level_key(text, &Finder::new("detection")),
                found,
                "{text:?}"
            );
            let by_lines = text.lines().any(|l| {
                l.strip_prefix("detection")
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
            });
            assert_eq!(by_lines, found, "{text:?}");
        }
    }

    #[test]
    fn reads_the_specification_example_shapes() {
        assert!(looks_like_sigma(RULE));
        assert!(!looks_like_sigma("name: x\nsearch: '| tstats'\n"));
        let rule = parse_rule(RULE).unwrap();
        assert_eq!(rule.title, "Whoami Execution");
        assert_eq!(rule.level.as_deref(), Some("high"));
        assert_eq!(rule.logsource.category.as_deref(), Some("process_creation"));
        assert_eq!(rule.conditions, vec!["selection".to_string()]);
        assert_eq!(rule.searches.len(), 3);
        assert_eq!(
            rule.searches[1].1,
            Search::Keywords(Item {
                field: None,
                modifiers: vec![],
                values: vec![
                    SigmaValue::Str("EVILSERVICE".into()),
                    SigmaValue::Num("42".into())
                ],
            })
        );
        match &rule.searches[2].1 {
            Search::AnyOf(maps) => assert_eq!(maps.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn names_what_is_wrong() {
        let err = parse_rule("title: x\nlogsource: {}\ndetection:\n  sel: 3\n  condition: sel\n")
            .unwrap_err();
        assert!(err.contains("`sel`") && err.contains("number"), "{err}");
        let err =
            parse_rule("title: x\nlogsource: {}\ndetection:\n  sel:\n    a: 1\n").unwrap_err();
        assert!(err.contains("condition"), "{err}");
    }
}
