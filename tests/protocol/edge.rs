//! Edge cases of the SCP v2 loop, through the real binary driven like splunkd.

use std::sync::Arc;

use crate::support::splunkd::{Finished, Splunkd};
use crate::support::{
    assert_unmatched_rows_returned, execute, getinfo, netdiscover_exe, parse_csv, TIMEOUT,
};

fn start(args: &[&str]) -> Splunkd {
    let mut splunkd = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
    let reply = splunkd.request(&getinfo(args), &[]).expect("getinfo reply");
    assert_eq!(reply.json(), serde_json::json!({"type": "streaming"}));
    splunkd
}

fn finish_ok(splunkd: Splunkd) -> Finished {
    let end = splunkd.finish();
    assert!(!end.timed_out);
    assert!(end.late_replies.is_empty(), "unsolicited replies");
    assert_eq!(
        end.exit_code,
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&end.stderr)
    );
    assert!(end.stderr.is_empty(), "stderr must stay quiet");
    end
}

fn finish_error(splunkd: Splunkd) -> Finished {
    let end = splunkd.finish();
    assert!(!end.timed_out);
    assert_eq!(end.exit_code, Some(1));
    end
}

#[test]
fn empty_and_header_only_bodies_are_answered() {
    let mut s = start(&["mode=annotate"]);
    let r = s.request(&execute(false), b"").unwrap();
    assert_eq!(r.json(), serde_json::json!({"finished": false}));
    assert!(r.body.is_empty());
    let header_only = b"process,\"_chunked_idx\",\"__mv_process\"\n";
    let r = s.request(&execute(false), header_only).unwrap();
    assert_unmatched_rows_returned(header_only, &r.body, "header only");
    let r = s.request(&execute(true), header_only).unwrap();
    assert_eq!(r.json(), serde_json::json!({"finished": true}));
    finish_ok(s);
}

#[test]
fn columns_may_change_from_chunk_to_chunk() {
    let mut s = start(&[]);
    for body in [
        &b"a,b\n1,2\n"[..],
        b"\"_time\",c,\"__mv_c\"\n\"1.5\",\"x\ny\",\"$x$;$y$\"\n",
        b"z\nonly\n",
    ] {
        let r = s.request(&execute(false), body).unwrap();
        assert_unmatched_rows_returned(body, &r.body, "changing columns");
    }
    s.request(&execute(true), b"").unwrap();
    finish_ok(s);
}

#[test]
fn megabyte_fields_and_invalid_utf8_pass_through_unchanged() {
    let mut s = start(&[]);
    let big: Vec<u8> = (0..1_500_000u32)
        .map(|i| b"abc,\"\n\xff"[(i % 7) as usize])
        .collect();
    let quoted = crate::support::csv_quoted(&big);
    let mut body = b"process,other\n".to_vec();
    body.extend_from_slice(&quoted);
    body.extend_from_slice(b",\xc3\x28\xa0\xa1\n");
    let r = s.request(&execute(true), &body).unwrap();
    assert_unmatched_rows_returned(&body, &r.body, "megabyte field");
    let (_, rows) = parse_csv(&r.body);
    assert_eq!(rows[0][0], big);
    assert_eq!(rows[0][1], b"\xc3\x28\xa0\xa1");
    finish_ok(s);
}

#[test]
fn crlf_and_spaced_headers_are_accepted() {
    let mut s = start(&[]);
    for (n, template) in [
        "chunked  1.0 , {m} , {b} \r\n",
        "\r\nchunked\t1.0,{m},{b}\n",
    ]
    .iter()
    .enumerate()
    {
        let body = format!("a\n{n}\n").into_bytes();
        let header = template
            .replace("{m}", &execute(false).len().to_string())
            .replace("{b}", &body.len().to_string());
        let mut raw = header.into_bytes();
        raw.extend_from_slice(&execute(false));
        raw.extend_from_slice(&body);
        let reply = s.request_bytes(Arc::new(raw)).unwrap();
        assert_unmatched_rows_returned(&body, &reply.body, template);
    }
    finish_ok(s);
}

#[test]
fn spaced_header_request_gets_exactly_one_reply() {
    // The same check without racing the driver: a raw spaced/CRLF header is the whole session.
    let meta = execute(true);
    let body = b"a\n1\n";
    let mut stream = crate::support::getinfo(&[]);
    let mut raw = format!("chunked 1.0,{},0\r\n", stream.len()).into_bytes();
    raw.append(&mut stream);
    raw.extend_from_slice(format!("chunked\t1.0 ,{}, {}\r\n", meta.len(), body.len()).as_bytes());
    raw.extend_from_slice(&meta);
    raw.extend_from_slice(body);
    let out = crate::support::command(netdiscover_exe())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(&raw)?;
            drop(stdin);
            child.wait_with_output()
        })
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let rec = crate::support::split_stream(&out.stdout);
    assert_eq!(rec.chunks.len(), 2);
    assert!(rec.tail.is_empty());
    assert_unmatched_rows_returned(body, &rec.chunks[1].body, "spaced header");
}

#[test]
fn eof_before_anything_and_right_after_getinfo_exit_0_silently() {
    let s = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
    let end = finish_ok(s);
    assert!(end.late_replies.is_empty());
    let s = start(&["mode=filter", "type=Anomaly"]);
    finish_ok(s);
}

#[test]
fn eof_inside_metadata_or_body_is_an_error_reply_and_exit_1() {
    for partial in [
        &b"chunked 1.0,36,10\n{\"action\":\"exec"[..],
        b"chunked 1.0,36,10\n{\"action\":\"execute\",\"finished\":true}a\n1",
        b"chunked 1.0,3",
    ] {
        let mut s = start(&[]);
        s.send_raw(Arc::new(partial.to_vec()));
        let end = finish_error(s);
        assert_eq!(end.late_replies.len(), 1, "{partial:?}");
        let error = end.late_replies[0].error().expect("error");
        assert!(error.contains("ended inside a chunk"), "{error}");
        assert!(!end.stderr.is_empty(), "fatal errors are also logged once");
    }
}

#[test]
fn garbage_header_bad_json_and_wrong_actions_are_reported() {
    let cases: [(&[u8], &[u8], &str); 4] = [
        (b"", b"", "malformed chunk header"),
        (b"{nope", b"", "not valid JSON"),
        (
            b"{\"action\":\"bogus\"}",
            b"",
            "expected action \"execute\"",
        ),
        (
            b"{\"action\":\"execute\",\"finished\":\"no\"}",
            b"a\n1",
            "\"finished\" must be",
        ),
    ];
    for (meta, body, expected) in cases {
        let bytes = if meta.is_empty() {
            b"hello world\n".to_vec()
        } else {
            netdiscover::protocol::encode_chunk(meta, body)
        };
        let mut s = start(&[]);
        s.send_raw(Arc::new(bytes));
        let end = finish_error(s);
        assert_eq!(end.late_replies.len(), 1, "{expected}");
        let reply = &end.late_replies[0];
        assert_eq!(reply.finished(), Some(true));
        let error = reply.error().unwrap();
        assert!(error.contains(expected), "{error}");
    }
}

#[test]
fn first_request_must_be_getinfo_without_body() {
    let mut s = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
    let r = s.request(&execute(true), b"a\n1\n").unwrap();
    assert!(r.error().unwrap().contains("expected action \"getinfo\""));
    finish_error(s);
    let mut s = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
    let r = s.request(&getinfo(&[]), b"x").unwrap();
    assert!(r.error().unwrap().contains("body"));
    finish_error(s);
}

#[test]
fn malformed_csv_is_reported_with_row_and_offset() {
    let mut s = start(&[]);
    let r = s.request(&execute(true), b"a,b\n1,2\n3,\"open\n").unwrap();
    let error = r.error().expect("error");
    assert!(
        error.contains("execute chunk 1") && error.contains("row 2"),
        "{error}"
    );
    assert!(error.contains("unterminated quoted field"), "{error}");
    finish_error(s);
    let mut s = start(&[]);
    let r = s.request(&execute(true), b"a,b\n1,2,3\n").unwrap();
    assert!(r.error().unwrap().contains("3 fields but the header has 2"));
    finish_error(s);
}

#[test]
fn invalid_option_is_refused_and_session_key_never_appears() {
    let mut s = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
    let r = s.request(&getinfo(&["mode=loud"]), &[]).unwrap();
    let error = r.error().unwrap();
    assert!(
        error.contains("mode=loud") && error.contains("valid options"),
        "{error}"
    );
    assert_eq!(
        r.json()["inspector"]["messages"],
        serde_json::json!([["ERROR", error]])
    );
    let end = finish_error(s);
    for bytes in [&r.meta, &end.stderr] {
        assert!(!String::from_utf8_lossy(bytes).contains("SESSIONKEY"));
    }
}

#[test]
fn peak_memory_does_not_grow_with_the_number_of_chunks() {
    let mut body = b"process,process_name\n".to_vec();
    while body.len() < 512 * 1024 {
        body.extend_from_slice(b"\"C:\\Windows\\system32\\netstat.exe -ano\",netstat.exe\n");
    }
    let request = Arc::new(netdiscover::protocol::encode_chunk(&execute(false), &body));
    // On one thread, and natively on two (helpers started for every hand-over). Under an
    // emulator `threads=auto` would add helpers too (every row costs many times its native
    // CPU), and qemu-user keeps memory for every thread a process starts (16 MiB over 60 more
    // chunks in CI's aarch64 run): there the test pins one thread.
    let threads: &[&str] = if crate::support::emulated() {
        &["threads=1"]
    } else {
        &["threads=1", "threads=2"]
    };
    for &threads in threads {
        let mut rss = Vec::new();
        for chunks in [4, 64] {
            let mut s = start(&[threads]);
            for _ in 0..chunks {
                s.request_bytes(Arc::clone(&request)).unwrap();
            }
            rss.push(finish_ok(s).max_rss_kib);
        }
        // 60 more chunks of 512 KiB (30 MiB more data) must not raise the peak by more than noise.
        assert!(
            rss[1] < rss[0] + 2048,
            "{threads}: peak RSS {} KiB vs {} KiB",
            rss[1],
            rss[0]
        );
    }
}
