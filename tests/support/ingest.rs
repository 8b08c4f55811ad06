//! Helpers for the ingest tests: files written into a temporary directory and a compact view of
//! what a reader produced.

use std::path::{Path, PathBuf};

use netdiscover::ingest::{Item, Position};

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// One letter per item: `P`rocess, `S`kipped, `M`alformed, `U`nreadable.
pub fn kinds(items: &[Item]) -> String {
    items
        .iter()
        .map(|i| match i {
            Item::Process(_) => 'P',
            Item::Skipped(_) => 'S',
            Item::Malformed(_) => 'M',
            Item::Unreadable(_) => 'U',
        })
        .collect()
}

/// Writes `lines` as one JSON-lines file (each line `\n`-terminated) and returns its path and
/// each line's byte offset.
pub fn ndjson<S: AsRef<str>>(dir: &Path, name: &str, lines: &[S]) -> (PathBuf, Vec<u64>) {
    let mut text = String::new();
    let mut offsets = Vec::new();
    for line in lines {
        offsets.push(text.len() as u64);
        text.push_str(line.as_ref());
        text.push('\n');
    }
    (write(dir, name, text.as_bytes()), offsets)
}

/// Asserts that each item is at the byte offset of its line.
pub fn assert_at_offsets(items: &[Item], offsets: &[u64], position: impl Fn(&Item) -> Position) {
    assert_eq!(items.len(), offsets.len(), "{items:#?}");
    for (item, offset) in items.iter().zip(offsets) {
        assert_eq!(position(item), Position::Offset(*offset), "{item:?}");
    }
}
