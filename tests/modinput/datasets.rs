//! Run mode over the real attack logs in `../shared/datasets`: every process event becomes one
//! `<event>` (the expected counts are the independent ones in datasets/SOURCES.md), other
//! events are skipped, and each event's JSON holds CIM Endpoint.Processes field names only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use netdiscover::modinput::{Follower, Outcome, Params, Stanza, Store, PROCESS_FIELDS};

use crate::support::shared;

fn datasets() -> Option<PathBuf> {
    shared("datasets")
}

fn stanza(path: &Path, extra: &[(&str, &str)]) -> Stanza {
    let mut params = vec![
        ("path".to_string(), vec![path.display().to_string()]),
        ("index".to_string(), vec!["endpoint".to_string()]),
    ];
    for (k, v) in extra {
        params.push((k.to_string(), vec![v.to_string()]));
    }
    Stanza {
        name: "netdiscover_input://datasets".into(),
        params: params.into_iter().collect(),
    }
}

struct Event {
    time: Option<String>,
    host: Option<String>,
    source: String,
    sourcetype: String,
    index: Option<String>,
    data: serde_json::Map<String, serde_json::Value>,
}

/// Parses the XML stream with a real XML parser.
fn parse_stream(xml: &str) -> Vec<Event> {
    use quick_xml::events::Event as X;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut events = Vec::new();
    let mut current: Option<Vec<(String, String)>> = None;
    let mut element = String::new();
    let mut text = String::new();
    let mut depth = 0;
    loop {
        match reader.read_event().expect("stream is well-formed XML") {
            X::Start(s) => {
                depth += 1;
                let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
                if depth == 1 {
                    assert_eq!(name, "stream");
                } else if name == "event" {
                    assert!(
                        s.attributes().next().is_none(),
                        "<event> must carry no attribute (no unbroken)"
                    );
                    current = Some(Vec::new());
                } else {
                    element = name;
                    text.clear();
                }
            }
            X::Text(t) => text.push_str(&t.decode().expect("UTF-8")),
            X::GeneralRef(r) => {
                let entity = r.decode().expect("UTF-8");
                text.push_str(quick_xml::escape::resolve_xml_entity(&entity).expect("entity"));
            }
            X::End(e) => {
                depth -= 1;
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                if name == "event" {
                    let fields = current.take().expect("inside <event>");
                    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
                    let data: serde_json::Value =
                        serde_json::from_str(&get("data").expect("<data>")).expect("JSON data");
                    events.push(Event {
                        time: get("time"),
                        host: get("host"),
                        source: get("source").expect("<source>"),
                        sourcetype: get("sourcetype").expect("<sourcetype>"),
                        index: get("index"),
                        data: data.as_object().expect("JSON object").clone(),
                    });
                } else if let Some(fields) = current.as_mut() {
                    assert_eq!(name, element);
                    fields.push((name, std::mem::take(&mut text)));
                }
            }
            X::Eof => break,
            _ => {}
        }
    }
    events
}

/// Runs the input over `path` until everything is read; returns the parsed events.
fn run(path: &Path, extra: &[(&str, &str)]) -> (Vec<Event>, netdiscover::modinput::Stats) {
    let checkpoints = tempfile::tempdir().expect("tempdir");
    let stanza = stanza(path, extra);
    let params = Params::from_stanza(&stanza).expect("params");
    let store = Store::open(checkpoints.path(), &stanza.name).expect("store");
    let mut follower = Follower::new(params, store, Vec::new(), None).expect("follower");
    assert_eq!(follower.run_until_idle().expect("run"), Outcome::Stopped);
    let stats = follower.stats.clone();
    let xml = String::from_utf8(follower.into_output()).expect("stream is UTF-8");
    (parse_stream(&xml), stats)
}

/// Process-event counts from datasets/SOURCES.md ("events / proc" column).
const EXPECTED: &[(&str, usize)] = &[
    (
        "xml/sbousseaden__panache_sysmon_vs_EDRTestingScript.xml",
        96,
    ),
    (
        "evtx/sbousseaden__panache_sysmon_vs_EDRTestingScript.evtx",
        96,
    ),
    (
        "xml/mdecrevoisier__ID4688-netsh_RDP_port_forwarding_abuse.xml",
        3,
    ),
    (
        "evtx/mdecrevoisier__ID4688-netsh_RDP_port_forwarding_abuse.evtx",
        3,
    ),
    (
        "xml/sbousseaden__de_portforward_netsh_rdp_sysmon_13_1.xml",
        2,
    ),
    ("xml/sbousseaden__powercat_revShell_sysmon_1_3.xml", 5),
    ("xml/sbousseaden__sysmon_1_exec_via_sql_xpcmdshell.xml", 1),
    ("xml/sbousseaden__sysmon_13_rdp_settings_tampering.xml", 10),
    (
        "xml/mdecrevoisier__ID4688-Firewall_configuration_enumerated_command.xml",
        2,
    ),
    ("xml/mdecrevoisier__ID4688-netsh_helper_DLL.xml", 1),
    (
        "xml/mdecrevoisier__ID4688-5447-4950-Firewall_disabled_command.xml",
        5,
    ),
    (
        "evtx/mdecrevoisier__ID4688-5447-4950-Firewall_disabled_command.evtx",
        5,
    ),
    ("xml/atomic-evtx__T1049-1_Sysmon.xml", 25),
    ("evtx/atomic-evtx__T1049-1_Sysmon.evtx", 25),
    ("json/atomic-evtx__T1049-1_Sysmon.json", 25),
    (
        "xml/atomic-evtx__System_Information_Discovery_2_Sysmon.xml",
        467,
    ),
    (
        "json/atomic-evtx__System_Information_Discovery_2_Sysmon.json",
        81,
    ),
    ("bulk/atomic-evtx__sysmon__reconnaissance.xml.gz", 33),
];

#[test]
fn every_process_event_becomes_one_cim_event() {
    let Some(datasets) = datasets() else {
        return;
    };
    let cim: BTreeSet<&str> = PROCESS_FIELDS.iter().copied().collect();
    for (file, expected) in EXPECTED {
        let path = datasets.join(file);
        let (events, stats) = run(&path, &[]);
        assert_eq!(events.len(), *expected, "{file}: events");
        assert_eq!(stats.malformed, 0, "{file}: malformed records");
        for event in &events {
            assert_eq!(event.source, path.display().to_string(), "{file}");
            assert_eq!(event.sourcetype, "netdiscover:process");
            assert_eq!(event.index.as_deref(), Some("endpoint"));
            assert!(event.time.is_some(), "{file}: event without <time>");
            for key in event.data.keys() {
                assert!(cim.contains(key.as_str()), "{file}: non-CIM field {key}");
            }
            let dest = event.data.get("dest").and_then(|v| v.as_str());
            assert_eq!(
                event.host.as_deref(),
                dest,
                "{file}: <host> is the event's dest"
            );
            assert!(event.data.contains_key("process_name"), "{file}");
        }
    }
}

#[test]
fn a_directory_with_include_and_exclude_reads_the_selected_files() {
    let Some(datasets) = datasets() else {
        return;
    };
    // Every .xml under datasets/ except the bulk .gz and the big 998-event file.
    let (events, _) = run(
        &datasets,
        &[
            ("include", r"\.xml$"),
            ("exclude", "Firewall_disabled"),
            ("recursive", "true"),
        ],
    );
    let expected: usize = EXPECTED
        .iter()
        .filter(|(f, _)| f.starts_with("xml/") && !f.contains("Firewall_disabled"))
        .map(|(_, n)| n)
        .sum();
    assert_eq!(events.len(), expected);
    let (none, _) = run(&datasets, &[("recursive", "false")]);
    assert!(none.is_empty(), "datasets/ holds only subdirectories");
}

#[test]
fn the_seed_netsh_positive_arrives_with_its_fields() {
    let Some(datasets) = datasets() else {
        return;
    };
    let (events, _) = run(
        &datasets.join("xml/mdecrevoisier__ID4688-netsh_RDP_port_forwarding_abuse.xml"),
        &[],
    );
    let portproxy: Vec<&Event> = events
        .iter()
        .filter(|e| {
            e.data["process"]
                .as_str()
                .is_some_and(|p| p.contains("portproxy add v4tov4"))
        })
        .collect();
    assert_eq!(portproxy.len(), 1);
    let data = &portproxy[0].data;
    assert_eq!(data["process_name"], "netsh.exe");
    // 4688 carries the pid in hex; the event holds it in decimal.
    let pid = data["process_id"].as_str().expect("process_id");
    assert!(pid.chars().all(|c| c.is_ascii_digit()), "{pid}");
}

#[test]
fn annotate_adds_detection_fields_to_matching_events_only() {
    let Some(datasets) = datasets() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let places = netdiscover::rules::RulePlaces {
        shipped: vec![root.join("app/detections"), root.join("app/macros")],
        user: Vec::new(),
    };
    let (detections, warnings) =
        netdiscover::modinput::Detections::load(&places).expect("shipped rules load");
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut total_hits = 0;
    for (file, hits) in [
        (
            "xml/mdecrevoisier__ID4688-netsh_RDP_port_forwarding_abuse.xml",
            1,
        ),
        (
            "evtx/sbousseaden__panache_sysmon_vs_EDRTestingScript.evtx",
            2,
        ),
        ("xml/sbousseaden__powercat_revShell_sysmon_1_3.xml", 0),
        ("xml/atomic-evtx__T1049-1_Sysmon.xml", 0),
    ] {
        let (detections, _) =
            netdiscover::modinput::Detections::load(&places).expect("shipped rules load");
        let path = datasets.join(file);
        let checkpoints = tempfile::tempdir().expect("tempdir");
        let stanza = stanza(&path, &[("annotate", "true")]);
        let params = Params::from_stanza(&stanza).expect("params");
        assert!(params.annotate);
        let store = Store::open(checkpoints.path(), &stanza.name).expect("store");
        let mut follower =
            Follower::new(params, store, Vec::new(), Some(detections.into_annotator()))
                .expect("follower");
        follower.run_until_idle().expect("run");
        let xml = String::from_utf8(follower.into_output()).expect("UTF-8");
        let events = parse_stream(&xml);
        let annotated: Vec<&Event> = events
            .iter()
            .filter(|e| e.data.contains_key("detection"))
            .collect();
        assert_eq!(annotated.len(), hits, "{file}");
        for event in annotated {
            assert_eq!(event.data["detection"], "Windows Proxy Via Netsh", "{file}");
            assert_eq!(event.data["detection_type"], "Anomaly");
            assert_eq!(event.data["mitre_attack_id"], "T1090.001");
            assert!(event.data["risk_score"].to_string().contains("20"));
            assert!(event.data["process"]
                .as_str()
                .is_some_and(|p| p.contains("portproxy")));
        }
        total_hits += hits;
    }
    assert_eq!(total_hits, 3);
    drop(detections);
}
