//! `netdiscover scan` throughput (`cargo bench --bench scan`; `bench/sigma_scan.sh` runs it on
//! the bulk input alone): the real binary over `../shared/datasets/bulk` (gzip XML, 64,767
//! Sysmon records) and `../shared/datasets/evtx`, each measured in the same run with one
//! thread and with every core, with three rule sets: the 2 shipped rules, those plus the ESCU
//! corpus (`NETDISCOVER_RULES_DIR`), and those plus SigmaHQ's `rules/windows/process_creation`
//! (`--rules`). Prints events/s (records per wall second, the unit Chainsaw reports), the
//! parallel speedup, each set's time against the 2 rules' (issue 14: >= 1.7x on 2 cores; the
//! corpus within 1.3x), and the Sigma figure against Chainsaw's 2,390 events/s with the same
//! rules (issue 16: >= 20x). Best of `SCAN_BENCH_ROUNDS` (default 5) wall times;
//! `SCAN_BENCH_INPUTS` (default `bulk,evtx`) picks the inputs. It runs this build's
//! `netdiscover` (dynamically linked, as `cargo` builds for this machine), or the one
//! `NETDISCOVER_TEST_BIN` names: the shipped, statically linked build is
//! `target/x86_64-unknown-linux-gnu/release/netdiscover` after `cargo xtask package`, and
//! starts 0.35–0.5 ms sooner (docs/packaging.md, "Portability").
//!
//! Not a test: it prints numbers and never fails on them.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

/// Chainsaw 2.16.4 hunting 65,019 Sysmon EVTX records with the 1,102 SigmaHQ process_creation
/// rules it loads, 2 threads (issue 16's reference, measured on this kind of machine).
const CHAINSAW_EVENTS_PER_S: f64 = 2_390.0;

/// A rule set: its label, `NETDISCOVER_RULES_DIR`, and `--rules` directories.
struct Rules<'a> {
    label: &'static str,
    rules_dir: Option<&'a Path>,
    extra: Vec<&'a Path>,
}

/// One scan: its wall time, the records and the rules its summary counts.
struct Outcome {
    time: Duration,
    records: u64,
    rules: u64,
}

/// One scan by `exe`; panics without a summary (the scan failed).
fn scan(exe: &Path, dir: &Path, threads: Option<usize>, rules: &Rules<'_>) -> Outcome {
    let mut command = support::command(exe);
    command
        .arg("scan")
        .arg(dir)
        .arg("--no-progress")
        .env_remove(netdiscover::rules::RULES_DIR_ENV);
    if let Some(n) = threads {
        command.arg("--threads").arg(n.to_string());
    }
    if let Some(corpus) = rules.rules_dir {
        command.env(netdiscover::rules::RULES_DIR_ENV, corpus);
    }
    for extra in &rules.extra {
        command.arg("--rules").arg(extra);
    }
    let start = Instant::now();
    let out = command.output().expect("run netdiscover scan");
    let time = start.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    let summary_number = |prefix: &str| -> Option<u64> {
        let rest = err.lines().find_map(|l| l.strip_prefix(prefix))?;
        rest.split([' ', ')']).next()?.parse().ok()
    };
    let (Some(records), Some(rules)) = (
        summary_number("events: "),
        summary_number("matches per rule ("),
    ) else {
        panic!("no summary from scan of {}: {err}", dir.display());
    };
    Outcome {
        time,
        records,
        rules,
    }
}

fn best(
    rounds: usize,
    exe: &Path,
    dir: &Path,
    threads: Option<usize>,
    rules: &Rules<'_>,
) -> Outcome {
    (0..rounds.max(1))
        .map(|_| scan(exe, dir, threads, rules))
        .min_by_key(|outcome| outcome.time)
        .expect("one round")
}

fn main() {
    if !support::bench_requested("scan") {
        return;
    }
    let (Some(datasets), Some(corpus), Some(sigma)) = (
        support::shared("datasets"),
        support::shared("escu/corpus"),
        support::shared("sigma_corpus/rules/windows/process_creation"),
    ) else {
        return;
    };
    let rounds = std::env::var("SCAN_BENCH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let inputs = std::env::var("SCAN_BENCH_INPUTS").unwrap_or_else(|_| "bulk,evtx".into());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let sets = [
        Rules {
            label: "2 shipped",
            rules_dir: None,
            extra: Vec::new(),
        },
        Rules {
            label: "+ ESCU corpus",
            rules_dir: Some(&corpus),
            extra: Vec::new(),
        },
        Rules {
            label: "+ Sigma proc_creation",
            rules_dir: None,
            extra: vec![&sigma],
        },
    ];
    println!(
        "netdiscover scan, best of {rounds} wall times, {cores} cores, {}",
        support::netdiscover_exe().display()
    );
    report_loading(&sets, rounds, cores);
    for name in inputs.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        report(name, &datasets.join(name), &sets, rounds, cores);
    }
}

/// Loading each rule set in this process (read, parse, compile, index: what every scan does
/// before its first match) on one thread and on every core, as `scan --threads N` loads,
/// best of `rounds`: most of a short scan's time.
fn report_loading(sets: &[Rules<'_>], rounds: usize, cores: usize) {
    let exe = support::netdiscover_exe();
    for rules in sets {
        let extra: Vec<std::path::PathBuf> = rules.extra.iter().map(|p| p.to_path_buf()).collect();
        let all = netdiscover::rules::rule_places(Some(&exe), rules.rules_dir, &extra).all();
        let load = |threads: usize| {
            (0..rounds.max(1))
                .map(|_| {
                    let start = Instant::now();
                    let (set, _) = netdiscover::rules::RuleSet::load_on(&all, threads);
                    (start.elapsed(), set.len())
                })
                .min_by_key(|(t, _)| *t)
                .expect("one round")
        };
        let ((one, count), (every, _)) = (load(1), load(cores));
        println!(
            "rule loading in process: {:<22} {count:>5} rules in {:.1} ms (1 thread), {:.1} ms ({cores} threads): {:.2}x",
            rules.label,
            one.as_secs_f64() * 1000.0,
            every.as_secs_f64() * 1000.0,
            one.as_secs_f64() / every.as_secs_f64()
        );
    }
}

/// Measures every set on one input, on one thread and every core, and prints the ratios.
fn report(name: &str, dir: &Path, sets: &[Rules<'_>], rounds: usize, cores: usize) {
    println!(
        "{:<6} {:<22} {:>9} {:>12} {:>9} {:>11}",
        "input", "rules", "threads", "events/s", "wall s", "x Chainsaw"
    );
    let exe = support::netdiscover_exe();
    // Per set: (one thread, every core) wall seconds.
    let mut seconds: Vec<(f64, f64)> = Vec::new();
    for rules in sets {
        let mut pair = [0.0; 2];
        for (slot, threads) in [Some(1), None].into_iter().enumerate() {
            let Outcome { time, records, .. } = best(rounds, &exe, dir, threads, rules);
            let rate = records as f64 / time.as_secs_f64();
            println!(
                "{:<6} {:<22} {:>9} {:>12.0} {:>9.3} {:>10.1}x",
                name,
                rules.label,
                threads.map_or(format!("{cores} (all)"), |n| n.to_string()),
                rate,
                time.as_secs_f64(),
                rate / CHAINSAW_EVENTS_PER_S
            );
            pair[slot] = time.as_secs_f64();
        }
        seconds.push((pair[0], pair[1]));
    }
    for (rules, (one, all)) in sets.iter().zip(&seconds) {
        let (seed_one, seed_all) = seconds[0];
        println!(
            "{name}: {}: all cores / 1 thread = {:.2}x; time / 2 rules' = {:.2}x (1 thread), {:.2}x (all cores)",
            rules.label,
            one / all,
            one / seed_one,
            all / seed_all
        );
    }
    if let Some(baseline) = std::env::var_os("SCAN_BENCH_BASELINE") {
        report_baseline(name, dir, sets, rounds, Path::new(&baseline), &seconds);
    }
}

/// The same scans by another build (its default threads), against this build on every core.
fn report_baseline(
    name: &str,
    dir: &Path,
    sets: &[Rules<'_>],
    rounds: usize,
    baseline: &Path,
    seconds: &[(f64, f64)],
) {
    for (rules, (_, all)) in sets.iter().zip(seconds) {
        let Outcome {
            time,
            records,
            rules: loaded,
        } = best(rounds, baseline, dir, None, rules);
        println!(
            "{name}: {}: baseline {} ({loaded} rules loaded) {:.0} events/s ({:.3} s); this build on all cores = {:.2}x its events/s",
            rules.label,
            baseline.display(),
            records as f64 / time.as_secs_f64(),
            time.as_secs_f64(),
            time.as_secs_f64() / all
        );
    }
}
