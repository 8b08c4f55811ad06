//! Collects the tests of the loaded rules: ESCU `tests:` blocks of the detection files,
//! `tests.yml` manifests and SigmaHQ regression `info.yml` files, each tied to its rule.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::rules::{RuleSet, Warning};

use super::cases::{under_each, DataKind, DataRef, Expect, Origin, TestCase};
use super::{escu, manifest, sigma};

/// Everything a run needs to know besides the rules.
pub struct Inputs<'a> {
    pub rule_dirs: &'a [PathBuf],
    pub data_dirs: &'a [PathBuf],
    pub manifests: &'a [PathBuf],
}

/// The collected tests, plus problems met while reading test declarations and regression
/// tests whose rule is not loaded (reported, never run).
#[derive(Default)]
pub struct Gathered {
    pub cases: Vec<TestCase>,
    pub problems: Vec<String>,
    pub unmatched_regression: Vec<String>,
}

pub fn gather(rules: &RuleSet, warnings: &[Warning], inputs: &Inputs<'_>) -> Gathered {
    let mut out = Gathered::default();
    let by_path: HashMap<&Path, usize> = rules
        .rules()
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.as_path(), i))
        .collect();
    for dir in inputs.rule_dirs {
        let mut files = Vec::new();
        files_below(
            dir,
            &|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"),
            &mut files,
        );
        for file in files {
            escu_cases(&file, rules, &by_path, warnings, inputs.data_dirs, &mut out);
        }
    }
    for path in inputs.manifests {
        manifest_cases(path, rules, inputs.data_dirs, &mut out);
    }
    for info in sigma::find_infos(inputs.data_dirs) {
        regression_cases(&info, rules, &mut out);
    }
    out
}

/// The files below `dir` (recursively, in sorted order) whose path `keep` accepts; a
/// directory that cannot be listed holds none (the rule loader reports unreadable places).
pub(super) fn files_below(dir: &Path, keep: &dyn Fn(&Path) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            files_below(&path, keep, out);
        } else if keep(&path) {
            out.push(path);
        }
    }
}

fn escu_cases(
    file: &Path,
    rules: &RuleSet,
    by_path: &HashMap<&Path, usize>,
    warnings: &[Warning],
    data_dirs: &[PathBuf],
    out: &mut Gathered,
) {
    let Ok(text) = std::fs::read_to_string(file) else {
        return; // the rule loader already reported it
    };
    let declared = match escu::read(&text) {
        Ok(Some(d)) => d,
        Ok(None) => return,
        Err(e) => {
            out.problems.push(format!("{}: {e}", file.display()));
            return;
        }
    };
    let rule = by_path.get(file).copied();
    let not_loaded = match rule {
        Some(_) => None,
        None => Some(load_failure(file, warnings)),
    };
    let (rule_name, rule_id) = match rule {
        Some(i) => (
            rules.rules()[i].meta.name.clone(),
            rules.rules()[i].meta.id.clone(),
        ),
        None => (
            declared
                .name
                .clone()
                .unwrap_or_else(|| file.display().to_string()),
            declared.id.clone().unwrap_or_default(),
        ),
    };
    for (n, test) in declared.tests.iter().enumerate() {
        out.cases.push(TestCase {
            rule,
            rule_name: rule_name.clone(),
            rule_id: rule_id.clone(),
            name: test
                .name
                .clone()
                .unwrap_or_else(|| format!("test {}", n + 1)),
            origin: Origin::Escu,
            declared_in: file.to_path_buf(),
            data: test.data_refs(data_dirs),
            expect: test.expect(),
            skip: not_loaded.clone().or_else(|| test.skip_reason()),
            error: None,
        });
    }
}

/// Why the detection in `file` is not in the rule set, from the loader's warnings.
fn load_failure(file: &Path, warnings: &[Warning]) -> String {
    warnings
        .iter()
        .find(|w| w.error.path() == Some(file))
        .map(|w| format!("rule not loaded: {}", w.error))
        .unwrap_or_else(|| "rule not loaded".to_string())
}

/// The loaded rule whose id (or, failing that, name) is `key`, case-insensitively.
pub fn rule_by_key(rules: &RuleSet, key: &str) -> Option<usize> {
    let key = key.trim();
    let all = rules.rules();
    all.iter()
        .position(|r| r.meta.id.eq_ignore_ascii_case(key))
        .or_else(|| {
            all.iter()
                .position(|r| r.meta.name.eq_ignore_ascii_case(key))
        })
}

fn manifest_cases(path: &Path, rules: &RuleSet, data_dirs: &[PathBuf], out: &mut Gathered) {
    let entries = match manifest::read(path) {
        Ok(e) => e,
        Err(e) => {
            out.problems.push(e);
            return;
        }
    };
    let beside = path.parent().unwrap_or(Path::new("."));
    let mut bases: Vec<&Path> = vec![beside];
    bases.extend(data_dirs.iter().map(PathBuf::as_path));
    for entry in entries {
        let rule = rule_by_key(rules, &entry.rule);
        let (rule_name, rule_id) = match rule {
            Some(i) => (
                rules.rules()[i].meta.name.clone(),
                rules.rules()[i].meta.id.clone(),
            ),
            None => (entry.rule.clone(), entry.rule.clone()),
        };
        let data = DataRef::locate(&entry.data, under_each(&entry.data, &bases), DataKind::Any);
        out.cases.push(TestCase {
            rule,
            rule_name,
            rule_id,
            name: path
                .file_name()
                .map_or("tests.yml".into(), |n| n.to_string_lossy().into_owned()),
            origin: Origin::Manifest,
            declared_in: path.to_path_buf(),
            data: vec![data],
            expect: Expect::Exactly(entry.expected),
            skip: None,
            error: rule.is_none().then(|| {
                format!(
                    "{}: no loaded rule has the id or name `{}`",
                    path.display(),
                    entry.rule
                )
            }),
        });
    }
}

fn regression_cases(info: &Path, rules: &RuleSet, out: &mut Gathered) {
    let tests = match sigma::read(info) {
        Ok(t) => t,
        Err(e) => {
            out.problems.push(e);
            return;
        }
    };
    for test in tests {
        let Some(i) = rules
            .rules()
            .iter()
            .position(|r| r.meta.id.eq_ignore_ascii_case(&test.rule_id))
        else {
            out.unmatched_regression
                .push(format!("{} ({})", test.rule_id, test.rule_title));
            continue;
        };
        let rule = &rules.rules()[i];
        out.cases.push(TestCase {
            rule: Some(i),
            rule_name: rule.meta.name.clone(),
            rule_id: rule.meta.id.clone(),
            name: test.name,
            origin: Origin::Sigma,
            declared_in: test.info,
            data: vec![test.data],
            expect: test.expect,
            skip: None,
            error: None,
        });
    }
}
