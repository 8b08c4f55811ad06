//! splunkd closes the input's stdout mid-stream (a splunkd restart): whatever was still unread
//! in the pipe is sent again by the next run; nothing is lost.

use std::io::Read;
use std::thread;
use std::time::Duration;

use super::harness::{assert_tally, complete_events, sysmon_text, tally, Input, Scene};

const BATCH: usize = 100;

#[test]
fn events_left_in_the_pipe_when_splunkd_goes_away_are_sent_again() {
    let scene = Scene::new();
    std::fs::write(scene.data.join("app.xml"), sysmon_text(1..=3000)).expect("write");
    let config = scene.config(&[("poll_interval", "0.05"), ("batch_size", "100")]);
    let (input, mut stdout) = Input::start_unread(&config);
    // Read about a third of a megabyte, stop reading while the input keeps writing, then go.
    let mut taken = Vec::new();
    let mut block = vec![0u8; 16 << 10];
    while taken.len() < 300_000 {
        match stdout.read(&mut block) {
            Ok(0) | Err(_) => break,
            Ok(n) => taken.extend_from_slice(&block[..n]),
        }
    }
    thread::sleep(Duration::from_millis(500));
    drop(stdout);
    let first = input.wait();
    assert_eq!(first.status.code(), Some(0), "{:?}", first.stderr);
    let first_pids: Vec<u64> = complete_events(&taken).iter().map(|e| e.pid()).collect();
    let mut again = Input::start(&config);
    again.wait_for_events_or_quiet(3000 - first_pids.len(), Duration::from_secs(3));
    let second = again.settle_and_stop(Duration::from_millis(300));
    println!(
        "stdout closed after {} events read: the restart sent {}",
        first_pids.len(),
        second.pids().len()
    );
    let expected: Vec<u64> = (1..=3000).collect();
    assert_tally(
        "stdout closed mid-stream",
        &tally(&expected, &[first_pids, second.pids()]),
        BATCH,
    );
}
