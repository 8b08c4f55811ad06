//! Ingest throughput over the shared datasets (`cargo bench --bench ingest`): events/s for
//! the bulk gzip XML and the EVTX files, each against a baseline measured in the same run
//! on the same machine, so the ratio says what our parsing costs:
//! - gzip XML: baseline = decompressing the files to nowhere (flate2 alone);
//! - EVTX: baseline = the `evtx` crate rendering every record to XML (no CIM mapping); its
//!   JSON rendering is timed beside it.
//!
//! Not a test: it prints numbers and never fails on them.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netdiscover::ingest::{FileReader, Item, OpenOptions};

fn files(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    out.retain(|p| p.to_string_lossy().ends_with(suffix));
    out.sort();
    out
}

struct Run {
    records: u64,
    process: u64,
    elapsed: Duration,
}

fn ingest(paths: &[PathBuf]) -> Run {
    let start = Instant::now();
    let (mut records, mut process) = (0, 0);
    for path in paths {
        let Ok(reader) = FileReader::open(path, &OpenOptions::default()) else {
            eprintln!("cannot open {}", path.display());
            continue;
        };
        for item in reader {
            records += 1;
            if let Item::Process(event) = item {
                process += 1;
                std::hint::black_box(&event.row);
            }
        }
    }
    Run {
        records,
        process,
        elapsed: start.elapsed(),
    }
}

fn gunzip_baseline(paths: &[PathBuf]) -> Duration {
    let start = Instant::now();
    for path in paths {
        let Ok(file) = std::fs::File::open(path) else {
            continue;
        };
        let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
        let mut block = vec![0u8; 64 * 1024];
        while let Ok(n) = decoder.read(&mut block) {
            if n == 0 {
                break;
            }
            std::hint::black_box(&block[..n]);
        }
    }
    start.elapsed()
}

/// The `evtx` crate rendering every record as XML (what ingest parses), or as JSON (the other
/// text it renders; a record's tree is private to the crate, so these are the two ways out).
fn evtx_baseline(paths: &[PathBuf], json: bool) -> Duration {
    let start = Instant::now();
    for path in paths {
        let Ok(mut parser) = evtx::EvtxParser::from_path(path) else {
            continue;
        };
        let settings = evtx::ParserSettings::new().num_threads(1).indent(false);
        parser = parser.with_configuration(settings);
        if json {
            for record in parser.records_json() {
                let _ = std::hint::black_box(record);
            }
        } else {
            for record in parser.records() {
                let _ = std::hint::black_box(record);
            }
        }
    }
    start.elapsed()
}

/// The best of `rounds` runs (least disturbed by other work on the machine).
fn best<T>(rounds: usize, mut f: impl FnMut() -> T, key: impl Fn(&T) -> Duration) -> T {
    let mut best: Option<T> = None;
    for _ in 0..rounds {
        let run = f();
        if best.as_ref().is_none_or(|b| key(&run) < key(b)) {
            best = Some(run);
        }
    }
    best.expect("at least one round")
}

fn report(label: &str, paths: &[PathBuf], run: &Run, baseline: Duration, baseline_label: &str) {
    let bytes: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let secs = run.elapsed.as_secs_f64();
    println!(
        "{label}: {} files, {:.1} MiB on disk, {} records ({} process events) in {:.3} s = {:.0} events/s, {:.1} MiB/s on disk",
        paths.len(),
        bytes as f64 / 1048576.0,
        run.records,
        run.process,
        secs,
        run.records as f64 / secs,
        bytes as f64 / 1048576.0 / secs,
    );
    println!(
        "  baseline ({baseline_label}): {:.3} s; ingest / baseline = {:.2}x the time",
        baseline.as_secs_f64(),
        secs / baseline.as_secs_f64()
    );
}

fn main() {
    if !support::bench_requested("ingest") {
        return;
    }
    let Some(shared) = support::shared("datasets") else {
        return;
    };
    let rounds = std::env::var("INGEST_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3);
    println!("ingest throughput, best of {rounds} rounds, one thread");

    let bulk = files(&shared.join("bulk"), ".xml.gz");
    let run = best(rounds, || ingest(&bulk), |r| r.elapsed);
    let base = best(rounds, || gunzip_baseline(&bulk), |d| *d);
    report(
        "bulk gzip XML",
        &bulk,
        &run,
        base,
        "gzip decompression only",
    );

    let evtx_files = files(&shared.join("evtx"), ".evtx");
    let run = best(rounds, || ingest(&evtx_files), |r| r.elapsed);
    let base = best(rounds, || evtx_baseline(&evtx_files, false), |d| *d);
    report(
        "EVTX",
        &evtx_files,
        &run,
        base,
        "evtx crate XML rendering only",
    );
    let json = best(rounds, || evtx_baseline(&evtx_files, true), |d| *d);
    println!(
        "  the crate rendering JSON instead: {:.3} s ({:.2}x its XML rendering)",
        json.as_secs_f64(),
        json.as_secs_f64() / base.as_secs_f64()
    );
}
