//! Saved entries of the files that are not open: those loaded from the checkpoint and not
//! matched yet, those read to their end and closed, and those that left the pattern. They
//! answer two questions cheaply: "is this listed file unchanged since we closed it?"
//! (dormant, not even opened) and "which saved entry, if any, is this newly opened file?"

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use super::checkpoint::FileState;
use super::discovery::{self, Candidate};

/// A renamed copy is only recognised by its head CRC when the CRC covers at least this many
/// bytes; shorter heads collide too easily (Splunk's monitor has the same floor).
pub const MIN_HEAD_FOR_COPY_MATCH: u64 = 256;
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
    /// An entry has this file's inode but not its head (or claims more bytes than it has):
    /// the file was rewritten; read it from the start.
    Rewritten(FileState),
    /// Never seen.
    New,
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
    /// their end, same length and modification time as then. Dormant entries are marked
    /// seen (under their current name). `open` holds the identities of open files.
    pub fn active<'a>(
        &mut self,
        candidates: &'a [Candidate],
        open: &HashSet<(u64, u64)>,
        now: u64,
    ) -> Vec<&'a Candidate> {
        let index: HashMap<(u64, u64), usize> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| (e.dev, e.ino) != (0, 0))
            .map(|(i, e)| ((e.dev, e.ino), i))
            .collect();
        let mut active = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let id = (candidate.dev, candidate.ino);
            let dormant = candidate.size > 0
                && !open.contains(&id)
                && index
                    .get(&id)
                    .and_then(|&i| self.entries.get_mut(i))
                    .is_some_and(|e| {
                        let unchanged =
                            e.size == candidate.size && e.mtime_ns == candidate.mtime_ns;
                        if unchanged {
                            e.last_seen = now;
                            e.path = candidate.path.display().to_string();
                        }
                        unchanged
                    });
            if !dormant {
                active.push(candidate);
            }
        }
        active
    }

    /// Finds (and removes) the entry describing a file just opened: same device and inode
    /// with the same head; or — a copy made by rotation or a move across filesystems — the
    /// same head (≥ [`MIN_HEAD_FOR_COPY_MATCH`] bytes) on an entry whose inode is no longer
    /// listed (`present`). Without inode numbers (non-Unix): the same path or a long enough
    /// head.
    pub fn take_match(
        &mut self,
        path: &Path,
        file: &File,
        len: u64,
        (dev, ino): (u64, u64),
        present: &HashSet<(u64, u64)>,
    ) -> Match {
        // One read per distinct head length, however many entries are compared.
        let mut heads: HashMap<u64, Option<u32>> = HashMap::new();
        let mut head_matches = |e: &FileState| {
            e.head_len > 0
                && e.head_len <= len
                && *heads
                    .entry(e.head_len)
                    .or_insert_with(|| discovery::head_crc(file, e.head_len).ok().flatten())
                    == Some(e.head_crc)
        };
        let fits = |e: &FileState| !e.resumes_by_offset || e.position.offset <= len;
        if (dev, ino) != (0, 0) {
            if let Some(i) = self
                .entries
                .iter()
                .position(|e| (e.dev, e.ino) == (dev, ino))
            {
                let entry = self.entries.remove(i);
                return if head_matches(&entry) && fits(&entry) {
                    Match::Resume(entry)
                } else {
                    Match::Rewritten(entry)
                };
            }
        }
        let path_text = path.display().to_string();
        let found = self.entries.iter().position(|e| {
            let unix_copy = (dev, ino) != (0, 0)
                && e.head_len >= MIN_HEAD_FOR_COPY_MATCH
                && !present.contains(&(e.dev, e.ino));
            let no_inode = (dev, ino) == (0, 0)
                && (e.path == path_text || e.head_len >= MIN_HEAD_FOR_COPY_MATCH);
            (unix_copy || no_inode) && fits(e) && head_matches(e)
        });
        match found {
            Some(i) => Match::Resume(self.entries.remove(i)),
            None => Match::New,
        }
    }
}
