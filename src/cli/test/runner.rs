//! Runs test cases: each data file is read once with the ingest readers, every rule is
//! evaluated on its process rows (one pass, as `scan` does), and each test compares its
//! rule's count over its files with what it expects.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::detect::ProcessDetector;
use crate::ingest::{FileReader, Format, Item, OpenOptions};

use super::cases::{DataKind, DataRef, TestCase};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// The outcome of one test.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub status: Status,
    /// Rows the rule returned over the test's files (when they were read).
    pub got: Option<u64>,
    /// Why it failed or was skipped, or what it read when it passed.
    pub message: String,
    /// Seconds spent reading and evaluating the test's files.
    pub seconds: f64,
}

/// What reading one data file gave.
struct FileRun {
    /// Matching rows per rule (index into the rule set).
    matches: Vec<u64>,
    process_events: u64,
    malformed: u64,
    format: Option<Format>,
    error: Option<String>,
    seconds: f64,
}

/// Runs every case against the detector's rules. Verdicts are in case order.
pub fn run(cases: &[TestCase], detector: &mut ProcessDetector) -> Vec<Verdict> {
    let mut files: HashMap<PathBuf, FileRun> = HashMap::new();
    cases
        .iter()
        .map(|case| verdict(case, detector, &mut files))
        .collect()
}

fn verdict(
    case: &TestCase,
    detector: &mut ProcessDetector,
    files: &mut HashMap<PathBuf, FileRun>,
) -> Verdict {
    let done = |status, message: String| Verdict {
        status,
        got: None,
        message,
        seconds: 0.0,
    };
    if let Some(error) = &case.error {
        return done(Status::Fail, error.clone());
    }
    if let Some(reason) = &case.skip {
        return done(Status::Skip, reason.clone());
    }
    let Some(rule) = case.rule else {
        return done(Status::Skip, "rule not loaded".into());
    };
    if let Some(why) = case.data.iter().find_map(cannot_read) {
        return done(Status::Skip, why);
    }
    let mut got = 0u64;
    let mut seconds = 0.0;
    let mut events = 0u64;
    for data in &case.data {
        let Some(path) = &data.found else {
            return done(Status::Skip, format!("data file not found: {}", data.named));
        };
        let run = files
            .entry(path.clone())
            .or_insert_with(|| read_file(path, detector));
        seconds += run.seconds;
        if let Some(error) = &run.error {
            return Verdict {
                seconds,
                ..done(Status::Fail, format!("{}: {error}", path.display()))
            };
        }
        if let Some(problem) = kind_mismatch(&data.kind, run.format) {
            return Verdict {
                seconds,
                ..done(Status::Fail, format!("{}: {problem}", path.display()))
            };
        }
        got += run.matches.get(rule).copied().unwrap_or(0);
        events += run.process_events;
    }
    let names: Vec<String> = case
        .data
        .iter()
        .filter_map(|d| d.found.as_ref().map(|p| p.display().to_string()))
        .collect();
    let read = format!(
        "{} over {} ({events} process events)",
        plural(got, "matching row"),
        names.join(", ")
    );
    let (status, message) = if case.expect.holds(got) {
        (Status::Pass, read)
    } else {
        (
            Status::Fail,
            format!("expected {} matching rows, got {read}", case.expect),
        )
    };
    Verdict {
        status,
        got: Some(got),
        message,
        seconds,
    }
}

/// Why a data file cannot be read at all (a skip, never a pass).
fn cannot_read(data: &DataRef) -> Option<String> {
    if let DataKind::NoReader(what) = &data.kind {
        return Some(format!("no netdiscover reader for {what} ({})", data.named));
    }
    if data.found.is_none() {
        let tried: Vec<String> = data
            .looked_for
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let looked = if tried.is_empty() {
            "no --data directory given".to_string()
        } else {
            format!("looked for {}", tried.join(", "))
        };
        return Some(format!("data file not found: {} ({looked})", data.named));
    }
    None
}

fn kind_mismatch(kind: &DataKind, format: Option<Format>) -> Option<String> {
    let format = format?;
    let fits = match kind {
        DataKind::Any | DataKind::NoReader(_) => true,
        DataKind::WindowsEvents => {
            matches!(format, Format::Xml | Format::Evtx | Format::PublisherJson)
        }
        DataKind::CrowdStrike => format == Format::CrowdStrike,
        DataKind::CimCsv => format == Format::Csv,
    };
    (!fits).then(|| {
        format!(
            "the test says it holds {}, but the file holds {format} records",
            kind.describe()
        )
    })
}

fn read_file(path: &Path, detector: &mut ProcessDetector) -> FileRun {
    let start = Instant::now();
    let mut run = FileRun {
        matches: vec![0; detector.rules().len()],
        process_events: 0,
        malformed: 0,
        format: None,
        error: None,
        seconds: 0.0,
    };
    match FileReader::open(path, &OpenOptions::default()) {
        Err(e) => run.error = Some(e.to_string()),
        Ok(reader) => {
            run.format = Some(reader.format());
            for item in reader {
                match item {
                    Item::Process(event) => {
                        run.process_events += 1;
                        if let Some(found) = detector.detect(&event.row) {
                            for rule in found.rules {
                                run.matches[rule] += 1;
                            }
                        }
                    }
                    Item::Skipped(_) => {}
                    Item::Malformed(_) => run.malformed += 1,
                    Item::Unreadable(bad) => {
                        run.error = Some(format!("{}: {}", bad.position, bad.message));
                    }
                }
            }
        }
    }
    if run.malformed > 0 && run.error.is_none() && run.process_events == 0 {
        run.error = Some(format!(
            "{} malformed records and no process event",
            run.malformed
        ));
    }
    run.seconds = start.elapsed().as_secs_f64();
    run
}

fn plural(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
