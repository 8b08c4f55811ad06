//! SigmaHQ regression tests: `regression_data/**/info.yml` (as in SigmaHQ/sigma and
//! `../shared/sigma_corpus`). Each names its rule by id (`rule_metadata[].id`) and one or
//! more samples (`regression_tests_info[]`: `path` relative to the repository root, `type`,
//! and `match_count`, the exact number of events the rule must match when given; SigmaHQ's
//! CI passes a rule that matches its sample, exactly `match_count` times when given).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::cases::{DataKind, DataRef, Expect};

#[derive(Debug, Deserialize)]
struct Info {
    #[serde(default)]
    rule_metadata: Vec<RuleMetadata>,
    #[serde(default)]
    regression_tests_info: Vec<TestInfo>,
}

#[derive(Debug, Deserialize)]
struct RuleMetadata {
    id: String,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
struct TestInfo {
    #[serde(default)]
    name: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    match_count: Option<u64>,
    path: String,
}

/// One regression test of one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegressionTest {
    pub info: PathBuf,
    pub rule_id: String,
    pub rule_title: String,
    pub name: String,
    pub data: DataRef,
    pub expect: Expect,
}

/// Every `info.yml` below `<dir>/regression_data` (or below `dir` itself when it is a
/// `regression_data` folder), for each data directory, in sorted order.
pub fn find_infos(data_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in data_dirs {
        let root = if dir.file_name().is_some_and(|n| n == "regression_data") {
            dir.clone()
        } else {
            dir.join("regression_data")
        };
        if root.is_dir() {
            super::gather::files_below(
                &root,
                &|p| p.file_name().is_some_and(|n| n == "info.yml"),
                &mut out,
            );
        }
    }
    out
}

/// Reads one `info.yml`: one test per (rule, sample). Sample paths are resolved against the
/// repository root (the folder holding `regression_data`), then beside the `info.yml`.
pub fn read(info: &Path) -> Result<Vec<RegressionTest>, String> {
    let text = std::fs::read_to_string(info)
        .map_err(|e| format!("{}: cannot read: {e}", info.display()))?;
    let parsed: Info =
        serde_yaml::from_str(&text).map_err(|e| format!("{}: invalid: {e}", info.display()))?;
    if parsed.rule_metadata.is_empty() {
        return Err(format!("{}: no rule_metadata[].id", info.display()));
    }
    let beside = info.parent().unwrap_or(Path::new("."));
    let root = repository_root(info);
    let mut out = Vec::new();
    for rule in &parsed.rule_metadata {
        for test in &parsed.regression_tests_info {
            let mut candidates: Vec<PathBuf> = root.iter().map(|r| r.join(&test.path)).collect();
            if let Some(name) = Path::new(&test.path).file_name() {
                candidates.push(beside.join(name));
            }
            candidates.dedup();
            out.push(RegressionTest {
                info: info.to_path_buf(),
                rule_id: rule.id.clone(),
                rule_title: rule.title.clone().unwrap_or_default(),
                name: test
                    .name
                    .clone()
                    .unwrap_or_else(|| "regression test".into()),
                data: DataRef::locate(&test.path, candidates, kind_of(test.kind.as_deref())),
                expect: match test.match_count {
                    Some(n) => Expect::Exactly(n),
                    None => Expect::AtLeast(1),
                },
            });
        }
    }
    Ok(out)
}

/// The folder that holds the `regression_data` ancestor of `info`.
fn repository_root(info: &Path) -> Option<PathBuf> {
    info.ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "regression_data"))
        .and_then(Path::parent)
        .map(Path::to_path_buf)
}

fn kind_of(kind: Option<&str>) -> DataKind {
    match kind.map(str::to_ascii_lowercase).as_deref() {
        None => DataKind::Any,
        Some("evtx") => DataKind::WindowsEvents,
        Some(other) => DataKind::NoReader(format!("regression sample type {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_info_and_resolves_sample_paths_from_the_repository_root() {
        let dir = tempfile::tempdir().unwrap();
        let case = dir.path().join("regression_data/rules/windows/x");
        std::fs::create_dir_all(&case).unwrap();
        std::fs::write(case.join("abc.evtx"), b"ElfFile\0").unwrap();
        let info = case.join("info.yml");
        std::fs::write(
            &info,
            "id: t\nrule_metadata:\n    - id: abc\n      title: T\nregression_tests_info:\n    - name: Positive Detection Test\n      type: evtx\n      match_count: 2\n      path: regression_data/rules/windows/x/abc.evtx\n",
        )
        .unwrap();
        assert_eq!(find_infos(&[dir.path().to_path_buf()]), vec![info.clone()]);
        let tests = read(&info).unwrap();
        assert_eq!(tests.len(), 1);
        assert_eq!(tests[0].rule_id, "abc");
        assert_eq!(tests[0].expect, Expect::Exactly(2));
        assert_eq!(
            tests[0].data.found.as_deref(),
            Some(case.join("abc.evtx").as_path())
        );
        assert_eq!(tests[0].data.kind, DataKind::WindowsEvents);
    }
}
