//! Helpers for the rules tests (and the command gate test and the rules benchmark): rows built
//! by field name, rule directories, and a small XmlWinEventLog → CIM row mapper (the real ingest
//! module lives elsewhere).

use std::io::Read;
use std::path::{Path, PathBuf};

use netdiscover::rules::{OwnedRow, RuleSet};

/// Builds a row for `set` from `(column, values)` pairs; columns may be `Processes.x` or `x`.
pub fn row(set: &RuleSet, pairs: &[(&str, &[&str])]) -> OwnedRow {
    let mut r = OwnedRow::with_slots(set.fields().len());
    for (name, values) in pairs {
        if let Some(slot) = set.slot(name) {
            r.set(slot, values.iter().map(|v| v.as_bytes().to_vec()).collect());
        }
    }
    r
}

/// Writes files into a fresh temporary directory.
pub fn rule_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in files {
        let p = dir.path().join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write");
    }
    dir
}

fn basename(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

fn element<'a>(event: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = event.find(&open)? + open.len();
    let end = event[start..].find("</")? + start;
    Some(&event[start..end])
}

fn data(event: &str, name: &str) -> Option<String> {
    let key = format!("<Data Name='{name}'>");
    let start = event.find(&key)? + key.len();
    let end = event[start..].find("</Data>")? + start;
    Some(super::xml_unescape(&event[start..end]))
}

/// A process-creation event as CIM fields (Sysmon EID 1 and Security 4688 only).
#[derive(Debug, Clone, Default)]
pub struct ProcessEvent {
    pub fields: Vec<(&'static str, String)>,
}

impl ProcessEvent {
    pub fn get(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }
    pub fn to_row(&self, set: &RuleSet) -> OwnedRow {
        let mut r = OwnedRow::with_slots(set.fields().len());
        for (k, v) in &self.fields {
            if let Some(slot) = set.slot(k) {
                if !v.is_empty() {
                    r.set(slot, vec![v.as_bytes().to_vec()]);
                }
            }
        }
        r
    }
}

/// Parses XmlWinEventLog text (events split on `</Event>`) into process events.
pub fn process_events(xml: &str) -> Vec<ProcessEvent> {
    let mut out = Vec::new();
    for event in xml.split("</Event>") {
        let Some(id) = element(event, "EventID") else {
            continue;
        };
        let dest = element(event, "Computer").unwrap_or("").to_string();
        let provider_sysmon = event.contains("Microsoft-Windows-Sysmon");
        let mut f: Vec<(&'static str, String)> = vec![("dest", dest)];
        match (id, provider_sysmon) {
            ("1", true) => {
                let image = data(event, "Image").unwrap_or_default();
                let parent = data(event, "ParentImage").unwrap_or_default();
                f.push(("process_name", basename(&image).to_string()));
                f.push(("process_path", image.clone()));
                f.push(("process", data(event, "CommandLine").unwrap_or_default()));
                f.push((
                    "original_file_name",
                    data(event, "OriginalFileName").unwrap_or_default(),
                ));
                f.push(("parent_process_name", basename(&parent).to_string()));
                f.push(("parent_process_path", parent.clone()));
                f.push((
                    "parent_process",
                    data(event, "ParentCommandLine").unwrap_or_default(),
                ));
                f.push(("user", data(event, "User").unwrap_or_default()));
                f.push(("process_id", data(event, "ProcessId").unwrap_or_default()));
            }
            ("4688", false) => {
                let image = data(event, "NewProcessName").unwrap_or_default();
                let parent = data(event, "ParentProcessName").unwrap_or_default();
                f.push(("process_name", basename(&image).to_string()));
                f.push(("process_path", image.clone()));
                f.push(("process", data(event, "CommandLine").unwrap_or_default()));
                f.push(("parent_process_name", basename(&parent).to_string()));
                f.push(("parent_process_path", parent.clone()));
                f.push(("user", data(event, "SubjectUserName").unwrap_or_default()));
            }
            _ => continue,
        }
        out.push(ProcessEvent { fields: f });
    }
    out
}

/// A dataset file as text; `.gz` files are gunzipped.
pub fn read_text(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read dataset");
    if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .expect("gunzip");
        s
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The XML and bulk (gzipped XML) files of `../shared/datasets`, sorted.
pub fn xml_dataset_files(datasets: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> = ["xml", "bulk"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(datasets.join(d))
                .expect("dataset dir")
                .flatten()
                .map(|e| e.path())
        })
        .collect();
    files.sort();
    files
}

/// The ESCU corpus in `../shared/escu/corpus` as `(detections, macros)` directories, or `None`
/// (skipped, see [`crate::support::shared`]).
pub fn escu_corpus() -> Option<(PathBuf, PathBuf)> {
    let corpus = super::shared("escu/corpus")?;
    Some((corpus.join("detections"), corpus.join("macros")))
}

/// One detection compiled from a whole search (`| tstats ... | ...`) and matched through
/// `RuleSet` + `Matcher`, exactly as `| netdiscover` and `scan` use them.
pub struct Probe {
    pub set: RuleSet,
    matcher: netdiscover::rules::Matcher,
}

/// The `by` clause probes use: every field the conformance and differential tests read.
pub const PROBE_BY: &str = "by Processes.dest Processes.user Processes.process Processes.process_name Processes.parent_process_name Processes.original_file_name";

impl Probe {
    /// Compiles `search` as the only rule, or returns the loader's warnings.
    pub fn search(search: &str) -> Result<Probe, Vec<netdiscover::rules::Warning>> {
        let yaml = format!(
            "name: Probe\nid: 00000000-0000-0000-0000-000000000001\ntype: TTP\nsearch: {}\ntags:\n  analytic_story: [S]\n  mitre_attack_id: [T1000]\n",
            serde_json::to_string(search).expect("a JSON string is valid YAML")
        );
        let dir = rule_dir(&[("probe.yml", &yaml)]);
        let (set, warnings) = RuleSet::load(&[dir.path().to_path_buf()]);
        if set.len() != 1 {
            return Err(warnings);
        }
        let matcher = netdiscover::rules::Matcher::new(&set);
        Ok(Probe { set, matcher })
    }

    /// `| tstats count from datamodel=Endpoint.Processes where PREDICATE by ... | rename` then `tail`.
    pub fn tstats(predicate: &str, tail: &str) -> Result<Probe, Vec<netdiscover::rules::Warning>> {
        Probe::search(&format!(
            "| tstats count from datamodel=Endpoint.Processes where {predicate} {PROBE_BY} | rename Processes.* as *{tail}"
        ))
    }

    /// Whether a row given as `(field, values)` pairs fires the rule.
    pub fn fires(&mut self, pairs: &[(&str, &[&str])]) -> bool {
        let r = row(&self.set, pairs);
        self.fires_row(&r)
    }

    /// Whether `row` (built for this probe's field list) fires the rule.
    pub fn fires_row(&mut self, row: &OwnedRow) -> bool {
        let all = netdiscover::rules::Selected::all(&self.set);
        !self.matcher.match_row(&self.set, &all, row).is_empty()
    }
}

/// A small deterministic xorshift generator: the same test data on every run.
pub struct Rng(pub u64);

impl Rng {
    /// A number below `n` (`n` > 0).
    pub fn next(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    /// One of `from` (not empty).
    pub fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.next(from.len())]
    }
}
