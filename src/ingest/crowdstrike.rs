//! CrowdStrike Falcon NDJSON (Falcon Data Replicator files, Event Streams exports): one
//! JSON object per line with `event_simpleName`; `ProcessRollup2` is a process creation.

use serde_json::{Map, Value};

use super::cim::{self, Fields};
use super::row::ProcessRow;

/// The event names read as process creations. ESCU's data source separates on
/// `event_simpleName=ProcessRollup2`; `SyntheticProcessRollup2` is the same event for
/// processes that started before the sensor.
pub(crate) const PROCESS_EVENTS: [&str; 2] = ["ProcessRollup2", "SyntheticProcessRollup2"];

pub(crate) enum Parsed {
    Process { row: ProcessRow, record_id: String },
    Other { event_name: String },
}

struct Object(Map<String, Value>);

impl Fields for Object {
    fn field(&self, name: &str) -> Option<&str> {
        match self.0.get(name)? {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
}

/// Parses one NDJSON line.
pub(crate) fn parse_line(line: &[u8]) -> Result<Parsed, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(mut map) = value else {
        return Err("not a JSON object".into());
    };
    // Numbers (some exports write `"RawProcessId": 5012`) become strings once, here.
    for v in map.values_mut() {
        if let Value::Number(n) = v {
            *v = Value::String(n.to_string());
        }
    }
    let object = Object(map);
    let name = object
        .field("event_simpleName")
        .ok_or("no event_simpleName (not a CrowdStrike event)")?
        .to_string();
    if !PROCESS_EVENTS.contains(&name.as_str()) {
        return Ok(Parsed::Other { event_name: name });
    }
    let row = cim::map(cim::CROWDSTRIKE_PROCESS_ROLLUP2, &[], &object);
    let record_id = object.field("id").unwrap_or("").to_string();
    Ok(Parsed::Process { row, record_id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::CimField;

    #[test]
    fn maps_process_rollup2() {
        let line = br#"{"event_simpleName":"ProcessRollup2","id":"e221","timestamp":"1713805173418","RawProcessId":5012,"ImageFileName":"\\Device\\HarddiskVolume1\\Windows\\System32\\netsh.exe","CommandLine":"netsh interface portproxy add v4tov4 listenport=1","ParentBaseFileName":"cmd.exe","ParentProcessId":"5459598860","TargetProcessId":"5642133882","UserSid":"S-1-5-21-1-500","IntegrityLevel":"12288","SHA256HashData":"ba40","aid":"168a","aid_computer_name":"WS01"}"#;
        let Parsed::Process { row, record_id } = parse_line(line).unwrap() else {
            panic!("not a process event")
        };
        assert_eq!(record_id, "e221");
        assert_eq!(row.get(CimField::ProcessName), "netsh.exe");
        assert_eq!(row.get(CimField::ProcessId), "5012");
        assert_eq!(row.get(CimField::Dest), "WS01");
        assert_eq!(row.get(CimField::ProcessIntegrityLevel), "high");
        assert_eq!(row.get(CimField::Time), "2024-04-22T16:59:33.418000Z");
        assert_eq!(row.get(CimField::User), "S-1-5-21-1-500");
    }

    #[test]
    fn other_events_are_named_and_garbage_is_an_error() {
        assert!(matches!(
            parse_line(br#"{"event_simpleName":"DnsRequest"}"#),
            Ok(Parsed::Other { event_name }) if event_name == "DnsRequest"
        ));
        assert!(parse_line(b"[1,2]").is_err());
        assert!(parse_line(b"{\"a\":1}").is_err());
        assert!(parse_line(b"{\"a\":").is_err());
    }
}
