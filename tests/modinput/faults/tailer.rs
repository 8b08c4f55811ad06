//! Beyond issue 20's table: the other things that happen to files a tailer follows. Each
//! case counts lost and repeated records over every run of the real input.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::thread;
use std::time::Duration;

use super::harness::{append, assert_tally, errors, sysmon, sysmon_text, tally, Input, Scene};

const BATCH: usize = 100;

fn params() -> Vec<(&'static str, &'static str)> {
    vec![("poll_interval", "0.02"), ("batch_size", "100")]
}

fn range(from: u64, to: u64) -> Vec<u64> {
    (from..=to).collect()
}

#[test]
fn truncated_in_place_without_rotation() {
    let scene = Scene::new();
    let live = scene.data.join("app.xml");
    fs::write(&live, sysmon_text(1..=500)).expect("write");
    let mut input = Input::start(&scene.config(&params()));
    assert!(input.wait_for_events(500));
    OpenOptions::new()
        .write(true)
        .open(&live)
        .and_then(|f| f.set_len(0))
        .expect("truncate");
    thread::sleep(Duration::from_millis(100));
    append(&live, &sysmon_text(501..=600));
    input.wait_for_events_or_quiet(600, Duration::from_secs(3));
    let run = input.settle_and_stop(Duration::from_millis(300));
    assert_tally(
        "truncated in place",
        &tally(&range(1, 600), &[run.pids()]),
        0,
    );
}

#[test]
fn replaced_by_a_different_file_of_the_same_name() {
    let scene = Scene::new();
    let live = scene.data.join("app.xml");
    fs::write(&live, sysmon_text(1..=500)).expect("write");
    let mut input = Input::start(&scene.config(&params()));
    assert!(input.wait_for_events(500));
    let staged = scene.root.path().join("staged.xml");
    fs::write(&staged, sysmon_text(501..=700)).expect("write replacement");
    fs::rename(&staged, &live).expect("replace");
    input.wait_for_events_or_quiet(700, Duration::from_secs(3));
    let run = input.settle_and_stop(Duration::from_millis(300));
    assert_tally(
        "replaced by another file",
        &tally(&range(1, 700), &[run.pids()]),
        0,
    );
}

/// A file read and deleted while the input is stopped; new files created meanwhile may get
/// its inode number. Each new file is read whole, the old one not again.
#[test]
fn inode_numbers_reused_while_stopped() {
    let scene = Scene::new();
    let config = scene.config(&params());
    for f in 0..20u64 {
        fs::write(
            scene.data.join(format!("old{f}.xml")),
            sysmon_text(f * 10 + 1..=f * 10 + 10),
        )
        .expect("write");
    }
    let mut input = Input::start(&config);
    assert!(input.wait_for_events(200));
    let first = input.settle_and_stop(Duration::from_millis(200));
    for f in 0..20u64 {
        fs::remove_file(scene.data.join(format!("old{f}.xml"))).expect("delete");
    }
    for f in 0..20u64 {
        fs::write(
            scene.data.join(format!("new{f}.xml")),
            sysmon_text(1000 + f * 10 + 1..=1000 + f * 10 + 10),
        )
        .expect("write");
    }
    let mut again = Input::start(&config);
    again.wait_for_events_or_quiet(200, Duration::from_secs(3));
    let second = again.settle_and_stop(Duration::from_millis(300));
    let mut expected = range(1, 200);
    expected.extend(range(1001, 1200));
    assert_tally(
        "inode reuse while stopped",
        &tally(&expected, &[first.pids(), second.pids()]),
        0,
    );
}

/// Records written in two pieces at arbitrary byte positions while the input polls, the
/// last one completed only after a pause.
#[test]
fn appended_in_pieces_while_read() {
    let scene = Scene::new();
    let live = scene.data.join("app.xml");
    fs::write(&live, "").expect("create");
    let mut input = Input::start(&scene.config(&params()));
    let mut file = OpenOptions::new().append(true).open(&live).expect("open");
    for pid in 1..=1000u64 {
        let record = sysmon(pid);
        let cut = (pid as usize * 37) % record.len();
        file.write_all(&record.as_bytes()[..cut]).expect("write");
        file.flush().expect("flush");
        if pid % 50 == 0 {
            thread::sleep(Duration::from_millis(30));
        }
        file.write_all(&record.as_bytes()[cut..]).expect("write");
    }
    let last = sysmon(1001);
    file.write_all(&last.as_bytes()[..300]).expect("write");
    thread::sleep(Duration::from_millis(500));
    file.write_all(&last.as_bytes()[300..]).expect("write");
    input.wait_for_events_or_quiet(1001, Duration::from_secs(3));
    let run = input.settle_and_stop(Duration::from_millis(300));
    assert_tally(
        "appended in pieces",
        &tally(&range(1, 1001), &[run.pids()]),
        0,
    );
    assert!(errors(&run).is_empty(), "{:?}", errors(&run));
}

fn gzip(text: &str) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(text.as_bytes()).expect("compress");
    encoder.finish().expect("compress")
}

/// A `.gz` that gets a second gzip member appended (`gzip -c more >> file.gz`).
#[test]
fn a_gzip_file_appended_with_a_second_member() {
    let scene = Scene::new();
    let gz = scene.data.join("app.xml.gz");
    fs::write(&gz, gzip(&sysmon_text(1..=300))).expect("write");
    let mut input = Input::start(&scene.config(&params()));
    assert!(input.wait_for_events(300));
    let mut file = OpenOptions::new().append(true).open(&gz).expect("open");
    file.write_all(&gzip(&sysmon_text(301..=450)))
        .expect("append member");
    drop(file);
    input.wait_for_events_or_quiet(450, Duration::from_secs(3));
    let run = input.settle_and_stop(Duration::from_millis(300));
    assert_tally(
        "gzip member appended",
        &tally(&range(1, 450), &[run.pids()]),
        0,
    );
}

/// The state file damaged while the input is stopped (cut in half, or overwritten with
/// garbage): at most the last batch comes again, nothing is lost.
#[test]
fn a_damaged_checkpoint_file_repeats_at_most_a_batch() {
    for damage in ["cut in half", "garbage"] {
        let scene = Scene::new();
        let live = scene.data.join("app.xml");
        let config = scene.config(&params());
        fs::write(&live, sysmon_text(1..=1000)).expect("write");
        let mut input = Input::start(&config);
        assert!(input.wait_for_events(1000));
        let first = input.settle_and_stop(Duration::from_millis(200));
        let state = scene.state_file();
        let bytes = fs::read(&state).expect("state file");
        match damage {
            "cut in half" => fs::write(&state, &bytes[..bytes.len() / 2]),
            _ => fs::write(&state, b"\x00\x01garbage{{{"),
        }
        .expect("damage");
        append(&live, &sysmon_text(1001..=1100));
        let mut again = Input::start(&config);
        again.wait_until_quiet(Duration::from_secs(2));
        let second = again.settle_and_stop(Duration::from_millis(300));
        assert_tally(
            &format!("checkpoint {damage}"),
            &tally(&range(1, 1100), &[first.pids(), second.pids()]),
            BATCH,
        );
    }
}

/// The same stanza started twice on one checkpoint directory (two splunkd instances, or a
/// stale process): one waits for the other; nothing is read twice.
#[test]
fn the_same_stanza_running_twice_reads_each_record_once() {
    let scene = Scene::new();
    let live = scene.data.join("app.xml");
    let config = scene.config(&params());
    fs::write(&live, sysmon_text(1..=500)).expect("write");
    let a = Input::start(&config);
    let mut b = Input::start(&config);
    for pid in 501..=1000u64 {
        append(&live, &sysmon(pid));
        if pid % 50 == 0 {
            thread::sleep(Duration::from_millis(20));
        }
    }
    thread::sleep(Duration::from_millis(500));
    let waiting = "in use by another netdiscover_input";
    assert!(
        a.logged(waiting) != b.logged(waiting),
        "exactly one of the two waits for the other"
    );
    let first = a.stop();
    b.wait_until_quiet(Duration::from_secs(2));
    let second = b.settle_and_stop(Duration::from_millis(500));
    assert_tally(
        "two inputs on one stanza",
        &tally(&range(1, 1000), &[first.pids(), second.pids()]),
        BATCH,
    );
}

/// A backup copy of a followed file made in the watched directory is the same content:
/// not read again (as Splunk's monitor, which knows a file by its first bytes).
#[test]
fn a_copy_of_a_followed_file_is_not_read_again() {
    let scene = Scene::new();
    let live = scene.data.join("app.xml");
    fs::write(&live, sysmon_text(1..=500)).expect("write");
    let mut input = Input::start(&scene.config(&params()));
    assert!(input.wait_for_events(500));
    fs::copy(&live, scene.data.join("app-backup.xml")).expect("copy");
    append(&live, &sysmon_text(501..=600));
    input.wait_for_events_or_quiet(600, Duration::from_secs(2));
    let run = input.settle_and_stop(Duration::from_millis(500));
    assert_tally("backup copy", &tally(&range(1, 600), &[run.pids()]), 0);
}

/// CrowdStrike NDJSON whose last line has no newline yet: it is read once it has one, and a
/// final line that is a whole JSON object is read even without one.
#[test]
fn an_ndjson_last_line_without_its_newline() {
    let scene = Scene::new();
    let live = scene.data.join("falcon.json");
    let line = |pid: u64| {
        format!(
            "{{\"event_simpleName\":\"ProcessRollup2\",\"id\":\"f-{pid}\",\"timestamp\":\"{}\",\
             \"ImageFileName\":\"\\\\Device\\\\HarddiskVolume2\\\\Windows\\\\System32\\\\NETSTAT.EXE\",\
             \"CommandLine\":\"netstat -ano {pid}\",\"RawProcessId\":\"{pid}\",\"aid\":\"host\"}}",
            1714557600000u64 + pid
        )
    };
    let mut text: String = (1..=99).map(|p| line(p) + "\n").collect();
    text.push_str(&line(100));
    fs::write(&live, text).expect("write");
    let mut input = Input::start(&scene.config(&params()));
    input.wait_for_events_or_quiet(100, Duration::from_secs(3));
    let run = input.settle_and_stop(Duration::from_millis(300));
    assert_tally(
        "NDJSON without a final newline",
        &tally(&range(1, 100), &[run.pids()]),
        0,
    );
}
