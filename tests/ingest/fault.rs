//! File-side fault tests: damaged EVTX, XML cut mid-element, JSON lines with wrong types,
//! invalid UTF-8 and UTF-16 surrogate halves. Each bad record must come out as
//! `Item::Malformed` at its own position, and the good records around it must still come out.
//! (The 100 MB single line lives in `fault_huge_line.rs` and runs in a process of its own, so
//! its memory measurement is not disturbed by other tests.)

use std::path::Path;

use crate::support::ingest::{assert_at_offsets, kinds, ndjson, write};
use crate::support::shared;
use netdiscover::ingest::{CimField, FileReader, Format, Item, OpenOptions, Position};

const SYSMON_NETSTAT: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><TimeCreated SystemTime='2024-05-01T10:00:00.000000Z'/><EventRecordID>21</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>ws01</Computer></System><EventData><Data Name='Image'>C:\\Windows\\System32\\NETSTAT.EXE</Data><Data Name='CommandLine'>netstat -ano</Data><Data Name='ProcessId'>100</Data><Data Name='ParentImage'>C:\\Windows\\System32\\cmd.exe</Data></EventData></Event>";
const SYSMON_NETSH: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><TimeCreated SystemTime='2024-05-01T10:00:01.000000Z'/><EventRecordID>22</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>ws01</Computer></System><EventData><Data Name='Image'>C:\\Windows\\System32\\netsh.exe</Data><Data Name='CommandLine'>netsh interface portproxy add v4tov4 listenport=8080</Data><Data Name='ProcessId'>200</Data></EventData></Event>";

fn read(path: &Path, format: Option<Format>) -> Vec<Item> {
    let options = OpenOptions {
        format,
        ..OpenOptions::default()
    };
    FileReader::open(path, &options).unwrap().collect()
}

fn position(item: &Item) -> Position {
    match item {
        Item::Process(e) => e.position,
        Item::Skipped(s) => s.position,
        Item::Malformed(m) | Item::Unreadable(m) => m.position,
    }
}

/// Reads `(line, expected kind letter)` pairs written as one JSON-lines file and checks each
/// item's kind and that it sits at its line's offset.
fn read_lines(dir: &Path, name: &str, lines: &[(&str, char)], format: Format) -> Vec<Item> {
    let texts: Vec<&str> = lines.iter().map(|(line, _)| *line).collect();
    let (path, offsets) = ndjson(dir, name, &texts);
    let got = read(&path, Some(format));
    let expected: String = lines.iter().map(|(_, k)| *k).collect();
    assert_eq!(kinds(&got), expected, "{got:#?}");
    assert_at_offsets(&got, &offsets, position);
    got
}

fn process_of(item: &Item) -> &str {
    match item {
        Item::Process(e) => e.row.get(CimField::Process),
        other => panic!("expected a process row, got {other:?}"),
    }
}

/// Every cut of a Sysmon event, at every byte: the event before and the event after still
/// come out, and the cut one is reported at its own offset. This is what a log rotated or
/// copied while being written looks like.
#[test]
fn xml_cut_mid_element_at_every_byte_keeps_the_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let cut_at = SYSMON_NETSTAT.len() + 1;
    for cut in 1..SYSMON_NETSH.len() - 1 {
        let text = format!(
            "{SYSMON_NETSTAT}\n{}\n{SYSMON_NETSTAT}\n",
            &SYSMON_NETSH[..cut]
        );
        let path = write(dir.path(), "cut.xml", text.as_bytes());
        let got = read(&path, Some(Format::Xml));
        let kinds = kinds(&got);
        // One report for the cut event; two when the cut ends on `<Event` of `<EventID` and
        // the fragment's tail itself looks like a start tag. Never fewer, never a lost event.
        assert!(
            kinds == "PMP" || kinds == "PMMP",
            "cut after {cut} bytes ({:?}): {got:?}",
            &SYSMON_NETSH[..cut]
        );
        let last = got.len() - 1;
        assert_eq!(process_of(&got[0]), "netstat -ano");
        assert_eq!(process_of(&got[last]), "netstat -ano");
        assert_eq!(
            position(&got[1]),
            Position::Offset(cut_at as u64),
            "cut after {cut} bytes: {got:?}"
        );
        for extra in &got[2..last] {
            let Position::Offset(o) = position(extra) else {
                panic!("{extra:?}")
            };
            assert!(o > cut_at as u64 && o < (cut_at + cut) as u64, "{extra:?}");
        }
        assert_eq!(
            position(&got[last]),
            Position::Offset((cut_at + cut + 1) as u64)
        );
    }
}

/// The same cut at the end of a file: the tail is reported, everything before it read.
#[test]
fn xml_cut_at_end_of_file_reports_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    for cut in [1, 7, 100, SYSMON_NETSH.len() - 3] {
        let text = format!("{SYSMON_NETSTAT}\n{}", &SYSMON_NETSH[..cut]);
        let path = write(dir.path(), "tail.xml", text.as_bytes());
        let got = read(&path, Some(Format::Xml));
        assert_eq!(kinds(&got), "PM", "cut {cut}: {got:?}");
        assert_eq!(
            position(&got[1]),
            Position::Offset(SYSMON_NETSTAT.len() as u64 + 1)
        );
        let Item::Malformed(m) = &got[1] else {
            unreachable!()
        };
        assert!(
            m.message.contains("Event"),
            "message names the problem: {m:?}"
        );
    }
}

/// Invalid UTF-8 inside a value: the record is still read (the bad bytes become U+FFFD,
/// as Splunk shows them), and nothing around it is lost.
#[test]
fn invalid_utf8_in_xml_is_replaced_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = Vec::new();
    bytes.extend(SYSMON_NETSTAT.as_bytes());
    bytes.push(b'\n');
    let bad = SYSMON_NETSH.replace("listenport=8080", "listenport=\u{1}BAD");
    bytes.extend(bad.as_bytes());
    // Replace the marker by a lone continuation byte, an overlong NUL and a cut 3-byte char.
    let at = bytes.windows(4).position(|w| w == b"\x01BAD").unwrap();
    bytes.splice(at..at + 4, [0x80, 0xC0, 0x80, 0xE2, 0x82]);
    bytes.push(b'\n');
    bytes.extend(SYSMON_NETSTAT.as_bytes());
    let path = write(dir.path(), "utf8.xml", &bytes);
    let got = read(&path, None);
    assert_eq!(kinds(&got), "PPP", "{got:?}");
    let process = process_of(&got[1]);
    assert!(process.starts_with("netsh interface portproxy add v4tov4 listenport="));
    assert!(process.contains('\u{FFFD}'), "{process:?}");
}

/// Invalid UTF-8 in an NDJSON line: JSON must be UTF-8, so the line is malformed, with the
/// byte offset of the line, and the lines around it are read.
#[test]
fn invalid_utf8_in_ndjson_is_reported_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let good = br#"{"event_simpleName":"ProcessRollup2","id":"a","timestamp":"1714557600000","ImageFileName":"\\Device\\HarddiskVolume2\\Windows\\System32\\NETSTAT.EXE","CommandLine":"netstat -ano","RawProcessId":"100","aid":"x"}"#;
    let mut bytes = good.to_vec();
    bytes.push(b'\n');
    let bad_at = bytes.len() as u64;
    bytes.extend(br#"{"event_simpleName":"ProcessRollup2","CommandLine":"net"#);
    bytes.extend([0xFF, 0xFE, 0xC3]);
    bytes.extend(b"\"}\n");
    bytes.extend(good);
    bytes.push(b'\n');
    let path = write(dir.path(), "utf8.ndjson", &bytes);
    let got = read(&path, None);
    assert_eq!(kinds(&got), "PMP", "{got:?}");
    assert_eq!(position(&got[1]), Position::Offset(bad_at));
    assert_eq!(process_of(&got[2]), "netstat -ano");
}

fn utf16le_units(units: &[u16]) -> Vec<u8> {
    units.iter().flat_map(|u| u.to_le_bytes()).collect()
}

/// UTF-16 with unpaired surrogate halves (a high half with no low half, a lone low half):
/// each becomes U+FFFD; the event and its neighbours are read, and offsets stay those of the
/// file.
#[test]
fn utf16_surrogate_halves_are_replaced_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut units: Vec<u16> = Vec::new();
    units.extend(SYSMON_NETSTAT.encode_utf16());
    units.extend("\r\n".encode_utf16());
    let second_at = 2 + 2 * units.len() as u64;
    let bad = SYSMON_NETSH.replace("8080", "\u{1}");
    for u in bad.encode_utf16() {
        if u == 1 {
            units.extend([0xD800, b'x' as u16, 0xDC00]);
        } else {
            units.push(u);
        }
    }
    units.extend("\r\n".encode_utf16());
    let third_at = 2 + 2 * units.len() as u64;
    units.extend(SYSMON_NETSTAT.encode_utf16());
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(utf16le_units(&units));
    let path = write(dir.path(), "utf16.xml", &bytes);
    let got = read(&path, None);
    assert_eq!(kinds(&got), "PPP", "{got:?}");
    assert_eq!(
        process_of(&got[1]),
        "netsh interface portproxy add v4tov4 listenport=\u{FFFD}x\u{FFFD}"
    );
    assert_eq!(position(&got[1]), Position::Offset(second_at));
    assert_eq!(position(&got[2]), Position::Offset(third_at));
}

/// A UTF-16 file that ends in half a code unit (an odd byte count, a copy cut mid-character):
/// what precedes is read; the odd byte is not mistaken for an event.
#[test]
fn utf16_file_ending_in_half_a_code_unit() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(utf16le_units(
        &format!("{SYSMON_NETSTAT}\r\n{SYSMON_NETSH}")
            .encode_utf16()
            .collect::<Vec<_>>(),
    ));
    let whole = read(&write(dir.path(), "whole.xml", &bytes), None);
    assert_eq!(kinds(&whole), "PP");
    // Cut the last event in its middle, at an odd byte.
    let cut = bytes.len() - 101;
    let got = read(&write(dir.path(), "odd.xml", &bytes[..cut]), None);
    assert_eq!(kinds(&got), "PM", "{got:?}");
    assert_eq!(got[0], whole[0]);
    assert_eq!(position(&got[1]), position(&whole[1]));
}

/// CrowdStrike lines whose fields have the wrong JSON type. Numbers where strings are
/// expected are read (exports do that); structures where a scalar is expected leave the
/// field empty; a line that is no object, or whose `event_simpleName` is no string, is
/// malformed at its offset. No line is dropped in silence and the good lines are read.
#[test]
fn crowdstrike_lines_with_wrong_types() {
    let dir = tempfile::tempdir().unwrap();
    let lines: [(&str, char); 9] = [
        (
            r#"{"event_simpleName":"ProcessRollup2","id":"1","timestamp":"1714557600000","ImageFileName":"\\Device\\HarddiskVolume2\\Windows\\System32\\NETSTAT.EXE","CommandLine":"netstat -ano","RawProcessId":"100","aid":"x"}"#,
            'P',
        ),
        (
            r#"{"event_simpleName":"ProcessRollup2","timestamp":1714557600000,"RawProcessId":100,"ParentProcessId":1.5e3,"CommandLine":"netstat -ano"}"#,
            'P',
        ),
        (
            r#"{"event_simpleName":"ProcessRollup2","CommandLine":["netstat","-ano"],"RawProcessId":{"v":1},"timestamp":null,"UserSid":true}"#,
            'P',
        ),
        (
            r#"{"event_simpleName":"ProcessRollup2","timestamp":"not a time","RawProcessId":"-1","CommandLine":"netstat -ano"}"#,
            'P',
        ),
        (
            r#"{"event_simpleName":["ProcessRollup2"],"CommandLine":"netstat -ano"}"#,
            'M',
        ),
        (r#"{"event_simpleName":null}"#, 'M'),
        (r#"["ProcessRollup2","netstat -ano"]"#, 'M'),
        (r#""ProcessRollup2""#, 'M'),
        (
            r#"{"event_simpleName":"ProcessRollup2","CommandLine":"netstat -ano""#,
            'M',
        ),
    ];
    let got = read_lines(dir.path(), "cs.ndjson", &lines, Format::CrowdStrike);
    let Item::Process(numbers) = &got[1] else {
        unreachable!()
    };
    assert_eq!(numbers.row.get(CimField::ProcessId), "100");
    assert_eq!(
        numbers.row.get(CimField::Time),
        "2024-05-01T10:00:00.000000Z"
    );
    let Item::Process(structures) = &got[2] else {
        unreachable!()
    };
    assert_eq!(structures.row.get(CimField::Process), "");
    assert_eq!(structures.row.get(CimField::ProcessId), "");
}

/// Publisher JSON lines with wrong types: an `EventID` that is an object without `#text`, a
/// `System` that is a string, `Data` that is a number. Each is reported or read, never lost,
/// and the good events around them are read.
#[test]
fn publisher_json_lines_with_wrong_types() {
    let good = r##"{"Event":{"System":{"Provider":{"@Name":"Microsoft-Windows-Sysmon"},"EventID":1,"Computer":"ws01","TimeCreated":{"@SystemTime":"2024-05-01T10:00:00Z"}},"EventData":{"Data":[{"@Name":"Image","#text":"C:\\Windows\\System32\\NETSTAT.EXE"},{"@Name":"CommandLine","#text":"netstat -ano"}]}}}"##;
    let lines: [(&str, char); 7] = [
        (good, 'P'),
        (r##"{"Event":{"System":"Sysmon","EventData":{}}}"##, 'M'),
        (
            r##"{"Event":{"System":{"EventID":{"@Qualifiers":"0"}},"EventData":{}}}"##,
            'M',
        ),
        (
            r##"{"Event":{"System":{"Provider":{"@Name":"Microsoft-Windows-Sysmon"},"EventID":"1"},"EventData":{"Data":42}}}"##,
            'P',
        ),
        (r##"{"Event":[1,2,3]}"##, 'M'),
        (
            r##"{"Event":{"System":{"Provider":{"@Name":"Microsoft-Windows-Sysmon"},"EventID":[1]},"EventData":{"Data":[{"@Name":7,"#text":{"x":1}}]}}}"##,
            'P',
        ),
        (good, 'P'),
    ];
    let dir = tempfile::tempdir().unwrap();
    let got = read_lines(dir.path(), "pub.ndjson", &lines, Format::PublisherJson);
    assert_eq!(process_of(&got[6]), "netstat -ano");
}

/// The records of an intact EVTX, as (kind, process) pairs, for comparing with damaged copies.
fn evtx_records(path: &Path) -> Vec<Item> {
    read(path, Some(Format::Evtx))
}

/// Truncated EVTX: cut inside the file header, right after it, in the middle of the first
/// chunk's records, and just before the end of a chunk. The file either fails to open with
/// a clear `not a valid EVTX file` error (header damage) or yields every record it can and
/// then reports the truncated chunk by record number, once.
#[test]
fn truncated_evtx_chunks() {
    let Some(source) = shared("datasets/evtx/sbousseaden__panache_sysmon_vs_EDRTestingScript.evtx")
    else {
        return;
    };
    let bytes = std::fs::read(&source).unwrap();
    let whole = evtx_records(&source);
    assert!(whole.len() > 100, "{}", whole.len());
    assert!(whole.iter().all(|i| !matches!(i, Item::Malformed(_))));
    let dir = tempfile::tempdir().unwrap();

    // Header damage: not an EVTX at all, said so.
    for cut in [0usize, 7, 100, 4095] {
        let path = write(dir.path(), "h.evtx", &bytes[..cut]);
        match FileReader::open(
            &path,
            &OpenOptions {
                format: Some(Format::Evtx),
                ..OpenOptions::default()
            },
        ) {
            Err(e) => assert!(
                e.to_string().contains("EVTX") || e.to_string().contains("format"),
                "cut {cut}: {e}"
            ),
            Ok(reader) => {
                let got: Vec<Item> = reader.collect();
                assert!(
                    got.iter()
                        .all(|i| matches!(i, Item::Malformed(_) | Item::Unreadable(_))),
                    "cut {cut}: {got:?}"
                );
            }
        }
    }

    // Chunk damage: the whole chunks before the cut come out unchanged, then one report.
    let chunk = 65536usize;
    for cut in [
        4096 + 1,
        4096 + 512,
        4096 + chunk / 2,
        4096 + chunk + 9000,
        4096 + 2 * chunk - 1,
    ] {
        let path = write(dir.path(), "t.evtx", &bytes[..cut]);
        let got = evtx_records(&path);
        let whole_chunks = (cut - 4096) / chunk;
        let intact = got
            .iter()
            .take_while(|i| !matches!(i, Item::Malformed(_)))
            .count();
        assert_eq!(&got[..intact], &whole[..intact], "cut {cut}");
        if whole_chunks > 0 {
            assert!(intact > 0, "cut {cut}: the whole first chunk must be read");
        }
        let bad: Vec<&Item> = got[intact..].iter().collect();
        assert_eq!(
            bad.len(),
            1,
            "cut {cut}: one report for the cut chunk: {bad:?}"
        );
        let Item::Malformed(m) = bad[0] else {
            unreachable!()
        };
        assert_eq!(m.position, Position::Record(intact as u64 + 1), "cut {cut}");
        assert!(m.message.contains("truncated"), "cut {cut}: {}", m.message);
    }
}

/// A scribbled-over record in the middle of a chunk: the records before it come out as in
/// the intact file, the damage is reported with a record number, and the chunks after the
/// damaged one are read in full.
#[test]
fn corrupt_evtx_record_in_the_middle_of_a_chunk() {
    let Some(source) = shared("datasets/evtx/sbousseaden__panache_sysmon_vs_EDRTestingScript.evtx")
    else {
        return;
    };
    let mut bytes = std::fs::read(&source).unwrap();
    let whole = evtx_records(&source);
    // Damage the middle of the second chunk only.
    let chunk2 = 4096 + 65536;
    for b in &mut bytes[chunk2 + 20_000..chunk2 + 20_400] {
        *b = 0xAB;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "c.evtx", &bytes);
    let got = evtx_records(&path);
    let first_bad = got
        .iter()
        .position(|i| matches!(i, Item::Malformed(_)))
        .expect("the damage is reported");
    assert!(first_bad > 0);
    assert_eq!(&got[..first_bad], &whole[..first_bad]);
    let Item::Malformed(m) = &got[first_bad] else {
        unreachable!()
    };
    assert!(matches!(m.position, Position::Record(n) if n > 0), "{m:?}");
    // Records of the third and later chunks are all there: the tail of `got` equals the tail
    // of the intact file (record numbers may shift if the damaged chunk lost records).
    let processes = |items: &[Item]| -> Vec<String> {
        items
            .iter()
            .filter_map(|i| match i {
                Item::Process(e) => Some(e.row.get(CimField::Process).to_string()),
                _ => None,
            })
            .collect()
    };
    let tail = 20;
    let got_p = processes(&got);
    let whole_p = processes(&whole);
    assert!(whole_p.len() > tail);
    assert_eq!(
        got_p[got_p.len() - tail..],
        whole_p[whole_p.len() - tail..],
        "the chunks after the damage are read"
    );
}

/// What a user of `netdiscover scan` sees for a file with a cut event between two good ones:
/// one `malformed record` line naming the file and byte offset, the good events matched, the
/// summary counting the bad record; exit 1 (a match), or 2 with `--strict`.
#[test]
fn scan_reports_the_bad_record_and_matches_the_good_ones() {
    let dir = tempfile::tempdir().unwrap();
    let cut_at = SYSMON_NETSH.len() + 1;
    let text = format!(
        "{SYSMON_NETSH}\n{}\n{SYSMON_NETSH}\n",
        &SYSMON_NETSTAT[..200]
    );
    let path = write(dir.path(), "cut.xml", text.as_bytes());
    for (strict, code) in [(false, 1), (true, 2)] {
        let mut command = crate::support::command(crate::support::netdiscover_exe());
        command.arg("scan").arg("--no-progress");
        if strict {
            command.arg("--strict");
        }
        let out = command.arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(code), "{stderr}");
        let expected = format!(
            "malformed record: {}: byte offset {cut_at}:",
            path.display()
        );
        assert!(stderr.contains(&expected), "{expected:?} in {stderr}");
        assert!(stderr.contains("1 malformed"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(
            stdout.matches("Windows Proxy Via Netsh").count(),
            2,
            "both good events match: {stdout}"
        );
    }
}
