//! An EVTX file read as independent pieces (`EvtxPieces`, what `scan` decodes on several
//! threads) yields exactly the items a `FileReader` yields, on every shared EVTX file and on
//! damaged copies: a file cut inside a chunk, a chunk whose header is overwritten.

use std::path::Path;

use crate::support;

use netdiscover::ingest::{EvtxPieces, FileReader, Item, OpenOptions, Position};

/// The items of every piece, renumbered through the file as a reader numbers them, up to
/// and including a piece the parser failed on.
fn items_by_pieces(path: &Path) -> Vec<Item> {
    let mut items = Vec::new();
    let mut base = 0;
    for piece in EvtxPieces::open(path).expect("open pieces") {
        let decoded = piece.items();
        for mut item in decoded.items {
            let position = match &mut item {
                Item::Process(e) => &mut e.position,
                Item::Skipped(s) => &mut s.position,
                Item::Malformed(m) | Item::Unreadable(m) => &mut m.position,
            };
            match position {
                Position::Record(n) => *n += base,
                Position::Offset(_) => panic!("an EVTX item located by offset"),
            }
            items.push(item);
        }
        base += decoded.records;
        if decoded.last {
            break;
        }
    }
    items
}

fn items_by_reader(path: &Path) -> Vec<Item> {
    FileReader::open(path, &OpenOptions::default())
        .expect("open reader")
        .collect()
}

fn assert_same(path: &Path) -> usize {
    let by_reader = items_by_reader(path);
    let by_pieces = items_by_pieces(path);
    assert_eq!(by_reader.len(), by_pieces.len(), "{}", path.display());
    for (n, (a, b)) in by_reader.iter().zip(&by_pieces).enumerate() {
        assert_eq!(a, b, "{} item {n}", path.display());
    }
    by_reader.len()
}

#[test]
fn pieces_yield_what_the_reader_yields_on_every_shared_evtx_file() {
    let Some(dir) = support::shared("datasets/evtx") else {
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("list evtx")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    let mut total = 0;
    for file in &files {
        total += assert_same(file);
    }
    // SOURCES.md: 2,135 records in the EVTX files.
    assert_eq!((files.len(), total), (11, 2135));

    let tmp = tempfile::tempdir().expect("tempdir");
    let large = dir.join("mdecrevoisier__ID4688-5447-4950-Firewall_disabled_command.evtx");
    let bytes = std::fs::read(&large).expect("read");
    let cut = tmp.path().join("cut.evtx");
    std::fs::write(&cut, &bytes[..4096 + 2 * 65536 + 1000]).expect("write");
    let mut broken = bytes.clone();
    broken[4096 + 65536..4096 + 65536 + 8].copy_from_slice(b"NotChunk");
    let bad = tmp.path().join("bad_chunk.evtx");
    std::fs::write(&bad, &broken).expect("write");
    for damaged in [&cut, &bad] {
        let items = items_by_reader(damaged);
        assert!(
            items.iter().any(|i| matches!(i, Item::Malformed(_))),
            "{} has no bad record",
            damaged.display()
        );
        assert_same(damaged);
    }
}
