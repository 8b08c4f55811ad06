//! Loading on many threads gives the set one thread gives (`RuleSet::load_on`, what `scan
//! --threads N` uses): the same rules in the same order, the same field slots, the same
//! literal index (keys, checks, per-field searches) and the same warnings in the same order,
//! for the shipped rules with the whole ESCU corpus and with SigmaHQ's process_creation rules.
//! Compared through the set's full debug form, so any difference in what was built shows.

use std::path::PathBuf;

use crate::support::{repo, shared};
use netdiscover::rules::{shipped_places, RuleSet};

fn loaded(places: &[PathBuf], threads: usize) -> (String, Vec<String>) {
    let (set, warnings) = RuleSet::load_on(places, threads);
    assert!(set.len() > 300, "{} rules", set.len());
    let warnings = warnings.iter().map(ToString::to_string).collect();
    (format!("{set:?}"), warnings)
}

fn same_on_any_number_of_threads(extra: &str) {
    let Some(extra) = shared(extra) else {
        return;
    };
    let mut places = shipped_places(&repo("target/debug/netdiscover"));
    places.push(extra);
    let (serial, warnings) = loaded(&places, 1);
    for threads in [2, 5] {
        let (parallel, parallel_warnings) = loaded(&places, threads);
        assert!(parallel == serial, "{threads} threads build another set");
        assert_eq!(parallel_warnings, warnings, "{threads} threads");
    }
}

#[test]
fn the_escu_corpus_loads_the_same_on_any_number_of_threads() {
    same_on_any_number_of_threads("escu/corpus");
}

#[test]
fn the_sigma_rules_load_the_same_on_any_number_of_threads() {
    same_on_any_number_of_threads("sigma_corpus/rules/windows/process_creation");
}
