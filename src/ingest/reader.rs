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
use super::evtx::EvtxRecords;
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
        let by_record = compressed || format == Format::Evtx;
        let resume = options.resume.unwrap_or(Position::start(by_record));
        let resume_error = |reason: &str| IngestError::Resume {
            path: path.to_path_buf(),
            position: resume,
            reason: reason.to_string(),
        };
        let (skip_records, start_offset) = match resume {
            Position::Record(n) => (n, 0),
            Position::Offset(0) => (0, 0),
            Position::Offset(_) if by_record => {
                return Err(resume_error(
                    "EVTX and gzip files resume by record number, not byte offset",
                ))
            }
            Position::Offset(o) => (0, o),
        };
        let open_err = |source| IngestError::Open {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(open_err)?;
        let bytes_read = Arc::new(AtomicU64::new(0));

        let inner = if format == Format::Evtx {
            if compressed {
                return Err(IngestError::Evtx {
                    path: path.to_path_buf(),
                    message: "gzip-compressed EVTX is not supported; decompress it first".into(),
                });
            }
            let records =
                EvtxRecords::open(file, skip_records).map_err(|message| IngestError::Evtx {
                    path: path.to_path_buf(),
                    message,
                })?;
            Inner::Evtx(Box::new(records))
        } else {
            let (encoding, bom) = TextEncoding::sniff(&head);
            let mut file = file;
            let read_err = |source| IngestError::Read {
                path: path.to_path_buf(),
                source,
            };
            let source: Box<dyn Read + Send> = if compressed {
                let counting = Counting {
                    inner: file,
                    count: Arc::clone(&bytes_read),
                };
                let mut decoder = MultiGzDecoder::new(BufReader::new(counting));
                skip_exact(&mut decoder, bom as u64).map_err(read_err)?;
                Box::new(decoder)
            } else {
                let len = file.metadata().map_err(read_err)?.len();
                if start_offset > len {
                    return Err(resume_error(
                        "the file is shorter than the resume offset (truncated?)",
                    ));
                }
                let begin = start_offset.max(bom as u64);
                file.seek(SeekFrom::Start(begin)).map_err(read_err)?;
                bytes_read.store(begin, Ordering::Relaxed);
                Box::new(Counting {
                    inner: file,
                    count: Arc::clone(&bytes_read),
                })
            };
            let base = if compressed {
                bom as u64
            } else {
                start_offset.max(bom as u64)
            };
            let delimiter = match format {
                Format::Xml => Delimiter::Pattern {
                    pattern: encoding.encode("</Event>"),
                    unit: encoding.unit(),
                },
                Format::Csv => Delimiter::CsvRow,
                Format::PublisherJson if format::json_is_pretty(&head) => Delimiter::JsonValue,
                _ => Delimiter::Line,
            };
            let mut text = TextSource {
                framer: Framer::new(source, delimiter, base),
                encoding,
                csv_header: None,
            };
            if format == Format::Csv {
                text.csv_header = Some(read_csv_header(path, start_offset, &mut text)?);
            }
            Inner::Text(text)
        };

        let mut reader = FileReader {
            path: path.to_path_buf(),
            format,
            compressed,
            follow: options.follow,
            inner,
            pending: VecDeque::new(),
            records: 0,
            offset: start_offset,
            finished: false,
            bytes_read,
        };
        if let Inner::Text(_) = reader.inner {
            reader.skip_text_records(skip_records)?;
        } else {
            reader.records = skip_records;
        }
        Ok(reader)
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

    /// Passes over `n` records without parsing them (resume by record number).
    fn skip_text_records(&mut self, n: u64) -> Result<(), IngestError> {
        let Inner::Text(text) = &mut self.inner else {
            return Ok(());
        };
        while self.records < n {
            match text.framer.next_frame() {
                Ok(Some(Frame::Record { bytes, .. })) => {
                    if !is_blank(bytes, text.encoding) {
                        self.records += 1;
                    }
                }
                Ok(Some(Frame::Oversized { .. })) => self.records += 1,
                Ok(Some(Frame::Tail { .. })) | Ok(None) => {
                    return Err(IngestError::Resume {
                        path: self.path.clone(),
                        position: Position::Record(n),
                        reason: format!("the file holds only {} records", self.records),
                    })
                }
                Err(source) => {
                    return Err(IngestError::Read {
                        path: self.path.clone(),
                        source,
                    })
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

    /// Reads the next frame and queues its items; false at the end.
    fn advance(&mut self) -> bool {
        match &mut self.inner {
            Inner::Evtx(records) => {
                let Some((number, rendered)) = records.next() else {
                    return false;
                };
                self.records = number;
                let position = Position::Record(number);
                let item = match rendered {
                    Ok(xml_text) => windows_item(xml::parse_event(&xml_text, keep_data), position),
                    Err(message) => Item::Malformed(MalformedRecord { position, message }),
                };
                self.pending.push_back(item);
                true
            }
            Inner::Text(_) => self.advance_text(),
        }
    }

    fn advance_text(&mut self) -> bool {
        let Inner::Text(text) = &mut self.inner else {
            return false;
        };
        let frame = match text.framer.next_frame() {
            Ok(frame) => frame,
            Err(e)
                if self.follow && self.compressed && e.kind() == io::ErrorKind::UnexpectedEof =>
            {
                // A gzip file still being written: wait for the rest.
                return false;
            }
            Err(e) => {
                let position = if self.compressed {
                    Position::Record(self.records + 1)
                } else {
                    Position::Offset(self.offset)
                };
                let message = if self.compressed {
                    format!("cannot read further (corrupt or truncated gzip?): {e}")
                } else {
                    format!("read error: {e}")
                };
                self.pending
                    .push_back(Item::Unreadable(MalformedRecord { position, message }));
                self.finished = true;
                return true;
            }
        };
        let encoding = text.encoding;
        let (offset, bytes, complete) = match frame {
            None => return false,
            Some(Frame::Oversized { offset, len, lead }) => {
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
                return true;
            }
            Some(Frame::Record { offset, bytes }) => (offset, bytes, true),
            Some(Frame::Tail { offset, bytes }) => (offset, bytes, false),
        };
        // A frame holding an `<Event` start is never filler; only other frames are decoded
        // to check.
        let is_filler = self.format == Format::Xml
            && xml::event_starts(bytes, encoding).is_empty()
            && xml::is_filler(&encoding.decode(bytes));
        if is_blank(bytes, encoding) || is_filler {
            if complete || !self.follow {
                self.offset = offset + bytes.len() as u64;
            }
            return true;
        }
        if !complete && (self.follow || self.format == Format::Xml) {
            if self.follow {
                // Incomplete: leave it for later; the resume point stays before it.
                self.finished = true;
                return false;
            }
            self.records += 1;
            self.offset = offset + bytes.len() as u64;
            let position = if self.compressed {
                Position::Record(self.records)
            } else {
                Position::Offset(offset + leading_blank(bytes, encoding) as u64)
            };
            self.pending.push_back(Item::Malformed(MalformedRecord {
                position,
                message: "incomplete <Event> at end of file (no </Event>)".into(),
            }));
            return true;
        }
        self.records += 1;
        let new_offset = offset + bytes.len() as u64;
        let lead = leading_blank(bytes, encoding);
        let position = if self.compressed {
            Position::Record(self.records)
        } else {
            Position::Offset(offset + lead as u64)
        };
        let items = match self.format {
            Format::Xml => xml_frame_items(bytes, offset, encoding, self.compressed, position),
            Format::PublisherJson => vec![windows_item(json::parse_line(bytes), position)],
            Format::CrowdStrike => vec![crowdstrike_item(bytes, position)],
            Format::Csv => {
                let row = match &text.csv_header {
                    Some(header) => header.row(bytes),
                    None => Err("no CSV header".to_string()),
                };
                vec![match row {
                    Ok(row) => Item::Process(ProcessEvent {
                        position,
                        record_id: String::new(),
                        row,
                    }),
                    Err(message) => Item::Malformed(MalformedRecord { position, message }),
                }]
            }
            Format::Evtx => Vec::new(),
        };
        self.offset = new_offset;
        self.pending.extend(items);
        true
    }
}

impl Iterator for FileReader {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.finished || !self.advance() {
                self.finished = true;
                return None;
            }
        }
    }
}

/// Reads the CSV header, which is always at the start of the file. When resuming
/// mid-file it is read through a second handle and the framer is left where it is.
fn read_csv_header(
    path: &Path,
    start_offset: u64,
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
    let header = if start_offset > 0 {
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
    offset: u64,
    encoding: TextEncoding,
    compressed: bool,
    position: Position,
) -> Vec<Item> {
    let starts = xml::event_starts(bytes, encoding);
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
