//! Making arbitrary text safe inside an XML 1.0 document.
//!
//! Splunk parses the modular input's stdout as one XML document; a single stray control
//! character or `&` would make splunkd drop the stream. Input files can hold anything, so every
//! string is passed through [`escape_text`] before it is written.

/// True for the characters XML 1.0 allows in a document (the `Char` production).
pub fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// Escapes `&`, `<` and `>` and replaces characters XML 1.0 cannot carry with U+FFFD. The
/// output is always well-formed element text (so `]]>` becomes `]]&gt;`). Quotes stay as they
/// are: they need no escaping in element text, and JSON bodies are full of them.
pub fn escape_text(raw: &str, out: &mut String) {
    escape(raw, false, out)
}

/// [`escape_text`] plus `"`, for a double-quoted attribute value.
pub fn escaped_attr(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    escape(raw, true, &mut out);
    out
}

fn escape(raw: &str, quotes: bool, out: &mut String) {
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
}

/// [`escape_text`] into a new string.
pub fn escaped(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    escape_text(raw, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_replaces_forbidden_characters() {
        assert_eq!(
            escaped("a&b<c>d\"e]]>\u{0}\u{1b}\u{FFFE}\tz"),
            "a&amp;b&lt;c&gt;d\"e]]&gt;\u{FFFD}\u{FFFD}\u{FFFD}\tz"
        );
    }
}
