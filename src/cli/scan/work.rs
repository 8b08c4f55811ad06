//! The unit of a scan's work: a whole file, or one piece of an EVTX file, read and matched on
//! one thread. What it finds goes out in record order as [`Found`] values (what the collector
//! writes or reports); its counts, which do not depend on order, come back as a [`Tally`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use indicatif::ProgressBar;

use super::detector::Detector;
use super::output::{Hit, Render, RenderedRow, RowScratch};
use super::MALFORMED_PRINT_LIMIT;
use crate::ingest::{
    detect_format, CimField, EvtxPiece, EvtxPieces, FileReader, Format, Item, OpenOptions, Position,
};
use crate::rules::sigma::DataSource;

/// One unit of work.
pub(super) enum Job {
    /// A whole file, through [`FileReader`].
    File,
    /// One piece of an EVTX file; its record numbers count from 1 within the piece.
    EvtxPiece(EvtxPiece),
}

/// A process event to write (it matched, or every event is written: `--all`), rendered.
pub(super) struct FoundRow {
    pub position: Position,
    pub rendered: RenderedRow,
}

/// What a job found that the collector writes or reports, in record order.
pub(super) enum Found {
    Row(Box<FoundRow>),
    Malformed {
        position: Position,
        message: String,
    },
    /// The file could not be read further; nothing follows from it.
    Unreadable {
        position: Position,
        message: String,
    },
    /// The file could not be opened (message names it).
    OpenFailed(String),
}

/// A job's counts.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub records: u64,
    pub process_events: u64,
    pub skipped: BTreeMap<String, u64>,
    /// Process events by data source (for the Sigma reach notes).
    pub by_source: BTreeMap<DataSource, u64>,
    pub malformed: u64,
    /// Malformed records counted but not sent as [`Found::Malformed`]: beyond the print
    /// limit, no collector would print them.
    pub malformed_unsent: u64,
    pub matched_rows: u64,
    /// Matches per rule index.
    pub per_rule: Vec<u64>,
    /// EVTX pieces: the records the piece holds (for numbering the next piece's records).
    pub piece_records: u64,
    /// EVTX pieces: the parser failed here, so later pieces of the file are left out.
    pub last_piece: bool,
}

/// The jobs for `files`, in order: each EVTX file (by `--format evtx` or by content) as its
/// pieces, every other file (and an EVTX file whose header cannot be read, which the
/// reader then reports) as one job. A file opened ahead (its entry in `opened`) is taken from
/// there; any other, and every file past the end of `opened`, is opened when the list comes
/// to it.
pub(super) fn jobs(
    files: &[PathBuf],
    format: Option<Format>,
    opened: Arc<[Opened]>,
) -> impl Iterator<Item = (usize, Job)> + Send + '_ {
    files.iter().enumerate().flat_map(move |(index, path)| {
        let pieces = match opened.get(index) {
            Some(opened) => take(path, format, opened),
            None => open(path, format),
        };
        let jobs: Box<dyn Iterator<Item = Job> + Send> = match pieces {
            Some(pieces) => Box::new(pieces.map(Job::EvtxPiece)),
            None => Box::new(std::iter::once(Job::File)),
        };
        jobs.map(move |job| (index, job))
    })
}

/// A file as [`jobs`] comes to it: not opened yet, opened ahead (by a worker while the rules
/// load), or taken (its jobs made). Taken, nothing of it is kept: an opened EVTX file holds a
/// descriptor.
#[derive(Default)]
pub(super) enum Opening {
    #[default]
    Closed,
    /// Its EVTX pieces, or `None`: one job (not EVTX, or an EVTX file whose header cannot
    /// be read).
    Open(Option<EvtxPieces>),
    Taken,
}

/// One file's [`Opening`], shared by the job list and the workers that open ahead.
pub(super) type Opened = Mutex<Opening>;

/// A closed [`Opened`] for each of `count` files.
pub(super) fn openings(count: usize) -> Arc<[Opened]> {
    (0..count).map(|_| Mutex::default()).collect()
}

/// Opens `path` ahead of its jobs, unless it is already.
pub(super) fn open_ahead(path: &Path, format: Option<Format>, opened: &Opened) {
    let mut opening = opened.lock().unwrap_or_else(PoisonError::into_inner);
    if matches!(*opening, Opening::Closed) {
        *opening = Opening::Open(open(path, format));
    }
}

/// `path`'s EVTX pieces (see [`Opening::Open`]): those opened ahead, or opened now.
fn take(path: &Path, format: Option<Format>, opened: &Opened) -> Option<EvtxPieces> {
    let mut opening = opened.lock().unwrap_or_else(PoisonError::into_inner);
    match std::mem::replace(&mut *opening, Opening::Taken) {
        Opening::Open(pieces) => pieces,
        Opening::Closed | Opening::Taken => open(path, format),
    }
}

fn open(path: &Path, format: Option<Format>) -> Option<EvtxPieces> {
    let evtx = match format {
        Some(f) => f == Format::Evtx,
        None => detect_format(path).is_ok_and(|f| f == Format::Evtx),
    };
    evtx.then(|| EvtxPieces::open(path).ok()).flatten()
}

/// What a job needs to match and render its rows: a detector of its own, the shared
/// renderer (both exist only once the rules are loaded) and the thread's rendering scratch.
pub(super) struct Matching<'r> {
    pub detector: &'r mut dyn Detector,
    pub render: &'r Render,
    pub scratch: RowScratch,
}

/// A whole file being read with [`FileReader`], and what the progress bar has been told.
struct FileStream {
    reader: FileReader,
    /// Bytes reported to the progress bar so far.
    shown: u64,
    /// Items read so far.
    count: u64,
}

/// Runs one job (the rules are loaded): an EVTX piece is decoded whole (one 64 KiB chunk),
/// then its records are matched; a whole file is read and matched item by item. What it
/// finds goes to `emit` in record order.
pub(super) fn run(
    job: Job,
    path: &Path,
    options: &super::ScanOptions,
    matching: &mut Matching<'_>,
    progress: &ProgressBar,
    emit: &mut dyn FnMut(Found),
) -> Tally {
    let mut tally = Tally {
        per_rule: vec![0; matching.detector.rule_names().len()],
        ..Tally::default()
    };
    // As the output shows it: rendered once, not per row.
    let shown = path.display().to_string();
    let mut take = |item, tally: &mut Tally| {
        take_item(item, &shown, options.all, matching, tally, emit);
    };
    match job {
        Job::EvtxPiece(piece) => {
            let decoded = piece.items();
            progress.inc(EVTX_CHUNK_BYTES);
            tally.piece_records = decoded.records;
            tally.last_piece = decoded.last;
            for item in decoded.items {
                take(item, &mut tally);
            }
        }
        Job::File => {
            let open = OpenOptions {
                format: options.format,
                ..OpenOptions::default()
            };
            match FileReader::open(path, &open) {
                Ok(reader) => {
                    let mut stream = FileStream {
                        reader,
                        shown: 0,
                        count: 0,
                    };
                    while let Some(item) = stream.next(progress) {
                        take(item, &mut tally);
                    }
                    let size = std::fs::metadata(path).map_or(0, |m| m.len());
                    progress.inc(size.saturating_sub(stream.shown));
                }
                Err(e) => emit(Found::OpenFailed(e.to_string())),
            }
        }
    }
    tally
}

/// What a progress bar counts for one EVTX piece.
const EVTX_CHUNK_BYTES: u64 = 65536;

impl FileStream {
    /// The next item, telling the progress bar how far the file is read every 4096 items.
    fn next(&mut self, progress: &ProgressBar) -> Option<Item> {
        let item = self.reader.next()?;
        self.count += 1;
        if self.count.is_multiple_of(4096) {
            let read = self.reader.bytes_read();
            progress.inc(read.saturating_sub(self.shown));
            self.shown = read.max(self.shown);
        }
        Some(item)
    }
}

/// Counts one item and sends what the collector needs of it.
fn take_item(
    item: Item,
    shown_path: &str,
    all: bool,
    matching: &mut Matching<'_>,
    tally: &mut Tally,
    emit: &mut dyn FnMut(Found),
) {
    match item {
        Item::Process(event) => {
            tally.records += 1;
            tally.process_events += 1;
            let vendor = event.row.get(CimField::VendorProduct);
            *tally
                .by_source
                .entry(DataSource::from_vendor_product(vendor))
                .or_default() += 1;
            let detection = matching.detector.detect(&event.row);
            if let Some(d) = &detection {
                tally.matched_rows += 1;
                for &rule in d.rules() {
                    if let Some(n) = tally.per_rule.get_mut(rule) {
                        *n += 1;
                    }
                }
            }
            if detection.is_some() || all {
                let hit = Hit {
                    file: shown_path,
                    record_id: &event.record_id,
                    row: &event.row,
                    detection: detection.as_ref(),
                };
                emit(Found::Row(Box::new(FoundRow {
                    position: event.position,
                    rendered: matching.render.row(&hit, &mut matching.scratch),
                })));
            }
        }
        Item::Skipped(skipped) => {
            tally.records += 1;
            *tally.skipped.entry(skipped.event_id).or_default() += 1;
        }
        Item::Malformed(bad) => {
            tally.records += 1;
            tally.malformed += 1;
            if tally.malformed <= MALFORMED_PRINT_LIMIT {
                emit(Found::Malformed {
                    position: bad.position,
                    message: bad.message,
                });
            } else {
                tally.malformed_unsent += 1;
            }
        }
        Item::Unreadable(bad) => emit(Found::Unreadable {
            position: bad.position,
            message: bad.message,
        }),
    }
}
