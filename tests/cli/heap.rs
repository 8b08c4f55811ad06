//! Which allocator the `netdiscover` program runs on (`netdiscover::heap`): mimalloc for the
//! offline front ends, glibc's malloc for the chunked command. Told apart by mimalloc's own
//! statistics, which it prints at exit under `MIMALLOC_SHOW_STATS=1` (mimalloc's README,
//! "Environment Options"): the pages it handed out.

use std::path::PathBuf;

use crate::support::splunkd::Splunkd;
use crate::support::{execute, getinfo, netdiscover_exe, TIMEOUT};

const SHOW_STATS: (&str, &str) = ("MIMALLOC_SHOW_STATS", "1");

/// The peak of mimalloc's `pages` line in its statistics; 0 when it printed none (it prints
/// its tables only once it has handed out memory).
fn mimalloc_pages_peak(stderr: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(stderr);
    let line = text.lines().find(|line| {
        let mut words = line.split_whitespace();
        words.next() == Some("pages") && words.next() == Some(":")
    });
    line.and_then(|line| line.split_whitespace().nth(2))
        .map_or(0, |peak| peak.parse().unwrap_or(0))
}

#[test]
fn scan_allocates_from_mimalloc() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let out = crate::support::command(netdiscover_exe())
        .args(["scan", "--no-progress"])
        .arg(&examples)
        .env(SHOW_STATS.0, SHOW_STATS.1)
        .output()
        .expect("run netdiscover scan");
    assert_eq!(out.status.code(), Some(1), "the examples match");
    let peak = mimalloc_pages_peak(&out.stderr);
    assert!(
        peak > 0,
        "no mimalloc pages in:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_chunked_command_allocates_from_glibc() {
    let env = [(SHOW_STATS.0, std::ffi::OsStr::new(SHOW_STATS.1))];
    let mut splunkd =
        Splunkd::spawn_with_env(&netdiscover_exe(), &[], &env, TIMEOUT).expect("spawn");
    splunkd.request(&getinfo(&[]), &[]).expect("getinfo reply");
    let body = b"dest,process_name,process\nws1,netstat.exe,netstat -ano\n";
    let reply = splunkd
        .request(&execute(true), body)
        .expect("execute reply");
    assert!(reply.body.windows(7).any(|w| w == b"Netstat"), "annotated");
    let finished = splunkd.finish();
    assert_eq!(finished.exit_code, Some(0));
    assert_eq!(
        mimalloc_pages_peak(&finished.stderr),
        0,
        "{}",
        String::from_utf8_lossy(&finished.stderr)
    );
}
