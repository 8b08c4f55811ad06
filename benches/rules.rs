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

use netdiscover::rules::{Matcher, OwnedRow, Pcre, RuleSet, Selected, Sources};
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

/// The process events of the gzipped XML files in `bulk`, in file-name order.
fn bulk_events(bulk: &std::path::Path) -> Vec<ProcessEvent> {
    let mut files: Vec<_> = std::fs::read_dir(bulk)
        .expect("bulk")
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let mut events = Vec::new();
    for f in files {
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&f).expect("open"))
            .read_to_string(&mut s)
            .expect("gunzip");
        events.extend(process_events(&s));
    }
    events
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
    let rows: Vec<OwnedRow> = bulk_events(&bulk).iter().map(|e| e.to_row(&set)).collect();
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

/// The string patterns of the corpus's `match()`, `replace()`, `regex` and `rex`, unescaped as
/// SPL reads them (found textually: good enough for a measurement).
fn corpus_patterns() -> Vec<String> {
    let Some((det, mac)) = escu_corpus() else {
        return Vec::new();
    };
    let mut sources = Sources::new();
    let mut warnings = Vec::new();
    sources.add_dir(&mac, &mut warnings);
    sources.add_dir(&det, &mut warnings);
    let literal = r#""((?:[^"\\]|\\.)*)""#;
    let finders = [
        format!(r"(?:match|replace)\(\s*[\w.]+\s*,\s*{literal}"),
        format!(r"\|\s*regex\s+[\w.]+\s*!?=\s*{literal}"),
        format!(r"\|\s*rex\s+[^|]*?{literal}"),
    ];
    let finders: Vec<regex::Regex> = finders
        .iter()
        .map(|f| regex::Regex::new(f).expect("finder"))
        .collect();
    let mut out = Vec::new();
    for (_, doc) in &sources.detections {
        let Ok(expanded) = sources.macros.expand(doc.search.as_deref().unwrap_or("")) else {
            continue;
        };
        for f in &finders {
            for c in f.captures_iter(&expanded) {
                out.push(c[1].replace("\\\\", "\\").replace("\\\"", "\""));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// PCRE2 (what the rules use) against the `regex` crate (what they used before), same run:
/// compile time per pattern and match time per value over the `process` values of the bulk
/// datasets, for the corpus patterns both engines accept.
fn pcre2_vs_regex_crate_on_corpus_patterns() {
    let Some(bulk) = shared("datasets/bulk") else {
        return;
    };
    let patterns = corpus_patterns();
    let both: Vec<&String> = patterns
        .iter()
        .filter(|p| regex::bytes::Regex::new(p).is_ok() && Pcre::new(p, 0).is_ok())
        .collect();
    let values: Vec<Vec<u8>> = bulk_events(&bulk)
        .iter()
        .map(|e| e.get("process").as_bytes().to_vec())
        .collect();
    let rounds = 20u32;
    let t = Instant::now();
    for _ in 0..rounds {
        for p in &both {
            std::hint::black_box(Pcre::new(p, 0).ok());
        }
    }
    let pcre_compile = t.elapsed() / (rounds * both.len() as u32);
    let t = Instant::now();
    for _ in 0..rounds {
        for p in &both {
            std::hint::black_box(regex::bytes::Regex::new(p).ok());
        }
    }
    let regex_compile = t.elapsed() / (rounds * both.len() as u32);
    let pcre: Vec<Pcre> = both.iter().filter_map(|p| Pcre::new(p, 0).ok()).collect();
    let re: Vec<regex::bytes::Regex> = both
        .iter()
        .filter_map(|p| regex::bytes::Regex::new(p).ok())
        .collect();
    let t = Instant::now();
    let pcre_hits: usize = values
        .iter()
        .map(|v| pcre.iter().filter(|r| r.is_match(v)).count())
        .sum();
    let pcre_match = t.elapsed();
    let t = Instant::now();
    let regex_hits: usize = values
        .iter()
        .map(|v| re.iter().filter(|r| r.is_match(v)).count())
        .sum();
    let regex_match = t.elapsed();
    let per = |d: std::time::Duration| d.as_nanos() as f64 / (values.len() * both.len()) as f64;
    println!(
        "corpus patterns: {} found, {} accepted by both engines; compile: PCRE2 {:?}, regex crate {:?} per pattern; match over {} process values: PCRE2 {:.0} ns, regex crate {:.0} ns per (value, pattern) (x{:.2}); hits {} vs {}",
        patterns.len(),
        both.len(),
        pcre_compile,
        regex_compile,
        values.len(),
        per(pcre_match),
        per(regex_match),
        pcre_match.as_secs_f64() / regex_match.as_secs_f64(),
        pcre_hits,
        regex_hits
    );
}

fn main() {
    if !bench_requested("rules") {
        return;
    }
    startup_with_shipped_rules();
    matching_throughput_prefilter_vs_every_rule();
    pcre2_vs_regex_crate_on_corpus_patterns();
}
