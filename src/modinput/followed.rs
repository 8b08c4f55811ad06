//! One file the follow loop holds open: who it is, how far it was delivered, and what the
//! loop is doing with it.

use std::fs::File;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::checkpoint::{FileState, Snapshot};
use super::discovery::{self, Candidate};
use super::fingerprint::{self, Fingerprint, Head, PREFIX_BYTES};
use super::log;
use super::source::Source;
use crate::ingest::Position;

/// How far a file has been read: the resume point and the id of the last record written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub position: Position,
    pub last_record_id: Option<String>,
}

impl Checkpoint {
    /// Nothing read yet. A plain file's position is a byte offset; an EVTX or gzip file's
    /// becomes a record count once its reader reports one.
    pub fn start() -> Checkpoint {
        Checkpoint {
            position: Position::Offset(0),
            last_record_id: None,
        }
    }
}

/// How long a file that could not be read waits, unchanged, before it is tried again.
pub const STALL_RETRY: Duration = Duration::from_secs(30);

/// What the loop does with a file next.
pub enum Phase {
    /// Open a reader at the checkpoint at the next poll (new, grown, or a transient failure
    /// such as running out of descriptors).
    Ready,
    /// A reader is open and more may follow at once.
    Reading(Box<Source>),
    /// Everything complete was read while the file had this length; nothing to do until
    /// it changes.
    Drained { len: u64 },
    /// Could not be read at this length (an error already logged, or not complete yet: an
    /// EVTX export still being copied); tried again when the length changes, or after
    /// [`STALL_RETRY`] (a permission fixed, a share back). Never taken for read: the
    /// checkpoint stays where it was.
    Stalled { len: u64, since: Instant },
}

pub struct Followed {
    pub path: PathBuf,
    pub file: File,
    pub fingerprint: Fingerprint,
    /// The file is gzip: its positions count records or decompressed bytes, never bytes
    /// of the file as stored.
    pub gzip: bool,
    /// Confirmed delivered by the last commit: what the checkpoint holds.
    pub delivered: Checkpoint,
    /// Read into the batch being built; equal to `delivered` between batches.
    pub read: Checkpoint,
    pub phase: Phase,
    /// An error opening or reading this file was logged; not repeated until a read succeeds.
    pub reported: bool,
    /// Seen by the latest discovery. A file that vanished from the pattern (rotated away,
    /// deleted) is still read to its end through the open handle, then dropped.
    pub present: bool,
}

impl Followed {
    /// The saved entry for this file at `checkpoint`.
    pub fn to_state(&self, checkpoint: &Checkpoint, now: u64) -> FileState {
        let mtime_ns = self
            .file
            .metadata()
            .map(|m| discovery::mtime_ns(&m))
            .unwrap_or(0);
        FileState {
            path: self.path.display().to_string(),
            fingerprint: self.fingerprint,
            position: checkpoint.position,
            last_record_id: checkpoint.last_record_id.clone(),
            drained: match self.phase {
                Phase::Drained { len } if self.is_drained() => Some(Snapshot { len, mtime_ns }),
                _ => None,
            },
            last_seen: now,
        }
    }

    /// Whether the file is read to its end and can be closed without losing anything.
    pub fn is_drained(&self) -> bool {
        match self.phase {
            // A file that cannot be looked at has nothing more to read either.
            Phase::Drained { len } => match self.file.metadata() {
                Ok(meta) => meta.len() == len,
                Err(_) => true,
            },
            _ => false,
        }
    }

    /// The file as discovery lists it now: follows a rename, notices truncation or rewrite
    /// (returning the former content's entry, kept for copies of it), and extends the head
    /// while the file is shorter than a full one.
    pub fn recheck(&mut self, candidate: &Candidate, now: u64) -> Option<FileState> {
        self.present = true;
        if self.path != candidate.path {
            log::info(&format!(
                "{} was renamed to {}; following it under the new name",
                self.path.display(),
                candidate.path.display()
            ));
            self.path = candidate.path.clone();
        }
        let prefix = match fingerprint::read_head(&self.file, PREFIX_BYTES) {
            Ok(prefix) => prefix,
            Err(e) => {
                log::warn(&format!("{}: {e}", self.path.display()));
                return None;
            }
        };
        if let Some(why) = self.changed_since_checked(candidate.size, &prefix) {
            return Some(self.restart(why, now));
        }
        let current = Head::of(&prefix);
        if current.len > self.fingerprint.head.len {
            self.fingerprint.head = current;
        }
        None
    }

    /// After a batch was read from the file: whether it still holds the content it was
    /// checked for before the batch (returning the former content's entry, as
    /// [`Followed::recheck`] does). A file truncated and refilled past the reader's offset
    /// while a batch was read hands the reader old records (its buffer) and then new ones at
    /// the old offsets; the positions reached mean nothing in either content. So the batch
    /// counts as read in neither: the former content's entry keeps the position where the
    /// batch began (a copy resumes there) and the file starts over; what the batch held is
    /// sent again, never lost.
    pub fn recheck_after_read(&mut self, now: u64) -> Option<FileState> {
        let size = self.file.metadata().map(|m| m.len());
        let prefix = fingerprint::read_head(&self.file, PREFIX_BYTES);
        let (size, prefix) = match (size, prefix) {
            (Ok(size), Ok(prefix)) => (size, prefix),
            (Err(e), _) | (_, Err(e)) => {
                log::warn(&format!("{}: {e}", self.path.display()));
                return None;
            }
        };
        let why = self.changed_since_checked(size, &prefix)?;
        Some(self.restart(&format!("{why} while a batch was read from it"), now))
    }

    /// Why the file no longer holds the content it is followed for, if it does not: shorter
    /// than the offset read to, or other first bytes. `size` and `prefix` are the file's
    /// length and first [`PREFIX_BYTES`] now.
    fn changed_since_checked(&self, size: u64, prefix: &[u8]) -> Option<&'static str> {
        let shrunk = match self.read.position {
            Position::Offset(offset) => !self.gzip && size < offset,
            Position::Record(_) => false,
        };
        if shrunk {
            return Some("file is shorter than the checkpoint offset (truncated)");
        }
        let head = &self.fingerprint.head;
        // A head taken while the file was empty (just truncated) is held by any content.
        let same = head.len == 0
            || if head.len <= PREFIX_BYTES {
                fingerprint::head_matches(prefix, head)
            } else {
                fingerprint::still_starts_with(&self.file, head).unwrap_or(true)
            };
        (!same).then_some("the first bytes changed (file rewritten)")
    }

    /// Starts the file over, with a fresh head of its new content; returns the entry of the
    /// content it held, which no file holds any more.
    fn restart(&mut self, why: &str, now: u64) -> FileState {
        log::warn(&format!(
            "{}: {why}; reading it again from the start",
            self.path.display()
        ));
        let mut former = self.to_state(&self.delivered, now);
        former.fingerprint.id = None;
        former.drained = None;
        if let Ok(prefix) = fingerprint::read_head(&self.file, PREFIX_BYTES) {
            self.fingerprint.head = Head::of(&prefix);
            self.gzip = fingerprint::is_gzip(&prefix);
        }
        self.delivered = Checkpoint::start();
        self.read = Checkpoint::start();
        self.phase = Phase::Ready;
        former
    }
}
