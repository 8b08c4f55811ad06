//! The rewrite that rules values out before PCRE runs (`rules::pcre_prefilter`) changes no
//! answer: for every PCRE pattern of the shipped rules, the ESCU corpus and SigmaHQ's Windows
//! process_creation rules, over every distinct field value of `../shared/datasets` and over
//! near misses and near hits made from the values each pattern matches (a byte dropped, case
//! changed, non-ASCII and invalid UTF-8 inserted, a newline appended), `is_match` and
//! `capture` give exactly what PCRE alone gives (`is_match_plain`, `capture_plain`); and so
//! over the `| netdiscover` benchmark's generated rows (`benches/scp/gen.rs`).

use std::collections::BTreeSet;

use super::index::{corpus_set, sigma_set};
use crate::support::rules::*;
use crate::support::shared;
use netdiscover::rules::{Pcre, Row, RuleSet};

/// The benchmark's row generator (the rows `bench/run.sh` and `cargo bench --bench scp` feed).
#[allow(dead_code)]
#[path = "../../benches/scp/gen.rs"]
mod gen;

/// Every distinct non-empty field value of the XML datasets' process events, as `set` reads
/// them.
pub fn dataset_values(set: &RuleSet) -> Option<Vec<Vec<u8>>> {
    let datasets = shared("datasets")?;
    let mut values = BTreeSet::new();
    for file in xml_dataset_files(&datasets) {
        for event in process_events(&read_text(&file)) {
            let row = event.to_row(set);
            for slot in 0..set.fields().len() {
                for index in 0..row.value_count(slot) {
                    let value = row.value(slot, index);
                    if !value.is_empty() {
                        values.insert(value.to_vec());
                    }
                }
            }
        }
    }
    Some(values.into_iter().collect())
}

/// Values near `value`: each with one change that may make or break a match.
pub fn near(value: &[u8], seed: usize) -> Vec<Vec<u8>> {
    let at =
        |k: usize| (seed.wrapping_mul(2654435761).wrapping_add(k * 40503)) % value.len().max(1);
    let mut out = Vec::new();
    for k in 0..4 {
        let mut v = value.to_vec();
        if !v.is_empty() {
            v.remove(at(k));
        }
        out.push(v);
    }
    out.push(value.to_ascii_uppercase());
    out.push(value.to_ascii_lowercase());
    for insert in ["\u{e9}".as_bytes(), b"\xFF", b"\n", b" ", b"."] {
        let mut v = value.to_vec();
        let i = at(7).min(v.len());
        v.splice(i..i, insert.iter().copied());
        out.push(v);
    }
    let mut v = value.to_vec();
    v.push(b'\n');
    out.push(v);
    out
}

/// Checks one pattern on `values`; returns how many values PCRE matched.
fn check(re: &Pcre, group: Option<&str>, values: &[Vec<u8>]) -> usize {
    let mut matched = 0;
    for value in values {
        let plain = re.is_match_plain(value);
        let shown = String::from_utf8_lossy(value);
        assert_eq!(re.is_match(value), plain, "{} on {shown:?}", re.source());
        // The rewrite itself, whether or not `is_match` still runs it (`Pcre` stops running a
        // rewrite that rules out too few values).
        assert!(
            !plain || re.rewrite_may_match(value),
            "{} on {shown:?}",
            re.source()
        );
        if let Some(group) = group {
            assert_eq!(
                re.capture(value, group),
                re.capture_plain(value, group),
                "{} group {group} on {shown:?}",
                re.source()
            );
        }
        matched += usize::from(plain);
    }
    matched
}

/// Checks every pattern of `set`; returns (patterns, patterns with a rewrite, matches), and
/// counts the rewrites gated by a pivot in `pivots`.
fn check_set(set: &RuleSet, values: &[Vec<u8>], pivots: &mut usize) -> (usize, usize, usize) {
    let mut seen = BTreeSet::new();
    let (mut patterns, mut rewritten, mut matches) = (0, 0, 0);
    for (re, group) in set.regexes() {
        if !seen.insert((re.source().to_string(), group.map(str::to_string))) {
            continue;
        }
        patterns += 1;
        rewritten += usize::from(re.has_prefilter());
        *pivots += usize::from(re.has_pivot());
        let hits: Vec<&Vec<u8>> = values.iter().filter(|v| re.is_match_plain(v)).collect();
        let mut probes: Vec<Vec<u8>> = Vec::new();
        for (n, hit) in hits.iter().take(40).enumerate() {
            probes.extend(near(hit, n));
        }
        matches += check(re, group, values) + check(re, group, &probes);
    }
    (patterns, rewritten, matches)
}

#[test]
fn the_pcre_prefilter_changes_no_answer_on_real_and_near_values() {
    let Some(corpus) = corpus_set() else {
        return;
    };
    let Some(values) = dataset_values(&corpus) else {
        return;
    };
    assert!(values.len() > 5_000, "{} values", values.len());
    let mut pivots = 0;
    let (patterns, rewritten, matches) = check_set(&corpus, &values, &mut pivots);
    println!(
        "ESCU: {patterns} patterns ({rewritten} with a rewrite, {pivots} gated by a pivot), {} \
         values, {matches} matches",
        values.len()
    );
    assert!(pivots >= 5, "{pivots}");
    assert!(patterns >= 20 && rewritten >= 10, "{patterns} {rewritten}");
    assert!(matches > 500, "{matches}");
    let Some(sigma) = sigma_set() else {
        return;
    };
    let mut pivots = 0;
    let (patterns, rewritten, matches) = check_set(&sigma, &values, &mut pivots);
    println!(
        "Sigma: {patterns} patterns ({rewritten} with a rewrite, {pivots} gated by a pivot), {} \
         values, {matches} matches",
        values.len()
    );
    assert!(pivots >= 10, "{pivots}");
    assert!(patterns >= 50 && rewritten >= 20, "{patterns} {rewritten}");
    assert!(matches > 500, "{matches}");
}

/// The distinct values of the benchmark's first 4,000 generated rows.
pub fn generated_values() -> Vec<Vec<u8>> {
    let mut values = BTreeSet::new();
    for n in 0..4_000 {
        let row = gen::row(0x5eed_2026, n);
        let fields = [
            &row.dest,
            &row.parent_process_name,
            &row.process_name,
            &row.original_file_name,
        ];
        for value in fields.into_iter().chain(&row.users).chain(&row.processes) {
            if !value.is_empty() {
                values.insert(value.as_bytes().to_vec());
            }
        }
    }
    values.into_iter().collect()
}

#[test]
fn the_pcre_prefilter_changes_no_answer_on_the_benchmark_rows() {
    let Some(corpus) = corpus_set() else {
        return;
    };
    let values = generated_values();
    assert!(values.len() > 3_000, "{} values", values.len());
    let mut pivots = 0;
    let (patterns, rewritten, matches) = check_set(&corpus, &values, &mut pivots);
    println!(
        "ESCU on generated rows: {patterns} patterns ({rewritten} with a rewrite), {} values, \
         {matches} matches",
        values.len()
    );
    assert!(matches > 100, "{matches}");
}
