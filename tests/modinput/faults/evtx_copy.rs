//! An EVTX export copied into the watched directory while the input polls: the partial file
//! is not an error, and the records of a chunk that was partial are read once it is whole.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::thread;
use std::time::Duration;

use netdiscover::ingest::{FileReader, Item, OpenOptions as ReadOptions};

use super::harness::{assert_tally, errors, tally, Event, Input, Scene};
use crate::support::shared;

const EXPORT: &str = "datasets/evtx/atomic-evtx__System_Information_Discovery_2_Sysmon.evtx";

fn process_events(path: &std::path::Path) -> usize {
    FileReader::open(path, &ReadOptions::default())
        .expect("open the export")
        .filter(|item| matches!(item, Item::Process(_)))
        .count()
}

/// The events one input emits for the whole export, copied in one go.
fn reference(source: &std::path::Path, expected: usize) -> Vec<Event> {
    let scene = Scene::new();
    fs::copy(source, scene.data.join("export.evtx")).expect("copy");
    let mut input = Input::start(&scene.config(&[("poll_interval", "0.05")]));
    assert!(input.wait_for_events(expected), "reference run");
    input.settle_and_stop(Duration::from_millis(200)).events()
}

/// Copies `bytes` into `path` in pieces ending at `cuts`, pausing between pieces so the input
/// polls the partial file several times.
fn copy_in_steps(bytes: &[u8], path: &std::path::Path, cuts: &[usize]) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("create copy");
    let mut from = 0;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        file.write_all(&bytes[from..cut]).expect("copy piece");
        file.flush().expect("flush");
        from = cut;
        thread::sleep(Duration::from_millis(400));
    }
}

#[test]
fn an_export_copied_while_polled_is_read_whole_and_once() {
    let Some(source) = shared(EXPORT) else {
        return;
    };
    let expected_count = process_events(&source);
    let expected: Vec<(String, String)> = reference(&source, expected_count)
        .into_iter()
        .map(|e| (e.data, e.time))
        .collect();
    assert_eq!(expected.len(), expected_count);
    let distinct: std::collections::BTreeSet<_> = expected.iter().collect();
    assert_eq!(
        distinct.len(),
        expected.len(),
        "every event of the export is distinct"
    );
    let bytes = fs::read(&source).expect("read export");
    let scene = Scene::new();
    let mut input = Input::start(&scene.config(&[("poll_interval", "0.05")]));
    // Inside the file header, then in the middle of chunks 3 and 9.
    let cuts = [2000, 4096 + 3 * 65536 + 30_000, 4096 + 9 * 65536 + 1];
    copy_in_steps(&bytes, &scene.data.join("export.evtx"), &cuts);
    input.wait_for_events_or_quiet(expected_count, Duration::from_secs(5));
    let run = input.settle_and_stop(Duration::from_millis(300));
    let got: Vec<(String, String)> = run.events().into_iter().map(|e| (e.data, e.time)).collect();
    println!(
        "EVTX copied in 4 steps: {} of {expected_count} events",
        got.len()
    );
    assert_tally("EVTX copied while polled", &tally(&expected, &[got]), 0);
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
}
