//! Comparisons of case-folded values (`lower(x) != lower(y)`, `upper(x) == upper(y)`,
//! `lower(x) == "already lower"`) are evaluated without making the lower- or upper-cased
//! copies, and `rex` groups are read where the value lies. The verdicts must be the plain
//! evaluation's: each rule is compared with the same rule whose folded sides are wrapped in
//! `mvindex(..., 0, -1)` (the same values, null when null), which the fast path does not
//! recognise, over generated rows (case changes, numbers in any case, non-ASCII and invalid
//! text, empty, absent and multivalue fields) and over the process events of
//! `../shared/datasets`.

use netdiscover::rules::OwnedRow;

use crate::support::rules::*;
use crate::support::shared;

const OPS: &[&str] = &["==", "!=", "<", "<=", ">", ">="];

/// Pairs of (fast form, plain form) of the sides compared.
const SIDES: &[(&str, &str, &str, &str)] = &[
    (
        "lower(process_name)",
        "lower(parent_process_name)",
        "mvindex(lower(process_name), 0, -1)",
        "mvindex(lower(parent_process_name), 0, -1)",
    ),
    (
        "upper(process_name)",
        "upper(user)",
        "mvindex(upper(process_name), 0, -1)",
        "mvindex(upper(user), 0, -1)",
    ),
    (
        "lower(process_name)",
        "\"cmd.exe\"",
        "mvindex(lower(process_name), 0, -1)",
        "\"cmd.exe\"",
    ),
    (
        "\"1e3\"",
        "lower(user)",
        "\"1e3\"",
        "mvindex(lower(user), 0, -1)",
    ),
    (
        "upper(user)",
        "\"INF\"",
        "mvindex(upper(user), 0, -1)",
        "\"INF\"",
    ),
    // Not fold-invariant literals: must take the plain path and still agree.
    (
        "lower(process_name)",
        "\"CMD.exe\"",
        "mvindex(lower(process_name), 0, -1)",
        "\"CMD.exe\"",
    ),
    (
        "lower(process_name)",
        "upper(user)",
        "mvindex(lower(process_name), 0, -1)",
        "mvindex(upper(user), 0, -1)",
    ),
    (
        "lower(process_name)",
        "lower(service)",
        "mvindex(lower(process_name), 0, -1)",
        "mvindex(lower(service), 0, -1)",
    ),
];

/// The rex of ESCU's "Detect Path Interception By Creation Of program exe", then `where`.
const REX: &str = r#" | rex field=process "^.*?\\\\(?<service>[^\\\\]*\.(?:exe|bat|com|ps1))""#;

fn probe(left: &str, op: &str, right: &str) -> Probe {
    let tail = format!("{REX} | where {left} {op} {right}");
    Probe::tstats("Processes.dest=*", &tail)
        .or_else(|_| Probe::tstats("Processes.process_name=*", &tail))
        .unwrap_or_else(|w| panic!("{left} {op} {right}: {w:?}"))
}

const VALUES: &[&str] = &[
    "cmd.exe",
    "CMD.EXE",
    "Cmd.Exe",
    "cmd.exe ",
    "1e3",
    "1E3",
    "1000",
    "INF",
    "inf",
    "NaN",
    "nan",
    "-5",
    " 7 ",
    "a_b",
    "A_B",
    "A[B",
    "a{b",
    "\u{c9}T\u{c9}.exe",
    "\u{e9}t\u{e9}.exe",
    "x",
    "",
    "C:\\Program Files\\Common.exe",
    "c:\\windows\\system32\\svchost.exe -k netsvcs",
    "\"C:\\Program Files\\App\\Svc.EXE\" /run",
    "C:\\Tools\\run.BAT",
    "Z",
];

fn generated_rows(set: &netdiscover::rules::RuleSet, rng: &mut Rng, n: usize) -> Vec<OwnedRow> {
    let fields = [
        "process_name",
        "parent_process_name",
        "user",
        "process",
        "dest",
    ];
    (0..n)
        .map(|_| {
            let mut r = OwnedRow::with_slots(set.fields().len());
            for field in fields {
                let Some(slot) = set.slot(field) else {
                    continue;
                };
                let count = [0, 1, 1, 1, 2, 3][rng.next(6)];
                let mut values: Vec<Vec<u8>> = (0..count)
                    .map(|_| rng.pick(VALUES).as_bytes().to_vec())
                    .collect();
                if rng.next(12) == 0 {
                    values.push(b"ab\xffCD".to_vec());
                }
                r.set(slot, values);
            }
            r
        })
        .collect()
}

fn real_rows(set: &netdiscover::rules::RuleSet) -> Vec<OwnedRow> {
    let Some(datasets) = shared("datasets") else {
        return Vec::new();
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut rows = Vec::new();
    for file in xml_dataset_files(&datasets) {
        for e in process_events(&read_text(&file)) {
            let key = ["process_name", "parent_process_name", "user", "process"]
                .map(|f| e.get(f).to_string());
            if seen.insert(key) {
                rows.push(e.to_row(set));
            }
        }
    }
    rows
}

#[test]
fn folded_comparisons_give_the_plain_evaluations_verdicts() {
    let mut rng = Rng(0x5eed_f01d);
    let shape = probe(SIDES[0].0, "==", SIDES[0].1);
    let real = real_rows(&shape.set);
    let mut fired = 0usize;
    let mut compared = 0usize;
    for &(fl, fr, pl, pr) in SIDES {
        for op in OPS {
            let mut fast = probe(fl, op, fr);
            let mut plain = probe(pl, op, pr);
            assert_eq!(fast.set.fields(), plain.set.fields(), "{fl} {op} {fr}");
            let rows = generated_rows(&fast.set, &mut rng, 400);
            for row in rows.iter().chain(&real) {
                let verdict = fast.fires_row(row);
                assert_eq!(verdict, plain.fires_row(row), "{fl} {op} {fr}: {row:?}");
                fired += usize::from(verdict);
                compared += 1;
            }
        }
    }
    // Both verdicts occur often: the comparison is not decided by the rows' shape.
    assert!(
        fired > compared / 10 && fired < compared * 9 / 10,
        "{fired} of {compared}"
    );
    if shared("datasets").is_some() {
        assert!(real.len() > 1000, "{} real rows", real.len());
    }
}
