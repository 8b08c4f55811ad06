//! SigmaHQ's own regression tests (../shared/sigma_corpus/regression_data): for every rule
//! with a sample, the sample's EVTX and its JSON rendering are scanned with that rule alone,
//! and the rule must match, exactly `match_count` events where info.yml gives one.

use crate::support::shared;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use netdiscover::detect::ProcessDetector;
use netdiscover::ingest::{FileReader, Item, OpenOptions};
use netdiscover::rules::RuleSet;

fn yaml_files(dir: &Path, name: impl Fn(&str) -> bool + Copy, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(&path, name, out);
        } else if path.file_name().and_then(|n| n.to_str()).is_some_and(name) {
            out.push(path);
        }
    }
}

/// Every rule file of the corpus by its `id`.
fn rules_by_id(corpus: &Path) -> HashMap<String, PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(corpus).expect("corpus").flatten() {
        let path = entry.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() && name.starts_with("rules") {
            yaml_files(&path, |n| n.ends_with(".yml"), &mut files);
        }
    }
    let mut out = HashMap::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("rule");
        if let Some(id) = text.lines().find_map(|l| l.strip_prefix("id:")) {
            out.insert(id.trim().to_string(), file);
        }
    }
    out
}

struct Case {
    rule: PathBuf,
    sample: PathBuf,
    match_count: Option<usize>,
}

fn cases(root: &Path) -> Vec<Case> {
    let corpus = root.parent().expect("corpus dir");
    let rules = rules_by_id(corpus);
    let mut infos = Vec::new();
    yaml_files(root, |n| n == "info.yml", &mut infos);
    infos.sort();
    let mut out = Vec::new();
    for info in infos {
        let doc: serde_yaml::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&info).expect("info")).expect("yaml");
        let id = doc["rule_metadata"][0]["id"].as_str().expect("rule id");
        let rule = rules
            .get(id)
            .unwrap_or_else(|| panic!("{}: no rule with id {id}", info.display()))
            .clone();
        for test in doc["regression_tests_info"].as_sequence().expect("tests") {
            let rel = test["path"].as_str().expect("path");
            let sample = corpus.join(rel);
            out.push(Case {
                rule: rule.clone(),
                sample,
                match_count: test["match_count"].as_u64().map(|n| n as usize),
            });
        }
    }
    out
}

/// Loads one rule file alone.
fn load_one(rule: &Path) -> RuleSet {
    let dir = tempfile::tempdir().expect("tempdir");
    let link = dir.path().join(rule.file_name().expect("name"));
    std::os::unix::fs::symlink(rule, &link).expect("symlink");
    let (set, warnings) = RuleSet::load(&[dir.path().to_path_buf()]);
    assert!(warnings.is_empty(), "{}: {warnings:?}", rule.display());
    set
}

/// What `scan` does: every process event of the file through the detector; the number of
/// events the rule matched.
fn scan_count(set: RuleSet, sample: &Path) -> Result<usize, String> {
    let mut detector = ProcessDetector::new(set);
    let reader = FileReader::open(sample, &OpenOptions::default()).map_err(|e| e.to_string())?;
    let mut hits = 0;
    for item in reader {
        match item {
            Item::Process(event) => hits += usize::from(detector.detect(&event.row).is_some()),
            Item::Malformed(m) | Item::Unreadable(m) => {
                return Err(format!("malformed record {}: {}", m.position, m.message))
            }
            Item::Skipped(_) => {}
        }
    }
    Ok(hits)
}

#[test]
fn sigma_regression_samples_match_their_rules() {
    let Some(root) = shared("sigma_corpus/regression_data") else {
        return;
    };
    let cases = cases(&root);
    assert!(cases.len() >= 100, "{} cases", cases.len());
    let (mut passed, mut failures) = (0, Vec::new());
    for case in &cases {
        for sample in [case.sample.clone(), case.sample.with_extension("json")] {
            let set = load_one(&case.rule);
            assert_eq!(set.len(), 1, "{}", case.rule.display());
            let verdict = match scan_count(set, &sample) {
                Ok(n) if n > 0 && case.match_count.is_none_or(|want| want == n) => Ok(()),
                Ok(n) => Err(format!("{n} matches, want {:?}", case.match_count)),
                Err(e) => Err(e),
            };
            match verdict {
                Ok(()) => passed += 1,
                Err(why) => failures.push(format!(
                    "{} on {}: {why}",
                    case.rule.file_name().unwrap().to_string_lossy(),
                    sample.file_name().unwrap().to_string_lossy()
                )),
            }
        }
    }
    println!(
        "sigma regression: {passed} passed, {} failed",
        failures.len()
    );
    for f in &failures {
        println!("  FAILED {f}");
    }
    assert!(failures.is_empty(), "{} failures", failures.len());
}

fn rows(sample: &Path) -> Vec<netdiscover::ingest::ProcessRow> {
    FileReader::open(sample, &OpenOptions::default())
        .expect("open")
        .filter_map(|item| match item {
            Item::Process(event) => Some(event.row),
            _ => None,
        })
        .collect()
}

/// The JSON rendering (`evtx_dump -o json`) gives the same rows as the EVTX, extra fields
/// included, up to trailing whitespace and letter case: the `evtx` crate's JSON output trims
/// string values (`"...powershell.exe\" "` in the EVTX is `"...powershell.exe\""` in the
/// JSON), and one sample's JSON spells a parent command line `Explorer.exe` where its EVTX
/// has `Explorer.EXE`. Rules compare case-insensitively, so only the whitespace can change a
/// verdict.
#[test]
fn regression_json_renderings_read_like_their_evtx() {
    let Some(root) = shared("sigma_corpus/regression_data") else {
        return;
    };
    let mut compared = 0;
    for case in cases(&root) {
        let trimmed = |rows: Vec<netdiscover::ingest::ProcessRow>| -> Vec<Vec<String>> {
            rows.iter()
                .map(|r| {
                    r.fields()
                        .map(|(_, v)| v.trim_end().to_lowercase())
                        .chain(
                            r.extras()
                                .map(|(n, v)| format!("{n}={}", v.trim_end().to_lowercase())),
                        )
                        .collect()
                })
                .collect()
        };
        let evtx = rows(&case.sample);
        assert!(evtx.iter().all(|r| !r.extra("Provider_Name").is_empty()));
        let (evtx, json) = (
            trimmed(evtx),
            trimmed(rows(&case.sample.with_extension("json"))),
        );
        assert!(!evtx.is_empty(), "{}", case.sample.display());
        assert_eq!(evtx, json, "{}", case.sample.display());
        compared += evtx.len();
    }
    println!("{compared} process events compared");
}

/// The mapping's claims hold for ingested rows: every field the Sigma field table says a
/// data source carries is filled in some row of that source (Sysmon and 4688 from the shared
/// datasets and the regression samples, CrowdStrike from `examples/`).
#[test]
fn data_sources_carry_the_fields_the_mapping_claims() {
    use netdiscover::ingest::CimField;
    use netdiscover::rules::sigma::fields::{DataSource, FIELDS};
    let (Some(datasets), Some(regression)) = (
        shared("datasets/xml"),
        shared("sigma_corpus/regression_data"),
    ) else {
        return;
    };
    let mut files = vec![crate::support::repo(
        "examples/crowdstrike_processrollup2.ndjson",
    )];
    for dir in [datasets, regression] {
        yaml_files(
            &dir,
            |n| n.ends_with(".xml") || n.ends_with(".evtx"),
            &mut files,
        );
    }
    let mut by_source: HashMap<DataSource, Vec<netdiscover::ingest::ProcessRow>> = HashMap::new();
    for file in &files {
        for row in rows(file) {
            let source = DataSource::from_vendor_product(row.get(CimField::VendorProduct));
            by_source.entry(source).or_default().push(row);
        }
    }
    for source in [
        DataSource::Sysmon,
        DataSource::Security4688,
        DataSource::CrowdStrike,
    ] {
        let rows = by_source.get(&source).map_or(&[][..], Vec::as_slice);
        assert!(!rows.is_empty(), "no {} rows", source.name());
        for field in FIELDS.iter().filter(|f| f.sources.contains(&source)) {
            let filled = rows.iter().any(|r| {
                let value =
                    CimField::from_name(field.slot).map_or(r.extra(field.slot), |c| r.get(c));
                !value.is_empty()
            });
            assert!(
                filled,
                "{}: no row fills {} ({})",
                source.name(),
                field.sigma,
                field.slot
            );
        }
    }
}
