//! A splunkd stand-in for tests and benchmarks: spawns the real binary and plays the search
//! head's side of SCP v2 in strict lock-step (the next request is written only after the
//! previous reply has been read in full). Every wait has a deadline, so a command that stops
//! answering fails the test instead of hanging it.

use std::io::{self, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use netdiscover::protocol::{encode_chunk, read_chunk};

/// One reply chunk as received.
#[derive(Debug, Clone)]
pub struct Reply {
    pub meta: Vec<u8>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The metadata as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.meta).unwrap_or_else(|e| {
            panic!(
                "reply metadata is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.meta)
            )
        })
    }

    pub fn finished(&self) -> Option<bool> {
        self.json().get("finished").and_then(|v| v.as_bool())
    }

    pub fn error(&self) -> Option<String> {
        self.json()
            .get("error")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }
}

/// What went wrong while driving the command.
#[derive(Debug)]
pub enum DriverError {
    Spawn(io::Error),
    /// No reply within the deadline; the child was killed.
    Timeout {
        request: usize,
    },
    /// The command closed stdout before answering request `request`.
    NoReply {
        request: usize,
    },
    /// The reply stream is not valid SCP v2 framing.
    BadFraming(String),
    /// A reply arrived before the next request was sent.
    WriteAhead {
        after_request: usize,
    },
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

enum Event {
    Reply(Reply),
    Eof,
    Framing(String),
}

/// How the session ended after stdin was closed.
#[derive(Debug)]
pub struct Finished {
    /// Exit code; `None` when killed by a signal (or by the deadline).
    pub exit_code: Option<i32>,
    /// Replies that arrived after the last lock-step request (e.g. an error answering a
    /// truncated request). One reply per request means this is empty for complete streams.
    pub late_replies: Vec<Reply>,
    pub stderr: Vec<u8>,
    /// Peak resident set size of the child in KiB: `VmHWM` from `/proc/<pid>/status`, read
    /// after the last reply and before stdin is closed. (`wait4`'s `ru_maxrss` is not used: on
    /// Linux a child started with vfork/posix_spawn inherits the parent's high-water mark
    /// through exec, so it reports the driver's memory, not the command's.)
    pub max_rss_kib: u64,
    pub timed_out: bool,
}

/// A running command driven like splunkd drives it.
pub struct Splunkd {
    child: Child,
    writer: Option<Sender<Arc<Vec<u8>>>>,
    writer_thread: Option<JoinHandle<()>>,
    replies: Receiver<Event>,
    recycled: Sender<Reply>,
    stderr: Arc<Mutex<Vec<u8>>>,
    stderr_thread: Option<JoinHandle<()>>,
    timeout: Duration,
    requests: usize,
    stdout_closed: bool,
}

impl Splunkd {
    /// Starts `exe` with `args`, stdin/stdout/stderr piped, nothing in the environment changed.
    pub fn spawn(exe: &Path, args: &[&str], timeout: Duration) -> Result<Splunkd, DriverError> {
        Splunkd::spawn_with_env(exe, args, &[], timeout)
    }

    /// [`Splunkd::spawn`] with `env` added to the child's environment (as splunkd's own
    /// environment would carry `NETDISCOVER_RULES_DIR`).
    pub fn spawn_with_env(
        exe: &Path,
        args: &[&str],
        env: &[(&str, &std::ffi::OsStr)],
        timeout: Duration,
    ) -> Result<Splunkd, DriverError> {
        let mut child = super::command(exe)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(DriverError::Spawn)?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| DriverError::Spawn(io::Error::other("child stdin was not piped")))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| DriverError::Spawn(io::Error::other("child stdout was not piped")))?;
        let mut stderr_pipe = child
            .stderr
            .take()
            .ok_or_else(|| DriverError::Spawn(io::Error::other("child stderr was not piped")))?;

        let (writer, to_write) = mpsc::channel::<Arc<Vec<u8>>>();
        let writer_thread = thread::spawn(move || write_loop(stdin, to_write));

        let (reply_tx, replies) = mpsc::channel();
        let (recycled, recycle_rx) = mpsc::channel();
        thread::spawn(move || read_loop(stdout, reply_tx, recycle_rx));

        let stderr = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&stderr);
        let stderr_thread = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut buf);
            if let Ok(mut s) = sink.lock() {
                s.extend_from_slice(&buf);
            }
        });

        Ok(Splunkd {
            child,
            writer: Some(writer),
            writer_thread: Some(writer_thread),
            replies,
            recycled,
            stderr,
            stderr_thread: Some(stderr_thread),
            timeout: super::binary::under_runner(timeout),
            requests: 0,
            stdout_closed: false,
        })
    }

    /// CPU time the child has used so far (user + system), in nanoseconds, while it is alive:
    /// `utime + stime` of `/proc/<pid>/stat`, which count every thread of the process, those
    /// that have ended included (`/proc/<pid>/schedstat` is the main thread's alone), in clock
    /// ticks (10 ms where `CLK_TCK` is 100).
    pub fn cpu_ns(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // The command name (field 2) is in parentheses and may hold spaces: count after it.
        let after_name = &stat[stat.rfind(')')? + 1..];
        let mut fields = after_name.split_whitespace().skip(11);
        let utime: u64 = fields.next()?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        // SAFETY: sysconf reads a constant of the C library.
        let ticks = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?;
        Some((utime + stime) * 1_000_000_000 / ticks.max(1))
    }

    /// The child's peak resident set size so far, in KiB (`VmHWM`), while it is alive.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Hands a reply's buffers back for the next replies (saves the driver an allocation and
    /// its page faults per chunk, so a benchmark measures the command, not the driver).
    pub fn recycle(&self, reply: Reply) {
        let _ = self.recycled.send(reply);
    }

    /// Sends one complete request chunk and waits for its reply.
    pub fn request(&mut self, meta: &[u8], body: &[u8]) -> Result<Reply, DriverError> {
        self.request_bytes(Arc::new(encode_chunk(meta, body)))
    }

    /// Sends pre-encoded request bytes (one whole chunk) and waits for its reply.
    pub fn request_bytes(&mut self, bytes: Arc<Vec<u8>>) -> Result<Reply, DriverError> {
        self.requests += 1;
        let request = self.requests;
        if let Ok(event) = self.replies.try_recv() {
            return Err(match event {
                Event::Reply(_) => DriverError::WriteAhead {
                    after_request: request - 1,
                },
                Event::Eof => DriverError::NoReply { request },
                Event::Framing(e) => DriverError::BadFraming(e),
            });
        }
        self.send_raw(bytes);
        match self.replies.recv_timeout(self.timeout) {
            Ok(Event::Reply(reply)) => Ok(reply),
            Ok(Event::Eof) => {
                self.stdout_closed = true;
                Err(DriverError::NoReply { request })
            }
            Ok(Event::Framing(e)) => Err(DriverError::BadFraming(e)),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                Err(DriverError::Timeout { request })
            }
            Err(RecvTimeoutError::Disconnected) => Err(DriverError::NoReply { request }),
        }
    }

    /// Writes bytes without waiting for a reply (for truncated or malformed streams).
    pub fn send_raw(&mut self, bytes: Arc<Vec<u8>>) {
        if let Some(writer) = &self.writer {
            let _ = writer.send(bytes);
        }
    }

    /// Closes stdin (end of the search), collects any late replies until stdout closes, and
    /// reaps the child with its peak RSS. Everything is bounded by the timeout.
    pub fn finish(mut self) -> Finished {
        let max_rss_kib = self.peak_rss_kib().unwrap_or(0);
        drop(self.writer.take());
        let deadline = Instant::now() + self.timeout;
        let mut late_replies = Vec::new();
        let mut timed_out = false;
        while !self.stdout_closed {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.replies.recv_timeout(left) {
                Ok(Event::Reply(reply)) => late_replies.push(reply),
                Ok(Event::Eof) | Ok(Event::Framing(_)) => break,
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    timed_out = true;
                    let _ = self.child.kill();
                    break;
                }
            }
        }
        let (exit_code, wait_timed_out) = reap(&mut self.child, deadline);
        if let Some(t) = self.writer_thread.take() {
            let _ = t.join();
        }
        if let Some(t) = self.stderr_thread.take() {
            let _ = t.join();
        }
        let stderr = self.stderr.lock().map(|s| s.clone()).unwrap_or_default();
        Finished {
            exit_code,
            late_replies,
            stderr,
            max_rss_kib,
            timed_out: timed_out || wait_timed_out,
        }
    }
}

impl Drop for Splunkd {
    fn drop(&mut self) {
        // finish() reaps the child; a driver dropped early (a failed assertion) must not leave
        // it running.
        if self.writer.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn write_loop(mut stdin: ChildStdin, to_write: Receiver<Arc<Vec<u8>>>) {
    for bytes in to_write {
        if stdin.write_all(&bytes).and_then(|_| stdin.flush()).is_err() {
            // The command exited (e.g. after an error reply); keep draining so senders never
            // block, and let stdin close.
            break;
        }
    }
}

fn read_loop(stdout: impl Read, events: Sender<Event>, recycled: Receiver<Reply>) {
    let mut reader = BufReader::with_capacity(1 << 16, stdout);
    loop {
        let Reply { mut meta, mut body } = recycled.try_recv().unwrap_or(Reply {
            meta: Vec::new(),
            body: Vec::new(),
        });
        let event = match read_chunk(&mut reader, &mut meta, &mut body) {
            Ok(Some(_)) => Event::Reply(Reply { meta, body }),
            Ok(None) => Event::Eof,
            Err(e) => Event::Framing(e.to_string()),
        };
        let last = !matches!(event, Event::Reply(_));
        if events.send(event).is_err() || last {
            return;
        }
    }
}

/// Waits for the child, killing it at the deadline.
fn reap(child: &mut Child, deadline: Instant) -> (Option<i32>, bool) {
    let mut timed_out = false;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (status.code(), timed_out),
            Ok(None) => {}
            Err(_) => return (None, timed_out),
        }
        if Instant::now() >= deadline && !timed_out {
            timed_out = true;
            let _ = child.kill();
        }
        thread::sleep(Duration::from_millis(1));
    }
}
