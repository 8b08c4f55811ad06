//! Differential test of the search language: random predicates over the fields ESCU rules
//! read are rendered as SPL text with only the parentheses Splunk's precedence needs (Search
//! Manual, "Boolean expressions with logical operators": NOT, then OR, then AND), compiled and
//! matched as `| netdiscover` does (`RuleSet` + `Matcher`: prefilter, literal gate, merged
//! sets), and their verdicts compared with a deliberately simple interpreter of the generated
//! tree written from the documentation alone (no prefilter, no sets, no parser of ours).
//!
//! Rows are built from the predicate's own literals: exact values, wildcard fillings (with
//! newlines inside), near-misses (one byte changed, letters re-cased, text added), empty
//! values, absent fields and multivalue fields.

use netdiscover::rules::OwnedRow;
use proptest::prelude::*;

use crate::support::rules::{Probe, Rng};

/// Fields ESCU's Endpoint.Processes predicates read most.
const FIELDS: &[&str] = &[
    "process_name",
    "process",
    "parent_process_name",
    "original_file_name",
    "user",
];

/// Literals shaped like ESCU's: names, flags, paths, spaces, quotes, backslashes.
const LITERALS: &[&str] = &[
    "cmd.exe",
    "PowerShell.exe",
    "-enc",
    "/c",
    "net1 user",
    r"\temp\\",
    "a\"b",
    "reg add",
    "x",
    "SYSTEM",
];

/// A generated predicate: the tree the interpreter reads.
#[derive(Debug, Clone)]
enum P {
    Eq(usize, String),
    Ne(usize, String),
    In(usize, Vec<String>),
    And(Vec<P>),
    Or(Vec<P>),
    Not(Box<P>),
}

/// `*` before, after, inside, or nowhere.
fn pattern() -> impl Strategy<Value = String> {
    (0..LITERALS.len(), 0..5u8).prop_map(|(i, shape)| {
        let l = LITERALS[i];
        match shape {
            0 => l.to_string(),
            1 => format!("*{l}"),
            2 => format!("{l}*"),
            3 => format!("*{l}*"),
            _ => {
                let cut = l.len() / 2;
                if l.is_char_boundary(cut) {
                    format!("{}*{}", &l[..cut], &l[cut..])
                } else {
                    format!("*{l}*")
                }
            }
        }
    })
}

fn leaf() -> impl Strategy<Value = P> {
    let field = 0..FIELDS.len();
    prop_oneof![
        3 => (field.clone(), pattern()).prop_map(|(f, v)| P::Eq(f, v)),
        1 => (field.clone(), pattern()).prop_map(|(f, v)| P::Ne(f, v)),
        1 => (field, prop::collection::vec(pattern(), 1..4)).prop_map(|(f, v)| P::In(f, v)),
    ]
}

fn predicate() -> impl Strategy<Value = P> {
    leaf().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(P::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(P::Or),
            inner.prop_map(|p| P::Not(Box::new(p))),
        ]
    })
}

/// A value as SPL writes it: quoted when it has a space or quote, escaping `\` and `"`;
/// bare values get `\\` too (bare values are unescaped alike).
fn spl_value(v: &str, quote: bool) -> String {
    let escaped = v.replace('\\', r"\\").replace('"', "\\\"");
    if quote || v.contains([' ', '"', '(', ')', ',']) {
        format!("\"{escaped}\"")
    } else {
        escaped
    }
}

/// Renders `p` with only the parentheses the search command's precedence needs (and, where
/// `style` says so, some harmless extra ones); AND is explicit or implied by `style`.
fn render(p: &P, style: &mut impl Iterator<Item = bool>) -> String {
    let mut flip = || style.next().unwrap_or(false);
    match p {
        P::Eq(f, v) => format!("Processes.{}={}", FIELDS[*f], spl_value(v, flip())),
        P::Ne(f, v) => format!("Processes.{}!={}", FIELDS[*f], spl_value(v, flip())),
        P::In(f, vs) => {
            let list: Vec<String> = vs.iter().map(|v| spl_value(v, flip())).collect();
            format!("Processes.{} IN ({})", FIELDS[*f], list.join(", "))
        }
        P::Not(inner) => match inner.as_ref() {
            P::Eq(..) | P::Ne(..) | P::In(..) => format!("NOT {}", render(inner, style)),
            _ => format!("NOT ({})", render(inner, style)),
        },
        P::Or(items) => {
            let parts: Vec<String> = items
                .iter()
                .map(|i| match i {
                    // AND binds looser than OR: an AND inside an OR needs parentheses.
                    P::And(_) | P::Or(_) => format!("({})", render(i, style)),
                    _ => render(i, style),
                })
                .collect();
            parts.join(" OR ")
        }
        P::And(items) => {
            let mut out = String::new();
            for (n, i) in items.iter().enumerate() {
                if n > 0 {
                    out.push_str(if style.next().unwrap_or(false) {
                        " AND "
                    } else {
                        " "
                    });
                }
                let text = render(i, style);
                // An OR inside an AND needs none: OR binds tighter. Nested ANDs are grouped.
                let group = matches!(i, P::And(_))
                    || (matches!(i, P::Or(_)) && style.next().unwrap_or(false));
                if group {
                    out.push_str(&format!("({text})"));
                } else {
                    out.push_str(&text);
                }
            }
            out
        }
    }
}

/// Splunk's `*` wildcard, ASCII case-insensitive, `*` matching any run including newlines.
fn glob(pattern: &[u8], value: &[u8]) -> bool {
    match pattern.split_first() {
        None => value.is_empty(),
        Some((b'*', rest)) => (0..=value.len()).any(|k| glob(rest, &value[k..])),
        Some((c, rest)) => value
            .split_first()
            .is_some_and(|(v, vrest)| v.eq_ignore_ascii_case(c) && glob(rest, vrest)),
    }
}

/// The interpreter: a field's (non-empty) values; `=` and `IN` if any value matches, `!=` if
/// some value does not (Search Manual, "Difference between != and NOT"), NOT/AND/OR as logic.
fn interpret(p: &P, row: &[Vec<String>]) -> bool {
    let values = |f: &usize| row[*f].iter().filter(|v| !v.is_empty());
    match p {
        P::Eq(f, pat) => values(f).any(|v| glob(pat.as_bytes(), v.as_bytes())),
        P::Ne(f, pat) => values(f).any(|v| !glob(pat.as_bytes(), v.as_bytes())),
        P::In(f, pats) => values(f).any(|v| pats.iter().any(|p| glob(p.as_bytes(), v.as_bytes()))),
        P::And(items) => items.iter().all(|i| interpret(i, row)),
        P::Or(items) => items.iter().any(|i| interpret(i, row)),
        P::Not(inner) => !interpret(inner, row),
    }
}

/// Every pattern of `p` with its field.
fn patterns(p: &P, out: &mut Vec<(usize, String)>) {
    match p {
        P::Eq(f, v) | P::Ne(f, v) => out.push((*f, v.clone())),
        P::In(f, vs) => out.extend(vs.iter().map(|v| (*f, v.clone()))),
        P::And(items) | P::Or(items) => items.iter().for_each(|i| patterns(i, out)),
        P::Not(inner) => patterns(inner, out),
    }
}

/// A value built from `pattern`: its filling, or a near-miss of it.
fn value_from(pattern: &str, rng: &mut Rng) -> String {
    let fillers = ["", "x", " ", "\n", "a\r\nb", "É"];
    let filled: String = pattern
        .split('*')
        .collect::<Vec<_>>()
        .join(fillers[rng.next(fillers.len())]);
    match rng.next(6) {
        0 | 1 => filled,
        2 => filled.to_ascii_uppercase(),
        3 => format!("{filled}{}", fillers[rng.next(fillers.len())]),
        4 => {
            // One byte changed (kept ASCII so the value stays UTF-8).
            let mut b = filled.into_bytes();
            if let Some(i) = (!b.is_empty()).then(|| rng.next(b.len())) {
                if b[i].is_ascii() {
                    b[i] = if b[i] == b'q' { b'r' } else { b'q' };
                }
            }
            String::from_utf8_lossy(&b).into_owned()
        }
        _ => String::new(),
    }
}

fn rows_for(p: &P, seed: u64) -> Vec<Vec<Vec<String>>> {
    let mut pats = Vec::new();
    patterns(p, &mut pats);
    let mut rng = Rng(seed | 1);
    (0..32)
        .map(|_| {
            (0..FIELDS.len())
                .map(|f| {
                    let own: Vec<&String> = pats
                        .iter()
                        .filter(|(pf, _)| *pf == f)
                        .map(|(_, v)| v)
                        .collect();
                    let count = [0, 1, 1, 1, 2, 3][rng.next(6)];
                    (0..count)
                        .map(|_| match own.is_empty() || rng.next(5) == 0 {
                            true => value_from(LITERALS[rng.next(LITERALS.len())], &mut rng),
                            false => value_from(own[rng.next(own.len())], &mut rng),
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The compiled verdict on `row` (values per field of [`FIELDS`]).
fn fires(probe: &mut Probe, row: &[Vec<String>]) -> bool {
    let mut owned = OwnedRow::with_slots(probe.set.fields().len());
    for (field, values) in FIELDS.iter().zip(row) {
        if let Some(slot) = probe.set.slot(field) {
            owned.set(slot, values.iter().map(|v| v.as_bytes().to_vec()).collect());
        }
    }
    probe.fires_row(&owned)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn compiled_matcher_agrees_with_the_interpreter(
        p in predicate(),
        style in prop::collection::vec(any::<bool>(), 64),
        seed in any::<u64>(),
    ) {
        let text = render(&p, &mut style.into_iter());
        let mut probe = Probe::tstats(&text, "").map_err(|w| TestCaseError::fail(format!("{text}: {w:?}")))?;
        for row in rows_for(&p, seed) {
            prop_assert_eq!(
                fires(&mut probe, &row),
                interpret(&p, &row),
                "predicate {}\nrow {:?}", text, row
            );
        }
    }
}

/// The renderer leans on the precedence rule, so the test above checks it too: an OR inside
/// an AND is written bare.
#[test]
fn renderer_writes_or_inside_and_without_parentheses() {
    let p = P::And(vec![
        P::Eq(0, "cmd.exe".into()),
        P::Or(vec![P::Eq(1, "*-enc*".into()), P::Eq(1, "*/c*".into())]),
    ]);
    let text = render(&p, &mut std::iter::repeat(false));
    assert_eq!(
        text,
        "Processes.process_name=cmd.exe Processes.process=*-enc* OR Processes.process=*/c*"
    );
    let mut probe = Probe::tstats(&text, "").expect("compiles");
    let row = |name: &str, process: &str| {
        vec![
            vec![name.to_string()],
            vec![process.to_string()],
            vec![],
            vec![],
            vec![],
        ]
    };
    for r in [
        row("cmd.exe", "x /c y"),
        row("calc.exe", "x /c y"),
        row("cmd.exe", "x"),
    ] {
        assert_eq!(fires(&mut probe, &r), interpret(&p, &r), "{r:?}");
    }
}
