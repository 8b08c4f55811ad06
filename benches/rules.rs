//! `cargo bench --bench rules`: measurements, not assertions on time.
//!
//! * start-up: loading + compiling the shipped rules (`app/detections`, `app/macros`);
//! * matching: every compiled corpus rule over the process rows of ../shared/datasets/bulk,
//!   with the literal prefilter against the same matcher evaluating every rule (baseline
//!   measured in the same run); the two must find the same matches.
//!
//! Not a test: it prints numbers and never fails on them (only on the two matchers disagreeing).

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Read;
use std::time::Instant;

use netdiscover::rules::{Matcher, OwnedRow, RuleSet, Selected};
use support::rules::*;
use support::{bench_requested, repo, shared};

fn startup_with_shipped_rules() {
    let places = vec![repo("app/detections"), repo("app/macros")];
    let runs = 50;
    let start = Instant::now();
    for _ in 0..runs {
        let (set, w) = RuleSet::load(&places);
        assert!(w.is_empty() && set.len() == 2);
    }
    let per = start.elapsed() / runs;
    println!(
        "start-up (load + compile {} shipped rule files): {:?} per load",
        8, per
    );
}

fn matching_throughput_prefilter_vs_every_rule() {
    let (Some(bulk), Some((det, mac))) = (shared("datasets/bulk"), escu_corpus()) else {
        return;
    };
    let t = Instant::now();
    let (set, _) = RuleSet::load(&[mac, det]);
    println!(
        "corpus load + compile: {} rules in {:?}; {} fields",
        set.len(),
        t.elapsed(),
        set.fields().len()
    );
    let mut rows: Vec<OwnedRow> = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(&bulk)
        .expect("bulk")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in files {
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&f).expect("open"))
            .read_to_string(&mut s)
            .expect("gunzip");
        rows.extend(process_events(&s).iter().map(|e| e.to_row(&set)));
    }
    let all = Selected::all(&set);
    let run = |prefilter: bool| {
        let mut m = Matcher::new(&set);
        m.set_prefilter(prefilter);
        let start = Instant::now();
        let mut hits = 0usize;
        for _ in 0..3 {
            for r in &rows {
                hits += m.match_row(&set, &all, r).len();
            }
        }
        (start.elapsed() / 3, hits / 3)
    };
    let (fast, hits_fast) = run(true);
    let (slow, hits_slow) = run(false);
    assert_eq!(
        hits_fast, hits_slow,
        "the prefilter must not change results"
    );
    let rate = |d: std::time::Duration| rows.len() as f64 / d.as_secs_f64();
    println!(
        "{} rows x {} rules: prefilter {:?} ({:.0} rows/s), every rule {:?} ({:.0} rows/s), speed-up x{:.2}, {} matches",
        rows.len(),
        set.len(),
        fast,
        rate(fast),
        slow,
        rate(slow),
        slow.as_secs_f64() / fast.as_secs_f64(),
        hits_fast
    );
}

fn main() {
    if !bench_requested("rules") {
        return;
    }
    startup_with_shipped_rules();
    matching_throughput_prefilter_vs_every_rule();
}
