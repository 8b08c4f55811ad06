//! Coverage of the compiler over the ESCU corpus in ../shared/escu/corpus (443 detections).

use netdiscover::rules::{coverage, Outcome};

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
/// legacy and corpus file exactly as a full parse does.
#[test]
fn fast_yaml_path_reads_every_escu_file_like_a_full_parse() {
    let Some(escu) = shared("escu") else { return };
    let mut files = Vec::new();
    let mut stack = vec![escu, repo("app")];
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
    assert!(files.len() > 650, "{}", files.len());
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        let fast = netdiscover::rules::parse_doc(&text)
            .map(|d| format!("{d:?}"))
            .map_err(|e| e.to_string());
        let full = serde_yaml::from_str::<netdiscover::rules::RawDoc>(&text)
            .map(|d| format!("{d:?}"))
            .map_err(|e| e.to_string());
        assert_eq!(fast, full, "{}", f.display());
    }
}
