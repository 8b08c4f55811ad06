//! The app side of the modular input agrees with the executable: the spec file documents
//! exactly the scheme's arguments, default/inputs.conf runs it the way a long-running input
//! must, and the sourcetype the input writes is the one props/eventtypes/tags put into CIM
//! Endpoint.Processes — whose field names are exactly the ones the input emits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use netdiscover::ingest::CimField;
use netdiscover::modinput::{ARGUMENTS, DEFAULT_SOURCETYPE, PROCESS_FIELDS};

use crate::support::shared;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

type Conf = BTreeMap<String, BTreeMap<String, String>>;

/// A .conf file: stanza → key → value (comments and blank lines ignored).
fn conf(relative: &str) -> Conf {
    let text = std::fs::read_to_string(Path::new(ROOT).join(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"));
    let mut out = Conf::new();
    let mut stanza = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        // Indented lines continue a `*` description line (Splunk's .spec convention).
        if line.is_empty() || line.starts_with('#') || raw.starts_with(' ') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            stanza = name.to_string();
            out.entry(stanza.clone()).or_default();
        } else if let Some((k, v)) = line.split_once('=') {
            out.entry(stanza.clone())
                .or_default()
                .insert(k.trim().to_string(), v.trim().to_string());
        } else if !line.starts_with('*') {
            panic!("{relative}: unexpected line {line:?}");
        }
    }
    out
}

#[test]
fn spec_documents_exactly_the_scheme_arguments() {
    let spec = conf("app/README/inputs.conf.spec");
    assert_eq!(spec.len(), 1, "one stanza");
    let (stanza, keys) = spec.iter().next().expect("stanza");
    assert_eq!(stanza, "netdiscover_input://<name>");
    let documented: BTreeSet<&str> = keys.keys().map(String::as_str).collect();
    let declared: BTreeSet<&str> = ARGUMENTS.iter().map(|a| a.name).collect();
    assert_eq!(documented, declared);
    // The format list is the ingest module's.
    let formats = &keys["format"];
    for name in netdiscover::ingest::Format::ALL.map(|f| f.name()) {
        assert!(
            formats.split('|').any(|f| f == name),
            "{name} missing in {formats}"
        );
    }
}

#[test]
fn inputs_conf_runs_the_input_continuously_without_a_shell() {
    let inputs = conf("default/inputs.conf");
    assert!(!inputs.contains_key("default") && !inputs.contains_key(""));
    let stanza = &inputs["netdiscover_input"];
    assert_eq!(stanza["interval"], "0");
    assert_eq!(stanza["start_by_shell"], "false");
    assert_eq!(stanza["sourcetype"], DEFAULT_SOURCETYPE);
}

/// Runs the input over a file of our own with one Sysmon and one Security 4688 event whose
/// every mapped field is set, and returns the `<sourcetype>`s and JSON keys it wrote.
fn emitted() -> (BTreeSet<String>, BTreeSet<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("events.xml");
    std::fs::write(
        &data,
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\
         <Provider Name='Microsoft-Windows-Sysmon'/><EventID>1</EventID>\
         <TimeCreated SystemTime='2024-10-23T18:30:08.369056Z'/><EventRecordID>7</EventRecordID>\
         <Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>WIN-1</Computer>\
         <Security UserID='S-1-5-18'/></System><EventData>\
         <Data Name='ProcessGuid'>747F3D96-DB7C-5DBE-0000-0010CF6B9502</Data>\
         <Data Name='ProcessId'>5004</Data><Data Name='Image'>C:\\Windows\\System32\\netsh.exe</Data>\
         <Data Name='OriginalFileName'>netsh.exe</Data>\
         <Data Name='CommandLine'>netsh interface portproxy add v4tov4 listenport=1</Data>\
         <Data Name='User'>CORP\\analyst</Data><Data Name='IntegrityLevel'>High</Data>\
         <Data Name='Hashes'>SHA256=3656F37A</Data>\
         <Data Name='ParentProcessGuid'>747F3D96-CE42-5DBE-0000-0010EE430200</Data>\
         <Data Name='ParentProcessId'>3936</Data><Data Name='ParentImage'>C:\\Windows\\System32\\cmd.exe</Data>\
         <Data Name='ParentCommandLine'>cmd.exe /c netsh</Data></EventData></Event>\n",
    )
    .expect("write");
    let mut follower = crate::drive::follower(
        "netdiscover_input://fields",
        &data,
        &dir.path().join("ckpt"),
    );
    follower.run_until_idle().expect("run");
    let xml = String::from_utf8(follower.into_output()).expect("UTF-8");
    let mut sourcetypes = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for event in xml.split("<event>").skip(1) {
        let between = |open: &str, close: &str| {
            event
                .split(open)
                .nth(1)
                .and_then(|s| s.split(close).next())
                .expect("element")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&")
        };
        sourcetypes.insert(between("<sourcetype>", "</sourcetype>"));
        let data: serde_json::Value =
            serde_json::from_str(&between("<data>", "</data>")).expect("JSON");
        keys.extend(data.as_object().expect("object").keys().cloned());
    }
    (sourcetypes, keys)
}

/// CIM Endpoint.Processes fields as ESCU's data sources state them (`output_fields` of
/// sysmon_eventid_1, windows_event_log_security_4688, crowdstrike_processrollup2).
fn escu_endpoint_processes_fields() -> Option<BTreeSet<String>> {
    let dir = shared("escu/data_sources")?;
    let mut fields = BTreeSet::new();
    for name in [
        "sysmon_eventid_1.yml",
        "windows_event_log_security_4688.yml",
        "crowdstrike_processrollup2.yml",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("read data source");
        let yaml: serde_yaml::Value = serde_yaml::from_str(&text).expect("YAML");
        for field in yaml["output_fields"].as_sequence().expect("output_fields") {
            fields.insert(field.as_str().expect("field name").to_string());
        }
    }
    Some(fields)
}

#[test]
fn emitted_fields_are_exactly_the_cim_processes_fields_the_app_tags_promise() {
    // The conf chain: the input's sourcetype → props (JSON at search time) → an eventtype on
    // that sourcetype → tags process + report (CIM Endpoint.Processes).
    let (sourcetypes, keys) = emitted();
    assert_eq!(
        sourcetypes,
        BTreeSet::from([DEFAULT_SOURCETYPE.to_string()])
    );
    let props = conf("default/props.conf");
    assert_eq!(props[DEFAULT_SOURCETYPE]["KV_MODE"], "json");
    let eventtypes = conf("default/eventtypes.conf");
    let tags = conf("default/tags.conf");
    let processes: Vec<&String> = eventtypes
        .iter()
        .filter(|(_, e)| e["search"].contains(&format!("sourcetype=\"{DEFAULT_SOURCETYPE}\"")))
        .map(|(name, _)| name)
        .filter(|name| {
            tags.get(&format!("eventtype={name}")).is_some_and(|t| {
                t.get("process").map(String::as_str) == Some("enabled")
                    && t.get("report").map(String::as_str) == Some("enabled")
            })
        })
        .collect();
    assert_eq!(processes.len(), 1, "one eventtype tagged process + report");

    // The names: what the input wrote for fully populated events, the list the input can
    // write at all, the ingest rows' fields, and CIM Endpoint.Processes per ESCU agree.
    let promised: BTreeSet<String> = PROCESS_FIELDS.iter().map(|f| f.to_string()).collect();
    let ingest: BTreeSet<String> = CimField::ALL
        .iter()
        .filter(|f| **f != CimField::Time)
        .map(|f| f.name().to_string())
        .collect();
    assert_eq!(promised, ingest);
    for key in &keys {
        assert!(promised.contains(key), "emitted non-CIM field {key}");
    }
    // Sysmon fills every field but the three Sysmon has no source for.
    let unfilled: BTreeSet<&str> = promised
        .iter()
        .map(String::as_str)
        .filter(|f| !keys.contains(*f))
        .collect();
    assert!(unfilled.len() <= 3, "fields never emitted: {unfilled:?}");
    // The fields listed in eventtypes.conf's comment are the same list.
    let comment = std::fs::read_to_string(Path::new(ROOT).join("default/eventtypes.conf"))
        .expect("eventtypes.conf");
    for field in &promised {
        assert!(
            comment.contains(&format!(" {field},")) || comment.contains(&format!(" {field}.")),
            "{field}"
        );
    }
    if let Some(escu) = escu_endpoint_processes_fields() {
        assert_eq!(promised, escu);
    }
}
