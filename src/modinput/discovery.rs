//! Finding the files a stanza names (a file, a directory, or a glob) and filtering them by
//! the include/exclude patterns. Which file is which is [`super::fingerprint`]'s job.

use std::collections::HashSet;
use std::fs::Metadata;
use std::path::{Path, PathBuf};

use super::fingerprint::FileId;
use super::params::{is_glob, Params};

/// A file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub id: Option<FileId>,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch (0 if unknown).
    pub mtime_ns: u64,
}

/// Modification time in nanoseconds since the epoch, 0 when the platform has none.
pub fn mtime_ns(meta: &Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Lists the regular files the parameters select, sorted by path, each once. Problems (an
/// unreadable directory, a path that does not exist yet) are returned as messages to log;
/// they never stop the input, which keeps looking at every poll.
pub fn discover(params: &Params) -> (Vec<Candidate>, Vec<String>) {
    let mut found = Vec::new();
    let mut problems = Vec::new();
    let mut seen_dirs = HashSet::new();
    if is_glob(&params.path) {
        match glob::glob(&params.path) {
            Ok(paths) => {
                for entry in paths {
                    match entry {
                        Ok(path) => visit(
                            &path,
                            params,
                            true,
                            &mut seen_dirs,
                            &mut found,
                            &mut problems,
                        ),
                        Err(e) => problems.push(format!("glob {}: {e}", params.path)),
                    }
                }
            }
            Err(e) => problems.push(format!("glob {}: {e}", params.path)),
        }
    } else {
        visit(
            Path::new(&params.path),
            params,
            true,
            &mut seen_dirs,
            &mut found,
            &mut problems,
        );
    }
    // A file reached twice (through a symlink, or listed under its old and new name while
    // being renamed) is kept once.
    let mut ids = HashSet::new();
    found.retain(|c| c.id.is_none_or(|id| ids.insert(id)));
    found.sort_by(|a: &Candidate, b| a.path.cmp(&b.path));
    (found, problems)
}

fn visit(
    path: &Path,
    params: &Params,
    top: bool,
    seen_dirs: &mut HashSet<FileId>,
    found: &mut Vec<Candidate>,
    problems: &mut Vec<String>,
) {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) => {
            if top {
                problems.push(format!("{}: {e}", path.display()));
            }
            return;
        }
    };
    if meta.is_dir() {
        if !top && !params.recursive {
            return;
        }
        // Symlinked directory loops would otherwise recurse forever.
        if FileId::of(&meta).is_some_and(|id| !seen_dirs.insert(id)) {
            return;
        }
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(format!("{}: {e}", path.display()));
                return;
            }
        };
        for entry in entries.flatten() {
            visit(&entry.path(), params, false, seen_dirs, found, problems);
        }
        return;
    }
    if !meta.is_file() {
        return;
    }
    let text = path.to_string_lossy();
    if params
        .include
        .as_ref()
        .is_some_and(|re| !re.is_match(&text))
        || params.exclude.as_ref().is_some_and(|re| re.is_match(&text))
    {
        return;
    }
    found.push(Candidate {
        path: path.to_path_buf(),
        id: FileId::of(&meta),
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
    });
}
