//! The Sigma condition tree → the [`Cond`] the ESCU compiler produces, so Sigma rules run on
//! the same matcher, literal prefilter and annotation. Patterns become [`Glob`]s (plain
//! literals and `*` compile to the same exact/prefix/suffix/contains kinds as SPL values, so
//! the prefilter can anchor on them); only `re`, `cased` and the typed modifiers leave globs.

use crate::rules::eval_lang::BinOp;
use crate::rules::expr::{Cond, Ex, Func, Src};
use crate::rules::glob::{Glob, GlobPart};
use crate::rules::pcre::Pcre;

use super::fields;
use super::lower::{Compare, Node, RefHow, Test};
use super::Refusal;

/// Field names by local slot (the rule set remaps them onto its shared list).
#[derive(Debug, Default)]
pub struct Slots {
    pub names: Vec<String>,
}

impl Slots {
    pub fn slot(&mut self, name: &str) -> usize {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        }
    }

    fn sigma_field(&mut self, sigma: &str) -> usize {
        self.slot(fields::slot_name(sigma))
    }
}

pub fn compile(node: &Node, slots: &mut Slots) -> Result<Cond, Refusal> {
    Ok(match node {
        Node::And(items) => Cond::And(
            items
                .iter()
                .map(|n| compile(n, slots))
                .collect::<Result<_, _>>()?,
        ),
        Node::Or(items) => compile_or(items, slots)?,
        Node::Not(inner) => Cond::Not(Box::new(compile(inner, slots)?)),
        Node::Test(test) => compile_test(test, slots)?,
    })
}

/// A list at least this long of case-insensitive patterns on one field is checked by one
/// regular expression before its patterns are: one DFA pass over the value instead of one
/// search per pattern (SigmaHQ lists hundreds of cmdlets, emoji or look-alike letters).
const LIST_AS_REGEX: usize = 8;

/// An OR. Long lists of patterns on one field become `regex AND (pattern OR ...)`: the
/// regular expression accepts every value some pattern matches (it is a superset, see
/// [`list_regex`]), so the meaning is the patterns', the cost mostly the DFA's, and the
/// prefilter still finds the patterns' literals.
fn compile_or(items: &[Node], slots: &mut Slots) -> Result<Cond, Refusal> {
    let mut groups: Vec<(&str, Vec<&[GlobPart]>)> = Vec::new();
    let mut out = Vec::new();
    for item in items {
        match item {
            Node::Test(Test::Match {
                field,
                parts,
                cased: false,
            }) => match groups.iter_mut().find(|(f, _)| f == field) {
                Some((_, patterns)) => patterns.push(parts),
                None => groups.push((field, vec![parts])),
            },
            other => out.push(compile(other, slots)?),
        }
    }
    for (field, patterns) in groups {
        let slot = slots.sigma_field(field);
        let globs = patterns
            .iter()
            .map(|p| pattern_cond(slot, p, false))
            .collect::<Result<Vec<_>, _>>()?;
        let check = (patterns.len() >= LIST_AS_REGEX)
            .then(|| list_regex(&patterns))
            .flatten()
            .and_then(|re| Pcre::new(&re, 0).ok());
        match check {
            Some(re) => out.push(Cond::And(vec![
                Cond::Regex {
                    src: Src::Slot(slot),
                    re,
                    negate: false,
                },
                Cond::Or(globs),
            ])),
            None => out.extend(globs),
        }
    }
    Ok(Cond::Or(out))
}

/// A regular expression matching every value any of the patterns matches (and maybe more),
/// for lists of `contains` patterns of text (literals and classes): an unanchored search for
/// any of them, case-insensitive (PCRE's Unicode caseless matching, a superset of the
/// patterns' ASCII folding and case classes). `None` for other lists.
fn list_regex(patterns: &[&[GlobPart]]) -> Option<String> {
    let alternatives = patterns
        .iter()
        .map(|parts| match parts {
            [GlobPart::Star, inner @ .., GlobPart::Star] if !inner.is_empty() => inner
                .iter()
                .map(|part| match part {
                    GlobPart::Lit(bytes) => pcre_escape(bytes),
                    GlobPart::Class(alts) => alts
                        .iter()
                        .map(|a| pcre_escape(a))
                        .collect::<Option<Vec<_>>>()
                        .map(|alts| format!("(?:{})", alts.join("|"))),
                    GlobPart::Star | GlobPart::AnyChar => None,
                })
                .collect::<Option<String>>(),
            _ => None,
        })
        .collect::<Option<Vec<String>>>()?;
    Some(format!("(?i)(?:{})", alternatives.join("|")))
}

/// Text as a PCRE literal: ASCII punctuation escaped, control characters as `\x{..}`; `None`
/// for bytes that are not UTF-8 text (PCRE runs in UTF mode).
fn pcre_escape(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut out = String::with_capacity(text.len() * 2);
    for c in text.chars() {
        if c.is_ascii_control() {
            out.push_str(&format!("\\x{{{:02X}}}", c as u32));
        } else if c.is_ascii() && !c.is_ascii_alphanumeric() {
            out.push('\\');
            out.push(c);
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn has_value(slot: usize) -> Cond {
    Cond::Glob {
        src: Src::Slot(slot),
        pat: Glob::new("*"),
    }
}

fn compile_test(test: &Test, slots: &mut Slots) -> Result<Cond, Refusal> {
    Ok(match test {
        Test::Match {
            field,
            parts,
            cased,
        } => {
            let slot = slots.sigma_field(field);
            pattern_cond(slot, parts, *cased)?
        }
        Test::Regex { field, pattern } => Cond::Regex {
            src: Src::Slot(slots.sigma_field(field)),
            re: Pcre::new(pattern, 0)
                .map_err(|e| Refusal::new(format!("re `{pattern}`"), e.to_string()))?,
            negate: false,
        },
        Test::Empty { field } => Cond::Not(Box::new(has_value(slots.sigma_field(field)))),
        Test::Exists { field } => has_value(slots.sigma_field(field)),
        Test::FieldRef { field, other, how } => {
            let a = Ex::Field(slots.sigma_field(field));
            let b = Ex::Field(slots.sigma_field(other));
            Cond::Truthy(field_ref(a, b, *how))
        }
        Test::Compare { field, op, number } => {
            let op = match op {
                Compare::Lt => BinOp::Lt,
                Compare::Le => BinOp::Le,
                Compare::Gt => BinOp::Gt,
                Compare::Ge => BinOp::Ge,
            };
            let value = Ex::Call(Func::ToNumber, vec![Ex::Field(slots.sigma_field(field))]);
            Cond::Truthy(Ex::Bin(op, Box::new(value), Box::new(Ex::Num(*number))))
        }
        Test::Cidr { field, network } => Cond::Truthy(Ex::Call(
            Func::CidrMatch,
            vec![
                Ex::Str(network.as_bytes().to_vec()),
                Ex::Field(slots.sigma_field(field)),
            ],
        )),
        Test::Keyword { parts, cased } => {
            let mut places: Vec<&str> = vec![fields::RAW];
            places.extend(fields::FIELDS.iter().map(|f| f.slot));
            let alternatives = places
                .into_iter()
                .map(|name| pattern_cond(slots.slot(name), parts, *cased))
                .collect::<Result<_, _>>()?;
            Cond::Or(alternatives)
        }
    })
}

/// `a` compared with `b` case-insensitively (Sigma values are case-insensitive): equal,
/// contains, starts with, ends with. Either field absent: not true.
fn field_ref(a: Ex, b: Ex, how: RefHow) -> Ex {
    let lower = |e: Ex| Ex::Call(Func::Lower, vec![e]);
    let (a, b) = (lower(a), lower(b));
    let eq = |x: Ex, y: Ex| Ex::Bin(BinOp::Eq, Box::new(x), Box::new(y));
    let len = |e: Ex| Ex::Call(Func::Len, vec![e]);
    match how {
        RefHow::Equals => eq(a, b),
        RefHow::StartsWith => eq(
            Ex::Call(Func::Substr, vec![a, Ex::Num(1.0), len(b.clone())]),
            b,
        ),
        RefHow::EndsWith => eq(
            Ex::Call(Func::Substr, vec![a, Ex::Neg(Box::new(len(b.clone())))]),
            b,
        ),
        // `b` occurs in `a` iff splitting `a` on `b` gives more than one piece.
        RefHow::Contains => Ex::Bin(
            BinOp::Gt,
            Box::new(Ex::Call(
                Func::MvCount,
                vec![Ex::Call(Func::Split, vec![a, b])],
            )),
            Box::new(Ex::Num(1.0)),
        ),
    }
}

/// A Sigma pattern on one slot. Case-insensitive patterns are globs over the lower-cased
/// value, with each non-ASCII letter a class of its cases; `cased` patterns are anchored
/// regular expressions over the raw value, AND-ed with a case-insensitive glob on their
/// longest literal so the prefilter can still anchor the rule.
fn pattern_cond(slot: usize, parts: &[GlobPart], cased: bool) -> Result<Cond, Refusal> {
    let source = describe(parts);
    if !cased {
        return Ok(Cond::Glob {
            src: Src::Slot(slot),
            pat: Glob::from_parts(&case_classes(parts), &source),
        });
    }
    let re = Pcre::new(&cased_regex(parts)?, 0)
        .map_err(|e| Refusal::new(format!("cased `{source}`"), e.to_string()))?;
    let exact = Cond::Regex {
        src: Src::Slot(slot),
        re,
        negate: false,
    };
    let longest = parts
        .iter()
        .filter_map(|p| match p {
            GlobPart::Lit(l) => Some(l),
            _ => None,
        })
        .max_by_key(|l| l.len());
    Ok(match longest {
        Some(literal) => Cond::And(vec![
            Cond::Glob {
                src: Src::Slot(slot),
                pat: Glob::from_parts(
                    &[
                        GlobPart::Star,
                        GlobPart::Lit(literal.clone()),
                        GlobPart::Star,
                    ],
                    &source,
                ),
            },
            exact,
        ]),
        None => exact,
    })
}

/// The pattern as Sigma would write it (for diagnostics).
fn describe(parts: &[GlobPart]) -> String {
    let size = |part: &GlobPart| match part {
        GlobPart::Lit(l) => l.len() + 2,
        GlobPart::Class(alts) => alts.iter().map(Vec::len).sum::<usize>() + 2,
        GlobPart::Star | GlobPart::AnyChar => 1,
    };
    let mut out = String::with_capacity(parts.iter().map(size).sum());
    for part in parts {
        match part {
            GlobPart::Lit(l) => {
                for c in String::from_utf8_lossy(l).chars() {
                    if matches!(c, '*' | '?') {
                        out.push('\\');
                    }
                    out.push(c);
                }
            }
            GlobPart::Star => out.push('*'),
            GlobPart::AnyChar => out.push('?'),
            GlobPart::Class(alts) => {
                out.push('[');
                alts.iter()
                    .for_each(|a| out.push_str(&String::from_utf8_lossy(a)));
                out.push(']');
            }
        }
    }
    out
}

/// Splits literal text so each non-ASCII letter with single-character lower and upper
/// forms becomes a class of its forms: the matcher folds ASCII case only, and Sigma values
/// are case-insensitive whatever the script (`\СИСТЕМА` matches `\система`).
fn case_classes(parts: &[GlobPart]) -> Vec<GlobPart> {
    let mut out = Vec::new();
    for part in parts {
        let GlobPart::Lit(bytes) = part else {
            out.push(part.clone());
            continue;
        };
        // ASCII text has no letter of other cases: it stays one literal (none when empty).
        if bytes.is_ascii() {
            if !bytes.is_empty() {
                out.push(part.clone());
            }
            continue;
        }
        let Ok(text) = std::str::from_utf8(bytes) else {
            out.push(part.clone());
            continue;
        };
        let mut run = String::with_capacity(text.len());
        for c in text.chars() {
            match case_forms(c) {
                Some(forms) => {
                    if !run.is_empty() {
                        out.push(GlobPart::Lit(std::mem::take(&mut run).into_bytes()));
                    }
                    out.push(GlobPart::Class(forms));
                }
                None => run.push(c),
            }
        }
        if !run.is_empty() {
            out.push(GlobPart::Lit(run.into_bytes()));
        }
    }
    out
}

/// The distinct single-character case forms of a non-ASCII letter (None when it has no other).
fn case_forms(c: char) -> Option<Vec<Vec<u8>>> {
    if c.is_ascii() {
        return None;
    }
    let single = |mut it: std::iter::Peekable<std::vec::IntoIter<char>>| {
        let first = it.next()?;
        it.peek().is_none().then_some(first)
    };
    let lower = single(c.to_lowercase().collect::<Vec<_>>().into_iter().peekable());
    let upper = single(c.to_uppercase().collect::<Vec<_>>().into_iter().peekable());
    let mut forms: Vec<char> = vec![c];
    forms.extend(lower);
    forms.extend(upper);
    forms.sort_unstable();
    forms.dedup();
    (forms.len() > 1).then(|| forms.iter().map(|f| f.to_string().into_bytes()).collect())
}

/// An anchored, case-sensitive regular expression for a pattern (`\\z`: PCRE's `$` would
/// also match before a final newline). Encoded (non-text) literals cannot be written in UTF
/// mode and refuse the rule.
fn cased_regex(parts: &[GlobPart]) -> Result<String, Refusal> {
    let not_text = || {
        Refusal::new(
            "cased with an encoding",
            "a case-sensitive pattern must be text (wide/utf16 bytes are not)",
        )
    };
    let mut re = String::from("(?s)^");
    for part in parts {
        match part {
            GlobPart::Lit(bytes) => re.push_str(&pcre_escape(bytes).ok_or_else(not_text)?),
            GlobPart::Star => re.push_str(".*"),
            GlobPart::AnyChar => re.push('.'),
            GlobPart::Class(alts) => {
                let alts = alts
                    .iter()
                    .map(|a| pcre_escape(a).ok_or_else(not_text))
                    .collect::<Result<Vec<_>, _>>()?;
                re.push_str(&format!("(?:{})", alts.join("|")));
            }
        }
    }
    re.push_str("\\z");
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_strings::random_picks;

    /// [`describe`] as first written: the reference for the one-string description.
    fn describe_reference(parts: &[GlobPart]) -> String {
        parts
            .iter()
            .map(|p| match p {
                GlobPart::Lit(l) => String::from_utf8_lossy(l)
                    .replace('*', "\\*")
                    .replace('?', "\\?"),
                GlobPart::Star => "*".into(),
                GlobPart::AnyChar => "?".into(),
                GlobPart::Class(alts) => format!(
                    "[{}]",
                    alts.iter()
                        .map(|a| String::from_utf8_lossy(a).into_owned())
                        .collect::<Vec<_>>()
                        .join("")
                ),
            })
            .collect()
    }

    /// [`case_classes`]'s ASCII shortcut gives what its general path would: no ASCII
    /// character has other case forms, so ASCII text stays one literal (an empty one none).
    #[test]
    fn ascii_text_has_no_case_classes() {
        assert!((0..=0x7fu8).all(|b| case_forms(char::from(b)).is_none()));
        let parts = [
            GlobPart::Lit(b"Cmd.exe".to_vec()),
            GlobPart::Lit(Vec::new()),
        ];
        assert_eq!(case_classes(&parts), parts[..1]);
    }

    #[test]
    fn descriptions_are_the_first_ones() {
        let pieces = [
            GlobPart::Lit(b"cmd.exe".to_vec()),
            GlobPart::Lit(Vec::new()),
            GlobPart::Lit("\\\u{421}\u{418}\u{441}*?".as_bytes().to_vec()),
            GlobPart::Lit(vec![0xff, b'a']),
            GlobPart::Star,
            GlobPart::AnyChar,
            GlobPart::Class(vec![b"a".to_vec(), "\u{e9}".as_bytes().to_vec()]),
        ];
        for picks in random_picks(0x3C6E_F372_FE94_F82B, 5_000, 6, pieces.len()) {
            let parts: Vec<GlobPart> = picks.iter().map(|&p| pieces[p].clone()).collect();
            assert_eq!(describe(&parts), describe_reference(&parts));
        }
    }

    #[test]
    fn non_ascii_letters_become_classes_of_their_cases() {
        let parts = case_classes(&[GlobPart::Lit("\\СИ-x".as_bytes().to_vec())]);
        assert_eq!(parts.len(), 4);
        assert!(matches!(&parts[1], GlobPart::Class(forms) if forms.len() == 2));
        let glob = Glob::from_parts(&parts, "x");
        assert!(glob.matches_folded("\\си-x".as_bytes()));
        assert!(glob.matches_folded("\\Си-x".as_bytes()));
        assert!(!glob.matches_folded("\\сu-x".as_bytes()));
        assert_eq!(case_forms('–'), None);
    }

    #[test]
    fn cased_patterns_are_anchored_exact_regexes() {
        let re = cased_regex(&[
            GlobPart::Star,
            GlobPart::Lit(b"a.b".to_vec()),
            GlobPart::AnyChar,
            GlobPart::Lit(b"c\0".to_vec()),
        ])
        .unwrap();
        let re = Pcre::new(&re, 0).unwrap();
        assert!(re.is_match(b"xxa.b\xC3\xA9c\0"));
        assert!(!re.is_match(b"xxA.bZc\0"));
        assert!(!re.is_match(b"xxaxbZc\0"));
        assert!(
            !re.is_match(b"xxa.bZc\0\n"),
            "the end is the end, not before a newline"
        );
        assert!(cased_regex(&[GlobPart::Lit(vec![0xFF, 0xFE])]).is_err());
    }

    #[test]
    fn list_regexes_search_for_any_contains_pattern() {
        let windash = GlobPart::Class(vec![b"-".to_vec(), "\u{2013}".as_bytes().to_vec()]);
        let a = [
            GlobPart::Star,
            GlobPart::Lit(b"a.b(".to_vec()),
            GlobPart::Star,
        ];
        let b = [
            GlobPart::Star,
            windash,
            GlobPart::Lit(b"X".to_vec()),
            GlobPart::Star,
        ];
        let c = [
            GlobPart::Star,
            GlobPart::Lit("С".as_bytes().to_vec()),
            GlobPart::Star,
        ];
        let re = list_regex(&[&a, &b, &c]).unwrap();
        let re = Pcre::new(&re, 0).unwrap();
        assert!(re.is_match(b"zz A.B( zz"));
        assert!(re.is_match("run \u{2013}x".as_bytes()));
        assert!(re.is_match("с".as_bytes()));
        assert!(!re.is_match(b"a-b( /x"));
        let exact = [GlobPart::Lit(b"a".to_vec())];
        assert!(list_regex(&[&a, &exact]).is_none());
        let wide = [GlobPart::Star, GlobPart::Lit(vec![0xFF]), GlobPart::Star];
        assert!(list_regex(&[&a, &wide]).is_none());
    }
}
