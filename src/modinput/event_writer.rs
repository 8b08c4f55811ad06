//! The XML event stream splunkd reads from stdout in `streaming_mode = xml`.
//!
//! Each `<event>` carries one whole record (no `unbroken` attribute, so splunkd does no line
//! breaking), its `<time>`, `<host>` (the endpoint), `<source>` (the file), `<sourcetype>`,
//! `<index>` when configured, and `<data>`: a JSON object of CIM field names. Events are
//! written into a buffer and reach stdout only at [`EventWriter::flush`], so the caller knows
//! exactly which events were delivered before it moves a checkpoint.

use std::io::{self, Write};

use super::xml_text::escape_text;

/// One event as splunkd should index it.
#[derive(Debug, Clone, Copy)]
pub struct OutEvent<'a> {
    pub time: Option<f64>,
    pub host: Option<&'a str>,
    pub source: &'a str,
    pub sourcetype: &'a str,
    pub index: Option<&'a str>,
    /// The event body, a JSON object.
    pub data: &'a str,
}

pub struct EventWriter<W: Write> {
    out: W,
    buffer: String,
    stream_open: bool,
}

impl<W: Write> EventWriter<W> {
    pub fn new(out: W) -> Self {
        EventWriter {
            out,
            buffer: String::with_capacity(64 * 1024),
            stream_open: false,
        }
    }

    /// Adds one event to the pending batch.
    pub fn push(&mut self, event: &OutEvent<'_>) {
        if !self.stream_open {
            self.buffer.push_str("<stream>\n");
            self.stream_open = true;
        }
        let b = &mut self.buffer;
        b.push_str("<event>");
        if let Some(time) = event.time {
            // Splunk takes at most millisecond precision here.
            b.push_str(&format!("<time>{time:.3}</time>"));
        }
        if let Some(host) = event.host.filter(|h| !h.is_empty()) {
            b.push_str("<host>");
            escape_text(host, b);
            b.push_str("</host>");
        }
        b.push_str("<source>");
        escape_text(event.source, b);
        b.push_str("</source><sourcetype>");
        escape_text(event.sourcetype, b);
        b.push_str("</sourcetype>");
        if let Some(index) = event.index.filter(|i| !i.is_empty()) {
            b.push_str("<index>");
            escape_text(index, b);
            b.push_str("</index>");
        }
        b.push_str("<data>");
        escape_text(event.data, b);
        b.push_str("</data></event>\n");
    }

    /// Writes the pending batch to the output and flushes it. An error here means the batch
    /// may not have been delivered: the caller must not checkpoint past it.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buffer.is_empty() {
            self.out.write_all(self.buffer.as_bytes())?;
            self.buffer.clear();
        }
        self.out.flush()
    }

    /// Flushes and closes the stream with `</stream>` (only if it was opened).
    pub fn finish(&mut self) -> io::Result<()> {
        if self.stream_open {
            self.buffer.push_str("</stream>\n");
            self.stream_open = false;
        }
        self.flush()
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Builds an event's JSON body from `(field, values)` pairs: one value → a string, several →
/// an array (Splunk's KV_MODE=json turns arrays into multivalue fields). The result is UTF-8
/// JSON with every control character escaped by serde_json; the two noncharacters XML forbids
/// (U+FFFE, U+FFFF) are escaped too so the data survives the XML layer unchanged.
pub fn json_body<'a>(fields: impl IntoIterator<Item = (&'a str, &'a [String])>) -> String {
    let mut object = serde_json::Map::new();
    for (name, values) in fields {
        let value = match values {
            [] => continue,
            [one] => serde_json::Value::String(one.clone()),
            many => serde_json::Value::Array(
                many.iter()
                    .map(|v| serde_json::Value::String(v.clone()))
                    .collect(),
            ),
        };
        object.insert(name.to_string(), value);
    }
    let json = serde_json::Value::Object(object).to_string();
    if json.contains(['\u{FFFE}', '\u{FFFF}']) {
        json.replace('\u{FFFE}', "\\ufffe")
            .replace('\u{FFFF}', "\\uffff")
    } else {
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_text_gives_well_formed_xml_and_round_trips() {
        let nasty = "cmd /c \"echo ]]> <x> & \u{0}\u{7}\u{1b}\u{FFFE}\u{FFFD}\"";
        let values = vec![nasty.to_string()];
        let data = json_body([("process", values.as_slice())]);
        let mut w = EventWriter::new(Vec::new());
        w.push(&OutEvent {
            time: Some(1.5),
            host: Some("h<1>"),
            source: "/x/\u{1}a]]>.xml",
            sourcetype: "netdiscover:process",
            index: Some("main"),
            data: &data,
        });
        w.finish().unwrap();
        let xml = String::from_utf8(w.into_inner()).unwrap();
        assert!(!xml.contains("]]>"));
        assert!(xml.starts_with("<stream>\n<event><time>1.500</time><host>h&lt;1&gt;</host>"));
        // Parse it back with a real XML parser and recover the JSON.
        let mut reader = quick_xml::Reader::from_str(&xml);
        let mut in_data = false;
        let mut recovered = String::new();
        loop {
            match reader.read_event().unwrap() {
                quick_xml::events::Event::Start(s) if s.name().as_ref() == b"data" => {
                    in_data = true
                }
                quick_xml::events::Event::End(e) if e.name().as_ref() == b"data" => in_data = false,
                quick_xml::events::Event::Text(t) if in_data => {
                    recovered.push_str(&t.decode().unwrap())
                }
                quick_xml::events::Event::GeneralRef(r) if in_data => recovered
                    .push_str(quick_xml::escape::resolve_xml_entity(&r.decode().unwrap()).unwrap()),
                quick_xml::events::Event::Eof => break,
                _ => {}
            }
        }
        let parsed: serde_json::Value = serde_json::from_str(&recovered).unwrap();
        assert_eq!(parsed["process"], nasty);
    }
}
