//! `netdiscover coverage --navigator`: an ATT&CK Navigator layer whose techniques are scored
//! by the loaded rules and coloured by test evidence from `netdiscover test --json`.

use std::path::PathBuf;

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

#[test]
fn layer_marks_techniques_whose_rules_passed_a_test_on_data() {
    let dir = tempfile::tempdir().unwrap();
    let example = root().join("examples/windows_process_creation.xml");
    let manifest = dir.path().join("tests.yml");
    // Netsh passes a positive test; netstat only a false-positive one (expected 0), which is
    // no evidence that it detects anything.
    std::fs::write(
        &manifest,
        format!(
            "c137bfe8-6036-4cff-b77b-4e327dd0a1cf:\n  {ex}: 2\n2cf5cc25-f39a-436d-a790-4857e5995ede:\n  {csv}: 1\n  {ex}: 0\n",
            ex = example.display(),
            csv = "/nonexistent.csv"
        ),
    )
    .unwrap();
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
    let out = netdiscover(
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
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let layer: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&layer_path).unwrap()).unwrap();
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
