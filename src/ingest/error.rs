//! Errors that stop a file from being read at all. Problems with single records are not
//! errors: readers yield them as [`Item::Malformed`](super::Item::Malformed) and go on.

use std::path::PathBuf;

use super::Position;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("{path}: cannot open: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: read error: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot tell the format from its content ({reason}); pass --format")]
    UnknownFormat { path: PathBuf, reason: String },
    #[error("{path}: not a valid EVTX file: {message}")]
    Evtx { path: PathBuf, message: String },
    #[error("{path}: CSV header has no CIM process column (expected e.g. process, process_name)")]
    CsvHeader { path: PathBuf },
    /// Follow mode: the file does not hold enough yet (an EVTX export still being copied, a
    /// gzip stream still being written, fewer records than the resume point). Not a fault:
    /// try again once the file has grown.
    #[error("{path}: not complete yet: {reason}")]
    Incomplete { path: PathBuf, reason: String },
    #[error("{path}: cannot resume at {position}: {reason}")]
    Resume {
        path: PathBuf,
        position: Position,
        reason: String,
    },
}
