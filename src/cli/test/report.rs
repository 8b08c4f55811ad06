//! What `netdiscover test` writes: the table and closing line on stdout, the JSON results
//! (`--json`, read back by `coverage --tested-with`) and JUnit XML (`--junit`).

use std::fmt::Write as _;

use serde_json::{json, Value};

use super::cases::{DataRef, TestCase};
use super::runner::{Status, Verdict};

/// The closing counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Counts {
    pub fn of(verdicts: &[Verdict]) -> Counts {
        let n = |s| verdicts.iter().filter(|v| v.status == s).count();
        Counts {
            passed: n(Status::Pass),
            failed: n(Status::Fail),
            skipped: n(Status::Skip),
        }
    }

    /// `N passed, M failed, K skipped`: the line CI runners read.
    pub fn line(&self) -> String {
        format!(
            "{} passed, {} failed, {} skipped",
            self.passed, self.failed, self.skipped
        )
    }
}

const RULE_WIDTH: usize = 42;
const TEST_WIDTH: usize = 20;
const DATA_WIDTH: usize = 48;

/// The table: one line per test, and for a failed or skipped test a second line saying why.
pub fn table(cases: &[TestCase], verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<RULE_WIDTH$}  {:<TEST_WIDTH$}  {:<DATA_WIDTH$}  {:>8}  {:>6}  result",
        "rule", "test", "data file", "expected", "got"
    );
    for (case, verdict) in cases.iter().zip(verdicts) {
        let got = verdict.got.map_or("-".to_string(), |g| g.to_string());
        let _ = writeln!(
            out,
            "{:<RULE_WIDTH$}  {:<TEST_WIDTH$}  {:<DATA_WIDTH$}  {:>8}  {:>6}  {}",
            clip_end(&case.rule_name, RULE_WIDTH),
            clip_end(&case.name, TEST_WIDTH),
            clip(&data_column(&case.data), DATA_WIDTH),
            case.expect.to_string(),
            got,
            verdict.status.name()
        );
        if verdict.status != Status::Pass {
            let _ = writeln!(out, "    {}: {}", verdict.status.name(), verdict.message);
        }
    }
    out
}

/// The data column: the first file as the test names it, and how many more there are.
fn data_column(data: &[DataRef]) -> String {
    let Some(first) = data.first() else {
        return "-".into();
    };
    match data.len() {
        1 => first.named.clone(),
        n => format!("{} (+{} more)", first.named, n - 1),
    }
}

/// Keeps the start of long names.
fn clip_end(value: &str, width: usize) -> String {
    if value.chars().count() <= width {
        return value.to_string();
    }
    let head: String = value.chars().take(width - 1).collect();
    format!("{head}…")
}

/// Keeps the end of long paths (file names differ at the end).
fn clip(value: &str, width: usize) -> String {
    let count = value.chars().count();
    if count <= width {
        return value.to_string();
    }
    let tail: String = value.chars().skip(count - (width - 1)).collect();
    format!("…{tail}")
}

/// The results as JSON: every test with its rule (id, ATT&CK techniques), data, expected
/// and actual counts, status and message.
pub fn json(
    cases: &[TestCase],
    verdicts: &[Verdict],
    techniques: &dyn Fn(&TestCase) -> Vec<String>,
    seconds: f64,
) -> Value {
    let counts = Counts::of(verdicts);
    let tests: Vec<Value> = cases
        .iter()
        .zip(verdicts)
        .map(|(case, verdict)| {
            let data: Vec<Value> = case
                .data
                .iter()
                .map(|d| {
                    json!({
                        "named": d.named,
                        "found": d.found.as_ref().map(|p| p.display().to_string()),
                        "looked_for": d.looked_for.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
                    })
                })
                .collect();
            json!({
                "rule": case.rule_name,
                "rule_id": case.rule_id,
                "mitre_attack_id": techniques(case),
                "origin": case.origin.name(),
                "test": case.name,
                "declared_in": case.declared_in.display().to_string(),
                "data": data,
                "expected": case.expect.to_string(),
                "got": verdict.got,
                "status": verdict.status.name(),
                "message": verdict.message,
                "seconds": verdict.seconds,
            })
        })
        .collect();
    json!({
        "passed": counts.passed,
        "failed": counts.failed,
        "skipped": counts.skipped,
        "seconds": seconds,
        "tests": tests,
    })
}

/// JUnit XML as GitLab, GitHub and Jenkins test reports read it: one `<testsuite>` per rule,
/// one `<testcase>` per test of it, `<failure>`/`<skipped>` naming the file and the count.
pub fn junit(cases: &[TestCase], verdicts: &[Verdict], seconds: f64) -> String {
    let counts = Counts::of(verdicts);
    let mut order: Vec<&str> = Vec::new();
    for case in cases {
        if !order.contains(&case.rule_name.as_str()) {
            order.push(&case.rule_name);
        }
    }
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"netdiscover test\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{seconds:.3}\">",
        cases.len(),
        counts.failed,
        counts.skipped
    );
    for rule in order {
        let members: Vec<(&TestCase, &Verdict)> = cases
            .iter()
            .zip(verdicts)
            .filter(|(c, _)| c.rule_name == rule)
            .collect();
        write_suite(&mut out, rule, &members);
    }
    out.push_str("</testsuites>\n");
    out
}

fn write_suite(out: &mut String, rule: &str, members: &[(&TestCase, &Verdict)]) {
    let verdicts: Vec<Verdict> = members.iter().map(|(_, v)| (*v).clone()).collect();
    let counts = Counts::of(&verdicts);
    let time: f64 = verdicts.iter().map(|v| v.seconds).sum();
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{time:.3}\">",
        xml_escape(rule),
        members.len(),
        counts.failed,
        counts.skipped
    );
    for (case, verdict) in members {
        let name = format!("{} ({})", case.name, data_column(&case.data));
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}.{}\" file=\"{}\" time=\"{:.3}\"",
            xml_escape(&name),
            case.origin.name(),
            xml_escape(&case.rule_id),
            xml_escape(&case.declared_in.display().to_string()),
            verdict.seconds
        );
        let message = xml_escape(&verdict.message);
        match verdict.status {
            Status::Pass => out.push_str("/>\n"),
            Status::Skip => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{message}\"/>\n    </testcase>"
                );
            }
            Status::Fail => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{message}\" type=\"{}\">{message}</failure>\n    </testcase>",
                    if verdict.got.is_some() { "count" } else { "error" }
                );
            }
        }
    }
    out.push_str("  </testsuite>\n");
}

/// Escapes text for an XML attribute or element; characters XML 1.0 cannot hold (most
/// control characters) become U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_control_characters() {
        assert_eq!(
            xml_escape("a<b & \"c\" 'd'\u{1}\n"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;\u{FFFD}&#10;"
        );
        assert_eq!(clip("abcdef", 4), "…def");
        assert_eq!(
            Counts {
                passed: 3,
                failed: 1,
                skipped: 2
            }
            .line(),
            "3 passed, 1 failed, 2 skipped"
        );
    }
}
