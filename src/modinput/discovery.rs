//! Finding the files a stanza names (a file, a directory, or a glob), filtering them by the
//! include/exclude patterns, and identifying a file independently of its name: device and
//! inode plus a CRC of its first bytes, so a renamed (rotated) file is recognised and an
//! inode reused by a new file is not mistaken for the old one.

use std::collections::HashSet;
use std::fs::{File, Metadata};
use std::io;
#[cfg(not(unix))]
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::params::{is_glob, Params};

/// How many leading bytes identify a file (Splunk's monitor uses 256 by default).
pub const HEAD_BYTES: u64 = 1024;

/// A file found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    /// Modification time in nanoseconds since the epoch (0 if unknown).
    pub mtime_ns: u64,
}

/// `(device, inode)` of a file. On platforms without them both are 0 and identity rests on
/// the head CRC alone.
pub fn file_id(meta: &Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
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
    found.retain(|c| (c.dev, c.ino) == (0, 0) || ids.insert((c.dev, c.ino)));
    found.sort_by(|a: &Candidate, b| a.path.cmp(&b.path));
    (found, problems)
}

fn visit(
    path: &Path,
    params: &Params,
    top: bool,
    seen_dirs: &mut HashSet<(u64, u64)>,
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
        if !seen_dirs.insert(file_id(&meta)) && file_id(&meta) != (0, 0) {
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
    let (dev, ino) = file_id(&meta);
    found.push(Candidate {
        path: path.to_path_buf(),
        dev,
        ino,
        size: meta.len(),
        mtime_ns: mtime_ns(&meta),
    });
}

/// CRC-32 of the first `len` bytes of `file`, or `None` if it has fewer.
pub fn head_crc(file: &File, len: u64) -> io::Result<Option<u32>> {
    let buf = read_head(file, len)?;
    if (buf.len() as u64) < len {
        return Ok(None);
    }
    Ok(Some(crc32fast::hash(&buf)))
}

/// `(head_len, crc)` over the first `min(file length, HEAD_BYTES)` bytes, measured on the
/// open file itself so a concurrent truncation cannot make the two disagree.
pub fn fingerprint(file: &File) -> io::Result<(u64, u32)> {
    let buf = read_head(file, HEAD_BYTES)?;
    Ok((buf.len() as u64, crc32fast::hash(&buf)))
}

/// Reads up to `len` bytes from the start of `file` with positional reads, leaving the file
/// offset alone: a reader working on a clone of this handle shares that offset.
#[cfg(unix)]
fn read_head(file: &File, len: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

/// Without positional reads: seek, read, and put the offset back. The follow loop is single
/// threaded, so no read on the shared offset happens in between.
#[cfg(not(unix))]
fn read_head(file: &File, len: u64) -> io::Result<Vec<u8>> {
    let mut reader = file;
    let saved = reader.stream_position()?;
    reader.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::with_capacity(len as usize);
    let result = reader.take(len).read_to_end(&mut buf);
    reader.seek(SeekFrom::Start(saved))?;
    result?;
    Ok(buf)
}
