//! Coverage of the Sigma front door over SigmaHQ's process_creation rules
//! (../shared/sigma_corpus): at least 97% of the 1,183 `rules/windows/process_creation` rules
//! compile, every refusal names its construct, and the report says per data source which
//! rules cannot match there.

use crate::support::shared;

use netdiscover::rules::sigma::DataSource;
use netdiscover::rules::{coverage, Outcome};

#[test]
fn windows_process_creation_rules_compile() {
    let Some(dir) = shared("sigma_corpus/rules/windows/process_creation") else {
        return;
    };
    let report = coverage(&dir, &[]);
    println!("{report}");
    assert_eq!(report.total(), 1183);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert!(report.entries.iter().all(|e| e.sigma));
    assert!(
        report.compiled_percent() >= 97.0,
        "compiled {:.1}%",
        report.compiled_percent()
    );
    for e in &report.entries {
        if e.outcome != Outcome::Compiled {
            assert!(!e.construct.is_empty(), "{}: no construct named", e.rule);
        }
    }
    // Sysmon carries every field the rules read; the other sources lack some.
    assert_eq!(report.sigma_cannot_match(DataSource::Sysmon), 0);
    assert!(report.sigma_cannot_match(DataSource::Security4688) > 0);
    assert!(report.sigma_cannot_match(DataSource::DataModel) > 0);
    let text = report.to_string();
    assert!(text.contains("Sigma rules by data source"), "{text}");
}

/// Every process_creation rule of the corpus (Windows, Linux, macOS, emerging threats,
/// threat hunting, placeholders...) compiles or is refused with a named construct.
#[test]
fn every_corpus_rule_compiles_or_names_its_construct() {
    let Some(dir) = shared("sigma_corpus") else {
        return;
    };
    let mut report = netdiscover::rules::CoverageReport::default();
    for entry in std::fs::read_dir(&dir).expect("corpus").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && name.starts_with("rules") {
            let part = coverage(&entry.path(), &[]);
            report.warnings.extend(part.warnings);
            report.entries.extend(part.entries);
        }
    }
    println!("{report}");
    assert_eq!(report.total(), 1630);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.out_of_scope(), 0);
    for e in &report.entries {
        if e.outcome != Outcome::Compiled {
            assert!(!e.construct.is_empty(), "{}: no construct named", e.rule);
        }
    }
    assert!(
        report.compiled_percent() >= 97.0,
        "{:.1}%",
        report.compiled_percent()
    );
}
