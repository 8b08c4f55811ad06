//! `netdiscover lint` on Sigma rules end to end: a rule with broken metadata, a misspelled
//! field and an id an ESCU detection already has is caught (text and JSON, exit status,
//! `--deny-warnings`), and SigmaHQ's process_creation rules give exactly the findings
//! classified in docs/testing-and-lint.md.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::lint::{json, lint, root};
use crate::support::shared;

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

/// A Sigma rule of our own in SigmaHQ's layout (block style, 4-space indentation).
const RULE: &str = "title: Netsh Port Forwarding
id: 322ed9ec-fcab-4f67-9a34-e7c6aef43614
status: test
description: netsh interface portproxy add
logsource:
    category: process_creation
    product: windows
detection:
    selection_img:
        - Image|endswith: '\\netsh.exe'
        - OriginalFileName: 'netsh.exe'
    selection_cli:
        CommandLine|contains|all:
            - 'interface'
            - 'portproxy'
            - 'add'
    condition: all of selection_*
level: medium
tags:
    - attack.command-and-control
    - attack.t1090
";

const ESCU_NETSH_ID: &str = "c137bfe8-6036-4cff-b77b-4e327dd0a1cf";

#[test]
fn a_clean_sigma_rule_has_only_its_data_source_notes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("netsh.yml"), RULE).unwrap();
    let out = lint(&[dir.path().to_str().unwrap(), "--deny-warnings", "--notes"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    // `selection_img` can match 4688 and CrowdStrike rows on `Image`; nothing is missing.
    assert!(
        text.contains("1 detections (1 Sigma rules), 1 followed to the end of the search or compiled: 0 errors, 0 warnings, 0 notes"),
        "{text}"
    );
    // Without `Image`, the rule needs OriginalFileName, which only Sysmon and the data model
    // carry: a note for each of the other two sources.
    let sysmon_only = RULE.replace("        - Image|endswith: '\\netsh.exe'\n", "");
    std::fs::write(dir.path().join("netsh.yml"), sysmon_only).unwrap();
    let report = json(&lint(&[dir.path().to_str().unwrap(), "--format", "json"]));
    let notes: Vec<&str> = findings(&report)
        .iter()
        .map(|f| {
            assert_eq!(
                (&f["code"], &f["field"]),
                (&"cannot-match".into(), &"OriginalFileName".into()),
                "{f}"
            );
            f["message"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        notes,
        [
            "the rule cannot match Security 4688 rows: they never carry `OriginalFileName`, which it needs",
            "the rule cannot match CrowdStrike ProcessRollup2 rows: they never carry `OriginalFileName`, which it needs",
        ]
    );
}

#[test]
fn broken_sigma_metadata_fields_and_shared_ids_are_caught() {
    let dir = tempfile::tempdir().unwrap();
    let broken = RULE
        .replace("level: medium", "level: severe")
        .replace("status: test", "status: testing")
        .replace("attack.t1090", "attack.t1090.1")
        .replace(
            "        CommandLine|contains|all:",
            "        Commandline|contains|all:",
        )
        .replace("        - OriginalFileName:", "        - OriginalFilename:")
        .replace("        - Image|endswith:", "        - Imag|endswith:");
    let no_id = RULE
        .replace("id: 322ed9ec-fcab-4f67-9a34-e7c6aef43614\n", "")
        .replace("title: Netsh", "title: Copy of Netsh");
    let shared_id = RULE
        .replace("322ed9ec-fcab-4f67-9a34-e7c6aef43614", ESCU_NETSH_ID)
        .replace("title: Netsh", "title: Sigma Netsh");
    std::fs::write(dir.path().join("broken.yml"), &broken).unwrap();
    std::fs::write(dir.path().join("no_id.yml"), no_id).unwrap();
    std::fs::write(dir.path().join("shared_id.yml"), shared_id).unwrap();
    std::fs::copy(
        root().join("tests/fixtures/escu_v5/detections/endpoint/windows_proxy_via_netsh.yml"),
        dir.path().join("escu_netsh.yml"),
    )
    .unwrap();
    for entry in std::fs::read_dir(root().join("app/macros")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let out = lint(&[dir.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(
        (&report["detections"], &report["sigma_rules"]),
        (&4.into(), &3.into())
    );
    let mut by_rule: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    for f in findings(&report) {
        let key = (
            f["rule"].as_str().unwrap().to_string(),
            f["code"].as_str().unwrap().to_string(),
        );
        by_rule.entry(key).or_default().push(f);
    }
    let codes: Vec<(&str, &str, usize)> = by_rule
        .iter()
        .map(|((rule, code), list)| (rule.as_str(), code.as_str(), list.len()))
        .collect();
    assert_eq!(
        codes,
        [
            ("Copy of Netsh Port Forwarding", "missing-id", 1),
            ("Netsh Port Forwarding", "bad-attack-tag", 1),
            ("Netsh Port Forwarding", "never-matches", 1),
            ("Netsh Port Forwarding", "unknown-level", 1),
            ("Netsh Port Forwarding", "unknown-status", 1),
            ("Netsh Port Forwarding", "unmapped-field", 3),
            ("Sigma Netsh Port Forwarding", "duplicate-id", 1),
            ("Windows Proxy Via Netsh", "duplicate-id", 1),
        ],
        "{report:#}"
    );
    let severity = |rule: &str, code: &str| {
        by_rule[&(rule.to_string(), code.to_string())][0]["severity"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        severity("Netsh Port Forwarding", "unmapped-field"),
        "warning"
    );
    assert_eq!(severity("Netsh Port Forwarding", "never-matches"), "error");
    assert_eq!(
        severity("Copy of Netsh Port Forwarding", "missing-id"),
        "error"
    );
    // Each misspelled field is placed on its line, with the field it meant.
    let line_of = |needle: &str| 1 + broken[..broken.find(needle).unwrap()].matches('\n').count();
    let unmapped = &by_rule[&("Netsh Port Forwarding".into(), "unmapped-field".into())];
    for (field, meant, key) in [
        ("Commandline", "CommandLine", "Commandline|"),
        ("OriginalFilename", "OriginalFileName", "OriginalFilename:"),
        ("Imag", "Image", "Imag|"),
    ] {
        let f = unmapped
            .iter()
            .find(|f| f["field"] == field)
            .unwrap_or_else(|| panic!("{field}: {unmapped:?}"));
        assert_eq!(f["suggestion"], meant, "{f}");
        assert_eq!(f["location"], format!("line {}", line_of(key)), "{f}");
    }
    let duplicate = &by_rule[&("Windows Proxy Via Netsh".into(), "duplicate-id".into())][0];
    assert!(
        duplicate["message"]
            .as_str()
            .unwrap()
            .contains("shared_id.yml"),
        "{duplicate}"
    );
    // The text form: one line per finding, the field's line in the file.
    let text = String::from_utf8_lossy(&lint(&[dir.path().to_str().unwrap()]).stdout).into_owned();
    let expected = format!(
        "warning[unmapped-field] {}: rule `Netsh Port Forwarding`: line {}: the Sigma field `Commandline` (search identifier `selection_cli`) is not in netdiscover's process_creation mapping",
        dir.path().join("broken.yml").display(),
        line_of("Commandline|")
    );
    assert!(text.contains(&expected), "{text}");
    assert!(text.contains("did you mean `CommandLine`?"), "{text}");
}

#[test]
fn warnings_alone_pass_unless_denied() {
    let dir = tempfile::tempdir().unwrap();
    // A misspelled field in a filter: the rule still matches, so it is a warning only.
    let rule = RULE.replace(
        "    condition: all of selection_*",
        "    filter:\n        ParentImage|endswith: '\\svchost.exe'\n        ParentComandLine|contains: 'x'\n    condition: all of selection_* and not filter",
    );
    std::fs::write(dir.path().join("netsh.yml"), rule).unwrap();
    let dir = dir.path().to_str().unwrap();
    let report = json(&lint(&[dir, "--format", "json"]));
    assert_eq!(
        (&report["errors"], &report["warnings"]),
        (&0.into(), &1.into()),
        "{report}"
    );
    assert_eq!(lint(&[dir]).status.code(), Some(0));
    assert_eq!(lint(&[dir, "--deny-warnings"]).status.code(), Some(1));
}

/// `netdiscover lint` over SigmaHQ's process_creation rules: every finding is one of those
/// classified in docs/testing-and-lint.md.
#[test]
fn sigma_corpus_findings_are_the_classified_ones() {
    let Some(corpus) = shared("sigma_corpus") else {
        return;
    };
    let windows = corpus.join("rules/windows/process_creation");
    let out = lint(&[windows.to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let report = json(&out);
    assert_eq!(
        (
            &report["detections"],
            &report["sigma_rules"],
            &report["followed"]
        ),
        (&1183.into(), &1183.into(), &1183.into())
    );
    assert_eq!(
        (&report["errors"], &report["warnings"]),
        (&0.into(), &0.into())
    );
    // The notes are the front door's reach: the counts `netdiscover coverage` prints.
    let notes = per_source(&report);
    assert_eq!(
        notes,
        [
            ("CrowdStrike ProcessRollup2", 104),
            ("Endpoint.Processes data model", 18),
            ("Security 4688", 83)
        ]
    );
    let coverage = crate::support::command(crate::support::netdiscover_exe())
        .arg("coverage")
        .arg(&windows)
        .output()
        .unwrap();
    let coverage = String::from_utf8_lossy(&coverage.stdout);
    for (source, n) in notes {
        let line = coverage
            .lines()
            .find(|l| l.trim_start().starts_with(source))
            .unwrap_or_else(|| panic!("{source}: {coverage}"));
        assert!(line.contains(&format!("; cannot {n:>4}")), "{line}");
    }
    assert_eq!(findings(&report).len(), 205);

    let out = lint(&[
        corpus.to_str().unwrap(),
        "--format",
        "json",
        "--deny-warnings",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(
        (
            &report["detections"],
            &report["followed"],
            &report["errors"],
            &report["warnings"]
        ),
        (&1630.into(), &1629.into(), &0.into(), &2.into())
    );
    let warnings: Vec<(&str, &str, &str)> = findings(&report)
        .iter()
        .filter(|f| f["severity"] == "warning")
        .map(|f| {
            assert_eq!(f["code"], "unmapped-field");
            (
                f["rule"].as_str().unwrap(),
                f["field"].as_str().unwrap(),
                f["location"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        warnings,
        [
            (
                "Potential Pikabot Discovery Activity",
                "GrandParentImage",
                "line 25"
            ),
            (
                "RedSun - Conhost.exe Spawned by TieringEngineService.exe",
                "GrandParentImage",
                "line 49"
            ),
        ]
    );
    let refused: Vec<&str> = findings(&report)
        .iter()
        .filter(|f| f["code"] == "not-followed")
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["Userdomain Variable Enumeration"]);
    // Linux and macOS rules are not judged on Security 4688, nor macOS rules on Sysmon.
    assert_eq!(
        per_source(&report),
        [
            ("CrowdStrike ProcessRollup2", 163),
            ("Endpoint.Processes data model", 22),
            ("Security 4688", 107)
        ]
    );
    assert_eq!(report["notes"], 293);
}

/// Cannot-match notes per data source.
fn per_source(report: &Value) -> Vec<(&str, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in findings(report)
        .iter()
        .filter(|f| f["code"] == "cannot-match")
    {
        assert_eq!(f["severity"], "note", "{f}");
        let message = f["message"].as_str().unwrap();
        let source = message
            .strip_prefix("the rule cannot match ")
            .and_then(|m| m.split(" rows:").next())
            .unwrap();
        *counts.entry(source).or_default() += 1;
    }
    counts.into_iter().collect()
}
