//! The two shipped seed rules over real attack logs in ../shared/datasets (expected hits in
//! its SOURCES.md: 3 netsh positives, 0 netstat positives, many near-misses), plus synthetic
//! netstat positives.

use crate::support::rules::*;
use crate::support::{repo, shared};
use netdiscover::rules::{shipped_places, Matcher, RuleSet, Selected, Selection};

const NETSTAT: &str = "Network Connection Discovery With Netstat";
const NETSH: &str = "Windows Proxy Via Netsh";

fn shipped() -> RuleSet {
    let places = shipped_places(&repo("target/debug/netdiscover"));
    assert_eq!(
        places.len(),
        2,
        "dev-tree fallback finds app/detections and app/macros: {places:?}"
    );
    let (set, warnings) = RuleSet::load(&places);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(set.len(), 2);
    set
}

fn hits(set: &RuleSet, events: &[ProcessEvent]) -> Vec<(String, ProcessEvent)> {
    let mut m = Matcher::new(set);
    let all = Selected::all(set);
    let mut out = Vec::new();
    for e in events {
        let row = e.to_row(set);
        for &i in m.match_row(set, &all, &row) {
            out.push((set.rules()[i].meta.name.clone(), e.clone()));
        }
    }
    out
}

#[test]
fn seed_rules_give_exactly_the_expected_hits_on_real_logs() {
    let Some(datasets) = shared("datasets") else {
        return;
    };
    let set = shipped();
    let files = xml_dataset_files(&datasets);
    let mut all_hits = Vec::new();
    let mut rows = 0usize;
    let mut netsh_rows = 0usize;
    let mut netstat_rows = 0usize;
    for f in &files {
        let events = process_events(&read_text(f));
        rows += events.len();
        netsh_rows += events
            .iter()
            .filter(|e| e.get("process_name").eq_ignore_ascii_case("netsh.exe"))
            .count();
        netstat_rows += events
            .iter()
            .filter(|e| e.get("process_name").eq_ignore_ascii_case("netstat.exe"))
            .count();
        for (rule, e) in hits(&set, &events) {
            all_hits.push((
                f.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                rule,
                e,
            ));
        }
    }
    println!("{} files, {rows} process rows, {netsh_rows} netsh.exe rows, {netstat_rows} netstat.exe rows", files.len());
    for (file, rule, e) in &all_hits {
        println!("hit {rule} in {file}: {}", e.get("process"));
    }
    assert!(rows > 30_000, "bulk data read: {rows}");
    assert!(netsh_rows > 80 && netstat_rows >= 3, "near-misses present");
    assert_eq!(
        all_hits.iter().filter(|(_, r, _)| r == NETSTAT).count(),
        0,
        "netstat positives"
    );
    let netsh: Vec<_> = all_hits.iter().filter(|(_, r, _)| r == NETSH).collect();
    assert_eq!(netsh.len(), 3, "netsh positives");
    let in_file = |needle: &str| netsh.iter().filter(|(f, _, _)| f.contains(needle)).count();
    assert_eq!(in_file("panache_sysmon_vs_EDRTestingScript"), 2);
    assert_eq!(in_file("ID4688-netsh_RDP_port_forwarding_abuse"), 1);
    for (_, _, e) in &netsh {
        assert!(
            e.get("process_name").eq_ignore_ascii_case("netsh.exe"),
            "parent cmd.exe rows must not fire"
        );
        let p = e.get("process").to_ascii_lowercase();
        assert!(p.contains(" portproxy ") && p.contains(" v4tov4 "));
    }
}

#[test]
fn seed_annotation_on_a_real_positive() {
    let Some(xml) =
        shared("datasets/xml/mdecrevoisier__ID4688-netsh_RDP_port_forwarding_abuse.xml")
    else {
        return;
    };
    let set = shipped();
    let events = process_events(&read_text(&xml));
    let h = hits(&set, &events);
    assert_eq!(h.len(), 1);
    let row = h[0].1.to_row(&set);
    let mut m = Matcher::new(&set);
    let matched = m.match_row(&set, &Selected::all(&set), &row).to_vec();
    let a = set.annotate(&matched, &row);
    assert_eq!(a.detection, vec![NETSH]);
    assert_eq!(a.detection_id, vec!["c137bfe8-6036-4cff-b77b-4e327dd0a1cf"]);
    assert_eq!(a.detection_type, vec!["Anomaly"]);
    assert_eq!(a.mitre_attack_id, vec!["T1090.001"]);
    assert_eq!(a.analytic_story, vec!["Volt Typhoon"]);
    assert_eq!(a.risk_object_type, vec!["system", "user"]);
    assert_eq!(a.risk_score, vec!["20", "20"]);
    assert_eq!(a.risk_object[0], h[0].1.get("dest"));
    assert_eq!(a.risk_object[1], h[0].1.get("user"));
    let message = format!(
        "A process {} has launched netsh with command-line {} on {}.",
        h[0].1.get("process_name"),
        h[0].1.get("process"),
        h[0].1.get("dest")
    );
    assert_eq!(a.risk_message, vec![message.clone(), message]);
    assert!(a.finding_title.is_empty(), "an Anomaly has no finding");
    assert!(a.threat_object.is_empty());
    let events = set.risk_events(&matched, &row);
    assert_eq!(events.len(), 2, "one risk event per risk object");
    assert_eq!(events[1].risk_object, vec![h[0].1.get("user").to_string()]);
}

#[test]
fn synthetic_netstat_positives_fire_and_near_misses_do_not() {
    let set = shipped();
    let mut m = Matcher::new(&set);
    let only_netstat = set
        .select(&Selection {
            rules: vec![NETSTAT.into()],
            ..Default::default()
        })
        .expect("select");
    let fire = |name: &str, cmd: &str, m: &mut Matcher| {
        let r = row(
            &set,
            &[
                ("Processes.process_name", &[name]),
                ("Processes.process", &[cmd]),
            ],
        );
        !m.match_row(&set, &only_netstat, &r).is_empty()
    };
    for cmd in [
        "netstat -a",
        "netstat -ano",
        "netstat -an",
        "NETSTAT.EXE -A",
        "\"C:\\Windows\\system32\\NETSTAT.EXE\" -ANO",
    ] {
        assert!(fire("netstat.exe", cmd, &mut m), "{cmd} should fire");
    }
    assert!(
        fire("NETSTAT.EXE", "netstat -a", &mut m),
        "process_name is case-insensitive"
    );
    for cmd in ["netstat -na", "netstat -nao", "netstat  ", "netstat"] {
        assert!(!fire("netstat.exe", cmd, &mut m), "{cmd} must not fire");
    }
    assert!(
        !fire("cmd.exe", "cmd /c netstat -a", &mut m),
        "another process name"
    );
    // The annotation of a Hunting rule carries no risk.
    let r = row(
        &set,
        &[
            ("process_name", &["netstat.exe"]),
            ("process", &["netstat -ano"]),
            ("dest", &["h1"]),
        ],
    );
    let matched = m.match_row(&set, &only_netstat, &r).to_vec();
    let a = set.annotate(&matched, &r);
    assert_eq!(a.detection_type, vec!["Hunting"]);
    assert_eq!(a.mitre_attack_id, vec!["T1049"]);
    assert_eq!(a.analytic_story.len(), 9);
    assert!(a.risk_object.is_empty() && a.risk_message.is_empty() && a.risk_score.is_empty());
    let ev = set.risk_events(&matched, &r);
    assert_eq!(
        ev.len(),
        1,
        "Hunting gives one row with empty risk fields in risk mode"
    );
    assert!(ev[0].risk_object.is_empty());
}
