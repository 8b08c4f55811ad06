//! `netdiscover test` over SigmaHQ's own regression data, run as a user runs it: every rule
//! directory of `../shared/sigma_corpus` and the corpus as `--data` (its
//! `regression_data/**/info.yml`); the 100 regression tests pass and the JUnit file holds
//! them. A copy of one rule with its selection broken fails, naming the rule, the sample and
//! the counts.

use std::path::{Path, PathBuf};
use std::time::Instant;

use quick_xml::events::Event;
use quick_xml::Reader;

use crate::support::shared;
use crate::test_runner::{closing, run_test};

/// What a JUnit file holds, read with quick-xml: the `tests`/`failures`/`skipped` totals of
/// `<testsuites>`, every `<testcase>` (its testsuite's name and its own), and every failure
/// message.
#[derive(Debug, Default)]
struct Junit {
    totals: (u64, u64, u64),
    cases: Vec<(String, String)>,
    failures: Vec<String>,
}

fn read_junit(path: &Path) -> Junit {
    let xml = std::fs::read_to_string(path).unwrap();
    let mut reader = Reader::from_str(&xml);
    let mut junit = Junit::default();
    let mut suite = String::new();
    loop {
        let event = reader.read_event().expect("well-formed JUnit XML");
        let element = match &event {
            Event::Start(e) | Event::Empty(e) => e,
            Event::Eof => break,
            _ => continue,
        };
        let attribute = |name: &str| {
            element
                .try_get_attribute(name)
                .unwrap()
                .map(|a| a.unescape_value().unwrap().into_owned())
                .unwrap_or_default()
        };
        match element.name().as_ref() {
            b"testsuites" => {
                let n = |name| attribute(name).parse::<u64>().unwrap();
                junit.totals = (n("tests"), n("failures"), n("skipped"));
            }
            b"testsuite" => suite = attribute("name"),
            b"testcase" => junit.cases.push((suite.clone(), attribute("name"))),
            b"failure" => junit.failures.push(attribute("message")),
            _ => {}
        }
    }
    junit
}

#[test]
fn sigma_regression_data_passes_from_the_command_line() {
    let Some(corpus) = shared("sigma_corpus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let rules = [
        "rules",
        "rules-emerging-threats",
        "rules-threat-hunting",
        "rules-placeholder",
    ]
    .map(|d| corpus.join(d));
    let mut args: Vec<&Path> = rules.iter().map(PathBuf::as_path).collect();
    args.extend([Path::new("--data"), &corpus, Path::new("--junit"), &junit]);
    let started = Instant::now();
    let out = run_test(&args, dir.path());
    println!(
        "netdiscover test over the Sigma corpus: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let text = String::from_utf8_lossy(&out.stdout);
    // SigmaHQ's 100 regression folders, one test each, every rule found among the 1,630.
    assert_eq!(closing(&out), (100, 0, 0), "{text}");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("1629 rules loaded, 100 tests"), "{err}");
    assert!(!err.contains("name rules that are not loaded"), "{err}");
    let report = read_junit(&junit);
    assert_eq!(report.totals, (100, 0, 0));
    assert_eq!(report.cases.len(), 100);
    assert!(report.failures.is_empty());
    // Each testcase sits in its rule's testsuite and names its sample.
    assert!(
        report.cases.contains(&(
            "File Download Via Bitsadmin".into(),
            "Positive Detection Test (regression_data/rules/windows/process_creation/proc_creation_win_bitsadmin_download/d059842b-6b9d-4ed1-b5c3-5b89143c6ede.evtx)".into()
        )),
        "{:?}",
        &report.cases[..3]
    );
}

const BITSADMIN: &str = "rules/windows/process_creation/proc_creation_win_bitsadmin_download.yml";
const BITSADMIN_SAMPLES: &str =
    "regression_data/rules/windows/process_creation/proc_creation_win_bitsadmin_download";

/// A checkout of one rule (with `rule_text`) and its regression folder, as SigmaHQ lays
/// them out, in `root`.
fn one_rule_checkout(corpus: &Path, root: &Path, rule_text: &str) {
    let rule = root.join(BITSADMIN);
    std::fs::create_dir_all(rule.parent().unwrap()).unwrap();
    std::fs::write(&rule, rule_text).unwrap();
    let samples = root.join(BITSADMIN_SAMPLES);
    std::fs::create_dir_all(&samples).unwrap();
    for entry in std::fs::read_dir(corpus.join(BITSADMIN_SAMPLES)).unwrap() {
        let entry = entry.unwrap();
        let target = samples.join(entry.file_name());
        if !target.exists() {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_broken_sigma_selection_fails_naming_the_rule_the_sample_and_the_counts() {
    let Some(corpus) = shared("sigma_corpus") else {
        return;
    };
    let original = std::fs::read_to_string(corpus.join(BITSADMIN)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (checkout, cwd) = (dir.path().join("sigma"), dir.path().join("cwd"));
    std::fs::create_dir_all(&cwd).unwrap();
    let junit = dir.path().join("junit.xml");
    let args = [
        checkout.join("rules"),
        "--data".into(),
        checkout.clone(),
        "--junit".into(),
        junit.clone(),
    ];
    let args: Vec<&Path> = args.iter().map(PathBuf::as_path).collect();
    // The copy as it is passes: the sample has one bitsadmin download.
    one_rule_checkout(&corpus, &checkout, &original);
    let out = run_test(&args, &cwd);
    assert_eq!(
        closing(&out),
        (1, 0, 0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // `selection_img` no longer names bitsadmin.exe (its path nor its original file name).
    let broken = original.replace("bitsadmin.exe'", "bitsadmln.exe'");
    assert_eq!(broken.matches("bitsadmln.exe").count(), 2);
    one_rule_checkout(&corpus, &checkout, &broken);
    let out = run_test(&args, &cwd);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(closing(&out), (0, 1, 0), "{text}");
    assert_eq!(out.status.code(), Some(1));
    let sample = checkout
        .join(BITSADMIN_SAMPLES)
        .join("d059842b-6b9d-4ed1-b5c3-5b89143c6ede.evtx");
    let failed = text
        .lines()
        .find(|l| l.ends_with(" fail"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        failed.starts_with("File Download Via Bitsadmin "),
        "{failed}"
    );
    let why = format!(
        "fail: expected 1 matching rows, got 0 matching rows over {} (",
        sample.display()
    );
    assert!(text.contains(&why), "{text}");
    let report = read_junit(&junit);
    assert_eq!(report.totals, (1, 1, 0));
    assert_eq!(report.cases[0].0, "File Download Via Bitsadmin");
    assert!(
        report.failures[0].starts_with(&why["fail: ".len()..]),
        "{:?}",
        report.failures
    );
}
