//! JSON exactly as the ESCU build tools write it into `.conf` values, byte for byte:
//! - [`tojson`]: Jinja2's `tojson` filter as contentctl 5 uses it: Python
//!   `json.dumps(obj, sort_keys=True)` (separators `", "` and `": "`, `ensure_ascii`), then
//!   `& < > '` replaced by `\u0026 \u003c \u003e \u0027` (Jinja's `htmlsafe_json_dumps`);
//! - [`compact_json`]: contentctl-ng's `ConfLine.value`: `json.dumps(obj, separators=(",",
//!   ":"), sort_keys=True)` (`ensure_ascii`, no HTML escaping).

use serde_json::Value;
use std::fmt::Write;

/// How a serializer writes separators and which characters it escapes.
#[derive(Clone, Copy)]
struct Style {
    item_separator: &'static str,
    key_separator: &'static str,
    html_safe: bool,
}

const JINJA: Style = Style {
    item_separator: ", ",
    key_separator: ": ",
    html_safe: true,
};

const COMPACT: Style = Style {
    item_separator: ",",
    key_separator: ":",
    html_safe: false,
};

/// Serializes `value` exactly as `{{ value | tojson }}` does in contentctl's templates.
pub fn tojson(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, JINJA);
    out
}

/// Serializes `value` exactly as contentctl-ng writes list, set and dict values.
pub fn compact_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, COMPACT);
    out
}

fn write_value(out: &mut String, value: &Value, style: Style) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s, style),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(style.item_separator);
                }
                write_value(out, item, style);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(style.item_separator);
                }
                write_string(out, key, style);
                out.push_str(style.key_separator);
                write_value(out, &map[key], style);
            }
            out.push('}');
        }
    }
}

/// Integers print as integers; floats as Python's `repr` does for the values we emit
/// (integral floats such as epoch seconds keep a trailing `.0`).
fn write_number(out: &mut String, n: &serde_json::Number) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        if f.fract() == 0.0 && f.abs() < 1e16 {
            let _ = write!(out, "{f:.1}");
        } else {
            let _ = write!(out, "{f}");
        }
    }
}

fn write_string(out: &mut String, s: &str, style: Style) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '&' if style.html_safe => out.push_str("\\u0026"),
            '<' if style.html_safe => out.push_str("\\u003c"),
            '>' if style.html_safe => out.push_str("\\u003e"),
            '\'' if style.html_safe => out.push_str("\\u0027"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_uses_python_separators() {
        let v = json!({"b": [1, "x"], "a": {"d": 1746144000.0, "c": "0"}});
        assert_eq!(
            tojson(&v),
            r#"{"a": {"c": "0", "d": 1746144000.0}, "b": [1, "x"]}"#
        );
    }

    #[test]
    fn compact_json_is_contentctl_ngs_json_dumps() {
        let v = json!({"b": [1, "x & <y>"], "a": {"d": 1778630400.0, "c": "é"}});
        assert_eq!(
            compact_json(&v),
            r#"{"a":{"c":"\u00e9","d":1778630400.0},"b":[1,"x & <y>"]}"#
        );
    }

    #[test]
    fn escapes_html_specials_and_non_ascii_like_jinja() {
        let v = json!("ATT&CK <x> 'q' \"d\" é 😀");
        assert_eq!(
            tojson(&v),
            r#""ATT\u0026CK \u003cx\u003e \u0027q\u0027 \"d\" \u00e9 \ud83d\ude00""#
        );
    }
}
