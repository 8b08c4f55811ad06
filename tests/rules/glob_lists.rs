//! Patterns OR-ed on one field (`process IN ("*.key*", "*.pem*", ...)`, Sigma's `contains`
//! lists) are matched by one multi-pattern search of their `*x*` pieces (`rules::Globs`):
//! for every such list of the ESCU corpus and SigmaHQ's Windows process_creation rules, over
//! field values of `../shared/datasets` and of the benchmark's generated rows (a sample: the
//! test runs unoptimised) and near misses made from the values each list matches (a byte
//! dropped, case changed, bytes inserted), the search answers exactly what matching the
//! patterns one by one answers.

use std::collections::BTreeSet;

use super::index::{corpus_set, sigma_set};
use super::regex_prefilter::{dataset_values, generated_values, near};
use netdiscover::rules::{Globs, RuleSet};

/// Checks every list of `set` with 3 `*x*` pieces or more; returns (lists, matches).
fn check_set(set: &RuleSet, values: &[Vec<u8>]) -> (usize, usize) {
    let folded: Vec<Vec<u8>> = values.iter().map(|v| v.to_ascii_lowercase()).collect();
    let mut seen = BTreeSet::new();
    let (mut lists, mut matches) = (0, 0);
    for globs in set.glob_lists() {
        let sources: Vec<&str> = globs.iter().map(|g| g.source.as_str()).collect();
        let pieces = sources
            .iter()
            .filter(|s| s.len() > 2 && s.starts_with('*') && s.ends_with('*'))
            .count();
        if pieces < 3 || !seen.insert(format!("{sources:?}")) {
            continue;
        }
        lists += 1;
        let one_by_one = |v: &[u8]| globs.iter().any(|g| g.matches_folded(v));
        let hits: Vec<&Vec<u8>> = folded.iter().filter(|v| one_by_one(v)).collect();
        let mut probes: Vec<Vec<u8>> = Vec::new();
        for (n, hit) in hits.iter().take(40).enumerate() {
            probes.extend(near(hit, n).iter().map(|v| v.to_ascii_lowercase()));
        }
        for value in folded.iter().chain(&probes) {
            let plain = one_by_one(value);
            assert_eq!(
                check(globs, value),
                plain,
                "{sources:?} on {:?}",
                String::from_utf8_lossy(value)
            );
            matches += usize::from(plain);
        }
    }
    (lists, matches)
}

fn check(globs: &Globs, value: &[u8]) -> bool {
    globs.any_matches_folded(value)
}

#[test]
fn the_multi_pattern_search_changes_no_answer_on_real_generated_and_near_values() {
    let Some(corpus) = corpus_set() else {
        return;
    };
    let Some(values) = dataset_values(&corpus) else {
        return;
    };
    // The test runs unoptimised: every 16th value (every 64th for Sigma's ten times the lists).
    let mut sample: Vec<Vec<u8>> = values.iter().step_by(16).cloned().collect();
    sample.extend(generated_values().into_iter().step_by(16));
    let (lists, matches) = check_set(&corpus, &sample);
    println!(
        "ESCU: {lists} lists, {} values, {matches} matches",
        sample.len()
    );
    assert!(lists >= 20 && matches > 100, "{lists} {matches}");
    let Some(sigma) = sigma_set() else {
        return;
    };
    let sample: Vec<Vec<u8>> = values.iter().step_by(64).cloned().collect();
    let (lists, matches) = check_set(&sigma, &sample);
    println!(
        "Sigma: {lists} lists, {} values, {matches} matches",
        sample.len()
    );
    assert!(lists >= 100 && matches > 100, "{lists} {matches}");
}
