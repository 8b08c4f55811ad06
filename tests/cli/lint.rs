//! `netdiscover lint` end to end: the shipped rules are clean, a corrupted copy of a seed rule
//! (misspelled fields, a token the search does not output, broken metadata) is caught with the
//! rule, field, position and suggestion, and the ESCU corpus gives exactly the findings
//! classified in docs/testing-and-lint.md.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::support::shared;

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn lint(args: &[&str]) -> Output {
    crate::support::command(crate::support::netdiscover_exe())
        .arg("lint")
        .args(args)
        .current_dir(root())
        .output()
        .expect("run netdiscover lint")
}

pub(crate) fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("lint --format json prints JSON")
}

/// A rule directory with the shipped macros and `rules` (file name → YAML).
fn rules_dir(dir: &Path, rules: &[(&str, String)]) -> PathBuf {
    for entry in std::fs::read_dir(root().join("app/macros"))
        .unwrap()
        .flatten()
    {
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    for (name, text) in rules {
        std::fs::write(dir.join(name), text).unwrap();
    }
    dir.to_path_buf()
}

fn netsh() -> String {
    std::fs::read_to_string(
        root().join("tests/fixtures/escu_v5/detections/endpoint/windows_proxy_via_netsh.yml"),
    )
    .unwrap()
}

#[test]
fn the_shipped_rules_are_clean() {
    let out = lint(&["--deny-warnings"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(
            "2 detections, 2 followed to the end of the search: 0 errors, 0 warnings, 0 notes"
        ),
        "{text}"
    );
}

#[test]
fn a_misspelled_field_is_an_error_with_position_and_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let original = netsh();
    let corrupted = original
        .replace(
            "  Processes.original_file_name Processes.parent_process ",
            "  Processes.process_original_file_name Processes.parent_process ",
        )
        .replace("on $dest$.", "on $dest_host$.");
    assert_ne!(corrupted, original);
    let rules = rules_dir(dir.path(), &[("netsh.yml", corrupted.clone())]);
    let out = lint(&[rules.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // The position is the field's byte in the rule's own search text.
    let search_start = corrupted.find("search: '").unwrap() + "search: '".len();
    let field_at = corrupted
        .find("Processes.process_original_file_name")
        .unwrap();
    let yaml_search = &corrupted[search_start..field_at];
    // The YAML scalar folds its line breaks into spaces: count them as the one byte they become.
    let byte = yaml_search.replace("\n  ", " ").len();
    let expected = format!(
        "error[unknown-field] {}: rule `Windows Proxy Via Netsh`: byte ",
        rules.join("netsh.yml").display()
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(&expected))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains(&format!("(byte {byte} of the search)")),
        "{line}"
    );
    assert!(
        line.contains("no field `process_original_file_name`"),
        "{line}"
    );
    assert!(
        line.ends_with("did you mean `original_file_name`?"),
        "{line}"
    );
    assert!(
        text.contains("warning[token-not-output]") && text.contains("did you mean `dest`?"),
        "{text}"
    );
    let report = json(&lint(&[rules.to_str().unwrap(), "--format", "json"]));
    assert_eq!(
        (report["errors"].as_u64(), report["warnings"].as_u64()),
        (Some(1), Some(1))
    );
    // Warnings alone pass, unless denied.
    let token_only = original.replace("on $dest$.", "on $dest_host$.");
    let dir2 = tempfile::tempdir().unwrap();
    let rules2 = rules_dir(dir2.path(), &[("netsh.yml", token_only)]);
    assert_eq!(lint(&[rules2.to_str().unwrap()]).status.code(), Some(0));
    assert_eq!(
        lint(&[rules2.to_str().unwrap(), "--deny-warnings"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn later_stages_are_checked_against_what_earlier_stages_output() {
    let dir = tempfile::tempdir().unwrap();
    let rule = netsh().replace(
        "| `windows_proxy_via_netsh_filter`",
        "| search parent_process_nam=cmd.exe | rename process_nme AS cmd | `windows_proxy_via_netsh_filter`",
    );
    let rules = rules_dir(dir.path(), &[("netsh.yml", rule)]);
    let report = json(&lint(&[rules.to_str().unwrap(), "--format", "json"]));
    let findings = report["findings"].as_array().unwrap();
    let filter = findings
        .iter()
        .find(|f| f["field"] == "parent_process_nam")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(filter["severity"], "error");
    assert_eq!(filter["code"], "field-not-output");
    assert_eq!(filter["suggestion"], "parent_process_name");
    // The search stage fails compilation: the rename after it is not followed, and a note says so.
    assert!(
        findings.iter().any(|f| f["code"] == "not-followed"),
        "{report}"
    );
}

#[test]
fn metadata_that_breaks_es_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let rule = netsh();
    let rules = rules_dir(
        dir.path(),
        &[
            ("a.yml", rule.clone()),
            (
                "b.yml",
                rule.replace("name: Windows Proxy Via Netsh", "name: Copy"),
            ),
            (
                "c.yml",
                rule.replace(
                    "c137bfe8-6036-4cff-b77b-4e327dd0a1cf",
                    "3b3c6d2a-0f6e-4c1b-9d33-0a0b0c0d0e0f",
                )
                .replace("score: 49", "score: 140")
                .replace("type: Anomaly", "type: Anomoly"),
            ),
        ],
    );
    let report = json(&lint(&[rules.to_str().unwrap(), "--format", "json"]));
    let mut codes: Vec<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            "duplicate-id",
            "duplicate-id",
            "score-range",
            "score-range",
            "unknown-type"
        ],
        "{report}"
    );
}

/// The corpus findings, each classified in docs/testing-and-lint.md: one real ESCU bug
/// (error) and ten detections that format firstTime/lastTime they never compute (warnings).
#[test]
fn escu_corpus_findings_are_the_classified_ones() {
    // The v5.13.0 corpus and its ESCU 6 port (finding / intermediate_findings) alike.
    for corpus in ["escu/corpus", "escu6_corpus"] {
        let Some(corpus) = shared(corpus) else {
            return;
        };
        corpus_findings(&corpus);
    }
}

fn corpus_findings(corpus: &Path) {
    let out = lint(&[corpus.to_str().unwrap(), "--format", "json"]);
    let report = json(&out);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(report["detections"], 443);
    assert_eq!(report["followed"], 399);
    let findings = report["findings"].as_array().unwrap();
    let errors: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["severity"] == "error")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["rule"], "Get WMIObject Group Discovery");
    assert_eq!(errors[0]["field"], "processes.process_name");
    assert_eq!(errors[0]["suggestion"], "Processes.process_name");
    let warnings: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["severity"] == "warning")
        .collect();
    assert_eq!(warnings.len(), 20);
    assert!(warnings
        .iter()
        .all(|w| w["code"] == "reshapes-missing-field"
            && (w["field"] == "firstTime" || w["field"] == "lastTime")));
    let rules: std::collections::BTreeSet<&str> = warnings
        .iter()
        .map(|w| w["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules.len(), 10, "{rules:?}");
    assert_eq!(report["notes"], 44);
}

#[test]
fn a_token_a_data_source_leaves_empty_warns_until_fillnull_guards_it() {
    let dir = tempfile::tempdir().unwrap();
    // process_guid: Security 4688 (one of the rule's data sources) has no process GUID.
    let rule = netsh().replace("on $dest$.", "on $dest$ ($process_guid$).");
    let rules = rules_dir(dir.path(), &[("netsh.yml", rule.clone())]);
    let report = json(&lint(&[rules.to_str().unwrap(), "--format", "json"]));
    let warning = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "may-be-empty")
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(warning["field"], "process_guid");
    let message = warning["message"].as_str().unwrap();
    assert!(
        message.contains("Windows Event Log Security 4688"),
        "{message}"
    );
    assert!(!message.contains("Sysmon EventID 1"), "{message}");
    let guarded = rule.replace(
        "| `windows_proxy_via_netsh_filter`",
        "| fillnull value=unknown process_guid | `windows_proxy_via_netsh_filter`",
    );
    let dir2 = tempfile::tempdir().unwrap();
    let rules2 = rules_dir(dir2.path(), &[("netsh.yml", guarded)]);
    let report = json(&lint(&[rules2.to_str().unwrap(), "--format", "json"]));
    assert_eq!(report["warnings"], 0, "{report}");
    // A risk object the search does not output.
    let dir3 = tempfile::tempdir().unwrap();
    let rules3 = rules_dir(
        dir3.path(),
        &[(
            "netsh.yml",
            netsh().replace("  - field: user\n", "  - field: src_user\n"),
        )],
    );
    let report = json(&lint(&[rules3.to_str().unwrap(), "--format", "json"]));
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "risk-object-not-output" && f["field"] == "src_user"),
        "{report}"
    );
}
