//! Every compiled rule of ../shared/escu/corpus over every process event of ../shared/datasets
//! (read by the real ingest readers, matched by the real detector): the match count of each
//! rule must equal `tests/rules/corpus_verdicts.tsv`, which records the count before the
//! search-language precedence fix, the count now, and why each changed. A change in any
//! rule's count fails here until the table (and its reason) is updated.
//!
//! Also: the corpus rules whose predicates lean on OR binding tighter than AND (an
//! unparenthesized OR inside an AND list) are exactly the ones docs/spl-fidelity.md lists, and
//! only those changed their counts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::{repo, shared};
use netdiscover::detect::ProcessDetector;
use netdiscover::ingest::{FileReader, Item, OpenOptions};
use netdiscover::rules::{compile_search, parse_search_noting, RuleSet, Sources};

/// The corpus rules with a predicate whose meaning depends on the precedence, as
/// docs/spl-fidelity.md lists them (one `- name` line each, between its two markers; a
/// parenthesized note after the name is ignored).
fn precedence_dependent() -> Vec<String> {
    let doc = std::fs::read_to_string(repo("docs/spl-fidelity.md")).expect("docs/spl-fidelity.md");
    let start = doc
        .find("<!-- precedence-dependent rules -->")
        .expect("start marker");
    let end = doc
        .find("<!-- end of precedence-dependent rules -->")
        .expect("end marker");
    doc[start..end]
        .lines()
        .filter_map(|l| l.strip_prefix("- "))
        .map(|l| l.split(" (").next().unwrap_or(l).trim().to_string())
        .collect()
}

struct Recorded {
    before: u64,
    after: u64,
    reason: String,
}

fn recorded() -> BTreeMap<String, Recorded> {
    let text = std::fs::read_to_string(repo("tests/rules/corpus_verdicts.tsv"))
        .expect("the recorded table");
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 4, "{line}");
            let n = |s: &str| s.parse::<u64>().unwrap_or_else(|_| panic!("{line}"));
            (
                cols[0].to_string(),
                Recorded {
                    before: n(cols[1]),
                    after: n(cols[2]),
                    reason: cols[3].to_string(),
                },
            )
        })
        .collect()
}

/// Data files below `dir`, sorted, as `scan` reads them (no `*.md`).
fn data_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable dataset dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            data_files(&p, out);
        } else if p.extension() != Some(std::ffi::OsStr::new("md")) {
            out.push(p);
        }
    }
}

#[test]
fn corpus_rules_on_shared_datasets_match_the_recorded_counts() {
    let (Some(corpus), Some(datasets)) = (shared("escu/corpus"), shared("datasets")) else {
        return;
    };
    let (set, _) = RuleSet::load(&[corpus.join("macros"), corpus.join("detections")]);
    let names: Vec<String> = set.rules().iter().map(|r| r.meta.name.clone()).collect();
    let mut detector = ProcessDetector::new(set);
    let mut counts = vec![0u64; names.len()];
    let mut files = Vec::new();
    data_files(&datasets, &mut files);
    let mut events = 0u64;
    for file in &files {
        let reader = FileReader::open(file, &OpenOptions::default())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for item in reader {
            if let Item::Process(event) = item {
                events += 1;
                if let Some(m) = detector.detect(&event.row) {
                    m.rules.iter().for_each(|&r| counts[r] += 1);
                }
            }
        }
    }
    assert_eq!(events, 32_788, "process events in ../shared/datasets");
    let table = recorded();
    let dependent = precedence_dependent();
    assert_eq!(
        table.len(),
        names.len(),
        "one recorded line per compiled rule"
    );
    let mut wrong = Vec::new();
    println!("rules whose match count changed (before -> after: why):");
    for (name, count) in names.iter().zip(&counts) {
        let rec = table
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in corpus_verdicts.tsv"));
        if rec.before != rec.after {
            println!("  {name}: {} -> {}: {}", rec.before, rec.after, rec.reason);
            assert!(
                !rec.reason.is_empty(),
                "{name}: a changed count needs a reason"
            );
            assert!(
                dependent.contains(name),
                "{name}: only the precedence fix changed counts"
            );
        }
        if *count != rec.after {
            wrong.push(format!("{name}: {count} now, {} recorded", rec.after));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Each `tstats ... where` predicate and `| search` argument of `expanded`. A rough cut at
/// `|` and ` by ` is enough here: the corpus has no `|` or ` by ` inside these predicates.
fn predicates(expanded: &str) -> Vec<&str> {
    expanded
        .split('|')
        .filter_map(|stage| {
            let t = stage.trim_start();
            if t.starts_with("tstats") {
                let w = t.find(" where ")?;
                let p = &t[w + " where ".len()..];
                Some(p.find(" by ").map_or(p, |b| &p[..b]))
            } else {
                t.strip_prefix("search ")
            }
        })
        .collect()
}

#[test]
fn precedence_dependent_corpus_rules_are_the_listed_ones() {
    let Some(corpus) = shared("escu/corpus") else {
        return;
    };
    let mut sources = Sources::new();
    let mut warnings = Vec::new();
    sources.add_dir(&corpus.join("macros"), &mut warnings);
    sources.add_dir(&corpus.join("detections"), &mut warnings);
    let mut found = Vec::new();
    for (_, doc) in &sources.detections {
        let Ok(expanded) = sources.macros.expand(doc.search.as_deref().unwrap_or("")) else {
            continue;
        };
        let leans = predicates(&expanded)
            .iter()
            .any(|p| parse_search_noting(p, 0).is_ok_and(|parsed| !parsed.or_in_and.is_empty()));
        if leans {
            found.push(doc.name.clone().unwrap_or_default());
        }
        // For the rules that compile, the compiler notes the same places.
        if let Ok(compiled) = compile_search(&expanded) {
            assert_eq!(!compiled.or_in_and.is_empty(), leans, "{:?}", doc.name);
        }
    }
    found.sort_by_key(|n| n.to_lowercase());
    let mut listed = precedence_dependent();
    listed.sort_by_key(|n| n.to_lowercase());
    assert_eq!(listed.len(), 25, "the docs list 25 rules");
    assert_eq!(
        found, listed,
        "docs/spl-fidelity.md lists exactly these rules"
    );
}
