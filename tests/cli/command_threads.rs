//! `| netdiscover threads=`: with the ESCU corpus on the real process rows of
//! ../shared/datasets, a reply decided on two threads (or `auto`) is the one-thread reply byte
//! for byte in every mode, for a whole body, one fed in irregular pieces and a session reading
//! a windowed body; and the option parses as documented.

use crate::command_gate::bodies;
use crate::support::rules::escu_corpus;
use crate::support::{execute, getinfo, repo};
use netdiscover::cli::command::{CommandOptions, Mode, RulesProcessor, AUTO_THREADS};
use netdiscover::protocol::{
    encode_chunk, run_session, BodyProcessor, CommandError, GetInfo, GetInfoReply, SearchCommand,
    Threads, PREFETCH_WINDOW_MIN,
};
use netdiscover::rules::{shipped_places, RuleSet, Selected};

/// Every real body as one: the first header, then every body's rows.
fn one_body(bodies: &[(String, Vec<u8>, usize)]) -> Vec<u8> {
    let mut all = Vec::new();
    for (n, (_, body, _)) in bodies.iter().enumerate() {
        let rows_start = body.iter().position(|&b| b == b'\n').map_or(0, |p| p + 1);
        all.extend_from_slice(if n == 0 { body } else { &body[rows_start..] });
    }
    all
}

fn corpus_set() -> Option<RuleSet> {
    let (detections, macros) = escu_corpus()?;
    let mut places = shipped_places(&repo("target/debug/netdiscover"));
    places.extend([detections, macros]);
    let (set, _) = RuleSet::load(&places);
    assert!(set.len() > 300, "{}", set.len());
    Some(set)
}

fn processor(set: &RuleSet, mode: Mode, threads: Threads) -> RulesProcessor {
    let mut processor = RulesProcessor::new(set.clone(), Selected::all(set), mode);
    processor.set_threads(threads);
    processor
}

/// The reply of a body fed in irregular pieces, each passed as the received prefix.
fn fed_in_pieces(body: &[u8], processor: &mut RulesProcessor) -> Vec<u8> {
    let (mut bodies, mut out) = (BodyProcessor::new(), Vec::new());
    bodies.begin(&mut out);
    let (mut end, mut step) = (0, 1usize);
    while end < body.len() {
        step = (step * 7919 + 13) % 700_001;
        end = (end + step + 1).min(body.len());
        bodies
            .feed(&body[..end], end == body.len(), processor, &mut out)
            .expect("real rows");
    }
    out
}

#[test]
fn corpus_replies_on_two_threads_are_the_one_thread_replies() {
    let (Some(bodies), Some(set)) = (bodies(), corpus_set()) else {
        return;
    };
    let body = one_body(&bodies);
    assert!(body.len() > PREFETCH_WINDOW_MIN, "{}", body.len());
    for mode in [Mode::Annotate, Mode::Filter, Mode::Risk] {
        let (mut expected, mut messages) = (Vec::new(), Vec::new());
        let stats = BodyProcessor::new()
            .process(
                &body,
                &mut processor(&set, mode, Threads::Fixed(1)),
                &mut expected,
                &mut messages,
            )
            .expect("real rows");
        assert!(stats.rows_in > 30_000, "{stats:?}");
        assert!(stats.rows_out > 100, "{mode:?}: {stats:?}");
        for threads in [Threads::Fixed(2), Threads::Auto(AUTO_THREADS)] {
            let mut two = processor(&set, mode, threads);
            let mut out = Vec::new();
            let two_stats = BodyProcessor::new()
                .process(&body, &mut two, &mut out, &mut messages)
                .expect("real rows");
            assert_eq!(two_stats, stats, "{mode:?} {threads:?}");
            assert!(
                out == expected,
                "{mode:?} {threads:?}: whole-body replies differ"
            );
            let pieces = fed_in_pieces(&body, &mut two);
            assert!(
                pieces == expected,
                "{mode:?} {threads:?}: piecewise replies differ"
            );
        }
    }
}

/// Runs a prepared [`RulesProcessor`].
struct Prepared(Option<RulesProcessor>);

impl SearchCommand for Prepared {
    type Processor = RulesProcessor;
    fn getinfo(&mut self, _: &GetInfo) -> Result<GetInfoReply, CommandError> {
        Ok(GetInfoReply::streaming())
    }
    fn start(&mut self) -> Result<RulesProcessor, CommandError> {
        self.0
            .take()
            .ok_or_else(|| CommandError("started twice".into()))
    }
}

#[test]
fn corpus_sessions_with_windowed_bodies_reply_the_same_on_two_threads() {
    let (Some(bodies), Some(set)) = (bodies(), corpus_set()) else {
        return;
    };
    let body = one_body(&bodies);
    let small = &bodies[0].1;
    let mut input = encode_chunk(&getinfo(&[]), b"");
    for (n, chunk) in [small.as_slice(), &body, &body].iter().enumerate() {
        input.extend(encode_chunk(&execute(n == 2), chunk));
    }
    let run = |threads| {
        let mut command = Prepared(Some(processor(&set, Mode::Annotate, threads)));
        let mut output = Vec::new();
        let end = run_session(&mut input.as_slice(), &mut output, &mut command);
        assert_eq!(end.exit_code, 0, "{:?}", end.error);
        (output, end.rows_out)
    };
    let expected = run(Threads::Fixed(1));
    assert!(expected.1 > 60_000, "{}", expected.1);
    let two = run(Threads::Fixed(2));
    assert!(two == expected, "session replies differ");
}

#[test]
fn the_threads_option_takes_auto_or_a_count() {
    let parse = |token: &str| CommandOptions::parse(&[token]).map(|o| o.threads);
    assert_eq!(parse("threads=auto"), Ok(None));
    assert_eq!(parse("THREADS=Auto"), Ok(None));
    assert_eq!(parse("threads=1"), Ok(Some(1)));
    assert_eq!(parse("threads=2"), Ok(Some(2)));
    assert_eq!(parse("threads=64"), Ok(Some(64)));
    assert_eq!(CommandOptions::parse::<&str>(&[]).unwrap().threads, None);
    for bad in [
        "threads=0",
        "threads=65",
        "threads=two",
        "threads=-1",
        "threads=1.5",
    ] {
        let err = CommandOptions::parse(&[bad]).unwrap_err();
        assert_eq!(
            err.problem, "threads must be auto or a number from 1 to 64, got",
            "{bad}"
        );
        assert!(err.to_string().contains("threads=auto|<1-64>"), "{err}");
    }
    let err = CommandOptions::parse(&["threads=1", "threads=2"]).unwrap_err();
    assert_eq!(err.problem, "threads given twice, second time as");
    let err = CommandOptions::parse(&["threads="]).unwrap_err();
    assert_eq!(err.problem, "empty value in option");
}
