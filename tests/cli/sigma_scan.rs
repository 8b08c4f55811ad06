//! `netdiscover scan` with Sigma rules from `--rules`: the binary end to end, on SigmaHQ's
//! regression samples and on the shared datasets.

use crate::support::shared;
use std::path::{Path, PathBuf};

use crate::support::netdiscover_exe;

/// A rules directory holding links to these rule files (the corpus stays where it is).
fn rules_dir(rules: &[PathBuf]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for rule in rules {
        std::os::unix::fs::symlink(rule, dir.path().join(rule.file_name().expect("name")))
            .expect("symlink");
    }
    dir
}

fn scan(args: &[&Path]) -> (i32, String, String) {
    let out = crate::support::command(netdiscover_exe())
        .arg("scan")
        .args(args)
        .env_remove("NETDISCOVER_RULES_DIR")
        .output()
        .expect("run");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The CVE-2026-33829 sample holds 2 matching events (its info.yml `match_count: 2`).
#[test]
fn scan_reports_a_sigma_rule_on_its_regression_sample() {
    let Some(dir) = shared(
        "sigma_corpus/regression_data/rules-emerging-threats/2026/Exploits/CVE-2026-33829/proc_creation_win_exploit_cve_2026_33829",
    ) else {
        return;
    };
    let rule = shared("sigma_corpus/rules-emerging-threats/2026/Exploits/CVE-2026-33829/proc_creation_win_exploit_cve_2026_33829.yml")
        .expect("the rule beside its sample");
    let rules = rules_dir(&[rule]);
    for sample in [
        "7c3a5b1d-9e2f-4a8c-b5d7-1e0f3c6a9b2d.evtx",
        "7c3a5b1d-9e2f-4a8c-b5d7-1e0f3c6a9b2d.json",
    ] {
        let path = dir.join(sample);
        let (code, stdout, stderr) = scan(&[Path::new("--rules"), rules.path(), &path]);
        assert_eq!(code, 1, "{stderr}");
        let title =
            "Potential CVE-2026-33829 Exploitation - Windows Snipping Tool Remote File Path URI";
        assert_eq!(stdout.matches(title).count(), 2, "{stdout}");
        assert!(stderr.contains(&format!("{title}  2")), "{stderr}");
        assert!(stderr.contains("rows matched: 2"), "{stderr}");
    }
}

/// All 1,183 Windows process_creation rules over the shared datasets: the Security 4688
/// events are read, and the summary says how many rules cannot match them and why.
#[test]
fn scan_names_the_rules_a_data_source_cannot_satisfy() {
    let (Some(rules), Some(xml)) = (
        shared("sigma_corpus/rules/windows/process_creation"),
        shared("datasets/xml"),
    ) else {
        return;
    };
    let (code, _, stderr) = scan(&[Path::new("--rules"), &rules, &xml]);
    assert!(code == 0 || code == 1, "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("Security 4688 event(s)"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains("Sigma rule(s) cannot match: they need OriginalFileName ("),
        "{line}"
    );
    assert!(
        stderr.contains("rules without matches not listed"),
        "{stderr}"
    );
}
