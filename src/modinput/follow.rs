//! The follow loop: discover files, read each from its checkpoint in batches, write a batch,
//! flush stdout, then save the checkpoint. Keeps following files that grow, picks up new ones,
//! recognises renamed (rotated) files by identity, and starts over on truncated ones.

use std::collections::{BTreeMap, HashSet};
use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

use super::checkpoint::{CheckpointError, FileState, State, Store};
use super::discovery::{self, Candidate, HEAD_BYTES};
use super::event_writer::{json_body, EventWriter, OutEvent};
use super::log;
use super::params::Params;
use super::saved::{Match, SavedFiles};
use super::signals;
use super::source::{self, Item, Position, ProcessRecord, Source};

/// Files held open at once. Beyond this, files read to their end are closed and kept as
/// saved entries; an unchanged one then costs one `stat` per poll, and one that grows is
/// reopened and resumed like after a restart.
const MAX_OPEN_FILES: usize = 256;
/// A file whose format cannot be recognised is reported once it holds at least this much;
/// shorter ones may simply not have their first record yet.
const UNRECOGNISED_GRACE_BYTES: u64 = 4096;

/// Adds detection fields to a process record (`annotate = true`); returns `(field, values)`.
pub type Annotator = Box<dyn FnMut(&ProcessRecord) -> Vec<(String, Vec<String>)>>;

/// Why the loop ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A stop signal arrived (or, in [`Follower::run_until_idle`], nothing was left to read).
    Stopped,
    /// splunkd closed our stdout; nothing more can be delivered.
    OutputClosed,
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error("writing events to stdout: {0}")]
    Output(io::Error),
}

/// Counters for the closing log line and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub events: u64,
    pub skipped_by_event_id: BTreeMap<String, u64>,
    pub malformed: u64,
    pub batches: u64,
}

struct Tracked {
    path: PathBuf,
    file: File,
    dev: u64,
    ino: u64,
    head_len: u64,
    head_crc: u32,
    position: Position,
    resumes_by_offset: bool,
    last_record_id: Option<String>,
    reader: Option<Source>,
    /// An error opening this file was logged; not repeated until a read succeeds.
    reported: bool,
    /// File length when reading last ran out of complete records; nothing to do until it
    /// changes.
    idle_len: Option<u64>,
    /// Seen by the latest discovery. A file that vanished from the pattern (rotated away,
    /// deleted) is still read to its end through the open handle, then dropped.
    present: bool,
}

impl Tracked {
    fn to_state(&self, now: u64) -> FileState {
        FileState {
            path: self.path.display().to_string(),
            dev: self.dev,
            ino: self.ino,
            head_len: self.head_len,
            head_crc: self.head_crc,
            position: self.position,
            resumes_by_offset: self.resumes_by_offset,
            last_record_id: self.last_record_id.clone(),
            size: if self.reader.is_none() {
                self.idle_len.unwrap_or(0)
            } else {
                0
            },
            mtime_ns: self
                .file
                .metadata()
                .map(|m| discovery::mtime_ns(&m))
                .unwrap_or(0),
            last_seen: now,
        }
    }

    /// Starts the file over, with a fresh fingerprint of its new content.
    fn restart(&mut self, why: &str) {
        log::warn(&format!(
            "{}: {why}; reading it again from the start",
            self.path.display()
        ));
        if let Ok((len, crc)) = discovery::fingerprint(&self.file) {
            (self.head_len, self.head_crc) = (len, crc);
        }
        self.position = Position::default();
        self.resumes_by_offset = true;
        self.last_record_id = None;
        self.reader = None;
        self.idle_len = None;
    }
}

pub struct Follower<W: Write> {
    params: Params,
    store: Store,
    tracked: Vec<Tracked>,
    /// Saved entries of files not open.
    saved: SavedFiles,
    writer: EventWriter<W>,
    annotator: Option<Annotator>,
    last_problems: Vec<String>,
    pub stats: Stats,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl<W: Write> Follower<W> {
    pub fn new(
        params: Params,
        store: Store,
        out: W,
        annotator: Option<Annotator>,
    ) -> Result<Self, FollowError> {
        let (state, note) = store.load()?;
        if let Some(note) = note {
            log::error(&note);
        }
        Ok(Follower {
            params,
            store,
            tracked: Vec::new(),
            saved: SavedFiles::new(state.files),
            writer: EventWriter::new(out),
            annotator,
            last_problems: Vec::new(),
            stats: Stats::default(),
        })
    }

    /// Follows until a stop signal, then finishes the stream.
    pub fn run(&mut self) -> Result<Outcome, FollowError> {
        loop {
            if signals::stop_requested() {
                return self.finish();
            }
            let progressed = match self.poll() {
                Ok(progressed) => progressed,
                Err(Interrupt::OutputClosed) => return Ok(Outcome::OutputClosed),
                Err(Interrupt::Error(e)) => return Err(e),
            };
            if !progressed {
                signals::sleep_unless_stopped(self.params.poll_interval);
            }
        }
    }

    /// Reads until a poll finds nothing new, then finishes the stream. For one-shot use and
    /// tests over static files.
    pub fn run_until_idle(&mut self) -> Result<Outcome, FollowError> {
        loop {
            match self.poll() {
                Ok(true) => {}
                Ok(false) => return self.finish(),
                Err(Interrupt::OutputClosed) => return Ok(Outcome::OutputClosed),
                Err(Interrupt::Error(e)) => return Err(e),
            }
        }
    }

    /// One poll (rediscover, one batch per file with new data); returns whether any record
    /// was consumed. Lets callers bound how long they drive the loop.
    pub fn poll_once(&mut self) -> Result<bool, FollowError> {
        match self.poll() {
            Ok(progressed) => Ok(progressed),
            Err(Interrupt::OutputClosed) => Err(FollowError::Output(io::Error::from(
                io::ErrorKind::BrokenPipe,
            ))),
            Err(Interrupt::Error(e)) => Err(e),
        }
    }

    pub fn into_output(self) -> W {
        self.writer.into_inner()
    }

    fn finish(&mut self) -> Result<Outcome, FollowError> {
        match self.writer.finish() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(Outcome::OutputClosed),
            Err(e) => return Err(FollowError::Output(e)),
        }
        self.save()?;
        Ok(Outcome::Stopped)
    }

    /// One round: rediscover, then one batch from each file with new data. Returns whether
    /// any record was consumed.
    fn poll(&mut self) -> Result<bool, Interrupt> {
        self.rescan();
        let mut progressed = false;
        let mut pending = Vec::new();
        let mut budget = self.params.batch_size;
        for i in 0..self.tracked.len() {
            if signals::stop_requested() {
                break;
            }
            let (consumed, update) = self.read_batch(i, budget);
            progressed |= consumed > 0;
            pending.extend(update);
            budget = budget.saturating_sub(consumed);
            if budget == 0 {
                self.commit(&mut pending)?;
                budget = self.params.batch_size;
            }
        }
        self.commit(&mut pending)?;
        self.drop_finished()?;
        Ok(progressed)
    }

    /// Delivers the batch (flush stdout), then records the new positions and saves them. If
    /// the flush fails nothing is recorded: the batch will be read again.
    fn commit(&mut self, pending: &mut Vec<Progress>) -> Result<(), Interrupt> {
        if pending.is_empty() {
            return Ok(());
        }
        match self.writer.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(Interrupt::OutputClosed),
            Err(e) => return Err(Interrupt::Error(FollowError::Output(e))),
        }
        for progress in pending.drain(..) {
            let Some(t) = self.tracked.get_mut(progress.file) else {
                continue;
            };
            t.position = progress.position;
            t.resumes_by_offset = progress.by_offset;
            if progress.last_record_id.is_some() {
                t.last_record_id = progress.last_record_id;
            }
        }
        self.stats.batches += 1;
        self.save().map_err(Interrupt::Error)
    }

    fn rescan(&mut self) {
        let (candidates, problems) = discovery::discover(&self.params);
        if problems != self.last_problems {
            for problem in &problems {
                log::warn(&format!("path {}: {problem}", self.params.path));
            }
            self.last_problems = problems;
        }
        for t in &mut self.tracked {
            t.present = false;
        }
        let now = unix_now();
        let open: HashSet<(u64, u64)> = self
            .tracked
            .iter()
            .map(|t| (t.dev, t.ino))
            .filter(|id| *id != (0, 0))
            .collect();
        let present: HashSet<(u64, u64)> = candidates.iter().map(|c| (c.dev, c.ino)).collect();
        let active = self.saved.active(&candidates, &open, now);
        for candidate in active {
            // Without device/inode numbers (non-Unix) a file is known by its path.
            let known = self.tracked.iter().position(|t| {
                if (candidate.dev, candidate.ino) == (0, 0) {
                    t.path == candidate.path
                } else {
                    (t.dev, t.ino) == (candidate.dev, candidate.ino)
                }
            });
            match known {
                Some(i) => self.recheck(i, candidate),
                None => self.start_tracking(candidate, &present),
            }
        }
    }

    /// Open files (for tests and the closing log line).
    pub fn open_files(&self) -> usize {
        self.tracked.len()
    }

    /// A file already open: follow a rename, notice truncation or rewrite, extend the head
    /// fingerprint while the file is still shorter than [`HEAD_BYTES`].
    fn recheck(&mut self, i: usize, candidate: &Candidate) {
        let t = &mut self.tracked[i];
        t.present = true;
        if t.path != candidate.path {
            log::info(&format!(
                "{} was renamed to {}; following it under the new name",
                t.path.display(),
                candidate.path.display()
            ));
            t.path = candidate.path.clone();
        }
        if t.resumes_by_offset && candidate.size < t.position.offset {
            t.restart("file is shorter than the checkpoint offset (truncated)");
        } else {
            match discovery::head_crc(&t.file, t.head_len) {
                Ok(Some(crc)) if crc == t.head_crc => {}
                Ok(_) => t.restart("the first bytes changed (file rewritten)"),
                Err(e) => log::warn(&format!("{}: {e}", t.path.display())),
            }
        }
        if t.head_len < HEAD_BYTES && candidate.size > t.head_len {
            if let Ok((len, crc)) = discovery::fingerprint(&t.file) {
                (t.head_len, t.head_crc) = (len, crc);
            }
        }
    }

    fn start_tracking(&mut self, candidate: &Candidate, present: &HashSet<(u64, u64)>) {
        let file = match File::open(&candidate.path) {
            Ok(file) => file,
            Err(e) => {
                log::warn(&format!("{}: cannot open: {e}", candidate.path.display()));
                return;
            }
        };
        let Ok(meta) = file.metadata() else {
            return;
        };
        // An empty file has no identity yet; wait until something is written to it.
        if meta.len() == 0 {
            return;
        }
        let (dev, ino) = discovery::file_id(&meta);
        // The path may have been renamed onto a file already followed since it was listed.
        if (dev, ino) != (0, 0) && self.tracked.iter().any(|t| (t.dev, t.ino) == (dev, ino)) {
            return;
        }
        let (head_len, head_crc) = match discovery::fingerprint(&file) {
            Ok(fp) => fp,
            Err(e) => {
                log::warn(&format!("{}: cannot read: {e}", candidate.path.display()));
                return;
            }
        };
        let found = self
            .saved
            .take_match(&candidate.path, &file, meta.len(), (dev, ino), present);
        let (position, resumes_by_offset, last_record_id) = match found {
            Match::Resume(entry) => {
                let at = if entry.resumes_by_offset {
                    format!("at byte {}", entry.position.offset)
                } else {
                    format!("after record {}", entry.position.records)
                };
                log::info(&format!(
                    "{}: resuming {at} (last record id {})",
                    candidate.path.display(),
                    entry.last_record_id.as_deref().unwrap_or("-")
                ));
                (
                    entry.position,
                    entry.resumes_by_offset,
                    entry.last_record_id,
                )
            }
            Match::Rewritten(entry) => {
                log::warn(&format!(
                    "{}: same inode as the checkpointed {} but different content; reading it \
                     from the start",
                    candidate.path.display(),
                    entry.path
                ));
                (Position::default(), true, None)
            }
            Match::New => {
                log::info(&format!("{}: new file", candidate.path.display()));
                (Position::default(), true, None)
            }
        };
        self.tracked.push(Tracked {
            path: candidate.path.clone(),
            file,
            dev,
            ino,
            head_len,
            head_crc,
            position,
            resumes_by_offset,
            last_record_id,
            reader: None,
            reported: false,
            idle_len: None,
            present: true,
        });
    }

    /// Reads up to `batch_size` records from file `i` into the pending batch; returns how
    /// many it consumed and where the file will stand once the batch is delivered.
    fn read_batch(&mut self, i: usize, batch_size: usize) -> (usize, Option<Progress>) {
        let t = &mut self.tracked[i];
        let len = match t.file.metadata() {
            Ok(meta) => meta.len(),
            Err(e) => {
                log::warn(&format!("{}: {e}", t.path.display()));
                return (0, None);
            }
        };
        if t.reader.is_none() {
            if t.idle_len == Some(len) || (t.resumes_by_offset && len <= t.position.offset) {
                t.idle_len = Some(len);
                return (0, None);
            }
            t.idle_len = Some(len);
            match source::open(
                &t.file,
                &t.path,
                self.params.format,
                Some((t.position, t.resumes_by_offset)),
            ) {
                Ok(reader) => {
                    if !opened_the_tracked_file(t) {
                        return (0, None);
                    }
                    t.reader = Some(reader);
                }
                Err(e) => {
                    // A file too new to recognise gets another chance when it grows.
                    let too_short = matches!(e, crate::ingest::IngestError::UnknownFormat { .. })
                        && len < UNRECOGNISED_GRACE_BYTES;
                    if !t.reported && !too_short {
                        let opened_as = source::opened_as(&t.file, &t.path);
                        log::error(&source::describe(&e, &opened_as, &t.path.to_string_lossy()));
                        t.reported = true;
                    }
                    return (0, None);
                }
            }
        }
        let source_text = t.path.to_string_lossy().into_owned();
        let mut consumed = 0usize;
        let mut last_record_id = None;
        let (mut new_position, mut by_offset) = (t.position, t.resumes_by_offset);
        // The batch may only end after a process or skipped record: an ingest reader yields
        // the malformed pieces of a frame before the frame's own record and has already
        // moved its resume point past all of them.
        let mut may_stop = true;
        while consumed < batch_size || !may_stop {
            let Some(reader) = t.reader.as_mut() else {
                break;
            };
            let item = reader.next_item();
            (new_position, by_offset) = reader.position();
            let Some(item) = item else {
                t.reader = None;
                break;
            };
            consumed += 1;
            t.reported = false;
            may_stop = !matches!(item, Item::Malformed { .. });
            match item {
                Item::Process(record) => {
                    let extra = match self.annotator.as_mut() {
                        Some(annotate) => annotate(&record),
                        None => Vec::new(),
                    };
                    write_event(
                        &mut self.writer,
                        &self.params,
                        &source_text,
                        &record,
                        &extra,
                    );
                    self.stats.events += 1;
                    last_record_id = Some(record.record_id);
                }
                Item::Skipped { event_id } => {
                    *self.stats.skipped_by_event_id.entry(event_id).or_default() += 1;
                }
                Item::Malformed {
                    position,
                    message,
                    ends_file,
                } => {
                    self.stats.malformed += 1;
                    log::error(&format!(
                        "{source_text}: malformed record at {position}: {message}"
                    ));
                    if ends_file {
                        t.reader = None;
                        may_stop = true;
                    }
                }
            }
        }
        if t.reader.is_some() {
            // More may follow at once; do not wait for the file to change.
            t.idle_len = None;
        }
        if new_position == t.position && by_offset == t.resumes_by_offset {
            return (consumed, None);
        }
        (
            consumed,
            Some(Progress {
                file: i,
                position: new_position,
                by_offset,
                last_record_id,
            }),
        )
    }

    /// Closes files read to their end that left the pattern, and — beyond
    /// [`MAX_OPEN_FILES`] — present ones too (they become dormant saved entries).
    fn drop_finished(&mut self) -> Result<(), Interrupt> {
        let before = self.tracked.len();
        let mut excess = before.saturating_sub(MAX_OPEN_FILES);
        let now = unix_now();
        let mut kept = Vec::with_capacity(before);
        for t in self.tracked.drain(..) {
            let drained = t.reader.is_none()
                && t.idle_len.is_some()
                && t.file
                    .metadata()
                    .map(|m| Some(m.len()) == t.idle_len)
                    .unwrap_or(true);
            if drained && (!t.present || excess > 0) {
                excess = excess.saturating_sub(1);
                self.saved.push(t.to_state(now));
            } else {
                kept.push(t);
            }
        }
        self.tracked = kept;
        if self.tracked.len() != before {
            self.save().map_err(Interrupt::Error)?;
        }
        Ok(())
    }

    fn save(&mut self) -> Result<(), FollowError> {
        let now = unix_now();
        self.saved.prune(now);
        let mut files: Vec<FileState> = self.tracked.iter().map(|t| t.to_state(now)).collect();
        files.extend(self.saved.entries().iter().cloned());
        let state = State {
            version: super::checkpoint::STATE_VERSION,
            stanza: self.store.stanza().to_string(),
            files,
        };
        self.store.save(&state)?;
        Ok(())
    }
}

enum Interrupt {
    OutputClosed,
    Error(FollowError),
}

/// Where a file will stand once the pending batch is delivered.
struct Progress {
    file: usize,
    position: Position,
    by_offset: bool,
    last_record_id: Option<String>,
}

/// Where the reader opened the file by name (no `/proc/self/fd` outside Linux), checks that
/// the name still leads to the file being followed; a rotation in between is caught here and
/// the file is opened again at the next poll.
fn opened_the_tracked_file(t: &Tracked) -> bool {
    if source::opened_as(&t.file, &t.path) != t.path || (t.dev, t.ino) == (0, 0) {
        return true;
    }
    matches!(std::fs::metadata(&t.path), Ok(meta) if discovery::file_id(&meta) == (t.dev, t.ino))
}

fn write_event<W: Write>(
    writer: &mut EventWriter<W>,
    params: &Params,
    source: &str,
    record: &ProcessRecord,
    extra: &[(String, Vec<String>)],
) {
    let data = json_body(
        record
            .fields
            .iter()
            .map(|(k, v)| (*k, std::slice::from_ref(v)))
            .chain(extra.iter().map(|(k, v)| (k.as_str(), v.as_slice()))),
    );
    let host = record
        .fields
        .iter()
        .find(|(k, _)| *k == "dest")
        .map(|(_, v)| v.as_str());
    writer.push(&OutEvent {
        time: record.time,
        host,
        source,
        sourcetype: &params.sourcetype,
        index: params.index.as_deref(),
        data: &data,
    });
}
