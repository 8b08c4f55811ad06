//! No corpus rule is mis-compiled: for a sample of real ESCU detections, rows built by hand
//! from reading each rule's SPL must fire (positives) or not (negatives).

use crate::support::rules::*;
use crate::support::shared;
use netdiscover::rules::{Matcher, RuleSet, Selection};

type Pairs = &'static [(&'static str, &'static [&'static str])];

struct Case {
    rule: &'static str,
    positive: &'static [Pairs],
    negative: &'static [Pairs],
}

const CASES: &[Case] = &[
    Case {
        rule: "Windows Proxy Via Netsh",
        positive: &[&[("process_name", &["netsh.exe"]), ("process", &["netsh interface portproxy add v4tov4 listenport=1"])]],
        negative: &[
            &[("process_name", &["netsh.exe"]), ("process", &["netsh I p a v l=8001"])],
            &[("process_name", &["cmd.exe"]), ("process", &["cmd /c netsh interface portproxy add v4tov4 x"])],
        ],
    },
    Case {
        rule: "Create or delete windows shares using net exe",
        positive: &[&[("process_name", &["net1.exe"]), ("process", &["net1 share evil /DELETE"])]],
        negative: &[
            &[("process_name", &["net1.exe"]), ("process", &["net1 share evil"])],
            &[("process_name", &["net.exe"]), ("process", &["net share evil /delete"])],
        ],
    },
    Case {
        rule: "USN Journal Deletion",
        positive: &[&[("process_name", &["fsutil.exe"]), ("process", &["fsutil usn deletejournal /D C:"])]],
        negative: &[&[("process_name", &["fsutil.exe"]), ("process", &["fsutil usn queryjournal C:"])]],
    },
    Case {
        rule: "Single Letter Process On Endpoint",
        positive: &[&[("process_name", &["a.exe"])]],
        negative: &[&[("process_name", &["ab.exe"])], &[("process_name", &["a.com"])]],
    },
    Case {
        rule: "Windows WinDBG Spawning AutoIt3",
        positive: &[&[("parent_process_name", &["windbg.exe"]), ("process_name", &["AutoIt3.exe"]), ("process", &["AutoIt3.exe C:\\t\\x.au3"])]],
        negative: &[
            &[("parent_process_name", &["windbg.exe"]), ("process_name", &["autoit3.exe"]), ("process", &["autoit3.exe notes.txt"])],
            &[("parent_process_name", &["explorer.exe"]), ("process_name", &["autoit3.exe"]), ("process", &["autoit3.exe x.au3"])],
        ],
    },
    Case {
        rule: "Impacket Lateral Movement WMIExec Commandline Parameters",
        positive: &[&[
            ("parent_process_name", &["wmiprvse.exe"]),
            ("process", &["cmd.exe /Q /c cd \\ 1> \\\\127.0.0.1\\ADMIN$\\__1689345678.123456 2>&1"]),
        ]],
        negative: &[&[("parent_process_name", &["wmiprvse.exe"]), ("process", &["cmd.exe /Q /c cd \\ 1> C:\\out\\__1689345678.123456"])]],
    },
    Case {
        rule: "Detect Path Interception By Creation Of program exe",
        positive: &[&[("parent_process_name", &["services.exe"]), ("process_name", &["Program.exe"]), ("process", &["C:\\Program Files\\svc\\svc.exe"])]],
        negative: &[
            &[("parent_process_name", &["services.exe"]), ("process_name", &["SVC.exe"]), ("process", &["C:\\Program Files\\svc\\svc.exe"])],
            &[("parent_process_name", &["services.exe"]), ("process_name", &["x.exe"]), ("process", &["no path here"])],
        ],
    },
    Case {
        rule: "Windows UAC Bypass Suspicious Child Process",
        positive: &[&[("process_integrity_level", &["High"]), ("parent_process_name", &["fodhelper.exe"]), ("process_name", &["cmd.exe"])]],
        negative: &[
            &[("process_integrity_level", &["medium"]), ("parent_process_name", &["fodhelper.exe"]), ("process_name", &["cmd.exe"])],
            &[("process_integrity_level", &["high"]), ("parent_process_name", &["cmd.exe"]), ("process_name", &["cmd.exe"])],
        ],
    },
    Case {
        rule: "Linux Proxy Socks Curl",
        positive: &[
            &[("process_name", &["curl"]), ("process", &["curl -x socks5://10.0.0.1:1080 http://a"])],
            &[("process_name", &["curl"]), ("process", &["curl --preproxy 1.2.3.4 http://a"])],
        ],
        negative: &[&[("process_name", &["curl"]), ("process", &["curl http://a"])], &[("process_name", &["wget"]), ("process", &["wget -x socks5://a"])]],
    },
    Case {
        rule: "Regsvr32 with Known Silent Switch Cmdline",
        positive: &[
            &[("process_name", &["regsvr32.exe"]), ("process", &["regsvr32 /s evil.dll"])],
            &[("process_name", &["renamed.exe"]), ("original_file_name", &["REGSVR32.EXE"]), ("process", &["renamed -S x.dll"])],
        ],
        negative: &[&[("process_name", &["regsvr32.exe"]), ("process", &["regsvr32 evil.dll"])]],
    },
    Case {
        rule: "Windows Change Default File Association For No File Ext",
        positive: &[&[("process_name", &["reg.exe"]), ("process", &["reg add HKCR\\.x\\shell\\open\\command /ve /d C:\\Windows\\Notepad.exe %1 /f"])]],
        negative: &[&[("process_name", &["reg.exe"]), ("process", &["reg add HKCR\\.x\\shell\\open\\command /ve /d C:\\Windows\\Notepad.exe notes.txt"])]],
    },
    Case {
        rule: "Windows Command and Scripting Interpreter Hunting Path Traversal",
        positive: &[&[("process", &["cmd /c type ..\\..\\..\\windows\\win.ini"])]],
        negative: &[&[("process", &["cmd /c cd ..\\x"])]],
    },
    Case {
        rule: "Suspicious Rundll32 no Command Line Arguments",
        positive: &[&[("process_name", &["rundll32.exe"]), ("process", &["C:\\Windows\\System32\\rundll32.exe"])]],
        negative: &[&[("process_name", &["rundll32.exe"]), ("process", &["rundll32.exe shell32.dll,Control_RunDLL"])]],
    },
    Case {
        rule: "Windows Alternate DataStream - Process Execution",
        positive: &[&[("parent_process_name", &["cmd.exe"]), ("process_name", &["powershell.exe"]), ("process", &["powershell -c type file.txt:evil.ps1 | iex"])]],
        negative: &[
            &[("parent_process_name", &["cmd.exe"]), ("process_name", &["powershell.exe"]), ("process", &["powershell -c Get-Item c:\\temp"])],
            &[("parent_process_name", &["unknown"]), ("process_name", &["powershell.exe"]), ("process", &["type file.txt:evil.ps1 x"])],
        ],
    },
    Case {
        rule: "Detect RTLO In Process",
        positive: &[&[("action", &["allowed"]), ("process", &["cmd /c invoice\u{202E}fdp.exe"])]],
        negative: &[
            &[("action", &["blocked"]), ("process", &["cmd /c invoice\u{202E}fdp.exe"])],
            &[("action", &["allowed"]), ("process", &["cmd /c invoice.pdf"])],
        ],
    },
    Case {
        rule: "BCDEdit Failure Recovery Modification",
        positive: &[&[("process_name", &["bcdedit.exe"]), ("process", &["bcdedit /set {default} recoveryenabled No"])]],
        negative: &[&[("process_name", &["bcdedit.exe"]), ("process", &["bcdedit /set {default} recoveryenabled yes"])]],
    },
    Case {
        rule: "Possible Lateral Movement PowerShell Spawn",
        positive: &[
            &[("parent_process_name", &["wmiprvse.exe"]), ("process_name", &["powershell.exe"]), ("process", &["powershell -nop"])],
            &[("parent_process_name", &["services.exe"]), ("process_name", &["cmd.exe"]), ("process", &["cmd /c powershell.exe -enc x"])],
        ],
        negative: &[
            &[("parent_process_name", &["services.exe"]), ("process_name", &["cmd.exe"]), ("process", &["cmd /c dir"])],
            &[("parent_process_name", &["wmiprvse.exe"]), ("process_name", &["powershell.exe"]), ("process", &["C:\\Windows\\CCM\\x.ps1"])],
        ],
    },
    Case {
        rule: "Potential Telegram API Request Via CommandLine",
        positive: &[&[("process", &["curl https://api.telegram.org/bot1/sendMessage"])]],
        negative: &[&[("process", &["tool -osint -url https://api.telegram.org/x"])], &[("process", &["curl https://example.org"])]],
    },
    Case {
        rule: "Suspicious Regsvr32 Register Suspicious Path",
        positive: &[&[("process_name", &["regsvr32.exe"]), ("process", &["regsvr32 /s C:\\Users\\a\\AppData\\x.jpg"])]],
        negative: &[&[("process_name", &["regsvr32.exe"]), ("process", &["regsvr32 /s C:\\Users\\a\\AppData\\x.dll"])]],
    },
];

#[test]
fn sampled_corpus_rules_fire_exactly_on_hand_derived_rows() {
    let Some((detections, macros)) = escu_corpus() else {
        return;
    };
    let (set, _warnings) = RuleSet::load(&[macros, detections]);
    assert!(set.len() >= 399, "corpus rules loaded: {}", set.len());
    let mut m = Matcher::new(&set);
    let mut checked = 0;
    for case in CASES {
        let selected = set
            .select(&Selection {
                rules: vec![case.rule.to_string()],
                ..Default::default()
            })
            .unwrap_or_else(|e| panic!("{}: {e}", case.rule));
        assert_eq!(selected.indices().len(), 1, "{}", case.rule);
        for (rows, expect) in [(case.positive, true), (case.negative, false)] {
            for pairs in rows {
                let r = row(&set, pairs);
                let fired = !m.match_row(&set, &selected, &r).is_empty();
                assert_eq!(fired, expect, "{}: {:?}", case.rule, pairs);
                checked += 1;
            }
        }
    }
    assert!(
        CASES.len() >= 15 && checked >= 40,
        "{} rules, {checked} rows",
        CASES.len()
    );
}

#[test]
fn corpus_risk_message_with_threat_objects() {
    let Some((detections, macros)) = escu_corpus() else {
        return;
    };
    let (set, _) = RuleSet::load(&[macros, detections]);
    let sel = set
        .select(&Selection {
            rules: vec!["Suspicious Regsvr32 Register Suspicious Path".into()],
            ..Default::default()
        })
        .expect("select");
    let r = row(
        &set,
        &[
            ("process_name", &["regsvr32.exe"]),
            ("parent_process_name", &["winword.exe"]),
            ("process", &["regsvr32 C:\\ProgramData\\a.jpg"]),
            ("dest", &["ws1"]),
            ("user", &["alice"]),
        ],
    );
    let mut m = Matcher::new(&set);
    let matched = m.match_row(&set, &sel, &r).to_vec();
    let a = set.annotate(&matched, &r);
    let message = "An instance of winword.exe spawning regsvr32.exe was identified on endpoint ws1 by user alice attempting to evade detection by using a non-standard file extension.";
    assert_eq!(
        a.risk_message,
        vec![message, message],
        "aligned with the objects"
    );
    assert_eq!(
        a.risk_object,
        vec!["ws1", "alice"],
        "sorted by field: dest, then user (the finding)"
    );
    assert_eq!(
        a.finding_title,
        vec![message],
        "a TTP's title is its v5 message"
    );
    assert_eq!(a.risk_score, vec!["35", "35"]);
    assert_eq!(a.threat_object, vec!["winword.exe", "regsvr32.exe"]);
    assert_eq!(
        a.threat_object_type,
        vec!["parent_process_name", "process_name"]
    );
}

#[test]
fn prefilter_never_changes_results_on_real_rows() {
    let (Some((detections, macros)), Some(xml)) = (escu_corpus(), shared("datasets/xml")) else {
        return;
    };
    let (set, _) = RuleSet::load(&[macros, detections]);
    let all = netdiscover::rules::Selected::all(&set);
    let mut fast = Matcher::new(&set);
    let mut slow = Matcher::new(&set);
    slow.set_prefilter(false);
    let mut rows = 0;
    let mut matches = 0;
    for entry in std::fs::read_dir(xml).expect("xml dir").flatten() {
        let text =
            String::from_utf8_lossy(&std::fs::read(entry.path()).expect("read")).into_owned();
        for e in process_events(&text) {
            let r = e.to_row(&set);
            let a = fast.match_row(&set, &all, &r).to_vec();
            let b = slow.match_row(&set, &all, &r).to_vec();
            assert_eq!(a, b, "{}", e.get("process"));
            rows += 1;
            matches += a.len();
        }
    }
    println!(
        "{rows} rows, {matches} corpus-rule matches, identical with and without the prefilter"
    );
    assert!(rows > 500 && matches > 0);
}
