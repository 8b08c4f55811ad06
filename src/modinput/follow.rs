//! The follow loop: discover files, read each from its checkpoint in batches, record the
//! state that covers a batch, write the batch, wait until splunkd has read it, then put that
//! state in force. Keeps following files that grow, picks up new ones, recognises renamed
//! and copied (rotated) files by identity, and starts over on truncated ones.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Instant;

use super::adopt::{self, Adopted};
use super::checkpoint::{CheckpointError, FileState, Snapshot, State, Store};
use super::discovery::{self, Candidate};
use super::event_writer::{json_body, EventWriter, OutEvent};
use super::fingerprint::FileId;
use super::followed::{Followed, Phase, STALL_RETRY};
use super::limits::{self, out_of_descriptors};
use super::log;
use super::params::Params;
use super::pipe::{Delivery, StdoutPipe};
use super::saved::SavedFiles;
use super::signals;
use super::source::{self, Item, ProcessRecord};
use crate::ingest::IngestError;

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
    /// Stopping, splunkd had not read the last batch: it was left unrecorded, so the next
    /// run sends it again.
    StoppedUnconfirmed,
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
    /// Events delivered (written, and read by splunkd when stdout is a pipe).
    pub events: u64,
    pub skipped_by_event_id: BTreeMap<String, u64>,
    pub malformed: u64,
    pub batches: u64,
}

pub struct Follower<W: Write> {
    params: Params,
    store: Store,
    followed: Vec<Followed>,
    /// Saved entries of files not open.
    saved: SavedFiles,
    writer: EventWriter<W>,
    /// stdout as a pipe, asked whether splunkd has read a batch before it is recorded.
    pipe: Option<StdoutPipe>,
    annotator: Option<Annotator>,
    /// Files held open at most.
    budget: usize,
    /// Listed files that could not be opened this poll for want of room or descriptors.
    waiting: usize,
    /// Files closed while they could not be read, with their length and modification time
    /// then: not opened again until one changes or [`STALL_RETRY`] has passed (in memory: a
    /// restart tries them again).
    stalled: HashMap<PathBuf, (Snapshot, Instant)>,
    /// Listed files not open whose problem was logged (cannot be opened, a copy, closed while
    /// unreadable): logged once, tried again all the same.
    reported: HashSet<PathBuf>,
    /// Polls so far.
    polls: u64,
    /// Events in the batch being built.
    batch_events: u64,
    /// Listed files waiting for room, with the poll they began to wait at: served first come,
    /// first served, so files that keep growing cannot keep others out.
    queued: HashMap<PathBuf, u64>,
    last_problems: Vec<String>,
    pub stats: Stats,
}

pub(super) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Why a poll stopped early.
enum Interrupt {
    OutputClosed,
    Unconfirmed,
    Error(FollowError),
}

impl From<CheckpointError> for Interrupt {
    fn from(e: CheckpointError) -> Self {
        Interrupt::Error(FollowError::Checkpoint(e))
    }
}

impl<W: Write> Follower<W> {
    pub fn new(
        params: Params,
        store: Store,
        out: W,
        annotator: Option<Annotator>,
    ) -> Result<Self, FollowError> {
        let (state, notes) = store.load()?;
        for (level, note) in notes {
            log::log(level, &note);
        }
        Ok(Follower {
            params,
            store,
            followed: Vec::new(),
            saved: SavedFiles::new(state.files),
            writer: EventWriter::new(out),
            pipe: None,
            annotator,
            budget: limits::open_file_budget(),
            waiting: 0,
            stalled: HashMap::new(),
            reported: HashSet::new(),
            polls: 0,
            batch_events: 0,
            queued: HashMap::new(),
            last_problems: Vec::new(),
            stats: Stats::default(),
        })
    }

    /// Records a batch only once splunkd has read it from `pipe` (our stdout).
    pub fn confirm_through(mut self, pipe: StdoutPipe) -> Self {
        self.pipe = Some(pipe);
        self
    }

    /// Follows until a stop signal, then finishes the stream.
    pub fn run(&mut self) -> Result<Outcome, FollowError> {
        loop {
            if signals::stop_requested() {
                return self.finish();
            }
            let progressed = match self.poll() {
                Ok(progressed) => progressed,
                Err(interrupt) => return interrupted(interrupt),
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
                Err(interrupt) => return interrupted(interrupt),
            }
        }
    }

    /// One poll (rediscover, one batch per file with new data); returns whether any record
    /// was consumed. Lets callers bound how long they drive the loop.
    pub fn poll_once(&mut self) -> Result<bool, FollowError> {
        match self.poll() {
            Ok(progressed) => Ok(progressed),
            Err(Interrupt::Error(e)) => Err(e),
            Err(_) => Err(FollowError::Output(io::Error::from(
                io::ErrorKind::BrokenPipe,
            ))),
        }
    }

    pub fn into_output(self) -> W {
        self.writer.into_inner()
    }

    /// Open files (for tests and the closing log line).
    pub fn open_files(&self) -> usize {
        self.followed.len()
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
    /// any record was consumed, or files are waiting for room that was just made.
    fn poll(&mut self) -> Result<bool, Interrupt> {
        self.polls += 1;
        self.rescan();
        let mut progressed = false;
        let mut budget = self.params.batch_size;
        for i in 0..self.followed.len() {
            if signals::stop_requested() {
                break;
            }
            let consumed = self.read_batch(i, budget);
            progressed |= consumed > 0;
            budget = budget.saturating_sub(consumed);
            if budget == 0 {
                self.commit()?;
                budget = self.params.batch_size;
            }
        }
        self.commit()?;
        let closed = self.close_finished()?;
        Ok(progressed || (self.waiting > 0 && closed > 0))
    }

    /// Delivers the batch: records the state that covers it (so a full disk stops us before
    /// the batch is written), writes it, waits until splunkd has read it, then puts the state
    /// in force. Nothing is recorded for a batch that did not reach splunkd: it is read
    /// again by the next run.
    fn commit(&mut self) -> Result<(), Interrupt> {
        if self.followed.iter().all(|f| f.read == f.delivered) {
            return Ok(());
        }
        let state = self.state(|f| &f.read);
        let prepared = self.store.prepare(&state)?;
        match self.writer.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err(Interrupt::OutputClosed),
            Err(e) => return Err(Interrupt::Error(FollowError::Output(e))),
        }
        if let Some(pipe) = &self.pipe {
            match pipe.wait_until_read(signals::stop_requested) {
                Delivery::Read => {}
                Delivery::Closed => return Err(Interrupt::OutputClosed),
                Delivery::Unconfirmed => return Err(Interrupt::Unconfirmed),
            }
        }
        self.store.publish(prepared)?;
        for f in &mut self.followed {
            f.delivered = f.read.clone();
        }
        self.stats.events += std::mem::take(&mut self.batch_events);
        self.stats.batches += 1;
        Ok(())
    }

    fn rescan(&mut self) {
        let (candidates, problems) = discovery::discover(&self.params);
        if problems != self.last_problems {
            for problem in &problems {
                log::warn(&format!("path {}: {problem}", self.params.path));
            }
            self.last_problems = problems;
        }
        for f in &mut self.followed {
            f.present = false;
        }
        let now = unix_now();
        let open: HashSet<FileId> = self
            .followed
            .iter()
            .filter_map(|f| f.fingerprint.id)
            .collect();
        let listed: HashSet<FileId> = candidates.iter().filter_map(|c| c.id).collect();
        let stalled = &mut self.stalled;
        if !stalled.is_empty() {
            let listed_paths: HashSet<&PathBuf> = candidates.iter().map(|c| &c.path).collect();
            stalled.retain(|path, _| listed_paths.contains(path));
        }
        let active: Vec<&Candidate> = self
            .saved
            .active(&candidates, &open, now)
            .into_iter()
            .filter(|c| !still_stalled(stalled, c))
            .collect();
        // Files already open first, then files the checkpoint knows, then new ones: content
        // a file no longer holds is known before copies of it are looked for.
        let (known, fresh): (Vec<&Candidate>, Vec<&Candidate>) = active
            .into_iter()
            .partition(|c| self.followed_index(c).is_some());
        for candidate in known {
            if let Some(i) = self.followed_index(candidate) {
                if let Some(former) = self.followed[i].recheck(candidate, now) {
                    self.saved.push(former);
                }
            }
        }
        self.follow_new(fresh, &candidates, &listed);
    }

    /// Starts following listed files not open yet, those the checkpoint knows first, then
    /// (when some wait for room) the longest waiting first.
    fn follow_new(
        &mut self,
        fresh: Vec<&Candidate>,
        candidates: &[Candidate],
        listed: &HashSet<FileId>,
    ) {
        let known_ids = self.saved.known_ids();
        let (saved, new): (Vec<&Candidate>, Vec<&Candidate>) = fresh
            .into_iter()
            .partition(|c| c.id.is_some_and(|id| known_ids.contains(&id)));
        let mut order: Vec<&Candidate> = saved.into_iter().chain(new).collect();
        if !self.queued.is_empty() {
            let listed_paths: HashSet<&PathBuf> = candidates.iter().map(|c| &c.path).collect();
            self.queued.retain(|path, _| listed_paths.contains(path));
            let polls = self.polls;
            order.sort_by_key(|c| self.queued.get(&c.path).copied().unwrap_or(polls));
        }
        self.waiting = 0;
        for candidate in order {
            self.start_following(candidate, listed);
        }
    }

    /// The open file `candidate` is: same device and inode, or (without them) same path.
    fn followed_index(&self, candidate: &Candidate) -> Option<usize> {
        self.followed.iter().position(|f| match candidate.id {
            Some(id) => f.fingerprint.id == Some(id),
            None => f.path == candidate.path,
        })
    }

    fn start_following(&mut self, candidate: &Candidate, listed: &HashSet<FileId>) {
        if self.followed.len() >= self.budget {
            self.waiting += 1;
            self.queued
                .entry(candidate.path.clone())
                .or_insert(self.polls);
            return;
        }
        let context = adopt::Context {
            followed: &self.followed,
            saved: &mut self.saved,
            listed,
            reported: &mut self.reported,
        };
        match adopt::adopt(candidate, context) {
            Adopted::Follow(followed) => {
                self.queued.remove(&candidate.path);
                self.followed.push(*followed);
            }
            Adopted::Later => {}
            Adopted::NoDescriptors => {
                self.queued
                    .entry(candidate.path.clone())
                    .or_insert(self.polls);
                if self.waiting == 0 {
                    log::warn(&format!(
                        "{}: out of file descriptors; files wait for the next poll",
                        candidate.path.display()
                    ));
                }
                self.waiting += 1;
            }
        }
    }

    /// Reads up to `budget` records from file `i` into the batch; returns how many it
    /// consumed. A file truncated or rewritten while they were read starts over, the batch
    /// counted as read in neither content (see [`Followed::recheck_after_read`]).
    fn read_batch(&mut self, i: usize, budget: usize) -> usize {
        let f = &self.followed[i];
        let len = match f.file.metadata() {
            Ok(meta) => meta.len(),
            Err(e) => {
                log::warn(&format!("{}: {e}", f.path.display()));
                return 0;
            }
        };
        if !self.open_reader(i, len) {
            return 0;
        }
        let consumed = self.read_items(i, budget, len);
        if consumed > 0 {
            if let Some(former) = self.followed[i].recheck_after_read(unix_now()) {
                self.saved.push(former);
            }
        }
        consumed
    }

    /// Makes sure file `i` has a reader at its checkpoint; false when there is nothing to
    /// read now (unchanged since it was drained or failed, or it cannot be opened yet).
    fn open_reader(&mut self, i: usize, len: u64) -> bool {
        let format = self.params.format;
        let f = &mut self.followed[i];
        match f.phase {
            Phase::Reading(_) => return true,
            Phase::Drained { len: then } if then == len => return false,
            Phase::Stalled { len: then, since } if then == len && since.elapsed() < STALL_RETRY => {
                return false
            }
            _ => {}
        }
        match source::open(&f.file, &f.path, format, f.read.position) {
            Ok(reader) if opened_the_followed_file(f) => {
                f.phase = Phase::Reading(Box::new(reader));
                true
            }
            Ok(_) => {
                f.phase = Phase::Ready;
                false
            }
            Err(e) => {
                f.phase = open_failed(f, &e, len);
                false
            }
        }
    }

    /// Writes file `i`'s records to the batch until `budget` are consumed or it has no more.
    fn read_items(&mut self, i: usize, budget: usize, len: u64) -> usize {
        let Follower {
            followed,
            writer,
            params,
            annotator,
            stats,
            batch_events,
            ..
        } = self;
        let f = &mut followed[i];
        let source_text = f.path.to_string_lossy().into_owned();
        let mut consumed = 0usize;
        // The batch may only end after a process or skipped record: an ingest reader yields
        // the malformed pieces of a frame before the frame's own record and has already
        // moved its resume point past all of them.
        let mut may_stop = true;
        while consumed < budget || !may_stop {
            let Phase::Reading(reader) = &mut f.phase else {
                break;
            };
            let item = reader.next_item();
            f.read.position = reader.position();
            let Some(item) = item else {
                f.phase = Phase::Drained { len };
                break;
            };
            consumed += 1;
            f.reported = false;
            may_stop = !matches!(item, Item::Malformed { .. });
            match item {
                Item::Process(record) => {
                    let extra = annotator.as_mut().map(|a| a(&record)).unwrap_or_default();
                    write_event(writer, params, &source_text, &record, &extra);
                    *batch_events += 1;
                    f.read.last_record_id = Some(record.record_id);
                }
                Item::Skipped { event_id } => {
                    *stats.skipped_by_event_id.entry(event_id).or_default() += 1;
                }
                Item::Malformed {
                    position,
                    message,
                    ends_file,
                } => {
                    stats.malformed += 1;
                    log::error(&format!(
                        "{source_text}: malformed record at {position}: {message}"
                    ));
                    if ends_file {
                        f.phase = Phase::Drained { len };
                        may_stop = true;
                    }
                }
            }
        }
        consumed
    }

    /// Closes files read to their end that left the pattern and — while listed files wait
    /// for room — files that have nothing to read right now: read to their end (they become
    /// saved entries, dormant unless they grew) or unreadable. A file closed while it still
    /// grows waits its turn like any other. Returns how many were closed.
    fn close_finished(&mut self) -> Result<usize, Interrupt> {
        let before = self.followed.len();
        let mut excess = (before + self.waiting).saturating_sub(self.budget);
        let now = unix_now();
        let mut kept = Vec::with_capacity(before);
        for f in self.followed.drain(..) {
            let gone_and_done = !f.present && f.is_drained();
            let idle = matches!(f.phase, Phase::Drained { .. } | Phase::Stalled { .. });
            let makes_room = excess > 0 && idle;
            if !(gone_and_done || makes_room) {
                kept.push(f);
                continue;
            }
            if !gone_and_done {
                excess -= 1;
                self.queued.entry(f.path.clone()).or_insert(self.polls);
            }
            // What was logged about it is not logged again when it is opened again.
            if f.reported {
                self.reported.insert(f.path.clone());
            } else {
                self.reported.remove(&f.path);
            }
            if let (Phase::Stalled { .. }, true, Ok(meta)) =
                (&f.phase, f.present, f.file.metadata())
            {
                let snapshot = Snapshot {
                    len: meta.len(),
                    mtime_ns: discovery::mtime_ns(&meta),
                };
                self.stalled
                    .insert(f.path.clone(), (snapshot, Instant::now()));
            }
            self.saved.push(f.to_state(&f.delivered, now));
        }
        self.followed = kept;
        let closed = before - self.followed.len();
        if closed > 0 {
            self.save().map_err(Interrupt::Error)?;
        }
        Ok(closed)
    }

    /// Everything known, each open file at the checkpoint `at` picks.
    fn state(&mut self, at: impl Fn(&Followed) -> &super::followed::Checkpoint) -> State {
        let now = unix_now();
        self.saved.prune(now);
        let mut files: Vec<FileState> = self
            .followed
            .iter()
            .map(|f| f.to_state(at(f), now))
            .collect();
        files.extend(self.saved.entries().iter().cloned());
        State {
            version: super::checkpoint::STATE_VERSION,
            stanza: self.store.stanza().to_string(),
            files,
        }
    }

    fn save(&mut self) -> Result<(), FollowError> {
        let state = self.state(|f| &f.delivered);
        self.store.save(&state)?;
        Ok(())
    }
}

fn interrupted(interrupt: Interrupt) -> Result<Outcome, FollowError> {
    match interrupt {
        Interrupt::OutputClosed => Ok(Outcome::OutputClosed),
        Interrupt::Unconfirmed => Ok(Outcome::StoppedUnconfirmed),
        Interrupt::Error(e) => Err(e),
    }
}

/// Whether `candidate` was closed as unreadable and has not changed since, nor waited long.
fn still_stalled(
    stalled: &mut HashMap<PathBuf, (Snapshot, Instant)>,
    candidate: &Candidate,
) -> bool {
    match stalled.get(&candidate.path) {
        Some((s, since))
            if s.len == candidate.size
                && s.mtime_ns == candidate.mtime_ns
                && since.elapsed() < STALL_RETRY =>
        {
            true
        }
        Some(_) => {
            stalled.remove(&candidate.path);
            false
        }
        None => false,
    }
}

/// What to do with a file whose reader could not be opened. Nothing here marks it read: its
/// checkpoint stays, and it is tried again at the next poll (out of descriptors) or once its
/// length changes.
fn open_failed(f: &mut Followed, error: &IngestError, len: u64) -> Phase {
    match error {
        IngestError::Open { source, .. } if out_of_descriptors(source) => {
            if !f.reported {
                log::warn(&format!(
                    "{}: out of file descriptors; trying again at the next poll",
                    f.path.display()
                ));
                f.reported = true;
            }
            return Phase::Ready;
        }
        IngestError::Incomplete { reason, .. } => {
            if !f.reported {
                log::info(&format!(
                    "{}: {reason}; waiting for the rest",
                    f.path.display()
                ));
                f.reported = true;
            }
            return Phase::Stalled {
                len,
                since: Instant::now(),
            };
        }
        IngestError::UnknownFormat { .. } if len < UNRECOGNISED_GRACE_BYTES => {
            // A file too new to recognise gets another chance when it grows.
            return Phase::Stalled {
                len,
                since: Instant::now(),
            };
        }
        _ => {}
    }
    if !f.reported {
        let opened_as = source::opened_as(&f.file, &f.path);
        log::error(&source::describe(
            error,
            &opened_as,
            &f.path.to_string_lossy(),
        ));
        f.reported = true;
    }
    Phase::Stalled {
        len,
        since: Instant::now(),
    }
}

/// Where the reader opened the file by name (no `/proc/self/fd` outside Linux), checks that
/// the name still leads to the file being followed; a rotation in between is caught here and
/// the file is opened again at the next poll.
fn opened_the_followed_file(f: &Followed) -> bool {
    let Some(id) = f.fingerprint.id else {
        return true;
    };
    if source::opened_as(&f.file, &f.path) != f.path {
        return true;
    }
    matches!(std::fs::metadata(&f.path), Ok(meta) if FileId::of(&meta) == Some(id))
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
