//! `netdiscover scan` end to end: the binary over our sample data, bad input and
//! (when present) the shared datasets.

use std::path::PathBuf;
use std::process::Output;

use crate::support::shared;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scan(args: &[&str]) -> Output {
    crate::support::command(crate::support::netdiscover_exe())
        .arg("scan")
        .args(args)
        .current_dir(root())
        .output()
        .expect("run netdiscover")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The number after `label` in the summary line that starts with `line_start`.
fn summary_number(err: &str, line_start: &str, label: &str) -> u64 {
    let line = err
        .lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no summary line {line_start:?} in:\n{err}"));
    let words: Vec<&str> = line.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let at = words
        .iter()
        .position(|w| *w == label)
        .unwrap_or_else(|| panic!("{label:?} not in {line:?}"));
    words[at - 1].parse().unwrap()
}

const NETSTAT: &str = "Network Connection Discovery With Netstat";
const NETSH: &str = "Windows Proxy Via Netsh";

/// The match count of `rule` in the summary's "matches per rule" list.
fn rule_count(err: &str, rule: &str) -> u64 {
    let line = err
        .lines()
        .find(|l| l.trim_start().starts_with(rule))
        .unwrap_or_else(|| panic!("{rule:?} not in the summary:\n{err}"));
    line.trim_start()[rule.len()..].trim().parse().unwrap()
}

/// (NETSTAT, NETSH) hits and the matching rows, from an `--output ndjson` run.
fn hits(out: &Output) -> (usize, usize, Vec<serde_json::Value>) {
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let count = |rule: &str| {
        rows.iter()
            .filter(|r| r["detection"].as_array().unwrap().iter().any(|d| d == rule))
            .count()
    };
    (count(NETSTAT), count(NETSH), rows)
}

#[test]
fn examples_hits_per_file_match_the_examples_readme() {
    for (file, netstat, netsh) in [
        ("examples/windows_process_creation.xml", 2, 2),
        ("examples/crowdstrike_processrollup2.ndjson", 1, 2),
        ("examples/processes.csv", 1, 1),
    ] {
        let out = scan(&[file, "--output", "ndjson"]);
        let (a, b, rows) = hits(&out);
        assert_eq!((a, b), (netstat, netsh), "{file}");
        assert_eq!(out.status.code(), Some(1), "{file}");
        for row in rows {
            // Every netsh hit is netsh by name or by original file name; cmd.exe never is.
            assert_ne!(row["process_name"], "cmd.exe", "{row}");
        }
    }
    let out = scan(&[
        "examples/windows_process_creation.xml",
        "--output",
        "ndjson",
    ]);
    let (_, _, rows) = hits(&out);
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["record_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1001", "1007", "1010", "5001"]);
    let netsh = &rows[1];
    assert_eq!(
        netsh["risk_object"],
        serde_json::json!(["ws-fin-07.corp.example", "CORP\\alice"])
    );
    assert_eq!(netsh["risk_score"], serde_json::json!(["20", "20"]));
    assert!(
        netsh["risk_message"][0]
            .as_str()
            .unwrap()
            .contains("netsh.exe has launched netsh"),
        "{netsh}"
    );
}

#[test]
fn examples_summary_counts_every_record() {
    let out = scan(&["examples/", "--output", "ndjson"]);
    let err = stderr(&out);
    assert_eq!(summary_number(&err, "files:", "read"), 3, "{err}");
    assert_eq!(summary_number(&err, "events:", "records"), 23, "{err}");
    assert_eq!(summary_number(&err, "events:", "process"), 20, "{err}");
    assert_eq!(summary_number(&err, "events:", "skipped"), 3, "{err}");
    assert_eq!(summary_number(&err, "events:", "malformed"), 0, "{err}");
    assert!(
        err.contains("skipped by event id: 3: 1, 4624: 1, DnsRequest: 1"),
        "{err}"
    );
}

#[test]
fn all_rows_in_every_machine_format() {
    let ndjson = scan(&["examples", "--all", "--output", "ndjson"]);
    let lines: Vec<serde_json::Value> = String::from_utf8(ndjson.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 20);
    for row in &lines {
        for field in netdiscover::ingest::CimField::ALL {
            assert!(row.get(field.name()).is_some(), "{field} missing in {row}");
        }
        assert!(row["detection"].is_array());
    }
    let pids: Vec<&str> = lines
        .iter()
        .filter(|r| r["record_id"] == "5001")
        .map(|r| r["process_id"].as_str().unwrap())
        .collect();
    assert_eq!(pids, ["6700"], "4688 hex pid 0x1a2c decoded");

    let json = scan(&["examples", "--all", "--output", "json"]);
    let array: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(array.as_array().unwrap().len(), 20);

    let csv_out = scan(&["examples", "--all", "--output", "csv"]);
    let mut reader = csv::Reader::from_reader(&csv_out.stdout[..]);
    assert!(reader
        .headers()
        .unwrap()
        .iter()
        .any(|h| h == "process_name"));
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 20);

    let table = scan(&["examples", "--all"]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(text.lines().next().unwrap().starts_with("_time"));
    assert_eq!(text.lines().count(), 21);
    assert!(
        text.contains("examples/processes.csv @ byte offset 96"),
        "{text}"
    );
}

/// A process value that needs escaping in every format: a comma, quotes, a newline and a
/// control character (U+0001), with a non-ASCII `dest`; the seed Netsh rule matches it and
/// puts it into its risk messages.
const AWKWARD_PROCESS: &str =
    "netsh interface portproxy add v4tov4 listenport=80 name=\"a,b\"\nnext\u{1}line";

/// A CSV export holding one row with [`AWKWARD_PROCESS`].
fn awkward_export(dir: &std::path::Path) -> PathBuf {
    let quoted = AWKWARD_PROCESS.replace('"', "\"\"");
    let csv = format!(
        "_time,dest,user,process_name,process_path,process,parent_process_name,process_id,vendor_product\n\
         2025-03-05T14:00:01.000000Z,hôst-ß,CORP\\a-very-long-user-name,netsh.exe,\
         C:\\Windows\\System32\\netsh.exe,\"{quoted}\",cmd.exe,42,Microsoft Sysmon\n"
    );
    let path = dir.join("awkward.csv");
    std::fs::write(&path, csv).unwrap();
    path
}

/// The Netsh rule's risk message for [`AWKWARD_PROCESS`] (both entities, dest and user, carry
/// the same message).
fn awkward_message() -> String {
    format!("A process netsh.exe has launched netsh with command-line {AWKWARD_PROCESS} on hôst-ß.")
}

#[test]
fn csv_output_quotes_annotation_values_with_commas_quotes_and_newlines() {
    let dir = tempfile::tempdir().unwrap();
    let path = awkward_export(dir.path());
    let out = scan(&[path.to_str().unwrap(), "--output", "csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let mut reader = csv::Reader::from_reader(&out.stdout[..]);
    let header = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    let cell = |name: &str| {
        let column = header.iter().position(|h| h == name).unwrap();
        rows[0][column].to_string()
    };
    assert_eq!(cell("process"), AWKWARD_PROCESS);
    let message = awkward_message();
    // A multivalue field is one cell, its values joined by newlines.
    assert_eq!(cell("risk_message"), format!("{message}\n{message}"));
    assert_eq!(cell("risk_object"), "hôst-ß\nCORP\\a-very-long-user-name");
    assert_eq!(cell("risk_score"), "20\n20");
    assert_eq!(cell("detection"), NETSH);
    assert_eq!(cell("threat_object"), "");
    // Quotes doubled inside a quoted cell; a cell without specials is not quoted.
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(",\"netsh interface portproxy add v4tov4 listenport=80 name=\"\"a,b\"\"\nnext\u{1}line\","), "{text}");
    assert!(
        text.contains(",Windows Proxy Via Netsh,c137bfe8-"),
        "{text}"
    );
}

#[test]
fn json_output_escapes_control_characters_in_risk_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = awkward_export(dir.path());
    let message = awkward_message();
    for format in ["ndjson", "json"] {
        let out = scan(&[path.to_str().unwrap(), "--output", format]);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains("name=\\\"a,b\\\"\\nnext\\u0001line on hôst-ß.\""),
            "control character written as serde_json does: {text}"
        );
        assert!(!text.contains('\u{1}'), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let row = if format == "json" { &value[0] } else { &value };
        assert_eq!(row["risk_message"], serde_json::json!([message, message]));
        assert_eq!(row["process"], AWKWARD_PROCESS);
        assert_eq!(row["user"], "CORP\\a-very-long-user-name");
        assert_eq!(row["threat_object"], serde_json::json!([]));
        assert_eq!(row["detection"], serde_json::json!([NETSH]));
    }
}

#[test]
fn table_cells_are_clipped_padded_and_show_control_characters_as_spaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = awkward_export(dir.path());
    let out = scan(&[path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        2,
        "the newline in the process stays in its cell: {text}"
    );
    // Widths count characters: `dest` (22) is padded after 6 non-ASCII-bearing ones, `user`
    // (18) clipped with `…`, the process (64) clipped with its newline and U+0001 as spaces.
    let expected = format!(
        "2025-03-05T14:00:01.000000Z  hôst-ß{}  CORP\\a-very-long-…  netsh.exe       \
         {NETSH:<width$}  netsh interface portproxy add v4tov4 listenport=80 name=\"a,b\" n…  {} @ byte offset 96",
        " ".repeat(16),
        path.display(),
        width = lines[0].find("  process ").unwrap() - lines[0].find("detection").unwrap(),
    );
    assert_eq!(lines[1], expected);
}

#[test]
fn malformed_records_are_reported_with_place_and_do_not_stop_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let good =
        std::fs::read_to_string(root().join("examples/crowdstrike_processrollup2.ndjson")).unwrap();
    let first = good.lines().next().unwrap();
    let text = format!("{first}\n{{\"event_simpleName\": broken\n{first}\n");
    let path = dir.path().join("cs.ndjson");
    std::fs::write(&path, &text).unwrap();
    let path_arg = path.to_str().unwrap();
    let out = scan(&[path_arg, "--no-progress"]);
    let err = stderr(&out);
    let offset = first.len() + 1;
    assert!(
        err.contains(&format!(
            "malformed record: {path_arg}: byte offset {offset}: invalid JSON"
        )),
        "{err}"
    );
    assert_eq!(summary_number(&err, "events:", "process"), 2, "{err}");
    assert_eq!(summary_number(&err, "events:", "malformed"), 1, "{err}");
    assert_ne!(
        out.status.code(),
        Some(2),
        "malformed records alone are no error without --strict"
    );
    assert_eq!(scan(&[path_arg, "--strict"]).status.code(), Some(2));
}

#[test]
fn unreadable_inputs_and_bad_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"\x00\x01 not telemetry").unwrap();
    let out = scan(&[junk.to_str().unwrap(), "examples/processes.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("cannot tell the format"), "{err}");
    // The good file was still scanned.
    assert_eq!(summary_number(&err, "events:", "process"), 4, "{err}");

    let missing = scan(&["no/such/file.xml"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no such file or directory"));

    let bad_format = scan(&["examples", "--format", "yaml"]);
    assert_eq!(bad_format.status.code(), Some(2));
    assert!(stderr(&bad_format).contains("expected one of: xml, evtx, json, crowdstrike, csv"));

    assert_eq!(scan(&[]).status.code(), Some(2), "PATH is required");
    assert_eq!(scan(&["--bogus", "examples"]).status.code(), Some(2));
    let help = scan(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout).contains("Exit status"));
}

#[test]
fn rules_option_adds_user_rules_to_the_shipped_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("route.yml"),
        "name: Route Table Discovery\nid: 0f6a3b1e-0000-4000-8000-000000000001\ntype: Hunting\n\
         search: '| tstats count from datamodel=Endpoint.Processes where Processes.process_name=\"netstat.exe\" \
         Processes.process=\"*-r*\" by Processes.dest Processes.process | `drop_dm_object_name(Processes)`'\n\
         tags:\n  analytic_story:\n  - Local\n  mitre_attack_id:\n  - T1016\n",
    )
    .unwrap();
    let out = scan(&[
        "examples/processes.csv",
        "--rules",
        dir.path().to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(rule_count(&err, "Route Table Discovery"), 1, "{err}");
    assert_eq!(rule_count(&err, NETSTAT), 1, "{err}");
    let missing = scan(&["examples/processes.csv", "--rules", "no/such/dir"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("--rules no/such/dir: no such directory"));
}

#[test]
fn no_rule_loaded_is_an_error_but_events_are_still_counted() {
    // A copy of the binary outside the tree finds no shipped rules next to it.
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("netdiscover");
    std::fs::copy(crate::support::netdiscover_exe(), &exe).unwrap();
    let out = crate::support::command(&exe)
        .args(["scan", "examples/processes.csv"])
        .current_dir(root())
        .env_remove("NETDISCOVER_RULES_DIR")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("error: no rule loaded"), "{err}");
    assert_eq!(summary_number(&err, "events:", "process"), 4, "{err}");
}

#[test]
fn forced_format_applies_to_every_file() {
    let out = scan(&["examples/processes.csv", "--format", "xml"]);
    let err = stderr(&out);
    assert_eq!(summary_number(&err, "events:", "malformed"), 1, "{err}");
}

#[test]
fn shared_datasets_scan_counts() {
    let Some(shared) = shared("datasets") else {
        return;
    };
    for (sub, records, process) in [
        // Sums of SOURCES.md's per-file counts.
        ("evtx", 2135, 617),
        ("xml", 2135, 617),
        ("json", 202, 106),
    ] {
        let dir = shared.join(sub);
        let out = scan(&[dir.to_str().unwrap(), "--output", "ndjson"]);
        let err = stderr(&out);
        assert_eq!(
            summary_number(&err, "events:", "records"),
            records,
            "{sub}: {err}"
        );
        assert_eq!(
            summary_number(&err, "events:", "process"),
            process,
            "{sub}: {err}"
        );
        assert_eq!(
            summary_number(&err, "events:", "malformed"),
            0,
            "{sub}: {err}"
        );
    }
}

/// Per file: (stem, NETSTAT hits, NETSH hits) from SOURCES.md; both renderings must agree.
#[test]
fn shared_datasets_hits_per_file() {
    let Some(shared) = shared("datasets") else {
        return;
    };
    let expected = [
        ("sbousseaden__panache_sysmon_vs_EDRTestingScript", 0, 2),
        (
            "mdecrevoisier__ID4688-netsh_RDP_port_forwarding_abuse",
            0,
            1,
        ),
        ("sbousseaden__de_portforward_netsh_rdp_sysmon_13_1", 0, 0),
        ("sbousseaden__powercat_revShell_sysmon_1_3", 0, 0),
        ("sbousseaden__sysmon_1_exec_via_sql_xpcmdshell", 0, 0),
        ("sbousseaden__sysmon_13_rdp_settings_tampering", 0, 0),
        (
            "mdecrevoisier__ID4688-Firewall_configuration_enumerated_command",
            0,
            0,
        ),
        ("mdecrevoisier__ID4688-netsh_helper_DLL", 0, 0),
        (
            "mdecrevoisier__ID4688-5447-4950-Firewall_disabled_command",
            0,
            0,
        ),
        ("atomic-evtx__T1049-1_Sysmon", 0, 0),
        ("atomic-evtx__System_Information_Discovery_2_Sysmon", 0, 0),
    ];
    for (stem, netstat, netsh) in expected {
        for ext in ["evtx", "xml"] {
            let path = shared.join(ext).join(format!("{stem}.{ext}"));
            let out = scan(&[path.to_str().unwrap(), "--output", "ndjson"]);
            let (a, b, rows) = hits(&out);
            assert_eq!((a, b), (netstat, netsh), "{}", path.display());
            let expected_status = if netstat + netsh > 0 { 1 } else { 0 };
            assert_eq!(
                out.status.code(),
                Some(expected_status),
                "{}",
                path.display()
            );
            for row in &rows {
                // The parent `cmd /c netsh ... portproxy ...` rows are cmd.exe and must not fire.
                assert_eq!(
                    row["process_name"].as_str().unwrap().to_ascii_lowercase(),
                    "netsh.exe",
                    "{row}"
                );
                assert!(
                    row["process"].as_str().unwrap().contains(" v4tov4 "),
                    "{row}"
                );
            }
        }
    }
    for stem in [
        "atomic-evtx__T1049-1_Sysmon",
        "atomic-evtx__System_Information_Discovery_2_Sysmon",
    ] {
        let path = shared.join("json").join(format!("{stem}.json"));
        let out = scan(&[path.to_str().unwrap(), "--output", "ndjson"]);
        assert_eq!(hits(&out).0 + hits(&out).1, 0, "{}", path.display());
        assert_eq!(out.status.code(), Some(0));
    }
}

#[test]
fn shared_bulk_gzip_has_no_hits_among_31448_process_events() {
    let Some(shared) = shared("datasets") else {
        return;
    };
    let out = scan(&[shared.join("bulk").to_str().unwrap(), "--output", "ndjson"]);
    let err = stderr(&out);
    assert_eq!(summary_number(&err, "events:", "records"), 64_767, "{err}");
    assert_eq!(summary_number(&err, "events:", "process"), 31_448, "{err}");
    assert_eq!(rule_count(&err, NETSTAT), 0, "{err}");
    assert_eq!(rule_count(&err, NETSH), 0, "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
