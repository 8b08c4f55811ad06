//! A computed number compared with a pattern or a number (`eval n=len(process_name) | search
//! n=5`, `where len(process) > 500`) is decided as numbers, without writing the number's
//! text. The verdicts must be the text path's: each rule is compared with the same rule whose
//! number is first made text (`len(x) . ""`, the same characters), which the fast path does
//! not recognise, over generated rows of every length, absent, empty and multivalue fields.

use netdiscover::rules::OwnedRow;

use crate::support::rules::*;

/// Computed numbers: whole, negative, zero, fractions.
const NUMBERS: &[&str] = &[
    "len(process_name)",
    "len(process_name) - 7",
    "len(process_name) / 2",
    "len(process_name) * 0",
    "0 - len(process_name) * 0",
];

/// Patterns: integers as the number's text is written, and others that must take the text
/// path and still agree (leading zero, sign, point, exponent, wildcards, words).
const PATTERNS: &[&str] = &[
    "5",
    "0",
    "-0",
    "05",
    "-3",
    "3",
    "7",
    "12",
    "2.5",
    "5.0",
    "1e1",
    "+5",
    "5*",
    "*",
    "x",
    "999999999999999",
    "\"\"",
];

const OPS: &[&str] = &["==", "!=", "<", "<=", ">", ">="];

const NAMES: &[&str] = &[
    "a.exe",
    "cmd.exe",
    "netsh.exe",
    "x",
    "",
    "\u{e9}t\u{e9}.exe",
    "ab\u{fffd}",
    "powershell.exe",
    "wmiprvse.exe",
    "0123456789ab",
];

fn rows(set: &netdiscover::rules::RuleSet, rng: &mut Rng, n: usize) -> Vec<OwnedRow> {
    let slot = set.slot("process_name").expect("process_name is read");
    let dest = set.slot("dest").expect("dest is read");
    (0..n)
        .map(|_| {
            let mut row = OwnedRow::with_slots(set.fields().len());
            row.set(dest, vec![b"host".to_vec()]);
            let count = [0, 1, 1, 1, 2][rng.next(5)];
            let values = (0..count)
                .map(|_| rng.pick(NAMES).as_bytes().to_vec())
                .collect();
            row.set(slot, values);
            row
        })
        .collect()
}

fn probe(tail: &str) -> Probe {
    Probe::tstats("Processes.dest=*", tail).unwrap_or_else(|w| panic!("{tail}: {w:?}"))
}

/// Compares the fast and the plain rule on generated rows; returns (fired, compared).
fn compare(fast: &str, plain: &str, rng: &mut Rng) -> (usize, usize) {
    let (mut fast, mut plain_probe) = (probe(fast), probe(plain));
    let mut fired = 0;
    let rows = rows(&fast.set, rng, 120);
    for row in &rows {
        let verdict = fast.fires_row(row);
        assert_eq!(verdict, plain_probe.fires_row(row), "{plain}: {row:?}");
        fired += usize::from(verdict);
    }
    (fired, rows.len())
}

/// Every (fast, plain) pair of rules gives the same verdict on the same random rows, and the
/// rules fire on some rows and not on others (so the comparison can fail).
fn assert_same_verdicts(pairs: impl IntoIterator<Item = (String, String)>, seed: u64) {
    let mut rng = Rng(seed);
    let (mut fired, mut compared) = (0, 0);
    for (fast, plain) in pairs {
        let (f, c) = compare(&fast, &plain, &mut rng);
        fired += f;
        compared += c;
    }
    assert!(
        fired > compared / 10 && fired < compared * 9 / 10,
        "{fired} of {compared}"
    );
}

#[test]
fn computed_numbers_searched_as_patterns_give_the_text_paths_verdicts() {
    let pairs = NUMBERS.iter().flat_map(|number| {
        PATTERNS.iter().flat_map(move |pattern| {
            ["=", "!="].map(|op| {
                (
                    format!(" | eval n = {number} | search n{op}{pattern}"),
                    format!(" | eval n = ({number}) . \"\" | search n{op}{pattern}"),
                )
            })
        })
    });
    assert_same_verdicts(pairs, 0x1e4_5eed);
}

#[test]
fn computed_numbers_compared_in_where_give_the_text_paths_verdicts() {
    let rights = [
        "5", "\"5\"", "\" 7 \"", "-3", "2.5", "\"abc\"", "\"1e1\"", "\"inf\"",
    ];
    let pairs = NUMBERS.iter().flat_map(|number| {
        rights.into_iter().flat_map(move |right| {
            OPS.iter().map(move |op| {
                (
                    format!(" | where {number} {op} {right}"),
                    format!(" | where ({number}) . \"\" {op} {right}"),
                )
            })
        })
    });
    assert_same_verdicts(pairs, 0x0bad_5eed);
}
