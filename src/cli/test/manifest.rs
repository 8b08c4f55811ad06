//! `tests.yml`: our own test manifest, for data a user holds locally.
//!
//! ```yaml
//! # rule id (or exact rule name) → data file → expected number of matching rows
//! c137bfe8-6036-4cff-b77b-4e327dd0a1cf:   # Windows Proxy Via Netsh
//!   examples/windows_process_creation.xml: 2
//!   xml/mdecrevoisier__ID4688-5447-4950-Firewall_disabled_command.xml: 0
//! ```
//!
//! A relative data path is looked up beside the manifest, then under each `--data`
//! directory. The count is exact: `0` makes a false-positive test.

use std::path::Path;

/// One `rule → file → count` line of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The rule's id or name, as written.
    pub rule: String,
    pub data: String,
    pub expected: u64,
}

/// Reads a manifest. Every problem names the file and the key it concerns.
pub fn read(path: &Path) -> Result<Vec<ManifestEntry>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

pub fn parse(text: &str) -> Result<Vec<ManifestEntry>, String> {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let rules = match doc {
        serde_yaml::Value::Mapping(m) => m,
        serde_yaml::Value::Null => return Ok(Vec::new()),
        _ => return Err("expected a mapping `rule id → {data file: expected count}`".into()),
    };
    let mut out = Vec::new();
    for (rule, files) in rules {
        let rule = scalar(&rule).ok_or("a rule key is not a string")?;
        let serde_yaml::Value::Mapping(files) = files else {
            return Err(format!(
                "rule `{rule}`: expected a mapping `data file: expected count`"
            ));
        };
        for (data, count) in files {
            let data = scalar(&data).ok_or(format!("rule `{rule}`: a data key is not a string"))?;
            let expected = count.as_u64().ok_or(format!(
                "rule `{rule}`, file `{data}`: the expected count must be a whole number ≥ 0"
            ))?;
            out.push(ManifestEntry {
                rule: rule.clone(),
                data,
                expected,
            });
        }
    }
    Ok(out)
}

fn scalar(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rule_file_count_lines_in_order() {
        let m = parse("# c\nr1:  # name\n  a.xml: 2\n  b.evtx: 0\n\"Rule Two\":\n  c.csv: 1\n")
            .unwrap();
        let lines: Vec<(&str, &str, u64)> = m
            .iter()
            .map(|e| (e.rule.as_str(), e.data.as_str(), e.expected))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("r1", "a.xml", 2),
                ("r1", "b.evtx", 0),
                ("Rule Two", "c.csv", 1)
            ]
        );
        assert!(parse("r1:\n  a.xml: -1\n").unwrap_err().contains("a.xml"));
        assert!(parse("r1: 3\n").unwrap_err().contains("r1"));
        assert!(parse("- a\n").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }
}
