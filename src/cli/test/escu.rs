//! ESCU detection tests: the `tests:` block of a detection YAML.
//!
//! ESCU 5 (`tests: - name, attack_data: [{data: URL, source, sourcetype}]`) and ESCU 6
//! (the same plus `test_type: unit|experimental` and `expected_results: int`, default 1;
//! `../shared/docs/escu6-and-es8.md` §1.2). contentctl runs a unit test by replaying the
//! attack data into Splunk and passes it when the detection returns a result; here the
//! files are read from `--data` and the compiled rule returns the rows.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::cases::{DataKind, DataRef, Expect};

/// The parts of a detection document the test runner reads.
#[derive(Debug, Deserialize, Default)]
pub struct DetectionTests {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub tests: Vec<EscuTest>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct EscuTest {
    #[serde(default)]
    pub name: Option<String>,
    /// ESCU 6: `unit` (runs) or `experimental` (a ported manual test; never run).
    #[serde(default)]
    pub test_type: Option<String>,
    /// ESCU 6: how many results the search must return (default 1).
    #[serde(default)]
    pub expected_results: Option<u64>,
    #[serde(default)]
    pub attack_data: Vec<AttackData>,
}

#[derive(Debug, Deserialize, Default, Clone)]
pub struct AttackData {
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub sourcetype: Option<String>,
}

/// Reads the tests of a detection file. `Ok(None)` when the file declares no `tests:`
/// (checked on the text first, so the many files without tests are not parsed).
pub fn read(text: &str) -> Result<Option<DetectionTests>, String> {
    let has_tests = text
        .lines()
        .any(|l| l.starts_with("tests:") || l.starts_with("\"tests\":"));
    if !has_tests {
        return Ok(None);
    }
    serde_yaml::from_str::<DetectionTests>(text)
        .map(Some)
        .map_err(|e| format!("cannot read the `tests:` block: {e}"))
}

impl EscuTest {
    /// Expected number of results: `expected_results` when given (exactly), else at least 1
    /// (contentctl's unit test: the detection must return a result).
    pub fn expect(&self) -> Expect {
        match self.expected_results {
            Some(n) => Expect::Exactly(n),
            None => Expect::AtLeast(1),
        }
    }

    /// Why the test is not run, if it is not: ESCU 6 `experimental` tests are ported manual
    /// tests that no tool replays; a test without attack data has nothing to read.
    pub fn skip_reason(&self) -> Option<String> {
        if let Some(kind) = &self.test_type {
            if kind.eq_ignore_ascii_case("experimental") {
                return Some("test_type experimental (a manual test: nothing to replay)".into());
            }
        }
        if self.attack_data.iter().all(|a| a.data_name().is_none()) {
            return Some("the test names no attack data file".into());
        }
        None
    }

    /// The test's data files, each looked up under the data directories.
    pub fn data_refs(&self, data_dirs: &[PathBuf]) -> Vec<DataRef> {
        self.attack_data
            .iter()
            .filter_map(|a| {
                let named = a.data_name()?;
                Some(DataRef::locate(
                    &relative_path(named),
                    candidates(named, data_dirs),
                    kind_of_sourcetype(a.sourcetype.as_deref()),
                ))
            })
            .collect()
    }
}

impl AttackData {
    fn data_name(&self) -> Option<&str> {
        self.data
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
    }
}

/// Where a test's `data` may be under the data directories: its path below
/// `attack_data/master/` (the layout of a clone of splunk/attack_data) in each directory,
/// then its file name in each directory. A local path is looked up as given.
pub fn candidates(data: &str, data_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let rel = relative_path(data);
    if Path::new(&rel).is_absolute() {
        return vec![PathBuf::from(rel)];
    }
    let mut out: Vec<PathBuf> = data_dirs.iter().map(|d| d.join(&rel)).collect();
    if let Some(file) = Path::new(&rel).file_name() {
        if Path::new(&rel)
            .parent()
            .is_some_and(|p| !p.as_os_str().is_empty())
        {
            out.extend(data_dirs.iter().map(|d| d.join(file)));
        }
    }
    out
}

/// The repository-relative path of a data URL: the part below `attack_data/<branch>/`
/// (`master/`, `refs/heads/master/`, `raw/master/`), else the URL's path; a value without a
/// scheme is a local path and is kept.
pub fn relative_path(data: &str) -> String {
    let Some((_, rest)) = data.split_once("://") else {
        return data.to_string();
    };
    let path = rest.split_once('/').map_or("", |(_, p)| p);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let Some(at) = path.find("attack_data/") else {
        return path.to_string();
    };
    let mut below = &path[at + "attack_data/".len()..];
    for prefix in ["refs/heads/", "raw/", "blob/"] {
        below = below.strip_prefix(prefix).unwrap_or(below);
    }
    // The branch name (`master`) is the next segment.
    below.split_once('/').map_or(below, |(_, p)| p).to_string()
}

/// The reader family a Splunk sourcetype names.
pub fn kind_of_sourcetype(sourcetype: Option<&str>) -> DataKind {
    let Some(st) = sourcetype.map(str::trim).filter(|s| !s.is_empty()) else {
        return DataKind::Any;
    };
    let lower = st.to_ascii_lowercase();
    if lower.starts_with("xmlwineventlog") || lower == "sysmon:linux" {
        DataKind::WindowsEvents
    } else if lower.starts_with("crowdstrike") {
        DataKind::CrowdStrike
    } else if lower == "csv" {
        DataKind::CimCsv
    } else {
        // Classic `WinEventLog` text, `cisco:nvm:flowdata`, ...: no reader.
        DataKind::NoReader(st.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_data_urls_become_repository_paths() {
        let master = "https://media.githubusercontent.com/media/splunk/attack_data/master/datasets/attack_techniques/T1090.001/netsh_portproxy/volt_sysmon.log";
        assert_eq!(
            relative_path(master),
            "datasets/attack_techniques/T1090.001/netsh_portproxy/volt_sysmon.log"
        );
        let refs = "https://media.githubusercontent.com/media/splunk/attack_data/refs/heads/master/datasets/x/y.log?raw=true";
        assert_eq!(relative_path(refs), "datasets/x/y.log");
        assert_eq!(relative_path("https://example.org/a/b.log"), "a/b.log");
        assert_eq!(relative_path("local/file.xml"), "local/file.xml");
        let dirs = vec![PathBuf::from("/d1"), PathBuf::from("/d2")];
        assert_eq!(
            candidates(master, &dirs),
            vec![
                PathBuf::from(
                    "/d1/datasets/attack_techniques/T1090.001/netsh_portproxy/volt_sysmon.log"
                ),
                PathBuf::from(
                    "/d2/datasets/attack_techniques/T1090.001/netsh_portproxy/volt_sysmon.log"
                ),
                PathBuf::from("/d1/volt_sysmon.log"),
                PathBuf::from("/d2/volt_sysmon.log"),
            ]
        );
        assert_eq!(
            candidates("/abs/x.xml", &dirs),
            vec![PathBuf::from("/abs/x.xml")]
        );
    }

    #[test]
    fn sourcetypes_name_reader_families() {
        assert_eq!(
            kind_of_sourcetype(Some("XmlWinEventLog")),
            DataKind::WindowsEvents
        );
        assert_eq!(
            kind_of_sourcetype(Some("XmlWinEventLog:Microsoft-Windows-Sysmon/Operational")),
            DataKind::WindowsEvents
        );
        assert_eq!(
            kind_of_sourcetype(Some("crowdstrike:events:sensor")),
            DataKind::CrowdStrike
        );
        assert_eq!(
            kind_of_sourcetype(Some("cisco:nvm:flowdata")),
            DataKind::NoReader("cisco:nvm:flowdata".into())
        );
        assert_eq!(kind_of_sourcetype(None), DataKind::Any);
    }

    #[test]
    fn escu5_and_escu6_test_blocks() {
        let v5 = "name: A\nid: x\ntests:\n- name: True Positive Test\n  attack_data:\n  - data: https://h/splunk/attack_data/master/d/f.log\n    source: s\n    sourcetype: XmlWinEventLog\n";
        let t = read(v5).unwrap().unwrap();
        assert_eq!(t.tests.len(), 1);
        assert_eq!(t.tests[0].expect(), Expect::AtLeast(1));
        assert!(t.tests[0].skip_reason().is_none());
        let v6 = "name: A\nid: x\ntests:\n    - name: T\n      attack_data:\n        - data: d/f.log\n          sourcetype: XmlWinEventLog\n      test_type: unit\n      expected_results: 3\n    - name: M\n      test_type: experimental\n      description: PORTED MANUAL TEST\n";
        let t = read(v6).unwrap().unwrap();
        assert_eq!(t.tests[0].expect(), Expect::Exactly(3));
        assert!(t.tests[1].skip_reason().unwrap().contains("experimental"));
        assert!(read("name: A\nsearch: x\n").unwrap().is_none());
        assert!(read("tests: [unclosed\n").is_err());
    }
}
