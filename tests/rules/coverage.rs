//! Coverage of the compiler over the ESCU corpus in ../shared/escu/corpus (443 detections).

use netdiscover::rules::{coverage, parse_doc, parse_doc_full, rule_meta, Outcome};

use crate::support::rules::escu_corpus;
use crate::support::{repo, shared};

#[test]
fn corpus_coverage_meets_thresholds() {
    let Some((detections, macros)) = escu_corpus() else {
        return;
    };
    let report = coverage(&detections, &[macros]);
    println!("{report}");
    assert_eq!(report.total(), 443, "corpus size");
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(
        report.formatting_only_compiled(),
        report.formatting_only(),
        "every rule whose later stages only format must compile"
    );
    assert!(
        report.formatting_only() >= 360,
        "formatting-only rules: {}",
        report.formatting_only()
    );
    assert!(
        report.compiled_percent() >= 90.0,
        "compiled {:.1}%",
        report.compiled_percent()
    );
    for e in &report.entries {
        if e.outcome != Outcome::Compiled {
            assert!(!e.construct.is_empty(), "{}: no construct named", e.rule);
        }
    }
}

/// The fast YAML path (only the used top-level blocks are parsed) reads every shipped,
/// legacy and corpus file, in all three schemas, exactly as a full parse does: the same
/// blocks the rules use, the same list of top-level keys, the same rule model.
#[test]
fn fast_yaml_path_reads_every_escu_file_like_a_full_parse() {
    let (Some(escu), Some(escu6)) = (shared("escu"), shared("escu6_corpus")) else {
        return;
    };
    let mut files = Vec::new();
    let mut stack = vec![escu, escu6, repo("app")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "yml") {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 1100, "{}", files.len());
    let mut detections = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let fast = parse_doc(&text).expect("fast parse");
        let mut full = parse_doc_full(&text).expect("full parse");
        assert!(!full.keys.is_empty(), "{}", f.display());
        full.prose = Default::default();
        assert_eq!(fast, full, "{}", f.display());
        if fast.search.is_some() {
            detections += 1;
            let meta = |d| rule_meta(d).map(|(m, i)| format!("{m:?} {i:?}"));
            assert_eq!(meta(&fast), meta(&full), "{}", f.display());
        }
    }
    assert!(detections > 880, "{detections}");
}
