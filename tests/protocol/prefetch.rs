//! Bodies of `PREFETCH_MIN` bytes and more are read by a helper thread while rows are processed
//! (`protocol::prefetch`). These sessions check that the reply is the one a whole-body pass
//! gives, whatever sizes the reads come in, also for bodies held as a window (whose processed
//! pages are given back while they are processed), and that truncated bodies and row errors end
//! the session as they do on the single-thread path.

use std::io::{self, Read};

use crate::support::{execute, getinfo, split_stream};
use netdiscover::protocol::{
    encode_chunk, run_session, BodyProcessor, CommandError, Emitter, GetInfo, GetInfoReply,
    ProcessError, Row, RowGate, RowProcessor, SearchCommand, Verdict, PREFETCH_MAX, PREFETCH_MIN,
    PREFETCH_WINDOW_MIN,
};

/// Annotates rows whose `process` holds "netstat"; fails on a row whose `process` is "BOOM".
struct Flagger {
    fields: Vec<String>,
    appended: Vec<String>,
    /// Passes rows without "netstat" (in any case) or "BOOM" by the bitmask pass.
    gate: Option<RowGate>,
}

impl Flagger {
    fn new() -> Self {
        Flagger {
            fields: vec!["process".into()],
            appended: vec!["detection".into()],
            gate: None,
        }
    }

    fn gated() -> Self {
        Flagger {
            gate: RowGate::for_values(&["netstat", "BOOM"], Verdict::Pass),
            ..Flagger::new()
        }
    }
}

impl RowProcessor for Flagger {
    fn input_fields(&self) -> &[String] {
        &self.fields
    }
    fn appended_columns(&self) -> &[String] {
        &self.appended
    }
    fn row_gate(&self) -> Option<&RowGate> {
        self.gate.as_ref()
    }
    fn process_row(&mut self, row: &Row<'_>, emit: &mut Emitter) -> Result<Verdict, ProcessError> {
        if row.first(0) == Some(b"BOOM") {
            return Err(ProcessError("cannot evaluate BOOM".into()));
        }
        if row.values(0).any(|v| v.windows(7).any(|w| w == b"netstat")) {
            emit.push(0, b"Netstat");
            return Ok(Verdict::Emit);
        }
        Ok(Verdict::Pass)
    }
}

/// Runs a [`Flagger`], gated when the field says so.
struct Command(bool);

impl SearchCommand for Command {
    type Processor = Flagger;
    fn getinfo(&mut self, _: &GetInfo) -> Result<GetInfoReply, CommandError> {
        Ok(GetInfoReply::streaming())
    }
    fn start(&mut self) -> Result<Flagger, CommandError> {
        Ok(if self.0 {
            Flagger::gated()
        } else {
            Flagger::new()
        })
    }
}

/// Hands out its bytes in pieces of irregular sizes (1 byte to 97 KiB), so rows, quoted
/// newlines and `""` escapes are split across reads.
pub(crate) struct Trickle<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.step = (self.step * 7919 + 13) % 99_991;
        let n = (self.step + 1).min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// A body of at least `min_len` bytes: plain, quoted, multi-line and multivalue rows, about one
/// in 50 a netstat hit. Bodies of different `seed`s differ at almost every offset, so a reader
/// of bytes a helper has not written yet would see the previous body's.
fn big_body(min_len: usize, seed: u64) -> Vec<u8> {
    let mut body = b"process,user,_time,__mv_process\n".to_vec();
    let mut n = seed * 7_777_777;
    while body.len() < min_len {
        n += 1;
        let row = match n % 5 {
            0 if n.is_multiple_of(10) => {
                format!("\"C:\\Windows\\system32\\netstat.exe -ano {n}\",alice,{n},\n")
            }
            0 => format!("\"cmd.exe /c \"\"echo {n}\"\"\",bob,{n},\n"),
            1 => format!("powershell.exe -enc AAAA{n},carol,{n},\n"),
            2 => format!("\"line one {n}\nline two\",dave,{n},\n"),
            3 => format!("\"a\nb\",erin,{n},\"$a {n}$;$netstat -a$\"\n"),
            _ => format!("notepad.exe file{n}.txt,frank,{n},\n"),
        };
        body.extend_from_slice(row.as_bytes());
    }
    body
}

fn request_stream(bodies: &[&[u8]]) -> Vec<u8> {
    let mut input = encode_chunk(&getinfo(&[]), b"");
    for (n, body) in bodies.iter().enumerate() {
        input.extend(encode_chunk(&execute(n + 1 == bodies.len()), body));
    }
    input
}

/// The reply body a single whole-body pass of the ungated [`Flagger`] gives.
fn reference_reply(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    BodyProcessor::new()
        .process(body, &mut Flagger::new(), &mut out, &mut Vec::new())
        .expect("reference pass");
    out
}

#[test]
fn large_bodies_read_in_irregular_pieces_get_the_whole_body_reply() {
    let sizes = [
        PREFETCH_MIN as usize,
        PREFETCH_MIN as usize + 1,
        3 * PREFETCH_MIN as usize + 12_345,
    ];
    let bodies: Vec<Vec<u8>> = sizes
        .iter()
        .zip(1..)
        .map(|(&s, seed)| big_body(s, seed))
        .collect();
    // Between the large bodies, a small one that takes the single-thread path.
    let small = big_body(10_000, 9);
    let order: Vec<&[u8]> = vec![&bodies[0], &small, &bodies[2], &bodies[1], &bodies[0]];
    assert!(order.iter().any(|b| (b.len() as u64) < PREFETCH_MIN));
    let stream = request_stream(&order);
    let mut input = io::BufReader::with_capacity(
        1 << 16,
        Trickle {
            bytes: &stream,
            step: 1,
        },
    );
    let mut output = Vec::new();
    let end = run_session(&mut input, &mut output, &mut Command(false));
    assert_eq!(end.exit_code, 0, "{:?}", end.error);
    let replies = split_stream(&output).chunks;
    assert_eq!(replies.len(), 1 + order.len());
    for (n, (reply, body)) in replies[1..].iter().zip(&order).enumerate() {
        let expected = reference_reply(body);
        assert!(
            reply.body == expected,
            "chunk {}: {} reply bytes, expected {}",
            n + 1,
            reply.body.len(),
            expected.len()
        );
    }
    let hits = replies[4]
        .body
        .windows(8)
        .filter(|w| w == b",Netstat")
        .count();
    assert!(hits > 1000, "{hits} hits in the largest body");
}

#[test]
fn bodies_held_as_a_window_get_the_whole_body_reply_gated_or_not() {
    let window = PREFETCH_WINDOW_MIN;
    let bodies: Vec<Vec<u8>> = [window, 2 * window + 4321, window + 1]
        .iter()
        .zip(11..)
        .map(|(&s, seed)| big_body(s, seed))
        .collect();
    // The buffer is reused: a larger body, then smaller ones over its released pages.
    let order: Vec<&[u8]> = vec![&bodies[0], &bodies[1], &bodies[2], &bodies[0]];
    let stream = request_stream(&order);
    for gated in [false, true] {
        let mut input = io::BufReader::with_capacity(
            1 << 16,
            Trickle {
                bytes: &stream,
                step: 3,
            },
        );
        let mut output = Vec::new();
        let end = run_session(&mut input, &mut output, &mut Command(gated));
        assert_eq!(end.exit_code, 0, "{:?}", end.error);
        let replies = split_stream(&output).chunks;
        assert_eq!(replies.len(), 1 + order.len());
        for (n, (reply, body)) in replies[1..].iter().zip(&order).enumerate() {
            assert!(body.len() >= window);
            assert!(
                reply.body == reference_reply(body),
                "gated {gated}, chunk {}: the reply differs from a whole-body pass",
                n + 1
            );
        }
    }
}

#[test]
fn a_truncated_large_body_is_an_error_naming_the_bytes_received() {
    let body = big_body(2 * PREFETCH_MIN as usize, 1);
    let mut stream = request_stream(&[&body]);
    let cut = 700_001;
    stream.truncate(stream.len() - body.len() + cut);
    let mut input = io::BufReader::new(Trickle {
        bytes: &stream,
        step: 5,
    });
    let mut output = Vec::new();
    let end = run_session(&mut input, &mut output, &mut Command(false));
    assert_eq!(end.exit_code, 1);
    let message = end.error.map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        message,
        format!(
            "stream ended inside a chunk: body announced {} bytes, got {cut}",
            body.len()
        )
    );
    let replies = split_stream(&output).chunks;
    assert_eq!(replies.len(), 2, "getinfo reply and the error reply");
    assert_eq!(replies[1].json()["error"].as_str(), Some(message.as_str()));
}

#[test]
fn a_row_error_in_a_large_body_is_answered_after_the_whole_request_is_read() {
    let mut body = big_body(PREFETCH_MIN as usize / 2, 1);
    body.extend_from_slice(b"BOOM,mallory,0,\n");
    let rest = big_body(2 * PREFETCH_MIN as usize, 2);
    let after_header = rest.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
    body.extend_from_slice(&rest[after_header..]);
    let expected = match BodyProcessor::new().process(
        &body,
        &mut Flagger::new(),
        &mut Vec::new(),
        &mut Vec::new(),
    ) {
        Err(e) => format!("execute chunk 1: {e}"),
        Ok(_) => panic!("the reference pass accepted BOOM"),
    };
    let next_request = encode_chunk(&execute(true), b"process\nx\n");
    let mut stream = request_stream(&[&body]);
    stream.extend_from_slice(&next_request);
    let mut unread: &[u8] = &stream;
    let mut output = Vec::new();
    let end = run_session(&mut unread, &mut output, &mut Command(false));
    assert_eq!(end.exit_code, 1);
    let message = end.error.map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(message, expected);
    assert!(message.contains("cannot evaluate BOOM"), "{message}");
    // The helper read the body to its end; the next request is untouched.
    assert_eq!(unread, &next_request[..]);
}

#[test]
fn announced_lengths_beyond_the_prefetch_limit_are_not_allocated_up_front() {
    // A header announcing more than PREFETCH_MAX, then a few bytes: the single-thread path
    // reports the truncation without allocating the announced length.
    let mut stream = encode_chunk(&getinfo(&[]), b"");
    let meta = execute(true);
    stream
        .extend_from_slice(format!("chunked 1.0,{},{}\n", meta.len(), PREFETCH_MAX + 1).as_bytes());
    stream.extend_from_slice(&meta);
    stream.extend_from_slice(b"process\nnetstat\n");
    let mut output = Vec::new();
    let end = run_session(&mut &stream[..], &mut output, &mut Command(false));
    assert_eq!(end.exit_code, 1);
    assert_eq!(
        end.error.map(|e| e.to_string()).unwrap_or_default(),
        format!(
            "stream ended inside a chunk: body announced {} bytes, got 16",
            PREFETCH_MAX + 1
        )
    );
}
