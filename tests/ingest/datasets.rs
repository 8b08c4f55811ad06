//! The readers over the real attack logs in `../shared/datasets` (see its SOURCES.md for
//! provenance and the expected counts used here), through `support::shared`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netdiscover::ingest::{
    CimField, FileReader, Format, Item, OpenOptions, Position, ProcessEvent,
};

use crate::support::shared;

fn datasets() -> Option<PathBuf> {
    shared("datasets")
}

#[derive(Default, Debug)]
struct Tally {
    records: usize,
    process: Vec<ProcessEvent>,
    skipped: BTreeMap<String, usize>,
    malformed: Vec<String>,
}

fn read_all(path: &Path) -> Tally {
    let reader = FileReader::open(path, &OpenOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut tally = Tally::default();
    for item in reader {
        tally.records += 1;
        match item {
            Item::Process(e) => tally.process.push(e),
            Item::Skipped(s) => *tally.skipped.entry(s.event_id).or_default() += 1,
            Item::Malformed(m) | Item::Unreadable(m) => tally
                .malformed
                .push(format!("{}: {}", m.position, m.message)),
        }
    }
    tally
}

/// [`read_all`], asserting that no record of the file was malformed or unreadable.
fn read_clean(path: &Path) -> Tally {
    let tally = read_all(path);
    assert!(
        tally.malformed.is_empty(),
        "{}: {:?}",
        path.display(),
        tally.malformed
    );
    tally
}

/// (file stem, records, process events) from SOURCES.md.
const SINGLE_FILES: &[(&str, usize, usize)] = &[
    ("sbousseaden__panache_sysmon_vs_EDRTestingScript", 122, 96),
    (
        "mdecrevoisier__ID4688-netsh_RDP_port_forwarding_abuse",
        8,
        3,
    ),
    ("sbousseaden__de_portforward_netsh_rdp_sysmon_13_1", 3, 2),
    ("sbousseaden__powercat_revShell_sysmon_1_3", 9, 5),
    ("sbousseaden__sysmon_1_exec_via_sql_xpcmdshell", 1, 1),
    ("sbousseaden__sysmon_13_rdp_settings_tampering", 20, 10),
    (
        "mdecrevoisier__ID4688-Firewall_configuration_enumerated_command",
        3,
        2,
    ),
    ("mdecrevoisier__ID4688-netsh_helper_DLL", 2, 1),
    (
        "mdecrevoisier__ID4688-5447-4950-Firewall_disabled_command",
        998,
        5,
    ),
    ("atomic-evtx__T1049-1_Sysmon", 51, 25),
    (
        "atomic-evtx__System_Information_Discovery_2_Sysmon",
        918,
        467,
    ),
];

#[test]
fn evtx_and_xml_files_hold_the_expected_process_events() {
    let Some(dir) = datasets() else { return };
    for &(stem, records, process) in SINGLE_FILES {
        for ext in ["evtx", "xml"] {
            let path = dir.join(ext).join(format!("{stem}.{ext}"));
            let tally = read_clean(&path);
            assert_eq!(tally.records, records, "{}: records", path.display());
            assert_eq!(
                tally.process.len(),
                process,
                "{}: process events",
                path.display()
            );
        }
    }
}

#[test]
fn evtx_and_xml_renderings_give_the_same_rows() {
    let Some(dir) = datasets() else { return };
    for &(stem, _, _) in SINGLE_FILES {
        let evtx = read_all(&dir.join("evtx").join(format!("{stem}.evtx")));
        let xml = read_all(&dir.join("xml").join(format!("{stem}.xml")));
        assert_eq!(evtx.process.len(), xml.process.len(), "{stem}");
        for (a, b) in evtx.process.iter().zip(&xml.process) {
            assert_eq!(a.record_id, b.record_id, "{stem}");
            assert_eq!(a.row, b.row, "{stem}: record {}", a.record_id);
        }
        assert_eq!(evtx.skipped, xml.skipped, "{stem}: skipped event ids");
    }
}

#[test]
fn publisher_json_exports_hold_the_expected_process_events() {
    let Some(dir) = datasets() else { return };
    for (stem, records, process) in [
        ("atomic-evtx__T1049-1_Sysmon", 51, 25),
        (
            "atomic-evtx__System_Information_Discovery_2_Sysmon",
            151,
            81,
        ),
    ] {
        let path = dir.join("json").join(format!("{stem}.json"));
        assert_eq!(
            netdiscover::ingest::detect_format(&path).unwrap(),
            Format::PublisherJson
        );
        let tally = read_clean(&path);
        assert_eq!(tally.records, records, "{}", path.display());
        assert_eq!(tally.process.len(), process, "{}", path.display());
    }
}

#[test]
fn json_rows_equal_the_evtx_rows_of_the_same_records() {
    let Some(dir) = datasets() else { return };
    let stem = "atomic-evtx__T1049-1_Sysmon";
    let json = read_all(&dir.join("json").join(format!("{stem}.json")));
    let evtx = read_all(&dir.join("evtx").join(format!("{stem}.evtx")));
    let by_id: BTreeMap<_, _> = evtx
        .process
        .iter()
        .map(|e| (e.record_id.clone(), &e.row))
        .collect();
    for e in &json.process {
        let other = by_id
            .get(&e.record_id)
            .unwrap_or_else(|| panic!("record {} not in the evtx", e.record_id));
        // The publisher's export writes GUIDs and times its own way; the rest is identical.
        for field in [
            CimField::Process,
            CimField::ProcessName,
            CimField::ProcessPath,
            CimField::ProcessId,
            CimField::ParentProcessId,
            CimField::User,
            CimField::Dest,
            CimField::ProcessHash,
            CimField::OriginalFileName,
            CimField::ParentProcess,
        ] {
            assert_eq!(
                e.row.get(field),
                other.get(field),
                "record {} field {field}",
                e.record_id
            );
        }
    }
}

#[test]
fn bulk_gzip_xml_holds_the_expected_process_events() {
    let Some(dir) = datasets() else { return };
    let expected = [
        ("collection", 1687, 820),
        ("command-and-control", 4416, 2224),
        ("credential-access", 6238, 3026),
        ("defense-evasion", 21711, 10457),
        ("discovery", 12973, 6367),
        ("execution", 3662, 1791),
        ("exfiltration", 616, 297),
        ("impact", 1880, 901),
        ("initial-access", 689, 335),
        ("lateral-movement", 1177, 586),
        ("persistence", 3701, 1768),
        ("privilege-escalation", 5946, 2843),
        ("reconnaissance", 71, 33),
    ];
    let (mut total_records, mut total_process) = (0, 0);
    for (tactic, records, process) in expected {
        let path = dir
            .join("bulk")
            .join(format!("atomic-evtx__sysmon__{tactic}.xml.gz"));
        let tally = read_clean(&path);
        assert_eq!(
            (tally.records, tally.process.len()),
            (records, process),
            "{tactic}"
        );
        total_records += records;
        total_process += process;
    }
    assert_eq!((total_records, total_process), (64_767, 31_448));
}

#[test]
fn security_4688_hex_pids_are_decoded() {
    let Some(dir) = datasets() else { return };
    let tally = read_all(
        &dir.join("xml/mdecrevoisier__ID4688-Firewall_configuration_enumerated_command.xml"),
    );
    // `NewProcessId` 0x1328, `ProcessId` 0xb5c in the file.
    let first = &tally.process[0].row;
    assert_eq!(first.get(CimField::ProcessId), "4904");
    assert_eq!(first.get(CimField::ParentProcessId), "2908");
    assert_eq!(first.get(CimField::ProcessName), "netsh.exe");
    assert_eq!(
        first.get(CimField::Process),
        "netsh  advfirewall show allprofiles"
    );
    assert_eq!(first.get(CimField::User), r"OFFSEC\admmig");
    assert_eq!(
        first.get(CimField::UserId),
        "S-1-5-21-4230534742-2542757381-3142984815-1111"
    );
    assert_eq!(first.get(CimField::Dest), "FS03.offsec.lan");
    assert_eq!(first.get(CimField::VendorProduct), "Microsoft Windows");
    for e in &tally.process {
        for f in [CimField::ProcessId, CimField::ParentProcessId] {
            assert!(
                e.row.get(f).bytes().all(|b| b.is_ascii_digit()),
                "{f} = {}",
                e.row.get(f)
            );
        }
    }
    // The 1102 record before them carries UserData with its own xmlns: skipped, not malformed.
    assert_eq!(tally.skipped.get("1102"), Some(&1));
}

#[test]
fn multi_line_events_are_parsed_whole() {
    let Some(dir) = datasets() else { return };
    let path = dir.join("xml/mdecrevoisier__ID4688-5447-4950-Firewall_disabled_command.xml");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines = text.lines().count();
    let tally = read_all(&path);
    assert!(
        lines > tally.records,
        "the file must have events spanning lines ({lines} lines)"
    );
    assert_eq!(tally.records, 998);
    assert!(tally.malformed.is_empty());
    assert_eq!(tally.skipped.values().sum::<usize>(), 993);
}

#[test]
fn sysmon_fields_map_to_cim() {
    let Some(dir) = datasets() else { return };
    let tally = read_all(&dir.join("xml/sbousseaden__powercat_revShell_sysmon_1_3.xml"));
    let netstat = tally
        .process
        .iter()
        .find(|e| {
            e.row
                .get(CimField::ProcessName)
                .eq_ignore_ascii_case("netstat.exe")
        })
        .expect("the NETSTAT.EXE -na near-miss");
    let row = &netstat.row;
    assert_eq!(row.get(CimField::ProcessName), "NETSTAT.EXE");
    assert_eq!(
        row.get(CimField::Process),
        r#""C:\Windows\system32\NETSTAT.EXE"  -na"#
    );
    assert_eq!(row.get(CimField::VendorProduct), "Microsoft Sysmon");
    assert!(row.get(CimField::Time).ends_with('Z'));
    assert!(!row.get(CimField::ParentProcessName).is_empty());
    assert!(!row.get(CimField::ProcessGuid).is_empty());
    assert!(matches!(netstat.position, Position::Offset(_)));
}

#[test]
fn resuming_at_every_checkpoint_continues_without_loss_or_repeat() {
    let Some(dir) = datasets() else { return };
    for path in [
        dir.join("xml/sbousseaden__powercat_revShell_sysmon_1_3.xml"),
        dir.join("json/atomic-evtx__T1049-1_Sysmon.json"),
        dir.join("evtx/sbousseaden__powercat_revShell_sysmon_1_3.evtx"),
        dir.join("bulk/atomic-evtx__sysmon__reconnaissance.xml.gz"),
    ] {
        let full: Vec<Item> = FileReader::open(&path, &OpenOptions::default())
            .unwrap()
            .collect();
        let mut reader = FileReader::open(&path, &OpenOptions::default()).unwrap();
        let mut checkpoints = vec![reader.resume_point()];
        while reader.next().is_some() {
            checkpoints.push(reader.resume_point());
        }
        for (i, checkpoint) in checkpoints.iter().enumerate() {
            let options = OpenOptions {
                resume: Some(*checkpoint),
                ..OpenOptions::default()
            };
            let rest: Vec<Item> = FileReader::open(&path, &options).unwrap().collect();
            assert_eq!(
                rest,
                full[i..],
                "{} resumed at {checkpoint}",
                path.display()
            );
        }
    }
}
