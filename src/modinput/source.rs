//! The bridge between the follow loop and the ingest readers: open a followed file at its
//! saved [`Position`] in follow mode, turn ingest items into what the loop needs, report the
//! resume point. Plain text formats resume by byte offset; EVTX and gzip by record count.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::ingest::{self, CimField, FileReader, IngestError, OpenOptions, Position};

/// One process event, in CIM field names.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRecord {
    /// CIM field name → value, empty values and `_time` left out.
    pub fields: Vec<(&'static str, String)>,
    /// Event time as epoch seconds, when the record has one.
    pub time: Option<f64>,
    /// The record's id in its source (EventRecordID, CrowdStrike id) or, failing that, its
    /// position in the file.
    pub record_id: String,
    /// The row as the ingest reader produced it, for the detection rules.
    pub row: ingest::ProcessRow,
}

/// What the follow loop gets for one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Process(Box<ProcessRecord>),
    /// A well-formed record that is not a process launch (another event id).
    Skipped {
        event_id: String,
    },
    /// A record that could not be read, and where it is. `ends_file` when the reader cannot
    /// go past it (corrupt compressed data).
    Malformed {
        position: Position,
        message: String,
        ends_file: bool,
    },
}

/// The `format` parameter: detect from content, or one named ingest format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatChoice {
    Auto,
    Named(ingest::Format),
}

impl FormatChoice {
    pub fn parse(name: &str) -> Option<FormatChoice> {
        if name.eq_ignore_ascii_case("auto") {
            return Some(FormatChoice::Auto);
        }
        ingest::Format::from_name(name).map(FormatChoice::Named)
    }

    /// The named formats, for error messages and the spec file.
    pub fn names() -> Vec<&'static str> {
        ingest::Format::ALL.iter().map(|f| f.name()).collect()
    }
}

impl std::fmt::Display for FormatChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatChoice::Auto => f.write_str("auto"),
            FormatChoice::Named(format) => f.write_str(format.name()),
        }
    }
}

/// An ingest reader in follow mode over one followed file.
pub struct Source {
    reader: FileReader,
}

/// Opens the file held by `file` at `at`. On Linux the reader opens `/proc/self/fd/<fd>`,
/// which is the very file we hold even if its name was just rotated onto another file;
/// elsewhere it opens `path`, and the caller re-checks identity (see `follow`).
pub fn open(
    file: &File,
    path: &Path,
    choice: FormatChoice,
    at: Position,
) -> Result<Source, IngestError> {
    let opened_as = handle_path(file).unwrap_or_else(|| path.to_path_buf());
    let options = OpenOptions {
        format: match choice {
            FormatChoice::Auto => None,
            FormatChoice::Named(format) => Some(format),
        },
        resume: Some(at),
        follow: true,
    };
    let reader = FileReader::open(&opened_as, &options)?;
    Ok(Source { reader })
}

#[cfg(target_os = "linux")]
fn handle_path(file: &File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    let path = PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()));
    path.exists().then_some(path)
}

#[cfg(not(target_os = "linux"))]
fn handle_path(_file: &File) -> Option<PathBuf> {
    None
}

impl Source {
    /// The next complete record, or `None` when none follows yet (end of file or an
    /// incomplete trailing record, which stays unread until it is complete).
    pub fn next_item(&mut self) -> Option<Item> {
        let item = self.reader.next()?;
        Some(match item {
            ingest::Item::Process(event) => {
                let time = event.row.epoch_seconds();
                let fields = event
                    .row
                    .fields()
                    .filter(|(f, v)| *f != CimField::Time && !v.is_empty())
                    .map(|(f, v)| (f.name(), v.to_string()))
                    .collect();
                let record_id = if event.record_id.is_empty() {
                    event.position.to_string()
                } else {
                    event.record_id
                };
                Item::Process(Box::new(ProcessRecord {
                    fields,
                    time,
                    record_id,
                    row: event.row,
                }))
            }
            ingest::Item::Skipped(skipped) => Item::Skipped {
                event_id: skipped.event_id,
            },
            ingest::Item::Malformed(bad) => Item::Malformed {
                position: bad.position,
                message: bad.message,
                ends_file: false,
            },
            ingest::Item::Unreadable(bad) => Item::Malformed {
                position: bad.position,
                message: bad.message,
                ends_file: true,
            },
        })
    }

    /// The position just after the last record returned.
    pub fn position(&self) -> Position {
        self.reader.resume_point()
    }
}

/// An ingest error message naming `shown_as` where the reader saw `opened_as`.
pub fn describe(error: &IngestError, opened_as: &Path, shown_as: &str) -> String {
    error
        .to_string()
        .replace(&opened_as.display().to_string(), shown_as)
}

/// The path a reader for `file` would be opened with (for [`describe`] before a reader exists).
pub fn opened_as(file: &File, path: &Path) -> PathBuf {
    handle_path(file).unwrap_or_else(|| path.to_path_buf())
}
