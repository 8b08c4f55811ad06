//! A listed file the loop does not hold yet: open it, know it (by inode, by its first bytes,
//! as a copy of content already read), and decide where reading it starts — or that it is a
//! copy of a file still being followed and is not read while that one is there.

use std::collections::HashSet;
use std::fs::File;
use std::path::PathBuf;

use super::discovery::Candidate;
use super::fingerprint::{FileId, Fingerprint, Head, HeadCheck, Prefix};
use super::followed::{Checkpoint, Followed, Phase};
use super::limits::out_of_descriptors;
use super::log;
use super::saved::{Match, Opened, SavedFiles};

/// What became of a listed file.
pub enum Adopted {
    Follow(Box<Followed>),
    /// Not now: empty, unreadable, already followed, a copy of a followed file, or a gzip
    /// file too short yet to tell what it holds. Looked at again at the next poll.
    Later,
    /// Could not be opened for want of file descriptors: the caller stops opening files.
    NoDescriptors,
}

/// What adopting a file consults.
pub struct Context<'a> {
    pub followed: &'a [Followed],
    pub saved: &'a mut SavedFiles,
    /// Identities of the files discovery listed.
    pub listed: &'a HashSet<FileId>,
    /// Files already reported (copies, files that cannot be opened), so each is logged once.
    pub reported: &'a mut HashSet<PathBuf>,
}

pub fn adopt(candidate: &Candidate, context: Context<'_>) -> Adopted {
    let path = &candidate.path;
    let (file, meta, prefix) = match open_listed(candidate, context.reported) {
        Ok(Some(opened)) => opened,
        Ok(None) => return Adopted::Later,
        Err(NoDescriptors) => return Adopted::NoDescriptors,
    };
    let id = FileId::of(&meta);
    // The path may have been renamed onto a file already followed since it was listed.
    if id.is_some() && context.followed.iter().any(|f| f.fingerprint.id == id) {
        return Adopted::Later;
    }
    let mut heads = HeadCheck::new(&file, &prefix);
    if let Some(original) = copy_of_followed(&mut heads, context.followed) {
        report_copy(context.reported, candidate, &original.path);
        return Adopted::Later;
    }
    let mut opened = Opened {
        path,
        id,
        len: meta.len(),
        heads,
    };
    let checkpoint = match context.saved.take_match(&mut opened, context.listed) {
        Match::CopyOfListed(entry) => {
            report_copy(context.reported, candidate, &PathBuf::from(entry.path));
            return Adopted::Later;
        }
        found => checkpoint_for(candidate, found),
    };
    let reported = context.reported.contains(path);
    Adopted::Follow(Box::new(Followed {
        path: path.clone(),
        file,
        fingerprint: Fingerprint {
            id,
            head: Head::of(prefix.raw()),
        },
        gzip: prefix.is_gzip(),
        delivered: checkpoint.clone(),
        read: checkpoint,
        phase: Phase::Ready,
        reported,
        present: true,
    }))
}

/// Out of file descriptors: the caller stops opening files this poll.
struct NoDescriptors;

/// Opens a listed file and reads its first bytes; `Ok(None)` when it cannot be known yet
/// (cannot be opened or read — reported once —, empty, or gzip too short to tell).
fn open_listed(
    candidate: &Candidate,
    reported: &mut HashSet<PathBuf>,
) -> Result<Option<(File, std::fs::Metadata, Prefix)>, NoDescriptors> {
    let path = &candidate.path;
    let mut report = |what: &str, e: &std::io::Error| {
        if reported.insert(path.clone()) {
            log::warn(&format!(
                "{}: cannot {what}: {e}; trying again at every poll",
                path.display()
            ));
        }
    };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if out_of_descriptors(&e) => return Err(NoDescriptors),
        Err(e) => {
            report("open", &e);
            return Ok(None);
        }
    };
    let Ok(meta) = file.metadata() else {
        return Ok(None);
    };
    // An empty file has no identity yet; wait until something is written to it.
    if meta.len() == 0 {
        return Ok(None);
    }
    let prefix = match Prefix::read(&file) {
        Ok(prefix) => prefix,
        Err(e) if out_of_descriptors(&e) => return Err(NoDescriptors),
        Err(e) => {
            report("read", &e);
            return Ok(None);
        }
    };
    if prefix.too_short_to_tell() {
        return Ok(None);
    }
    Ok(Some((file, meta, prefix)))
}

/// Where reading starts for what the saved entries said, logged.
fn checkpoint_for(candidate: &Candidate, found: Match) -> Checkpoint {
    let path = candidate.path.display();
    match found {
        Match::Resume(entry) => {
            log::info(&format!(
                "{path}: resuming at {} (last record id {})",
                entry.position,
                entry.last_record_id.as_deref().unwrap_or("-")
            ));
            Checkpoint {
                position: entry.position,
                last_record_id: entry.last_record_id,
            }
        }
        Match::Copy(entry, position) => {
            log::info(&format!(
                "{path}: a copy of {} (same first {} bytes), which was read up to {}; \
                 resuming at {position}",
                entry.path, entry.fingerprint.head.len, entry.position
            ));
            Checkpoint {
                position,
                last_record_id: entry.last_record_id,
            }
        }
        Match::Rewritten(entry) => {
            log::warn(&format!(
                "{path}: same inode as the checkpointed {} but different content; reading it \
                 from the start",
                entry.path
            ));
            Checkpoint::start()
        }
        Match::New | Match::CopyOfListed(_) => {
            log::info(&format!("{path}: new file"));
            Checkpoint::start()
        }
    }
}

/// The followed file whose first bytes this file starts with (as stored, or decompressed).
fn copy_of_followed<'a>(
    heads: &mut HeadCheck<'_>,
    followed: &'a [Followed],
) -> Option<&'a Followed> {
    followed
        .iter()
        .find(|f| heads.is_copy_of(&f.fingerprint.head))
}

fn report_copy(reported: &mut HashSet<PathBuf>, candidate: &Candidate, original: &std::path::Path) {
    if reported.insert(candidate.path.clone()) {
        log::info(&format!(
            "{}: same first bytes as {}, which is being followed: a copy of it, not read \
             while that file is there (a rotated copy resumes where it stands once it is \
             truncated or removed)",
            candidate.path.display(),
            original.display()
        ));
    }
}
