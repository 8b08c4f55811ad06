//! A large body's rows processed on several threads (`protocol::parallel`): the reply is the
//! single-threaded reply byte for byte, for rows that pass, are dropped, emit several rows or
//! fail mid-chunk, whether the body comes whole, in irregular pieces, or through a session
//! that reads it on a helper thread and holds it as a window; also where the cut into blocks
//! is misled by irregular quoting. Each test also proves the forks processed rows.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::prefetch::Trickle;
use crate::support::{execute, getinfo};
use netdiscover::protocol::{
    encode_chunk, run_session, BodyProcessor, CommandError, Emitter, GetInfo, GetInfoReply,
    ProcessError, Row, RowGate, RowProcessor, SearchCommand, Threads, Verdict, PREFETCH_WINDOW_MIN,
};

/// Answers from the row alone: `drop` in `process` drops the row, `multi` emits three rows,
/// `BOOM` fails, `net` emits one row naming the row's number; the rest pass. Forks count the
/// rows they process in `forked`. With `stall`, a row holding `stall` takes 30 ms on a fork
/// (`Some(true)`) or on the session's thread (`Some(false)`), as on a busy machine.
#[derive(Clone)]
struct Tagger {
    fields: Vec<String>,
    appended: Vec<String>,
    gate: Option<RowGate>,
    threads: Threads,
    forked: Arc<AtomicUsize>,
    is_fork: bool,
    stall: Option<bool>,
}

impl Tagger {
    fn new(threads: Threads, gated: bool) -> Tagger {
        Tagger {
            fields: vec!["process".into(), "user".into()],
            appended: vec!["tag".into(), "row".into()],
            gate: gated
                .then(|| {
                    RowGate::for_values(&["drop", "multi", "BOOM", "net", "stall"], Verdict::Pass)
                })
                .flatten(),
            threads,
            forked: Arc::new(AtomicUsize::new(0)),
            is_fork: false,
            stall: None,
        }
    }
}

impl RowProcessor for Tagger {
    fn input_fields(&self) -> &[String] {
        &self.fields
    }
    fn appended_columns(&self) -> &[String] {
        &self.appended
    }
    fn row_gate(&self) -> Option<&RowGate> {
        self.gate.as_ref()
    }
    fn threads(&self) -> Threads {
        self.threads
    }
    fn fork(&self) -> Option<Box<dyn RowProcessor + Send>> {
        let mut fork = self.clone();
        fork.is_fork = true;
        Some(Box::new(fork))
    }
    fn process_row(&mut self, row: &Row<'_>, emit: &mut Emitter) -> Result<Verdict, ProcessError> {
        if self.is_fork {
            self.forked.fetch_add(1, Ordering::Relaxed);
        }
        let process = row.first(0).unwrap_or_default();
        let has = |word: &[u8]| process.windows(word.len()).any(|w| w == word);
        if self.stall == Some(self.is_fork) && has(b"stall") {
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
        if has(b"BOOM") {
            return Err(ProcessError(format!("cannot evaluate row {}", row.index())));
        }
        if has(b"drop") {
            return Ok(Verdict::Drop);
        }
        if has(b"multi") {
            for n in 0..3u8 {
                emit.push(0, &[b'm', b'0' + n]);
                emit.push(0, row.first(1).unwrap_or_default());
                emit.end_row();
            }
            return Ok(Verdict::Emit);
        }
        if has(b"net") {
            emit.push(0, b"net");
            emit.push(1, row.index().to_string().as_bytes());
            return Ok(Verdict::Emit);
        }
        Ok(Verdict::Pass)
    }
}

/// A body of at least `min_len` bytes: plain, quoted, `""`-escaped, multi-line, multivalue
/// and `\r\n` rows, some dropped, some emitting several rows, about one in 7 naming its row.
/// With `bad_quotes`, many rows hold a `"` inside an unquoted field, which misleads the cut.
fn body(min_len: usize, bad_quotes: bool) -> Vec<u8> {
    let mut body = b"process,user,_time,__mv_process\n".to_vec();
    let mut n = 0u64;
    while body.len() < min_len {
        n += 1;
        let row = match n % 9 {
            0 => format!("\"C:\\netstat.exe -ano {n}\",alice,{n},\n"),
            1 => format!("\"cmd.exe /c \"\"echo {n}\"\"\",bob,{n},\n"),
            2 => format!("powershell.exe -enc drop{n},carol,{n},\n"),
            3 => format!("\"line one {n}\nline two\",dave,{n},\r\n"),
            4 => format!("\"a\nb\",erin,{n},\"$a {n}$;$netstat -a$\"\n"),
            5 if bad_quotes => format!("multi 12\"{n},gina,{n},\n"),
            5 => format!("multi {n},gina,{n},\n"),
            6 if bad_quotes => format!("note\"pad.exe {n},hal,{n},\n"),
            _ => format!("notepad.exe file{n}.txt,frank,{n},\n"),
        };
        body.extend_from_slice(row.as_bytes());
    }
    body
}

/// The reply (or error) of one whole-body pass.
fn whole(body: &[u8], processor: &mut Tagger) -> (Vec<u8>, Result<(usize, usize), String>) {
    let mut out = Vec::new();
    let result = BodyProcessor::new()
        .process(body, processor, &mut out, &mut Vec::new())
        .map(|s| (s.rows_in, s.rows_out))
        .map_err(|e| e.to_string());
    (out, result)
}

/// The reply (or error) of a body fed in irregular pieces, each passed as the received prefix.
fn pieces(body: &[u8], processor: &mut Tagger) -> (Vec<u8>, Result<(), String>) {
    let mut bodies = BodyProcessor::new();
    let mut out = Vec::new();
    bodies.begin(&mut out);
    let (mut end, mut step) = (0, 1usize);
    while end < body.len() {
        step = (step * 7919 + 13) % 300_007;
        end = (end + step + 1).min(body.len());
        if let Err(e) = bodies.feed(&body[..end], end == body.len(), processor, &mut out) {
            return (out, Err(e.to_string()));
        }
    }
    (out, Ok(()))
}

#[test]
fn two_threads_reply_as_one_for_whole_and_piecewise_bodies() {
    for bad_quotes in [false, true] {
        let body = body(3 << 20, bad_quotes);
        for gated in [false, true] {
            let mut one = Tagger::new(Threads::Fixed(1), gated);
            let mut two = Tagger::new(Threads::Fixed(2), gated);
            let expected = whole(&body, &mut one);
            assert!(expected.1.is_ok(), "{:?}", expected.1);
            assert_eq!(whole(&body, &mut two), expected, "whole, gated {gated}");
            let piecewise = pieces(&body, &mut two);
            assert!(
                piecewise == (expected.0.clone(), Ok(())),
                "pieces, gated {gated}"
            );
            assert_eq!(one.forked.load(Ordering::Relaxed), 0);
            let forked = two.forked.load(Ordering::Relaxed);
            let rows = expected.1.as_ref().map_or(0, |r| r.0);
            // Misleading quotes (never sent by Splunk) keep more rows on the session thread.
            let share = if bad_quotes { 50 } else { 10 };
            assert!(
                forked > rows / share,
                "forks processed {forked} of 2 x {rows} rows (misleading quotes: {bad_quotes})"
            );
        }
    }
}

#[test]
fn an_error_mid_body_is_the_first_in_row_order_with_the_same_reply_before_it() {
    let mut body = body(2 << 20, false);
    // One failing row near the middle, one further on: the first must win.
    let middle = body.len() / 2;
    // After a plain row's end (some rows hold newlines in quotes).
    let at = middle + body[middle..].windows(2).position(|w| w == b"\nn").unwrap() + 1;
    body.splice(at..at, b"BOOM now,zed,1,\n".iter().copied());
    let later = at + 400_000;
    let later = later + body[later..].windows(2).position(|w| w == b"\nn").unwrap() + 1;
    body.splice(later..later, b"BOOM later,zed,2,\n".iter().copied());
    let expected = whole(&body, &mut Tagger::new(Threads::Fixed(1), false));
    let error = expected.1.clone().unwrap_err();
    assert!(error.contains("cannot evaluate row"), "{error}");
    let mut two = Tagger::new(Threads::Fixed(2), false);
    assert_eq!(whole(&body, &mut two), expected);
    let (reply, result) = pieces(&body, &mut Tagger::new(Threads::Fixed(2), true));
    assert_eq!(result, Err(error));
    assert!(reply == expected.0, "replies before the error differ");
    assert!(two.forked.load(Ordering::Relaxed) > 0);
}

#[test]
fn a_thread_stalled_in_a_block_leaves_the_reply_as_one_thread_makes_it() {
    let mut body = body(3 << 20, false);
    // A stalling row every ~600 KiB: the other thread runs on to its bound meanwhile.
    let mut at = 100_000;
    while at < body.len() {
        let row = at + body[at..].windows(2).position(|w| w == b"\nn").unwrap() + 1;
        body.splice(row..row, b"stall here,zed,9,\n".iter().copied());
        at = row + 600_000;
    }
    let expected = whole(&body, &mut Tagger::new(Threads::Fixed(1), false));
    assert!(expected.1.is_ok(), "{:?}", expected.1);
    for stall_in_fork in [true, false] {
        for gated in [false, true] {
            let mut two = Tagger::new(Threads::Fixed(2), gated);
            two.stall = Some(stall_in_fork);
            assert!(
                whole(&body, &mut two) == expected,
                "whole, stalled in fork {stall_in_fork}, gated {gated}"
            );
            assert!(
                pieces(&body, &mut two) == (expected.0.clone(), Ok(())),
                "pieces, stalled in fork {stall_in_fork}, gated {gated}"
            );
            assert!(two.forked.load(Ordering::Relaxed) > 0);
        }
    }
}

/// Runs a [`Tagger`] with the given threads.
struct Command(Threads, Arc<AtomicUsize>);

impl SearchCommand for Command {
    type Processor = Tagger;
    fn getinfo(&mut self, _: &GetInfo) -> Result<GetInfoReply, CommandError> {
        Ok(GetInfoReply::streaming())
    }
    fn start(&mut self) -> Result<Tagger, CommandError> {
        let tagger = Tagger::new(self.0, true);
        self.1 = Arc::clone(&tagger.forked);
        Ok(tagger)
    }
}

/// The whole reply stream of a session over `bodies`, and the rows the forks processed.
fn session(bodies: &[&[u8]], threads: Threads) -> (Vec<u8>, i32, usize) {
    let mut input = encode_chunk(&getinfo(&[]), b"");
    for (n, body) in bodies.iter().enumerate() {
        input.extend(encode_chunk(&execute(n + 1 == bodies.len()), body));
    }
    let mut reader = io::BufReader::new(Trickle {
        bytes: &input,
        step: 1,
    });
    let mut output = Vec::new();
    let mut command = Command(threads, Arc::new(AtomicUsize::new(0)));
    let end = run_session(&mut reader, &mut output, &mut command);
    (output, end.exit_code, command.1.load(Ordering::Relaxed))
}

#[test]
fn sessions_with_windowed_bodies_and_a_failing_chunk_reply_as_one_thread() {
    let large = body(PREFETCH_WINDOW_MIN + (1 << 20), false);
    let odd = body(PREFETCH_WINDOW_MIN + 12_345, true);
    let (expected, code, _) = session(&[&large, &odd, &large], Threads::Fixed(1));
    assert_eq!(code, 0);
    for threads in [Threads::Fixed(2), Threads::Auto(2)] {
        let (reply, code, forked) = session(&[&large, &odd, &large], threads);
        assert_eq!(code, 0);
        assert!(reply == expected, "{threads:?}: replies differ");
        if threads == Threads::Fixed(2) {
            assert!(forked > 10_000, "forks processed {forked} rows");
        }
    }
    let mut failing = large.clone();
    let at = failing.len() / 3;
    let at = at + failing[at..].windows(2).position(|w| w == b"\nn").unwrap() + 1;
    failing.splice(at..at, b"BOOM,zed,3,\n".iter().copied());
    let (expected, code, _) = session(&[&odd, &failing, &large], Threads::Fixed(1));
    assert_eq!(code, 1);
    let (reply, code, _) = session(&[&odd, &failing, &large], Threads::Fixed(2));
    assert_eq!(code, 1);
    assert!(reply == expected, "error replies differ");
}
