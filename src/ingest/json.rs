//! Windows events as JSON. Publisher JSON: the export format of Windows event tooling that
//! writes one `{"Event":{"System":{...},"EventData":{"Data":[{"@Name":..,"#text":..}]}}}`
//! object per line (attributes as `@Name` keys, element text as `#text`, numbers often as
//! strings). `evtx_dump -o json` (the `evtx` crate's JSON, as SigmaHQ's regression samples
//! are written): pretty-printed objects, attributes under `#attributes`, and `EventData` an
//! object of name → value (numbers as numbers), values as the record holds them.

use serde_json::Value;

use super::windows::WinEvent;

/// Parses one JSON event (a line, or one pretty-printed object) into the same [`WinEvent`]
/// the XML reader produces.
pub(crate) fn parse_line(line: &[u8]) -> Result<WinEvent, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let event = value
        .get("Event")
        .ok_or("no \"Event\" key (not a publisher JSON event)")?;
    let system = event.get("System").ok_or("no \"Event.System\" object")?;
    // The `evtx` crate writes values as the record holds them; publisher exports keep the
    // XML escaping (see `text`).
    let escaped = event.get("#attributes").is_none();
    let text = |v: Option<&Value>| text(v, escaped);
    let attribute = |v: Option<&Value>, name: &str| attribute(v, name, escaped);
    let mut out = WinEvent {
        event_id: text(system.get("EventID")),
        provider: attribute(system.get("Provider"), "Name"),
        channel: text(system.get("Channel")),
        computer: text(system.get("Computer")),
        system_time: attribute(system.get("TimeCreated"), "SystemTime"),
        record_id: text(system.get("EventRecordID")),
        security_user_id: attribute(system.get("Security"), "UserID"),
        data: Vec::new(),
    };
    if out.event_id.is_empty() {
        return Err("no Event.System.EventID".into());
    }
    let event_data = event.get("EventData");
    let items: Vec<&Value> = match event_data.and_then(|d| d.get("Data")) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ Value::Object(_)) => vec![item],
        _ => Vec::new(),
    };
    for item in items {
        let name = attribute(Some(item), "Name");
        out.data.push((name, text(Some(item))));
    }
    if let Some(Value::Object(named)) = event_data {
        for (name, value) in named {
            if name != "Data" && name != "#attributes" {
                out.data.push((name.clone(), text(Some(value))));
            }
        }
    }
    Ok(out)
}

/// Element text: a scalar, or the `#text` of an object (an element with attributes).
/// Publisher exports keep the XML escaping of the event text inside the JSON strings
/// (`1&gt; out.txt 2&gt;&amp;1`; the EVTX holds `1> out.txt 2>&1`), so entities are
/// decoded; a string with a stray `&` that is no entity stays as it is.
fn text(value: Option<&Value>, escaped: bool) -> String {
    let text = |v| text(v, escaped);
    match value {
        Some(Value::String(s)) if escaped && s.contains('&') => {
            match quick_xml::escape::unescape(s) {
                Ok(decoded) => decoded.into_owned(),
                Err(_) => s.clone(),
            }
        }
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Object(map)) => text(map.get("#text")),
        Some(Value::Array(parts)) => parts
            .iter()
            .map(|p| text(Some(p)))
            .collect::<Vec<_>>()
            .join("\n"),
        Some(Value::Null) | None => String::new(),
    }
}

/// An attribute, written `@Name` (or `#attributes.Name`, as the `evtx` crate writes it).
fn attribute(element: Option<&Value>, name: &str, escaped: bool) -> String {
    let Some(element) = element else {
        return String::new();
    };
    if let Some(v) = element.get(format!("@{name}")) {
        return text(Some(v), escaped);
    }
    text(
        element.get("#attributes").and_then(|a| a.get(name)),
        escaped,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_at_name_text_arrays_and_string_event_ids() {
        let line = br##"{"Event":{"System":{"Provider":{"@Name":"Microsoft-Windows-Sysmon"},"EventID":"1","TimeCreated":{"@SystemTime":"2024-10-22 15:57:23.8438891"},"EventRecordID":"17936","Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"Server002","Security":{"@UserID":"S-1-5-18"}},"EventData":{"Data":[{"@Name":"ProcessId","#text":"4228"},{"@Name":"Image","#text":"C:\\Windows\\System32\\whoami.exe"},{"@Name":"RuleName"}]}}}"##;
        let e = parse_line(line).unwrap();
        assert_eq!(e.event_id, "1");
        assert_eq!(e.provider, "Microsoft-Windows-Sysmon");
        assert_eq!(e.system_time, "2024-10-22 15:57:23.8438891");
        assert_eq!(
            e.data[1],
            (
                "Image".to_string(),
                "C:\\Windows\\System32\\whoami.exe".to_string()
            )
        );
        assert_eq!(e.data[2], ("RuleName".to_string(), String::new()));
    }

    #[test]
    fn xml_entities_in_values_are_decoded() {
        let line = br##"{"Event":{"System":{"EventID":"1"},"EventData":{"Data":[{"@Name":"CommandLine","#text":"cmd /c a 2&gt;&amp;1"},{"@Name":"P","#text":"a & b"}]}}}"##;
        let e = parse_line(line).unwrap();
        assert_eq!(e.data[0].1, "cmd /c a 2>&1");
        assert_eq!(e.data[1].1, "a & b");
    }

    /// `evtx_dump -o json`: `#attributes`, EventData as a name → value object, numbers as
    /// numbers, values unescaped (a literal `&gt;` stays as it is).
    #[test]
    fn evtx_dump_objects() {
        let text = br##"{
  "Event": {
    "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
    "System": {
      "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}},
      "EventID": 1,
      "TimeCreated": {"#attributes": {"SystemTime": "2026-04-20T10:00:35.646624Z"}},
      "EventRecordID": 86918,
      "Channel": "Microsoft-Windows-Sysmon/Operational",
      "Computer": "host"
    },
    "EventData": {"ProcessId": 6180, "CommandLine": "a &gt; b & c", "Description": "-"}
  }
}"##;
        let mut e = parse_line(text).unwrap();
        assert_eq!(e.event_id, "1");
        assert_eq!(e.provider, "Microsoft-Windows-Sysmon");
        assert_eq!(e.record_id, "86918");
        e.data.sort();
        assert_eq!(
            e.data,
            vec![
                ("CommandLine".to_string(), "a &gt; b & c".to_string()),
                ("Description".to_string(), "-".to_string()),
                ("ProcessId".to_string(), "6180".to_string()),
            ]
        );
    }

    #[test]
    fn numeric_event_id_with_qualifiers() {
        let line = br##"{"Event":{"System":{"EventID":{"@Qualifiers":"0","#text":4688}}}}"##;
        assert_eq!(parse_line(line).unwrap().event_id, "4688");
    }

    #[test]
    fn rejects_what_is_not_an_event() {
        assert!(parse_line(b"{\"Event\":").is_err());
        assert!(parse_line(b"{\"foo\":1}").is_err());
        assert!(parse_line(b"{\"Event\":{\"System\":{}}}").is_err());
    }
}
