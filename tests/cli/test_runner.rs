//! `netdiscover test` end to end: the seed rules' manifest on the shared datasets and our
//! examples, ESCU `tests:` blocks (5 and 6) on an attack_data layout, SigmaHQ regression
//! `info.yml` driven with an ESCU rule, skips that never pass, failures that name the file
//! and the count, JUnit XML read back by a common reader, and the whole ESCU corpus.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::shared;

const NETSH_ID: &str = "c137bfe8-6036-4cff-b77b-4e327dd0a1cf";
const NETSTAT_ID: &str = "2cf5cc25-f39a-436d-a790-4857e5995ede";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `netdiscover test ARGS` in `cwd`.
pub(crate) fn run_test(args: &[impl AsRef<std::ffi::OsStr>], cwd: &Path) -> Output {
    crate::support::command(crate::support::netdiscover_exe())
        .arg("test")
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run netdiscover test")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The closing `N passed, M failed, K skipped` line, as numbers.
pub(crate) fn closing(out: &Output) -> (u64, u64, u64) {
    let text = stdout(out);
    let last = text.lines().last().unwrap_or_default().to_string();
    let n: Vec<u64> = last
        .split([' ', ','])
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(n.len(), 3, "closing line {last:?}");
    assert!(
        last.ends_with(" skipped") && last.contains(" passed, "),
        "{last}"
    );
    (n[0], n[1], n[2])
}

/// A rule directory in `dir` holding the shipped macros and `rules` (file name → YAML).
fn rule_dir(dir: &Path, rules: &[(&str, String)]) -> PathBuf {
    let rules_dir = dir.join("rules");
    std::fs::create_dir_all(&rules_dir).unwrap();
    for entry in std::fs::read_dir(root().join("app/macros"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(entry.path(), rules_dir.join(entry.file_name())).unwrap();
    }
    for (name, text) in rules {
        std::fs::write(rules_dir.join(name), text).unwrap();
    }
    rules_dir
}

/// The example events: two netsh portproxy rows and two netstat rows for the seed rules.
pub(crate) fn example() -> PathBuf {
    root().join("examples/windows_process_creation.xml")
}

/// Writes `text` as the manifest `tests.yml` in `dir` and returns its path.
pub(crate) fn write_manifest(dir: &Path, text: &str) -> PathBuf {
    let manifest = dir.join("tests.yml");
    std::fs::write(&manifest, text).unwrap();
    manifest
}

/// Asserts that `text` (a run's output) contains `needle`, showing the whole text if not.
#[track_caller]
pub(crate) fn assert_mentions(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} not in:\n{text}");
}

fn netsh_rule() -> String {
    std::fs::read_to_string(
        root().join("tests/fixtures/escu_v5/detections/endpoint/windows_proxy_via_netsh.yml"),
    )
    .unwrap()
}

/// The netsh rule with its `tests:` block replaced by `tests`.
fn netsh_rule_with_tests(tests: &str) -> String {
    let rule = netsh_rule();
    let at = rule.find("\ntests:").expect("the seed rule has tests");
    format!("{}\n{tests}", &rule[..at])
}

#[test]
fn seed_rules_pass_their_manifest_on_the_shared_datasets_and_examples() {
    let Some(datasets) = shared("datasets") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    let out = run_test(
        &[
            "--data",
            datasets.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        &root(),
    );
    let text = stdout(&out);
    println!("{text}");
    // tests.yml: 2 rules × 40 files (3 examples, 11 EVTX, 11 XML, 2 JSON, 13 bulk); the two
    // ESCU tests name attack_data files ../shared does not hold.
    assert_eq!(closing(&out), (80, 0, 2), "{text}");
    assert_eq!(out.status.code(), Some(0));
    assert_mentions(&text, "netsh_portproxy/volt_sysmon.log");
    assert_mentions(&text, "skip: data file not found");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for (file, expected) in [
        ("xml/sbousseaden__panache_sysmon_vs_EDRTestingScript.xml", 2),
        (
            "evtx/mdecrevoisier__ID4688-netsh_RDP_port_forwarding_abuse.evtx",
            1,
        ),
        ("examples/crowdstrike_processrollup2.ndjson", 2),
    ] {
        let test = results["tests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["rule_id"] == NETSH_ID && t["data"][0]["named"] == file)
            .unwrap_or_else(|| panic!("{file} not in the results"));
        assert_eq!(
            (&test["got"], &test["status"]),
            (&expected.into(), &"pass".into()),
            "{test}"
        );
    }
}

#[test]
fn a_wrong_count_fails_naming_the_file_and_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let example = example();
    let manifest = write_manifest(
        dir.path(),
        &format!(
            "{NETSH_ID}:\n  {}: 3\nno-such-rule:\n  x.xml: 1\n",
            example.display()
        ),
    );
    let out = run_test(&["--manifest", manifest.to_str().unwrap()], dir.path());
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(closing(&out).1, 2, "{text}");
    assert_mentions(
        &text,
        &format!(
            "fail: expected 3 matching rows, got 2 matching rows over {}",
            example.display()
        ),
    );
    assert_mentions(&text, "no loaded rule has the id or name `no-such-rule`");
}

#[test]
fn escu_tests_run_on_an_attack_data_layout_and_missing_data_is_skipped() {
    let Some(sample) = shared("datasets/xml/sbousseaden__panache_sysmon_vs_EDRTestingScript.xml")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // A clone of splunk/attack_data holds the file at the URL's path below master/.
    let data = dir.path().join("attack_data");
    let at = data.join("datasets/attack_techniques/T1090.001/netsh_portproxy");
    std::fs::create_dir_all(&at).unwrap();
    std::fs::copy(&sample, at.join("volt_sysmon.log")).unwrap();
    let v6 = netsh_rule_with_tests(
        "tests:\n    - name: ESCU 6 exact\n      attack_data:\n        - data: https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/attack_techniques/T1090.001/netsh_portproxy/volt_sysmon.log\n          sourcetype: XmlWinEventLog\n      test_type: unit\n      expected_results: 2\n    - name: ESCU 6 wrong\n      attack_data:\n        - data: https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/attack_techniques/T1090.001/netsh_portproxy/volt_sysmon.log\n          sourcetype: XmlWinEventLog\n      test_type: unit\n      expected_results: 5\n    - name: Manual\n      test_type: experimental\n      description: PORTED MANUAL TEST\n    - name: Elsewhere\n      attack_data:\n        - data: https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/nowhere/x.log\n          sourcetype: XmlWinEventLog\n    - name: Falcon\n      attack_data:\n        - data: https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/attack_techniques/T1090.001/netsh_portproxy/volt_sysmon.log\n          sourcetype: crowdstrike:events:sensor\n    - name: NVM\n      attack_data:\n        - data: https://x/attack_data/master/nvm.log\n          sourcetype: cisco:nvm:flowdata\n",
    );
    let rules = rule_dir(
        dir.path(),
        &[
            ("v5.yml", netsh_rule()),
            (
                "v6.yml",
                v6.replace(NETSH_ID, "c137bfe8-6036-4cff-b77b-4e327dd0a1c0"),
            ),
        ],
    );
    let out = run_test(
        &[rules.to_str().unwrap(), "--data", data.to_str().unwrap()],
        dir.path(),
    );
    let text = stdout(&out);
    println!("{text}");
    // v5 True Positive Test and ESCU 6 exact pass; the wrong count and the CrowdStrike
    // sourcetype on an XML file fail; manual, missing and reader-less tests are skipped.
    assert_eq!(closing(&out), (2, 2, 3), "{text}");
    assert_eq!(out.status.code(), Some(1));
    assert_mentions(&text, "fail: expected 5 matching rows, got 2");
    assert_mentions(&text, "holds xml records");
    assert_mentions(&text, "skip: test_type experimental");
    assert_mentions(
        &text,
        &format!(
            "looked for {}",
            data.join("datasets/nowhere/x.log").display()
        ),
    );
    assert_mentions(&text, "no netdiscover reader for cisco:nvm:flowdata");
}

#[test]
fn sigma_regression_info_drives_the_runner_with_an_escu_rule() {
    let Some(sample) = shared("datasets/evtx/sbousseaden__panache_sysmon_vs_EDRTestingScript.evtx")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let case = dir
        .path()
        .join("sigma/regression_data/rules/windows/process_creation/netsh");
    std::fs::create_dir_all(&case).unwrap();
    std::fs::copy(&sample, case.join(format!("{NETSH_ID}.evtx"))).unwrap();
    let info = |count: u64| {
        format!("id: t\nrule_metadata:\n    - id: {NETSH_ID}\n      title: Windows Proxy Via Netsh\n    - id: 11111111-2222-3333-4444-555555555555\n      title: a rule not loaded\nregression_tests_info:\n    - name: Positive Detection Test\n      type: evtx\n      provider: Microsoft-Windows-Sysmon\n      match_count: {count}\n      path: regression_data/rules/windows/process_creation/netsh/{NETSH_ID}.evtx\n")
    };
    std::fs::write(case.join("info.yml"), info(2)).unwrap();
    let rules = rule_dir(dir.path(), &[("netsh.yml", netsh_rule_with_tests(""))]);
    let sigma = dir.path().join("sigma");
    let args = [rules.to_str().unwrap(), "--data", sigma.to_str().unwrap()];
    let out = run_test(&args, dir.path());
    assert_eq!(closing(&out), (1, 0, 0), "{}", stdout(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_mentions(
        &err,
        "1 regression test(s) name rules that are not loaded (not run): 11111111-2222-3333-4444-555555555555 (a rule not loaded)",
    );
    std::fs::write(case.join("info.yml"), info(3)).unwrap();
    let out = run_test(&args, dir.path());
    assert_eq!(closing(&out), (0, 1, 0), "{}", stdout(&out));
    assert_mentions(&stdout(&out), "expected 3 matching rows, got 2");
}

/// A python with `junitparser` (PyPI): the tools venv `.ci/run` builds, or `python3`.
fn junit_reader() -> Option<PathBuf> {
    let venv = std::env::var_os("NETDISCOVER_TOOLS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv-tools"));
    [venv.join("bin/python"), PathBuf::from("python3")]
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args(["-c", "import junitparser"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

#[test]
fn junit_xml_is_read_back_by_junitparser() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = write_manifest(
        dir.path(),
        &format!(
            "{NETSH_ID}:\n  {ex}: 2\n  /nonexistent/x.xml: 1\n{NETSTAT_ID}:\n  {ex}: 7\n",
            ex = example().display()
        ),
    );
    let junit = dir.path().join("junit.xml");
    let out = run_test(
        &[
            "--manifest",
            manifest.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
        ],
        dir.path(),
    );
    // The manifest's three tests, and the two ESCU tests of the shipped rules (their
    // attack_data is nowhere here).
    assert_eq!(closing(&out), (1, 1, 3), "{}", stdout(&out));
    let xml = std::fs::read_to_string(&junit).unwrap();
    let script = "import sys\nfrom junitparser import JUnitXml, Failure, Skipped\nx = JUnitXml.fromfile(sys.argv[1])\nfor suite in x:\n    for case in suite:\n        for r in case.result:\n            kind = 'failure' if isinstance(r, Failure) else 'skipped' if isinstance(r, Skipped) else 'other'\n            print(kind, suite.name, '|', case.name, '|', r.message)\nprint('totals', x.tests, x.failures, x.skipped)\n";
    let Some(python) = junit_reader() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have junitparser (the .ci/run tools venv installs it)"
        );
        eprintln!(
            "SKIPPED junit reader check: no python with junitparser (pip install junitparser)"
        );
        assert!(xml.contains("<testsuites") && xml.contains("<failure message=\"expected 7"));
        return;
    };
    let parsed = Command::new(python)
        .args(["-c", script, junit.to_str().unwrap()])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&parsed.stdout);
    assert!(
        parsed.status.success(),
        "{}",
        String::from_utf8_lossy(&parsed.stderr)
    );
    assert_mentions(&report, "totals 5 1 3");
    let failure = report.lines().find(|l| l.starts_with("failure")).unwrap();
    assert_mentions(failure, "Network Connection Discovery With Netstat");
    assert_mentions(failure, "expected 7 matching rows, got 2");
    assert_mentions(failure, "windows_process_creation.xml");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("skipped") && l.contains("/nonexistent/x.xml")),
        "{report}"
    );
}

#[test]
fn every_corpus_test_is_accounted_for() {
    let (Some(corpus), Some(datasets)) = (shared("escu/corpus"), shared("datasets")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("results.json");
    let started = std::time::Instant::now();
    let out = run_test(
        &[
            corpus.to_str().unwrap(),
            "--data",
            datasets.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
        ],
        dir.path(),
    );
    println!("corpus: {:.2} s", started.elapsed().as_secs_f64());
    let (passed, failed, skipped) = closing(&out);
    assert_eq!(out.status.code(), Some(0));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let tests = results["tests"].as_array().unwrap();
    // 464 tests in 443 detections; ../shared/datasets holds none of their attack_data files.
    assert_eq!((passed, failed, skipped), (0, 0, 464));
    assert_eq!(tests.len(), 464);
    let mut reasons = std::collections::BTreeMap::new();
    for t in tests {
        let message = t["message"].as_str().unwrap();
        let reason = [
            "data file not found",
            "rule not loaded",
            "no netdiscover reader",
        ]
        .into_iter()
        .find(|r| message.starts_with(r))
        .unwrap_or_else(|| panic!("unexpected skip: {message}"));
        *reasons.entry(reason).or_insert(0) += 1;
    }
    println!("{reasons:?}");
    assert_eq!(reasons["rule not loaded"], 46);
}
