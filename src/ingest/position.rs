//! Where a record sits in its file, and where a reader can resume.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A place in an input file. Plain text files (XML, NDJSON, CSV) are addressed by byte
/// offset; EVTX and gzip-compressed files, where a byte offset cannot be seeked to, by
/// record number. Serialised as `{"offset": n}` or `{"record": n}` (the modular input's
/// checkpoint).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Position {
    /// Byte offset in the file as stored on disk. As a resume point for a gzip file: a byte
    /// offset of its decompressed text, which the reader turns into a record count (a plain
    /// file read in part, then compressed by rotation, resumes where it was).
    Offset(u64),
    /// For an item: its 1-based record number in the file. As a resume point: the number of
    /// records already consumed (the next record read is number `n + 1`).
    Record(u64),
}

impl Position {
    /// The start of a file, in the addressing its format uses.
    pub fn start(by_record: bool) -> Position {
        if by_record {
            Position::Record(0)
        } else {
            Position::Offset(0)
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::Offset(o) => write!(f, "byte offset {o}"),
            Position::Record(n) => write!(f, "record {n}"),
        }
    }
}
