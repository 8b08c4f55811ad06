//! Knowing a file independently of its name, as Vector's file source does with its
//! `FileFingerprint`: the device and inode that hold the file while it exists, and a CRC of
//! its first bytes, which survives a copy (rotation by copy, a move across filesystems) and
//! tells an inode reused by other content from the file that had it.

use std::fs::{File, Metadata};
use std::io::{self, Read};

use flate2::read::MultiGzDecoder;
use serde::{Deserialize, Serialize};

/// How many leading bytes identify a text file (Splunk's monitor uses 256 by default).
pub const HEAD_BYTES: u64 = 1024;
/// An EVTX file's first 4 KiB are its file header, the same for every export with as many
/// chunks and records; its head reaches into the first chunk, whose header names the record
/// ids it holds.
const EVTX_HEAD_BYTES: u64 = 4096 + 1024;
const EVTX_MAGIC: &[u8] = b"ElfFile\0";
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
/// A copy is only recognised by a head of at least this many bytes (an EVTX file's: past
/// its file header); shorter heads collide too easily (Splunk's monitor has the same floor).
pub const MIN_HEAD_FOR_COPIES: u64 = 256;
const MIN_EVTX_HEAD_FOR_COPIES: u64 = 4096 + 512;

/// Device and inode numbers: which file a handle holds, for as long as the file exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileId {
    pub dev: u64,
    pub ino: u64,
}

impl FileId {
    /// The file's device and inode; `None` on platforms without them, where identity rests on
    /// the path and the head.
    pub fn of(meta: &Metadata) -> Option<FileId> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Some(FileId {
                dev: meta.dev(),
                ino: meta.ino(),
            })
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }
}

/// The first bytes of a file: how many, and their CRC-32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub len: u64,
    pub crc: u32,
}

impl Head {
    /// The head of `bytes`, the start of a file: [`HEAD_BYTES`] of them ([`EVTX_HEAD_BYTES`]
    /// for EVTX), or all of them when the file is shorter.
    pub fn of(bytes: &[u8]) -> Head {
        let wanted = if bytes.starts_with(EVTX_MAGIC) {
            EVTX_HEAD_BYTES
        } else {
            HEAD_BYTES
        };
        let len = (bytes.len() as u64).min(wanted);
        Head {
            len,
            crc: crc32fast::hash(&bytes[..len as usize]),
        }
    }

    /// Long enough for a copy to be recognised by it alone. `evtx`: the file it is compared
    /// with is an EVTX file.
    pub fn identifies_copies(&self, evtx: bool) -> bool {
        let floor = if evtx {
            MIN_EVTX_HEAD_FOR_COPIES
        } else {
            MIN_HEAD_FOR_COPIES
        };
        self.len >= floor
    }
}

/// The identity of a followed file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The inode that holds this content, when known: `None` where the platform has no
    /// inode numbers, and for content no file holds any more (a file truncated or rewritten
    /// since), which only a copy can match.
    pub id: Option<FileId>,
    pub head: Head,
}

/// Bytes enough for any head.
pub const PREFIX_BYTES: u64 = EVTX_HEAD_BYTES;

/// Whether `bytes`, the start of a file, are gzip's.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(GZIP_MAGIC)
}

/// The first bytes of one open file, read once and compared with many heads: as stored, and
/// (for gzip) decompressed, so a rotated file compressed afterwards is known by its content.
pub struct Prefix {
    raw: Vec<u8>,
    inflated: Option<Inflated>,
}

struct Inflated {
    bytes: Vec<u8>,
    /// The stream ended before `bytes` filled up: a gzip file still being written.
    cut_short: bool,
}

impl Prefix {
    pub fn read(file: &File) -> io::Result<Prefix> {
        let raw = read_head(file, PREFIX_BYTES)?;
        let inflated = is_gzip(&raw)
            .then(|| inflate_head(file, PREFIX_BYTES))
            .flatten();
        Ok(Prefix { raw, inflated })
    }

    /// A gzip file being written whose decompressed text is still shorter than a head: it
    /// cannot be told from a rotated file being compressed yet.
    pub fn too_short_to_tell(&self) -> bool {
        self.inflated
            .as_ref()
            .is_some_and(|i| i.cut_short && (i.bytes.len() as u64) < HEAD_BYTES)
    }

    /// The bytes as stored.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn is_gzip(&self) -> bool {
        self.raw.starts_with(GZIP_MAGIC)
    }

    pub fn is_evtx(&self) -> bool {
        self.raw.starts_with(EVTX_MAGIC)
            || self.inflated().is_some_and(|i| i.starts_with(EVTX_MAGIC))
    }

    /// The decompressed text's first bytes, for a gzip file.
    pub fn inflated(&self) -> Option<&[u8]> {
        self.inflated.as_ref().map(|i| i.bytes.as_slice())
    }
}

/// Whether `bytes`, the start of a file, begin with `head`.
pub fn head_matches(bytes: &[u8], head: &Head) -> bool {
    head.len > 0
        && (bytes.len() as u64) >= head.len
        && crc32fast::hash(&bytes[..head.len as usize]) == head.crc
}

/// Compares one open file's first bytes with many heads, computing each CRC once per head
/// length (most heads have the same length), as stored and (gzip) decompressed; heads
/// longer than [`PREFIX_BYTES`] (saved state may hold any length) are read from the file.
pub struct HeadCheck<'a> {
    file: &'a File,
    prefix: &'a Prefix,
    /// `(length, CRC of the first that many bytes)`, as stored and decompressed: few distinct
    /// lengths, so a list.
    raw: Vec<(u64, Option<u32>)>,
    inflated: Vec<(u64, Option<u32>)>,
}

impl<'a> HeadCheck<'a> {
    pub fn new(file: &'a File, prefix: &'a Prefix) -> Self {
        HeadCheck {
            file,
            prefix,
            raw: Vec::new(),
            inflated: Vec::new(),
        }
    }

    pub fn prefix(&self) -> &Prefix {
        self.prefix
    }

    /// Whether the file starts with `head` as stored.
    pub fn starts_with(&mut self, head: &Head) -> bool {
        let (file, prefix) = (self.file, self.prefix);
        let crc = cached(&mut self.raw, head.len, || {
            if head.len <= PREFIX_BYTES {
                crc_of_first(&prefix.raw, head.len)
            } else {
                read_head(file, head.len)
                    .ok()
                    .and_then(|bytes| crc_of_first(&bytes, head.len))
            }
        });
        head.len > 0 && crc == Some(head.crc)
    }

    /// Whether the file's decompressed text starts with `head` (gzip only).
    pub fn inflates_to(&mut self, head: &Head) -> bool {
        let Some(text) = self.prefix.inflated() else {
            return false;
        };
        let crc = cached(&mut self.inflated, head.len, || {
            crc_of_first(text, head.len)
        });
        head.len > 0 && crc == Some(head.crc)
    }

    /// Whether the file starts with `head`, long enough to tell copies apart, as stored or
    /// decompressed.
    pub fn is_copy_of(&mut self, head: &Head) -> bool {
        head.identifies_copies(self.prefix.is_evtx())
            && (self.starts_with(head) || self.inflates_to(head))
    }
}

fn cached(
    cache: &mut Vec<(u64, Option<u32>)>,
    len: u64,
    compute: impl FnOnce() -> Option<u32>,
) -> Option<u32> {
    if let Some(&(_, crc)) = cache.iter().find(|(l, _)| *l == len) {
        return crc;
    }
    let crc = compute();
    cache.push((len, crc));
    crc
}

fn crc_of_first(bytes: &[u8], len: u64) -> Option<u32> {
    ((bytes.len() as u64) >= len).then(|| crc32fast::hash(&bytes[..len as usize]))
}

/// Whether `file` still starts with `head` (`Ok(false)` once it is shorter).
pub fn still_starts_with(file: &File, head: &Head) -> io::Result<bool> {
    let bytes = read_head(file, head.len)?;
    Ok(head_matches(&bytes, head))
}

/// Up to `len` decompressed bytes of a gzip file (a stream cut short yields what it has);
/// `None` when nothing decompresses.
fn inflate_head(file: &File, len: u64) -> Option<Inflated> {
    let mut decoder = MultiGzDecoder::new(PositionalReader { file, at: 0 }).take(len);
    let mut bytes = Vec::with_capacity(len as usize);
    let mut block = [0u8; 4096];
    let cut_short = loop {
        match decoder.read(&mut block) {
            Ok(0) => break false,
            Ok(n) => bytes.extend_from_slice(&block[..n]),
            Err(_) if !bytes.is_empty() => break true,
            Err(_) => return None,
        }
    };
    Some(Inflated { bytes, cut_short })
}

/// Reads a file from the start with positional reads, leaving its offset alone.
struct PositionalReader<'a> {
    file: &'a File,
    at: u64,
}

impl Read for PositionalReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = read_at(self.file, buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

/// Reads up to `len` bytes from the start of `file` with positional reads, leaving the file
/// offset alone: a reader working on a clone of this handle shares that offset.
pub fn read_head(file: &File, len: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len as usize];
    let mut filled = 0;
    while filled < buf.len() {
        match read_at(file, &mut buf[filled..], filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    file.read_at(buf, at)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    // seek_read moves the handle's offset; the follow loop never reads through this handle
    // itself (readers open their own), so nothing depends on it.
    use std::os::windows::fs::FileExt;
    file.seek_read(buf, at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn heads_cover_a_kilobyte_of_text_and_reach_into_an_evtx_chunk() {
        let text = vec![b'x'; 3000];
        assert_eq!(Head::of(&text).len, HEAD_BYTES);
        assert_eq!(Head::of(&text[..100]).len, 100);
        let mut evtx = EVTX_MAGIC.to_vec();
        evtx.resize(9000, 0);
        assert_eq!(Head::of(&evtx).len, EVTX_HEAD_BYTES);
        assert!(!Head { len: 1024, crc: 0 }.identifies_copies(true));
        assert!(Head { len: 1024, crc: 0 }.identifies_copies(false));
    }

    #[test]
    fn a_gzip_file_is_known_by_its_decompressed_head() {
        let text: String = (0..200).map(|i| format!("line {i}\n")).collect();
        let head = Head::of(text.as_bytes());
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(text.as_bytes()).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(&gz.finish().unwrap()).unwrap();
        let prefix = Prefix::read(&file).unwrap();
        let mut check = HeadCheck::new(&file, &prefix);
        assert!(prefix.is_gzip() && !check.starts_with(&head));
        assert!(check.inflates_to(&head) && check.is_copy_of(&head));
    }
}
