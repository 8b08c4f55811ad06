//! The state file as netdiscover_input wrote it before version 2: a position with both an
//! offset and a record count plus a flag saying which one counts, device and inode as two
//! numbers (0, 0 meaning none), and a length of 0 meaning "not read to its end". Read only,
//! and turned into today's [`FileState`] on load.

use serde::Deserialize;

use super::{FileState, Snapshot};
use crate::ingest::Position;
use crate::modinput::fingerprint::{FileId, Fingerprint, Head};

#[derive(Debug, Deserialize)]
pub(super) struct StateV1 {
    pub stanza: String,
    pub files: Vec<FileStateV1>,
}

#[derive(Debug, Deserialize)]
pub(super) struct FileStateV1 {
    path: String,
    dev: u64,
    ino: u64,
    head_len: u64,
    head_crc: u32,
    position: PositionV1,
    #[serde(default = "yes")]
    resumes_by_offset: bool,
    last_record_id: Option<String>,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    mtime_ns: u64,
    last_seen: u64,
}

#[derive(Debug, Deserialize)]
struct PositionV1 {
    offset: u64,
    records: u64,
}

fn yes() -> bool {
    true
}

impl From<FileStateV1> for FileState {
    fn from(old: FileStateV1) -> FileState {
        FileState {
            path: old.path,
            fingerprint: Fingerprint {
                id: ((old.dev, old.ino) != (0, 0)).then_some(FileId {
                    dev: old.dev,
                    ino: old.ino,
                }),
                head: Head {
                    len: old.head_len,
                    crc: old.head_crc,
                },
            },
            position: if old.resumes_by_offset {
                Position::Offset(old.position.offset)
            } else {
                Position::Record(old.position.records)
            },
            last_record_id: old.last_record_id,
            drained: (old.size > 0).then_some(Snapshot {
                len: old.size,
                mtime_ns: old.mtime_ns,
            }),
            last_seen: old.last_seen,
        }
    }
}
