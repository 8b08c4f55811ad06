//! Detection items with their modifiers (the modifiers appendix, v2.1.0) → a tree of tests
//! on Sigma fields: the Sigma condition tree with every value in final form. Maps are AND,
//! lists are OR (`all` makes a value list AND), `neq` negates an item.

use std::collections::HashMap;

use crate::rules::glob::GlobPart;

use super::document::{Item, Search, SigmaValue};
use super::value::{self, Alternatives, Utf16};
use super::Refusal;

/// A condition over one event, in Sigma's own field names.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Test(Test),
}

/// How a field reference compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefHow {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
}

/// A numeric comparison (`lt`, `lte`, `gt`, `gte`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    Lt,
    Le,
    Gt,
    Ge,
}

/// One test on an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// Some value of the field matches the pattern (case-insensitively unless `cased`).
    Match {
        field: String,
        parts: Vec<GlobPart>,
        cased: bool,
    },
    /// Some value of the field matches the regular expression (flags already inline).
    Regex { field: String, pattern: String },
    /// The field has no (non-empty) value: `null` and `''`.
    Empty { field: String },
    /// The field has a (non-empty) value: `exists: true`.
    Exists { field: String },
    /// The field's value compared with another field's (`fieldref`), case-insensitively.
    FieldRef {
        field: String,
        other: String,
        how: RefHow,
    },
    /// The field's value is a number and compares so with `number`.
    Compare {
        field: String,
        op: Compare,
        number: f64,
    },
    /// The field's value is an IP address inside the network.
    Cidr { field: String, network: String },
    /// A keyword: the pattern matches somewhere in the event.
    Keyword { parts: Vec<GlobPart>, cased: bool },
}

impl Test {
    /// The Sigma fields the test reads (none for keywords).
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Test::Match { field, .. }
            | Test::Regex { field, .. }
            | Test::Empty { field }
            | Test::Exists { field }
            | Test::Compare { field, .. }
            | Test::Cidr { field, .. } => vec![field],
            Test::FieldRef { field, other, .. } => vec![field, other],
            Test::Keyword { .. } => Vec::new(),
        }
    }
}

/// A parsed modifier.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Modifier {
    Contains,
    StartsWith,
    EndsWith,
    All,
    Neq,
    Windash,
    Re,
    ReFlag(char),
    Base64,
    Base64Offset,
    Utf16(Utf16),
    Cidr,
    Exists,
    FieldRef,
    Expand,
    Cased,
    Compare(Compare),
}

impl Modifier {
    /// The modifier's name as rules write it.
    fn name(self) -> &'static str {
        match self {
            Modifier::Contains => "contains",
            Modifier::StartsWith => "startswith",
            Modifier::EndsWith => "endswith",
            Modifier::All => "all",
            Modifier::Neq => "neq",
            Modifier::Windash => "windash",
            Modifier::Re => "re",
            Modifier::ReFlag('i') => "i",
            Modifier::ReFlag('m') => "m",
            Modifier::ReFlag(_) => "s",
            Modifier::Base64 => "base64",
            Modifier::Base64Offset => "base64offset",
            Modifier::Utf16(Utf16::Le) => "wide",
            Modifier::Utf16(Utf16::Be) => "utf16be",
            Modifier::Utf16(Utf16::WithBom) => "utf16",
            Modifier::Cidr => "cidr",
            Modifier::Exists => "exists",
            Modifier::FieldRef => "fieldref",
            Modifier::Expand => "expand",
            Modifier::Cased => "cased",
            Modifier::Compare(Compare::Lt) => "lt",
            Modifier::Compare(Compare::Le) => "lte",
            Modifier::Compare(Compare::Gt) => "gt",
            Modifier::Compare(Compare::Ge) => "gte",
        }
    }
}

fn parse_modifier(name: &str) -> Result<Modifier, Refusal> {
    Ok(match name {
        "contains" => Modifier::Contains,
        "startswith" => Modifier::StartsWith,
        "endswith" => Modifier::EndsWith,
        "all" => Modifier::All,
        "neq" => Modifier::Neq,
        "windash" => Modifier::Windash,
        "re" => Modifier::Re,
        "i" | "ignorecase" => Modifier::ReFlag('i'),
        "m" | "multiline" => Modifier::ReFlag('m'),
        "s" | "dotall" => Modifier::ReFlag('s'),
        "base64" => Modifier::Base64,
        "base64offset" => Modifier::Base64Offset,
        "wide" | "utf16le" => Modifier::Utf16(Utf16::Le),
        "utf16be" => Modifier::Utf16(Utf16::Be),
        "utf16" => Modifier::Utf16(Utf16::WithBom),
        "cidr" => Modifier::Cidr,
        "exists" => Modifier::Exists,
        "fieldref" => Modifier::FieldRef,
        "expand" => Modifier::Expand,
        "cased" => Modifier::Cased,
        "lt" => Modifier::Compare(Compare::Lt),
        "lte" => Modifier::Compare(Compare::Le),
        "gt" => Modifier::Compare(Compare::Gt),
        "gte" => Modifier::Compare(Compare::Ge),
        "minute" | "hour" | "day" | "week" | "month" | "year" => {
            return Err(Refusal::new(
                format!("modifier `{name}`"),
                "time-part modifiers compare a date field; process rows carry no date field Sigma names",
            ))
        }
        other => {
            return Err(Refusal::new(
                format!("modifier `{other}`"),
                "not a modifier of the Sigma specification",
            ))
        }
    })
}

/// Lowers one search identifier's definition.
pub fn lower_search(
    search: &Search,
    placeholders: &HashMap<String, Vec<String>>,
) -> Result<Node, Refusal> {
    match search {
        Search::Map(items) => {
            let nodes = items
                .iter()
                .map(|i| lower_item(i, placeholders))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(one_or(nodes, Node::And))
        }
        Search::AnyOf(maps) => {
            let nodes = maps
                .iter()
                .map(|m| lower_search(m, placeholders))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(one_or(nodes, Node::Or))
        }
        Search::Keywords(item) => lower_item(item, placeholders),
    }
}

fn one_or(mut nodes: Vec<Node>, many: fn(Vec<Node>) -> Node) -> Node {
    if nodes.len() == 1 {
        nodes.remove(0)
    } else {
        many(nodes)
    }
}

/// Lowers one `Field|modifiers: values` item.
fn lower_item(item: &Item, placeholders: &HashMap<String, Vec<String>>) -> Result<Node, Refusal> {
    let modifiers = item
        .modifiers
        .iter()
        .map(|m| parse_modifier(m))
        .collect::<Result<Vec<_>, _>>()?;
    let has = |m: Modifier| modifiers.contains(&m);
    let field = item.field.as_deref();
    let tests: Vec<Node> = if has(Modifier::Exists) {
        vec![lower_exists(field, &modifiers, &item.values)?]
    } else if has(Modifier::FieldRef) {
        lower_fieldref(field, &modifiers, &item.values)?
    } else if has(Modifier::Re) {
        lower_regex(field, &modifiers, &item.values)?
    } else if has(Modifier::Cidr) {
        lower_cidr(field, &modifiers, &item.values)?
    } else if let Some(op) = modifiers.iter().find_map(|m| match m {
        Modifier::Compare(op) => Some(*op),
        _ => None,
    }) {
        lower_compare(field, op, &modifiers, &item.values)?
    } else {
        item.values
            .iter()
            .map(|v| lower_string(field, &modifiers, v, placeholders))
            .collect::<Result<_, _>>()?
    };
    let linked = if has(Modifier::All) {
        one_or(tests, Node::And)
    } else {
        one_or(tests, Node::Or)
    };
    Ok(if has(Modifier::Neq) {
        Node::Not(Box::new(linked))
    } else {
        linked
    })
}

fn need_field<'a>(field: Option<&'a str>, modifier: &str) -> Result<&'a str, Refusal> {
    field.ok_or_else(|| {
        Refusal::new(
            format!("keyword with `{modifier}`"),
            "this modifier needs a field",
        )
    })
}

/// Refuses every modifier outside `allowed` (besides the list modifiers `all` and `neq`).
fn only(modifiers: &[Modifier], allowed: &[Modifier], what: &str) -> Result<(), Refusal> {
    for m in modifiers {
        let ok = allowed.contains(m)
            || matches!(m, Modifier::All | Modifier::Neq)
            || (matches!(m, Modifier::ReFlag(_)) && allowed.contains(&Modifier::ReFlag('i')));
        if !ok {
            return Err(Refusal::new(
                format!("modifier `{}` with {what}", m.name()),
                format!("`{what}` cannot be combined with `{}`", m.name()),
            ));
        }
    }
    Ok(())
}

fn string_values<'a>(values: &'a [SigmaValue], what: &str) -> Result<Vec<&'a str>, Refusal> {
    values
        .iter()
        .map(|v| match v {
            SigmaValue::Str(s) | SigmaValue::Num(s) => Ok(s.as_str()),
            other => Err(Refusal::new(
                format!("{what} value {other:?}"),
                format!("`{what}` needs string values"),
            )),
        })
        .collect()
}

fn lower_exists(
    field: Option<&str>,
    modifiers: &[Modifier],
    values: &[SigmaValue],
) -> Result<Node, Refusal> {
    let field = need_field(field, "exists")?.to_string();
    only(modifiers, &[Modifier::Exists], "exists")?;
    match values {
        [SigmaValue::Bool(true)] => Ok(Node::Test(Test::Exists { field })),
        [SigmaValue::Bool(false)] => Ok(Node::Test(Test::Empty { field })),
        _ => Err(Refusal::new(
            "exists value",
            "`exists` takes one boolean, true or false",
        )),
    }
}

fn lower_fieldref(
    field: Option<&str>,
    modifiers: &[Modifier],
    values: &[SigmaValue],
) -> Result<Vec<Node>, Refusal> {
    let field = need_field(field, "fieldref")?;
    let allowed = [
        Modifier::FieldRef,
        Modifier::Contains,
        Modifier::StartsWith,
        Modifier::EndsWith,
    ];
    only(modifiers, &allowed, "fieldref")?;
    let how = if modifiers.contains(&Modifier::Contains) {
        RefHow::Contains
    } else if modifiers.contains(&Modifier::StartsWith) {
        RefHow::StartsWith
    } else if modifiers.contains(&Modifier::EndsWith) {
        RefHow::EndsWith
    } else {
        RefHow::Equals
    };
    string_values(values, "fieldref")?
        .into_iter()
        .map(|other| {
            if other.contains(['*', '?']) {
                return Err(Refusal::new(
                    "fieldref wildcard",
                    "a field reference names one field (no wildcards)",
                ));
            }
            Ok(Node::Test(Test::FieldRef {
                field: field.to_string(),
                other: other.to_string(),
                how,
            }))
        })
        .collect()
}

fn lower_regex(
    field: Option<&str>,
    modifiers: &[Modifier],
    values: &[SigmaValue],
) -> Result<Vec<Node>, Refusal> {
    let field = need_field(field, "re")?;
    if modifiers.first() != Some(&Modifier::Re) {
        return Err(Refusal::new(
            "modifier before re",
            "`re` applies to the value as written: it must be the first modifier",
        ));
    }
    only(modifiers, &[Modifier::Re, Modifier::ReFlag('i')], "re")?;
    let mut flags: Vec<char> = modifiers
        .iter()
        .filter_map(|m| match m {
            Modifier::ReFlag(f) => Some(*f),
            _ => None,
        })
        .collect();
    flags.sort_unstable();
    flags.dedup();
    let prefix = if flags.is_empty() {
        String::new()
    } else {
        format!("(?{})", flags.iter().collect::<String>())
    };
    Ok(string_values(values, "re")?
        .into_iter()
        .map(|pattern| {
            Node::Test(Test::Regex {
                field: field.to_string(),
                pattern: format!("{prefix}{pattern}"),
            })
        })
        .collect())
}

fn lower_cidr(
    field: Option<&str>,
    modifiers: &[Modifier],
    values: &[SigmaValue],
) -> Result<Vec<Node>, Refusal> {
    let field = need_field(field, "cidr")?;
    only(modifiers, &[Modifier::Cidr], "cidr")?;
    string_values(values, "cidr")?
        .into_iter()
        .map(|network| {
            crate::rules::expr::parse_cidr(network.trim()).ok_or_else(|| {
                Refusal::new(
                    "cidr value",
                    format!("`{network}` is not an IPv4 or IPv6 network (address/prefix)"),
                )
            })?;
            Ok(Node::Test(Test::Cidr {
                field: field.to_string(),
                network: network.trim().to_string(),
            }))
        })
        .collect()
}

fn lower_compare(
    field: Option<&str>,
    op: Compare,
    modifiers: &[Modifier],
    values: &[SigmaValue],
) -> Result<Vec<Node>, Refusal> {
    let field = need_field(field, "lt/lte/gt/gte")?;
    only(modifiers, &[Modifier::Compare(op)], "a numeric comparison")?;
    values
        .iter()
        .map(|v| {
            let number = match v {
                SigmaValue::Num(n) | SigmaValue::Str(n) => n.trim().parse::<f64>().ok(),
                _ => None,
            }
            .ok_or_else(|| {
                Refusal::new(
                    "comparison value",
                    format!("{v:?} is not a number (lt/lte/gt/gte compare numbers)"),
                )
            })?;
            Ok(Node::Test(Test::Compare {
                field: field.to_string(),
                op,
                number,
            }))
        })
        .collect()
}

/// A string value through the value-transforming modifiers, in the order written.
fn lower_string(
    field: Option<&str>,
    modifiers: &[Modifier],
    value: &SigmaValue,
    placeholders: &HashMap<String, Vec<String>>,
) -> Result<Node, Refusal> {
    let text = match value {
        SigmaValue::Null => {
            let field = need_field(field, "null")?;
            return Ok(Node::Test(Test::Empty {
                field: field.to_string(),
            }));
        }
        SigmaValue::Str(s) | SigmaValue::Num(s) => s.clone(),
        SigmaValue::Bool(b) => b.to_string(),
    };
    let expand = modifiers.contains(&Modifier::Expand);
    let mut alternatives: Alternatives = value::parse(&text, expand.then_some(placeholders))
        .map_err(|e| Refusal::new("expand", e))?;
    let mut encoded = false;
    let mut cased = false;
    for m in modifiers {
        alternatives = apply(*m, alternatives, &mut encoded, &mut cased)?;
    }
    let tests: Vec<Node> = alternatives
        .into_iter()
        .map(|parts| match field {
            Some(field) => string_test(field, parts, cased, encoded),
            None => {
                let mut parts = parts;
                value::anchor(&mut parts, true, true);
                Node::Test(Test::Keyword { parts, cased })
            }
        })
        .collect();
    Ok(one_or(tests, Node::Or))
}

fn apply(
    m: Modifier,
    alternatives: Alternatives,
    encoded: &mut bool,
    cased: &mut bool,
) -> Result<Alternatives, Refusal> {
    let each = |f: &dyn Fn(&[GlobPart]) -> Result<Alternatives, String>| {
        let mut out = Vec::new();
        for alt in &alternatives {
            out.extend(f(alt).map_err(|e| Refusal::new(format!("modifier `{}`", m.name()), e))?);
        }
        Ok::<_, Refusal>(out)
    };
    let refuse_after_encoding = |what: &str| {
        Err(Refusal::new(
            format!("modifier `{}` after an encoding", m.name()),
            format!("{what} applies to text; it cannot follow wide/utf16/base64"),
        ))
    };
    Ok(match m {
        Modifier::Windash if *encoded => return refuse_after_encoding("windash"),
        Modifier::Utf16(_) if *encoded => return refuse_after_encoding("an UTF-16 encoding"),
        Modifier::Windash => alternatives.iter().map(|a| value::windash(a)).collect(),
        Modifier::Utf16(e) => {
            *encoded = true;
            alternatives.iter().map(|a| value::utf16(a, e)).collect()
        }
        Modifier::Base64 => {
            *encoded = true;
            each(&value::base64)?
        }
        Modifier::Base64Offset => {
            *encoded = true;
            each(&value::base64offset)?
        }
        Modifier::Contains | Modifier::StartsWith | Modifier::EndsWith => {
            let (before, after) = match m {
                Modifier::Contains => (true, true),
                Modifier::StartsWith => (false, true),
                _ => (true, false),
            };
            let mut out = alternatives;
            out.iter_mut().for_each(|a| value::anchor(a, before, after));
            out
        }
        Modifier::Cased => {
            *cased = true;
            alternatives
        }
        Modifier::All | Modifier::Neq | Modifier::Expand => alternatives,
        Modifier::Re
        | Modifier::ReFlag(_)
        | Modifier::Cidr
        | Modifier::Exists
        | Modifier::FieldRef
        | Modifier::Compare(_) => {
            return Err(Refusal::new(
                format!("modifier `{}`", m.name()),
                "a type modifier mixed with string modifiers",
            ))
        }
    })
}

/// A string test on a field. The empty value (`''`) is the field having no value, like
/// `null`: an empty field is an absent one for the rows (as Splunk does not index empty
/// values). A plain literal is compared as the row holds it (see `fields::row_value`).
fn string_test(field: &str, parts: Vec<GlobPart>, cased: bool, encoded: bool) -> Node {
    let field_name = field.to_string();
    match parts.as_slice() {
        [] => Node::Test(Test::Empty { field: field_name }),
        [GlobPart::Lit(bytes)] if !encoded => {
            let text = String::from_utf8_lossy(bytes);
            let value = super::fields::row_value(field, &text).into_owned();
            Node::Test(Test::Match {
                field: field_name,
                parts: vec![GlobPart::Lit(value.into_bytes())],
                cased,
            })
        }
        [GlobPart::Star, GlobPart::Lit(tail)] if field == "ParentImage" && !cased && !encoded => {
            let by_path = Node::Test(Test::Match {
                field: field_name.clone(),
                parts: parts.clone(),
                cased,
            });
            match file_name_of(tail) {
                // Rows with the parent's name but no path (CrowdStrike) match on the name.
                Some(name) => Node::Or(vec![
                    by_path,
                    Node::And(vec![
                        Node::Test(Test::Empty { field: field_name }),
                        Node::Test(Test::Match {
                            field: super::fields::PARENT_NAME.to_string(),
                            parts: vec![GlobPart::Lit(name.to_vec())],
                            cased,
                        }),
                    ]),
                ]),
                None => by_path,
            }
        }
        _ => Node::Test(Test::Match {
            field: field_name,
            parts,
            cased,
        }),
    }
}

/// `name.exe` when an `endswith` value is `\name.exe`: a whole file name, so the path ends
/// with it exactly when the file name is it.
fn file_name_of(tail: &[u8]) -> Option<&[u8]> {
    let name = tail.strip_prefix(b"\\")?;
    let plain = !name.is_empty() && !name.iter().any(|b| matches!(b, b'\\' | b'/'));
    plain.then_some(name)
}
