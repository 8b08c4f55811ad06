//! Reader behaviour on hand-made inputs: encodings, wrappers, malformed records, follow
//! mode and resumption, gzip, forced formats, and arbitrary bytes (no panics).

use std::io::Write;
use std::path::Path;

use crate::support::ingest::{kinds, write};
use crate::support::shared;
use netdiscover::ingest::{CimField, FileReader, Format, IngestError, Item, OpenOptions, Position};

const SYSMON_NETSH: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID><TimeCreated SystemTime='2024-05-01T10:00:00.000000Z'/><EventRecordID>11</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>ws01</Computer></System><EventData><Data Name='Image'>C:\\Windows\\System32\\netsh.exe</Data><Data Name='CommandLine'>netsh interface portproxy add v4tov4 listenport=8080 connectaddress=10.0.0.5 &amp; echo done</Data><Data Name='ProcessId'>4242</Data></EventData></Event>";
const SECURITY_4624: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Security-Auditing'/><EventID>4624</EventID><EventRecordID>12</EventRecordID><Channel>Security</Channel><Computer>ws01</Computer></System><EventData><Data Name='TargetUserName'>bob</Data></EventData></Event>";

fn items(path: &Path, options: &OpenOptions) -> Vec<Item> {
    FileReader::open(path, options).unwrap().collect()
}

fn utf16le(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

#[test]
fn utf16_with_bom_wrapped_in_events_reads_like_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n<Events>\r\n{SYSMON_NETSH}\r\n{SECURITY_4624}\r\n</Events>\r\n");
    let utf8 = write(dir.path(), "a.xml", text.as_bytes());
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(utf16le(&text));
    let utf16 = write(dir.path(), "b.xml", &bytes);
    let a = items(&utf8, &OpenOptions::default());
    let b = items(&utf16, &OpenOptions::default());
    assert_eq!(kinds(&a), "PS");
    assert_eq!(kinds(&b), "PS");
    let (Item::Process(pa), Item::Process(pb)) = (&a[0], &b[0]) else {
        panic!()
    };
    assert_eq!(pa.row, pb.row);
    assert_eq!(
        pb.row.get(CimField::Process),
        "netsh interface portproxy add v4tov4 listenport=8080 connectaddress=10.0.0.5 & echo done"
    );
    // Offsets are those of the file: the UTF-16 event starts at twice the UTF-8 offset plus the BOM.
    let Position::Offset(o8) = pa.position else {
        panic!()
    };
    assert_eq!(pb.position, Position::Offset(2 + 2 * o8));
}

#[test]
fn malformed_records_are_reported_with_offsets_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "<Event><System><EventID>1</EventID></Sys></Event>";
    let text = format!(
        "{SYSMON_NETSH}\n{broken}\n<Event><System>cut short\n{SECURITY_4624}\n{SYSMON_NETSH}\n"
    );
    let path = write(dir.path(), "m.xml", text.as_bytes());
    let got = items(&path, &OpenOptions::default());
    assert_eq!(kinds(&got), "PMMSP");
    let Item::Malformed(m) = &got[1] else {
        panic!()
    };
    assert_eq!(m.position, Position::Offset(SYSMON_NETSH.len() as u64 + 1));
    let Item::Malformed(cut) = &got[2] else {
        panic!()
    };
    assert_eq!(
        cut.position,
        Position::Offset((SYSMON_NETSH.len() + broken.len() + 2) as u64)
    );
    assert!(cut.message.contains("truncated"), "{}", cut.message);
}

#[test]
fn follow_mode_waits_for_an_incomplete_trailing_event() {
    let dir = tempfile::tempdir().unwrap();
    let half = &SYSMON_NETSH[..100];
    let path = write(
        dir.path(),
        "f.xml",
        format!("{SYSMON_NETSH}\n{SECURITY_4624}\n{half}").as_bytes(),
    );
    // Not following: the cut event is malformed.
    assert_eq!(kinds(&items(&path, &OpenOptions::default())), "PSM");
    // Following: it is left for later.
    let follow = OpenOptions {
        follow: true,
        ..OpenOptions::default()
    };
    let mut reader = FileReader::open(&path, &follow).unwrap();
    assert_eq!(kinds(&reader.by_ref().collect::<Vec<_>>()), "PS");
    let resume = reader.resume_point();
    assert_eq!(
        resume,
        Position::Offset((SYSMON_NETSH.len() + 1 + SECURITY_4624.len()) as u64)
    );
    // The writer finishes the event; reading resumes exactly there.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(&SYSMON_NETSH.as_bytes()[100..]).unwrap();
    file.write_all(b"\n").unwrap();
    let rest = items(
        &path,
        &OpenOptions {
            resume: Some(resume),
            follow: true,
            ..OpenOptions::default()
        },
    );
    assert_eq!(kinds(&rest), "P");
}

/// A JSON line is whole once its object closes: a writer that stopped may never add the
/// newline. Following, a line cut inside its object still waits.
#[test]
fn ndjson_last_line_is_read_once_its_object_is_whole_newline_or_not() {
    let dir = tempfile::tempdir().unwrap();
    let line = r#"{"event_simpleName":"ProcessRollup2","id":"a1","timestamp":"1714557600000","ImageFileName":"\\Device\\HarddiskVolume2\\Windows\\System32\\NETSTAT.EXE","CommandLine":"netstat -ano","RawProcessId":"100","aid":"x"}"#;
    let follow = OpenOptions {
        follow: true,
        ..OpenOptions::default()
    };
    let path = write(dir.path(), "c.json", format!("{line}\n\n{line}").as_bytes());
    assert_eq!(kinds(&items(&path, &OpenOptions::default())), "PP");
    let mut reader = FileReader::open(&path, &follow).unwrap();
    assert_eq!(kinds(&reader.by_ref().collect::<Vec<_>>()), "PP");
    assert_eq!(
        reader.resume_point(),
        Position::Offset(2 * line.len() as u64 + 2)
    );
    let cut = &line[..line.len() - 1];
    let path = write(dir.path(), "d.json", format!("{line}\n{cut}").as_bytes());
    let mut reader = FileReader::open(&path, &follow).unwrap();
    assert_eq!(kinds(&reader.by_ref().collect::<Vec<_>>()), "P");
    assert_eq!(
        reader.resume_point(),
        Position::Offset(line.len() as u64 + 1)
    );
}

#[test]
fn crowdstrike_gzip_is_addressed_by_record_number() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for (i, name) in ["ProcessRollup2", "DnsRequest", "ProcessRollup2"]
        .iter()
        .enumerate()
    {
        text.push_str(&format!("{{\"event_simpleName\":\"{name}\",\"id\":\"r{i}\",\"CommandLine\":\"x\",\"ImageFileName\":\"a\\\\b.exe\"}}\n"));
    }
    text.push_str("{not json\n");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let path = write(dir.path(), "fdr.gz", &gz.finish().unwrap());
    assert_eq!(
        netdiscover::ingest::detect_format(&path).unwrap(),
        Format::CrowdStrike
    );
    let got = items(&path, &OpenOptions::default());
    assert_eq!(kinds(&got), "PSPM");
    let Item::Malformed(m) = &got[3] else {
        panic!()
    };
    assert_eq!(m.position, Position::Record(4));
    let resumed = items(
        &path,
        &OpenOptions {
            resume: Some(Position::Record(2)),
            ..OpenOptions::default()
        },
    );
    assert_eq!(resumed, got[2..]);
    let err = FileReader::open(
        &path,
        &OpenOptions {
            resume: Some(Position::Offset(10)),
            ..OpenOptions::default()
        },
    );
    assert!(matches!(err, Err(IngestError::Resume { .. })));
}

#[test]
fn truncated_gzip_ends_with_an_unreadable_item_after_what_it_could_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for _ in 0..2000 {
        text.push_str(SYSMON_NETSH);
        text.push('\n');
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    let path = write(dir.path(), "t.xml.gz", &bytes[..bytes.len() / 2]);
    let got = items(&path, &OpenOptions::default());
    assert!(got.len() > 10 && got.len() < 2000, "{}", got.len());
    assert!(
        matches!(got.last(), Some(Item::Unreadable(_))),
        "{:?}",
        got.last()
    );
    assert!(got[..got.len() - 1]
        .iter()
        .all(|i| matches!(i, Item::Process(_) | Item::Malformed(_))));
}

#[test]
fn cim_csv_with_quoted_multiline_fields_and_a_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    let text = "\u{feff}_time,dest,user,Processes.process_name,Processes.process\r\n\
        2024-05-01 10:00:00,ws01,CORP\\amy,netstat.exe,netstat -ano\r\n\
        2024-05-01 10:00:01,ws01,CORP\\amy,netsh.exe,\"netsh interface portproxy add v4tov4\r\nlistenport=1\"\r\n\
        only,three,fields\r\n";
    let path = write(dir.path(), "p.csv", text.as_bytes());
    assert_eq!(
        netdiscover::ingest::detect_format(&path).unwrap(),
        Format::Csv
    );
    let got = items(&path, &OpenOptions::default());
    assert_eq!(kinds(&got), "PPM");
    let Item::Process(second) = &got[1] else {
        panic!()
    };
    assert_eq!(
        second.row.get(CimField::Process),
        "netsh interface portproxy add v4tov4\r\nlistenport=1"
    );
    // Resuming mid-file still knows the header.
    let resume = match &got[1] {
        Item::Process(p) => p.position,
        _ => unreachable!(),
    };
    assert_eq!(
        kinds(&items(
            &path,
            &OpenOptions {
                resume: Some(resume),
                ..OpenOptions::default()
            }
        )),
        "PM"
    );
}

#[test]
fn forced_and_unknown_formats() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "x.txt", b"hello world\n");
    assert!(matches!(
        FileReader::open(&path, &OpenOptions::default()),
        Err(IngestError::UnknownFormat { .. })
    ));
    let forced = OpenOptions {
        format: Some(Format::CrowdStrike),
        ..OpenOptions::default()
    };
    assert_eq!(kinds(&items(&path, &forced)), "M");
    let as_csv = OpenOptions {
        format: Some(Format::Csv),
        ..OpenOptions::default()
    };
    assert!(matches!(
        FileReader::open(&path, &as_csv),
        Err(IngestError::CsvHeader { .. })
    ));
    let fake_evtx = write(
        dir.path(),
        "bad.evtx",
        b"ElfFile\0 but nothing else of an EVTX file",
    );
    assert!(matches!(
        FileReader::open(&fake_evtx, &OpenOptions::default()),
        Err(IngestError::Evtx { .. })
    ));
    assert!(matches!(
        FileReader::open(&dir.path().join("missing.xml"), &OpenOptions::default()),
        Err(IngestError::Open { .. })
    ));
}

/// A plain file read in part and then gzipped by rotation resumes, compressed, where the
/// plain file stood: a decompressed byte offset becomes a record count.
#[test]
fn a_gzip_file_resumes_at_the_decompressed_offset_of_its_plain_original() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("{SYSMON_NETSH}\n{SECURITY_4624}\n{SYSMON_NETSH}\n");
    let plain = write(dir.path(), "app.xml.1", text.as_bytes());
    let follow = OpenOptions {
        follow: true,
        ..OpenOptions::default()
    };
    let mut reader = FileReader::open(&plain, &follow).unwrap();
    assert_eq!(kinds(&reader.by_ref().take(2).collect::<Vec<_>>()), "PS");
    let stood = reader.resume_point();
    assert!(matches!(stood, Position::Offset(_)));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    let compressed = write(dir.path(), "app.xml.1.gz", &gz);
    let at_stood = OpenOptions {
        resume: Some(stood),
        ..follow.clone()
    };
    let mut reader = FileReader::open(&compressed, &at_stood).unwrap();
    assert_eq!(reader.resume_point(), Position::Record(2));
    assert_eq!(kinds(&reader.by_ref().collect::<Vec<_>>()), "P");
    assert_eq!(reader.resume_point(), Position::Record(3));
    // Still being written, the gzip file is not complete yet: no error, try later.
    let cut = write(dir.path(), "cut.xml.gz", &gz[..gz.len() / 3]);
    match FileReader::open(&cut, &at_stood) {
        Err(IngestError::Incomplete { .. }) => {}
        Ok(mut reader) => {
            assert!(reader.by_ref().all(|i| !matches!(i, Item::Malformed(_))));
            assert_eq!(reader.resume_point(), Position::Record(2));
        }
        Err(e) => panic!("{e}"),
    }
}

/// Following, an EVTX file shorter than its header promises (a copy in progress) is not
/// read in part: record numbers would count what a later read finds in the same place.
#[test]
fn a_partial_evtx_copy_is_incomplete_when_following() {
    let Some(path) =
        shared("datasets/evtx/atomic-evtx__System_Information_Discovery_2_Sysmon.evtx")
    else {
        return;
    };
    let bytes = std::fs::read(&path).expect("read the export");
    let dir = tempfile::tempdir().unwrap();
    let follow = OpenOptions {
        follow: true,
        ..OpenOptions::default()
    };
    for cut in [2000, 4096 + 2 * 65536, 4096 + 5 * 65536 + 700] {
        let p = write(dir.path(), "copy.evtx", &bytes[..cut]);
        assert!(
            matches!(
                FileReader::open(&p, &follow),
                Err(IngestError::Incomplete { .. })
            ),
            "cut at {cut}"
        );
    }
    let whole = write(dir.path(), "copy.evtx", &bytes);
    let got = items(&whole, &follow);
    assert!(got.iter().all(|i| !matches!(i, Item::Malformed(_))));
    assert_eq!(got.len(), items(&path, &OpenOptions::default()).len());
}

#[test]
fn a_truncated_evtx_is_read_up_to_the_damage_without_panicking() {
    let Some(path) = shared("datasets/evtx/sbousseaden__panache_sysmon_vs_EDRTestingScript.evtx")
    else {
        return;
    };
    let bytes = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for cut in [4096 + 30_000, bytes.len() - 1000] {
        let mut damaged = bytes[..cut].to_vec();
        // Scribble over the middle of the first chunk too.
        for b in &mut damaged[9000..9400] {
            *b = 0xAB;
        }
        let p = write(dir.path(), "d.evtx", &damaged);
        let got = items(&p, &OpenOptions::default());
        assert!(
            got.iter().any(|i| matches!(i, Item::Malformed(_))),
            "cut {cut}: damage must be reported"
        );
    }
}

mod no_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        #[test]
        fn arbitrary_bytes_in_any_format(data in proptest::collection::vec(any::<u8>(), 0..600), seed in 0usize..5) {
            let dir = tempfile::tempdir().unwrap();
            let prefixes: [&[u8]; 5] = [b"<Event>", b"{\"Event\":", b"{\"event_simpleName\":", b"process,process_name\n", b"ElfFile\0"];
            let mut bytes = prefixes[seed].to_vec();
            bytes.extend(&data);
            let path = write(dir.path(), "f", &bytes);
            for format in Format::ALL {
                for follow in [false, true] {
                    let options = OpenOptions { format: Some(format), follow, ..OpenOptions::default() };
                    if let Ok(reader) = FileReader::open(&path, &options) {
                        let _ = reader.count();
                    }
                }
            }
        }
    }
}

#[test]
fn damaged_evtx_copies_never_stop_a_reader_with_a_panic() {
    let Some(path) = shared("datasets/evtx/sbousseaden__powercat_revShell_sysmon_1_3.evtx") else {
        return;
    };
    let original = std::fs::read(&path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("damaged.evtx");
    // A fixed linear congruential sequence: reproducible damage without a random crate.
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for _ in 0..40 {
        let mut bytes = original.clone();
        for _ in 0..(1 + next() % 64) {
            // The file header is left intact so that the damaged chunks get parsed.
            let at = 4096 + next() % (bytes.len() - 4096);
            bytes[at] = next() as u8;
        }
        std::fs::write(&target, &bytes).unwrap();
        if let Ok(reader) = FileReader::open(&target, &OpenOptions::default()) {
            let items: Vec<Item> = reader.collect();
            assert!(items.len() <= 10_000);
        }
    }
}
