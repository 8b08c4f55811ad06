//! Protocol fault tests: hostile or broken SCP v2 input streams fed to the real `netdiscover`
//! binary, each under a deadline (a hang fails the test instead of blocking CI) and, where an
//! allocation is the risk, under an address-space limit. Every case must end with the
//! documented error reply (inspector ERROR + `error` + `finished:true`) and exit 1, or exit 0
//! where docs/robustness.md says so — never a panic, a signal or a hang.

#![cfg(unix)]

use std::io::{Cursor, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use netdiscover::protocol::{encode_chunk, read_chunk};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(60);
/// Address-space limit for the child where an announced length could tempt an allocation.
const ADDRESS_SPACE_LIMIT: u64 = 1 << 30;
/// Planted in getinfo; must never come back on stdout or stderr.
const SESSION_KEY: &str = "Zk9PdGhpc0lzQVNlc3Npb25LZXlUaGF0TXVzdE5ldmVyTGVhaw";

struct Outcome {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

impl Outcome {
    /// The reply chunks' metadata, in order; panics if stdout is not whole chunks.
    fn replies(&self) -> Vec<Value> {
        let mut reader = Cursor::new(&self.stdout[..]);
        let (mut meta, mut body) = (Vec::new(), Vec::new());
        let mut out = Vec::new();
        while read_chunk(&mut reader, &mut meta, &mut body)
            .expect("stdout is whole chunks")
            .is_some()
        {
            out.push(serde_json::from_slice(&meta).expect("reply metadata is JSON"));
        }
        out
    }

    /// Checks the documented fatal-error shape and returns the error text.
    fn fatal_error(&self) -> String {
        assert_eq!(
            self.status.code(),
            Some(1),
            "exit status {:?}, stderr {:?}",
            self.status,
            self.stderr
        );
        let replies = self.replies();
        let last = replies.last().expect("an error reply");
        let error = last["error"].as_str().expect("error text").to_string();
        assert_eq!(last["finished"], json!(true), "{last}");
        assert_eq!(
            last["inspector"]["messages"],
            json!([["ERROR", error.clone()]]),
            "{last}"
        );
        self.assert_one_clean_stderr_line();
        assert!(
            self.stderr.contains(&error),
            "{:?} vs {error:?}",
            self.stderr
        );
        error
    }

    fn assert_one_clean_stderr_line(&self) {
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        assert!(!self.stderr.contains("RUST_BACKTRACE"), "{}", self.stderr);
        assert_eq!(self.stderr.lines().count(), 1, "{:?}", self.stderr);
    }

    fn assert_no_session_key(&self) {
        assert!(!String::from_utf8_lossy(&self.stdout).contains(SESSION_KEY));
        assert!(!self.stderr.contains(SESSION_KEY));
    }
}

fn command(limit_memory: bool) -> Command {
    let mut command = crate::support::command(crate::support::netdiscover_exe());
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if limit_memory {
        // SAFETY: only async-signal-safe setrlimit between fork and exec.
        unsafe {
            command.pre_exec(|| {
                let limit = libc::rlimit {
                    rlim_cur: ADDRESS_SPACE_LIMIT as libc::rlim_t,
                    rlim_max: ADDRESS_SPACE_LIMIT as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    command
}

/// Waits for the child, killing it (and failing the test) at the deadline.
fn wait(child: &mut Child, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: netdiscover still running after {DEADLINE:?} (hang)");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the binary on `input` (written by a thread, which stops quietly if the child closes
/// stdin early) and collects everything it writes.
fn run(input: Vec<u8>, limit_memory: bool, what: &str) -> Outcome {
    let mut child = command(limit_memory).spawn().expect("spawn netdiscover");
    let mut stdin = child.stdin.take().unwrap();
    let writer = thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        buf
    });
    let status = wait(&mut child, what);
    writer.join().unwrap();
    let outcome = Outcome {
        status,
        stdout: out_reader.join().unwrap(),
        stderr: String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned(),
    };
    assert!(
        outcome.status.signal().is_none(),
        "{what}: killed by signal {:?}; stderr {:?}",
        outcome.status.signal(),
        outcome.stderr
    );
    outcome.assert_no_session_key();
    outcome
}

fn getinfo(args: &[&str]) -> Vec<u8> {
    let meta = json!({
        "action": "getinfo",
        "preview": false,
        "streaming_command_will_restart": false,
        "searchinfo": {
            "args": args,
            "raw_args": args,
            "session_key": SESSION_KEY,
            "splunkd_uri": "https://127.0.0.1:8089",
            "dispatch_dir": "/opt/splunk/var/run/splunk/dispatch/1",
            "sid": "1700000000.1",
            "app": "search",
            "owner": "admin",
            "username": "admin",
            "command": "netdiscover",
            "splunk_version": "9.2.0",
            "maxresultrows": 50000
        }
    });
    encode_chunk(meta.to_string().as_bytes(), &[])
}

fn execute(finished: bool, body: &[u8]) -> Vec<u8> {
    let meta = json!({"action": "execute", "finished": finished});
    encode_chunk(meta.to_string().as_bytes(), body)
}

const NETSH_ROWS: &[u8] = b"_time,process,process_name,dest,user\n\
1714557600,\"netsh interface portproxy add v4tov4 listenport=8080 connectaddress=10.0.0.5\",netsh.exe,ws01,bob\n\
1714557601,\"notepad.exe a.txt\",notepad.exe,ws01,bob\n";

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn garbage_header() {
    for garbage in [
        &b"hello world\n"[..],
        b"chunked 2.0,1,1\n{}",
        b"chunked 1.0,-1,0\n",
        b"chunked 1.0,1,1,1\n",
        b"\x00\xff\xfe\n",
    ] {
        let out = run(garbage.to_vec(), false, "garbage header");
        let error = out.fatal_error();
        assert!(error.contains("malformed chunk header"), "{error}");
    }
    // A header line that never ends is not buffered without bound.
    let out = run(vec![b'c'; 4 << 20], false, "endless header line");
    let error = out.fatal_error();
    assert!(error.contains("header line longer than"), "{error}");
}

/// A metadata or body length of 10^12 bytes, with the address space capped at 1 GiB: had it
/// been allocated up front, the child would abort on allocation failure (a signal, caught by
/// `run`). It is read incrementally and fails as a truncated chunk.
#[test]
fn a_length_of_10_to_the_12_is_not_allocated() {
    let huge = 1_000_000_000_000u64;
    let meta_huge = cat(&[format!("chunked 1.0,{huge},0\n{{\"action\":").as_bytes()]);
    let out = run(meta_huge, true, "10^12 metadata");
    let error = out.fatal_error();
    assert!(
        error.contains("stream ended inside a chunk")
            && error.contains(&format!("metadata announced {huge} bytes")),
        "{error}"
    );

    // After a good getinfo, an execute announcing a 10^12-byte body followed by 16 MiB of
    // real data: memory follows the bytes received, never the bytes announced.
    let meta = br#"{"action":"execute","finished":true}"#;
    let mut stream = getinfo(&[]);
    stream.extend(format!("chunked 1.0,{},{huge}\n", meta.len()).as_bytes());
    stream.extend(meta);
    stream.extend(std::iter::repeat_n(b'x', 16 << 20));
    let out = run(stream, true, "10^12 body");
    let error = out.fatal_error();
    assert!(
        error.contains(&format!("body announced {huge} bytes, got {}", 16u64 << 20)),
        "{error}"
    );
    assert_eq!(out.replies()[0]["type"], json!("streaming"));
}

#[test]
fn lengths_past_eof() {
    let meta = br#"{"action":"execute","finished":true}"#;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"chunked 1.0,100,0\n{\"action\":\"getinfo\"}".to_vec(),
            "metadata announced 100 bytes, got 20",
        ),
        (
            cat(&[
                &getinfo(&[]),
                format!("chunked 1.0,{},500\n", meta.len()).as_bytes(),
                meta,
                b"process\nx\n",
            ]),
            "body announced 500 bytes, got 10",
        ),
        (
            cat(&[&getinfo(&[]), b"chunked 1.0,37,0"]),
            "stream ended inside a chunk header",
        ),
    ];
    for (stream, expected) in cases {
        let out = run(stream, false, expected);
        let error = out.fatal_error();
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn truncated_or_non_json_metadata() {
    let cases: [(&[u8], &str); 5] = [
        (
            br#"{"action":"getinfo","searchinfo":{"args":["#,
            "JSON ends early",
        ),
        (b"action=getinfo", "not valid JSON"),
        (b"\xff\xfe{}", "not valid JSON"),
        (br#"["getinfo"]"#, "unexpected JSON shape"),
        (
            br#"{"action":"getinfo","searchinfo":{"args":"mode=filter"}}"#,
            "unexpected JSON shape",
        ),
    ];
    for (meta, expected) in cases {
        let out = run(encode_chunk(meta, &[]), false, expected);
        let error = out.fatal_error();
        assert!(
            error.contains("chunk 1: invalid metadata") && error.contains(expected),
            "{error}"
        );
    }
    // Bad metadata on an execute chunk names that chunk.
    let stream = cat(&[
        &getinfo(&[]),
        &execute(false, NETSH_ROWS),
        &encode_chunk(b"{", b""),
    ]);
    let out = run(stream, false, "bad execute metadata");
    let error = out.fatal_error();
    assert!(error.contains("chunk 3: invalid metadata"), "{error}");
    // What was already answered stays answered: getinfo + the first execute reply.
    let replies = out.replies();
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert_eq!(replies[1], json!({"finished": false}));
}

#[test]
fn execute_before_getinfo() {
    let out = run(execute(true, NETSH_ROWS), false, "execute first");
    let error = out.fatal_error();
    assert!(error.contains("expected action \"getinfo\""), "{error}");
}

#[test]
fn a_body_on_getinfo() {
    let meta = String::from_utf8(getinfo(&[])).unwrap();
    let meta = &meta[meta.find('\n').unwrap() + 1..];
    let stream = encode_chunk(meta.as_bytes(), b"process\nx\n");
    let out = run(stream, false, "getinfo body");
    let error = out.fatal_error();
    assert!(
        error.contains("getinfo request carries a 10-byte body"),
        "{error}"
    );
}

#[test]
fn unknown_action() {
    for (action, expected) in [
        (
            json!("frobnicate"),
            "expected action \"execute\", got \"frobnicate\"",
        ),
        (json!(null), "expected action \"execute\", got no action"),
        (json!(7), "chunk 2: invalid metadata: unexpected JSON shape"),
    ] {
        let meta = json!({"action": action, "finished": true}).to_string();
        let stream = cat(&[&getinfo(&[]), &encode_chunk(meta.as_bytes(), NETSH_ROWS)]);
        let out = run(stream, false, "unknown action");
        let error = out.fatal_error();
        assert!(error.contains(expected), "{action}: {error}");
    }
}

/// splunkd starts probe processes that it closes without a request: exit 0, say nothing.
#[test]
fn empty_stdin() {
    for input in [&b""[..], b"\n\n", b"  \r\n"] {
        let out = run(input.to_vec(), false, "empty stdin");
        assert_eq!(out.status.code(), Some(0), "{:?}", out.stderr);
        assert!(out.stdout.is_empty());
        assert!(out.stderr.is_empty(), "{:?}", out.stderr);
    }
}

/// splunkd goes away (search cancelled) and the reply pipe breaks: the command notices the
/// write error, exits 1 with one line on stderr, and is not killed by SIGPIPE nor left hanging.
#[test]
fn stdout_closed_early() {
    let mut child = command(false).spawn().expect("spawn");
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let writer = thread::spawn(move || {
        let mut stream = getinfo(&[]);
        for _ in 0..200 {
            stream.extend(execute(false, NETSH_ROWS));
        }
        let _ = stdin.write_all(&stream);
        // Keep stdin open a moment: the exit must come from the broken stdout, not from EOF.
        thread::sleep(Duration::from_millis(200));
    });
    let status = wait(&mut child, "EPIPE");
    writer.join().unwrap();
    let mut err = String::new();
    stderr.read_to_string(&mut err).unwrap();
    assert!(status.signal().is_none(), "killed by {:?}", status.signal());
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err:?}");
    assert!(err.contains("writing the reply failed"), "{err}");
    assert!(!err.contains(SESSION_KEY));
}

/// The session key from getinfo never comes back: not in replies (with or without matches,
/// in every mode), not in error replies, not on stderr — even when the error is about the
/// very metadata that holds it.
#[test]
fn session_key_never_appears_in_any_output() {
    let streams: Vec<(Vec<u8>, bool)> = vec![
        (cat(&[&getinfo(&[]), &execute(true, NETSH_ROWS)]), true),
        (
            cat(&[&getinfo(&["mode=risk"]), &execute(true, NETSH_ROWS)]),
            true,
        ),
        (
            cat(&[&getinfo(&["mode=filter"]), &execute(true, NETSH_ROWS)]),
            true,
        ),
        // Errors: bad option, bad CSV, bad metadata after getinfo, getinfo cut mid-key.
        (getinfo(&["mode=loud"]), false),
        (
            cat(&[&getinfo(&[]), &execute(true, b"a,b\n1,2,3\n")]),
            false,
        ),
        (
            cat(&[&getinfo(&[]), &encode_chunk(b"{\"action\":", b"")]),
            false,
        ),
        (getinfo(&[])[..200].to_vec(), false),
        (
            {
                let meta = json!({"action": "getinfo", "searchinfo": {"session_key": SESSION_KEY, "args": 5}});
                encode_chunk(meta.to_string().as_bytes(), &[])
            },
            false,
        ),
        (
            {
                let meta = json!({"action": "bogus", "session_key": SESSION_KEY});
                encode_chunk(meta.to_string().as_bytes(), &[])
            },
            false,
        ),
    ];
    for (i, (stream, ok)) in streams.into_iter().enumerate() {
        let out = run(stream, false, "session key");
        assert_eq!(
            out.status.code(),
            Some(if ok { 0 } else { 1 }),
            "case {i}: {}",
            out.stderr
        );
        // `run` already checked stdout and stderr for the key; check the decoded replies too
        // (JSON escaping cannot hide it).
        for reply in out.replies() {
            assert!(
                !reply.to_string().contains(SESSION_KEY),
                "case {i}: {reply}"
            );
        }
    }
}
