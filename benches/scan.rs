//! `netdiscover scan` throughput (`cargo bench --bench scan`): the real binary over
//! `../shared/datasets/bulk` (gzip XML) and `../shared/datasets/evtx`, each measured in the
//! same run with one thread and with every core, with the 2 shipped rules and with the ESCU
//! corpus loaded (`NETDISCOVER_RULES_DIR`). Prints events/s, the parallel speedup and the
//! corpus / 2-rule time ratio (issue 14: >= 1.7x on 2 cores; within 1.3x). Best of
//! `SCAN_BENCH_ROUNDS` (default 5) wall times.
//!
//! Not a test: it prints numbers and never fails on them.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// One scan: wall time and the process events the summary counts.
fn scan(dir: &Path, threads: Option<usize>, corpus: Option<&Path>) -> (Duration, u64) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_netdiscover"));
    command
        .arg("scan")
        .arg(dir)
        .arg("--no-progress")
        .env_remove(netdiscover::rules::RULES_DIR_ENV);
    if let Some(n) = threads {
        command.arg("--threads").arg(n.to_string());
    }
    if let Some(corpus) = corpus {
        command.env(netdiscover::rules::RULES_DIR_ENV, corpus);
    }
    let start = Instant::now();
    let out = command.output().expect("run netdiscover scan");
    let elapsed = start.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    let events = err
        .lines()
        .find(|l| l.starts_with("events:"))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|p| p.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no summary from scan of {}: {err}", dir.display()));
    (elapsed, events)
}

fn best(
    rounds: usize,
    dir: &Path,
    threads: Option<usize>,
    corpus: Option<&Path>,
) -> (Duration, u64) {
    (0..rounds.max(1))
        .map(|_| scan(dir, threads, corpus))
        .min_by_key(|(t, _)| *t)
        .expect("one round")
}

fn main() {
    if !support::bench_requested("scan") {
        return;
    }
    let (Some(datasets), Some(corpus)) =
        (support::shared("datasets"), support::shared("escu/corpus"))
    else {
        return;
    };
    let rounds = std::env::var("SCAN_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!("netdiscover scan, best of {rounds} wall times, {cores} cores");
    println!(
        "{:<22} {:<14} {:>10} {:>12} {:>9}",
        "input", "rules", "threads", "events/s", "wall s"
    );
    for name in ["bulk", "evtx"] {
        let dir: PathBuf = datasets.join(name);
        let mut seconds = Vec::new();
        for (rules, corpus) in [
            ("2 shipped", None),
            ("+ ESCU corpus", Some(corpus.as_path())),
        ] {
            for threads in [Some(1), None] {
                let (time, events) = best(rounds, &dir, threads, corpus);
                let label = threads.map_or(format!("{cores} (all)"), |n| n.to_string());
                println!(
                    "{:<22} {:<14} {:>10} {:>12.0} {:>9.3}",
                    name,
                    rules,
                    label,
                    events as f64 / time.as_secs_f64(),
                    time.as_secs_f64()
                );
                seconds.push(time.as_secs_f64());
            }
        }
        // seconds: [seeds 1 thread, seeds all, corpus 1 thread, corpus all]
        println!(
            "{name}: all cores / 1 thread = {:.2}x (2 rules), {:.2}x (corpus); corpus / 2 rules = {:.2}x the time (all cores)",
            seconds[0] / seconds[1],
            seconds[2] / seconds[3],
            seconds[3] / seconds[1]
        );
    }
}
