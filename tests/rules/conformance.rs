//! Conformance with Splunk's documentation: every test below takes its searches and its
//! expected verdicts from the page it cites, and runs them through a compiled rule
//! (`RuleSet` + `Matcher`, as `| netdiscover` does).
//!
//! Pages (Splunk Enterprise 9.x documentation):
//! * [BOOL] Search Manual, "Boolean expressions with logical operators" (Order of evaluation).
//! * [NOTNE] Search Manual, "Difference between != and NOT".
//! * [WILD] Search Manual, "Wildcards".
//! * [SPLRE] Search Manual, "SPL and regular expressions".
//! * [KMRE] Knowledge Manager Manual, "About Splunk regular expressions": Splunk regular
//!   expressions are PCRE and use the PCRE C library.
//! * [SEARCH] Search Reference, "search" command (comparison expressions, `IN`).
//! * [WHERE] Search Reference, "where" command; [EVAL] "eval" command and the comparison and
//!   conditional functions (`like`, `match`, `in`, `replace`, `split`, `mvcount`).
//! * [PCRE2] PCRE2 manual, pcre2pattern(3) (what "PCRE" means for `$`, `\Z`, `.`, classes).

use crate::support::rules::{row, Probe};

fn tstats(predicate: &str) -> Probe {
    Probe::tstats(predicate, "").unwrap_or_else(|w| panic!("{predicate}: {w:?}"))
}

fn piped(tail: &str) -> Probe {
    Probe::tstats("Processes.dest=*", tail).unwrap_or_else(|w| panic!("{tail}: {w:?}"))
}

/// Every assignment of `names` to present-with-value-"1" / present-with-value-"0".
fn truth_rows(names: &[&'static str]) -> Vec<Vec<(&'static str, bool)>> {
    (0..1u32 << names.len())
        .map(|bits| {
            names
                .iter()
                .enumerate()
                .map(|(i, n)| (*n, bits & (1 << i) != 0))
                .collect()
        })
        .collect()
}

fn fires_with(p: &mut Probe, assignment: &[(&str, bool)]) -> bool {
    let values: Vec<(&str, [&str; 1])> = assignment
        .iter()
        .map(|(n, v)| (*n, [if *v { "1" } else { "0" }]))
        .collect();
    let pairs: Vec<(&str, &[&str])> = values.iter().map(|(n, v)| (*n, &v[..])).collect();
    p.fires(&pairs)
}

/// [BOOL] "A=1 AND B=2 OR C=3 ... is the same as specifying A=1 B=2 OR C=3 ... processed as
/// A=1 AND ( B=2 OR C=3 )"; and "(A=1 AND B=2 ) OR C=3" groups the other way.
#[test]
fn bool_search_command_evaluates_or_before_and() {
    let mut explicit = tstats("A=1 AND B=1 OR C=1");
    let mut implied = tstats("A=1 B=1 OR C=1");
    let mut grouped = tstats("(A=1 AND B=1) OR C=1");
    for row in truth_rows(&["A", "B", "C"]) {
        let (a, b, c) = (row[0].1, row[1].1, row[2].1);
        assert_eq!(fires_with(&mut explicit, &row), a && (b || c), "{row:?}");
        assert_eq!(fires_with(&mut implied, &row), a && (b || c), "{row:?}");
        assert_eq!(fires_with(&mut grouped, &row), (a && b) || c, "{row:?}");
    }
}

/// [BOOL] `host="www1" AND status=200 OR action="addtocart"` is processed as
/// `host="www1" AND (status=200 OR action="addtocart")`.
#[test]
fn bool_host_status_action_example() {
    let mut p = tstats(r#"host="www1" AND status=200 OR action="addtocart""#);
    let www1: &[&str] = &["www1"];
    assert!(p.fires(&[("host", www1), ("status", &["200"])]));
    assert!(p.fires(&[("host", www1), ("action", &["addtocart"])]));
    assert!(
        !p.fires(&[("host", &["www2"]), ("action", &["addtocart"])]),
        "the AND applies to the OR as a whole"
    );
    assert!(!p.fires(&[("host", www1), ("status", &["404"])]));
}

/// [BOOL] "The NOT operator only applies to the term immediately following NOT" and NOT is
/// evaluated before OR: `error NOT 403 OR 404` is error AND ((NOT 403) OR 404); written with
/// fields here, since free-text terms match `_raw`.
#[test]
fn bool_not_binds_to_the_next_term() {
    let mut p = tstats("e=error NOT code=403 OR code=404");
    assert!(p.fires(&[("e", &["error"]), ("code", &["500"])]));
    assert!(p.fires(&[("e", &["error"]), ("code", &["404"])]));
    assert!(!p.fires(&[("e", &["error"]), ("code", &["403"])]));
    assert!(!p.fires(&[("e", &["other"]), ("code", &["500"])]));
    let mut grouped = tstats("e=error NOT (code=403 OR code=404)");
    assert!(!grouped.fires(&[("e", &["error"]), ("code", &["404"])]));
    assert!(grouped.fires(&[("e", &["error"]), ("code", &["500"])]));
}

/// [BOOL] "The operators must be capitalized": lower-case `or` is a search term (free text,
/// which a row-level rule cannot match), so the rule is refused and the refusal names it.
#[test]
fn bool_operators_must_be_capitalized() {
    let Err(warnings) = Probe::tstats("A=1 or B=1", "") else {
        panic!("lower-case `or` must not be read as OR");
    };
    let text: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    assert!(
        text.iter()
            .any(|t| t.contains("`or`") && t.contains("free-text")),
        "{text:?}"
    );
}

/// [BOOL] eval and where evaluate NOT, then AND, then OR, then XOR.
#[test]
fn bool_where_evaluates_and_before_or_then_xor() {
    let mut p = piped(r#" | where dest="1" AND user="1" OR process="1""#);
    let mut x = piped(r#" | where dest="1" OR user="1" XOR process="1""#);
    for row in truth_rows(&["dest", "user", "process"]) {
        let (a, b, c) = (row[0].1, row[1].1, row[2].1);
        assert_eq!(fires_with(&mut p, &row), (a && b) || c, "{row:?}");
        assert_eq!(fires_with(&mut x, &row), (a || b) ^ c, "{row:?}");
    }
}

/// [BOOL] The same text in `| search` (search command) and `| where` (eval) means different
/// things.
#[test]
fn bool_search_stage_and_where_stage_differ() {
    let mut search = piped(r#" | search dest=1 user=1 OR process=1"#);
    let mut r#where = piped(r#" | where dest="1" AND user="1" OR process="1""#);
    let row = [("dest", false), ("user", false), ("process", true)];
    assert!(
        !fires_with(&mut search, &row),
        "search: dest AND (user OR process)"
    );
    assert!(
        fires_with(&mut r#where, &row),
        "where: (dest AND user) OR process"
    );
}

/// The ponies of [NOTNE], with empty cells absent.
const PONIES: &[(&str, &str, &str, &str)] = &[
    ("101M3", "McIntosh", "Chestnut", "Marin Meadows"),
    ("104F5", "Lyra", "Bay", ""),
    ("104M6", "Rutherford", "Dun", "Placer Pastures"),
    ("101F2", "Rarity", "", "Marin Meadows"),
    ("102M7", "Dash", "Black", "Calaveras Farms"),
    ("102M1", "Roan", "", ""),
    ("101F6", "Chestnut", "", "Marin Meadows"),
    ("104F4", "Pinkie", "Sorrel", "Placer Pastures"),
    ("102M8", "Spike", "Grey", "Calaveras Farms"),
];

fn ponies_returned(predicate: &str) -> Vec<&'static str> {
    let mut p = tstats(predicate);
    PONIES
        .iter()
        .filter(|(id, name, color, location)| {
            let cells = [
                ("ID", *id),
                ("Name", *name),
                ("Color", *color),
                ("Location", *location),
            ];
            let values: Vec<(&str, [&str; 1])> = cells
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (*k, [*v]))
                .collect();
            let pairs: Vec<(&str, &[&str])> = values.iter().map(|(k, v)| (*k, &v[..])).collect();
            p.fires(&pairs)
        })
        .map(|(id, ..)| *id)
        .collect()
}

/// [NOTNE] `Location!="Calaveras Farms"` returns the events with another Location and not the
/// events without one; `NOT Location="Calaveras Farms"` returns those too.
#[test]
fn notne_ponies() {
    assert_eq!(
        ponies_returned(r#"Location!="Calaveras Farms""#),
        ["101M3", "104M6", "101F2", "101F6", "104F4"]
    );
    assert_eq!(
        ponies_returned(r#"NOT Location="Calaveras Farms""#),
        ["101M3", "104F5", "104M6", "101F2", "102M1", "101F6", "104F4"]
    );
    // "If you search for a Location that does not exist using the != expression, all of the
    // events that have a Location value are returned."
    assert_eq!(
        ponies_returned(r#"Location!="Nowhere""#),
        ["101M3", "104M6", "101F2", "102M7", "101F6", "104F4", "102M8"]
    );
}

/// [NOTNE] "every event that has a value in the field, where that value does not match":
/// a multivalue field passes `!=` when one of its values differs; `NOT x=v` fails as soon as
/// one value matches.
#[test]
fn notne_multivalue() {
    let mut ne = tstats("Processes.user!=SYSTEM");
    let mut not = tstats("NOT Processes.user=SYSTEM");
    let mixed: &[&str] = &["alice", "system"];
    assert!(ne.fires(&[("user", mixed)]));
    assert!(!not.fires(&[("user", mixed)]));
    assert!(!ne.fires(&[("user", &["SYSTEM", "System"])]));
    assert!(!ne.fires(&[("dest", &["h"])]), "absent field");
    assert!(not.fires(&[("dest", &["h"])]), "absent field");
}

/// [WILD] "Use the asterisk (*) character as a wildcard to match an unlimited number of
/// characters in a string. For example, "my*" matches myhost1 and myhost.ny.mydomain.com."
#[test]
fn wild_asterisk() {
    let mut p = tstats(r#"Processes.dest="my*""#);
    assert!(p.fires(&[("dest", &["myhost1"])]));
    assert!(p.fires(&[("dest", &["myhost.ny.mydomain.com"])]));
    assert!(
        p.fires(&[("dest", &["my"])]),
        "an unlimited number, so none too"
    );
    assert!(!p.fires(&[("dest", &["amyhost"])]));
    let mut mid = tstats("Processes.process=*-enc*FromBase64*");
    assert!(mid.fires(&[(
        "process",
        &["powershell -enc x; [Convert]::FromBase64String(y)"]
    )]));
    assert!(
        mid.fires(&[("process", &["powershell -enc\nFromBase64"])]),
        "newlines too"
    );
    assert!(
        !mid.fires(&[("process", &["powershell FromBase64 -enc"])]),
        "in order"
    );
    let mut any = tstats("Processes.user=*");
    assert!(any.fires(&[("user", &["x"])]));
    assert!(!any.fires(&[("dest", &["h"])]), "`x=*` needs the field");
}

/// [SPLRE] "The backslash cannot be used to escape the asterisk in search strings": `\*` is a
/// backslash followed by a wildcard.
#[test]
fn wild_backslash_does_not_escape_the_asterisk() {
    let mut p = tstats(r#"Processes.process="*a\*b""#);
    assert!(p.fires(&[("process", &[r"x a\ and b"])]));
    assert!(
        !p.fires(&[("process", &["x a* and b"])]),
        "no backslash, no match"
    );
}

/// [SPLRE] "like the file path c:\\temp, the search interprets the first backslash as an
/// escape character. The file path is interpreted as c:\temp".
#[test]
fn quoting_backslashes_and_quotes() {
    let mut p = tstats(r#"Processes.process="*c:\\temp\\*""#);
    assert!(p.fires(&[("process", &[r"copy c:\temp\a.exe"])]));
    assert!(!p.fires(&[("process", &[r"copy c:\\temp\\a.exe"])]));
    let mut q = tstats(r#"Processes.process="*\"quoted\"*""#);
    assert!(q.fires(&[("process", &[r#"cmd /c "quoted" x"#])]));
    let mut bare = tstats(r"Processes.process=*c:\\temp*");
    assert!(
        bare.fires(&[("process", &[r"c:\temp"])]),
        "bare values unescape alike"
    );
}

/// [SEARCH] `<field> IN (<value-list>)`, e.g. `status IN (400,403,404)`; values may be
/// quoted and carry wildcards; field values compare case-insensitively.
#[test]
fn search_in_lists() {
    let mut p = tstats("status IN (400,403,404)");
    assert!(p.fires(&[("status", &["403"])]));
    assert!(!p.fires(&[("status", &["401"])]));
    let mut names = tstats(r#"Processes.process_name IN ("cmd.exe", power*.exe, "*sh")"#);
    assert!(names.fires(&[("process_name", &["CMD.EXE"])]));
    assert!(names.fires(&[("process_name", &["PowerShell.exe"])]));
    assert!(names.fires(&[("process_name", &["bash"])]));
    assert!(!names.fires(&[("process_name", &["cmd.exe.bak"])]));
}

/// [SEARCH] Comparison operators `= != < <= > >=`: numbers compare as numbers, other values
/// lexicographically; values are case-insensitive, field names are not.
#[test]
fn search_comparison_operators() {
    let mut n = tstats("Processes.process_id>100 Processes.process_id<=2000");
    assert!(n.fires(&[("process_id", &["200"])]));
    assert!(n.fires(&[("process_id", &["2000"])]));
    assert!(!n.fires(&[("process_id", &["99"])]), "99 < 100 as numbers");
    let mut s = tstats("Processes.user>=m");
    assert!(s.fires(&[("user", &["zed"])]));
    assert!(s.fires(&[("user", &["Mallory"])]), "case-insensitive");
    assert!(!s.fires(&[("user", &["alice"])]));
    let mut names = tstats("(Processes.process_name=a.exe OR processes.process_name=b.exe)");
    assert!(names.fires(&[("process_name", &["A.EXE"])]));
    assert!(
        !names.fires(&[("process_name", &["b.exe"])]),
        "field names are case-sensitive"
    );
}

/// [WHERE]/[EVAL] String comparison in eval expressions is case-sensitive; `IN` and `in()`
/// test equality with each value; `like` uses `%` (any run) and `_` (one character) [WILD].
#[test]
fn where_comparisons_in_and_like() {
    let mut eq = piped(r#" | where process_name="cmd.exe""#);
    assert!(eq.fires(&[("dest", &["h"]), ("process_name", &["cmd.exe"])]));
    assert!(!eq.fires(&[("dest", &["h"]), ("process_name", &["CMD.exe"])]));
    let mut inn = piped(r#" | where process_name IN ("a.exe", "b.exe")"#);
    assert!(inn.fires(&[("dest", &["h"]), ("process_name", &["b.exe"])]));
    assert!(!inn.fires(&[("dest", &["h"]), ("process_name", &["B.exe"])]));
    let mut inf = piped(r#" | where in(process_name, "a.exe", "b.exe")"#);
    assert!(inf.fires(&[("dest", &["h"]), ("process_name", &["a.exe"])]));
    assert!(!inf.fires(&[("dest", &["h"]), ("process_name", &["c.exe"])]));
    let mut like = piped(r#" | where like(process, "%-enc_ %")"#);
    assert!(like.fires(&[("dest", &["h"]), ("process", &["ps -encX y"])]));
    assert!(
        !like.fires(&[("dest", &["h"]), ("process", &["ps -enc y"])]),
        "_ is one char"
    );
    assert!(
        !like.fires(&[("dest", &["h"]), ("process", &["ps -ENCX y"])]),
        "case-sensitive"
    );
    let mut op = piped(r#" | where process LIKE "ps%""#);
    assert!(op.fires(&[("dest", &["h"]), ("process", &["ps -a"])]));
}

/// [EVAL] split / mvcount, as ESCU counts characters: `mvcount(split(x, d)) - 1`.
#[test]
fn eval_split_counts_delimiters() {
    let mut p = piped(r#" | eval n=(mvcount(split(process,"\\.."))-1) | search n > 1"#);
    assert!(p.fires(&[("dest", &["h"]), ("process", &[r"type ..\..\..\x"])]));
    assert!(!p.fires(&[("dest", &["h"]), ("process", &[r"type ..\x"])]));
}

/// Whether `| where match(process, PATTERN)` keeps a row whose `process` is `value` (raw bytes).
fn matches(pattern: &str, value: &[u8]) -> bool {
    let mut p = piped(&format!(
        " | where match(process, {})",
        serde_json::to_string(pattern).expect("json")
    ));
    let mut row = row(&p.set, &[("dest", &["h"])]);
    let slot = p.set.slot("process").expect("process is read");
    row.set(slot, vec![value.to_vec()]);
    p.fires_row(&row)
}

/// [KMRE] + [PCRE2]: without the multiline option `$` matches at the end of the subject and
/// before a final newline; `\Z` likewise; `\z` only at the very end.
#[test]
fn pcre_dollar_and_end_anchors() {
    let exe = b"C:\\Windows\\Microsoft.NET\\RegAsm.exe\n";
    assert!(matches(r"(?i)regasm\.exe$", exe));
    assert!(matches(r"(?i)regasm\.exe\Z", exe));
    assert!(!matches(r"(?i)regasm\.exe\z", exe));
    assert!(
        !matches(r"(?i)regasm\.exe$", b"RegAsm.exe\n\n"),
        "one final newline only"
    );
    assert!(
        matches(r"(?im)regasm\.exe$", b"RegAsm.exe\n\n"),
        "(?m): before any newline"
    );
}

/// [SPLRE] "the period character is used in a regular expression to match any character,
/// except a line break character"; (?s) makes it match newlines too [PCRE2].
#[test]
fn pcre_dot_and_newlines() {
    assert!(!matches("a.b", b"a\nb"));
    assert!(matches("a.b", b"a\rb"));
    assert!(matches("(?s)a.b", b"a\nb"));
    assert!(matches("^.$", "é".as_bytes()), "UTF mode: one character");
}

/// [PCRE2] Without PCRE2_UCP, `\d \s \w \b` and POSIX classes are ASCII-only; `(?i)` still
/// folds non-ASCII letters in UTF mode.
#[test]
fn pcre_ascii_classes_and_unicode_case_folding() {
    assert!(!matches(r"^\w+$", "café".as_bytes()));
    assert!(matches(r"^\w+$", b"cafe_1"));
    assert!(!matches(r"\d", "٣".as_bytes()), "Arabic-Indic digit");
    assert!(!matches(r"a\sb", "a\u{a0}b".as_bytes()), "no-break space");
    assert!(matches(r"a\sb", b"a\tb"));
    assert!(!matches(r"[[:alpha:]]", "é".as_bytes()));
    assert!(matches(r"\bcaf", "x café".as_bytes()));
    assert!(
        !matches(r"é\b", "é".as_bytes()),
        "é is not a word character"
    );
    assert!(matches("(?i)ÉCOLE", "école".as_bytes()));
    assert!(
        !matches("(?i)straße", "STRASSE".as_bytes()),
        "no multi-char folding"
    );
    assert!(
        !matches("ÉCOLE", "école".as_bytes()),
        "case-sensitive without (?i)"
    );
}

/// Invalid UTF-8 in a value never matches a character (PCRE2_MATCH_INVALID_UTF); the valid
/// text around it still matches.
#[test]
fn pcre_invalid_utf8_values() {
    assert!(matches("abc", b"\xffabc"));
    assert!(!matches("a.b", b"a\xffb"));
    assert!(!matches("a[^x]b", b"a\xffb"));
    assert!(!matches(r"a\W+b", b"a\xffb"));
    assert!(matches("^a", b"a\xc3"));
}

/// Catastrophic backtracking: PCRE stops at its match limit; netdiscover counts that as no
/// match (a row never fails because of one value), so `regex field!=` keeps the row.
#[test]
fn pcre_match_limit_is_no_match() {
    let evil = format!("{}!", "a".repeat(40));
    assert!(!matches("^(a+)+$", evil.as_bytes()));
    assert!(matches("^(a+)+$", "a".repeat(40).as_bytes()));
    let mut keep = piped(r#" | regex process!="^(a+)+$""#);
    assert!(keep.fires(&[("dest", &["h"]), ("process", &[evil.as_str()])]));
}

/// [KMRE] PCRE features the linear-time engines lack: look-around and back-references.
#[test]
fn pcre_look_around_and_back_references() {
    assert!(matches(r"(?i)powershell(?!\.exe)", b"PowerShell -nop"));
    assert!(!matches(r"(?i)powershell(?!\.exe)", b"powershell.exe"));
    assert!(matches(r"(?<=-)enc", b"ps -enc"));
    assert!(matches(r"(\w)\1{3}", b"xaaaay"));
}

/// [EVAL] `match` on a multivalue field is true if any value matches; `rex` extracts the
/// first match's named group; `replace` writes groups as `\1`.
#[test]
fn eval_match_rex_and_replace() {
    let mut mv = piped(r#" | where match(process, "^b")"#);
    assert!(mv.fires(&[("dest", &["h"]), ("process", &["a", "b"])]));
    let mut rex = piped(r#" | rex field=process "-(?<flag>\w+)" | search flag=enc"#);
    assert!(rex.fires(&[("dest", &["h"]), ("process", &["ps -enc -nop"])]));
    assert!(!rex.fires(&[("dest", &["h"]), ("process", &["ps -nop -enc"])]));
    let mut rep = piped(r#" | eval p=replace(process, "(\w+)@(\w+)", "\2.\1") | search p="b.a""#);
    assert!(rep.fires(&[("dest", &["h"]), ("process", &["a@b"])]));
}

/// ESCU "GetCurrent User with PowerShell": an unquoted value with parentheses is one value.
#[test]
fn escu_unquoted_value_with_parentheses() {
    let mut p = tstats(
        "(Processes.process_name=powershell.exe OR Processes.process_name=pwsh.exe) Processes.process=*GetCurrent()*",
    );
    assert!(p.fires(&[
        ("process_name", &["powershell.exe"]),
        (
            "process",
            &["powershell [System.Security.Principal.WindowsIdentity]::GetCurrent()"]
        ),
    ]));
    assert!(!p.fires(&[
        ("process_name", &["powershell.exe"]),
        ("process", &["GetCurrent"])
    ]));
}

/// ESCU "Malicious PowerShell Process With Obfuscation Techniques": a backtick inside a
/// quoted string is data, not a macro call.
#[test]
fn escu_backtick_inside_a_quoted_string() {
    let mut p = piped(
        r#" | eval num_obfuscation = (mvcount(split(process,"`"))-1) + (mvcount(split(process, "^"))-1) | search num_obfuscation > 10"#,
    );
    let obfuscated = "powershell I`E`X (N`e`W-o`B`j`E`c`T N`e`T`.`W`e`B`c`L`i`E`n`T)";
    assert!(p.fires(&[("dest", &["h"]), ("process", &[obfuscated])]));
    assert!(!p.fires(&[
        ("dest", &["h"]),
        ("process", &["powershell IEX (New-Object)"])
    ]));
}
