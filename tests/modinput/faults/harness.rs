//! The real `netdiscover_input` run as splunkd runs it (configuration XML on stdin, events on a
//! stdout pipe, log lines on stderr), and the bookkeeping every fault test shares: which
//! records were written, which complete events came out of each run, how many were lost and
//! how many repeated.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::xml_unescape;

pub const BIN: &str = env!("CARGO_BIN_EXE_netdiscover_input");
/// Deadline for any one wait on the input.
pub const DEADLINE: Duration = Duration::from_secs(90);
pub const STANZA: &str = "netdiscover_input://faults";

/// One Sysmon EID 1 event as XmlWinEventLog renders it (written by us for these tests). Its
/// ProcessId is `pid`, which identifies the record in the events that come out.
pub fn sysmon(pid: u64) -> String {
    format!(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>\
         <Provider Name='Microsoft-Windows-Sysmon' Guid='5770385F-C22A-43E0-BF4C-06F5698FFBD9'/>\
         <EventID>1</EventID><Version>5</Version><Level>4</Level><Task>1</Task>\
         <TimeCreated SystemTime='2024-10-23T18:{:02}:{:02}.{:06}Z'/>\
         <EventRecordID>{pid}</EventRecordID><Channel>Microsoft-Windows-Sysmon/Operational</Channel>\
         <Computer>WIN-FAULT</Computer><Security UserID='S-1-5-18'/></System><EventData>\
         <Data Name='ProcessGuid'>747F3D96-DB7C-5DBE-0000-{pid:012}</Data>\
         <Data Name='ProcessId'>{pid}</Data><Data Name='Image'>C:\\Windows\\System32\\netsh.exe</Data>\
         <Data Name='CommandLine'>netsh interface portproxy show all {pid}</Data>\
         <Data Name='User'>CORP\\analyst</Data><Data Name='ParentProcessId'>3936</Data>\
         <Data Name='ParentImage'>C:\\Windows\\System32\\cmd.exe</Data></EventData></Event>\n",
        pid / 3600 % 60,
        pid / 60 % 60,
        pid % 1_000_000
    )
}

/// The records `pids` as one XML text.
pub fn sysmon_text(pids: impl IntoIterator<Item = u64>) -> String {
    pids.into_iter().map(sysmon).collect()
}

pub fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open {} for append: {e}", path.display()))
        .write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("append to {}: {e}", path.display()));
}

/// A data directory and a checkpoint directory in a fresh temporary directory.
pub struct Scene {
    pub root: tempfile::TempDir,
    pub data: PathBuf,
    pub checkpoints: PathBuf,
}

impl Scene {
    pub fn new() -> Scene {
        let root = tempfile::tempdir().expect("temp dir");
        let data = root.path().join("data");
        let checkpoints = root.path().join("checkpoints");
        fs::create_dir_all(&data).expect("mkdir data");
        fs::create_dir_all(&checkpoints).expect("mkdir checkpoints");
        Scene {
            root,
            data,
            checkpoints,
        }
    }

    /// The `<input>` document for one stanza over the data directory.
    pub fn config(&self, params: &[(&str, &str)]) -> String {
        config_xml(&self.data, &self.checkpoints, params)
    }

    /// The stanza's state file.
    pub fn state_file(&self) -> PathBuf {
        self.checkpoints
            .join(netdiscover::modinput::stanza_key(STANZA))
            .join("state.json")
    }
}

pub fn config_xml(data: &Path, checkpoints: &Path, params: &[(&str, &str)]) -> String {
    let mut stanza = format!(
        "<param name=\"path\">{}</param><param name=\"index\">main</param>",
        escape(&data.display().to_string())
    );
    for (name, value) in params {
        stanza.push_str(&format!("<param name=\"{name}\">{}</param>", escape(value)));
    }
    format!(
        "<input><server_host>faults</server_host><server_uri>https://127.0.0.1:8089</server_uri>\
         <session_key>not-a-real-key</session_key><checkpoint_dir>{}</checkpoint_dir>\
         <configuration><stanza name=\"{STANZA}\">{stanza}</stanza></configuration></input>",
        escape(&checkpoints.display().to_string())
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A running input. Its stdout is read by a thread unless the test takes it
/// ([`Input::start_unread`]).
pub struct Input {
    pub child: Child,
    stdout: Arc<Mutex<Received>>,
    reader: Option<thread::JoinHandle<()>>,
    stderr: Arc<Mutex<Vec<String>>>,
    err_reader: Option<thread::JoinHandle<()>>,
}

/// stdout as it arrives, and how many complete events it holds (counted as bytes come in,
/// so a test polling the count never holds up the reader).
#[derive(Default)]
struct Received {
    bytes: Vec<u8>,
    events: usize,
}

impl Received {
    fn extend(&mut self, block: &[u8]) {
        const END: &[u8] = b"</event>";
        let from = self.bytes.len().saturating_sub(END.len() - 1);
        self.bytes.extend_from_slice(block);
        self.events += memchr::memmem::find_iter(&self.bytes[from..], END).count();
    }
}

/// What one run of the input produced.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<String>,
}

impl Finished {
    pub fn events(&self) -> Vec<Event> {
        complete_events(&self.stdout)
    }

    pub fn pids(&self) -> Vec<u64> {
        self.events().iter().map(Event::pid).collect()
    }

    pub fn log_with(&self, needle: &str) -> Vec<&String> {
        self.stderr.iter().filter(|l| l.contains(needle)).collect()
    }
}

impl Input {
    /// Runs `netdiscover_input` on `config`, its stdout read as it comes.
    pub fn start(config: &str) -> Input {
        Input::start_command(Command::new(BIN), config)
    }

    /// Runs `command` (the input, possibly through a wrapper such as `sh -c 'ulimit …; exec'`).
    pub fn start_command(command: Command, config: &str) -> Input {
        let (mut input, stdout) = Input::spawn(command, config);
        let sink = Arc::clone(&input.stdout);
        input.reader = Some(thread::spawn(move || read_into(stdout, &sink)));
        input
    }

    /// Runs the input and hands its stdout pipe to the test.
    pub fn start_unread(config: &str) -> (Input, ChildStdout) {
        Input::spawn(Command::new(BIN), config)
    }

    fn spawn(command: Command, config: &str) -> (Input, ChildStdout) {
        let mut child = crate::drive::spawn_configured(command, config);
        let stdout = child.stdout.take().expect("stdout");
        let err = child.stderr.take().expect("stderr");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stderr);
        let err_reader = thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                lines.lock().expect("stderr lines").push(line);
            }
        });
        (
            Input {
                child,
                stdout: Arc::new(Mutex::new(Received::default())),
                reader: None,
                stderr,
                err_reader: Some(err_reader),
            },
            stdout,
        )
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Complete events received so far.
    pub fn events_so_far(&self) -> usize {
        self.stdout.lock().expect("stdout bytes").events
    }

    /// The complete events received so far.
    pub fn events_now(&self) -> Vec<Event> {
        complete_events(&self.stdout.lock().expect("stdout bytes").bytes)
    }

    /// Waits until at least `n` complete events arrived; false at the deadline or if the input
    /// exited first.
    pub fn wait_for_events(&mut self, n: usize) -> bool {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if self.events_so_far() >= n {
                return true;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.events_so_far() >= n;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Waits until at least `n` complete events arrived or none arrived for `quiet` (so a run
    /// that loses records ends in bounded time); returns whether `n` arrived.
    pub fn wait_for_events_or_quiet(&mut self, n: usize, quiet: Duration) -> bool {
        let deadline = Instant::now() + DEADLINE;
        let (mut last, mut since) = (usize::MAX, Instant::now());
        while Instant::now() < deadline {
            let now = self.events_so_far();
            if now >= n {
                return true;
            }
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > quiet {
                return false;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.events_so_far() >= n;
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Waits until no event arrived for `quiet` (bounded by the deadline).
    pub fn wait_until_quiet(&mut self, quiet: Duration) {
        self.wait_for_events_or_quiet(usize::MAX, quiet);
    }

    /// Whether a log line so far contains `needle`.
    pub fn logged(&self, needle: &str) -> bool {
        self.stderr
            .lock()
            .expect("stderr lines")
            .iter()
            .any(|l| l.contains(needle))
    }

    /// Lets the input run a while longer (to see whether it repeats anything), then stops
    /// it.
    pub fn settle_and_stop(self, settle: Duration) -> Finished {
        thread::sleep(settle);
        self.stop()
    }

    /// SIGTERM, then the run's output (SIGKILL if it does not exit before the deadline).
    pub fn stop(self) -> Finished {
        // SAFETY: kill(2) on our own child's pid, which has not been reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        self.wait()
    }

    /// Waits for the input to exit on its own (SIGKILL at the deadline).
    pub fn wait(mut self) -> Finished {
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let status = self.child.wait().expect("wait");
                panic!("the input did not exit within {DEADLINE:?} ({status})");
            }
            thread::sleep(Duration::from_millis(10));
        };
        if let Some(reader) = self.reader.take() {
            reader.join().expect("stdout reader");
        }
        if let Some(reader) = self.err_reader.take() {
            reader.join().expect("stderr reader");
        }
        let stdout = std::mem::take(&mut self.stdout.lock().expect("stdout bytes").bytes);
        let stderr = std::mem::take(&mut *self.stderr.lock().expect("stderr lines"));
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_into(mut stdout: ChildStdout, sink: &Mutex<Received>) {
    let mut block = vec![0u8; 64 << 10];
    loop {
        match stdout.read(&mut block) {
            Ok(0) | Err(_) => return,
            Ok(n) => sink.lock().expect("stdout bytes").extend(&block[..n]),
        }
    }
}

/// One `<event>` that arrived whole.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Event {
    pub source: String,
    /// The `<data>` JSON, unescaped.
    pub data: String,
    pub time: String,
}

impl Event {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }

    pub fn pid(&self) -> u64 {
        let json = self.json();
        json["process_id"]
            .as_str()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("event without a numeric process_id: {}", self.data))
    }
}

fn element<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&close)? + start;
    Some(&body[start..end])
}

/// The complete `<event>` elements of one run's stdout, in order. A run stopped mid-write can
/// leave the last event cut short; that one was not delivered and is not counted.
pub fn complete_events(stdout: &[u8]) -> Vec<Event> {
    let text = String::from_utf8_lossy(stdout);
    let mut events = Vec::new();
    for chunk in text.split("<event>").skip(1) {
        let Some(end) = chunk.find("</event>") else {
            continue;
        };
        let body = &chunk[..end];
        events.push(Event {
            source: xml_unescape(element(body, "source").unwrap_or_default()),
            data: xml_unescape(element(body, "data").expect("event without <data>")),
            time: element(body, "time").unwrap_or_default().to_string(),
        });
    }
    events
}

/// Lost and repeated records over several runs, against what was written.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub expected: usize,
    pub delivered: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// Delivered records that were never written (must be 0).
    pub unknown: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} records delivered, {} lost, {} duplicated",
            self.expected - self.lost,
            self.expected,
            self.lost,
            self.duplicated
        )
    }
}

/// Counts by identity: `expected` holds every record written (each once), `runs` every
/// record delivered by each run.
pub fn tally<T: Ord + Clone>(expected: &[T], runs: &[Vec<T>]) -> Tally {
    let written: BTreeSet<&T> = expected.iter().collect();
    let mut counts: BTreeMap<&T, usize> = BTreeMap::new();
    for record in runs.iter().flatten() {
        *counts.entry(record).or_default() += 1;
    }
    Tally {
        expected: written.len(),
        delivered: counts.values().sum(),
        lost: written.iter().filter(|r| !counts.contains_key(*r)).count(),
        duplicated: counts
            .iter()
            .filter(|(r, _)| written.contains(*r))
            .map(|(_, n)| n - 1)
            .sum(),
        unknown: counts.keys().filter(|r| !written.contains(*r)).count(),
    }
}

/// Prints the tally (so a run shows the figures) and checks it: nothing lost, nothing
/// invented, at most `max_duplicated` repeats.
pub fn assert_tally(fault: &str, tally: &Tally, max_duplicated: usize) {
    println!("{fault}: {tally} (allowed: 0 lost, <= {max_duplicated} duplicated)");
    assert_eq!(tally.unknown, 0, "{fault}: events that were never written");
    assert_eq!(tally.lost, 0, "{fault}: {tally}");
    assert!(tally.duplicated <= max_duplicated, "{fault}: {tally}");
}

/// Log lines that are not INFO/WARN/DEBUG (errors the fault should not cause).
pub fn errors(finished: &Finished) -> Vec<&String> {
    finished
        .stderr
        .iter()
        .filter(|l| {
            !["INFO ", "WARN ", "DEBUG "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect()
}

/// Open file descriptors of process `pid` (Linux), or `None` once it is gone.
pub fn open_fds(pid: u32) -> Option<usize> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}
