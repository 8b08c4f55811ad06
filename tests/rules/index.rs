//! The literal index changes no verdict: every shipped and ESCU corpus rule, and every SigmaHQ
//! Windows process_creation rule (they compile to the same `Cond`), over every process event of
//! `../shared/datasets` (and, for Sigma, of SigmaHQ's regression samples) and over rows
//! generated from the rules' own literals (so that many rules become candidates and many
//! match), matches exactly the rows it matches when every rule is evaluated on every row
//! (`Matcher::set_prefilter(false)`).

use std::path::{Path, PathBuf};

use crate::support::rules::*;
use crate::support::{repo, shared};
use netdiscover::ingest::{CimField, FileReader, Item, OpenOptions};
use netdiscover::rules::{shipped_places, Matcher, OwnedRow, RuleSet, Selected};

/// The shipped rules plus the whole ESCU corpus, as `NETDISCOVER_RULES_DIR` loads it.
pub fn corpus_set() -> Option<RuleSet> {
    let corpus = shared("escu/corpus")?;
    let mut places = shipped_places(&repo("target/debug/netdiscover"));
    places.push(corpus);
    let (set, _) = RuleSet::load(&places);
    assert!(set.len() > 300, "{} rules", set.len());
    Some(set)
}

/// The shipped rules plus SigmaHQ's Windows process_creation rules, as `--rules` loads them.
pub fn sigma_set() -> Option<RuleSet> {
    let sigma = shared("sigma_corpus/rules/windows/process_creation")?;
    let mut places = shipped_places(&repo("target/debug/netdiscover"));
    places.push(sigma);
    let (set, _) = RuleSet::load(&places);
    assert!(set.len() > 1_100, "{} rules", set.len());
    Some(set)
}

/// The rule counts the index cannot anchor, for the report (issue 14 asks for them).
fn report_unanchored(set: &RuleSet, what: &str) {
    println!(
        "{what}: {} of {} rules with tests the index decides (read from its marks)",
        set.rules_with_tests_decided_by_the_index(),
        set.len()
    );
    let without = set.rules_without_literal();
    let names: Vec<&str> = without
        .iter()
        .take(10)
        .map(|&r| set.rules()[r].meta.name.as_str())
        .collect();
    println!(
        "{what}: {} of {} rules without a literal (evaluated on every row), e.g. {names:?}",
        without.len(),
        set.len()
    );
}

/// Every process row ingest reads from `files`, each slot filled as `scan` fills it: a CIM
/// field, or an extra field under its source name (Sigma's `Description`, `Company`, ...).
fn ingested_rows(set: &RuleSet, files: &[PathBuf]) -> Vec<OwnedRow> {
    let mut rows = Vec::new();
    for file in files {
        let reader = FileReader::open(file, &OpenOptions::default()).expect("open dataset");
        for item in reader {
            let Item::Process(event) = item else {
                continue;
            };
            let mut row = OwnedRow::with_slots(set.fields().len());
            for (slot, name) in set.fields().iter().enumerate() {
                let value = CimField::from_name(name)
                    .map_or(event.row.extra(name), |field| event.row.get(field));
                if !value.is_empty() {
                    row.set(slot, vec![value.as_bytes().to_vec()]);
                }
            }
            rows.push(row);
        }
    }
    rows
}

/// The EVTX samples below `dir`, sorted.
fn evtx_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("list").flatten() {
        let path = entry.path();
        if path.is_dir() {
            evtx_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "evtx") {
            out.push(path);
        }
    }
    out.sort();
}

/// Matches `rows` with the index and without it; returns (rows some rule matched, rule
/// matches), after checking that both give the same rules for every row.
fn compare(set: &RuleSet, rows: &[OwnedRow], what: &str) -> (usize, usize) {
    let selected = Selected::all(set);
    let mut indexed = Matcher::new(set);
    let mut plain = Matcher::new(set);
    plain.set_prefilter(false);
    let (mut rows_matched, mut matches) = (0, 0);
    for (n, row) in rows.iter().enumerate() {
        let a = indexed.match_row(set, &selected, row).to_vec();
        let b = plain.match_row(set, &selected, row);
        assert_eq!(a, b, "{what} row {n}: {row:?}");
        rows_matched += usize::from(!a.is_empty());
        matches += a.len();
    }
    let stats = indexed.stats();
    let per_row = |n: u64| n as f64 / stats.rows.max(1) as f64;
    println!(
        "{what}: {:.3} rules evaluated per row with the index ({:.3} matched), {:.0} without",
        per_row(stats.evaluated),
        per_row(stats.matched),
        per_row(plain.stats().evaluated)
    );
    (rows_matched, matches)
}

#[test]
fn the_index_changes_no_verdict_on_real_rows() {
    let (Some(set), Some(datasets)) = (corpus_set(), shared("datasets")) else {
        return;
    };
    let mut rows = Vec::new();
    for file in xml_dataset_files(&datasets) {
        rows.extend(
            process_events(&read_text(&file))
                .iter()
                .map(|e| e.to_row(&set)),
        );
    }
    assert!(rows.len() > 30_000, "{} rows", rows.len());
    let (matched, matches) = compare(&set, &rows, "datasets");
    println!(
        "{} real rows: {matched} matched, {matches} rule matches",
        rows.len()
    );
    assert!(matched > 100, "{matched}");
}

#[test]
fn the_index_changes_no_sigma_verdict_on_real_rows() {
    let (Some(set), Some(datasets), Some(regression)) = (
        sigma_set(),
        shared("datasets"),
        shared("sigma_corpus/regression_data"),
    ) else {
        return;
    };
    report_unanchored(&set, "Sigma windows/process_creation + shipped");
    let mut files = xml_dataset_files(&datasets);
    evtx_files(&regression, &mut files);
    let rows = ingested_rows(&set, &files);
    assert!(rows.len() > 30_000, "{} rows", rows.len());
    let (matched, matches) = compare(&set, &rows, "datasets and regression samples");
    println!(
        "{} real rows, Sigma rules: {matched} matched, {matches} rule matches",
        rows.len()
    );
    // Each regression sample matches its rule, so at least one row per sample matches.
    assert!(
        matched > 1_000 && matches > 2_000,
        "{matched} rows, {matches} matches"
    );
}

/// xorshift64*: the same rows on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// A value for `slot` built from the index's literals: often exactly a whole value, else a
/// mix of pieces (of this field, sometimes of another) and filler, often starting or ending
/// with one of the field's literals (starts and ends are literals in a place), in random case;
/// now and then a [`short_value`].
fn value(rng: &mut Rng, set: &RuleSet, slot: usize, by_slot: &[Vec<usize>]) -> Vec<u8> {
    if rng.chance(4) {
        return short_value(rng);
    }
    let literals = set.literals();
    let own = &by_slot[slot];
    let mut value = Vec::new();
    if !own.is_empty() && rng.chance(35) {
        value.extend_from_slice(&literals[own[rng.below(own.len())]].bytes);
    } else {
        for _ in 0..rng.below(5) {
            match rng.below(10) {
                0..=5 if !own.is_empty() => {
                    value.extend_from_slice(&literals[own[rng.below(own.len())]].bytes)
                }
                6 => value.extend_from_slice(&literals[rng.below(literals.len())].bytes),
                _ => value.extend_from_slice(
                    [&b" "[..], b"-a", b"C:\\x\\", b"\"q\"", b"1"][rng.below(5)],
                ),
            }
        }
    }
    if !own.is_empty() && rng.chance(25) {
        let start = &literals[own[rng.below(own.len())]].bytes;
        value.splice(0..0, start.iter().copied());
    }
    if !own.is_empty() && rng.chance(25) {
        value.extend_from_slice(&literals[own[rng.below(own.len())]].bytes);
    }
    for byte in &mut value {
        if rng.chance(30) {
            *byte = byte.to_ascii_uppercase();
        }
    }
    value
}

/// A name of a few characters, some of several bytes, often with `.exe`: rules without
/// literals test lengths (`len(process_name)=5`), which the index checks in bytes.
fn short_value(rng: &mut Rng) -> Vec<u8> {
    let mut value = Vec::new();
    for _ in 0..1 + rng.below(3) {
        let piece: &[u8] = [&b"a"[..], b"Z", b"7", "é".as_bytes(), "€".as_bytes()][rng.below(5)];
        value.extend_from_slice(piece);
    }
    if rng.chance(60) {
        value.extend_from_slice(b".exe");
    }
    value
}

/// 20,000 rows whose values are built from `set`'s literals, compared with and without the
/// index; returns (rows matched, rule matches).
fn compare_generated(set: &RuleSet, what: &str) -> (usize, usize) {
    let rows = generated_rows(set);
    let (matched, matches) = compare(set, &rows, what);
    println!(
        "{} generated rows, {what}: {matched} matched, {matches} rule matches",
        rows.len()
    );
    (matched, matches)
}

/// 20,000 rows whose values are built from `set`'s literals ([`value`]), the same on every
/// run.
fn generated_rows(set: &RuleSet) -> Vec<OwnedRow> {
    let slots = set.fields().len();
    let mut by_slot = vec![Vec::new(); slots];
    for (id, literal) in set.literals().iter().enumerate() {
        by_slot[literal.slot].push(id);
    }
    let mut rng = Rng(0x5eed_1414);
    (0..20_000)
        .map(|_| {
            let mut row = OwnedRow::with_slots(slots);
            for slot in 0..slots {
                if rng.chance(25) {
                    continue;
                }
                let count = if rng.chance(10) { 2 } else { 1 };
                let values = (0..count)
                    .map(|_| value(&mut rng, set, slot, &by_slot))
                    .collect();
                row.set(slot, values);
            }
            row
        })
        .collect()
}

#[test]
fn the_index_changes_no_verdict_on_rows_built_from_the_rules_literals() {
    let Some(set) = corpus_set() else {
        return;
    };
    report_unanchored(&set, "ESCU corpus + shipped");
    // The comparison covers the tests read from the index's marks (`rules/decided.rs`):
    // most corpus rules have some (388 of 399 on 2026-12-06).
    let decided = set.rules_with_tests_decided_by_the_index();
    assert!(decided > set.len() / 2, "{decided} of {}", set.len());
    let (matched, matches) = compare_generated(&set, "ESCU");
    assert!(
        matched > 2_000 && matches > 5_000,
        "{matched} rows, {matches} matches"
    );
    // The rows reach the rules without literals too (their length tests: `short_value`).
    let without = set.rules_without_literal();
    let rows = generated_rows(&set);
    let mut matcher = Matcher::new(&set);
    let selected = Selected::all(&set);
    let reached = rows
        .iter()
        .filter(|row| {
            let matched = matcher.match_row(&set, &selected, *row);
            matched.iter().any(|r| without.contains(r))
        })
        .count();
    assert!(
        reached > 50,
        "{reached} rows matched by rules without literals"
    );
}

#[test]
fn the_index_changes_no_sigma_verdict_on_rows_built_from_the_rules_literals() {
    let Some(set) = sigma_set() else {
        return;
    };
    let (matched, matches) = compare_generated(&set, "Sigma");
    assert!(
        matched > 2_000 && matches > 5_000,
        "{matched} rows, {matches} matches"
    );
}
