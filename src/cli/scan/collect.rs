//! Applies what the jobs found, job by job in input order: rows to the writer, problems to
//! stderr, counts to the summary. Jobs may run on several threads; this is where their results
//! come back into the one deterministic order a single thread would produce.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use indicatif::ProgressBar;

use super::detector::{sigma_note, Detector};
use super::output::Writer;
use super::summary::Summary;
use super::work::{Found, Tally};
use super::{Outcome, MALFORMED_PRINT_LIMIT};
use crate::ingest::Position;
use crate::rules::sigma::{DataSource, Unmatchable};

pub(super) struct Collector<'w, W: Write> {
    writer: Writer<W>,
    files: &'w [PathBuf],
    progress: ProgressBar,
    summary: Summary,
    per_rule: Vec<u64>,
    /// Problems that make the exit status 2 (already reported on stderr).
    errors: u64,
    /// The output was closed (or failed): rows are counted, no longer written.
    output_closed: bool,
    /// The file of the job being applied.
    file: Option<usize>,
    /// Records of the current file's earlier EVTX pieces: added to a piece's record numbers.
    record_base: u64,
    /// Whether the current job is an EVTX piece (its record numbers count within the piece).
    piece: bool,
    /// The current file's reading ended (an EVTX piece the parser failed on): its later
    /// pieces are left out, as a sequential reader stops there.
    file_ended: bool,
    /// Tells, as each data source first appears, which Sigma rules cannot match on it
    /// ([`Collector::noting_sources`]).
    noter: Option<Box<dyn Detector>>,
    /// What `noter` told, by data source.
    unmatchable: BTreeMap<DataSource, Unmatchable>,
}

impl<'w, W: Write> Collector<'w, W> {
    pub(super) fn new(
        writer: Writer<W>,
        files: &'w [PathBuf],
        progress: ProgressBar,
        rules: usize,
        errors: u64,
    ) -> Self {
        let summary = Summary {
            files: files.len() as u64,
            ..Summary::default()
        };
        Collector {
            writer,
            files,
            progress,
            summary,
            per_rule: vec![0; rules],
            errors,
            output_closed: false,
            file: None,
            record_base: 0,
            piece: false,
            file_ended: false,
            noter: None,
            unmatchable: BTreeMap::new(),
        }
    }

    /// Works out the summary's Sigma notes with `detector` as each data source first
    /// appears, not after the last job: on several threads the worker that applies the job
    /// works them out while the others go on, and the notes cost the scan no time at its end.
    pub(super) fn noting_sources(mut self, detector: Box<dyn Detector>) -> Self {
        self.noter = Some(detector);
        self
    }

    /// The next job's results follow: it belongs to file `file`, and is an EVTX piece or not.
    pub(super) fn job_start(&mut self, file: usize, piece: bool) {
        if self.file != Some(file) {
            self.file = Some(file);
            self.record_base = 0;
            self.file_ended = false;
            if let Some(path) = self.files.get(file) {
                self.progress.set_message(path.display().to_string());
            }
        }
        self.piece = piece;
    }

    /// Applies one thing the current job found.
    pub(super) fn found(&mut self, found: Found) {
        if self.file_ended {
            return;
        }
        let path = self.path();
        match found {
            Found::Row(row) => {
                if self.output_closed {
                    return;
                }
                let position = self.renumbered(row.position);
                if let Err(e) = self.writer.write(&row.rendered, position) {
                    if e.kind() != std::io::ErrorKind::BrokenPipe {
                        self.progress
                            .suspend(|| eprintln!("netdiscover scan: cannot write output: {e}"));
                        self.errors += 1;
                    }
                    // Keep counting for the summary; stop writing.
                    self.output_closed = true;
                }
            }
            Found::Malformed { position, message } => {
                self.summary.malformed += 1;
                if self.summary.malformed <= MALFORMED_PRINT_LIMIT {
                    let position = self.renumbered(position);
                    self.progress.suspend(|| {
                        eprintln!(
                            "netdiscover scan: malformed record: {}: {position}: {message}",
                            path.display()
                        )
                    });
                }
            }
            Found::Unreadable { position, message } => {
                self.summary.files_cut_short += 1;
                self.errors += 1;
                let position = self.renumbered(position);
                self.progress.suspend(|| {
                    eprintln!(
                        "netdiscover scan: error: {}: {position}: {message}",
                        path.display()
                    )
                });
            }
            Found::OpenFailed(message) => {
                self.summary.files_failed += 1;
                self.errors += 1;
                self.progress
                    .suspend(|| eprintln!("netdiscover scan: error: {message}"));
            }
        }
    }

    /// The current job is done: its counts join the summary.
    pub(super) fn job_end(&mut self, tally: Tally) {
        if self.file_ended {
            return;
        }
        let summary = &mut self.summary;
        summary.records += tally.records;
        summary.process_events += tally.process_events;
        summary.malformed += tally.malformed_unsent;
        summary.matched_rows += tally.matched_rows;
        for (id, n) in tally.skipped {
            *summary.skipped.entry(id).or_default() += n;
        }
        for (source, n) in tally.by_source {
            if let (Some(noter), false) = (&self.noter, summary.by_source.contains_key(&source)) {
                let unmatchable = noter.unmatchable(source, false);
                self.unmatchable.insert(source, unmatchable);
            }
            *summary.by_source.entry(source).or_default() += n;
        }
        for (total, n) in self.per_rule.iter_mut().zip(tally.per_rule) {
            *total += n;
        }
        self.record_base += tally.piece_records;
        self.file_ended = tally.last_piece;
    }

    /// The summary and the error count, once every job has been applied, and the writer to
    /// close. `detector` names the rules and tells which Sigma rules the sources read could
    /// not match.
    pub(super) fn finish(
        mut self,
        detector: &dyn Detector,
        rules_note: Option<String>,
    ) -> (Outcome, Writer<W>) {
        self.progress.finish_and_clear();
        if self.summary.malformed > MALFORMED_PRINT_LIMIT {
            eprintln!(
                "netdiscover scan: {} more malformed records were counted but not printed",
                self.summary.malformed - MALFORMED_PRINT_LIMIT
            );
        }
        let early = &mut self.unmatchable;
        self.summary.sigma_notes = (self.summary.by_source.iter())
            .filter_map(|(&source, &events)| {
                let unmatchable = early
                    .remove(&source)
                    .unwrap_or_else(|| detector.unmatchable(source, true));
                sigma_note(source, events, &unmatchable)
            })
            .collect();
        self.summary.per_rule = detector
            .rule_names()
            .iter()
            .cloned()
            .zip(self.per_rule)
            .collect();
        self.summary.rules_note = rules_note;
        let outcome = Outcome {
            summary: self.summary,
            errors: self.errors,
        };
        (outcome, self.writer)
    }

    fn path(&self) -> &'w Path {
        let files: &'w [PathBuf] = self.files;
        self.file
            .and_then(|f| files.get(f))
            .map_or(Path::new(""), PathBuf::as_path)
    }

    /// A position of the current job as a position in its file.
    fn renumbered(&self, position: Position) -> Position {
        match position {
            Position::Record(n) if self.piece => Position::Record(self.record_base + n),
            other => other,
        }
    }
}
