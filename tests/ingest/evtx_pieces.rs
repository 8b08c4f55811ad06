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

    let large = dir.join("mdecrevoisier__ID4688-5447-4950-Firewall_disabled_command.evtx");
    let bytes = std::fs::read(&large).expect("read");
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, damaged) in damaged_copies(&bytes) {
        let path = tmp.path().join(name);
        std::fs::write(&path, &damaged).expect("write");
        let items = items_by_reader(&path);
        assert!(
            items.iter().any(|i| matches!(i, Item::Malformed(_))),
            "{name} has no bad record"
        );
        assert_same(&path);
    }
    for (name, changed) in reordered_copies(&bytes) {
        let path = tmp.path().join(name);
        std::fs::write(&path, &changed).expect("write");
        assert_eq!(assert_same(&path), assert_same(&large), "{name}");
    }
}

const HEADER: usize = 4096;
const CHUNK: usize = 65536;

fn chunk(index: usize) -> std::ops::Range<usize> {
    HEADER + index * CHUNK..HEADER + (index + 1) * CHUNK
}

/// Copies with bad records: a file cut inside a chunk, a chunk whose header is overwritten,
/// a chunk whose header is zeros and the rest not (among the chunks with records, and as
/// the last of them, before the unused zero chunks: its piece, not the file's opening,
/// finds it is no zero chunk), a file cut inside its first chunk.
fn damaged_copies(bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut bad_magic = bytes.to_vec();
    bad_magic[chunk(1)][..8].copy_from_slice(b"NotChunk");
    let mut zero_header = bytes.to_vec();
    zero_header[chunk(2)][..512].fill(0);
    let last = (0..)
        .take_while(|&i| {
            bytes
                .get(chunk(i))
                .is_some_and(|c| c.starts_with(b"ElfChnk\0"))
        })
        .last()
        .expect("a chunk");
    assert!(
        bytes.len() > chunk(last).end,
        "no unused chunk after the last"
    );
    let mut zero_header_last = bytes.to_vec();
    zero_header_last[chunk(last)][..512].fill(0);
    vec![
        ("zero_header_last.evtx", zero_header_last),
        ("cut.evtx", bytes[..HEADER + 2 * CHUNK + 1000].to_vec()),
        ("bad_chunk.evtx", bad_magic),
        ("zero_header.evtx", zero_header),
        ("cut_in_first.evtx", bytes[..HEADER + 1000].to_vec()),
    ]
}

/// Copies that hold the same records: all zero chunks (a log's unused space) between and
/// after the chunks with records, and a log that has wrapped around (its chunks rotated, so
/// the oldest records start in the middle of the file), with and without a zero chunk where
/// it wrapped.
fn reordered_copies(bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let used = (bytes.len() - HEADER) / CHUNK;
    let zero = vec![0; CHUNK];
    let mut gaps = bytes[..HEADER].to_vec();
    for index in 0..used {
        gaps.extend_from_slice(&bytes[chunk(index)]);
        if index % 3 == 1 {
            gaps.extend_from_slice(&zero);
        }
    }
    gaps.extend_from_slice(&zero);
    let turn = used / 3;
    let mut wrapped = bytes[..HEADER].to_vec();
    for index in (turn..used).chain(0..turn) {
        wrapped.extend_from_slice(&bytes[chunk(index)]);
    }
    let mut wrapped_gap = wrapped[..HEADER + (used - turn) * CHUNK].to_vec();
    wrapped_gap.extend_from_slice(&zero);
    wrapped_gap.extend_from_slice(&wrapped[HEADER + (used - turn) * CHUNK..]);
    vec![
        ("gaps.evtx", gaps),
        ("wrapped.evtx", wrapped),
        ("wrapped_gap.evtx", wrapped_gap),
    ]
}
