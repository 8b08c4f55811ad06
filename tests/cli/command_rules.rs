//! `| netdiscover` end to end: the real binary, driven like splunkd, evaluating the shipped seed
//! rules (found relative to the executable) on hand-made Endpoint.Processes rows.

use std::collections::HashMap;

use crate::support::splunkd::Splunkd;
use crate::support::{execute, getinfo, netdiscover_exe, parse_csv, TIMEOUT};

const NETSTAT: &str = "Network Connection Discovery With Netstat";
const NETSH: &str = "Windows Proxy Via Netsh";

/// Rows as `tstats ... by Processes.*` sends them before `drop_dm_object_name`: prefixed names.
const PREFIXED: &[u8] = b"Processes.dest,Processes.user,Processes.process_name,Processes.original_file_name,Processes.process,count\n\
ws01,alice,netstat.exe,NETSTAT.EXE,netstat -ano,3\n\
ws02,bob,NETSTAT.EXE,,\"\"\"C:\\Windows\\system32\\NETSTAT.EXE\"\"  -na\",1\n\
ws03,carol,netsh.exe,netsh.exe,\"netsh  interface portproxy add v4tov4 listenport=8001 connectport=3389 connectaddress=10.0.0.5\",1\n\
ws04,dave,cmd.exe,Cmd.Exe,\"cmd /c netsh interface portproxy add v4tov4 listenport=8001\",1\n\
ws05,erin,renamed.exe,netsh.exe,\"x.exe interface portproxy delete v4tov4 listenport=8001 \",1\n\
ws06,frank,netsh.exe,netsh.exe,\"netsh interface portproxy show all\",1\n";

/// The same kind of rows after `drop_dm_object_name(Processes)`: bare names, and a multivalue
/// `user` carried in its `__mv_` companion column.
const BARE_MV: &[u8] = b"dest,user,process_name,process,__mv_user\n\
srv1,\"svc\nadmin\",netsh.exe,\"netsh interface portproxy add v4tov4 listenport=1 \",$svc$;$admin$\n\
srv2,x,netstat.exe,NETSTAT -A,\n";

fn run(args: &[&str], body: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<Vec<u8>>>) {
    let mut splunkd = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
    let info = splunkd.request(&getinfo(args), &[]).expect("getinfo reply");
    assert_eq!(info.json()["type"], "streaming", "{:?}", info.json());
    let reply = splunkd
        .request(&execute(true), body)
        .expect("execute reply");
    assert_eq!(reply.finished(), Some(true));
    finish_with_exit_0(splunkd);
    parse_csv(&reply.body)
}

/// Ends the search (stdin closed) and asserts that the command exited 0, showing its stderr
/// if not.
pub(crate) fn finish_with_exit_0(splunkd: Splunkd) {
    let end = splunkd.finish();
    assert_eq!(
        end.exit_code,
        Some(0),
        "{}",
        String::from_utf8_lossy(&end.stderr)
    );
}

/// Each output row as a map from column name to text.
fn rows_by_name((header, rows): (Vec<Vec<u8>>, Vec<Vec<Vec<u8>>>)) -> Vec<HashMap<String, String>> {
    rows.into_iter()
        .map(|row| {
            header
                .iter()
                .zip(row)
                .map(|(h, v)| {
                    (
                        String::from_utf8_lossy(h).into_owned(),
                        String::from_utf8_lossy(&v).into_owned(),
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn annotate_marks_positives_and_passes_everything_else() {
    let rows = rows_by_name(run(&[], PREFIXED));
    assert_eq!(rows.len(), 6, "annotate keeps every row");
    let detections: Vec<&str> = rows.iter().map(|r| r["detection"].as_str()).collect();
    // ws02 `-na` is the real near-miss from the datasets; ws04 is the parent cmd.exe row;
    // ws05 is netsh by original_file_name (the `process_netsh` macro's OR); ws06 lacks v4tov4.
    assert_eq!(detections, [NETSTAT, "", NETSH, "", NETSH, ""]);

    let netstat = &rows[0];
    assert_eq!(netstat["detection_type"], "Hunting");
    assert_eq!(netstat["mitre_attack_id"], "T1049");
    assert_eq!(netstat["risk_score"], "", "Hunting rules carry no risk");
    assert_eq!(netstat["risk_object"], "");

    let netsh = &rows[2];
    assert_eq!(
        netsh["detection_id"],
        "c137bfe8-6036-4cff-b77b-4e327dd0a1cf"
    );
    assert_eq!(netsh["detection_type"], "Anomaly");
    assert_eq!(netsh["mitre_attack_id"], "T1090.001");
    assert_eq!(netsh["analytic_story"], "Volt Typhoon");
    assert_eq!(netsh["risk_object"], "ws03\ncarol");
    assert_eq!(netsh["__mv_risk_object"], "$ws03$;$carol$");
    assert_eq!(netsh["risk_object_type"], "system\nuser");
    assert_eq!(netsh["risk_score"], "20\n20");
    let message = "A process netsh.exe has launched netsh with command-line netsh  interface \
                   portproxy add v4tov4 listenport=8001 connectport=3389 connectaddress=10.0.0.5 on ws03.";
    assert_eq!(
        netsh["risk_message"],
        format!("{message}\n{message}"),
        "one message per risk object, aligned with them"
    );
    // Input columns come back untouched.
    assert_eq!(
        rows[1]["Processes.process"],
        "\"C:\\Windows\\system32\\NETSTAT.EXE\"  -na"
    );
    assert_eq!(rows[1]["count"], "1");
}

#[test]
fn filter_returns_only_matches_and_selection_narrows_the_rules() {
    let rows = rows_by_name(run(&["mode=filter"], PREFIXED));
    let dests: Vec<&str> = rows.iter().map(|r| r["Processes.dest"].as_str()).collect();
    assert_eq!(dests, ["ws01", "ws03", "ws05"]);

    let rows = rows_by_name(run(&["mode=filter", "type=anomaly"], PREFIXED));
    let dests: Vec<&str> = rows.iter().map(|r| r["Processes.dest"].as_str()).collect();
    assert_eq!(dests, ["ws03", "ws05"]);

    let rows = rows_by_name(run(
        &["mode=filter", "rule=2cf5cc25-*", "story=Volt Typhoon"],
        PREFIXED,
    ));
    let dests: Vec<&str> = rows.iter().map(|r| r["Processes.dest"].as_str()).collect();
    assert_eq!(
        dests,
        ["ws01"],
        "netstat by id prefix, and it is in Volt Typhoon too"
    );
}

#[test]
fn risk_mode_writes_one_row_per_risk_object_and_reads_multivalue_fields() {
    let rows = rows_by_name(run(&["mode=risk"], BARE_MV));
    let events: Vec<(&str, &str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r["dest"].as_str(),
                r["detection"].as_str(),
                r["risk_object"].as_str(),
                r["risk_object_type"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("srv1", NETSH, "srv1", "system"),
            ("srv1", NETSH, "svc", "user"),
            ("srv1", NETSH, "admin", "user"),
            ("srv2", NETSTAT, "", ""),
        ],
        "a multivalue user gives one risk event per value; Hunting gives one row without risk"
    );
    assert!(rows[..3].iter().all(|r| r["risk_score"] == "20"));
    // Each risk row names its own rule the way ES risk events carry it.
    assert!(rows[..3].iter().all(|r| {
        r["search_name"] == format!("netdiscover - {NETSH} - Rule")
            && r["annotations.mitre_attack"] == "T1090.001"
            && r["analyticstories"] == "Volt Typhoon"
    }));
    assert_eq!(
        rows[3]["search_name"],
        format!("netdiscover - {NETSTAT} - Rule")
    );
    assert_eq!(rows[3]["annotations.mitre_attack"], "T1049");
    assert_eq!(
        rows[3]["__mv_analyticstories"].matches('$').count(),
        18,
        "nine stories, multivalue"
    );
    // The multivalue input column is passed through with its __mv_ encoding intact.
    assert_eq!(rows[0]["__mv_user"], "$svc$;$admin$");
}

#[test]
fn a_selection_that_matches_no_rule_fails_the_search_at_getinfo() {
    let mut splunkd = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
    let reply = splunkd
        .request(&getinfo(&["rule=Windows Proxy Via Netshh"]), &[])
        .expect("reply");
    let error = reply.error().expect("an error reply");
    assert!(
        error.contains("rule=Windows Proxy Via Netshh") && error.contains("no loaded rule"),
        "{error}"
    );
    let end = splunkd.finish();
    assert_eq!(end.exit_code, Some(1));
}

/// One rule id in 1,000 user rule files: the replies carry a few of the warnings and a count,
/// not 999 messages in the Job Inspector. (Without a selection the load runs past getinfo and
/// its warnings come with the first execute reply, here one without rows: `command_load`.)
#[test]
fn a_rule_id_repeated_in_a_thousand_files_gives_a_summary_not_a_thousand_warnings() {
    use std::io::Write;
    use std::process::Stdio;
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("app/detections/endpoint/windows_proxy_via_netsh.yml");
    let rule = std::fs::read(&shipped).expect("shipped rule");
    let dir = tempfile::tempdir().expect("temp dir");
    for n in 0..1000 {
        std::fs::write(dir.path().join(format!("copy{n:04}.yml")), &rule).expect("write copy");
    }
    let mut child = crate::support::command(netdiscover_exe())
        .env("NETDISCOVER_RULES_DIR", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn netdiscover");
    let mut requests = netdiscover::protocol::encode_chunk(&getinfo(&[]), b"");
    requests.extend(netdiscover::protocol::encode_chunk(&execute(true), b""));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&requests)
        .expect("requests");
    let out = child.wait_with_output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replies: Vec<serde_json::Value> = crate::support::split_stream(&out.stdout)
        .chunks
        .iter()
        .map(|reply| reply.json())
        .collect();
    let texts: Vec<&str> = replies
        .iter()
        .filter_map(|reply| reply["inspector"]["messages"].as_array())
        .flatten()
        .filter_map(|m| m[1].as_str())
        .collect();
    assert!(texts.len() <= 5, "{} messages: {texts:#?}", texts.len());
    assert!(
        texts
            .iter()
            .any(|t| t.contains("and 997 more like this (replaced by the rule with the same id")),
        "{texts:#?}"
    );
    let bytes: usize = texts.iter().map(|t| t.len()).sum();
    assert!(bytes < 2000, "{bytes} bytes of messages");
}
