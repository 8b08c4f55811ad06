//! Sigma semantics from the specification's own examples. "Rules §X" cites
//! SigmaHQ/sigma-specification `specification/sigma-rules-specification.md` (v2.0.0) section
//! X; "Modifiers" cites `specification/sigma-appendix-modifiers.md` (v2.1.0).

use std::path::PathBuf;

use netdiscover::rules::sigma::{self, fields};
use netdiscover::rules::{Matcher, OwnedRow, RuleSet, Selected, Sources};

/// Compiles one Sigma rule (its `detection:` block given) with default settings.
fn rule(detection: &str) -> RuleSet {
    rule_with(detection, None)
}

fn rule_with(detection: &str, settings: Option<&str>) -> RuleSet {
    let text = format!(
        "title: Test rule\nid: 929a690e-bef0-4204-a928-ef5e620d6fcc\nlogsource:\n    category: process_creation\n    product: windows\ndetection:\n{detection}\nlevel: high\ntags:\n    - attack.execution\n    - attack.t1059.001\n"
    );
    let mut sources = Sources::new();
    if let Some(s) = settings {
        sources.sigma_settings.merge_text(s).expect("settings");
    }
    sources.sigma.push((
        PathBuf::from("test.yml"),
        sigma::parse_rule(&text).expect("parses"),
    ));
    let mut warnings = Vec::new();
    let set = RuleSet::compile(&sources, &mut warnings);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(set.len(), 1);
    set
}

/// The compile error of a rule, as loading reports it.
fn refusal(detection: &str) -> String {
    let text = format!(
        "title: Refused\nlogsource:\n    category: process_creation\ndetection:\n{detection}\n"
    );
    let mut sources = Sources::new();
    sources.sigma.push((
        PathBuf::from("r.yml"),
        sigma::parse_rule(&text).expect("parses"),
    ));
    let mut warnings = Vec::new();
    let set = RuleSet::compile(&sources, &mut warnings);
    assert!(set.is_empty());
    assert_eq!(warnings.len(), 1);
    warnings[0].to_string()
}

/// Whether the rule matches an event given by Sigma field names.
fn hits(set: &RuleSet, event: &[(&str, &str)]) -> bool {
    let by_slot: Vec<(&str, &str)> = event
        .iter()
        .map(|(field, value)| (fields::slot_name(field), *value))
        .filter(|(slot, _)| set.slot(slot).is_some())
        .collect();
    matches_row(set, &row_of(set, &by_slot))
}

/// A row given by row field names (every one must be a field of the set).
fn row_of(set: &RuleSet, pairs: &[(&str, &str)]) -> OwnedRow {
    let mut row = OwnedRow::with_slots(set.fields().len());
    for (name, value) in pairs {
        row.set(set.slot(name).expect(name), vec![value.as_bytes().to_vec()]);
    }
    row
}

fn matches_row(set: &RuleSet, row: &OwnedRow) -> bool {
    let mut matcher = Matcher::new(set);
    !matcher.match_row(set, &Selected::all(set), row).is_empty()
}

/// Rules §Yaml File: the example rule (Image equals a path) and §General: "All values are
/// treated as case-insensitive strings".
#[test]
fn example_rule_values_are_case_insensitive() {
    let set = rule("    selection:\n        Image: 'C:\\Windows\\System32\\whoami.exe'\n    condition: selection");
    assert!(hits(&set, &[("Image", r"C:\Windows\System32\whoami.exe")]));
    assert!(hits(&set, &[("Image", r"c:\windows\system32\WHOAMI.EXE")]));
    assert!(!hits(
        &set,
        &[("Image", r"C:\Windows\System32\whoami.exe2")]
    ));
    assert!(!hits(
        &set,
        &[("CommandLine", r"C:\Windows\System32\whoami.exe")]
    ));
}

/// Rules §String Wildcard: `prog?.exe` for progA.exe / progB.exe; `antivirus_V*.exe`.
#[test]
fn string_wildcards() {
    let set = rule("    selection:\n        Image|endswith:\n            - '\\prog?.exe'\n            - '\\antivirus_V*.exe'\n    condition: selection");
    assert!(hits(&set, &[("Image", r"C:\progA.exe")]));
    assert!(hits(&set, &[("Image", r"C:\progB.exe")]));
    assert!(!hits(&set, &[("Image", r"C:\prog.exe")]));
    assert!(!hits(&set, &[("Image", r"C:\progAB.exe")]));
    assert!(
        hits(&set, &[("Image", r"C:\prog€.exe")]),
        "? is one character, not one byte"
    );
    assert!(hits(&set, &[("Image", r"C:\antivirus_V1.exe")]));
    assert!(hits(&set, &[("Image", r"C:\antivirus_V21.2.1.exe")]));
}

/// Rules §Escaping, one case per bullet.
#[test]
fn escaping() {
    let set = rule("    a:\n        CommandLine: 'x\\*y'\n    b:\n        CommandLine|endswith: 'dir\\\\*'\n    c:\n        CommandLine: 'p\\\\\\*'\n    d:\n        CommandLine: 'u\\\\\\\\v'\n    condition: 1 of them");
    assert!(
        hits(&set, &[("CommandLine", "x*y")]),
        "escaped wildcard is plain"
    );
    assert!(!hits(&set, &[("CommandLine", "xzy")]));
    assert!(
        hits(&set, &[("CommandLine", r"a dir\anything")]),
        r"\\* is backslash then wildcard"
    );
    assert!(
        hits(&set, &[("CommandLine", r"p\*")]),
        r"\\\* is backslash and plain star"
    );
    assert!(!hits(&set, &[("CommandLine", r"p\q")]));
    assert!(
        hits(&set, &[("CommandLine", r"u\\v")]),
        r"\\\\ is a double backslash"
    );
    assert!(!hits(&set, &[("CommandLine", r"u\v")]));
}

/// Rules §Lists: keywords are OR-ed and searched in the whole event; a list of maps is OR-ed
/// (`Image|endswith: '\example.exe'` or `Description|contains: 'Test executable'`).
#[test]
fn lists_of_keywords_and_of_maps() {
    let keywords = rule("    keywords:\n        - 'EVILSERVICE'\n        - 'svchost.exe -n evil'\n    condition: keywords");
    assert!(hits(
        &keywords,
        &[("CommandLine", "sc start evilservice now")]
    ));
    assert!(hits(
        &keywords,
        &[("ParentCommandLine", "C:\\svchost.exe -n evil")]
    ));
    assert!(!hits(&keywords, &[("CommandLine", "svchost.exe -n good")]));
    let maps = rule("    selection:\n        - Image|endswith: '\\example.exe'\n        - Description|contains: 'Test executable'\n    condition: selection");
    assert!(hits(&maps, &[("Image", r"C:\example.exe")]));
    assert!(hits(&maps, &[("Description", "A Test Executable.")]));
    assert!(!hits(
        &maps,
        &[("Image", r"C:\other.exe"), ("Description", "x")]
    ));
}

/// Rules §Maps: map items are AND-ed, a value list is OR-ed (EventLog Security and EventID
/// 517 or 1102); numbers compare as their text.
#[test]
fn maps_and_value_lists() {
    let set = rule("    selection:\n        EventLog: Security\n        EventID:\n            - 517\n            - 1102\n    condition: selection");
    assert!(hits(&set, &[("EventLog", "Security"), ("EventID", "1102")]));
    assert!(hits(&set, &[("EventLog", "security"), ("EventID", "517")]));
    assert!(!hits(
        &set,
        &[("EventLog", "Security"), ("EventID", "4624")]
    ));
    assert!(!hits(&set, &[("EventID", "517")]));
}

/// Rules §Special Field Values: `null` with `selection and not filter` (PasswordLastSet);
/// §Field Existence: `exists: true`. An empty field counts as absent (as in Splunk).
#[test]
fn null_empty_and_exists() {
    let null = rule("    selection:\n        EventID: 4738\n    filter:\n        PasswordLastSet: null\n    condition: selection and not filter");
    assert!(hits(
        &null,
        &[("EventID", "4738"), ("PasswordLastSet", "2024-01-01")]
    ));
    assert!(!hits(&null, &[("EventID", "4738")]));
    assert!(!hits(
        &null,
        &[("EventID", "4738"), ("PasswordLastSet", "")]
    ));
    let exists = rule("    selection:\n        EventID: 4738\n        PasswordLastSet|exists: true\n    condition: selection");
    assert!(hits(
        &exists,
        &[("EventID", "4738"), ("PasswordLastSet", "x")]
    ));
    assert!(!hits(&exists, &[("EventID", "4738")]));
    let not_exists =
        rule("    selection:\n        PasswordLastSet|exists: false\n    condition: selection");
    assert!(hits(&not_exists, &[("EventID", "4738")]));
    let empty = rule("    selection:\n        Image: ''\n    condition: selection");
    assert!(hits(&empty, &[("CommandLine", "x")]));
    assert!(!hits(&empty, &[("Image", "x")]));
}

/// Rules §Keywords search: `'|all'` makes keywords AND (`OabVirtualDirectory` and
/// ` -ExternalUrl `).
#[test]
fn keywords_with_all() {
    let set = rule("    keywords_cmdlet:\n        '|all':\n            - 'OabVirtualDirectory'\n            - ' -ExternalUrl '\n    condition: keywords_cmdlet");
    assert!(hits(
        &set,
        &[("CommandLine", "Set-OabVirtualDirectory -ExternalUrl 'x'")]
    ));
    assert!(!hits(&set, &[("CommandLine", "Set-OabVirtualDirectory")]));
}

/// Rules §Condition: `1 of them` skips identifiers starting with `_`; `all of selection*`;
/// `1 of selection* and not 1 of filter*`; precedence or < and < not; a condition list is OR.
#[test]
fn conditions() {
    let them = rule("    a:\n        CommandLine: a\n    _example:\n        CommandLine: x\n    condition: 1 of them");
    assert!(hits(&them, &[("CommandLine", "a")]));
    assert!(!hits(&them, &[("CommandLine", "x")]));
    let all_of = rule("    selection_img:\n        Image|endswith: '\\net.exe'\n    selection_cli:\n        CommandLine|contains: ' user'\n    filter_a:\n        CommandLine|contains: '/domain'\n    condition: all of selection* and not 1 of filter*");
    assert!(hits(
        &all_of,
        &[("Image", r"C:\net.exe"), ("CommandLine", "net user x")]
    ));
    assert!(!hits(
        &all_of,
        &[("Image", r"C:\net.exe"), ("CommandLine", "net group")]
    ));
    assert!(!hits(
        &all_of,
        &[
            ("Image", r"C:\net.exe"),
            ("CommandLine", "net user /domain")
        ]
    ));
    // `a or b and not c` is `a or (b and (not c))`.
    let precedence = rule("    a:\n        CommandLine: a\n    b:\n        Image: b\n    c:\n        ParentImage: c\n    condition: a or b and not c");
    assert!(hits(
        &precedence,
        &[("CommandLine", "a"), ("ParentImage", "c")]
    ));
    assert!(hits(&precedence, &[("Image", "b")]));
    assert!(!hits(&precedence, &[("Image", "b"), ("ParentImage", "c")]));
    let list = rule("    a:\n        CommandLine: a\n    b:\n        CommandLine: b\n    condition:\n        - a\n        - b");
    assert!(hits(&list, &[("CommandLine", "b")]));
}

/// Modifiers §Generic: contains, startswith, endswith, all, cased, neq.
#[test]
fn generic_modifiers() {
    let set = rule("    selection:\n        CommandLine|contains|all:\n            - ' -a'\n            - ' -b'\n        Image|startswith: 'C:\\Windows'\n        ParentImage|endswith: '\\cmd.exe'\n    condition: selection");
    let event = |cli, image| {
        [
            ("CommandLine", cli),
            ("Image", image),
            ("ParentImage", r"C:\x\CMD.EXE"),
        ]
    };
    assert!(hits(&set, &event("x -b -a", r"c:\windows\x.exe")));
    assert!(!hits(&set, &event("x -a", r"c:\windows\x.exe")));
    assert!(!hits(&set, &event("x -a -b", r"D:\C:\Windows\x.exe")));
    let cased =
        rule("    selection:\n        CommandLine|contains|cased: 'ABC'\n    condition: selection");
    assert!(hits(&cased, &[("CommandLine", "xABCx")]));
    assert!(!hits(&cased, &[("CommandLine", "xabcx")]));
    let neq = rule("    selection:\n        Image|endswith: '.exe'\n        User|neq:\n            - 'SYSTEM'\n            - 'LOCAL SERVICE'\n    condition: selection");
    assert!(hits(&neq, &[("Image", "a.exe"), ("User", "alice")]));
    assert!(!hits(&neq, &[("Image", "a.exe"), ("User", "system")]));
}

/// Modifiers §String: `windash` makes `-`, `/`, en dash, em dash and horizontal bar
/// interchangeable.
#[test]
fn windash_accepts_every_dash() {
    let set = rule(
        "    selection:\n        CommandLine|windash|contains: ' -enc '\n    condition: selection",
    );
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(
            hits(
                &set,
                &[("CommandLine", &format!("powershell {dash}enc AAA"))]
            ),
            "{dash}"
        );
    }
    assert!(!hits(&set, &[("CommandLine", "powershell _enc AAA")]));
    assert!(!hits(&set, &[("CommandLine", "powershell enc AAA")]));
    // A dash written as an en dash in the rule is interchangeable too.
    let en = rule("    selection:\n        CommandLine|windash|contains: ' \u{2013}x'\n    condition: selection");
    assert!(hits(&en, &[("CommandLine", "a /x")]));
}

/// Modifiers §Regular Expression: case-sensitive by default; `i`, `m`, `s` sub-modifiers.
#[test]
fn regular_expressions_and_flags() {
    let plain = rule("    selection:\n        CommandLine|re: 'a.c$'\n    condition: selection");
    assert!(hits(&plain, &[("CommandLine", "xxabc")]));
    assert!(
        !hits(&plain, &[("CommandLine", "xxABC")]),
        "case-sensitive by default"
    );
    assert!(
        !hits(&plain, &[("CommandLine", "a\nc")]),
        "dot does not match newline"
    );
    assert!(
        !hits(&plain, &[("CommandLine", "abc\nzz")]),
        "$ is the end of the value"
    );
    let i = rule("    selection:\n        CommandLine|re|i: 'a.c$'\n    condition: selection");
    assert!(hits(&i, &[("CommandLine", "xxABC")]));
    let s = rule("    selection:\n        CommandLine|re|s: 'a.c$'\n    condition: selection");
    assert!(hits(&s, &[("CommandLine", "a\nc")]));
    let m = rule("    selection:\n        CommandLine|re|m: '^abc$'\n    condition: selection");
    assert!(hits(&m, &[("CommandLine", "zz\nabc\nyy")]));
}

/// Modifiers §Encoding: base64, base64offset (the value anywhere in a base64 text),
/// wide/utf16le/utf16be/utf16 before base64.
#[test]
fn encodings() {
    let b64 = rule(
        "    selection:\n        CommandLine|base64: 'sigma rules!'\n    condition: selection",
    );
    assert!(hits(&b64, &[("CommandLine", "c2lnbWEgcnVsZXMh")]));
    assert!(
        !hits(&b64, &[("CommandLine", "x c2lnbWEgcnVsZXMh")]),
        "base64 alone is a whole value"
    );
    let offset = rule("    selection:\n        CommandLine|base64offset|contains: 'http://'\n    condition: selection");
    for prefix in ["", "a", "ab", "abc"] {
        let encoded = encode(format!("{prefix}http://evil").as_bytes());
        assert!(
            hits(&offset, &[("CommandLine", &format!("-e {encoded}"))]),
            "{prefix}"
        );
    }
    assert!(!hits(&offset, &[("CommandLine", &encode(b"ftp://evil"))]));
    let wide = rule("    selection:\n        CommandLine|wide|base64offset|contains: 'ping'\n    condition: selection");
    let utf16: Vec<u8> = "x ping y"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert!(hits(
        &wide,
        &[(
            "CommandLine",
            &format!("powershell -enc {}", encode(&utf16))
        )]
    ));
    assert!(!hits(&wide, &[("CommandLine", &encode(b"x ping y"))]));
    let be =
        rule("    selection:\n        CommandLine|utf16be|base64: 'cmd'\n    condition: selection");
    assert!(hits(&be, &[("CommandLine", &encode(b"\0c\0m\0d"))]));
    let bom =
        rule("    selection:\n        CommandLine|utf16|base64: 'cmd'\n    condition: selection");
    assert!(hits(
        &bom,
        &[("CommandLine", &encode(b"\xFF\xFEc\0m\0d\0"))]
    ));
}

fn encode(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                A[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// Modifiers §Numeric and §IP: `lt`, `lte`, `gt`, `gte` compare numbers; `cidr` example
/// `DestinationIp|cidr: 10.0.0.0/8`, IPv6 too.
#[test]
fn numbers_and_networks() {
    let set = rule("    selection:\n        TerminalSessionId|gt: 0\n        TerminalSessionId|lte: 2\n    condition: selection");
    assert!(hits(&set, &[("TerminalSessionId", "2")]));
    assert!(!hits(&set, &[("TerminalSessionId", "0")]));
    assert!(!hits(&set, &[("TerminalSessionId", "3")]));
    assert!(
        !hits(&set, &[("TerminalSessionId", "one")]),
        "not a number: no match"
    );
    let cidr = rule("    selection:\n        DestinationIp|cidr:\n            - 10.0.0.0/8\n            - 'fe80::/10'\n    condition: selection");
    assert!(hits(&cidr, &[("DestinationIp", "10.1.2.3")]));
    assert!(hits(&cidr, &[("DestinationIp", "fe80::1")]));
    assert!(!hits(&cidr, &[("DestinationIp", "11.0.0.1")]));
    assert!(!hits(&cidr, &[("DestinationIp", "10.0.0.1.example")]));
}

/// Modifiers §Specific: `fieldref` compares two fields of the event (SigmaHQ's
/// `User|fieldref: ParentUser`), with contains/startswith/endswith.
#[test]
fn field_references() {
    let set = rule("    selection:\n        Image|endswith: '.exe'\n    filter_same:\n        User|fieldref: ParentUser\n    condition: selection and not filter_same");
    assert!(hits(
        &set,
        &[
            ("Image", "a.exe"),
            ("User", "CORP\\alice"),
            ("ParentUser", "CORP\\bob")
        ]
    ));
    assert!(!hits(
        &set,
        &[
            ("Image", "a.exe"),
            ("User", "CORP\\alice"),
            ("ParentUser", "corp\\ALICE")
        ]
    ));
    assert!(
        hits(&set, &[("Image", "a.exe"), ("User", "CORP\\alice")]),
        "a missing field refers to nothing"
    );
    let contains = rule(
        "    selection:\n        CommandLine|fieldref|contains: Image\n    condition: selection",
    );
    assert!(hits(
        &contains,
        &[("CommandLine", "\"C:\\A.EXE\" /x"), ("Image", "c:\\a.exe")]
    ));
    assert!(!hits(
        &contains,
        &[("CommandLine", "b.exe /x"), ("Image", "c:\\a.exe")]
    ));
    let ends = rule(
        "    selection:\n        CommandLine|fieldref|endswith: Image\n    condition: selection",
    );
    assert!(hits(
        &ends,
        &[("CommandLine", "run a.exe"), ("Image", "A.exe")]
    ));
    assert!(!hits(
        &ends,
        &[("CommandLine", "a.exe run"), ("Image", "a.exe")]
    ));
}

/// Rules §Placeholders: only with `expand`; values come from the site's settings; a
/// placeholder without configured values refuses the rule, naming it.
#[test]
fn placeholders() {
    let settings = "sigma_settings:\n  placeholders:\n    Administrators: ['*\\Administrator', 'CORP\\adm-*']\n";
    let set = rule_with(
        "    selection:\n        User|expand: '%Administrators%'\n    condition: selection",
        Some(settings),
    );
    assert!(hits(&set, &[("User", "HOST\\Administrator")]));
    assert!(hits(&set, &[("User", "CORP\\adm-jo")]));
    assert!(!hits(&set, &[("User", "CORP\\jo")]));
    let literal =
        rule("    selection:\n        User: '%Administrators%'\n    condition: selection");
    assert!(
        hits(&literal, &[("User", "%administrators%")]),
        "without expand it is a literal"
    );
    let refused =
        refusal("    selection:\n        User|expand: '%Servers%'\n    condition: selection");
    assert!(
        refused.contains("%Servers%") && refused.contains("expand"),
        "{refused}"
    );
}

/// Every refusal names the construct (a modifier, a condition token).
#[test]
fn refusals_name_the_construct() {
    let unknown = refusal("    selection:\n        Image|sortof: x\n    condition: selection");
    assert!(unknown.contains("modifier `sortof`"), "{unknown}");
    let time = refusal("    selection:\n        UtcTime|hour: 3\n    condition: selection");
    assert!(time.contains("modifier `hour`"), "{time}");
    let condition =
        refusal("    selection:\n        Image: x\n    condition: selection and filter");
    assert!(condition.contains("`filter`"), "{condition}");
    let wildcard =
        refusal("    selection:\n        Image|contains|base64: x\n    condition: selection");
    assert!(
        wildcard.contains("base64") && wildcard.contains("wildcard"),
        "{wildcard}"
    );
}

/// Non-ASCII letters are case-insensitive too (§General; SigmaHQ's `\СИСТЕМА` user names).
#[test]
fn non_ascii_case() {
    let set = rule("    selection:\n        User|endswith: '\\СИСТЕМА'\n    condition: selection");
    assert!(hits(&set, &[("User", "NT AUTHORITY\\Система")]));
    assert!(!hits(&set, &[("User", "NT AUTHORITY\\SYSTEM")]));
}

/// Annotation: detection = title, detection_id = id, detection_type = sigma:<level>,
/// mitre_attack_id from attack.tNNNN tags (tactics are not techniques), risk on dest and
/// user with the level's score (high = 70).
#[test]
fn annotation_fields() {
    let set =
        rule("    selection:\n        Image|endswith: '\\whoami.exe'\n    condition: selection");
    let r = &set.rules()[0];
    assert_eq!(r.meta.name, "Test rule");
    assert_eq!(r.meta.id, "929a690e-bef0-4204-a928-ef5e620d6fcc");
    assert_eq!(r.meta.kind, "sigma:high");
    assert_eq!(r.meta.mitre_attack_id, vec!["T1059.001".to_string()]);
    assert!(r.meta.analytic_story.is_empty());
    let objects: Vec<(&str, &str, u8, bool)> = r
        .meta
        .risk_entities()
        .iter()
        .map(|e| {
            let o = e.object;
            (
                o.field.as_str(),
                o.kind.as_str(),
                o.score.get(),
                e.is_finding,
            )
        })
        .collect();
    // high: a finding (notable) on the user, an intermediate finding on the host.
    assert_eq!(
        objects,
        vec![("dest", "system", 70, false), ("user", "user", 70, true)]
    );
    let row = row_of(
        &set,
        &[
            ("process_path", r"C:\whoami.exe"),
            ("process_name", "whoami.exe"),
            ("dest", "host1"),
            ("user", "CORP\\jo"),
        ],
    );
    let a = set.annotate(&[0], &row);
    assert_eq!(a.detection_type, vec!["sigma:high".to_string()]);
    assert_eq!(
        a.risk_object,
        vec!["host1".to_string(), "CORP\\jo".to_string()]
    );
    assert_eq!(a.risk_score, vec!["70".to_string(), "70".to_string()]);
    let message = "Test rule (whoami.exe on host1 by CORP\\jo)".to_string();
    assert_eq!(a.risk_message, vec![message.clone(), message.clone()]);
    assert_eq!(a.finding_title, vec![message]);
    let story = rule_with(
        "    selection:\n        Image: x\n    condition: selection",
        Some("sigma_settings:\n  analytic_story_tag: attack\n"),
    );
    assert_eq!(
        story.rules()[0].meta.analytic_story,
        vec!["execution".to_string(), "t1059.001".to_string()]
    );
}

/// Rules outside process creation are out of scope: one warning per logsource.
#[test]
fn other_logsources_are_out_of_scope_per_logsource() {
    let mut sources = Sources::new();
    for (i, category) in ["registry_set", "registry_set", "file_event"]
        .iter()
        .enumerate()
    {
        let text = format!("title: r{i}\nlogsource:\n    category: {category}\n    product: windows\ndetection:\n    s:\n        TargetObject: x\n    condition: s\n");
        sources.sigma.push((
            PathBuf::from(format!("r{i}.yml")),
            sigma::parse_rule(&text).unwrap(),
        ));
    }
    let mut warnings = Vec::new();
    let set = RuleSet::compile(&sources, &mut warnings);
    assert!(set.is_empty());
    let text: Vec<String> = warnings.iter().map(|w| w.to_string()).collect();
    assert_eq!(text.len(), 2, "{text:?}");
    assert!(
        text[0].contains(
            "2 Sigma rule(s) out of scope: logsource `category: registry_set, product: windows`"
        ),
        "{}",
        text[0]
    );
}

/// ESCU's data-source field_mappings map `ParentImage|endswith` to `parent_process_name`:
/// rows with the parent's file name but no path (CrowdStrike's `ParentBaseFileName`) match
/// `endswith: '\name'` on the name; where the path is there, the path decides.
#[test]
fn parent_image_endswith_reads_the_parent_name_without_a_path() {
    let set =
        rule("    selection:\n        ParentImage|endswith: '\\cmd.exe'\n    condition: selection");
    let by_slots = |pairs: &[(&str, &str)]| {
        let mut row = OwnedRow::with_slots(set.fields().len());
        for (name, value) in pairs {
            row.set(set.slot(name).expect(name), vec![value.as_bytes().to_vec()]);
        }
        let mut matcher = Matcher::new(&set);
        !matcher
            .match_row(&set, &Selected::all(&set), &row)
            .is_empty()
    };
    assert!(by_slots(&[("parent_process_name", "CMD.EXE")]));
    assert!(!by_slots(&[("parent_process_name", "xcmd.exe")]));
    assert!(!by_slots(&[
        ("parent_process_path", r"C:\x\other.exe"),
        ("parent_process_name", "cmd.exe")
    ]));
    assert!(by_slots(&[("parent_process_path", r"C:\Windows\cmd.exe")]));
}

/// The risk score of each level (docs/sigma.md: the middles of contentctl's severity bands),
/// findings for high and critical only, no risk for informational.
#[test]
fn levels_score_risk_and_findings() {
    for (level, score, finding) in [
        (Some("informational"), None, false),
        (Some("low"), Some(30), false),
        (Some("medium"), Some(50), false),
        (None, Some(50), false),
        (Some("high"), Some(70), true),
        (Some("critical"), Some(90), true),
    ] {
        let level_line = level.map_or(String::new(), |l| format!("level: {l}\n"));
        let text = format!("title: L\nlogsource:\n    category: process_creation\ndetection:\n    s:\n        Image: x\n    condition: s\n{level_line}");
        let mut sources = Sources::new();
        sources
            .sigma
            .push((PathBuf::from("l.yml"), sigma::parse_rule(&text).unwrap()));
        let set = RuleSet::compile(&sources, &mut Vec::new());
        let meta = &set.rules()[0].meta;
        assert_eq!(
            meta.kind,
            level.map_or("sigma".to_string(), |l| format!("sigma:{l}"))
        );
        let scores: Vec<u8> = meta
            .risk_entities()
            .iter()
            .map(|e| e.object.score.get())
            .collect();
        match score {
            None => assert!(!meta.carries_risk(), "{level:?}"),
            Some(s) => assert_eq!(scores, vec![s, s], "{level:?}"),
        }
        assert_eq!(meta.finding.is_some(), finding, "{level:?}");
    }
}
