//! Saved entries of the files that are not open: those loaded from the checkpoint and not
//! matched yet, those read to their end and closed, those that left the pattern, and the
//! former content of files truncated or rewritten since (kept so a copy of it — the
//! `copytruncate` rotation's — is recognised). They answer two questions cheaply: "is this
//! listed file unchanged since we closed it?" (dormant, not even opened) and "which saved
//! entry, if any, is this newly opened file?"

use std::collections::{HashMap, HashSet};
use std::path::Path;

use super::checkpoint::FileState;
use super::discovery::Candidate;
use super::fingerprint::{FileId, HeadCheck};
use crate::ingest::Position;

/// Entries of files no longer seen are kept this long, so a file that comes back (an
/// unmounted share, say) is not read again from the start.
pub const RETENTION_SECS: u64 = 7 * 24 * 3600;
/// At most this many entries are kept per stanza (the most recently seen).
pub const MAX_ENTRIES: usize = 10_000;

/// What the saved entries say about a file just opened.
#[derive(Debug)]
pub enum Match {
    /// The file is known: resume from this entry.
    Resume(FileState),
    /// The file is a copy of the content this entry describes, which no listed file holds
    /// any more (rotation by copy, a move across filesystems, a rotated file compressed
    /// afterwards): resume there.
    Copy(FileState, Position),
    /// A listed file that is not open holds the same content: this one is a copy of it and
    /// is not read while that one is there.
    CopyOfListed(FileState),
    /// An entry had this file's inode but not its head (or claims more bytes than it has):
    /// the file was rewritten; read it from the start. The entry is kept as former content.
    Rewritten(FileState),
    /// Never seen.
    New,
}

/// The file just opened, as [`SavedFiles::take_match`] compares it.
pub struct Opened<'a> {
    pub path: &'a Path,
    pub id: Option<FileId>,
    pub len: u64,
    pub heads: HeadCheck<'a>,
}

impl Opened<'_> {
    /// Whether `entry`'s position lies within this file. A gzip file (its positions count
    /// records, or bytes of its decompressed text) is not compared with its stored length.
    fn holds(&self, entry: &FileState) -> bool {
        match entry.position {
            Position::Offset(offset) => self.heads.prefix().is_gzip() || offset <= self.len,
            Position::Record(_) => true,
        }
    }

    /// Where a copy of `entry`'s content resumes: its position, a byte offset clamped to
    /// the copy's length (a copy taken while the original was read further holds only what
    /// was already read).
    fn copy_position(&self, entry: &FileState) -> Position {
        match entry.position {
            Position::Offset(offset) if !self.heads.prefix().is_gzip() => {
                Position::Offset(offset.min(self.len))
            }
            other => other,
        }
    }
}

#[derive(Debug, Default)]
pub struct SavedFiles {
    entries: Vec<FileState>,
}

impl SavedFiles {
    pub fn new(entries: Vec<FileState>) -> SavedFiles {
        SavedFiles { entries }
    }

    pub fn entries(&self) -> &[FileState] {
        &self.entries
    }

    pub fn push(&mut self, entry: FileState) {
        self.entries.push(entry);
    }

    /// Forgets entries unseen for [`RETENTION_SECS`] and keeps at most [`MAX_ENTRIES`].
    pub fn prune(&mut self, now: u64) {
        self.entries
            .retain(|e| now.saturating_sub(e.last_seen) < RETENTION_SECS);
        if self.entries.len() > MAX_ENTRIES {
            self.entries.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
            self.entries.truncate(MAX_ENTRIES);
        }
    }

    /// The listed files that need attention: all but the dormant ones — closed, read to
    /// their end, same length and modification time as then. Every entry whose file is
    /// listed is marked seen (dormant ones under their current name). `open` holds the
    /// identities of open files.
    pub fn active<'a>(
        &mut self,
        candidates: &'a [Candidate],
        open: &HashSet<FileId>,
        now: u64,
    ) -> Vec<&'a Candidate> {
        let index: HashMap<FileId, usize> = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.fingerprint.id.map(|id| (id, i)))
            .collect();
        let mut active = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let entry = candidate
                .id
                .filter(|id| !open.contains(id))
                .and_then(|id| index.get(&id))
                .and_then(|&i| self.entries.get_mut(i));
            let dormant = match entry {
                Some(entry) => {
                    entry.last_seen = now;
                    let unchanged = candidate.size > 0
                        && entry.drained.is_some_and(|d| {
                            d.len == candidate.size && d.mtime_ns == candidate.mtime_ns
                        });
                    if unchanged {
                        entry.path = candidate.path.display().to_string();
                    }
                    unchanged
                }
                None => false,
            };
            if !dormant {
                active.push(candidate);
            }
        }
        active
    }

    /// The inodes the entries know.
    pub fn known_ids(&self) -> HashSet<FileId> {
        self.entries
            .iter()
            .filter_map(|e| e.fingerprint.id)
            .collect()
    }

    /// Finds (and removes) the entry describing a file just opened: same device and inode
    /// with the same head; or — a copy — a head long enough to tell copies apart. Without
    /// inode numbers (non-Unix): the same path and head, or a long enough head. `listed`
    /// holds the identities of the files discovery listed.
    pub fn take_match(&mut self, opened: &mut Opened<'_>, listed: &HashSet<FileId>) -> Match {
        if let Some(id) = opened.id {
            if let Some(i) = self
                .entries
                .iter()
                .position(|e| e.fingerprint.id == Some(id))
            {
                let entry = self.entries.remove(i);
                if opened.heads.starts_with(&entry.fingerprint.head) && opened.holds(&entry) {
                    return Match::Resume(entry);
                }
                // What it held is former content now, which a copy may still carry.
                let mut former = entry.clone();
                former.fingerprint.id = None;
                self.entries.push(former);
                return Match::Rewritten(entry);
            }
        }
        let path_text = opened.path.display().to_string();
        if opened.id.is_none() {
            if let Some(i) = self.entries.iter().position(|e| {
                e.path == path_text
                    && opened.heads.starts_with(&e.fingerprint.head)
                    && opened.holds(e)
            }) {
                return Match::Resume(self.entries.remove(i));
            }
        }
        let Some(i) = self
            .entries
            .iter()
            .position(|e| opened.heads.is_copy_of(&e.fingerprint.head))
        else {
            return Match::New;
        };
        let held_by_listed = self.entries[i]
            .fingerprint
            .id
            .is_some_and(|id| listed.contains(&id));
        if held_by_listed {
            return Match::CopyOfListed(self.entries[i].clone());
        }
        let entry = self.entries.remove(i);
        let position = opened.copy_position(&entry);
        Match::Copy(entry, position)
    }
}
