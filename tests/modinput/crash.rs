//! Crash safety of `netdiscover_input`: the real executable follows a multi-file corpus that
//! another thread keeps appending to (lines written in two halves, so partial trailing records
//! are common) and rotating by rename, while the test stops it over and over at random moments
//! and restarts it on the same checkpoint directory.
//!
//! * SIGKILL, 50 times: the union of every run's complete events must hold every record ever
//!   written (zero lost), and every event a run repeats must come from the last batch some
//!   earlier run wrote before it died (a kill leaves only the batch in flight without a
//!   checkpoint; it stays owed until a later run gets to that file again).
//! * SIGTERM, 50 times: zero lost and zero duplicates, exit status 0 and `</stream>` each time.

use std::collections::{HashMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use netdiscover::ingest::Position;

const STREAMS: usize = 3;
const RECORDS_PER_STREAM: usize = 1500;
const ROTATE_EVERY: usize = 400;
const BATCH_SIZE: usize = 40;
const RUNS: usize = 50;

/// xorshift64*: a seeded generator so a failing run can be replayed (the seed is printed).
struct Rng(u64);

impl Rng {
    fn from_time() -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        let seed = std::env::var("CRASH_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(nanos | 1);
        println!("CRASH_SEED={seed}");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

/// One Sysmon EID 1 event as XmlWinEventLog renders it (written by us for this test; every
/// fifth one has a command line spanning two lines, as real PowerShell command lines do).
/// The ProcessId `stream * 1_000_000 + seq` is the record's identity for the test.
fn record(stream: usize, seq: usize) -> String {
    let pid = stream * 1_000_000 + seq;
    let command_line = if seq.is_multiple_of(5) {
        format!("powershell.exe -c \"Get-Process\n| Select -First {seq}\"")
    } else {
        format!("netstat -ano {seq}")
    };
    format!(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\
         <Provider Name='Microsoft-Windows-Sysmon' Guid='5770385F-C22A-43E0-BF4C-06F5698FFBD9'/>\
         <EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task><Opcode>0</Opcode>\
         <Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime='2024-10-23T18:{:02}:{:02}.{:06}Z'/>\
         <EventRecordID>{}</EventRecordID><Correlation/><Execution ProcessID='3180' ThreadID='4224'/>\
         <Channel>Microsoft-Windows-Sysmon/Operational</Channel><Computer>WIN-{stream}</Computer>\
         <Security UserID='S-1-5-18'/></System><EventData><Data Name='RuleName'/>\
         <Data Name='ProcessGuid'>747F3D96-DB7C-5DBE-0000-{:012}</Data><Data Name='ProcessId'>{pid}</Data>\
         <Data Name='Image'>C:\\Windows\\System32\\NETSTAT.EXE</Data>\
         <Data Name='CommandLine'>{}</Data><Data Name='User'>CORP\\analyst</Data>\
         <Data Name='IntegrityLevel'>High</Data><Data Name='ParentProcessId'>3936</Data>\
         <Data Name='ParentImage'>C:\\Windows\\System32\\cmd.exe</Data>\
         <Data Name='ParentCommandLine'>cmd.exe /c netstat &amp;amp; net use</Data></EventData></Event>\n",
        seq / 600 % 60,
        seq / 10 % 60,
        seq,
        seq + 1,
        pid,
        command_line
    )
}

/// Appends records to `s<N>.xml`, each in two writes with a pause between them, and
/// rotates `s<N>.xml` to `s<N>.xml.<k>` (same directory) every [`ROTATE_EVERY`] records.
fn generate(dir: PathBuf, pause: Duration, done: Arc<AtomicBool>) {
    let mut rotations = [0usize; STREAMS];
    for seq in 0..RECORDS_PER_STREAM {
        for (stream, rotation) in rotations.iter_mut().enumerate() {
            let path = dir.join(format!("s{stream}.xml"));
            if seq > 0 && seq % ROTATE_EVERY == 0 {
                *rotation += 1;
                fs::rename(&path, dir.join(format!("s{stream}.xml.{rotation}"))).expect("rotate");
            }
            let line = record(stream, seq);
            let (a, b) = line.as_bytes().split_at(line.len() / 2);
            let mut f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .expect("open for append");
            f.write_all(a).expect("append");
            f.flush().expect("flush");
            thread::sleep(pause);
            f.write_all(b).expect("append");
        }
    }
    done.store(true, Ordering::SeqCst);
}

fn input_xml(data: &Path, checkpoints: &Path) -> String {
    format!(
        "<input><server_host>test</server_host><server_uri>https://127.0.0.1:8089</server_uri>\
         <session_key>not-a-real-key</session_key><checkpoint_dir>{}</checkpoint_dir><configuration>\
         <stanza name=\"netdiscover_input://crash\"><param name=\"path\">{}</param>\
         <param name=\"batch_size\">{BATCH_SIZE}</param><param name=\"poll_interval\">0.02</param>\
         <param name=\"index\">main</param></stanza></configuration></input>",
        checkpoints.display(),
        data.display()
    )
}

struct Run {
    child: Child,
    stdout: thread::JoinHandle<Vec<u8>>,
    stderr: thread::JoinHandle<Vec<String>>,
    started: std::sync::mpsc::Receiver<()>,
}

fn start(xml: &str) -> Run {
    let mut child = crate::drive::spawn_configured(
        crate::support::command(crate::support::netdiscover_input_exe()),
        xml,
    );
    let mut out = child.stdout.take().expect("stdout");
    let stdout = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = out.read_to_end(&mut bytes);
        bytes
    });
    let err = child.stderr.take().expect("stderr");
    let (tx, started) = std::sync::mpsc::channel();
    let stderr = thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("starting;") {
                let _ = tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    Run {
        child,
        stdout,
        stderr,
        started,
    }
}

/// The process ids of the complete `<event>` elements in one run's stdout, in order. A kill can cut
/// the last event short; an incomplete event was not delivered and is not counted.
fn complete_events(stdout: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(stdout);
    let mut ids = Vec::new();
    for chunk in text.split("<event>").skip(1) {
        let Some(body) = chunk
            .split("</event>")
            .next()
            .filter(|_| chunk.contains("</event>"))
        else {
            continue;
        };
        let data = body
            .split("<data>")
            .nth(1)
            .and_then(|d| d.split("</data>").next())
            .expect("event without <data>");
        let json = data
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&");
        let value: serde_json::Value = serde_json::from_str(&json).expect("event data is JSON");
        let pid = value["process_id"]
            .as_str()
            .unwrap_or_else(|| panic!("event without process_id: {json}"))
            .to_string();
        ids.push(pid);
    }
    ids
}

fn all_ids() -> HashSet<String> {
    (0..STREAMS)
        .flat_map(|s| (0..RECORDS_PER_STREAM).map(move |q| (s * 1_000_000 + q).to_string()))
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Kill,
    Term,
}

struct Report {
    runs: usize,
    duplicates: usize,
    max_duplicates_per_run: usize,
    elapsed: Duration,
}

fn crash_loop(stop: Stop, seed_rng: &mut Rng) -> Report {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let checkpoints = dir.path().join("checkpoints");
    fs::create_dir_all(&data).expect("mkdir");
    let xml = input_xml(&data, &checkpoints);
    let done = Arc::new(AtomicBool::new(false));
    let generator = {
        let (data, done) = (data.clone(), done.clone());
        thread::spawn(move || generate(data, Duration::from_micros(1500), done))
    };

    let mut seen: HashSet<String> = HashSet::new();
    // For failure messages: (run, index in that run, events in that run) of each first sighting.
    let mut first_seen: HashMap<String, (usize, usize)> = HashMap::new();
    let mut run_lengths: Vec<usize> = Vec::new();
    // The last BATCH_SIZE complete events of every earlier run: a kill leaves at most the
    // batch in flight without a checkpoint, and that batch is within the run's last
    // BATCH_SIZE events. It stays unconfirmed until a later run re-reads that file (which may
    // be several runs later), so a repeat must come from the tail of *some* earlier run.
    let mut last_batches: HashSet<String> = HashSet::new();
    let mut duplicates = 0;
    let mut max_per_run = 0;
    let mut runs = 0;
    let mut check_run = |ids: Vec<String>, runs: usize| {
        let mut in_run = HashSet::new();
        let mut dup_here = Vec::new();
        for id in &ids {
            assert!(in_run.insert(id.clone()), "run {runs} emitted {id} twice");
            if seen.contains(id) {
                dup_here.push(id.clone());
            }
        }
        if stop == Stop::Term {
            assert!(
                dup_here.is_empty(),
                "run {runs} after SIGTERM repeated {} events: {:?}",
                dup_here.len(),
                &dup_here[..dup_here.len().min(5)]
            );
        }
        for id in &dup_here {
            assert!(
                last_batches.contains(id),
                "run {runs} repeated {id} ({} repeats in this run), which was not in the last batch of \
                 any earlier run; first emitted by run/index {:?}; events per run so far {:?}",
                dup_here.len(),
                first_seen.get(id),
                run_lengths
            );
        }
        duplicates += dup_here.len();
        max_per_run = max_per_run.max(dup_here.len());
        for (i, id) in ids.iter().enumerate() {
            first_seen.entry(id.clone()).or_insert((runs, i));
        }
        run_lengths.push(ids.len());
        seen.extend(ids.iter().cloned());
        last_batches.extend(ids.iter().rev().take(BATCH_SIZE).cloned());
    };

    for _ in 0..RUNS {
        let mut run = start(&xml);
        match stop {
            Stop::Kill => {
                thread::sleep(Duration::from_millis(seed_rng.between(5, 250)));
                run.child.kill().expect("SIGKILL");
                run.child.wait().expect("wait");
            }
            Stop::Term => {
                run.started
                    .recv_timeout(Duration::from_secs(10))
                    .expect("input did not start");
                thread::sleep(Duration::from_millis(seed_rng.between(5, 200)));
                let pid = run.child.id() as libc::pid_t;
                // SAFETY: plain kill(2) on our own child's pid.
                unsafe { libc::kill(pid, libc::SIGTERM) };
                let status = run.child.wait().expect("wait");
                assert_eq!(status.code(), Some(0), "exit status after SIGTERM");
            }
        }
        let stdout = run.stdout.join().expect("stdout thread");
        let stderr = run.stderr.join().expect("stderr thread");
        for line in &stderr {
            assert!(
                ["INFO ", "WARN ", "DEBUG "]
                    .iter()
                    .any(|l| line.starts_with(l)),
                "unexpected log line: {line}"
            );
            assert!(!line.contains("not-a-real-key"), "session key logged");
        }
        if stop == Stop::Term && !stdout.is_empty() {
            assert!(
                String::from_utf8_lossy(&stdout).ends_with("</stream>\n"),
                "stream not closed after SIGTERM"
            );
        }
        check_run(complete_events(&stdout), runs);
        runs += 1;
    }

    generator.join().expect("generator");
    assert!(done.load(Ordering::SeqCst));
    // Final run: let it catch up with everything, then stop it cleanly.
    let expected = all_ids();
    let mut run = start(&xml);
    let deadline = Instant::now() + Duration::from_secs(60);
    let state_file = checkpoints_state(&checkpoints);
    // Wait until the checkpoint covers every file to its end.
    loop {
        thread::sleep(Duration::from_millis(100));
        if caught_up(&state_file, &data) {
            break;
        }
        if Instant::now() > deadline {
            println!(
                "final run did not catch up within 60 s; state: {}",
                fs::read_to_string(&state_file).unwrap_or_default()
            );
            for entry in fs::read_dir(&data).expect("read data dir").flatten() {
                use std::os::unix::fs::MetadataExt;
                let meta = entry.metadata().expect("metadata");
                println!("{:?} ino {} len {}", entry.path(), meta.ino(), meta.len());
            }
            break;
        }
    }
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(run.child.id() as libc::pid_t, libc::SIGTERM) };
    let status = run.child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let stdout = run.stdout.join().expect("stdout thread");
    let _ = run.stderr.join();
    check_run(complete_events(&stdout), runs);

    let lost: Vec<&String> = expected.difference(&seen).collect();
    assert!(
        lost.is_empty(),
        "{} records lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    assert_eq!(seen.len(), expected.len(), "events that were never written");
    // Each stop leaves at most the batch in flight without a checkpoint.
    assert!(duplicates <= RUNS * BATCH_SIZE, "{duplicates} duplicates");
    Report {
        runs,
        duplicates,
        max_duplicates_per_run: max_per_run,
        elapsed: t0.elapsed(),
    }
}

fn checkpoints_state(checkpoints: &Path) -> PathBuf {
    checkpoints
        .join(netdiscover::modinput::stanza_key(
            "netdiscover_input://crash",
        ))
        .join("state.json")
}

/// True when the saved state says every data file was read to its end.
fn caught_up(state_file: &Path, data: &Path) -> bool {
    let Ok(bytes) = fs::read(state_file) else {
        return false;
    };
    let Ok(state) = serde_json::from_slice::<netdiscover::modinput::State>(&bytes) else {
        return false;
    };
    let offsets: HashMap<(u64, u64), u64> = state
        .files
        .iter()
        .filter_map(|f| match (f.fingerprint.id, f.position) {
            (Some(id), Position::Offset(offset)) => Some(((id.dev, id.ino), offset)),
            _ => None,
        })
        .collect();
    fs::read_dir(data).expect("read data dir").all(|entry| {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = entry.and_then(|e| e.metadata()) else {
            return false;
        };
        // The XML reader's resume point is just after `</Event>`; the newline after it is
        // no record.
        let Some(&offset) = offsets.get(&(meta.dev(), meta.ino())) else {
            return false;
        };
        meta.len() >= offset && meta.len() - offset <= 1
    })
}

#[test]
fn sigkill_at_random_moments_loses_nothing_and_repeats_only_the_last_batch() {
    let mut rng = Rng::from_time();
    let report = crash_loop(Stop::Kill, &mut rng);
    println!(
        "SIGKILL: {} runs over {} records: 0 lost, {} duplicates in total, at most {} after one kill \
         (batch size {BATCH_SIZE}), {:.1}s",
        report.runs,
        STREAMS * RECORDS_PER_STREAM,
        report.duplicates,
        report.max_duplicates_per_run,
        report.elapsed.as_secs_f64()
    );
}

#[test]
fn sigterm_at_random_moments_loses_nothing_and_repeats_nothing() {
    let mut rng = Rng::from_time();
    let report = crash_loop(Stop::Term, &mut rng);
    assert_eq!(report.duplicates, 0);
    println!(
        "SIGTERM: {} runs over {} records: 0 lost, 0 duplicates, {:.1}s",
        report.runs,
        STREAMS * RECORDS_PER_STREAM,
        report.elapsed.as_secs_f64()
    );
}
