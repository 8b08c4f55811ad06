//! `.conf` text: contentctl's `escapeNewlines`, and a small reader that turns a `.conf` file
//! into ordered stanzas so two files can be compared key by key.

/// contentctl's `escapeNewlines`: strip surrounding whitespace, continue lines with ` \`.
pub fn escape_newlines(value: &str) -> String {
    value.trim().replace('\n', " \\\n")
}

/// One `[stanza]` with its `key = value` pairs in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    pub name: String,
    pub entries: Vec<(String, String)>,
}

impl Stanza {
    /// The value of `key`, if the stanza sets it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses `.conf` text the way splunkd reads it for our purposes: `#` comment lines and blank
/// lines are skipped, a line ending in `\` continues on the next line (the newline is kept),
/// keys and values are trimmed at the first `=`. Lines before the first stanza belong to a
/// stanza named `""`. A line that is neither a stanza, a comment nor `key = value` is an error.
pub fn parse(text: &str) -> Result<Vec<Stanza>, String> {
    let mut stanzas = vec![Stanza {
        name: String::new(),
        entries: Vec::new(),
    }];
    let mut lines = text.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            stanzas.push(Stanza {
                name: trimmed[1..trimmed.len() - 1].to_string(),
                entries: Vec::new(),
            });
            continue;
        }
        let mut logical = line.to_string();
        while logical.ends_with('\\') {
            logical.pop();
            logical.push('\n');
            match lines.next() {
                Some((_, next)) => logical.push_str(next),
                None => break,
            }
        }
        let Some((key, value)) = logical.split_once('=') else {
            return Err(format!(
                "line {}: expected `key = value`: {line}",
                index + 1
            ));
        };
        if let Some(stanza) = stanzas.last_mut() {
            stanza
                .entries
                .push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    if stanzas[0].entries.is_empty() {
        stanzas.remove(0);
    }
    Ok(stanzas)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_newlines_matches_contentctl() {
        assert_eq!(escape_newlines("  a\nb \n"), "a \\\nb");
    }

    #[test]
    fn parses_stanzas_continuations_and_rejects_garbage() {
        let text = "# c\n[a]\nk = v \\\nw\nx=1\n\n[b - c]\ny = \n";
        let stanzas = parse(text).unwrap();
        assert_eq!(stanzas.len(), 2);
        assert_eq!(stanzas[0].get("k"), Some("v \nw"));
        assert_eq!(stanzas[0].get("x"), Some("1"));
        assert_eq!(stanzas[1].name, "b - c");
        assert_eq!(stanzas[1].get("y"), Some(""));
        assert!(parse("[a]\nnot a pair\n").unwrap_err().contains("line 2"));
    }
}
