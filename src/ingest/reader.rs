//! [`FileReader`]: one input file as a stream of [`Item`]s, with the resume point the
//! modular input checkpoints.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use flate2::read::MultiGzDecoder;

use super::crowdstrike::{self, Parsed};
use super::csv::Header;
use super::evtx::{EvtxOpenError, EvtxRecords, Record};
use super::format::{self, Format, TextEncoding, GZIP_MAGIC};
use super::framing::{Delimiter, Frame, Framer, MAX_RECORD};
use super::windows::WinEvent;
use super::{json, xml, IngestError, Position, ProcessRow};

/// A process-creation event, normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessEvent {
    /// Where the record starts: byte offset (plain text) or record number (EVTX, `.gz`).
    pub position: Position,
    /// The source's own record id (`EventRecordID`, CrowdStrike `id`), empty if none; for
    /// de-duplication.
    pub record_id: String,
    pub row: ProcessRow,
}

/// A well-formed record that is not a process creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedRecord {
    pub position: Position,
    /// Windows `EventID` (with the provider when it is 1 or 4688 from an unexpected one),
    /// or CrowdStrike `event_simpleName`.
    pub event_id: String,
}

/// A record that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedRecord {
    pub position: Position,
    pub message: String,
}

/// What a reader yields, one per record.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Process(ProcessEvent),
    Skipped(SkippedRecord),
    /// A bad record; reading goes on with the next one.
    Malformed(MalformedRecord),
    /// The file could not be read any further (I/O error, corrupt compression); this is
    /// the last item.
    Unreadable(MalformedRecord),
}

/// How to open a file.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Force a format instead of detecting it from the content.
    pub format: Option<Format>,
    /// Where to start: a resume point from [`FileReader::resume_point`]. `None` = the start.
    pub resume: Option<Position>,
    /// Follow mode (for files still being written): a record that is incomplete at the end
    /// of the file is left unread, and the resume point stays before it, instead of being
    /// reported malformed.
    pub follow: bool,
}

/// A streaming reader over one file. Memory use is bounded by the largest record (at most
/// 16 MiB) or one EVTX chunk, whatever the size of the file.
pub struct FileReader {
    path: PathBuf,
    format: Format,
    compressed: bool,
    follow: bool,
    inner: Inner,
    pending: VecDeque<Item>,
    /// Records consumed from the start of the file (by-record addressing).
    records: u64,
    /// Byte offset after the last complete record (plain text).
    offset: u64,
    finished: bool,
    bytes_read: Arc<AtomicU64>,
}

enum Inner {
    Text(TextSource),
    Evtx(Box<EvtxRecords>),
}

struct TextSource {
    framer: Framer<Box<dyn Read + Send>>,
    encoding: TextEncoding,
    csv_header: Option<Header>,
}

/// Counts bytes taken from the file (compressed bytes for `.gz`), for progress bars.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

const HEAD_LEN: usize = 8192;

/// Detects the format of a file from its content (gzip is looked through).
pub fn detect_format(path: &Path) -> Result<Format, IngestError> {
    let (head, _) = read_head(path)?;
    format::detect(&head).map_err(|reason| IngestError::UnknownFormat {
        path: path.to_path_buf(),
        reason,
    })
}

/// The first bytes of the (decompressed) file and whether it is gzip.
fn read_head(path: &Path) -> Result<(Vec<u8>, bool), IngestError> {
    let open_err = |source| IngestError::Open {
        path: path.to_path_buf(),
        source,
    };
    let read_err = |source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(open_err)?;
    let mut head = Vec::with_capacity(HEAD_LEN);
    (&mut file)
        .take(HEAD_LEN as u64)
        .read_to_end(&mut head)
        .map_err(read_err)?;
    if !head.starts_with(GZIP_MAGIC) {
        return Ok((head, false));
    }
    file.seek(SeekFrom::Start(0)).map_err(read_err)?;
    let mut inflated = Vec::with_capacity(HEAD_LEN);
    // A truncated gzip stream still yields its first bytes; an error here with nothing
    // decoded means the file is no gzip at all.
    let mut decoder = MultiGzDecoder::new(BufReader::new(file)).take(HEAD_LEN as u64);
    let mut block = [0u8; 4096];
    loop {
        match decoder.read(&mut block) {
            Ok(0) => break,
            Ok(n) => inflated.extend_from_slice(&block[..n]),
            Err(e) if inflated.is_empty() => return Err(read_err(e)),
            Err(_) => break,
        }
    }
    Ok((inflated, true))
}

impl FileReader {
    /// Opens `path`, detecting its format unless one is forced, and positions it at
    /// `options.resume`.
    pub fn open(path: &Path, options: &OpenOptions) -> Result<FileReader, IngestError> {
        let (head, compressed) = read_head(path)?;
        let format = match options.format {
            Some(f) => f,
            None => format::detect(&head).map_err(|reason| IngestError::UnknownFormat {
                path: path.to_path_buf(),
                reason,
            })?,
        };
        let file = File::open(path).map_err(|source| IngestError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let opening = Opening {
            path,
            file: Some(file),
            format,
            compressed,
            resume: options
                .resume
                .unwrap_or(Position::start(compressed || format == Format::Evtx)),
            follow: options.follow,
        };
        if format == Format::Evtx {
            opening.evtx()
        } else {
            opening.text(&head)
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the file is gzip-compressed.
    pub fn is_compressed(&self) -> bool {
        self.compressed
    }

    /// Where to resume after the items yielded so far: the byte offset just after the last
    /// complete record for plain text files, the number of records consumed for EVTX and
    /// gzip. Pass it back in [`OpenOptions::resume`].
    pub fn resume_point(&self) -> Position {
        if self.compressed || self.format == Format::Evtx {
            Position::Record(self.records)
        } else {
            Position::Offset(self.offset)
        }
    }

    /// Bytes of the file read so far (compressed bytes for gzip), for progress display.
    pub fn bytes_read(&self) -> u64 {
        match &self.inner {
            Inner::Evtx(records) => records.bytes_read(),
            Inner::Text(_) => self.bytes_read.load(Ordering::Relaxed),
        }
    }

    /// Passes over records without parsing them, up to `to`: a number of records, or — for a
    /// gzip file — a byte offset of its decompressed text, which must fall between records.
    fn skip_text(&mut self, to: Position) -> Result<(), IngestError> {
        let Inner::Text(text) = &mut self.inner else {
            return Ok(());
        };
        let reached = |records: u64, offset: u64| match to {
            Position::Record(n) => records >= n,
            Position::Offset(o) => offset >= o,
        };
        while !reached(self.records, text.framer.offset()) {
            let frame = match text.framer.next_frame() {
                Ok(frame) => frame,
                Err(e)
                    if self.follow
                        && self.compressed
                        && e.kind() == io::ErrorKind::UnexpectedEof =>
                {
                    return Err(IngestError::Incomplete {
                        path: self.path.clone(),
                        reason: format!("the gzip stream ends before {to}; still being written?"),
                    })
                }
                Err(source) => {
                    return Err(IngestError::Read {
                        path: self.path.clone(),
                        source,
                    })
                }
            };
            match frame {
                Some(Frame::Record { bytes, offset }) => {
                    if !is_blank(bytes, text.encoding) {
                        self.records += 1;
                    }
                    if let Position::Offset(o) = to {
                        if offset + bytes.len() as u64 > o {
                            return Err(IngestError::Resume {
                                path: self.path.clone(),
                                position: to,
                                reason: "no record ends there".into(),
                            });
                        }
                    }
                }
                Some(Frame::Oversized { .. }) => self.records += 1,
                Some(Frame::Tail { .. }) | None => {
                    let reason = format!("the file holds only {} records", self.records);
                    return Err(if self.follow {
                        IngestError::Incomplete {
                            path: self.path.clone(),
                            reason: format!("{reason}, fewer than {to}"),
                        }
                    } else {
                        IngestError::Resume {
                            path: self.path.clone(),
                            position: to,
                            reason,
                        }
                    });
                }
            }
        }
        self.offset = text.framer.offset();
        Ok(())
    }

    fn position_of(&self, offset: u64) -> Position {
        if self.compressed {
            Position::Record(self.records)
        } else {
            Position::Offset(offset)
        }
    }

    /// Reads the next record and queues its items.
    fn advance(&mut self) -> Step {
        match &mut self.inner {
            Inner::Evtx(records) => {
                let Some((number, rendered)) = records.next() else {
                    return Step::End;
                };
                self.records = number;
                self.pending.push_back(evtx_item(number, rendered));
                Step::Queued
            }
            Inner::Text(_) => self.advance_text(),
        }
    }

    fn advance_text(&mut self) -> Step {
        let Inner::Text(text) = &mut self.inner else {
            return Step::End;
        };
        let encoding = text.encoding;
        let frame = match text.framer.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => return Step::End,
            Err(e) => return self.read_failed(e),
        };
        let (offset, bytes, complete) = match frame {
            Frame::Oversized { offset, len, lead } => {
                self.records += 1;
                self.offset = offset + len;
                // Point at the record, not at the blank bytes before it (as for other
                // records), keeping UTF-16 code-unit alignment.
                let lead = lead - lead % encoding.unit() as u64;
                let position = self.position_of(offset + lead);
                self.pending.push_back(Item::Malformed(MalformedRecord {
                    position,
                    message: format!(
                        "record of {len} bytes is longer than the {} MiB limit; skipped",
                        MAX_RECORD >> 20
                    ),
                }));
                return Step::Queued;
            }
            Frame::Record { offset, bytes } => (offset, bytes, true),
            Frame::Tail { offset, bytes } => (offset, bytes, false),
        };
        let end = offset + bytes.len() as u64;
        // A frame holding an `<Event` start is never filler; only other frames are decoded
        // to check.
        let starts = match self.format {
            Format::Xml => xml::event_starts(bytes, encoding),
            _ => Vec::new(),
        };
        let is_filler = self.format == Format::Xml
            && starts.is_empty()
            && xml::is_filler(&encoding.decode(bytes));
        if is_blank(bytes, encoding) || is_filler {
            if complete || !self.follow {
                self.offset = end;
            }
            return Step::Queued;
        }
        // A JSON line is whole once its object closes, newline or not: a writer that has
        // stopped may never add one.
        let complete = complete || (self.format.is_json_lines() && is_json_object(bytes));
        if !complete && self.follow {
            // Incomplete: leave it for later; the resume point stays before it.
            return Step::Wait;
        }
        self.records += 1;
        self.offset = end;
        let lead = leading_blank(bytes, encoding);
        let position = if self.compressed {
            Position::Record(self.records)
        } else {
            Position::Offset(offset + lead as u64)
        };
        if !complete && self.format == Format::Xml {
            self.pending.push_back(Item::Malformed(MalformedRecord {
                position,
                message: "incomplete <Event> at end of file (no </Event>)".into(),
            }));
            return Step::Queued;
        }
        let items = match self.format {
            Format::Xml => {
                xml_frame_items(bytes, &starts, offset, encoding, self.compressed, position)
            }
            Format::PublisherJson => vec![windows_item(json::parse_line(bytes), position)],
            Format::CrowdStrike => vec![crowdstrike_item(bytes, position)],
            Format::Csv => vec![csv_item(text.csv_header.as_ref(), bytes, position)],
            Format::Evtx => Vec::new(),
        };
        self.pending.extend(items);
        Step::Queued
    }

    /// A read error ends the file: gzip still being written is waited for in follow mode;
    /// anything else is reported as the last item.
    fn read_failed(&mut self, error: io::Error) -> Step {
        if self.follow && self.compressed && error.kind() == io::ErrorKind::UnexpectedEof {
            return Step::Wait;
        }
        let (position, message) = if self.compressed {
            (
                Position::Record(self.records + 1),
                format!("cannot read further (corrupt or truncated gzip?): {error}"),
            )
        } else {
            (
                Position::Offset(self.offset),
                format!("read error: {error}"),
            )
        };
        self.pending
            .push_back(Item::Unreadable(MalformedRecord { position, message }));
        self.finished = true;
        Step::Queued
    }
}

/// What one call to [`FileReader::advance`] did.
enum Step {
    /// Items were queued, or a blank frame passed over: call again.
    Queued,
    /// Follow mode: what follows is incomplete (a record without its end, a gzip stream cut
    /// short); nothing more until the file grows.
    Wait,
    /// The end of the file.
    End,
}

/// What [`FileReader::open`] knows before it builds the reader.
struct Opening<'a> {
    path: &'a Path,
    /// Taken by the reader being built.
    file: Option<File>,
    format: Format,
    compressed: bool,
    resume: Position,
    follow: bool,
}

impl Opening<'_> {
    fn resume_error(&self, reason: &str) -> IngestError {
        IngestError::Resume {
            path: self.path.to_path_buf(),
            position: self.resume,
            reason: reason.to_string(),
        }
    }

    fn take_file(&mut self) -> Result<File, IngestError> {
        self.file.take().ok_or_else(|| IngestError::Open {
            path: self.path.to_path_buf(),
            source: io::Error::other("the file was already taken"),
        })
    }

    fn reader(self, inner: Inner, offset: u64, bytes_read: Arc<AtomicU64>) -> FileReader {
        FileReader {
            path: self.path.to_path_buf(),
            format: self.format,
            compressed: self.compressed,
            follow: self.follow,
            inner,
            pending: VecDeque::new(),
            records: 0,
            offset,
            finished: false,
            bytes_read,
        }
    }

    fn evtx(mut self) -> Result<FileReader, IngestError> {
        if self.compressed {
            return Err(IngestError::Evtx {
                path: self.path.to_path_buf(),
                message: "gzip-compressed EVTX is not supported; decompress it first".into(),
            });
        }
        let skip = match self.resume {
            Position::Record(n) => n,
            Position::Offset(0) => 0,
            Position::Offset(_) => {
                return Err(self.resume_error("EVTX files resume by record number, not byte offset"))
            }
        };
        let file = self.take_file()?;
        let records = EvtxRecords::open(file, skip, self.follow).map_err(|e| match e {
            EvtxOpenError::Incomplete(reason) => IngestError::Incomplete {
                path: self.path.to_path_buf(),
                reason,
            },
            EvtxOpenError::Invalid(message) => IngestError::Evtx {
                path: self.path.to_path_buf(),
                message,
            },
        })?;
        let mut reader = self.reader(
            Inner::Evtx(Box::new(records)),
            0,
            Arc::new(AtomicU64::new(0)),
        );
        reader.records = skip;
        Ok(reader)
    }

    fn text(mut self, head: &[u8]) -> Result<FileReader, IngestError> {
        let (encoding, bom) = TextEncoding::sniff(head);
        let bytes_read = Arc::new(AtomicU64::new(0));
        // Where the framer starts: past the byte order mark, or at a plain file's offset.
        let file = self.take_file()?;
        let (source, base) = self.text_source(file, bom as u64, &bytes_read)?;
        let delimiter = match self.format {
            Format::Xml => Delimiter::Pattern {
                pattern: encoding.encode("</Event>"),
                unit: encoding.unit(),
            },
            Format::Csv => Delimiter::CsvRow,
            Format::PublisherJson if format::json_is_pretty(head) => Delimiter::JsonValue,
            _ => Delimiter::Line,
        };
        let mut text = TextSource {
            framer: Framer::new(source, delimiter, base),
            encoding,
            csv_header: None,
        };
        if self.format == Format::Csv {
            let mid_file = !self.compressed && matches!(self.resume, Position::Offset(o) if o > 0);
            text.csv_header = Some(read_csv_header(self.path, mid_file, &mut text)?);
        }
        // Still to pass over: records, or (gzip) decompressed bytes.
        let skip = match self.resume {
            Position::Offset(_) if !self.compressed => None,
            Position::Offset(o) if o <= base => None,
            other => Some(other),
        };
        let offset = text.framer.offset();
        let mut reader = self.reader(Inner::Text(text), offset, bytes_read);
        if let Some(to) = skip {
            reader.skip_text(to)?;
        }
        Ok(reader)
    }

    /// The decompressed or plain byte stream, and the text offset it starts at.
    fn text_source(
        &self,
        mut file: File,
        bom: u64,
        bytes_read: &Arc<AtomicU64>,
    ) -> Result<(Box<dyn Read + Send>, u64), IngestError> {
        let read_err = |source| IngestError::Read {
            path: self.path.to_path_buf(),
            source,
        };
        if self.compressed {
            let counting = Counting {
                inner: file,
                count: Arc::clone(bytes_read),
            };
            let mut decoder = MultiGzDecoder::new(BufReader::new(counting));
            skip_exact(&mut decoder, bom).map_err(read_err)?;
            return Ok((Box::new(decoder), bom));
        }
        let start = match self.resume {
            Position::Offset(o) => o,
            Position::Record(_) => 0,
        };
        let len = file.metadata().map_err(read_err)?.len();
        if start > len {
            return Err(
                self.resume_error("the file is shorter than the resume offset (truncated?)")
            );
        }
        let begin = start.max(bom);
        file.seek(SeekFrom::Start(begin)).map_err(read_err)?;
        bytes_read.store(begin, Ordering::Relaxed);
        let counting = Counting {
            inner: file,
            count: Arc::clone(bytes_read),
        };
        Ok((Box::new(counting), begin))
    }
}

impl Iterator for FileReader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.finished {
                return None;
            }
            match self.advance() {
                Step::Queued => {}
                Step::Wait | Step::End => {
                    self.finished = true;
                    return None;
                }
            }
        }
    }
}

/// Reads the CSV header, which is always at the start of the file. When resuming
/// mid-file it is read through a second handle and the framer is left where it is.
fn read_csv_header(
    path: &Path,
    mid_file: bool,
    text: &mut TextSource,
) -> Result<Header, IngestError> {
    let header_error = || IngestError::CsvHeader {
        path: path.to_path_buf(),
    };
    let read_error = |source| IngestError::Read {
        path: path.to_path_buf(),
        source,
    };
    fn first_frame<R: Read>(framer: &mut Framer<R>) -> io::Result<Option<Header>> {
        Ok(match framer.next_frame()? {
            Some(Frame::Record { bytes, .. } | Frame::Tail { bytes, .. }) => {
                Header::parse(strip_bom(bytes)).ok().flatten()
            }
            _ => None,
        })
    }
    let header = if mid_file {
        let file = File::open(path).map_err(|source| IngestError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let mut framer = Framer::new(BufReader::new(file), Delimiter::CsvRow, 0);
        first_frame(&mut framer).map_err(read_error)?
    } else {
        first_frame(&mut text.framer).map_err(read_error)?
    };
    header.ok_or_else(header_error)
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(bytes)
}

fn skip_exact(reader: &mut impl Read, n: u64) -> io::Result<()> {
    io::copy(&mut reader.take(n), &mut io::sink()).map(|_| ())
}

fn is_blank(bytes: &[u8], encoding: TextEncoding) -> bool {
    leading_blank(bytes, encoding) == bytes.len()
}

/// Bytes of whitespace (and NULs of UTF-16 whitespace) at the start of a frame.
fn leading_blank(bytes: &[u8], encoding: TextEncoding) -> usize {
    let unit = encoding.unit();
    let mut i = 0;
    while i + unit <= bytes.len() {
        let c = encoding.decode(&bytes[i..i + unit]);
        if !c.chars().all(char::is_whitespace) {
            break;
        }
        i += unit;
    }
    i
}

/// The items of one XML frame: normally one event; an `<Event` that another `<Event`
/// follows before any `</Event>` was cut short and is reported malformed.
fn xml_frame_items(
    bytes: &[u8],
    starts: &[usize],
    offset: u64,
    encoding: TextEncoding,
    compressed: bool,
    position: Position,
) -> Vec<Item> {
    let at = |i: usize| {
        if compressed {
            position
        } else {
            Position::Offset(offset + i as u64)
        }
    };
    let Some(&last) = starts.last() else {
        return vec![Item::Malformed(MalformedRecord {
            position,
            message: "</Event> without a matching <Event> start tag".into(),
        })];
    };
    let mut items = Vec::new();
    let first = starts.first().copied().unwrap_or(last);
    if !xml::is_filler(&encoding.decode(&bytes[..first])) {
        items.push(Item::Malformed(MalformedRecord {
            position,
            message: "unexpected text before <Event>".into(),
        }));
    }
    for pair in starts.windows(2) {
        items.push(Item::Malformed(MalformedRecord {
            position: at(pair[0]),
            message: "truncated <Event>: another <Event> starts before it ends".into(),
        }));
    }
    let event_text = encoding.decode(&bytes[last..]);
    items.push(windows_item(
        xml::parse_event(&event_text, keep_data),
        at(last),
    ));
    items
}

/// The item for EVTX record `number`: its XML read, or skipped unrendered, or bad.
pub(super) fn evtx_item(number: u64, record: Record) -> Item {
    let position = Position::Record(number);
    match record {
        Record::Xml(xml_text) => windows_item(xml::parse_event(&xml_text, keep_data), position),
        Record::Skipped(event_id) => Item::Skipped(SkippedRecord { position, event_id }),
        Record::Bad(message) => Item::Malformed(MalformedRecord { position, message }),
    }
}

/// Only process events need their EventData parsed.
fn keep_data(event: &WinEvent) -> bool {
    event.process_source().is_some()
}

fn windows_item(parsed: Result<WinEvent, String>, position: Position) -> Item {
    match parsed {
        Err(message) => Item::Malformed(MalformedRecord { position, message }),
        Ok(event) => match event.process_source() {
            Some(source) => Item::Process(ProcessEvent {
                position,
                row: event.to_row(source),
                record_id: event.record_id,
            }),
            None => Item::Skipped(SkippedRecord {
                position,
                event_id: event.skip_label(),
            }),
        },
    }
}

fn csv_item(header: Option<&Header>, bytes: &[u8], position: Position) -> Item {
    let row = match header {
        Some(header) => header.row(bytes),
        None => Err("no CSV header".to_string()),
    };
    match row {
        Ok(row) => Item::Process(ProcessEvent {
            position,
            record_id: String::new(),
            row,
        }),
        Err(message) => Item::Malformed(MalformedRecord { position, message }),
    }
}

/// Whether `bytes` hold one whole JSON object (and nothing but blanks after it).
fn is_json_object(bytes: &[u8]) -> bool {
    let trimmed = bytes.trim_ascii();
    trimmed.first() == Some(&b'{')
        && trimmed.last() == Some(&b'}')
        && serde_json::from_slice::<serde::de::IgnoredAny>(trimmed).is_ok()
}

fn crowdstrike_item(bytes: &[u8], position: Position) -> Item {
    match crowdstrike::parse_line(bytes) {
        Ok(Parsed::Process { row, record_id }) => Item::Process(ProcessEvent {
            position,
            record_id,
            row,
        }),
        Ok(Parsed::Other { event_name }) => Item::Skipped(SkippedRecord {
            position,
            event_id: event_name,
        }),
        Err(message) => Item::Malformed(MalformedRecord { position, message }),
    }
}
