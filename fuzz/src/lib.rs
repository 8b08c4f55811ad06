//! Shared harness for the fuzz targets: the ingest readers take a file path, so each input
//! is written to a per-process scratch file (in /dev/shm when it exists, so no disk I/O) and
//! read to the end through the public [`FileReader`] API, exactly as `scan` and the modular
//! input read files.

use std::path::PathBuf;
use std::sync::OnceLock;

use netdiscover::ingest::{FileReader, Format, Item, OpenOptions, Position};

fn scratch_path(format: Format) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let shm = PathBuf::from("/dev/shm");
        if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        }
    });
    dir.join(format!(
        "netdiscover-fuzz-{}-{}",
        std::process::id(),
        format.name()
    ))
}

/// Reads `data` as a file of `format` (forced), in normal and follow mode, and checks what
/// every bad input must satisfy: no panic, every item's byte position inside the file, a
/// resume point inside the file, and a reader that ends.
pub fn read_as(data: &[u8], format: Format) {
    let path = scratch_path(format);
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let len = data.len() as u64;
    for follow in [false, true] {
        let options = OpenOptions {
            format: Some(format),
            follow,
            ..OpenOptions::default()
        };
        let Ok(reader) = FileReader::open(&path, &options) else {
            continue;
        };
        let mut reader = reader;
        // Each record is at least one byte, so a reader yielding more items than bytes
        // (plus one end-of-file report per EVTX chunk) is looping.
        let limit = 4 * len + 16;
        let mut count = 0u64;
        for item in reader.by_ref() {
            count += 1;
            assert!(
                count <= limit,
                "reader does not end ({count} items from {len} bytes)"
            );
            let position = match &item {
                Item::Process(e) => e.position,
                Item::Skipped(s) => s.position,
                Item::Malformed(m) | Item::Unreadable(m) => {
                    assert!(!m.message.is_empty(), "malformed record without a message");
                    m.position
                }
            };
            if let Position::Offset(offset) = position {
                assert!(offset <= len, "item at {offset} past the end ({len})");
            }
        }
        if let Position::Offset(offset) = reader.resume_point() {
            assert!(offset <= len, "resume point {offset} past the end ({len})");
        }
    }
    let _ = std::fs::remove_file(&path);
}
