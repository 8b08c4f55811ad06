//! Coverage of the compiler over the ESCU corpus in ../shared/escu/corpus (443 detections).

use std::path::PathBuf;

use netdiscover::rules::{coverage, Outcome};

fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/")).join(rel);
    if p.exists() {
        Some(p)
    } else {
        println!(
            "skipping: {} is absent (../shared is not beside the repo)",
            p.display()
        );
        None
    }
}

#[test]
fn corpus_coverage_meets_thresholds() {
    let (Some(detections), Some(macros)) = (
        shared("escu/corpus/detections"),
        shared("escu/corpus/macros"),
    ) else {
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
