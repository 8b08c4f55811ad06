//! Checkpoints written by netdiscover_input before the one position model (state version 1)
//! still load and resume: the fixture `tests/fixtures/modinput/state-v1.json` was written by
//! that version over the corpus [`corpus`] builds (batch size 3, one poll), so resuming from
//! it must deliver exactly the records it had not delivered yet.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use netdiscover::ingest::Position;
use netdiscover::modinput::{stanza_key, Follower, Params, Stanza, Store};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/modinput/state-v1.json"
);
const STANZA: &str = "netdiscover_input://v1";

fn sysmon(pid: u32) -> String {
    format!(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\
         <Provider Name='Microsoft-Windows-Sysmon' Guid='5770385F-C22A-43E0-BF4C-06F5698FFBD9'/>\
         <EventID>1</EventID><TimeCreated SystemTime='2024-10-23T18:30:{:02}.369056Z'/>\
         <EventRecordID>{pid}</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel>\
         <Computer>WIN-V1</Computer></System><EventData>\
         <Data Name='ProcessId'>{pid}</Data><Data Name='Image'>C:\\Windows\\System32\\netsh.exe</Data>\
         <Data Name='CommandLine'>netsh interface show interface {pid}</Data><Data Name='User'>CORP\\analyst</Data>\
         </EventData></Event>\n",
        pid % 60
    )
}

fn falcon(pid: u32) -> String {
    format!(
        "{{\"event_simpleName\":\"ProcessRollup2\",\"id\":\"v1-{pid}\",\"timestamp\":\"{}\",\"ImageFileName\":\"\\\\Device\\\\HarddiskVolume2\\\\Windows\\\\System32\\\\NETSTAT.EXE\",\"CommandLine\":\"netstat -ano {pid}\",\"RawProcessId\":\"{pid}\",\"aid\":\"v1host\"}}\n",
        1714557600000u64 + pid as u64
    )
}

/// The four files the fixture describes: XML with a partial last record, CrowdStrike NDJSON,
/// gzip-compressed XML, and a small XML file read to its end.
fn corpus(dir: &Path) {
    let xml: String = (1001..=1010).map(sysmon).collect::<String>() + &sysmon(1011)[..200];
    std::fs::write(dir.join("sysmon.xml"), xml).unwrap();
    let json: String = (2001..=2010).map(falcon).collect();
    std::fs::write(dir.join("falcon.json"), json).unwrap();
    let gz_text: String = (3001..=3010).map(sysmon).collect();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(gz_text.as_bytes()).unwrap();
    std::fs::write(dir.join("sysmon.xml.gz"), gz.finish().unwrap()).unwrap();
    let done: String = (4001..=4002).map(sysmon).collect();
    std::fs::write(dir.join("done.xml"), done).unwrap();
}

fn stanza(data: &Path) -> Stanza {
    Stanza {
        name: STANZA.into(),
        params: [("path".to_string(), vec![data.display().to_string()])]
            .into_iter()
            .collect(),
    }
}

/// Puts `json` where the stanza's store reads its state.
fn install(checkpoints: &Path, json: &str) -> Store {
    let store = Store::open(checkpoints, STANZA).unwrap();
    std::fs::write(
        checkpoints.join(stanza_key(STANZA)).join("state.json"),
        json,
    )
    .unwrap();
    store
}

#[test]
fn a_v1_state_file_loads_into_the_one_position_model() {
    let dir = tempfile::tempdir().unwrap();
    let store = install(dir.path(), &std::fs::read_to_string(FIXTURE).unwrap());
    let (state, notes) = store.load().unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(state.version, 2);
    let by_name = |name: &str| {
        state
            .files
            .iter()
            .find(|f| f.path.ends_with(name))
            .unwrap_or_else(|| panic!("{name} in the fixture"))
    };
    assert_eq!(by_name("/done.xml").position, Position::Offset(1179));
    assert_eq!(by_name("/done.xml").drained.map(|d| d.len), Some(1180));
    assert_eq!(by_name("/falcon.json").position, Position::Offset(228));
    assert_eq!(by_name("/falcon.json").drained, None);
    assert_eq!(by_name("/sysmon.xml").position, Position::Offset(1769));
    let gz = by_name("/sysmon.xml.gz");
    assert_eq!(gz.position, Position::Record(3));
    assert_eq!(gz.fingerprint.head.len, 509);
    assert!(state.files.iter().all(|f| f.fingerprint.id.is_some()));
}

/// The same files on this machine, the fixture's device and inode numbers replaced by theirs
/// (nothing else changed): resuming delivers exactly what version 1 had not delivered.
#[test]
fn an_input_resumes_from_a_v1_state_without_repeating_or_losing() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    corpus(&data);
    let mut fixture: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    for file in fixture["files"].as_array_mut().unwrap() {
        let name = file["path"].as_str().unwrap().rsplit('/').next().unwrap();
        let meta = std::fs::metadata(data.join(name)).unwrap();
        file["dev"] = meta.dev().into();
        file["ino"] = meta.ino().into();
    }
    let checkpoints = dir.path().join("checkpoints");
    let store = install(&checkpoints, &fixture.to_string());
    let params = Params::from_stanza(&stanza(&data)).unwrap();
    let mut follower = Follower::new(params, store.clone(), Vec::new(), None).unwrap();
    follower.run_until_idle().unwrap();
    let xml = String::from_utf8(follower.into_output()).unwrap();
    let pids: Vec<u32> = xml
        .split("\"process_id\":\"")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().parse().unwrap())
        .collect();
    let expected: BTreeSet<u32> = (1004..=1010)
        .chain(2002..=2010)
        .chain(3004..=3010)
        .collect();
    assert_eq!(pids.len(), expected.len(), "{pids:?}");
    assert_eq!(pids.into_iter().collect::<BTreeSet<_>>(), expected);
    // What it saved is version 2 and loads again.
    let (state, notes) = store.load().unwrap();
    assert!(notes.is_empty(), "{notes:?}");
    assert_eq!(state.files.len(), 4);
    let saved = std::fs::read_to_string(store.state_path()).unwrap();
    assert!(saved.starts_with(r#"{"version":2"#), "{saved}");
}
