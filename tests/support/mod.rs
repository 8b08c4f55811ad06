//! Helpers shared by the integration tests (one `tests/<layer>/main.rs` crate per layer, each
//! including this directory as `mod support`) and by the benchmarks (which include it by path):
//! the `../shared` reference data, the splunkd stand-in, fixture loading and CSV comparison.
//! `rules` and `ingest` hold the helpers only those layers' tests use.
#![allow(dead_code)]

mod binary;
pub mod ingest;
pub mod rules;
mod shared;
pub mod splunkd;

#[allow(unused_imports)]
pub use binary::{command, emulated, netdiscover_exe, netdiscover_input_exe};
pub use shared::shared;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use netdiscover::protocol::read_chunk;

/// Deadline for any single wait on the command under test.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A path in the repository.
pub fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Runs the named test again in a child process of this test binary and returns `false` after
/// asserting that it passed there; in that child it returns `true`, and the caller runs the
/// test's body. For tests that measure the whole process (peak memory): in the child, no other
/// test shares it. `name` is the test's path in its crate (`module::test_fn`).
pub fn in_own_process(name: &str) -> bool {
    const CHILD: &str = "NETDISCOVER_TEST_OWN_PROCESS";
    if std::env::var_os(CHILD).is_some_and(|v| v == name) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, name)
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprint!("{stderr}");
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{name} in its own process: {}\n{stdout}",
        output.status
    );
    false
}

/// Whether a `harness = false` benchmark should run its workload: only under `cargo bench`
/// (which passes `--bench`), as libtest's benchmarks do. `cargo test --all-targets` runs bench
/// targets without it, and `-- --list` must list nothing rather than measure.
pub fn bench_requested(name: &str) -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return false;
    }
    if !args.iter().any(|a| a == "--bench") {
        println!("{name} benchmark: not run (it runs under `cargo bench --bench {name}`)");
        return false;
    }
    true
}

/// One request chunk of a recorded stream.
#[derive(Debug, Clone)]
pub struct Chunk {
    pub meta: Vec<u8>,
    pub body: Vec<u8>,
}

impl Chunk {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.meta).expect("fixture metadata is JSON")
    }
}

/// A recorded request stream split into complete chunks plus whatever follows the last one
/// (a truncated chunk, a stray newline).
#[derive(Debug)]
pub struct Recording {
    pub chunks: Vec<Chunk>,
    pub tail: Vec<u8>,
}

/// Splits a raw request stream into chunks.
pub fn split_stream(bytes: &[u8]) -> Recording {
    let mut rest = bytes;
    let mut chunks = Vec::new();
    loop {
        let mut probe = rest;
        let (mut meta, mut body) = (Vec::new(), Vec::new());
        match read_chunk(&mut probe, &mut meta, &mut body) {
            Ok(Some(_)) => {
                chunks.push(Chunk { meta, body });
                rest = probe;
            }
            Ok(None) | Err(_) => {
                return Recording {
                    chunks,
                    tail: rest.to_vec(),
                }
            }
        }
    }
}

/// Reads a fixture, gunzipping `.gz` files.
pub fn read_fixture(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("gunzip {}: {e}", path.display()));
        out
    } else {
        raw
    }
}

/// Parses a CSV body with the `csv` crate (a real RFC-4180 parser): header and records.
pub fn parse_csv(body: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<Vec<u8>>>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut records = reader.byte_records().map(|r| {
        r.expect("valid CSV")
            .iter()
            .map(|f| f.to_vec())
            .collect::<Vec<_>>()
    });
    let header = records.next().unwrap_or_default();
    (header, records.collect())
}

/// Returns `getinfo` metadata with `searchinfo.args`/`raw_args` replaced.
pub fn with_args(getinfo_meta: &[u8], args: &[&str]) -> Vec<u8> {
    let mut json: serde_json::Value =
        serde_json::from_slice(getinfo_meta).expect("getinfo metadata is JSON");
    let list = serde_json::Value::from(args.iter().map(|a| a.to_string()).collect::<Vec<_>>());
    json["searchinfo"]["args"] = list.clone();
    json["searchinfo"]["raw_args"] = list;
    serde_json::to_vec(&json).expect("serialise getinfo")
}

/// A minimal Splunk 8.x getinfo request.
pub fn getinfo(args: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "action": "getinfo", "preview": false, "streaming_command_will_restart": false,
        "searchinfo": {"args": args, "raw_args": args, "dispatch_dir": "/tmp", "sid": "1.1",
            "app": "search", "owner": "admin", "username": "admin",
            "session_key": "SESSIONKEY-must-never-leak-0123456789",
            "splunkd_uri": "https://127.0.0.1:8089", "splunk_version": "8.2.1",
            "search": "search%20index%3Dmain%20%7C%20netdiscover", "command": "netdiscover",
            "maxresultrows": 50000, "earliest_time": "0", "latest_time": "0"}
    }))
    .expect("serialise getinfo")
}

/// Execute metadata as Splunk 8.x writes it.
pub fn execute(finished: bool) -> Vec<u8> {
    format!("{{\"action\":\"execute\",\"finished\":{finished}}}").into_bytes()
}

/// Asserts that `reply_body` is what `| netdiscover` (annotate mode) makes of a chunk in which no
/// rule matched: every input column and field value byte-for-byte, then the annotation columns
/// and their `__mv_` companions, empty on every row. An empty request gets an empty reply.
pub fn assert_unmatched_rows_returned(request_body: &[u8], reply_body: &[u8], what: &str) {
    if request_body.is_empty() {
        assert!(
            reply_body.is_empty(),
            "{what}: empty request, non-empty reply"
        );
        return;
    }
    let appended: Vec<Vec<u8>> = netdiscover::rules::Annotation::FIELDS
        .iter()
        .map(|f| f.as_bytes().to_vec())
        .chain(
            netdiscover::rules::Annotation::FIELDS
                .iter()
                .map(|f| format!("__mv_{f}").into_bytes()),
        )
        .collect();
    let (in_header, in_rows) = parse_csv(request_body);
    let (out_header, out_rows) = parse_csv(reply_body);
    assert_eq!(
        out_header.len(),
        in_header.len() + appended.len(),
        "{what}: header width"
    );
    assert_eq!(
        &out_header[..in_header.len()],
        &in_header[..],
        "{what}: input columns"
    );
    assert_eq!(
        &out_header[in_header.len()..],
        &appended[..],
        "{what}: appended columns"
    );
    assert_eq!(out_rows.len(), in_rows.len(), "{what}: row count");
    for (n, (input, output)) in in_rows.iter().zip(&out_rows).enumerate() {
        assert_eq!(
            &output[..input.len()],
            &input[..],
            "{what}: row {} values",
            n + 1
        );
        assert!(
            output[input.len()..].iter().all(|v| v.is_empty()),
            "{what}: row {} has annotation values but matches no rule",
            n + 1
        );
    }
}

/// XML text with the five predefined entity references resolved (`&amp;` last, so `&amp;lt;`
/// stays `&lt;`).
pub fn xml_unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// `value` as a quoted CSV field, inner `"` doubled, as Splunk quotes a field.
pub fn csv_quoted(value: &[u8]) -> Vec<u8> {
    let mut quoted = Vec::with_capacity(value.len() + 2);
    quoted.push(b'"');
    for &b in value {
        quoted.push(b);
        if b == b'"' {
            quoted.push(b'"');
        }
    }
    quoted.push(b'"');
    quoted
}
