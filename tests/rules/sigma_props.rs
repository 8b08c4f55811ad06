//! Property test: the compiled matcher agrees with a plain interpreter of the Sigma rule.
//! Random rules (maps, lists of maps, value lists, `all`, `neq`, `null`, `''`, wildcards,
//! escapes, `contains`/`startswith`/`endswith`/`windash`/`cased`/`re`, conditions with
//! `and`/`or`/`not`/`1 of`/`all of`/`them`) are written as YAML for netdiscover and evaluated
//! directly here, character by character, on random events.

use std::collections::HashMap;
use std::path::PathBuf;

use netdiscover::rules::sigma::{self, fields};
use netdiscover::rules::{Matcher, OwnedRow, RuleSet, Selected, Sources};
use proptest::prelude::*;

const FIELDS: [&str; 5] = ["CommandLine", "Image", "Description", "ParentImage", "User"];
const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Modifier {
    Plain,
    Contains,
    StartsWith,
    EndsWith,
    WindashContains,
    CasedContains,
    Re,
}

#[derive(Debug, Clone)]
enum Value {
    Text(String),
    Null,
}

#[derive(Debug, Clone)]
struct Item {
    field: &'static str,
    modifier: Modifier,
    all: bool,
    neq: bool,
    values: Vec<Value>,
}

#[derive(Debug, Clone)]
enum Cond {
    Search(usize),
    OneOf(&'static str),
    AllOf(&'static str),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
}

const NAMES: [&str; 4] = ["sel_a", "sel_b", "filter_a", "_private"];

#[derive(Debug, Clone)]
struct Rule {
    /// Per search identifier (NAMES order): a list of maps (one map: a plain map).
    searches: Vec<Vec<Vec<Item>>>,
    condition: Cond,
}

// ---------- generation ----------

fn text_value() -> impl Strategy<Value = String> {
    let c = prop::sample::select(vec![
        "a", "b", "A", "B", " ", "-", "/", "\u{2013}", "\u{2014}", "С", "с", "*", "?", "\\", ".",
    ]);
    prop::collection::vec(c, 0..5).prop_map(|v| v.concat())
}

fn regex_value() -> impl Strategy<Value = String> {
    let atom = prop::sample::select(vec!["a", "b", "A", ".", "a*", "[ab]", "-", " "]);
    (
        prop::collection::vec(atom, 1..4),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(atoms, i, start, end)| {
            format!(
                "{}{}{}{}",
                if i { "(?i)" } else { "" },
                if start { "^" } else { "" },
                atoms.concat(),
                if end { "$" } else { "" }
            )
        })
}

fn item() -> impl Strategy<Value = Item> {
    item_with(1..3)
}

/// Items with long value lists: the compiler checks lists of 8 or more patterns with one
/// regular expression first.
fn long_item() -> impl Strategy<Value = Item> {
    item_with(8..14)
}

fn item_with(values: std::ops::Range<usize>) -> impl Strategy<Value = Item> {
    let modifier = prop::sample::select(vec![
        Modifier::Plain,
        Modifier::Contains,
        Modifier::StartsWith,
        Modifier::EndsWith,
        Modifier::WindashContains,
        Modifier::CasedContains,
        Modifier::Re,
    ]);
    (
        prop::sample::select(FIELDS.to_vec()),
        modifier,
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::collection::vec(
            prop_oneof![8 => text_value().prop_map(Value::Text), 1 => Just(Value::Null)],
            values.clone(),
        ),
        prop::collection::vec(regex_value(), values),
    )
        .prop_map(|(field, modifier, all, neq, values, regexes)| {
            let values = if modifier == Modifier::Re {
                regexes.into_iter().map(Value::Text).collect()
            } else if modifier == Modifier::Plain {
                values
            } else {
                // Null only goes with plain values.
                values
                    .into_iter()
                    .map(|v| match v {
                        Value::Null => Value::Text(String::new()),
                        t => t,
                    })
                    .collect()
            };
            Item {
                field,
                modifier,
                all: all && values.len() > 1,
                neq,
                values,
            }
        })
}

fn map() -> impl Strategy<Value = Vec<Item>> {
    prop_oneof![3 => prop::collection::vec(item(), 1..3), 1 => prop::collection::vec(long_item(), 1..3)]
        .prop_map(|mut items| {
        let mut seen = Vec::new();
        items.retain(|i| {
            let fresh = !seen.contains(&i.field);
            seen.push(i.field);
            fresh
        });
        items
    })
}

fn condition() -> impl Strategy<Value = Cond> {
    let leaf = prop_oneof![
        (0..NAMES.len()).prop_map(Cond::Search),
        prop::sample::select(vec!["sel_*", "filter_*", "them", "*a"]).prop_map(Cond::OneOf),
        prop::sample::select(vec!["sel_*", "them", "*_a"]).prop_map(Cond::AllOf),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Cond::Not(Box::new(a))),
        ]
    })
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        prop::collection::vec(prop::collection::vec(map(), 1..3), NAMES.len()),
        condition(),
    )
        .prop_map(|(searches, condition)| Rule {
            searches,
            condition,
        })
}

fn event() -> impl Strategy<Value = HashMap<&'static str, String>> {
    let c = prop::sample::select(vec![
        "a", "b", "A", "B", " ", "-", "/", "\u{2013}", "\u{2015}", "С", "с", "*", "?", "\\", ".",
        "x",
    ]);
    prop::collection::vec(
        (
            prop::sample::select(FIELDS.to_vec()),
            prop::collection::vec(c, 0..6),
        ),
        0..6,
    )
    .prop_map(|pairs| pairs.into_iter().map(|(f, v)| (f, v.concat())).collect())
}

// ---------- rendering for netdiscover ----------

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn render(rule: &Rule) -> String {
    let mut out = String::from(
        "title: Property\nid: 00000000-0000-0000-0000-000000000001\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n",
    );
    for (name, maps) in NAMES.iter().zip(&rule.searches) {
        out.push_str(&format!("    {name}:\n"));
        for map in maps {
            for (k, item) in map.iter().enumerate() {
                let (lead, key_column) = match (maps.len(), k) {
                    (1, _) => ("        ", 8),
                    (_, 0) => ("        - ", 10),
                    _ => ("          ", 10),
                };
                let mods = match item.modifier {
                    Modifier::Plain => "",
                    Modifier::Contains => "|contains",
                    Modifier::StartsWith => "|startswith",
                    Modifier::EndsWith => "|endswith",
                    Modifier::WindashContains => "|windash|contains",
                    Modifier::CasedContains => "|contains|cased",
                    Modifier::Re => "|re",
                };
                let all = if item.all { "|all" } else { "" };
                let neq = if item.neq { "|neq" } else { "" };
                out.push_str(&format!("{lead}{}{mods}{all}{neq}:\n", item.field));
                for v in &item.values {
                    let v = match v {
                        Value::Null => "null".to_string(),
                        Value::Text(t) => quote(t),
                    };
                    out.push_str(&format!("{}- {v}\n", " ".repeat(key_column + 4)));
                }
            }
        }
    }
    out.push_str(&format!(
        "    condition: {}\n",
        render_cond(&rule.condition)
    ));
    out
}

fn render_cond(c: &Cond) -> String {
    match c {
        Cond::Search(i) => NAMES[*i].to_string(),
        Cond::OneOf(p) => format!("1 of {p}"),
        Cond::AllOf(p) => format!("all of {p}"),
        Cond::And(a, b) => format!("({} and {})", render_cond(a), render_cond(b)),
        Cond::Or(a, b) => format!("({} or {})", render_cond(a), render_cond(b)),
        Cond::Not(a) => format!("not {}", render_cond(a)),
    }
}

// ---------- the interpreter ----------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Char(char),
    Star,
    One,
    Dash,
}

/// The specification's escaping: `\` before `*`, `?` or `\` makes it plain; else it is a
/// plain backslash.
fn tokens(value: &str) -> Vec<Tok> {
    let chars: Vec<char> = value.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' if matches!(chars.get(i + 1), Some('*' | '?' | '\\')) => {
                out.push(Tok::Char(chars[i + 1]));
                i += 2;
                continue;
            }
            '*' => out.push(Tok::Star),
            '?' => out.push(Tok::One),
            c => out.push(Tok::Char(c)),
        }
        i += 1;
    }
    out
}

fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

fn char_eq(p: char, d: char, cased: bool) -> bool {
    p == d
        || (!cased && (single(p.to_lowercase()) == Some(d) || single(p.to_uppercase()) == Some(d)))
}

fn glob(p: &[Tok], d: &[char], cased: bool) -> bool {
    match p.split_first() {
        None => d.is_empty(),
        Some((Tok::Star, rest)) => (0..=d.len()).any(|k| glob(rest, &d[k..], cased)),
        Some((tok, rest)) => match d.split_first() {
            None => false,
            Some((&c, tail)) => {
                let ok = match tok {
                    Tok::One => true,
                    Tok::Dash => DASHES.contains(&c),
                    Tok::Char(p) => char_eq(*p, c, cased),
                    Tok::Star => unreachable!(),
                };
                ok && glob(rest, tail, cased)
            }
        },
    }
}

fn value_matches(item: &Item, value: &Value, event: &HashMap<&str, String>) -> bool {
    let data = event.get(item.field).map(String::as_str).unwrap_or("");
    let text = match value {
        Value::Null => return data.is_empty(),
        Value::Text(t) => t,
    };
    if item.modifier == Modifier::Re {
        return !data.is_empty() && regex::Regex::new(text).unwrap().is_match(data);
    }
    let mut p = tokens(text);
    if item.modifier == Modifier::Plain && p.is_empty() {
        return data.is_empty();
    }
    if item.modifier == Modifier::WindashContains {
        p = p
            .into_iter()
            .map(|t| match t {
                Tok::Char(c) if DASHES.contains(&c) => Tok::Dash,
                t => t,
            })
            .collect();
    }
    let (before, after) = match item.modifier {
        Modifier::StartsWith => (false, true),
        Modifier::EndsWith => (true, false),
        Modifier::Plain => (false, false),
        _ => (true, true),
    };
    if before && p.first() != Some(&Tok::Star) {
        p.insert(0, Tok::Star);
    }
    if after && p.last() != Some(&Tok::Star) {
        p.push(Tok::Star);
    }
    let d: Vec<char> = data.chars().collect();
    !d.is_empty() && glob(&p, &d, item.modifier == Modifier::CasedContains)
}

fn item_matches(item: &Item, event: &HashMap<&str, String>) -> bool {
    let each = item.values.iter().map(|v| value_matches(item, v, event));
    let linked = if item.all {
        each.collect::<Vec<_>>().into_iter().all(|b| b)
    } else {
        each.collect::<Vec<_>>().into_iter().any(|b| b)
    };
    linked != item.neq
}

fn search_matches(maps: &[Vec<Item>], event: &HashMap<&str, String>) -> bool {
    maps.iter()
        .any(|m| m.iter().all(|item| item_matches(item, event)))
}

fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern {
        "them" => !name.starts_with('_'),
        p if p.ends_with('*') => name.starts_with(&p[..p.len() - 1]),
        p if p.starts_with('*') => name.ends_with(&p[1..]),
        p => p == name,
    }
}

fn cond_matches(c: &Cond, rule: &Rule, event: &HashMap<&str, String>) -> bool {
    let search = |i: usize| search_matches(&rule.searches[i], event);
    let named = |p: &'static str| (0..NAMES.len()).filter(move |&i| name_matches(p, NAMES[i]));
    match c {
        Cond::Search(i) => search(*i),
        Cond::OneOf(p) => named(p).any(search),
        Cond::AllOf(p) => named(p).all(search),
        Cond::And(a, b) => cond_matches(a, rule, event) && cond_matches(b, rule, event),
        Cond::Or(a, b) => cond_matches(a, rule, event) || cond_matches(b, rule, event),
        Cond::Not(a) => !cond_matches(a, rule, event),
    }
}

// ---------- the property ----------

fn compile(text: &str) -> RuleSet {
    let mut sources = Sources::new();
    let parsed = sigma::parse_rule(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    sources.sigma.push((PathBuf::from("p.yml"), parsed));
    let mut warnings = Vec::new();
    let set = RuleSet::compile(&sources, &mut warnings);
    assert!(warnings.is_empty(), "{warnings:?}\n{text}");
    set
}

fn engine_matches(set: &RuleSet, event: &HashMap<&str, String>) -> bool {
    let mut row = OwnedRow::with_slots(set.fields().len());
    for (field, value) in event {
        if let Some(slot) = set.slot(fields::slot_name(field)) {
            row.set(slot, vec![value.as_bytes().to_vec()]);
        }
    }
    let mut matcher = Matcher::new(set);
    let with = !matcher.match_row(set, &Selected::all(set), &row).is_empty();
    matcher.set_prefilter(false);
    let without = !matcher.match_row(set, &Selected::all(set), &row).is_empty();
    assert_eq!(with, without, "the prefilter changed the verdict");
    with
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn compiled_rules_agree_with_the_interpreter(
        rule in rule(),
        events in prop::collection::vec(event(), 1..8),
    ) {
        let text = render(&rule);
        let set = compile(&text);
        for event in &events {
            let expected = cond_matches(&rule.condition, &rule, event);
            let got = engine_matches(&set, event);
            prop_assert_eq!(got, expected, "rule:\n{}\nevent: {:?}", text, event);
        }
    }
}
