//! Replays every recorded Splunk session in `../shared/fixtures/scpv2/` through the real binary,
//! driven like splunkd drives it, and checks one reply per request, valid framing, every row and
//! field returned byte for byte, and the exit code.

use std::sync::Arc;

use crate::support::splunkd::Splunkd;
use crate::support::{
    netdiscover_exe, parse_csv, read_fixture, shared, split_stream, with_args, TIMEOUT,
};

fn fixture(name: &str) -> Option<Vec<u8>> {
    let path = shared(&format!("fixtures/scpv2/{name}"))?;
    Some(read_fixture(&path))
}

/// Asserts that `reply_body` carries exactly the rows and field values of `request_body`
/// (none of the recordings holds process rows, so no rule matches and the annotation columns
/// stay empty).
fn assert_rows_returned(request_body: &[u8], reply_body: &[u8], what: &str) {
    crate::support::assert_unmatched_rows_returned(request_body, reply_body, what);
}

/// Replays a complete recording with the getinfo options cleared (the recordings carry other
/// commands' options) and checks every reply.
fn replay_passthrough(name: &str) -> Option<(usize, u64)> {
    let stream = fixture(name)?;
    let recording = split_stream(&stream);
    let mut splunkd = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
    let getinfo = with_args(&recording.chunks[0].meta, &[]);
    let reply = splunkd.request(&getinfo, &[]).expect("getinfo reply");
    assert_eq!(
        reply.json(),
        serde_json::json!({"type": "streaming"}),
        "{name}: getinfo"
    );
    assert!(reply.body.is_empty());
    let mut rows = 0;
    for (n, chunk) in recording.chunks[1..].iter().enumerate() {
        let reply = splunkd
            .request(&chunk.meta, &chunk.body)
            .unwrap_or_else(|e| panic!("{name}: execute {}: {e}", n + 1));
        let finished = chunk.json()["finished"]
            .as_bool()
            .expect("fixture finished");
        assert_eq!(
            reply.json(),
            serde_json::json!({"finished": finished}),
            "{name}: meta"
        );
        assert_rows_returned(
            &chunk.body,
            &reply.body,
            &format!("{name} execute {}", n + 1),
        );
        rows += parse_csv(&chunk.body).1.len() as u64;
    }
    if !recording.tail.is_empty() {
        splunkd.send_raw(Arc::new(recording.tail.clone()));
    }
    let end = splunkd.finish();
    assert!(!end.timed_out, "{name}: timed out");
    assert!(
        end.late_replies.is_empty(),
        "{name}: replies without a request"
    );
    assert_eq!(
        end.exit_code,
        Some(0),
        "{name}: exit code; stderr {:?}",
        String::from_utf8_lossy(&end.stderr)
    );
    assert!(end.stderr.is_empty(), "{name}: stderr not quiet");
    Some((recording.chunks.len() - 1, rows))
}

#[test]
fn countmatches_500_tweets_with_embedded_newlines_come_back_intact() {
    let Some((chunks, rows)) = replay_passthrough("countmatches.input") else {
        return;
    };
    assert_eq!((chunks, rows), (1, 500));
}

#[test]
fn multibyte_input_nine_chunks_with_data_on_the_final_chunk() {
    let Some((chunks, rows)) = replay_passthrough("multibyte_input") else {
        return;
    };
    assert_eq!(chunks, 9);
    assert!(rows > 30_000, "{rows} rows");
}

#[test]
fn sum_map_single_16mb_chunk_of_50000_rows() {
    let Some(stream) = fixture("sum.map.input.gz") else {
        return;
    };
    let recording = split_stream(&stream);
    assert_eq!(recording.chunks.len(), 2);
    assert_eq!(recording.chunks[1].body.len(), 16_109_782);
    let Some((chunks, rows)) = replay_passthrough("sum.map.input.gz") else {
        return;
    };
    assert_eq!((chunks, rows), (1, 50_000));
}

#[test]
fn pypygeneratetext_getinfo_then_eof_exits_0_silently() {
    let Some((chunks, rows)) = replay_passthrough("pypygeneratetext.input") else {
        return;
    };
    assert_eq!((chunks, rows), (0, 0));
}

#[test]
fn generatehello_truncated_execute_gets_an_error_reply_and_exit_1() {
    let Some(stream) = fixture("generatehello.input") else {
        return;
    };
    let recording = split_stream(&stream);
    assert_eq!(recording.chunks.len(), 1, "only getinfo is complete");
    assert!(recording.tail.starts_with(b"chunked 1.0,43,150\n"));
    let mut splunkd = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
    let getinfo = with_args(&recording.chunks[0].meta, &[]);
    splunkd.request(&getinfo, &[]).expect("getinfo reply");
    splunkd.send_raw(Arc::new(recording.tail.clone()));
    let end = splunkd.finish();
    assert_eq!(end.exit_code, Some(1));
    assert_eq!(
        end.late_replies.len(),
        1,
        "one error reply for the truncated request"
    );
    let reply = &end.late_replies[0];
    assert_eq!(reply.finished(), Some(true));
    let error = reply.error().expect("error set");
    assert!(
        error.contains("ended inside a chunk") && error.contains("150"),
        "{error}"
    );
    assert_eq!(
        reply.json()["inspector"]["messages"][0],
        serde_json::json!(["ERROR", error])
    );
}

/// The recordings' own options belong to other commands: netdiscover must refuse them with an
/// error that lists its options, without leaking the session key.
#[test]
fn recorded_foreign_options_are_refused_listing_the_valid_ones() {
    for (name, bad) in [
        ("countmatches.input", "fieldname=word_count"),
        ("generatehello.input", "count=1000"),
        ("pypygeneratetext.input", "count=1000"),
        ("sum.map.input.gz", "total=total"),
    ] {
        let Some(stream) = fixture(name) else {
            return;
        };
        let recording = split_stream(&stream);
        let meta = recording.chunks[0].json();
        let session_key = meta["searchinfo"]["session_key"]
            .as_str()
            .expect("recorded session key")
            .to_string();
        let mut splunkd = Splunkd::spawn(&netdiscover_exe(), &[], TIMEOUT).expect("spawn");
        let reply = splunkd
            .request(&recording.chunks[0].meta, &[])
            .expect("getinfo reply");
        let error = reply.error().unwrap_or_else(|| panic!("{name}: no error"));
        assert!(error.contains(bad), "{name}: {error}");
        assert!(
            error.contains("mode=annotate|filter|risk"),
            "{name}: {error}"
        );
        assert_eq!(reply.finished(), Some(true));
        let end = splunkd.finish();
        assert_eq!(end.exit_code, Some(1), "{name}");
        assert!(end.late_replies.is_empty());
        for out in [&reply.meta, &end.stderr] {
            assert!(
                !String::from_utf8_lossy(out).contains(&session_key),
                "{name}: session key leaked"
            );
        }
    }
}

#[test]
fn recordings_have_the_documented_shape() {
    let Some(countmatches) = fixture("countmatches.input") else {
        return;
    };
    let r = split_stream(&countmatches);
    assert_eq!(r.chunks.len(), 2);
    assert_eq!(r.chunks[1].body.len(), 48_108);
    let Some(multibyte) = fixture("multibyte_input") else {
        return;
    };
    assert_eq!(multibyte.len(), 1_059_352);
    let r = split_stream(&multibyte);
    assert_eq!(r.chunks.len(), 10);
    assert!(r.tail.is_empty());
    let finished: Vec<bool> = r.chunks[1..]
        .iter()
        .map(|c| c.json()["finished"].as_bool().unwrap())
        .collect();
    assert_eq!(
        finished,
        [false, false, false, false, false, false, false, false, true]
    );
    assert_eq!(parse_csv(&r.chunks[9].body).1.len(), 1441);
}
