//! `netdiscover scan` end to end: the binary over our sample data, bad input and
//! (when present) the shared datasets.

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_netdiscover"))
        .arg("scan")
        .args(args)
        .current_dir(root())
        .output()
        .expect("run netdiscover")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The number after `label` in the summary line that starts with `line_start`.
fn summary_number(err: &str, line_start: &str, label: &str) -> u64 {
    let line = err
        .lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no summary line {line_start:?} in:\n{err}"));
    let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let at = words
        .iter()
        .position(|w| *w == label)
        .unwrap_or_else(|| panic!("{label:?} not in {line:?}"));
    words[at - 1].parse().unwrap()
}

#[test]
fn examples_summary_counts_every_record() {
    let out = scan(&["examples/", "--output", "ndjson"]);
    let err = stderr(&out);
    assert_eq!(summary_number(&err, "files:", "read"), 3, "{err}");
    assert_eq!(summary_number(&err, "events:", "records"), 23, "{err}");
    assert_eq!(summary_number(&err, "events:", "process"), 20, "{err}");
    assert_eq!(summary_number(&err, "events:", "skipped"), 3, "{err}");
    assert_eq!(summary_number(&err, "events:", "malformed"), 0, "{err}");
    assert!(
        err.contains("skipped by event id: 3: 1, 4624: 1, DnsRequest: 1"),
        "{err}"
    );
}

#[test]
fn all_rows_in_every_machine_format() {
    let ndjson = scan(&["examples", "--all", "--output", "ndjson"]);
    let lines: Vec<serde_json::Value> = String::from_utf8(ndjson.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 20);
    for row in &lines {
        for field in netdiscover::ingest::CimField::ALL {
            assert!(row.get(field.name()).is_some(), "{field} missing in {row}");
        }
        assert!(row["detection"].is_array());
    }
    let pids: Vec<&str> = lines
        .iter()
        .filter(|r| r["record_id"] == "5001")
        .map(|r| r["process_id"].as_str().unwrap())
        .collect();
    assert_eq!(pids, ["6700"], "4688 hex pid 0x1a2c decoded");

    let json = scan(&["examples", "--all", "--output", "json"]);
    let array: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(array.as_array().unwrap().len(), 20);

    let csv_out = scan(&["examples", "--all", "--output", "csv"]);
    let mut reader = csv::Reader::from_reader(&csv_out.stdout[..]);
    assert!(reader
        .headers()
        .unwrap()
        .iter()
        .any(|h| h == "process_name"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 20);

    let table = scan(&["examples", "--all"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.lines().next().unwrap().starts_with("_time"));
    assert_eq!(text.lines().count(), 21);
    assert!(
        text.contains("examples/processes.csv @ byte offset 96"),
        "{text}"
    );
}

#[test]
fn malformed_records_are_reported_with_place_and_do_not_stop_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(root().join("examples/crowdstrike_processrollup2.ndjson")).unwrap();
    let first = good.lines().next().unwrap();
    let text = format!("{first}\n{{\"event_simpleName\": broken\n{first}\n");
    let path = dir.path().join("cs.ndjson");
    std::fs::write(&path, &text).unwrap();
    let path_arg = path.to_str().unwrap();
    let out = scan(&[path_arg, "--no-progress"]);
    let err = stderr(&out);
    let offset = first.len() + 1;
    assert!(
        err.contains(&format!(
            "malformed record: {path_arg}: byte offset {offset}: invalid JSON"
        )),
        "{err}"
    );
    assert_eq!(summary_number(&err, "events:", "process"), 2, "{err}");
    assert_eq!(summary_number(&err, "events:", "malformed"), 1, "{err}");
    assert_ne!(
        out.status.code(),
        Some(2),
        "malformed records alone are no error without --strict"
    );
    assert_eq!(scan(&[path_arg, "--strict"]).status.code(), Some(2));
}

#[test]
fn unreadable_inputs_and_bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"\x00\x01 not telemetry").unwrap();
    let out = scan(&[junk.to_str().unwrap(), "examples/processes.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("cannot tell the format"), "{err}");
    // The good file was still scanned.
    assert_eq!(summary_number(&err, "events:", "process"), 4, "{err}");

    let missing = scan(&["no/such/file.xml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no such file or directory"));

    let bad_format = scan(&["examples", "--format", "yaml"]);
    assert_eq!(bad_format.status.code(), Some(2));
    assert!(stderr(&bad_format).contains("expected one of: xml, evtx, json, crowdstrike, csv"));

    assert_eq!(scan(&[]).status.code(), Some(2), "PATH is required");
    assert_eq!(scan(&["--bogus", "examples"]).status.code(), Some(2));
    let help = scan(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit status"));
}

#[test]
fn forced_format_applies_to_every_file() {
    let out = scan(&["examples/processes.csv", "--format", "xml"]);
    let err = stderr(&out);
    assert_eq!(summary_number(&err, "events:", "malformed"), 1, "{err}");
}

#[test]
fn shared_datasets_scan_counts() {
    let shared = root().join("../shared/datasets");
    if !shared.is_dir() {
        eprintln!("SKIPPED: {} is absent", shared.display());
        return;
    }
    for (sub, records, process) in [
        // Sums of SOURCES.md's per-file counts.
        ("evtx", 2135, 617),
        ("xml", 2135, 617),
        ("json", 202, 106),
    ] {
        let dir = shared.join(sub);
        let out = scan(&[dir.to_str().unwrap(), "--output", "ndjson"]);
        let err = stderr(&out);
        assert_eq!(
            summary_number(&err, "events:", "records"),
            records,
            "{sub}: {err}"
        );
        assert_eq!(
            summary_number(&err, "events:", "process"),
            process,
            "{sub}: {err}"
        );
        assert_eq!(
            summary_number(&err, "events:", "malformed"),
            0,
            "{sub}: {err}"
        );
    }
}
