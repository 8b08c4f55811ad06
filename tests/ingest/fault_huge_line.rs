//! A 100 MB single record (an NDJSON line, an XML event) between good ones: it is skipped and
//! reported with its offset and length, the records around it are read, and the reader never
//! holds the record in memory. The test runs in a process of its own (`support::in_own_process`),
//! so the process's peak memory (VmHWM) is this test's own.

use std::io::{BufWriter, Write};
use std::path::Path;

use crate::support::in_own_process;
use crate::support::ingest::kinds;
use netdiscover::ingest::{CimField, FileReader, Format, Item, OpenOptions, Position};

const HUGE: usize = 100 * 1024 * 1024;

/// Peak resident memory of this process in KiB (Linux), if known.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn write_file(
    path: &Path,
    before: &[u8],
    filler_prefix: &[u8],
    filler_suffix: &[u8],
    after: &[u8],
) {
    let mut out = BufWriter::new(std::fs::File::create(path).unwrap());
    out.write_all(before).unwrap();
    out.write_all(filler_prefix).unwrap();
    let block = vec![b'A'; 1 << 20];
    for _ in 0..HUGE / block.len() {
        out.write_all(&block).unwrap();
    }
    out.write_all(filler_suffix).unwrap();
    out.write_all(after).unwrap();
    out.flush().unwrap();
}

fn check(path: &Path, format: Format, huge_at: u64, expected_process: &str) {
    let options = OpenOptions {
        format: Some(format),
        ..OpenOptions::default()
    };
    let items: Vec<Item> = FileReader::open(path, &options).unwrap().collect();
    assert_eq!(kinds(&items), "PMP", "{format}");
    for i in [0, 2] {
        let Item::Process(e) = &items[i] else {
            unreachable!()
        };
        assert_eq!(e.row.get(CimField::Process), expected_process);
    }
    let Item::Malformed(m) = &items[1] else {
        unreachable!()
    };
    assert_eq!(m.position, Position::Offset(huge_at), "{format}");
    assert!(
        m.message.contains("longer than") && m.message.contains("MiB"),
        "{}",
        m.message
    );
}

#[test]
fn a_100_mb_single_line_is_skipped_and_reported_without_being_held() {
    if !in_own_process(
        "fault_huge_line::a_100_mb_single_line_is_skipped_and_reported_without_being_held",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let before_kib = peak_rss_kib();

    let good = br#"{"event_simpleName":"ProcessRollup2","id":"a","timestamp":"1714557600000","ImageFileName":"\\Device\\HarddiskVolume2\\Windows\\System32\\NETSTAT.EXE","CommandLine":"netstat -ano","RawProcessId":"100","aid":"x"}
"#;
    let ndjson = dir.path().join("huge.ndjson");
    write_file(
        &ndjson,
        good,
        br#"{"event_simpleName":"ProcessRollup2","CommandLine":""#,
        b"\"}\n",
        good,
    );
    check(
        &ndjson,
        Format::CrowdStrike,
        good.len() as u64,
        "netstat -ano",
    );
    std::fs::remove_file(&ndjson).unwrap();

    let event = "<Event><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID></System><EventData><Data Name='CommandLine'>netstat -ano</Data></EventData></Event>\n";
    let xml = dir.path().join("huge.xml");
    write_file(
        &xml,
        event.as_bytes(),
        b"<Event><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID></System><EventData><Data Name='CommandLine'>",
        b"</Data></EventData></Event>\n",
        event.as_bytes(),
    );
    check(&xml, Format::Xml, event.len() as u64, "netstat -ano");

    // The record limit is 16 MiB; a reader holding the 100 MB record would peak far above it.
    if let (Some(before), Some(after)) = (before_kib, peak_rss_kib()) {
        let grown_mib = after.saturating_sub(before) / 1024;
        eprintln!("peak RSS grew by {grown_mib} MiB reading two 100 MB records");
        assert!(grown_mib < 64, "peak RSS grew by {grown_mib} MiB");
    }
}
