//! `netdiscover coverage --navigator`: an ATT&CK Navigator layer whose techniques are scored
//! by the loaded rules and coloured by test evidence from `netdiscover test --json`.

use std::path::PathBuf;

use crate::test_runner::{example, write_manifest};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn netdiscover(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    crate::support::command(crate::support::netdiscover_exe())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run netdiscover")
}

/// Runs `netdiscover ARGS` (a `coverage` that writes the layer `layer_path`) and reads the layer.
fn coverage_layer(
    args: &[&str],
    cwd: &std::path::Path,
    layer_path: &std::path::Path,
) -> serde_json::Value {
    let out = netdiscover(args, cwd);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(layer_path).unwrap()).unwrap()
}

#[test]
fn layer_marks_techniques_whose_rules_passed_a_test_on_data() {
    let dir = tempfile::tempdir().unwrap();
    // Netsh passes a positive test; netstat only a false-positive one (expected 0), which is
    // no evidence that it detects anything.
    let manifest = write_manifest(
        dir.path(),
        &format!(
            "c137bfe8-6036-4cff-b77b-4e327dd0a1cf:\n  {ex}: 2\n2cf5cc25-f39a-436d-a790-4857e5995ede:\n  {csv}: 1\n  {ex}: 0\n",
            ex = example().display(),
            csv = "/nonexistent.csv"
        ),
    );
    let results = dir.path().join("results.json");
    let app = root().join("app");
    let (detections, macros) = (app.join("detections"), app.join("macros"));
    let out = netdiscover(
        &[
            "test",
            detections.to_str().unwrap(),
            macros.to_str().unwrap(),
            "--manifest",
            manifest.to_str().unwrap(),
            "--json",
            results.to_str().unwrap(),
        ],
        dir.path(),
    );
    // The netstat FP test fails (2 rows where 0 were expected); its positive test is skipped.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let layer_path = dir.path().join("layer.json");
    let layer = coverage_layer(
        &[
            "coverage",
            detections.to_str().unwrap(),
            macros.to_str().unwrap(),
            "--navigator",
            layer_path.to_str().unwrap(),
            "--tested-with",
            results.to_str().unwrap(),
        ],
        dir.path(),
        &layer_path,
    );
    assert_eq!(layer["versions"]["layer"], "4.5");
    assert_eq!(layer["domain"], "enterprise-attack");
    let technique = |id: &str| {
        layer["techniques"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["techniqueID"] == id)
            .unwrap_or_else(|| panic!("{id} not in {layer}"))
            .clone()
    };
    let netsh = technique("T1090.001");
    assert_eq!(netsh["score"], 1);
    assert_eq!(netsh["metadata"][0]["value"], "passed a test on data");
    let netstat = technique("T1049");
    assert_eq!(netstat["score"], 1);
    assert_eq!(
        netstat["metadata"][0]["value"],
        "tagged only (no test ran on data)"
    );
    assert_ne!(netsh["color"], netstat["color"]);
    assert_eq!(
        layer["description"],
        format!(
            "2 rules loaded from {}; 1 passed a test on data",
            detections.display()
        )
    );
}

/// Every `*.yml` below `dir`, parsed.
fn yaml_files(dir: &std::path::Path, out: &mut Vec<serde_yaml::Value>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml") {
            out.push(serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap());
        }
    }
}

/// SigmaHQ's rules with their regression tests as evidence: techniques come from the rules'
/// `attack.tNNNN` tags, and a technique is green when one of its rules passed its regression
/// test. The expected scores are counted here from the rule files and `info.yml`s directly.
#[test]
fn sigma_rules_score_techniques_from_their_tags_and_regression_tests() {
    let Some(corpus) = crate::support::shared("sigma_corpus") else {
        return;
    };
    let dirs = ["rules", "rules-emerging-threats", "rules-threat-hunting"].map(|d| corpus.join(d));
    let mut rules = Vec::new();
    dirs.iter().for_each(|d| yaml_files(d, &mut rules));
    let mut infos = Vec::new();
    yaml_files(&corpus.join("regression_data"), &mut infos);
    let tested: std::collections::HashSet<&str> = infos
        .iter()
        .flat_map(|i| i["rule_metadata"].as_sequence().unwrap())
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(tested.len(), 100);
    // (rules tagged with the technique, of which with a regression test)
    let expected = |technique: &str| {
        let tag = format!("attack.{}", technique.to_ascii_lowercase());
        let tagged: Vec<&serde_yaml::Value> = rules
            .iter()
            .filter(|r| {
                r["tags"]
                    .as_sequence()
                    .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(tag.as_str())))
            })
            .collect();
        let passed = tagged
            .iter()
            .filter(|r| tested.contains(r["id"].as_str().unwrap()))
            .count();
        (tagged.len(), passed)
    };
    let dir = tempfile::tempdir().unwrap();
    let layer_path = dir.path().join("layer.json");
    let mut args: Vec<&str> = vec!["coverage"];
    args.extend(dirs.iter().map(|d| d.to_str().unwrap()));
    args.extend([
        "--navigator",
        layer_path.to_str().unwrap(),
        "--data",
        corpus.to_str().unwrap(),
    ]);
    let layer = coverage_layer(&args, dir.path(), &layer_path);
    assert_eq!(
        layer["description"],
        format!(
            "{} rules loaded from {}; 100 passed a test on data",
            rules.len(),
            dirs[0].display()
        )
    );
    let mut green = 0;
    for technique in ["T1197", "T1105", "T1059.001", "T1218.011", "T1049"] {
        let (score, passed) = expected(technique);
        let entry = layer["techniques"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["techniqueID"] == technique)
            .unwrap_or_else(|| panic!("{technique} not in the layer"));
        assert!(score > 0);
        assert_eq!(entry["score"], score, "{technique}");
        assert_eq!(
            entry["comment"],
            format!("{score} rule(s), {passed} passed a test on data"),
            "{technique}"
        );
        let colour = if passed > 0 { "#31a354" } else { "#66b1ff" };
        assert_eq!(entry["color"], colour, "{technique}");
        green += usize::from(passed > 0);
    }
    // Both kinds are among them: techniques backed by a passing regression test, and ones
    // only tagged.
    assert!(green > 0 && green < 5, "{green}");
}
