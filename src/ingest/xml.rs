//! XmlWinEventLog: one `<Event>` element per record, as Splunk's `XmlWinEventLog` raw
//! events, `wevtutil qe /f:xml`, Event Viewer's "Save as XML" and the `evtx` crate render
//! them. A record may span lines (field values hold newlines), so files are split on
//! `</Event>`, never on newlines.

use std::sync::OnceLock;

use memchr::memmem::Finder;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::format::TextEncoding;
use super::windows::WinEvent;

/// Where a named value goes while an element's text is being read.
enum Capture {
    EventId,
    RecordId,
    Channel,
    Computer,
    Data(String),
}

#[derive(PartialEq)]
enum Section {
    Outside,
    System,
    EventData,
    Other,
}

/// Parses one `<Event>` element. `keep_data` is asked once `System` is read; when it says
/// no (not a process event) the rest is not parsed.
pub(crate) fn parse_event(
    xml: &str,
    keep_data: impl Fn(&WinEvent) -> bool,
) -> Result<WinEvent, String> {
    let mut reader = Reader::from_str(xml);
    let mut parser = EventParser::default();
    loop {
        let step = reader.read_event();
        let position = reader.error_position();
        let xml_event = step.map_err(|e| format!("XML error at character {position}: {e}"))?;
        let done = match xml_event {
            Event::Start(element) => parser.start(&element).map(|()| false)?,
            Event::Empty(element) => parser.empty(&element).map(|()| false)?,
            Event::Text(t) if parser.capturing() => {
                let decoded = t.decode().map_err(|e| format!("bad text: {e}"))?;
                parser.text(&decoded);
                false
            }
            Event::CData(t) if parser.capturing() => {
                let decoded = t.decode().map_err(|e| format!("bad CDATA: {e}"))?;
                parser.text(&decoded);
                false
            }
            // Outside captured text a reference still has to be valid.
            Event::GeneralRef(r) => {
                parser.text(&resolve_reference(&r)?);
                false
            }
            Event::End(_) => parser.end(&keep_data),
            Event::Eof => return Err(parser.unclosed()),
            _ => false,
        };
        if done {
            return Ok(parser.event);
        }
    }
}

/// The state of one `<Event>` element's parse: how deep we are, in which section, and
/// which value the text being read belongs to.
struct EventParser {
    event: WinEvent,
    depth: usize,
    section: Section,
    capture: Option<Capture>,
    text: String,
    seen_root: bool,
}

impl Default for EventParser {
    fn default() -> Self {
        EventParser {
            event: WinEvent::default(),
            depth: 0,
            section: Section::Outside,
            capture: None,
            text: String::new(),
            seen_root: false,
        }
    }
}

impl EventParser {
    fn start(&mut self, element: &BytesStart<'_>) -> Result<(), String> {
        self.depth += 1;
        let name = element.local_name();
        match self.depth {
            1 if name.as_ref() != b"Event" => {
                return Err(format!(
                    "root element is <{}>, not <Event>",
                    String::from_utf8_lossy(name.as_ref())
                ))
            }
            1 => self.seen_root = true,
            2 => {
                self.section = match name.as_ref() {
                    b"System" => Section::System,
                    b"EventData" => Section::EventData,
                    _ => Section::Other,
                }
            }
            3 => {
                self.capture = start_field(&self.section, element, &mut self.event)?;
                self.text.clear();
            }
            _ => {}
        }
        Ok(())
    }

    fn empty(&mut self, element: &BytesStart<'_>) -> Result<(), String> {
        if self.depth == 0 {
            return Err("empty <Event/> element".into());
        }
        if self.depth == 2 {
            // `<Data Name='X'/>`: an empty value, still a value.
            if let Some(Capture::Data(name)) = start_field(&self.section, element, &mut self.event)?
            {
                self.event.data.push((name, String::new()));
            }
        }
        Ok(())
    }

    fn capturing(&self) -> bool {
        self.capture.is_some()
    }

    /// Appends text to the value being captured, if any.
    fn text(&mut self, text: &str) {
        if self.capture.is_some() {
            self.text.push_str(text);
        }
    }

    /// Closes an element; true when the parse is done (the root closed, or `keep_data`
    /// declined the event after `System`).
    fn end(&mut self, keep_data: &impl Fn(&WinEvent) -> bool) -> bool {
        if self.depth == 3 {
            if let Some(target) = self.capture.take() {
                let value = std::mem::take(&mut self.text);
                let event = &mut self.event;
                match target {
                    Capture::EventId => event.event_id = value,
                    Capture::RecordId => event.record_id = value,
                    Capture::Channel => event.channel = value,
                    Capture::Computer => event.computer = value,
                    Capture::Data(name) => event.data.push((name, value)),
                }
            }
        }
        if self.depth == 2 {
            if self.section == Section::System && !keep_data(&self.event) {
                return true;
            }
            self.section = Section::Outside;
        }
        self.depth = self.depth.saturating_sub(1);
        self.depth == 0
    }

    fn unclosed(&self) -> String {
        if self.seen_root {
            "the <Event> element is not closed".into()
        } else {
            "no <Event> element".into()
        }
    }
}

fn resolve_reference(r: &quick_xml::events::BytesRef<'_>) -> Result<String, String> {
    if let Some(c) = r
        .resolve_char_ref()
        .map_err(|e| format!("bad character reference: {e}"))?
    {
        return Ok(c.to_string());
    }
    let name = r.decode().map_err(|e| format!("bad entity: {e}"))?;
    match quick_xml::escape::resolve_predefined_entity(&name) {
        Some(s) => Ok(s.to_string()),
        None => Err(format!("unknown entity &{name};")),
    }
}

/// Reads the attributes of a level-3 element and says what its text is.
fn start_field(
    section: &Section,
    element: &BytesStart<'_>,
    event: &mut WinEvent,
) -> Result<Option<Capture>, String> {
    let name = element.local_name();
    match section {
        Section::System => match name.as_ref() {
            b"Provider" => {
                event.provider = attribute(element, b"Name")?.unwrap_or_default();
                Ok(None)
            }
            b"TimeCreated" => {
                event.system_time = attribute(element, b"SystemTime")?.unwrap_or_default();
                Ok(None)
            }
            b"Security" => {
                event.security_user_id = attribute(element, b"UserID")?.unwrap_or_default();
                Ok(None)
            }
            b"EventID" => Ok(Some(Capture::EventId)),
            b"EventRecordID" => Ok(Some(Capture::RecordId)),
            b"Channel" => Ok(Some(Capture::Channel)),
            b"Computer" => Ok(Some(Capture::Computer)),
            _ => Ok(None),
        },
        Section::EventData if name.as_ref() == b"Data" => Ok(Some(Capture::Data(
            attribute(element, b"Name")?.unwrap_or_default(),
        ))),
        _ => Ok(None),
    }
}

fn attribute(element: &BytesStart<'_>, key: &[u8]) -> Result<Option<String>, String> {
    for attr in element.attributes() {
        let attr = attr.map_err(|e| format!("bad attribute: {e}"))?;
        if attr.key.local_name().as_ref() == key {
            let value = attr
                .unescape_value()
                .map_err(|e| format!("bad attribute value: {e}"))?;
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// Where the `<Event` start tags in a frame are (byte offsets in the frame), found in the
/// file's own encoding so offsets are exact. `<Events>` (a wrapper) is not one.
pub(crate) fn event_starts(frame: &[u8], encoding: TextEncoding) -> Vec<usize> {
    let finder = event_start_finder(encoding);
    let needle_len = finder.needle().len();
    let unit = encoding.unit();
    finder
        .find_iter(frame)
        .filter(|&at| at % unit == 0)
        .filter(|&at| {
            let next = &frame[(at + needle_len).min(frame.len())..];
            let c = encoding.decode(&next[..unit.min(next.len())]);
            matches!(c.chars().next(), Some(' ' | '\t' | '\r' | '\n' | '>' | '/'))
        })
        .collect()
}

/// The search for `<Event` in `encoding`, made once: every frame is searched, and making
/// the searcher (and the encoded needle) cost about as much as a frame's search.
fn event_start_finder(encoding: TextEncoding) -> &'static Finder<'static> {
    static FINDERS: OnceLock<[Finder<'static>; 3]> = OnceLock::new();
    let finders = FINDERS.get_or_init(|| {
        [
            TextEncoding::Utf8,
            TextEncoding::Utf16Le,
            TextEncoding::Utf16Be,
        ]
        .map(|e| Finder::new(&e.encode("<Event")).into_owned())
    });
    &finders[match encoding {
        TextEncoding::Utf8 => 0,
        TextEncoding::Utf16Le => 1,
        TextEncoding::Utf16Be => 2,
    }]
}

/// Whether text between events holds nothing but whitespace, an XML declaration,
/// comments, a DOCTYPE and the `<Events>` wrapper's tags.
pub(crate) fn is_filler(text: &str) -> bool {
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let end = if rest.starts_with("<?") {
            rest.find("?>").map(|i| i + 2)
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|i| i + 3)
        } else if rest.starts_with("<!")
            || rest.starts_with("<Events")
            || rest.starts_with("</Events")
        {
            rest.find('>').map(|i| i + 1)
        } else {
            None
        };
        match end {
            Some(end) => rest = rest[end..].trim_start(),
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    const SYSMON: &str = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><Provider Name='Microsoft-Windows-Sysmon' Guid='{5770385F}'/><EventID>1</EventID><TimeCreated SystemTime='2020-10-08T11:03:46.617920300Z'/><EventRecordID>4522</EventRecordID><Correlation/><Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>win-dc</Computer><Security UserID='S-1-5-18'/></System><EventData><Data Name='RuleName'/><Data Name='Image'>C:\\Windows\\System32\\cmd.exe</Data><Data Name='CommandLine'>\"cmd.exe\" /c \"a &amp; b &lt;c&gt; &#x41;\"\n second line</Data></EventData></Event>";

    #[test]
    fn parses_system_and_event_data_with_entities_and_newlines() {
        let e = parse_event(SYSMON, |_| true).unwrap();
        assert_eq!(e.event_id, "1");
        assert_eq!(e.provider, "Microsoft-Windows-Sysmon");
        assert_eq!(e.record_id, "4522");
        assert_eq!(e.computer, "win-dc");
        assert_eq!(e.system_time, "2020-10-08T11:03:46.617920300Z");
        assert_eq!(e.security_user_id, "S-1-5-18");
        assert_eq!(
            e.data,
            vec![
                ("RuleName".to_string(), String::new()),
                (
                    "Image".to_string(),
                    "C:\\Windows\\System32\\cmd.exe".to_string()
                ),
                (
                    "CommandLine".to_string(),
                    "\"cmd.exe\" /c \"a & b <c> A\"\n second line".to_string()
                ),
            ]
        );
    }

    #[test]
    fn stops_after_system_when_told() {
        let e = parse_event(SYSMON, |_| false).unwrap();
        assert_eq!(e.event_id, "1");
        assert!(e.data.is_empty());
    }

    #[test]
    fn user_data_with_its_own_namespace_is_read_past() {
        let xml = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><EventID>1102</EventID></System><UserData><LogFileCleared xmlns='http://manifests.microsoft.com/win/2004/08/windows/eventlog'><SubjectUserName>admmig</SubjectUserName></LogFileCleared></UserData></Event>";
        let e = parse_event(xml, |_| true).unwrap();
        assert_eq!(e.event_id, "1102");
        assert!(e.data.is_empty());
    }

    #[test]
    fn broken_events_are_errors_not_panics() {
        for bad in [
            "<Event><System><EventID>1</EventID></System>",
            "<Event><System><EventID>1</Evil></System></Event>",
            "<Event><EventData><Data Name='x'>&bogus;</Data></EventData></Event>",
            "<Other/>",
            "<Other></Other>",
            "",
            "<Event><System><Provider Name='a/></System></Event>",
        ] {
            assert!(parse_event(bad, |_| true).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn finds_event_starts_but_not_the_wrapper() {
        let frame = b"<?xml version='1.0'?><Events><Event xmlns='x'><System/></Event>";
        assert_eq!(event_starts(frame, TextEncoding::Utf8), vec![29]);
        assert!(is_filler("<?xml version='1.0'?>\r\n<Events xmlns='a'>"));
        assert!(is_filler("\n</Events>\n"));
        assert!(!is_filler("garbage"));
    }
}
