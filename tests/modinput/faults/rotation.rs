//! Rotation as logrotate does it: `copytruncate` (copy the live file, then truncate it in
//! place) and `compress` (the rotated file is gzipped into `<name>.gz`, then removed), with
//! the include pattern of the README's example stanza. logrotate itself is not needed: each
//! step is done here the way logrotate does it (see logrotate(8): copytruncate, compress,
//! dateext).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::thread;
use std::time::Duration;

use netdiscover::modinput::Annotator;

use super::harness::{
    append, assert_tally, complete_events, errors, sysmon_text, tally, Event, Input, Scene,
};
use crate::drive;

const BATCH: usize = 100;

fn params(include: Option<&str>) -> Vec<(&str, &str)> {
    let mut params = vec![("poll_interval", "0.02"), ("batch_size", "100")];
    if let Some(include) = include {
        params.push(("include", include));
    }
    params
}

/// logrotate's copytruncate: shift the older copies (`.1` → `.2` …), copy the live file to
/// `.1`, truncate the live file to 0 bytes.
fn copytruncate(live: &Path, keep: usize) {
    for n in (1..keep).rev() {
        let from = live.with_extension(format!("xml.{n}"));
        if from.exists() {
            fs::rename(&from, live.with_extension(format!("xml.{}", n + 1))).expect("shift");
        }
    }
    fs::copy(live, live.with_extension("xml.1")).expect("copy");
    OpenOptions::new()
        .write(true)
        .open(live)
        .expect("open live")
        .set_len(0)
        .expect("truncate");
}

/// gzip as logrotate's compress runs it: `<file>.gz` is written while `<file>` stays, in
/// pieces, then `<file>` is removed.
fn gzip_in_place(file: &Path) {
    let text = fs::read(file).expect("read rotated file");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&text).expect("compress");
    let gz = encoder.finish().expect("compress");
    let target = format!("{}.gz", file.display());
    let mut out = fs::File::create(&target).expect("create .gz");
    let half = gz.len() / 2;
    out.write_all(&gz[..half]).expect("write .gz");
    out.flush().expect("flush");
    thread::sleep(Duration::from_millis(150));
    out.write_all(&gz[half..]).expect("write .gz");
    drop(out);
    fs::remove_file(file).expect("remove rotated file");
}

/// `app.xml` holding records 1 to 1000, all read by an input with the README's include.
fn thousand_read_with_the_readme_include() -> (Scene, std::path::PathBuf, Input) {
    let scene = Scene::new();
    let live = scene.data.join("app.xml");
    fs::write(&live, sysmon_text(1..=1000)).expect("write");
    let include = readme_include();
    let mut input = Input::start(&scene.config(&params(Some(&include))));
    assert!(input.wait_for_events(1000), "first 1000");
    (scene, live, input)
}

/// copytruncate with the README's include, which selects the copies too.
#[test]
fn copytruncate_rotation_is_recognised_and_resumed() {
    // The scene (temporary directory) lives to the end of the test.
    let (_scene, live, mut input) = thousand_read_with_the_readme_include();
    copytruncate(&live, 5);
    append(&live, &sysmon_text(1001..=1200));
    input.wait_for_events_or_quiet(1200, Duration::from_secs(3));
    let run = input.settle_and_stop(Duration::from_millis(500));
    let expected: Vec<u64> = (1..=1200).collect();
    assert_tally("copytruncate", &tally(&expected, &[run.pids()]), BATCH);
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
}

/// copytruncate while the input is stopped and behind: what it had not read yet is only in
/// the copy, which resumes where the live file stood; the truncated live file starts over.
#[test]
fn copytruncate_while_stopped_reads_the_rest_from_the_copy() {
    let scene = Scene::new();
    let live = scene.data.join("app.xml");
    fs::write(&live, sysmon_text(1..=1000)).expect("write");
    let include = readme_include();
    let config = scene.config(&params(Some(&include)));
    let mut input = Input::start(&config);
    assert!(input.wait_for_events(1000), "first 1000");
    let first = input.settle_and_stop(Duration::from_millis(200));
    append(&live, &sysmon_text(1001..=1500));
    copytruncate(&live, 5);
    append(&live, &sysmon_text(1501..=1600));
    let mut again = Input::start(&config);
    again.wait_for_events_or_quiet(600, Duration::from_secs(3));
    let second = again.settle_and_stop(Duration::from_millis(300));
    let expected: Vec<u64> = (1..=1600).collect();
    assert_tally(
        "copytruncate while stopped",
        &tally(&expected, &[first.pids(), second.pids()]),
        0,
    );
}

/// A writer appending all along, rotated by copytruncate three times while the input reads
/// (the writer pauses during the copy and truncation, as an application would have to for
/// copytruncate not to lose lines itself).
#[test]
fn copytruncate_under_a_steady_writer_loses_and_repeats_nothing_of_its_own() {
    let scene = Scene::new();
    let live = scene.data.join("app.xml");
    fs::write(&live, "").expect("create");
    let mut input = Input::start(&scene.config(&params(None)));
    for pid in 1..=4000u64 {
        append(&live, &sysmon_text([pid]));
        if pid % 1000 == 0 {
            copytruncate(&live, 5);
        }
        if pid % 20 == 0 {
            thread::sleep(Duration::from_millis(2));
        }
    }
    input.wait_for_events_or_quiet(4000, Duration::from_secs(3));
    let run = input.settle_and_stop(Duration::from_millis(500));
    let expected: Vec<u64> = (1..=4000).collect();
    assert_tally(
        "copytruncate x4 under a writer",
        &tally(&expected, &[run.pids()]),
        4 * BATCH,
    );
}

/// copytruncate, and the writer refilling the live file past the reader's offset, while a
/// batch is being read from it: the reader's buffer still holds old records, the reads after
/// it return new records at the old offsets. Forced at one record (the annotator runs the
/// rotation when it sees record 10), so the interleaving that a loaded machine produces now
/// and then happens at every run. Nothing of the batch may count as read in either content:
/// the copy resumes where the batch began, the live file starts over.
#[test]
fn copytruncate_in_the_middle_of_a_batch_loses_nothing() {
    let scene = Scene::new();
    let live = scene.data.join("app.xml");
    fs::write(&live, sysmon_text(1..=1000)).expect("write");
    let rotate_at = live.clone();
    let mut rotated = false;
    let annotator: Annotator = Box::new(move |record| {
        let pid = record.fields.iter().find(|(k, _)| *k == "process_id");
        if !rotated && pid.is_some_and(|(_, v)| v == "10") {
            rotated = true;
            copytruncate(&rotate_at, 5);
            append(&rotate_at, &sysmon_text(1001..=2000));
        }
        Vec::new()
    });
    let stanza = "netdiscover_input://mid-batch";
    let checkpoints = scene.checkpoints.clone();
    let batch = BATCH.to_string();
    let params = [("batch_size", batch.as_str())];
    let mut follower =
        drive::follower_with(stanza, &scene.data, &params, &checkpoints, Some(annotator));
    follower.run_until_idle().expect("run");
    let pids: Vec<u64> = complete_events(&follower.into_output())
        .iter()
        .map(Event::pid)
        .collect();
    let expected: Vec<u64> = (1..=2000).collect();
    assert_tally("copytruncate mid-batch", &tally(&expected, &[pids]), BATCH);
}

/// logrotate with `compress`: `app.xml` → `app.xml.1` (rename), a new `app.xml`, then
/// `app.xml.1` → `app.xml.1.gz`, with the README's include, which selects all of them.
#[test]
fn a_rotated_file_compressed_afterwards_is_not_read_again() {
    let (scene, live, mut input) = thousand_read_with_the_readme_include();
    let rotated = scene.data.join("app.xml.1");
    fs::rename(&live, &rotated).expect("rotate");
    fs::write(&live, sysmon_text(1001..=1100)).expect("new live file");
    assert!(input.wait_for_events(1100), "the new file");
    gzip_in_place(&rotated);
    thread::sleep(Duration::from_millis(500));
    append(&live, &sysmon_text(1101..=1200));
    input.wait_for_events_or_quiet(1200, Duration::from_secs(3));
    let run = input.settle_and_stop(Duration::from_millis(500));
    let expected: Vec<u64> = (1..=1200).collect();
    assert_tally("rename + compress", &tally(&expected, &[run.pids()]), BATCH);
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
}

/// The `include` of the README's example stanza.
fn readme_include() -> String {
    let readme =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README.md");
    readme
        .lines()
        .find_map(|line| line.strip_prefix("include = "))
        .expect("the README's example stanza has an include line")
        .to_string()
}

/// logrotate with `dateext`, `extension .xml` and `compress`, and the include pattern of the
/// README's example stanza: `app.xml` → `app-20240101.xml` → `app-20240101.xml.gz`.
#[test]
fn dateext_rotation_compressed_with_the_readme_include_is_not_read_again() {
    let scene = Scene::new();
    let live = scene.data.join("app.xml");
    fs::write(&live, sysmon_text(1..=1000)).expect("write");
    let include = readme_include();
    assert!(
        regex::Regex::new(&include)
            .expect("the README's include is a regular expression")
            .is_match("/x/app-20240101.xml.gz"),
        "{include}"
    );
    let include = include.as_str();
    let mut input = Input::start(&scene.config(&params(Some(include))));
    assert!(input.wait_for_events(1000), "first 1000");
    let rotated = scene.data.join("app-20240101.xml");
    fs::rename(&live, &rotated).expect("rotate");
    fs::write(&live, sysmon_text(1001..=1100)).expect("new live file");
    assert!(input.wait_for_events(1100), "the new file");
    gzip_in_place(&rotated);
    thread::sleep(Duration::from_millis(800));
    // A restart sees the .gz as a file it has never had open.
    let first = input.settle_and_stop(Duration::from_millis(300));
    let again = Input::start(&scene.config(&params(Some(include))));
    let second = again.settle_and_stop(Duration::from_secs(1));
    let expected: Vec<u64> = (1..=1100).collect();
    assert_tally(
        "dateext + compress, README include",
        &tally(&expected, &[first.pids(), second.pids()]),
        BATCH,
    );
}
