//! Runs a scan's jobs on every core and applies their results in input order.
//!
//! A producer thread lists the jobs ([`work::jobs`]: each file, or each chunk of an EVTX
//! file) and, for each, makes a bounded channel: the job and the channel's sending end go to
//! the workers (a shared queue, taken in order), the receiving end goes to the collector
//! (this thread) in job order. The collector drains one job's channel after the other, so
//! the output is the order a single thread produces, whatever order the jobs finish in.
//!
//! Memory stays bounded: few jobs are in flight ([`IN_FLIGHT`] per worker), and a worker
//! whose job is ahead of the collector waits once its channel holds [`BATCHES`] batches.
//! No deadlock: jobs are taken in order, so the job the collector waits for has a worker
//! that never waits on a later one.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Mutex;

use indicatif::ProgressBar;

use super::collect::Collector;
use super::detector::Detector;
use super::work::{self, Found, Job, Tally};
use super::ScanOptions;

/// Found things sent together.
const BATCH: usize = 256;
/// Batches a job may have waiting for the collector.
const BATCHES: usize = 64;
/// Jobs queued or running per worker.
const IN_FLIGHT: usize = 4;

enum Message {
    Found(Vec<Found>),
    Done(Tally),
}

/// Runs every job of `files` with `threads` workers (on this thread alone when 1).
pub(super) fn run<W: Write>(
    files: &[PathBuf],
    options: &ScanOptions,
    detector: &mut dyn Detector,
    progress: &ProgressBar,
    collector: &mut Collector<'_, W>,
    threads: usize,
) {
    if threads <= 1 {
        for (index, job) in work::jobs(files, options.format) {
            collector.job_start(index, matches!(job, Job::EvtxPiece(_)));
            let tally = work::run(
                job,
                &files[index],
                options,
                detector,
                progress,
                &mut |found| collector.found(found),
            );
            collector.job_end(tally);
        }
        return;
    }
    let (work_tx, work_rx) = sync_channel::<(usize, Job, SyncSender<Message>)>(threads);
    let work_rx = Mutex::new(work_rx);
    let (order_tx, order_rx) =
        sync_channel::<(usize, bool, Receiver<Message>)>(threads * IN_FLIGHT);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (index, job) in work::jobs(files, options.format) {
                let (tx, rx) = sync_channel(BATCHES);
                let piece = matches!(job, Job::EvtxPiece(_));
                if order_tx.send((index, piece, rx)).is_err()
                    || work_tx.send((index, job, tx)).is_err()
                {
                    return;
                }
            }
        });
        for _ in 0..threads {
            let mut detector = detector.fork();
            let work_rx = &work_rx;
            scope.spawn(move || worker(work_rx, files, options, &mut *detector, progress));
        }
        for (index, piece, rx) in order_rx {
            collector.job_start(index, piece);
            for message in rx {
                match message {
                    Message::Found(batch) => batch.into_iter().for_each(|f| collector.found(f)),
                    Message::Done(tally) => {
                        collector.job_end(tally);
                        break;
                    }
                }
            }
        }
    });
}

/// Takes jobs until there are none, sending what each finds in batches.
fn worker(
    jobs: &Mutex<std::sync::mpsc::Receiver<(usize, Job, SyncSender<Message>)>>,
    files: &[PathBuf],
    options: &ScanOptions,
    detector: &mut dyn Detector,
    progress: &ProgressBar,
) {
    loop {
        let next = match jobs.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok((index, job, tx)) = next else {
            return;
        };
        let mut batch = Vec::with_capacity(BATCH);
        let tally = work::run(
            job,
            &files[index],
            options,
            detector,
            progress,
            &mut |found| {
                batch.push(found);
                if batch.len() == BATCH {
                    let _ = tx.send(Message::Found(std::mem::replace(
                        &mut batch,
                        Vec::with_capacity(BATCH),
                    )));
                }
            },
        );
        if !batch.is_empty() {
            let _ = tx.send(Message::Found(batch));
        }
        let _ = tx.send(Message::Done(tally));
    }
}
