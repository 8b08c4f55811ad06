//! Helpers shared by the integration tests (and the benchmarks, which include this directory
//! by path): the splunkd stand-in, fixture loading and CSV comparison.
#![allow(dead_code)]

pub mod splunkd;

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use netdiscover::protocol::framing::read_chunk;

/// Deadline for any single wait on the command under test.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// `../shared` beside the repository, or `None` (with a printed notice) when it is absent.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("SKIPPED {test}: ../shared is absent (it holds the recorded Splunk sessions)");
        None
    }
}

/// The netdiscover binary built for this test run.
pub fn netdiscover_exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_netdiscover"))
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
pub fn read_fixture(path: &std::path::Path) -> Vec<u8> {
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
