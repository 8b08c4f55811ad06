//! The literal index changes no verdict: every shipped and ESCU corpus rule, over every process
//! event of `../shared/datasets` and over rows generated from the rules' own literals (so that
//! many rules become candidates and many match), matches exactly the rows it matches when
//! every rule is evaluated on every row (`Matcher::set_prefilter(false)`).

use crate::support::rules::*;
use crate::support::{repo, shared};
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
/// mix of pieces (of this field, sometimes of another) and filler, in random case.
fn value(rng: &mut Rng, set: &RuleSet, slot: usize, by_slot: &[Vec<usize>]) -> Vec<u8> {
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
    for byte in &mut value {
        if rng.chance(30) {
            *byte = byte.to_ascii_uppercase();
        }
    }
    value
}

#[test]
fn the_index_changes_no_verdict_on_rows_built_from_the_rules_literals() {
    let Some(set) = corpus_set() else {
        return;
    };
    let slots = set.fields().len();
    let mut by_slot = vec![Vec::new(); slots];
    for (id, literal) in set.literals().iter().enumerate() {
        by_slot[literal.slot].push(id);
    }
    let mut rng = Rng(0x5eed_1414);
    let rows: Vec<OwnedRow> = (0..20_000)
        .map(|_| {
            let mut row = OwnedRow::with_slots(slots);
            for slot in 0..slots {
                if rng.chance(25) {
                    continue;
                }
                let count = if rng.chance(10) { 2 } else { 1 };
                let values = (0..count)
                    .map(|_| value(&mut rng, &set, slot, &by_slot))
                    .collect();
                row.set(slot, values);
            }
            row
        })
        .collect();
    let (matched, matches) = compare(&set, &rows, "generated");
    println!(
        "{} generated rows: {matched} matched, {matches} rule matches",
        rows.len()
    );
    assert!(
        matched > 2_000 && matches > 5_000,
        "{matched} rows, {matches} matches"
    );
}
