//! The modular input's configuration XML when it is broken: the error names the problem and
//! where, and never repeats the session key — errors go to splunkd.log, and the key grants
//! REST access as the input's owner.

use std::io::Write;
use std::process::Stdio;

use netdiscover::modinput::{parse_input, parse_validation};

const KEY: &str = "ZmFrZVNlc3Npb25LZXlGb3JGdXp6aW5nT25seTAxMjM0";

const FUZZ_FINDING: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<input>
  <server_host>sh01</ser<?xml version="1.0" encoding="_host>
  <server_uri>https://127.0.0.1:8089</server_uri>
  <session_key>ZmFrZVNlc3Npb25LZXlGb3JGdXp6aW5nT25seTAxMjM0</session_key>
  <checkpoint_dir>/opt/splunk/var/lib/splunk/modinputs/netdiscover_input</checkpoint_dir>
  <configuration>
    <stanza name="netdir>
  <configuration>
    <stanza name="netdiscover_input://sysmover_hn">
      <param name="ostpath>"#;

/// Broken documents in which the error position precedes, encloses or follows the key.
fn broken_documents() -> Vec<String> {
    let tail = format!(
        "\n  <session_key>{KEY}</session_key>\n  <checkpoint_dir>/tmp/ck</checkpoint_dir>\n  <configuration>\n    <stanza name=\"netdiscover_input://x\"><param name=\"path\">/x</param></stanza>\n  </configuration>\n</input>\n"
    );
    vec![
        // Found by the modinput_config fuzz target (a mutation of our seed
        // fuzz/seeds/modinput_config/run_mode.xml): an end tag cut short, so quick-xml's
        // "expected `</server_host>`, but `</ser…>` was found" quoted everything up to the
        // next `>`, the session key included.
        FUZZ_FINDING.to_string(),
        format!("<input><server_host>sh01</server_host>{tail}")
            .replace("</session_key>", "</session_kex>"),
        format!("<input><server_host>sh01</server_host>{tail}")
            .replace("</session_key>", "&bogus;</session_key>"),
        format!("<{KEY}>{tail}"),
        format!("<input><server_host>sh01</server_host>{tail}").replace(
            "<stanza name=\"netdiscover_input://x\">",
            &format!("<stanza nam=\"{KEY}\">"),
        ),
        format!("<input><server_host>sh01</server_host>{tail}")
            .replace("</input>", &format!("</{KEY}>")),
    ]
}

#[test]
fn configuration_errors_never_repeat_the_session_key() {
    for (i, doc) in broken_documents().iter().enumerate() {
        for (mode, result) in [
            ("run", parse_input(doc.as_bytes())),
            ("validation", parse_validation(doc.as_bytes())),
        ] {
            let error = result.expect_err("a broken document is an error");
            let message = error.to_string();
            assert!(!message.contains(KEY), "document {i}, {mode}: {message}");
            assert!(
                !format!("{error:?}").contains(KEY),
                "document {i}, {mode}: {error:?}"
            );
        }
    }
}

#[test]
fn the_fuzz_finding_still_names_the_problem() {
    let doc = &broken_documents()[0];
    let message = parse_input(doc.as_bytes()).unwrap_err().to_string();
    assert!(
        message.contains("not well-formed at byte") && message.contains("</server_host>"),
        "{message}"
    );
}

/// The same documents through the real executable in run mode: whatever it writes on stdout
/// or stderr, the key is not in it, and it fails rather than runs.
#[test]
fn netdiscover_input_run_mode_keeps_the_key_out_of_its_logs() {
    for (i, doc) in broken_documents().iter().enumerate() {
        let mut child = crate::support::command(crate::support::netdiscover_input_exe())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(doc.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "document {i}: {stderr}");
        assert!(
            !stdout.contains(KEY) && !stderr.contains(KEY),
            "document {i}: {stdout} {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
