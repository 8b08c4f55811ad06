//! Operator-by-operator semantics of compiled rules, with Splunk's edge cases, plus loading,
//! macros, legacy schema, selection, annotation and rule locations.

use crate::support::rules::*;
use crate::support::{repo, shared};
use netdiscover::rules::{
    rule_places, EscuSchema, Matcher, RuleError, RuleSet, Selected, Selection, SplError,
};

const BY: &str = "by Processes.dest Processes.user Processes.process Processes.process_name Processes.parent_process_name Processes.process_id Processes.original_file_name";

fn detection(name: &str, kind: &str, predicate: &str, tail: &str) -> String {
    let id = format!(
        "00000000-0000-0000-0000-{:012}",
        name.bytes().map(u64::from).sum::<u64>() * 7 + name.len() as u64
    );
    let rba = if kind == "Hunting" {
        String::new()
    } else {
        "rba:\n  message: Suspicious $process_name$ ran $process$ on $dest$\n  risk_objects:\n  - field: dest\n    type: system\n    score: 40\n  - field: user\n    type: user\n    score: 60\n  threat_objects:\n  - field: process_name\n    type: process_name\n".to_string()
    };
    let search = format!(
        "| tstats count min(_time) as firstTime from datamodel=Endpoint.Processes where {predicate} {BY} | `drop_dm_object_name(Processes)` | `security_content_ctime(firstTime)`{tail} | `{}_filter`",
        name.to_ascii_lowercase().replace(' ', "_")
    );
    format!(
        "name: {name}\nid: {id}\ntype: {kind}\nsearch: {}\ntags:\n  analytic_story:\n  - Story {kind}\n  mitre_attack_id:\n  - T1000\n{rba}",
        serde_json::to_string(&search).expect("json string is valid YAML")
    )
}

const CTIME: &str = "definition: 'convert timeformat=\"%Y-%m-%dT%H:%M:%S\" ctime($field$)'\narguments:\n- field\nname: security_content_ctime\n";

/// Compiles one rule and returns a closure telling whether a row (given as pairs) fires it.
struct One {
    set: RuleSet,
    m: Matcher,
}

impl One {
    fn new(predicate: &str, tail: &str) -> One {
        let dir = rule_dir(&[
            ("d/r.yml", &detection("Probe", "TTP", predicate, tail)),
            ("m/ctime.yml", CTIME),
        ]);
        let (set, warnings) = RuleSet::load(&[dir.path().to_path_buf()]);
        assert!(warnings.is_empty(), "{predicate} {tail}: {warnings:?}");
        assert_eq!(set.len(), 1);
        let m = Matcher::new(&set);
        One { set, m }
    }
    fn fires(&mut self, pairs: &[(&str, &[&str])]) -> bool {
        let r = row(&self.set, pairs);
        !self
            .m
            .match_row(&self.set, &Selected::all(&self.set), &r)
            .is_empty()
    }
}

#[test]
fn wildcard_needs_the_literal_run() {
    let mut r = One::new(
        "(Processes.process_name=\"netstat.exe\") (Processes.process=*-a*)",
        "",
    );
    let n: &[&str] = &["netstat.exe"];
    assert!(r.fires(&[("process_name", n), ("process", &["netstat -a"])]));
    assert!(r.fires(&[("process_name", n), ("process", &["netstat -ano"])]));
    assert!(!r.fires(&[("process_name", n), ("process", &["netstat -na"])]));
    assert!(!r.fires(&[("process_name", n), ("process", &["netstat -nao"])]));
    assert!(
        !r.fires(&[("process_name", n)]),
        "absent field never matches *-a*"
    );
}

#[test]
fn quoted_value_with_spaces_needs_a_space_on_both_sides() {
    let mut r = One::new("Processes.process = \"* portproxy *\"", "");
    assert!(r.fires(&[("process", &["netsh interface portproxy add"])]));
    assert!(
        !r.fires(&[("process", &["netsh interface portproxy"])]),
        "no trailing space"
    );
    assert!(
        !r.fires(&[("process", &["portproxy add"])]),
        "no leading space"
    );
    assert!(
        !r.fires(&[("process", &["netsh interface\tportproxy add"])]),
        "a tab is not a space"
    );
}

#[test]
fn values_are_case_insensitive_and_exact_without_wildcards() {
    let mut r = One::new("Processes.process_name=NetSh.EXE", "");
    assert!(r.fires(&[("process_name", &["netsh.exe"])]));
    assert!(r.fires(&[("process_name", &["NETSH.EXE"])]));
    assert!(
        !r.fires(&[("process_name", &["netsh.exe.bak"])]),
        "no wildcard = whole value"
    );
    assert!(!r.fires(&[("process_name", &["xnetsh.exe"])]));
}

#[test]
fn star_crosses_newlines() {
    let mut r = One::new("Processes.process=\"*-enc*frombase64*\"", "");
    assert!(r.fires(&[("process", &["powershell -enc\r\n  x.FromBase64String(y)"])]));
}

#[test]
fn multivalue_matches_if_any_value_does() {
    let mut r = One::new("Processes.process=\"*-a*\"", "");
    assert!(r.fires(&[("process", &["netstat -n", "netstat -a"])]));
    assert!(!r.fires(&[("process", &["netstat -n", "netstat -r"])]));
    let mut ne = One::new("Processes.user!=SYSTEM", "");
    assert!(ne.fires(&[("user", &["alice"])]));
    // Search Manual, "Difference between != and NOT": != returns "every event that has a
    // value in the field, where that value does not match": like every search comparison,
    // true if some value satisfies it.
    assert!(
        ne.fires(&[("user", &["alice", "system"])]),
        "!= : some value does not match"
    );
    assert!(!ne.fires(&[("user", &["SYSTEM", "system"])]));
    let mut not_mv = One::new("NOT Processes.user=SYSTEM", "");
    assert!(
        !not_mv.fires(&[("user", &["alice", "system"])]),
        "NOT x=v: no value may match"
    );
    assert!(
        !ne.fires(&[("dest", &["h"])]),
        "!= needs the field to exist"
    );
    let mut not = One::new("NOT Processes.user=SYSTEM", "");
    assert!(
        not.fires(&[("dest", &["h"])]),
        "NOT x=v is true when x is absent"
    );
    assert!(!not.fires(&[("user", &["System"])]));
}

#[test]
fn prefixed_and_bare_field_names() {
    let mut bare = One::new("process_name=cmd.exe", "");
    assert!(
        bare.fires(&[("Processes.process_name", &["cmd.exe"])]),
        "bare in rule, prefixed column"
    );
    assert!(bare.fires(&[("process_name", &["cmd.exe"])]));
    assert_eq!(bare.set.fields()[0], "process_name");
    let mut prefixed = One::new("Processes.process_name=cmd.exe", "");
    assert!(prefixed.fires(&[("process_name", &["CMD.exe"])]));
    assert!(prefixed
        .set
        .fields()
        .iter()
        .all(|f| !f.starts_with("Processes.")));
    // Field names are case-sensitive in Splunk: `processes.x` is not a data-model field.
    let mut wrong_case = One::new(
        "(Processes.process_name=a.exe OR processes.process_name=b.exe)",
        "",
    );
    assert!(wrong_case.fires(&[("process_name", &["a.exe"])]));
    assert!(!wrong_case.fires(&[("process_name", &["b.exe"])]));
}

#[test]
fn boolean_operators_in_and_parentheses() {
    // The search language evaluates OR before AND (Search Manual, "Boolean expressions with
    // logical operators"): (a OR b) AND c.
    let mut r = One::new(
        "Processes.process_name=a.exe OR Processes.process_name=b.exe Processes.user=u",
        "",
    );
    assert!(!r.fires(&[("process_name", &["a.exe"])]));
    assert!(!r.fires(&[("process_name", &["b.exe"])]));
    assert!(r.fires(&[("process_name", &["a.exe"]), ("user", &["U"])]));
    assert!(r.fires(&[("process_name", &["b.exe"]), ("user", &["U"])]));
    let mut p = One::new(
        "(Processes.process_name=a.exe OR Processes.process_name=b.exe) AND NOT Processes.user=u",
        "",
    );
    assert!(p.fires(&[("process_name", &["b.exe"]), ("user", &["v"])]));
    assert!(!p.fires(&[("process_name", &["b.exe"]), ("user", &["u"])]));
    let mut i = One::new(
        "Processes.process_name IN (\"cmd.exe\", power*.exe, \"*sh\")",
        "",
    );
    assert!(i.fires(&[("process_name", &["PowerShell.exe"])]));
    assert!(i.fires(&[("process_name", &["bash"])]));
    assert!(!i.fires(&[("process_name", &["cmd.exe.bak"])]));
}

#[test]
fn numeric_comparisons() {
    let mut r = One::new("Processes.process_id>100 Processes.process_id<=2000", "");
    assert!(r.fires(&[("process_id", &["200"])]));
    assert!(r.fires(&[("process_id", &["2000"])]));
    assert!(
        !r.fires(&[("process_id", &["99"])]),
        "numeric, not lexicographic: 99 < 100"
    );
    assert!(!r.fires(&[("process_id", &["10000"])]));
    assert!(!r.fires(&[]));
}

#[test]
fn where_match_like_and_field_comparison() {
    let mut m = One::new(
        "Processes.process_name=*",
        "| where match(process, \"(?i)-e(nc)?\\s+[a-z0-9+/=]{8,}\")",
    );
    assert!(m.fires(&[
        ("process_name", &["p.exe"]),
        ("process", &["ps -ENC SQBFAFgA"])
    ]));
    assert!(!m.fires(&[("process_name", &["p.exe"]), ("process", &["ps -enc abc"])]));
    let mut l = One::new(
        "Processes.process_name=*",
        "| where like(process, \"%\\\\Temp\\\\%.exe\")",
    );
    assert!(l.fires(&[("process_name", &["p"]), ("process", &["C:\\Temp\\x.exe"])]));
    assert!(
        !l.fires(&[("process_name", &["p"]), ("process", &["C:\\temp\\x.exe"])]),
        "like() is case-sensitive"
    );
    let mut f = One::new(
        "Processes.process_name=*",
        "| where parent_process_name != process_name",
    );
    assert!(f.fires(&[
        ("process_name", &["a.exe"]),
        ("parent_process_name", &["b.exe"])
    ]));
    assert!(!f.fires(&[
        ("process_name", &["a.exe"]),
        ("parent_process_name", &["a.exe"])
    ]));
    let mut eq = One::new(
        "Processes.process_name=*",
        "| where process_name=\"Cmd.exe\"",
    );
    assert!(eq.fires(&[("process_name", &["Cmd.exe"])]));
    assert!(
        !eq.fires(&[("process_name", &["cmd.exe"])]),
        "where = is case-sensitive"
    );
}

#[test]
fn regex_stage_and_negation() {
    let mut r = One::new(
        "Processes.process_name=rundll32.exe",
        "| regex process=\"(?i)(rundll32\\.exe.{0,4}$)\"",
    );
    assert!(r.fires(&[
        ("process_name", &["rundll32.exe"]),
        ("process", &["C:\\Windows\\rundll32.exe"])
    ]));
    assert!(!r.fires(&[
        ("process_name", &["rundll32.exe"]),
        ("process", &["rundll32.exe shell32.dll,Control_RunDLL"])
    ]));
    let mut n = One::new("Processes.process_name=*", "| regex process!=\"^safe\"");
    assert!(n.fires(&[("process_name", &["x"]), ("process", &["evil"])]));
    assert!(!n.fires(&[("process_name", &["x"]), ("process", &["safe run"])]));
}

#[test]
fn rename_and_eval_are_followed_by_later_filters() {
    let mut r = One::new(
        "Processes.process_name=*",
        "| rename process as cmdline | search cmdline=\"*mimikatz*\"",
    );
    assert!(r.fires(&[("process_name", &["x"]), ("process", &["run Mimikatz now"])]));
    assert!(!r.fires(&[("process_name", &["x"]), ("process", &["run notepad"])]));
    let mut e = One::new(
        "Processes.process_name=*",
        "| eval n = len(process_name), exe=if(substr(process_name, -4) == \".exe\", 1, 0) | search n=5 AND exe=1",
    );
    assert!(e.fires(&[("process_name", &["a.exe"])]));
    assert!(!e.fires(&[("process_name", &["ab.exe"])]));
    assert!(!e.fires(&[("process_name", &["a.com"])]));
    let mut x = One::new(
        "Processes.process_name=*",
        "| rex field=process \"Notepad\\.exe (?<arg>.*$)\" | rex field=arg \"\\.(?<ext>[^\\.]*$)\" | where isnull(ext) and isnotnull(arg)",
    );
    assert!(x.fires(&[
        ("process_name", &["n"]),
        ("process", &["Notepad.exe readme"])
    ]));
    assert!(!x.fires(&[
        ("process_name", &["n"]),
        ("process", &["Notepad.exe readme.txt"])
    ]));
    assert!(!x.fires(&[("process_name", &["n"]), ("process", &["calc.exe"])]));
}

#[test]
fn unsupported_and_multi_row_rules_are_skipped_with_named_warnings() {
    let dir = rule_dir(&[
        (
            "good.yml",
            &detection("Good", "TTP", "Processes.process_name=a.exe", ""),
        ),
        (
            "stats.yml",
            &detection(
                "Counts",
                "TTP",
                "Processes.process_name=a.exe",
                "| stats count by dest",
            ),
        ),
        (
            "free.yml",
            &detection(
                "Free Text",
                "TTP",
                "Processes.process_name=a.exe mimikatz",
                "",
            ),
        ),
        ("cycle.yml", &detection("Cyclic", "TTP", "`loop_a`", "")),
        ("m/a.yml", "name: loop_a\ndefinition: '`loop_b`'\n"),
        ("m/b.yml", "name: loop_b\ndefinition: '`loop_a`'\n"),
        ("m/ctime.yml", CTIME),
        ("broken.yml", "name: [unclosed\n"),
    ]);
    let (set, warnings) = RuleSet::load(&[dir.path().to_path_buf()]);
    assert_eq!(
        set.rules()
            .iter()
            .map(|r| r.meta.name.as_str())
            .collect::<Vec<_>>(),
        vec!["Good"]
    );
    let text: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    println!("{text:#?}");
    assert_eq!(warnings.len(), 4);
    let find = |rule: &str| {
        warnings.iter().find(|w| matches!(&w.error, RuleError::Spl { rule: r, .. } | RuleError::Macro { rule: r, .. } if r == rule))
    };
    match find("Counts").map(|w| &w.error) {
        Some(RuleError::Spl {
            source: SplError::NotRowLevel { construct, .. },
            ..
        }) => assert_eq!(construct, "stats"),
        other => panic!("stats: {other:?}"),
    }
    match find("Free Text").map(|w| &w.error) {
        Some(RuleError::Spl {
            source:
                SplError::Unsupported {
                    construct,
                    position,
                    ..
                },
            ..
        }) => {
            assert_eq!(construct, "mimikatz");
            assert!(*position > 0);
        }
        other => panic!("free text: {other:?}"),
    }
    assert!(
        text.iter()
            .any(|t| t.contains("Cyclic") && t.contains("macro cycle: loop_a -> loop_b -> loop_a")),
        "{text:?}"
    );
    assert!(text
        .iter()
        .any(|t| t.contains("broken.yml") && t.contains("invalid YAML")));
}

#[test]
fn macros_conf_and_argument_macros() {
    let dir = rule_dir(&[
        ("r.yml", &detection("Arg Macro", "TTP", "`proc_named(\"evil.exe\")` `shells`", "")),
        ("macros.conf", "[proc_named(1)]\nargs = n\ndefinition = Processes.process_name=$n$\n\n[shells]\ndefinition = (Processes.parent_process_name IN (\"cmd.exe\", \\\n  \"powershell.exe\"))\n"),
        ("ctime.yml", CTIME),
    ]);
    let (set, warnings) = RuleSet::load(&[dir.path().to_path_buf()]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut m = Matcher::new(&set);
    let all = Selected::all(&set);
    let yes = row(
        &set,
        &[
            ("process_name", &["EVIL.exe"]),
            ("parent_process_name", &["powershell.exe"]),
        ],
    );
    let no = row(
        &set,
        &[
            ("process_name", &["evil.exe"]),
            ("parent_process_name", &["explorer.exe"]),
        ],
    );
    assert_eq!(m.match_row(&set, &all, &yes), &[0]);
    assert!(m.match_row(&set, &all, &no).is_empty());
}

/// The shipped ESCU 6 seeds against their v5.13.0 files (tests/fixtures/escu_v5): the same
/// rules, apart from what ESCU changed (scores standardised to Anomaly 20 in March 2026,
/// docs/escu6-and-es8.md §5).
#[test]
fn shipped_escu6_seeds_are_their_v5_rules_with_standardised_scores() {
    let (v5, w5) = RuleSet::load(&[
        repo("tests/fixtures/escu_v5/detections"),
        repo("app/macros"),
    ]);
    let (v6, w6) = RuleSet::load(&[repo("app/detections"), repo("app/macros")]);
    assert!(w5.is_empty() && w6.is_empty(), "{w5:?} {w6:?}");
    assert_eq!(v5.len(), 2);
    assert_eq!(v5.fields(), v6.fields(), "the same searches");
    for (old, new) in v5.rules().iter().zip(v6.rules()) {
        assert_eq!(old.meta.escu_schema(), Some(EscuSchema::V5));
        assert_eq!(new.meta.escu_schema(), Some(EscuSchema::V6));
        let mut old = old.meta.clone();
        for i in &mut old.intermediate_findings {
            assert_eq!(i.entity.score.get(), 49, "v5.13.0's netsh score");
            i.entity.score = new.meta.intermediate_findings[0].entity.score;
        }
        old.origin = new.meta.origin;
        assert_eq!(old, new.meta);
    }
    let netsh = &v6.rules()[1].meta;
    assert_eq!(netsh.kind, "Anomaly");
    let scores: Vec<(&str, u8)> = netsh
        .intermediate_findings
        .iter()
        .map(|i| (i.entity.field.as_str(), i.entity.score.get()))
        .collect();
    assert_eq!(scores, [("dest", 20), ("user", 20)]);
}

#[test]
fn legacy_v4_schema_gives_the_same_risk() {
    let Some(legacy) = shared("escu/legacy_v4") else {
        return;
    };
    let (old, w1) = RuleSet::load(&[legacy.join("detections"), legacy.join("macros")]);
    assert!(w1.is_empty(), "{w1:?}");
    let (new, w2) = RuleSet::load(&[
        repo("tests/fixtures/escu_v5/detections"),
        repo("app/macros"),
    ]);
    assert!(w2.is_empty(), "{w2:?}");
    let pick = |s: &RuleSet, n: &str| {
        s.rules()
            .iter()
            .find(|r| r.meta.name == n)
            .cloned()
            .expect("rule")
    };
    let (o, n) = (
        pick(&old, "Windows Proxy Via Netsh"),
        pick(&new, "Windows Proxy Via Netsh"),
    );
    assert_eq!(o.meta.escu_schema(), Some(EscuSchema::V4));
    assert_eq!(n.meta.escu_schema(), Some(EscuSchema::V5));
    assert_eq!(
        o.meta.intermediate_findings, n.meta.intermediate_findings,
        "round(70*70/100)=49, Victim Hostname→system, User→user, the same message"
    );
    assert!(
        o.meta.finding.is_none() && n.meta.finding.is_none(),
        "Anomaly"
    );
    let hunting = pick(&old, "Network Connection Discovery With Netstat");
    assert!(
        !hunting.meta.carries_risk(),
        "Hunting: no risk even with impact/confidence"
    );
    // Attacker observables become threat objects.
    let dir = rule_dir(&[
        ("r.yml", "name: Legacy\nid: 11111111-2222-3333-4444-555555555555\ntype: TTP\nsearch: '| tstats count from datamodel=Endpoint.Processes where Processes.process_name=x.exe by Processes.dest Processes.process_name'\ntags:\n  impact: 50\n  confidence: 45\n  message: $process_name$ on $dest$\n  observable:\n  - name: dest\n    type: Endpoint\n    role: [Victim]\n  - name: process_name\n    type: Process Name\n    role: [Attacker]\n"),
    ]);
    let (set, w) = RuleSet::load(&[dir.path().to_path_buf()]);
    assert!(w.is_empty(), "{w:?}");
    let meta = &set.rules()[0].meta;
    let finding = meta
        .finding
        .as_ref()
        .expect("a TTP's first object is its finding");
    assert_eq!(finding.entity.score.get(), 23, "round(22.5) = 23");
    assert_eq!(finding.entity.kind, "system");
    assert_eq!(finding.title, "$process_name$ on $dest$");
    assert_eq!(meta.threat_objects[0].kind, "process_name");
}

#[test]
fn annotation_risk_expansion_and_multivalue_tokens() {
    let dir = rule_dir(&[
        (
            "a.yml",
            &detection("Rule A", "TTP", "Processes.process_name=x.exe", ""),
        ),
        (
            "b.yml",
            &detection("Rule B", "Anomaly", "Processes.process=*evil*", ""),
        ),
        (
            "c.yml",
            &detection("Rule C", "Hunting", "Processes.process_name=x*", ""),
        ),
        ("ctime.yml", CTIME),
    ]);
    let (set, warnings) = RuleSet::load(&[dir.path().to_path_buf()]);
    assert!(warnings.is_empty(), "{warnings:?}");
    for f in ["process_name", "process", "dest", "user"] {
        assert!(
            set.fields().iter().any(|x| x == f),
            "fields() lists {f}: {:?}",
            set.fields()
        );
    }
    let mut m = Matcher::new(&set);
    let r = row(
        &set,
        &[
            ("process_name", &["x.exe"]),
            ("process", &["x.exe evil"]),
            ("dest", &["h1", "h2"]),
            ("user", &["bob"]),
        ],
    );
    let matched = m.match_row(&set, &Selected::all(&set), &r).to_vec();
    assert_eq!(matched.len(), 3);
    let a = set.annotate(&matched, &r);
    assert_eq!(a.detection, vec!["Rule A", "Rule B", "Rule C"]);
    assert_eq!(a.detection_type, vec!["TTP", "Anomaly", "Hunting"]);
    assert_eq!(a.mitre_attack_id, vec!["T1000"], "union, no duplicates");
    assert_eq!(
        a.risk_object,
        vec!["h1", "h2", "bob", "h1", "h2", "bob"],
        "Hunting adds none"
    );
    assert_eq!(
        a.risk_object_type,
        vec!["system", "system", "user", "system", "system", "user"]
    );
    assert_eq!(a.risk_score, vec!["40", "40", "60", "40", "40", "60"]);
    assert_eq!(a.risk_message.len(), 6, "one per risk object value");
    assert_eq!(
        a.risk_message[0], "Suspicious x.exe ran x.exe evil on h1\nh2",
        "multivalue token: values joined by newline"
    );
    assert!(a.risk_message.iter().all(|m| m == &a.risk_message[0]));
    assert_eq!(a.threat_object, vec!["x.exe", "x.exe"]);
    assert_eq!(
        a.finding_title,
        vec!["Suspicious x.exe ran x.exe evil on h1\nh2"],
        "only the TTP has a finding (its user, as ESCU's porter picks it)"
    );
    let events = set.risk_events(&matched, &r);
    assert_eq!(
        events.len(),
        3 + 3 + 1,
        "A and B: one per risk object value; C: one empty"
    );
    assert!(events
        .iter()
        .take(6)
        .all(|e| e.risk_object.len() == 1 && e.detection.len() == 1));
    assert!(events[6].risk_object.is_empty() && events[6].detection == vec!["Rule C"]);
    let finding_rows: Vec<&str> = events
        .iter()
        .filter(|e| !e.finding_title.is_empty())
        .map(|e| e.risk_object[0].as_str())
        .collect();
    assert_eq!(
        finding_rows,
        ["bob"],
        "only the finding's entity row is the finding"
    );
    let none = row(&set, &[("process_name", &["y.exe"])]);
    assert!(m.match_row(&set, &Selected::all(&set), &none).is_empty());
}

#[test]
fn selection_by_name_id_type_story() {
    let dir = rule_dir(&[
        (
            "a.yml",
            &detection("Alpha Rule", "TTP", "Processes.process_name=a", ""),
        ),
        (
            "b.yml",
            &detection("Beta Rule", "Anomaly", "Processes.process_name=b", ""),
        ),
        (
            "c.yml",
            &detection("Gamma Hunt", "Hunting", "Processes.process_name=c", ""),
        ),
        ("ctime.yml", CTIME),
    ]);
    let (set, _) = RuleSet::load(&[dir.path().to_path_buf()]);
    let names = |s: &Selection| -> Vec<String> {
        set.select(s)
            .expect("select")
            .indices()
            .iter()
            .map(|&i| set.rules()[i].meta.name.clone())
            .collect()
    };
    let sel = |rules: &[&str], types: &[&str], stories: &[&str]| Selection {
        rules: rules.iter().map(|s| s.to_string()).collect(),
        types: types.iter().map(|s| s.to_string()).collect(),
        stories: stories.iter().map(|s| s.to_string()).collect(),
    };
    assert_eq!(names(&sel(&[], &[], &[])).len(), 3);
    assert_eq!(names(&sel(&["alpha rule"], &[], &[])), vec!["Alpha Rule"]);
    assert_eq!(
        names(&sel(&["*rule"], &[], &[])),
        vec!["Alpha Rule", "Beta Rule"]
    );
    let id = set.rules()[2].meta.id.clone();
    assert_eq!(
        names(&sel(&[&id.to_uppercase()], &[], &[])),
        vec!["Gamma Hunt"]
    );
    assert_eq!(
        names(&sel(&[], &["ttp", "HUNTING"], &[])),
        vec!["Alpha Rule", "Gamma Hunt"],
        "repeats unite"
    );
    assert_eq!(
        names(&sel(&["*rule"], &["hunting"], &[])),
        Vec::<String>::new(),
        "keys intersect"
    );
    assert_eq!(names(&sel(&[], &[], &["story anomaly"])), vec!["Beta Rule"]);
    let err = set.select(&sel(&["nope"], &[], &[])).unwrap_err();
    assert_eq!(err.to_string(), "rule=nope matches no loaded rule");
}

#[test]
fn user_rules_override_shipped_by_id_and_places_are_found() {
    let app = rule_dir(&[
        (
            "bin/rules/detections/r.yml",
            &detection("Same", "TTP", "Processes.process_name=shipped.exe", ""),
        ),
        ("bin/rules/macros/ctime.yml", CTIME),
        (
            "local/rules/r.yml",
            &detection("Same", "TTP", "Processes.process_name=user.exe", ""),
        ),
    ]);
    let env_dir = rule_dir(&[(
        "e.yml",
        &detection("From Env", "TTP", "Processes.process_name=e.exe", ""),
    )]);
    let exe = app.path().join("bin/netdiscover");
    let extra = vec![app.path().join("cli-rules")];
    let places = rule_places(Some(&exe), Some(env_dir.path()), &extra);
    assert_eq!(places.shipped, vec![app.path().join("bin/rules")]);
    assert_eq!(
        places.user,
        vec![
            app.path().join("bin/../local/rules"),
            env_dir.path().to_path_buf(),
            extra[0].clone()
        ]
    );
    let (set, warnings) = places.load();
    let text: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("replaced by the rule with the same id")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.contains("cli-rules") && t.contains("cannot read")),
        "{text:?}"
    );
    assert_eq!(set.len(), 2);
    let mut m = Matcher::new(&set);
    let user = row(&set, &[("process_name", &["user.exe"])]);
    let shipped = row(&set, &[("process_name", &["shipped.exe"])]);
    assert_eq!(m.match_row(&set, &Selected::all(&set), &user).len(), 1);
    assert!(m.match_row(&set, &Selected::all(&set), &shipped).is_empty());
    // Dev tree: no <exe_dir>/rules, fall back to <exe_dir>/../../app.
    let dev = rule_places(Some(&repo("target/debug/netdiscover")), None, &[]);
    assert_eq!(dev.shipped.len(), 2);
    assert!(dev.shipped[0].ends_with("app/detections"));
}

#[test]
fn readme_example_rule_loads_and_fires() {
    let readme = std::fs::read_to_string(repo("README.md")).expect("README");
    let section = readme
        .split("### Adding your own rule")
        .nth(1)
        .expect("README has the section");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("yaml block");
    let dir = rule_dir(&[("local/rules/mine.yml", yaml)]);
    let (set, warnings) = RuleSet::load(&[
        repo("app/detections"),
        repo("app/macros"),
        dir.path().join("local/rules"),
    ]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let mine = set
        .select(&Selection {
            rules: vec!["Certutil Decode From Temp".into()],
            ..Default::default()
        })
        .expect("select");
    let mut m = Matcher::new(&set);
    let hit = row(
        &set,
        &[
            ("process_name", &["CertUtil.exe"]),
            (
                "process",
                &["certutil -decode C:\\Users\\a\\AppData\\Local\\Temp\\x.b64 out.exe"],
            ),
            ("dest", &["ws1"]),
            ("user", &["bob"]),
        ],
    );
    let matched = m.match_row(&set, &mine, &hit).to_vec();
    assert_eq!(matched.len(), 1);
    let a = set.annotate(&matched, &hit);
    assert_eq!(a.risk_object, vec!["ws1", "bob"]);
    assert_eq!(a.risk_score, vec!["50", "50"]);
    assert_eq!(
        a.finding_title,
        vec!["certutil decoded certutil -decode C:\\Users\\a\\AppData\\Local\\Temp\\x.b64 out.exe on ws1"]
    );
    let miss = row(
        &set,
        &[
            ("process_name", &["certutil.exe"]),
            ("process", &["certutil -decode C:\\x.b64 out.exe"]),
        ],
    );
    assert!(m.match_row(&set, &mine, &miss).is_empty());
}
