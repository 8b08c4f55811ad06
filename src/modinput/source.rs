//! The reader abstraction the follow loop drives: open a file at a saved [`Position`], pull
//! complete records, learn the position just after the last one. It mirrors the ingest API
//! contract (resume by byte offset for line/element formats, by record count for EVTX and
//! gzip; an incomplete record at EOF ends the read instead of being malformed), so the tailing
//! and checkpoint machinery does not care which reader sits underneath.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cim;

/// Where reading a file resumes: the byte offset just after the last complete record and the
/// number of records (of any kind) consumed before it. Readers that can seek use `offset`;
/// readers of compressed or binary files skip `records` records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub offset: u64,
    pub records: u64,
}

/// One process event, already in CIM field names.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRecord {
    /// CIM field name → value, empty values left out.
    pub fields: Vec<(String, String)>,
    /// Event time as epoch seconds, when the record has one.
    pub time: Option<f64>,
    /// A stable identifier of the record inside its file (record number or byte offset).
    pub record_id: String,
}

/// What a reader yields for one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Process(ProcessRecord),
    /// A well-formed record that is not a process launch (another event id).
    Skipped {
        event_id: String,
    },
    /// A record that could not be read; `position` names where it is.
    Malformed {
        position: String,
        message: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot tell the format from the content; set format = one of {known}")]
    UnknownFormat { path: String, known: String },
}

/// A streaming reader over one file.
pub trait RecordReader {
    /// The next complete record, or `None` when no complete record follows yet (end of file
    /// or an incomplete trailing record). After `None` the caller reopens at [`Self::position`]
    /// once the file has grown.
    fn next_item(&mut self) -> Result<Option<Item>, SourceError>;
    /// The position just after the last item returned.
    fn position(&self) -> Position;
    /// Whether `position().offset` is a byte offset into the file (so a file shorter than it
    /// has been truncated). False for readers that resume by record count.
    fn resumes_by_offset(&self) -> bool;
}

/// A format the input can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line whose keys are CIM Endpoint.Processes field names.
    CimJson,
}

impl Format {
    pub const ALL: &'static [Format] = &[Format::CimJson];

    pub fn name(self) -> &'static str {
        match self {
            Format::CimJson => "cim_json",
        }
    }
}

/// The `format` parameter: detect from content, or one named format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatChoice {
    Auto,
    Named(Format),
}

impl FormatChoice {
    pub fn parse(name: &str) -> Option<FormatChoice> {
        if name.eq_ignore_ascii_case("auto") {
            return Some(FormatChoice::Auto);
        }
        Format::ALL
            .iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
            .map(|f| FormatChoice::Named(*f))
    }

    /// The named formats, for error messages and the spec file.
    pub fn names() -> Vec<&'static str> {
        Format::ALL.iter().map(|f| f.name()).collect()
    }
}

/// Opens `file` (already open, so a rename between discovery and open cannot swap it) at
/// `at`. Returns `Ok(None)` when auto-detection needs more bytes than the file has yet.
pub fn open(
    file: &File,
    path: &Path,
    choice: FormatChoice,
    at: Position,
) -> Result<Option<Box<dyn RecordReader>>, SourceError> {
    let io = |source| SourceError::Io {
        path: path.display().to_string(),
        source,
    };
    let file = file.try_clone().map_err(io)?;
    let format = match choice {
        FormatChoice::Named(format) => format,
        FormatChoice::Auto => match detect(&file).map_err(io)? {
            Detected::Format(format) => format,
            Detected::NeedMore => return Ok(None),
            Detected::Unknown => {
                return Err(SourceError::UnknownFormat {
                    path: path.display().to_string(),
                    known: FormatChoice::names().join(", "),
                })
            }
        },
    };
    match format {
        Format::CimJson => Ok(Some(Box::new(
            CimJsonReader::open(file, path, at).map_err(io)?,
        ))),
    }
}

enum Detected {
    Format(Format),
    NeedMore,
    Unknown,
}

fn detect(file: &File) -> std::io::Result<Detected> {
    let mut head = [0u8; 512];
    let mut reader = file;
    (&mut reader).seek(SeekFrom::Start(0))?;
    let n = read_up_to(&mut reader, &mut head)?;
    let text = head[..n]
        .strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(&head[..n]);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(Detected::NeedMore),
        Some(b'{') => Ok(Detected::Format(Format::CimJson)),
        Some(_) => Ok(Detected::Unknown),
    }
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Parses a `_time` value: epoch seconds, RFC 3339, or `YYYY-MM-DD HH:MM:SS[.fff]` in UTC.
pub fn parse_time(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return seconds.is_finite().then_some(seconds);
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_micros() as f64 / 1e6);
    }
    for layout in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(text, layout) {
            return Some(t.and_utc().timestamp_micros() as f64 / 1e6);
        }
    }
    None
}

/// NDJSON whose objects carry CIM field names (`_time` for the time). Lines must end with a
/// newline to count as complete; anything after the last newline is left for later.
struct CimJsonReader {
    lines: BufReader<File>,
    display_path: String,
    position: Position,
    line: Vec<u8>,
}

impl CimJsonReader {
    fn open(mut file: File, path: &Path, at: Position) -> std::io::Result<CimJsonReader> {
        file.seek(SeekFrom::Start(at.offset))?;
        Ok(CimJsonReader {
            lines: BufReader::with_capacity(64 * 1024, file),
            display_path: path.display().to_string(),
            position: at,
            line: Vec::new(),
        })
    }

    fn parse_line(&self, start: u64, line: &[u8]) -> Item {
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        let malformed = |message: String| Item::Malformed {
            position: format!("byte offset {start}"),
            message,
        };
        let value: serde_json::Value = match serde_json::from_slice(line) {
            Ok(value) => value,
            Err(e) => return malformed(format!("not JSON: {e}")),
        };
        let serde_json::Value::Object(object) = value else {
            return malformed("not a JSON object".into());
        };
        let mut fields = Vec::new();
        let mut time = None;
        for (key, value) in &object {
            let text = match value {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                _ => continue,
            };
            if key == "_time" {
                time = parse_time(&text);
            } else if cim::is_process_field(key) && !text.is_empty() {
                fields.push((key.clone(), text));
            }
        }
        Item::Process(ProcessRecord {
            fields,
            time,
            record_id: start.to_string(),
        })
    }
}

impl RecordReader for CimJsonReader {
    fn next_item(&mut self) -> Result<Option<Item>, SourceError> {
        loop {
            self.line.clear();
            let start = self.position.offset;
            let n = self
                .lines
                .read_until(b'\n', &mut self.line)
                .map_err(|source| SourceError::Io {
                    path: self.display_path.clone(),
                    source,
                })?;
            if n == 0 || self.line.last() != Some(&b'\n') {
                return Ok(None);
            }
            self.position.offset += n as u64;
            let body = self.line.trim_ascii();
            if body.is_empty() || body == b"\xEF\xBB\xBF" {
                continue;
            }
            self.position.records += 1;
            let body = body.to_vec();
            return Ok(Some(self.parse_line(start, &body)));
        }
    }

    fn position(&self) -> Position {
        self.position
    }

    fn resumes_by_offset(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn partial_trailing_line_is_left_for_later() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        let mut f = File::create(&path).unwrap();
        f.write_all(b"{\"process_name\":\"a.exe\",\"_time\":\"2024-10-23 18:30:08.5\"}\nnot json\n{\"process_name\":\"b")
            .unwrap();
        let file = File::open(&path).unwrap();
        let mut r = open(&file, &path, FormatChoice::Auto, Position::default())
            .unwrap()
            .unwrap();
        let Some(Item::Process(first)) = r.next_item().unwrap() else {
            panic!("expected a process record")
        };
        assert_eq!(first.fields, vec![("process_name".into(), "a.exe".into())]);
        assert_eq!(first.time, Some(1729708208.5));
        assert!(matches!(
            r.next_item().unwrap(),
            Some(Item::Malformed { ref position, .. }) if position == "byte offset 57"
        ));
        assert_eq!(r.next_item().unwrap(), None);
        assert_eq!(
            r.position(),
            Position {
                offset: 66,
                records: 2
            }
        );
    }
}
