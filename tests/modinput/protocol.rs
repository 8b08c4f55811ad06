//! The `netdiscover_input` executable as splunkd drives it: `--scheme`, `--validate-arguments`,
//! bad arguments, run mode with a bad configuration, a closed stdout; and the follow loop's
//! handling of truncation, rotation by rename, partial trailing records and hostile content.

use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use netdiscover::modinput::{DataType, ARGUMENTS};

use crate::drive::{self, spawn_configured};

fn run_bin(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut command = crate::support::command(crate::support::netdiscover_input_exe());
    command.args(args);
    let out = spawn_configured(command, stdin)
        .wait_with_output()
        .expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("stdout UTF-8"),
        String::from_utf8(out.stderr).expect("stderr UTF-8"),
    )
}

/// An element: its path from the root (`/scheme/title`), its attributes, its text.
type Element = (String, Vec<(String, String)>, String);

/// Every element of a document, in the order they close.
fn xml_elements(xml: &str) -> Vec<Element> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut done = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(s) => {
                let attrs = s
                    .attributes()
                    .map(|a| {
                        let a = a.expect("attribute");
                        (
                            String::from_utf8_lossy(a.key.as_ref()).into_owned(),
                            a.unescape_value().expect("value").into_owned(),
                        )
                    })
                    .collect();
                let parent = stack.last().map(|(p, _, _)| p.clone()).unwrap_or_default();
                let name = String::from_utf8_lossy(s.name().as_ref()).into_owned();
                stack.push((format!("{parent}/{name}"), attrs, String::new()));
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&t.decode().expect("UTF-8"));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let entity = r.decode().expect("UTF-8");
                    top.2
                        .push_str(quick_xml::escape::resolve_xml_entity(&entity).expect("entity"));
                }
            }
            Event::End(_) => done.push(stack.pop().expect("balanced")),
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(stack.is_empty());
    done
}

#[test]
fn scheme_is_well_formed_and_declares_every_argument() {
    let (code, out, err) = run_bin(&["--scheme"], "");
    assert_eq!(code, 0, "{err}");
    let elements = xml_elements(&out);
    let text = |path: &str| {
        elements
            .iter()
            .find(|(p, _, _)| p == path)
            .map(|(_, _, t)| t.trim().to_string())
            .unwrap_or_else(|| panic!("missing {path}"))
    };
    assert!(!text("/scheme/title").is_empty());
    assert!(!text("/scheme/description").is_empty());
    assert_eq!(text("/scheme/use_external_validation"), "true");
    assert_eq!(text("/scheme/use_single_instance"), "false");
    assert_eq!(text("/scheme/streaming_mode"), "xml");
    let args: Vec<&Element> = elements
        .iter()
        .filter(|(p, _, _)| p == "/scheme/endpoint/args/arg")
        .collect();
    assert_eq!(args.len(), ARGUMENTS.len());
    for (arg, (_, attrs, _)) in ARGUMENTS.iter().zip(&args) {
        assert_eq!(attrs, &vec![("name".to_string(), arg.name.to_string())]);
    }
    // Every arg's children, in document order: title, description, data_type, flags.
    let children = |field: &str| -> Vec<String> {
        elements
            .iter()
            .filter(|(p, _, _)| p == &format!("/scheme/endpoint/args/arg/{field}"))
            .map(|(_, _, t)| t.clone())
            .collect()
    };
    let data_types = children("data_type");
    let on_create = children("required_on_create");
    let on_edit = children("required_on_edit");
    assert_eq!(children("title").len(), ARGUMENTS.len());
    assert_eq!(children("description").len(), ARGUMENTS.len());
    for (i, arg) in ARGUMENTS.iter().enumerate() {
        let expected_type = match arg.data_type {
            DataType::String => "string",
            DataType::Number => "number",
            DataType::Boolean => "boolean",
        };
        assert_eq!(data_types[i], expected_type, "{}", arg.name);
        assert_eq!(
            on_create[i],
            arg.required_on_create.to_string(),
            "{}",
            arg.name
        );
        assert_eq!(on_edit[i], arg.required_on_edit.to_string(), "{}", arg.name);
    }
    let names: Vec<&str> = ARGUMENTS.iter().map(|a| a.name).collect();
    assert_eq!(
        names,
        [
            "path",
            "format",
            "recursive",
            "include",
            "exclude",
            "annotate",
            "batch_size",
            "poll_interval"
        ]
    );
    assert!(ARGUMENTS[0].required_on_create);
}

fn items(params: &[(&str, &str)]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><items><server_host>sh</server_host>\
         <server_uri>https://127.0.0.1:8089</server_uri><session_key>SECRET-SESSION</session_key>\
         <checkpoint_dir>/tmp/ckpt</checkpoint_dir><item name=\"myinput\">",
    );
    for (k, v) in params {
        xml.push_str(&format!("<param name=\"{k}\">{v}</param>"));
    }
    xml.push_str("</item></items>");
    xml
}

fn error_message(out: &str) -> String {
    let elements = xml_elements(out);
    assert_eq!(elements.len(), 2, "{out}");
    let (path, _, message) = &elements[0];
    assert_eq!(path, "/error/message", "{out}");
    assert_eq!(elements[1].0, "/error");
    message.clone()
}

#[test]
fn validation_accepts_good_parameters_silently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.xml");
    fs::write(&file, "<Event/>").expect("write");
    for params in [
        vec![("path", dir.path().display().to_string())],
        vec![
            ("path", file.display().to_string()),
            ("format", "xml".into()),
        ],
        // The dev-tree binary finds the shipped rules in app/ (rules::locate).
        vec![
            ("path", file.display().to_string()),
            ("annotate", "yes".into()),
        ],
        vec![
            ("path", format!("{}/*.xml", dir.path().display())),
            ("format", "auto".into()),
            ("recursive", "0".into()),
            ("include", r"\.xml$".into()),
            ("exclude", "^/tmp/skip".into()),
            ("batch_size", "100000".into()),
            ("poll_interval", "0.5".into()),
        ],
    ] {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, out, err) = run_bin(&["--validate-arguments"], &items(&params));
        assert_eq!((code, out.as_str()), (0, ""), "{params:?}: {err}");
    }
}

/// A validation case: a good `path`, `name` set to the bad `value`, and the error naming `name`.
fn bad_param(
    path: &str,
    name: &'static str,
    value: &str,
) -> (Vec<(&'static str, String)>, &'static str) {
    (
        vec![("path", path.to_string()), (name, value.to_string())],
        name,
    )
}

#[test]
fn validation_errors_name_the_parameter_and_exit_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let here = dir.path().display().to_string();
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![], "path is required"),
        (
            vec![("path", format!("{here}/missing.xml"))],
            "cannot be read",
        ),
        (
            vec![("path", format!("{here}/nodir/*.xml"))],
            "cannot be listed",
        ),
        (vec![("path", format!("{here}/[.xml"))], "glob"),
        bad_param(&here, "format", "pdf"),
        bad_param(&here, "batch_size", "0"),
        bad_param(&here, "batch_size", "many"),
        bad_param(&here, "poll_interval", "-1"),
        bad_param(&here, "recursive", "maybe"),
        bad_param(&here, "include", "("),
        bad_param(&here, "exclude", "[z-a]"),
    ];
    for (params, expected) in cases {
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, out, _) = run_bin(&["--validate-arguments"], &items(&params));
        assert_eq!(code, 1, "{params:?}");
        let message = error_message(&out);
        assert!(message.contains(expected), "{params:?}: {message}");
    }
    // Not XML at all, and two items.
    for doc in [
        "this is not XML <".to_string(),
        items(&[("path", &here)]).replace("</items>", "<item name=\"b\"/></items>"),
    ] {
        let (code, out, _) = run_bin(&["--validate-arguments"], &doc);
        assert_eq!(code, 1);
        assert!(!error_message(&out).is_empty());
    }
}

#[test]
fn unknown_arguments_and_bad_run_configuration_exit_1_with_an_error_line() {
    let (code, out, err) = run_bin(&["--frobnicate"], "");
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.starts_with("ERROR Invalid arguments"), "{err}");

    let no_checkpoint =
        "<input><server_host>h</server_host><session_key>SECRET-SESSION</session_key>\
        <configuration><stanza name=\"netdiscover_input://x\"><param name=\"path\">/tmp</param>\
        </stanza></configuration></input>";
    let (code, out, err) = run_bin(&[], no_checkpoint);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("ERROR ") && err.contains("checkpoint_dir"),
        "{err}"
    );
    assert!(!err.contains("SECRET-SESSION"));

    let dir = tempfile::tempdir().expect("tempdir");
    let bad_param = format!(
        "<input><session_key>SECRET-SESSION</session_key><checkpoint_dir>{}</checkpoint_dir>\
         <configuration><stanza name=\"netdiscover_input://x\"><param name=\"path\">/tmp</param>\
         <param name=\"batch_size\">0</param></stanza></configuration></input>",
        dir.path().display()
    );
    let (code, _, err) = run_bin(&[], &bad_param);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("ERROR netdiscover_input://x: parameter batch_size"),
        "{err}"
    );
}

/// One Sysmon EID 1 event written by us; `pid` identifies it.
fn sysmon_event(pid: u32, command_line: &str) -> String {
    format!(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\
         <Provider Name='Microsoft-Windows-Sysmon' Guid='5770385F-C22A-43E0-BF4C-06F5698FFBD9'/>\
         <EventID>1</EventID><TimeCreated SystemTime='2024-10-23T18:30:08.369056Z'/>\
         <EventRecordID>{pid}</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel>\
         <Computer>WIN-TEST</Computer></System><EventData>\
         <Data Name='ProcessId'>{pid}</Data><Data Name='Image'>C:\\Windows\\System32\\netsh.exe</Data>\
         <Data Name='CommandLine'>{command_line}</Data><Data Name='User'>CORP\\analyst</Data>\
         </EventData></Event>\n"
    )
}

fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open")
        .write_all(text.as_bytes())
        .expect("append");
}

/// A follower over `data` with its checkpoints in `checkpoints`; returns the process ids and
/// the raw stream it emitted when run until idle.
fn follow_once(data: &Path, checkpoints: &Path) -> (Vec<String>, String) {
    let mut follower = drive::follower("netdiscover_input://t", data, checkpoints);
    follower.run_until_idle().expect("run");
    let xml = String::from_utf8(follower.into_output()).expect("UTF-8");
    let mut pids = Vec::new();
    for (path, _, text) in xml_elements(&xml) {
        if path == "/stream/event/data" {
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            pids.push(v["process_id"].as_str().expect("process_id").to_string());
        }
    }
    (pids, xml)
}

#[test]
fn partial_records_wait_truncation_restarts_rotation_is_not_reread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let checkpoints = dir.path().join("ckpt");
    fs::create_dir_all(&data).expect("mkdir");
    let log = data.join("sysmon.xml");

    // Two events and half of a third: the half waits.
    append(&log, &sysmon_event(1, "netsh a"));
    append(&log, &sysmon_event(2, "netsh b"));
    let third = sysmon_event(3, "netsh c");
    let (head, tail) = third.split_at(third.len() / 2);
    append(&log, head);
    assert_eq!(follow_once(&data, &checkpoints).0, ["1", "2"]);
    append(&log, tail);
    assert_eq!(follow_once(&data, &checkpoints).0, ["3"]);
    assert!(follow_once(&data, &checkpoints).0.is_empty(), "nothing new");

    // Rotation by rename: the old file keeps its place, the new one is read from its start.
    fs::rename(&log, data.join("sysmon.xml.1")).expect("rotate");
    append(
        &data.join("sysmon.xml.1"),
        &sysmon_event(4, "late write to rotated file"),
    );
    append(&log, &sysmon_event(5, "first in new file"));
    let mut pids = follow_once(&data, &checkpoints).0;
    pids.sort();
    assert_eq!(pids, ["4", "5"]);

    // Truncation in place: start over on the new content.
    fs::write(&log, sysmon_event(6, "after truncation")).expect("truncate");
    assert_eq!(follow_once(&data, &checkpoints).0, ["6"]);

    // A file appearing later is picked up; an empty one waits.
    fs::write(data.join("empty.xml"), "").expect("write");
    append(&data.join("later.xml"), &sysmon_event(7, "new file"));
    assert_eq!(follow_once(&data, &checkpoints).0, ["7"]);
}

#[test]
fn one_running_input_restarts_a_truncated_file_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    fs::create_dir_all(&data).expect("mkdir");
    let log = data.join("sysmon.xml");
    // Long enough that the identity covers the full 1024-byte head.
    for pid in 1..=4 {
        append(&log, &sysmon_event(pid, "netsh before"));
    }
    let mut follower = drive::follower("netdiscover_input://t", &data, &dir.path().join("ckpt"));
    follower.run_until_idle().expect("first pass");
    fs::write(&log, sysmon_event(10, "netsh after truncation")).expect("truncate");
    for pid in 11..=13 {
        append(&log, &sysmon_event(pid, "netsh after truncation"));
    }
    // Bounded, so a file restarted at every poll fails the test instead of hanging it.
    let mut polls = 0;
    while follower.poll_once().expect("poll") {
        polls += 1;
        assert!(polls < 20, "the truncated file keeps being restarted");
    }
    follower.run_until_idle().expect("finish");
    assert_eq!(follower.stats.events, 8);
    let xml = String::from_utf8(follower.into_output()).expect("UTF-8");
    assert_eq!(xml.matches("<event>").count(), 8, "{xml}");
}

/// copytruncate leaves the live file empty until the writer writes again: the file is
/// restarted once, when it shrank, and not again at every poll while it stays empty (each
/// restart would log a WARN and keep an entry for "former content" with nothing in it).
#[test]
fn a_file_truncated_and_left_empty_is_restarted_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let checkpoints = dir.path().join("ckpt");
    fs::create_dir_all(&data).expect("mkdir");
    let log = data.join("sysmon.xml");
    for pid in 1..=4 {
        append(&log, &sysmon_event(pid, "netsh before"));
    }
    let stanza = "netdiscover_input://t";
    let mut follower = drive::follower(stanza, &data, &checkpoints);
    follower.run_until_idle().expect("first pass");
    OpenOptions::new()
        .write(true)
        .open(&log)
        .expect("open")
        .set_len(0)
        .expect("truncate");
    for _ in 0..5 {
        assert!(!follower.poll_once().expect("poll"), "nothing to read");
    }
    for pid in 10..=13 {
        append(&log, &sysmon_event(pid, "netsh after truncation"));
    }
    follower.run_until_idle().expect("finish");
    assert_eq!(follower.stats.events, 8);
    let store = netdiscover::modinput::Store::open(&checkpoints, stanza).expect("store");
    let (state, _) = store.load().expect("state");
    // The live file, and the content it held before (kept for a copy of it).
    assert_eq!(state.files.len(), 2, "{:#?}", state.files);
}

#[test]
fn many_files_are_not_all_held_open_and_dormant_ones_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    fs::create_dir_all(&data).expect("mkdir");
    for pid in 0..300 {
        append(
            &data.join(format!("f{pid:03}.xml")),
            &sysmon_event(pid, "netsh x"),
        );
    }
    let stanza = "netdiscover_input://many";
    let mut follower = drive::follower(stanza, &data, &dir.path().join("ckpt"));
    let mut polls = 0;
    while follower.poll_once().expect("poll") {
        polls += 1;
        assert!(polls < 20);
    }
    assert_eq!(follower.stats.events, 300);
    assert!(
        follower.open_files() <= 256,
        "{} open",
        follower.open_files()
    );
    // A closed (dormant) file that grows is reopened and resumed, not re-read.
    append(&data.join("f000.xml"), &sysmon_event(1000, "netsh y"));
    while follower.poll_once().expect("poll") {
        polls += 1;
        assert!(polls < 40);
    }
    assert_eq!(follower.stats.events, 301);
    // A closed file rewritten in place to the same length is noticed (by its mtime).
    std::thread::sleep(Duration::from_millis(20));
    let rewritten = sysmon_event(9, "netsh z");
    assert_eq!(rewritten.len(), sysmon_event(1, "netsh x").len());
    fs::write(data.join("f001.xml"), rewritten).expect("rewrite");
    while follower.poll_once().expect("poll") {
        polls += 1;
        assert!(polls < 60);
    }
    assert_eq!(follower.stats.events, 302);
    follower.run_until_idle().expect("finish");
    // After a restart nothing is read again, and unchanged files are not even opened.
    let (pids, _) = follow_once(&data, &dir.path().join("ckpt2"));
    assert_eq!(pids.len(), 301, "a fresh checkpoint reads everything");
    let mut again = drive::follower(stanza, &data, &dir.path().join("ckpt"));
    again.run_until_idle().expect("run");
    assert_eq!(again.stats.events, 0);
    assert!(again.open_files() < 256, "{} open", again.open_files());
}

#[test]
fn a_file_copied_elsewhere_and_deleted_resumes_by_its_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let checkpoints = dir.path().join("ckpt");
    fs::create_dir_all(&data).expect("mkdir");
    let original = data.join("a.xml");
    append(&original, &sysmon_event(1, "netsh one"));
    append(&original, &sysmon_event(2, "netsh two"));
    assert_eq!(follow_once(&data, &checkpoints).0, ["1", "2"]);
    // A move across filesystems: new inode, same bytes, the old inode gone.
    let moved = data.join("b.xml");
    fs::copy(&original, &moved).expect("copy");
    fs::remove_file(&original).expect("remove");
    append(&moved, &sysmon_event(3, "netsh three"));
    assert_eq!(follow_once(&data, &checkpoints).0, ["3"]);
}

#[test]
fn a_malformed_record_is_counted_and_reading_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    fs::create_dir_all(&data).expect("mkdir");
    let log = data.join("x.xml");
    append(&log, &sysmon_event(1, "netsh one"));
    append(
        &log,
        "<Event><System><EventID>1</EventID></Broken></Event>\n",
    );
    append(&log, &sysmon_event(3, "netsh three"));
    let mut follower = drive::follower("netdiscover_input://t", &data, &dir.path().join("ckpt"));
    follower.run_until_idle().expect("run");
    assert_eq!(follower.stats.events, 2);
    assert_eq!(follower.stats.malformed, 1);
    // The checkpoint moved past it: a restart reads nothing again.
    assert!(follow_once(&data, &dir.path().join("ckpt")).0.is_empty());
}

#[test]
fn hostile_content_still_gives_well_formed_utf8_xml() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    fs::create_dir_all(&data).expect("mkdir");
    // Control characters as character references, `]]>`, markup, and bytes that are not
    // UTF-8 inside a command line.
    let mut bytes =
        sysmon_event(1, "cmd /c echo ]]&gt; &lt;x&gt; &amp;&#x1;&#x7;&#x1b; done").into_bytes();
    let mut raw = sysmon_event(2, "bad-bytes-here").into_bytes();
    let at = raw
        .windows(14)
        .position(|w| w == b"bad-bytes-here")
        .expect("marker");
    raw.splice(at..at + 3, [0xFF, 0xFE, 0xC3]);
    bytes.extend_from_slice(&raw);
    fs::write(data.join("x.xml"), &bytes).expect("write");
    let (pids, xml) = follow_once(&data, &dir.path().join("ckpt"));
    // xml_elements parsed the whole stream; the string is UTF-8 by construction.
    assert!(xml.starts_with("<stream>\n") && xml.ends_with("</stream>\n"));
    assert!(!xml.contains("]]>"));
    assert!(!xml
        .chars()
        .any(|c| (c as u32) < 0x20 && !"\t\n\r".contains(c)));
    assert_eq!(pids.len(), 2, "{xml}");
}

#[test]
fn a_closed_stdout_ends_the_input_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    fs::create_dir_all(&data).expect("mkdir");
    let mut text = String::new();
    for pid in 0..3000 {
        text.push_str(&sysmon_event(pid, "netsh interface show interface"));
    }
    fs::write(data.join("big.xml"), text).expect("write");
    let config = format!(
        "<input><session_key>k</session_key><checkpoint_dir>{}</checkpoint_dir><configuration>\
         <stanza name=\"netdiscover_input://closed\"><param name=\"path\">{}</param>\
         <param name=\"batch_size\">10</param></stanza></configuration></input>",
        dir.path().join("ckpt").display(),
        data.display()
    );
    let mut child = spawn_configured(
        crate::support::command(crate::support::netdiscover_input_exe()),
        &config,
    );
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 64];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "input did not exit after stdout closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.contains("INFO stdout was closed"), "{err}");
}
