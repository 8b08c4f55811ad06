//! What a test is, whatever it was written in (an ESCU `tests:` block, our `tests.yml`
//! manifest, a SigmaHQ `regression_data/**/info.yml`): a rule, data files, an expectation.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a test was declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A detection's own `tests:` block (ESCU 5 and 6).
    Escu,
    /// A `tests.yml` manifest.
    Manifest,
    /// A SigmaHQ regression test (`info.yml`).
    Sigma,
}

impl Origin {
    pub fn name(self) -> &'static str {
        match self {
            Origin::Escu => "escu",
            Origin::Manifest => "manifest",
            Origin::Sigma => "sigma",
        }
    }
}

/// How many rows the detection must return over the test's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    AtLeast(u64),
    Exactly(u64),
}

impl Expect {
    pub fn holds(self, got: u64) -> bool {
        match self {
            Expect::AtLeast(n) => got >= n,
            Expect::Exactly(n) => got == n,
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::AtLeast(n) => write!(f, ">= {n}"),
            Expect::Exactly(n) => write!(f, "{n}"),
        }
    }
}

/// Which kind of data a test says its file holds (from an ESCU `sourcetype`, a Sigma
/// `type`/`provider`), so a file of another kind is reported instead of misread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataKind {
    /// Nothing said: the format is told from the content.
    Any,
    /// Windows event log records: XmlWinEventLog XML, its EVTX binary or publisher JSON.
    WindowsEvents,
    /// CrowdStrike Falcon sensor events (NDJSON).
    CrowdStrike,
    /// CSV with CIM column names.
    CimCsv,
    /// A sourcetype netdiscover has no reader for (the name, as written).
    NoReader(String),
}

impl DataKind {
    /// What the test says the file holds, for messages.
    pub fn describe(&self) -> String {
        match self {
            DataKind::Any => "any supported format".into(),
            DataKind::WindowsEvents => "Windows event log records (XML, EVTX or JSON)".into(),
            DataKind::CrowdStrike => "CrowdStrike sensor events".into(),
            DataKind::CimCsv => "CIM CSV".into(),
            DataKind::NoReader(what) => what.clone(),
        }
    }
}

/// One data file a test names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataRef {
    /// The file as the test names it (URL, relative path).
    pub named: String,
    /// Every path tried, in order.
    pub looked_for: Vec<PathBuf>,
    /// The first of them that exists.
    pub found: Option<PathBuf>,
    pub kind: DataKind,
}

impl DataRef {
    /// Looks `named` up as each of `candidates`, in order.
    pub fn locate(named: &str, candidates: Vec<PathBuf>, kind: DataKind) -> DataRef {
        let found = candidates.iter().find(|p| p.is_file()).cloned();
        DataRef {
            named: named.to_string(),
            looked_for: candidates,
            found,
            kind,
        }
    }
}

/// One test of one rule.
#[derive(Debug, Clone)]
pub struct TestCase {
    /// Index of the rule in the loaded rule set; `None` when the rule did not load.
    pub rule: Option<usize>,
    /// The rule's name (or the key the test named it by, when it did not load).
    pub rule_name: String,
    pub rule_id: String,
    pub name: String,
    pub origin: Origin,
    /// The file the test was declared in.
    pub declared_in: PathBuf,
    pub data: Vec<DataRef>,
    pub expect: Expect,
    /// Why the test cannot run, decided before any data is read.
    pub skip: Option<String>,
    /// Why the test fails without running (a manifest naming no loaded rule).
    pub error: Option<String>,
}

/// Candidate paths for a relative data path: `base/rel` for each base, in order. An
/// absolute path is only itself.
pub fn under_each(rel: &str, bases: &[&Path]) -> Vec<PathBuf> {
    let path = Path::new(rel);
    if path.is_absolute() {
        return vec![path.to_path_buf()];
    }
    bases.iter().map(|b| b.join(path)).collect()
}
