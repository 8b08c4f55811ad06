//! The unit of a scan's work: a whole file, or one piece of an EVTX file, read and matched on
//! one thread. What it finds goes out in record order as [`Found`] values (what the collector
//! writes or reports); its counts, which do not depend on order, come back as a [`Tally`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;

use super::detector::Detector;
use super::output::{Hit, RenderedRow};
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
/// reader then reports) as one job.
pub(super) fn jobs(
    files: &[PathBuf],
    format: Option<Format>,
) -> impl Iterator<Item = (usize, Job)> + '_ {
    files.iter().enumerate().flat_map(move |(index, path)| {
        let evtx = match format {
            Some(f) => f == Format::Evtx,
            None => detect_format(path).is_ok_and(|f| f == Format::Evtx),
        };
        let pieces = evtx.then(|| EvtxPieces::open(path).ok()).flatten();
        let jobs: Box<dyn Iterator<Item = Job>> = match pieces {
            Some(pieces) => Box::new(pieces.map(Job::EvtxPiece)),
            None => Box::new(std::iter::once(Job::File)),
        };
        jobs.map(move |job| (index, job))
    })
}

/// Runs one job over `path` (the file it belongs to).
pub(super) fn run(
    job: Job,
    path: &Path,
    options: &super::ScanOptions,
    detector: &mut dyn Detector,
    progress: &ProgressBar,
    emit: &mut dyn FnMut(Found),
) -> Tally {
    let mut tally = Tally {
        per_rule: vec![0; detector.rule_names().len()],
        ..Tally::default()
    };
    match job {
        Job::EvtxPiece(piece) => {
            let decoded = piece.items();
            tally.piece_records = decoded.records;
            tally.last_piece = decoded.last;
            for item in decoded.items {
                take_item(item, path, options, detector, &mut tally, emit);
            }
            progress.inc(EVTX_CHUNK_BYTES);
        }
        Job::File => {
            let read = scan_file(path, options.format, progress, &mut |item| {
                take_item(item, path, options, detector, &mut tally, emit)
            });
            if let Err(message) = read {
                emit(Found::OpenFailed(message));
            }
        }
    }
    tally
}

/// What a progress bar counts for one EVTX piece.
const EVTX_CHUNK_BYTES: u64 = 65536;

/// Reads every record of one file with [`FileReader`], handing each item to `take`; `Err`
/// when the file cannot be opened.
fn scan_file(
    path: &Path,
    format: Option<Format>,
    progress: &ProgressBar,
    take: &mut dyn FnMut(Item),
) -> Result<(), String> {
    let open = OpenOptions {
        format,
        ..OpenOptions::default()
    };
    let mut reader = FileReader::open(path, &open).map_err(|e| e.to_string())?;
    let mut shown = 0;
    let mut count = 0u64;
    while let Some(item) = reader.next() {
        count += 1;
        if count.is_multiple_of(4096) {
            let read = reader.bytes_read();
            progress.inc(read.saturating_sub(shown));
            shown = read.max(shown);
        }
        take(item);
    }
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    progress.inc(size.saturating_sub(shown));
    Ok(())
}

/// Counts one item and sends what the collector needs of it.
fn take_item(
    item: Item,
    path: &Path,
    options: &super::ScanOptions,
    detector: &mut dyn Detector,
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
            let detection = detector.detect(&event.row);
            if let Some(d) = &detection {
                tally.matched_rows += 1;
                for &rule in &d.rules {
                    if let Some(n) = tally.per_rule.get_mut(rule) {
                        *n += 1;
                    }
                }
            }
            if detection.is_some() || options.all {
                let hit = Hit {
                    file: path,
                    record_id: &event.record_id,
                    row: &event.row,
                    detection: detection.as_ref(),
                };
                emit(Found::Row(Box::new(FoundRow {
                    position: event.position,
                    rendered: options.render.row(&hit),
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
