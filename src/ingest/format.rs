//! The input formats and their detection from content (never from the file name alone,
//! since exports are routinely renamed).

use std::fmt;

/// An input format. Gzip compression is orthogonal: any text format may be `.gz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// XmlWinEventLog: `<Event>` elements, one after another (optionally wrapped in
    /// `<Events>`), UTF-8 or UTF-16 with a byte-order mark.
    Xml,
    /// Windows EVTX binary log.
    Evtx,
    /// Windows events as JSON: publisher exports, one
    /// `{"Event":{"System":...,"EventData":{"Data":[{"@Name":..,"#text":..}]}}}` per line, or
    /// `evtx_dump -o json` output, pretty-printed objects one after another with
    /// `#attributes` and `EventData` as a name → value object.
    PublisherJson,
    /// CrowdStrike Falcon (FDR / Event Streams) NDJSON; `ProcessRollup2` events are read.
    CrowdStrike,
    /// CSV whose header names CIM Endpoint.Processes fields.
    Csv,
}

impl Format {
    pub const ALL: [Format; 5] = [
        Format::Xml,
        Format::Evtx,
        Format::PublisherJson,
        Format::CrowdStrike,
        Format::Csv,
    ];

    /// The name `--format` and the modular input's `format` parameter take.
    pub const fn name(self) -> &'static str {
        match self {
            Format::Xml => "xml",
            Format::Evtx => "evtx",
            Format::PublisherJson => "json",
            Format::CrowdStrike => "crowdstrike",
            Format::Csv => "csv",
        }
    }

    /// The format named `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// One JSON object per line (publisher JSON, CrowdStrike).
    pub(crate) const fn is_json_lines(self) -> bool {
        matches!(self, Format::PublisherJson | Format::CrowdStrike)
    }

    /// The names of every format, comma separated (for error messages and help).
    pub fn names() -> String {
        Format::ALL.map(Format::name).join(", ")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Character encoding of a text file, from its byte-order mark (UTF-8 when there is none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

impl TextEncoding {
    /// The encoding a file starting with `head` uses and the length of its byte-order mark.
    pub(crate) fn sniff(head: &[u8]) -> (TextEncoding, usize) {
        match head {
            [0xEF, 0xBB, 0xBF, ..] => (TextEncoding::Utf8, 3),
            [0xFF, 0xFE, ..] => (TextEncoding::Utf16Le, 2),
            [0xFE, 0xFF, ..] => (TextEncoding::Utf16Be, 2),
            // UTF-16 without a mark still betrays itself: `<` followed or preceded by NUL.
            [b'<', 0, ..] => (TextEncoding::Utf16Le, 0),
            [0, b'<', ..] => (TextEncoding::Utf16Be, 0),
            _ => (TextEncoding::Utf8, 0),
        }
    }

    /// Decodes `bytes` to UTF-8; invalid sequences become U+FFFD (the record is still read).
    pub(crate) fn decode<'a>(self, bytes: &'a [u8]) -> std::borrow::Cow<'a, str> {
        match self {
            // The strict check is much faster than the lossy one on valid text (nearly all).
            TextEncoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(text) => text.into(),
                Err(_) => String::from_utf8_lossy(bytes),
            },
            TextEncoding::Utf16Le | TextEncoding::Utf16Be => {
                let units = bytes.chunks_exact(2).map(|pair| {
                    if self == TextEncoding::Utf16Le {
                        u16::from_le_bytes([pair[0], pair[1]])
                    } else {
                        u16::from_be_bytes([pair[0], pair[1]])
                    }
                });
                char::decode_utf16(units)
                    .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect::<String>()
                    .into()
            }
        }
    }

    /// `text` encoded the way a file in this encoding stores it (for finding delimiters in
    /// the raw bytes, so byte offsets stay those of the file).
    pub(crate) fn encode(self, text: &str) -> Vec<u8> {
        match self {
            TextEncoding::Utf8 => text.as_bytes().to_vec(),
            TextEncoding::Utf16Le => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
            TextEncoding::Utf16Be => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        }
    }

    /// Bytes per code unit: delimiters found at an offset not a multiple of this are
    /// false hits straddling two characters.
    pub(crate) fn unit(self) -> usize {
        match self {
            TextEncoding::Utf8 => 1,
            _ => 2,
        }
    }
}

pub(crate) const EVTX_MAGIC: &[u8] = b"ElfFile\0";
pub(crate) const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];

/// Tells the format of a (decompressed) file from its first bytes, or says why it cannot.
pub(crate) fn detect(head: &[u8]) -> Result<Format, String> {
    if head.starts_with(EVTX_MAGIC) {
        return Ok(Format::Evtx);
    }
    let (encoding, bom) = TextEncoding::sniff(head);
    let text = encoding.decode(&head[bom.min(head.len())..]);
    let text = text.trim_start();
    let first = text.chars().next();
    if encoding != TextEncoding::Utf8 && first != Some('<') {
        return Err("UTF-16 text that is not XML (only XML may be UTF-16)".into());
    }
    match first {
        None => Err("the file is empty".into()),
        Some('<') => Ok(Format::Xml),
        Some('{') => detect_json(text),
        Some('[') => {
            Err("a JSON array; newline-delimited JSON (one object per line) is expected".into())
        }
        Some(_) => {
            let header = text.lines().next().unwrap_or("");
            let is_cim_csv = header.contains(',')
                && header
                    .split(',')
                    .map(|c| c.trim().trim_matches('"'))
                    .any(super::csv::is_process_column);
            if is_cim_csv {
                Ok(Format::Csv)
            } else {
                Err("neither XML, EVTX, JSON nor a CSV header naming CIM process fields".into())
            }
        }
    }
}

/// Whether JSON text is pretty-printed (its first line opens an object and holds nothing
/// else), so records are framed by their braces rather than by lines.
pub(crate) fn json_is_pretty(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(
        head.strip_prefix(b"\xEF\xBB\xBF".as_slice())
            .unwrap_or(head),
    );
    text.trim_start()
        .lines()
        .next()
        .is_some_and(|l| l.trim() == "{")
}

fn detect_json(text: &str) -> Result<Format, String> {
    // Look at the first object only; the head may cut a long line, so test for keys
    // rather than parse. A pretty-printed object spans lines: look at the whole head.
    let first_line = text.lines().next().unwrap_or(text);
    let first = if first_line.trim() == "{" {
        text
    } else {
        first_line
    };
    if first.contains("\"event_simpleName\"") {
        Ok(Format::CrowdStrike)
    } else if first.starts_with("{\"Event\"")
        || first.contains("\"EventData\"")
        || first.contains("\"System\"")
    {
        Ok(Format::PublisherJson)
    } else {
        Err("JSON, but neither a publisher export ({\"Event\":...}) nor CrowdStrike (event_simpleName)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format_from_content() {
        assert_eq!(detect(b"ElfFile\0rest"), Ok(Format::Evtx));
        assert_eq!(detect(b"\xEF\xBB\xBF<Event xmlns='x'>"), Ok(Format::Xml));
        assert_eq!(detect(b"  <?xml version='1.0'?><Events>"), Ok(Format::Xml));
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(TextEncoding::Utf16Le.encode("<Event>"))
            .collect();
        assert_eq!(detect(&utf16), Ok(Format::Xml));
        assert_eq!(
            detect(b"\xEF\xBB\xBF{\"Event\":{\"System\":{}}}"),
            Ok(Format::PublisherJson)
        );
        assert_eq!(
            detect(b"{\"aid\":\"1\",\"event_simpleName\":\"ProcessRollup2\"}"),
            Ok(Format::CrowdStrike)
        );
        assert_eq!(
            detect(b"_time,dest,process_name,process\n"),
            Ok(Format::Csv)
        );
        assert_eq!(
            detect(b"Processes.process_name,Processes.process\n"),
            Ok(Format::Csv)
        );
        assert!(detect(b"").is_err());
        assert!(detect(b"[{}]").is_err());
        assert!(detect(b"a,b,c\n1,2,3\n").is_err());
        assert!(detect(b"{\"foo\":1}").is_err());
        let pretty = b"{\n  \"Event\": {\n    \"System\": {\n";
        assert_eq!(detect(pretty), Ok(Format::PublisherJson));
        assert!(json_is_pretty(pretty));
        assert!(!json_is_pretty(b"{\"Event\":{}}\n"));
        let utf16_json: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(TextEncoding::Utf16Le.encode("{\"Event\":{}}"))
            .collect();
        assert!(detect(&utf16_json).is_err());
    }

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("XML"), Some(Format::Xml));
        assert_eq!(Format::from_name("yaml"), None);
    }
}
