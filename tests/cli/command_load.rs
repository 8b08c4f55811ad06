//! When `| netdiscover` loads its rules: without a selection, getinfo answers at once and the
//! rules load while splunkd sends the first execute, whose reply carries the load's warnings;
//! with a selection (`rule=`, `type=`, `story=`) they load at getinfo, so a typo fails the
//! search before any row moves, and the warnings come with getinfo.

use std::ffi::OsStr;

use crate::support::splunkd::{Reply, Splunkd};
use crate::support::{execute, getinfo, netdiscover_exe, parse_csv, TIMEOUT};

const BODY: &[u8] = b"dest,process_name,process\nws1,netstat.exe,netstat -ano\n";

/// A user rule directory holding one file that is no YAML: one load warning naming it.
fn broken_rules() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("broken.yml"), "name: [unclosed\n").expect("write");
    dir
}

fn warnings(reply: &Reply) -> Vec<String> {
    let json = reply.json();
    json.get("inspector")
        .and_then(|i| i.get("messages"))
        .and_then(|m| m.as_array())
        .map(|messages| {
            messages
                .iter()
                .filter(|m| m[0] == "WARN")
                .map(|m| m[1].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// getinfo and one execute; returns both replies after a clean exit.
fn session(args: &[&str], rules_dir: &std::path::Path) -> (Reply, Reply) {
    let env: [(&str, &OsStr); 1] = [(netdiscover::rules::RULES_DIR_ENV, rules_dir.as_os_str())];
    let mut splunkd =
        Splunkd::spawn_with_env(&netdiscover_exe(), &[], &env, TIMEOUT).expect("spawn");
    let info = splunkd.request(&getinfo(args), &[]).expect("getinfo reply");
    let reply = splunkd
        .request(&execute(true), BODY)
        .expect("execute reply");
    crate::command_rules::finish_with_exit_0(splunkd);
    (info, reply)
}

#[test]
fn without_a_selection_the_load_warnings_come_with_the_first_reply() {
    let dir = broken_rules();
    let (info, reply) = session(&[], dir.path());
    assert_eq!(info.json()["type"], "streaming");
    assert!(warnings(&info).is_empty(), "{:?}", info.json());
    let warned = warnings(&reply);
    assert!(
        warned.len() == 1 && warned[0].contains("broken.yml"),
        "{warned:?}"
    );
    // The rules loaded all the same: the netstat row is annotated.
    let (header, rows) = parse_csv(&reply.body);
    let detection = header
        .iter()
        .position(|h| h == b"detection")
        .expect("column");
    assert_eq!(
        rows[0][detection],
        b"Network Connection Discovery With Netstat"
    );
}

#[test]
fn with_a_selection_the_load_warnings_come_with_getinfo() {
    let dir = broken_rules();
    let (info, reply) = session(&["type=Hunting"], dir.path());
    let warned = warnings(&info);
    assert!(
        warned.len() == 1 && warned[0].contains("broken.yml"),
        "{warned:?}"
    );
    assert!(warnings(&reply).is_empty(), "{:?}", reply.json());
}
