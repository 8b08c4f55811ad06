//! More files than the open-file limit allows: every record once, a bounded number of
//! descriptors whatever the directory holds, and a file that could not be opened is retried,
//! never recorded as read.

use std::fs;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::harness::{assert_tally, open_fds, sysmon_text, tally, Input, Scene, BIN};

/// Samples the input's open descriptors until told to stop; returns the largest count seen.
fn watch_fds(pid: u32, stop: Arc<AtomicBool>) -> thread::JoinHandle<usize> {
    let max = Arc::new(AtomicUsize::new(0));
    thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            if let Some(n) = open_fds(pid) {
                max.fetch_max(n, Ordering::SeqCst);
            }
            thread::sleep(Duration::from_millis(5));
        }
        max.load(Ordering::SeqCst)
    })
}

/// The input run under `ulimit -n limit`.
fn limited(limit: u32) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n {limit} && exec \"$0\""))
        .arg(BIN);
    command
}

fn many_files(files: u64, limit: u32, max_fds: usize) {
    let scene = Scene::new();
    let mut expected = Vec::new();
    for f in 0..files {
        let pids = [f * 2 + 1, f * 2 + 2];
        expected.extend(pids);
        fs::write(scene.data.join(format!("f{f:05}.xml")), sysmon_text(pids)).expect("write");
    }
    let config = scene.config(&[("poll_interval", "0.05"), ("batch_size", "500")]);
    let mut input = Input::start_command(limited(limit), &config);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_fds(input.pid(), Arc::clone(&stop));
    input.wait_for_events_or_quiet(expected.len(), Duration::from_secs(10));
    let first = input.settle_and_stop(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let peak = watcher.join().expect("fd watcher");
    // A restart without the limit: whatever the first run recorded as read is not read again,
    // and whatever it skipped is read now.
    let mut again = Input::start(&config);
    again.wait_for_events_or_quiet(expected.len(), Duration::from_secs(3));
    let second = again.settle_and_stop(Duration::from_millis(300));
    let fault = format!("{files} files under ulimit -n {limit}");
    println!(
        "{fault}: first run {} events, restart {} events, at most {peak} descriptors open",
        first.pids().len(),
        second.pids().len()
    );
    assert_tally(&fault, &tally(&expected, &[first.pids(), second.pids()]), 0);
    assert_eq!(
        first.pids().len(),
        expected.len(),
        "{fault}: the limited run itself reads every file"
    );
    assert!(peak <= max_fds, "{fault}: {peak} descriptors open at once");
    assert_eq!(first.status.code(), Some(0), "{:?}", first.stderr);
}

/// The figures: 5,000 small files under `ulimit -n 1024`, a common default.
#[test]
fn five_thousand_files_under_a_1024_descriptor_limit() {
    many_files(5000, 1024, 600);
}

/// A limit far below the 256 files the input would otherwise keep open.
#[test]
fn a_limit_of_64_descriptors_bounds_what_is_held_open() {
    many_files(600, 64, 64);
}

/// Files that cannot be read (not a format the input knows) do not hold the few slots a low
/// limit leaves: the readable file among them is read all the same.
#[test]
fn unreadable_files_do_not_crowd_out_readable_ones() {
    let scene = Scene::new();
    for f in 0..200 {
        let junk = format!("junk {f} ").repeat(600);
        fs::write(scene.data.join(format!("a{f:03}.bin")), junk).expect("write");
    }
    let expected: Vec<u64> = (1..=50).collect();
    fs::write(scene.data.join("z.xml"), sysmon_text(1..=50)).expect("write");
    let config = scene.config(&[("poll_interval", "0.05")]);
    let mut input = Input::start_command(limited(64), &config);
    input.wait_for_events_or_quiet(50, Duration::from_secs(5));
    let run = input.settle_and_stop(Duration::from_millis(300));
    assert_tally(
        "200 unreadable files, ulimit -n 64",
        &tally(&expected, &[run.pids()]),
        0,
    );
    let reported = run.log_with("cannot tell the format").len();
    assert_eq!(
        reported, 200,
        "each unreadable file is reported once, not {reported} times"
    );
}

/// More files than the limit lets the input hold open, all growing at once: each gets its
/// turn while the writers are still writing (none waits until the others go quiet), and
/// every record arrives once.
#[test]
fn files_that_all_keep_growing_are_served_in_turn() {
    let scene = Scene::new();
    const FILES: u64 = 60;
    const ROUNDS: u64 = 40;
    let config = scene.config(&[("poll_interval", "0.02"), ("batch_size", "100")]);
    let mut input = Input::start_command(limited(64), &config);
    let mut served_while_writing = 0;
    for round in 0..ROUNDS {
        for f in 0..FILES {
            super::harness::append(
                &scene.data.join(format!("g{f:02}.xml")),
                &sysmon_text([round * FILES + f + 1]),
            );
        }
        thread::sleep(Duration::from_millis(100));
        if round == ROUNDS - 5 {
            let sources: std::collections::BTreeSet<String> =
                input.events_now().into_iter().map(|e| e.source).collect();
            served_while_writing = sources.len();
        }
    }
    let expected: Vec<u64> = (1..=FILES * ROUNDS).collect();
    input.wait_for_events_or_quiet(expected.len(), Duration::from_secs(5));
    let run = input.settle_and_stop(Duration::from_millis(300));
    println!("{served_while_writing} of {FILES} growing files served while still written");
    assert_tally(
        "60 growing files, ulimit -n 64",
        &tally(&expected, &[run.pids()]),
        0,
    );
    assert_eq!(served_while_writing, FILES as usize, "files left waiting");
}
