//! EVTX binaries through the `evtx` crate, one 64 KiB chunk in memory at a time. Each
//! record is rendered to XML and read by the same parser as XmlWinEventLog files, so an
//! EVTX file and its XML rendering give the same rows.
//!
//! A file is read as a sequence of *pieces*: its chunks, plus a piece for a chunk that cannot
//! be read and one for the bytes after the last whole chunk. Reading a piece is cheap (64 KiB
//! of I/O); decoding it is the work, and a piece decodes on its own. [`EvtxRecords`] decodes
//! them one after another for a [`FileReader`](super::FileReader); [`EvtxPieces`] hands them
//! out so `scan` can decode the chunks of one large file on several threads. Both decode with
//! [`Piece::decode`], so they yield the same records.
//!
//! Most records in a log are no process creation: [`SkipCheck`] recognises those it can from
//! the record's BinXML before rendering, and they are skipped unrendered (see
//! `evtx_skip.rs`). (The crate's parsed record tree is private in `evtx` 0.15: rendering to
//! XML or JSON, or the substitution values without their names, is all it offers, so the
//! check reads the template from the chunk's bytes. Its JSON rendering costs as much as its
//! XML, `cargo bench --bench ingest` times both, and JSON would still have to be parsed, so
//! the records that may be process creations are rendered to XML.)

use std::cell::Cell;
use std::collections::VecDeque;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use evtx::err::{ChunkError, EvtxError};
use evtx::{
    EvtxChunkData, EvtxChunkHeader, EvtxParser, EvtxRecord, IntoIterChunks, ParserSettings,
};

use super::evtx_skip::SkipCheck;
use super::reader::{evtx_item, Item};
use super::IngestError;

/// One record as decoded.
#[derive(Debug)]
pub(crate) enum Record {
    Xml(String),
    /// Not rendered: certainly no process creation, skipped under this event id.
    Skipped(String),
    /// Why it could not be read.
    Bad(String),
}

/// One record: its 1-based number in read order, decoded.
pub(crate) type NumberedRecord = (u64, Record);

const HEADER_SIZE: u64 = 4096;
const CHUNK_SIZE: u64 = 65536;
/// The part of a chunk `EvtxParser::oldest_chunk` reads to order the chunks.
const CHUNK_HEADER_SIZE: usize = 512;
/// As the crate's default: a chunk's CRC32 is not checked (its header's magic is).
const VALIDATE_CHECKSUMS: bool = false;

/// Why an EVTX file cannot be read (yet).
#[derive(Debug)]
pub(crate) enum EvtxOpenError {
    /// Follow mode: the file is still shorter than its header says (being copied).
    Incomplete(String),
    Invalid(String),
}

/// The pieces of one EVTX file, in order.
struct ChunkSource {
    chunks: IntoIterChunks<File>,
    chunks_read: u64,
    /// Bytes after the last whole chunk, which the `evtx` crate passes over in silence; they
    /// are reported once at the end (a truncated copy of a log).
    trailing_bytes: u64,
}

/// A part of an EVTX file that decodes on its own.
enum Piece {
    /// Chunk `number` (from 1).
    Chunk {
        number: u64,
        data: Box<EvtxChunkData>,
    },
    /// A chunk that could not be read, or the file's trailing bytes: one bad record.
    Problem(String),
}

/// The records of a decoded piece.
struct Decoded {
    /// Records the piece holds (rendered, passed over, or bad).
    seen: u64,
    /// The records after the first `skip`, in order.
    records: Vec<Record>,
    /// The parser failed inside this piece: the rest of the file is not read.
    fatal: bool,
}

/// How every EVTX file is parsed.
pub(super) fn settings() -> Arc<ParserSettings> {
    Arc::new(
        ParserSettings::new()
            .num_threads(1)
            .indent(false)
            .validate_checksums(VALIDATE_CHECKSUMS),
    )
}

impl ChunkSource {
    /// Opens `file`. In follow mode a file that is shorter than its header promises (a copy
    /// in progress: a partial chunk, or fewer chunks than the header counts) is
    /// [`EvtxOpenError::Incomplete`] rather than read in part, so record numbers never count
    /// what a later read would find in the same place.
    fn open(file: File, settings: &ParserSettings, follow: bool) -> Result<Self, EvtxOpenError> {
        let invalid = |e: &dyn std::fmt::Display| EvtxOpenError::Invalid(e.to_string());
        let len = file.metadata().map_err(|e| invalid(&e))?.len();
        if follow && len < HEADER_SIZE {
            return Err(EvtxOpenError::Incomplete(format!(
                "{len} bytes of the {HEADER_SIZE}-byte file header"
            )));
        }
        let trailing_bytes = len.saturating_sub(HEADER_SIZE) % CHUNK_SIZE;
        let parser = EvtxParser::from_read_seek(file).map_err(|e| invalid(&e))?;
        if follow {
            let whole = (len - HEADER_SIZE) / CHUNK_SIZE;
            let promised = u64::from(parser.header().chunk_count);
            if trailing_bytes > 0 || whole < promised {
                return Err(EvtxOpenError::Incomplete(format!(
                    "{whole} whole chunks of the {promised} its header counts, and {trailing_bytes} bytes of the next"
                )));
            }
        }
        Ok(ChunkSource {
            chunks: parser.with_configuration(settings.clone()).into_chunks(),
            chunks_read: 0,
            trailing_bytes,
        })
    }

    /// Bytes of the file read so far (header plus whole chunks), for progress.
    fn bytes_read(&self) -> u64 {
        HEADER_SIZE + self.chunks_read * CHUNK_SIZE
    }

    fn next_piece(&mut self) -> Option<Piece> {
        let Some(chunk) = self.chunks.next() else {
            if self.trailing_bytes > 0 {
                let bytes = std::mem::take(&mut self.trailing_bytes);
                return Some(Piece::Problem(trailing_bytes_message(bytes)));
            }
            return None;
        };
        self.chunks_read += 1;
        Some(match chunk {
            Ok(data) => Piece::Chunk {
                number: self.chunks_read,
                data: Box::new(data),
            },
            Err(e) => Piece::Problem(format!("unreadable chunk: {e}")),
        })
    }
}

impl Piece {
    /// Renders the piece's records, passing over the first `skip` without rendering them.
    /// The `evtx` crate parses untrusted binary data; should it ever panic on a damaged
    /// chunk, that becomes a bad record after the ones rendered so far, and the end of the
    /// file, not the end of the scan.
    fn decode(self, settings: &Arc<ParserSettings>, skip: u64) -> Decoded {
        let (number, mut data) = match self {
            Piece::Problem(message) => {
                return Decoded {
                    seen: 1,
                    records: if skip == 0 {
                        vec![Record::Bad(message)]
                    } else {
                        Vec::new()
                    },
                    fatal: false,
                }
            }
            Piece::Chunk { number, data } => (number, data),
        };
        let mut decoded = Decoded {
            seen: 0,
            records: Vec::new(),
            fatal: false,
        };
        let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            render_chunk(&mut data, settings, skip, &mut decoded)
        }));
        if rendered.is_err() {
            decoded.seen += 1;
            decoded.fatal = true;
            decoded.records.push(Record::Bad(format!(
                "the EVTX parser failed on chunk {number}; the rest of the file is not read"
            )));
        }
        recycle_chunk_buffer(std::mem::take(&mut data.data));
        decoded
    }
}

thread_local! {
    /// The buffer of the last chunk this thread decoded, for the next chunk it reads: a new
    /// zero-filled 64 KiB buffer per chunk cost a large allocation and its zeroing each time.
    static CHUNK_BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A chunk-sized buffer: the one this thread last recycled, or a new one.
fn chunk_buffer() -> Vec<u8> {
    let mut buffer = CHUNK_BUFFER.take();
    buffer.resize(CHUNK_SIZE as usize, 0);
    buffer
}

/// Keeps a chunk's buffer for the next chunk this thread reads.
fn recycle_chunk_buffer(buffer: Vec<u8>) {
    if buffer.capacity() >= CHUNK_SIZE as usize {
        CHUNK_BUFFER.set(buffer);
    }
}

fn render_chunk(
    data: &mut EvtxChunkData,
    settings: &Arc<ParserSettings>,
    skip: u64,
    decoded: &mut Decoded,
) {
    let mut chunk = match data.parse(Arc::clone(settings)) {
        Ok(chunk) => chunk,
        Err(e) => {
            decoded.seen += 1;
            if decoded.seen > skip {
                decoded
                    .records
                    .push(Record::Bad(format!("unparsable chunk: {e}")));
            }
            return;
        }
    };
    let mut skip_check = SkipCheck::default();
    for record in chunk.iter() {
        decoded.seen += 1;
        if decoded.seen <= skip {
            continue;
        }
        decoded.records.push(decode_record(record, &mut skip_check));
    }
}

/// A record's XML, or the event id it is skipped under when [`SkipCheck`] is sure it is no
/// process creation.
fn decode_record(record: Result<EvtxRecord<'_>, EvtxError>, skip_check: &mut SkipCheck) -> Record {
    let record = match record {
        Ok(record) => record,
        Err(e) => return Record::Bad(e.to_string()),
    };
    if let Some(event_id) = skip_check.skip_label(&record) {
        return Record::Skipped(event_id);
    }
    match record.into_xml() {
        Ok(xml) => Record::Xml(xml.data),
        Err(e) => Record::Bad(e.to_string()),
    }
}

/// The records of one EVTX file in order, for a [`FileReader`](super::FileReader).
pub(crate) struct EvtxRecords {
    source: ChunkSource,
    settings: Arc<ParserSettings>,
    queue: VecDeque<NumberedRecord>,
    /// Records seen so far (rendered, passed over or bad).
    seen: u64,
    /// Records to pass over without rendering (resume).
    skip: u64,
    /// Set after the parser panicked: nothing more is read from this file.
    failed: bool,
}

impl EvtxRecords {
    /// Opens `file`, passing over its first `skip` records; `follow` as for
    /// [`ChunkSource::open`].
    pub(crate) fn open(file: File, skip: u64, follow: bool) -> Result<Self, EvtxOpenError> {
        let settings = settings();
        Ok(EvtxRecords {
            source: ChunkSource::open(file, &settings, follow)?,
            settings,
            queue: VecDeque::new(),
            seen: 0,
            skip,
            failed: false,
        })
    }

    /// Bytes of the file read so far (header plus whole chunks), for progress.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.source.bytes_read()
    }
}

impl Iterator for EvtxRecords {
    type Item = NumberedRecord;

    fn next(&mut self) -> Option<NumberedRecord> {
        loop {
            if let Some(record) = self.queue.pop_front() {
                return Some(record);
            }
            if self.failed {
                return None;
            }
            let piece = self.source.next_piece()?;
            let decoded = piece.decode(&self.settings, self.skip.saturating_sub(self.seen));
            let first = self.seen + decoded.seen - decoded.records.len() as u64;
            self.queue.extend((first + 1..).zip(decoded.records));
            self.seen += decoded.seen;
            self.failed = decoded.fatal;
        }
    }
}

/// An EVTX file as pieces (its 64 KiB chunks) that decode independently, so the chunks of
/// one large file can be decoded on several threads. Opening reads the chunk headers;
/// handing out the next piece reads nothing: a piece is a chunk's place in the file, and
/// [`EvtxPiece::items`] reads it (a positional read of its own, so the pieces of one file are
/// read on several threads at once, outside `scan`'s job queue) and decodes it. The pieces
/// come in the order the `evtx` crate's chunk iterator reads them ([`EvtxRecords`]), which
/// [`ChunkWalk`] follows.
pub struct EvtxPieces {
    walk: ChunkWalk,
    settings: Arc<ParserSettings>,
}

impl EvtxPieces {
    /// Opens `path` as an EVTX file (its header is checked here, as
    /// [`FileReader::open`](super::FileReader::open) checks it).
    pub fn open(path: &Path) -> Result<EvtxPieces, IngestError> {
        let error = |message: String| IngestError::Evtx {
            path: path.to_path_buf(),
            message,
        };
        let file = File::open(path).map_err(|source| IngestError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(EvtxPieces {
            walk: ChunkWalk::open(file).map_err(error)?,
            settings: settings(),
        })
    }
}

impl Iterator for EvtxPieces {
    type Item = EvtxPiece;

    fn next(&mut self) -> Option<EvtxPiece> {
        let place = self.walk.next()?;
        Some(EvtxPiece {
            place,
            settings: Arc::clone(&self.settings),
        })
    }
}

/// One piece of an EVTX file, to read and decode on any thread.
pub struct EvtxPiece {
    place: PiecePlace,
    settings: Arc<ParserSettings>,
}

/// The items of one decoded [`EvtxPiece`].
#[derive(Debug)]
pub struct PieceItems {
    /// What a [`FileReader`](super::FileReader) yields for these records, in order, with
    /// positions numbered from 1 within the piece: add the records of the file's earlier
    /// pieces to get the file's record numbers.
    pub items: Vec<Item>,
    /// Records the piece holds.
    pub records: u64,
    /// The parser failed on this piece: a reader stops here, so later pieces of the file
    /// must be left out to yield what it yields.
    pub last: bool,
}

impl EvtxPiece {
    /// Reads and decodes the piece into items.
    pub fn items(self) -> PieceItems {
        let decoded = match self.place.read() {
            Some(piece) => piece.decode(&self.settings, 0),
            // The chunk is all zeros now (the file changed since it was opened): the
            // crate's iterator passes over such a chunk.
            None => Decoded {
                seen: 0,
                records: Vec::new(),
                fatal: false,
            },
        };
        PieceItems {
            items: (1..)
                .zip(decoded.records)
                .map(|(number, rendered)| evtx_item(number, rendered))
                .collect(),
            records: decoded.seen,
            last: decoded.fatal,
        }
    }
}

/// Where a piece is, before it is read.
enum PiecePlace {
    /// Chunk `index` of `file` (from 0), the `number`th chunk its iterator yields (from 1).
    Chunk {
        file: Arc<File>,
        index: u64,
        number: u64,
    },
    /// The file's trailing bytes: one bad record.
    Problem(String),
}

impl PiecePlace {
    /// Reads the piece as the crate's iterator reads a chunk (`EvtxParser::allocate_chunk`):
    /// a chunk that cannot be read whole, or whose header is not one, is a problem; an all
    /// zero chunk is nothing.
    fn read(self) -> Option<Piece> {
        let (file, index, number) = match self {
            PiecePlace::Problem(message) => return Some(Piece::Problem(message)),
            PiecePlace::Chunk {
                file,
                index,
                number,
            } => (file, index, number),
        };
        let unreadable = |e: ChunkError| {
            let e = EvtxError::FailedToParseChunk {
                chunk_id: index,
                source: Box::new(e),
            };
            Some(Piece::Problem(format!("unreadable chunk: {e}")))
        };
        let mut data = chunk_buffer();
        match read_at(&file, &mut data, chunk_offset(index)) {
            Ok(n) if n == data.len() => {}
            _ => {
                recycle_chunk_buffer(data);
                return unreadable(ChunkError::IncompleteChunk);
            }
        }
        if all_zero(&data) {
            recycle_chunk_buffer(data);
            return None;
        }
        match EvtxChunkData::new(data, VALIDATE_CHECKSUMS) {
            Ok(mut data) => {
                data.number = Some(index);
                Some(Piece::Chunk {
                    number,
                    data: Box::new(data),
                })
            }
            Err(e) => unreadable(e),
        }
    }
}

/// The chunks of an EVTX file in the order the `evtx` crate's chunk iterator yields them
/// (`EvtxParser::into_chunks`), found from the chunk headers alone: from the chunk whose
/// header names the lowest record ID (a log that has wrapped around starts anywhere) to the
/// last whole chunk, then from the first; all zero chunks passed over. Then, as
/// [`ChunkSource`], the bytes after the last whole chunk.
///
/// Whether a chunk without a header is all zeros is settled here, where it changes the
/// numbers of the chunks after it, except for those after the last chunk with a header: their
/// pieces settle it as they are read ([`PiecePlace::read`], on the scan's threads), as no
/// numbered chunk comes after them. Logs are made with their unused chunks at the end, zeros
/// (`datasets/evtx`: 13 of one file's 17 chunks), and reading them here held every other
/// worker of a scan waiting for its next piece (0.24 ms for that file).
struct ChunkWalk {
    file: Arc<File>,
    /// The chunks to hand out, by index in the file, in order.
    order: std::vec::IntoIter<u64>,
    /// Chunks handed out so far.
    yielded: u64,
    trailing_bytes: u64,
}

impl ChunkWalk {
    fn open(file: File) -> Result<ChunkWalk, String> {
        let len = file.metadata().map_err(|e| e.to_string())?.len();
        // Checks the file header as the reader does (same errors).
        let parser = EvtxParser::from_read_seek(&file).map_err(|e| e.to_string())?;
        // The crate's count (the header's block size, 4096 in any log seen, is its start)
        // and the whole chunks there are: it reads the first, and on to the second.
        let block = u64::from(parser.header().header_block_size);
        let counted = len.saturating_sub(block) / CHUNK_SIZE;
        let whole = counted.max(len.saturating_sub(HEADER_SIZE) / CHUNK_SIZE);
        let mut headers = Vec::new();
        let mut header = [0u8; CHUNK_HEADER_SIZE];
        for index in 0..counted {
            match read_at(&file, &mut header, chunk_offset(index)) {
                Ok(n) if n == header.len() => headers.push(header),
                _ => break,
            }
        }
        let oldest = oldest_chunk(&headers);
        let walk: Vec<u64> = (oldest..whole).chain(0..oldest).collect();
        let known = |index: u64| headers.get(index as usize).is_some_and(|h| !all_zero(h));
        let unsettled = walk.iter().rposition(|&i| known(i)).map_or(0, |at| at + 1);
        let mut order = Vec::with_capacity(walk.len());
        for (at, &index) in walk.iter().enumerate() {
            if at >= unsettled || known(index) || !chunk_is_all_zero(&file, index) {
                order.push(index);
            }
        }
        Ok(ChunkWalk {
            file: Arc::new(file),
            order: order.into_iter(),
            yielded: 0,
            trailing_bytes: len.saturating_sub(HEADER_SIZE) % CHUNK_SIZE,
        })
    }
}

impl Iterator for ChunkWalk {
    type Item = PiecePlace;

    fn next(&mut self) -> Option<PiecePlace> {
        let Some(index) = self.order.next() else {
            let bytes = std::mem::take(&mut self.trailing_bytes);
            return (bytes > 0).then(|| PiecePlace::Problem(trailing_bytes_message(bytes)));
        };
        self.yielded += 1;
        Some(PiecePlace::Chunk {
            file: Arc::clone(&self.file),
            index,
            number: self.yielded,
        })
    }
}

/// What the bytes after the last whole chunk are reported as.
fn trailing_bytes_message(bytes: u64) -> String {
    format!(
        "the file ends {bytes} bytes into a 64 KiB chunk (truncated copy?); that chunk is not read"
    )
}

/// The chunk holding the oldest records, as `EvtxParser::oldest_chunk` finds it: the first
/// whose header names the lowest first record ID, among headers whose range is not reversed.
fn oldest_chunk(headers: &[[u8; CHUNK_HEADER_SIZE]]) -> u64 {
    let mut oldest = (u64::MAX, 0);
    for (index, header) in (0u64..).zip(headers) {
        if let Ok(chunk) = EvtxChunkHeader::from_bytes(header) {
            if chunk.first_event_record_id <= chunk.last_event_record_id
                && chunk.first_event_record_id < oldest.0
            {
                oldest = (chunk.first_event_record_id, index);
            }
        }
    }
    oldest.1
}

/// A chunk whose header is all zeros: is the rest too? (The crate passes over such a chunk
/// without counting it, so it is settled before the chunks are numbered.) A chunk that cannot
/// be read is not: it is reported when its piece is read.
fn chunk_is_all_zero(file: &File, index: u64) -> bool {
    let mut data = vec![0; CHUNK_SIZE as usize];
    matches!(read_at(file, &mut data, chunk_offset(index)), Ok(n) if n == data.len())
        && all_zero(&data)
}

fn chunk_offset(index: u64) -> u64 {
    HEADER_SIZE + index * CHUNK_SIZE
}

/// Whether every byte is zero (a block at a time, so the loop vectorises and still stops
/// early on a chunk with data).
fn all_zero(bytes: &[u8]) -> bool {
    bytes
        .chunks(512)
        .all(|block| block.iter().fold(0, |any, &b| any | b) == 0)
}

/// Reads into `buf` from `offset` until it is full or the file ends; returns the bytes read.
/// Positional, so several threads read one file at once.
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match positional_read(file, &mut buf[done..], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(unix)]
fn positional_read(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn positional_read(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}
