//! The reference commands the benchmark measures netdiscover against, run as child processes
//! of the bench binary itself (`--copy-back`, `--copy-back-spliced`, `--csv-baseline`,
//! `--seam-rules`).

use std::io::BufReader;

use netdiscover::protocol::{raw_stdin, raw_stdout, read_chunk, ReplyOutput, SplicingStdout};

/// Answers getinfo with `{"type":"streaming"}` and every execute with its body copied back
/// unparsed: the cost of the pipe and the driver alone.
pub fn copy_back() -> i32 {
    serve(false, |body, out| {
        out.clear();
        out.extend_from_slice(body);
    })
}

/// The copy limit with its replies spliced into stdout the way netdiscover sends them
/// ([`SplicingStdout`]): the pipe and the driver, minus the command's copy into the pipe.
pub fn copy_back_spliced() -> i32 {
    serve(true, |body, out| {
        out.clear();
        out.extend_from_slice(body);
    })
}

/// Parses each body with the `csv` crate (one reused `ByteRecord`) and writes it back with
/// `csv::Writer`, no matching: what a straightforward parse-and-reserialise design costs.
pub fn csv_baseline() -> i32 {
    let mut record = csv::ByteRecord::new();
    serve(false, move |body, out| {
        out.clear();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(body);
        let mut writer = csv::WriterBuilder::new()
            .flexible(true)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(std::mem::take(out));
        while reader.read_byte_record(&mut record).unwrap_or(false) {
            let _ = writer.write_byte_record(&record);
        }
        *out = writer.into_inner().unwrap_or_default();
    })
}

fn serve(spliced: bool, transform: impl FnMut(&[u8], &mut Vec<u8>)) -> i32 {
    // The same pipe sizes as netdiscover asks for, so the limit stays a limit.
    netdiscover::protocol::enlarge_stdio();
    match SplicingStdout::new().filter(|_| spliced) {
        Some(mut output) => serve_on(&mut output, transform),
        None => serve_on(&mut raw_stdout(), transform),
    }
}

fn serve_on(output: &mut impl ReplyOutput, mut transform: impl FnMut(&[u8], &mut Vec<u8>)) -> i32 {
    let mut input = BufReader::with_capacity(1 << 16, raw_stdin());
    let (mut meta, mut body, mut reply) = (Vec::new(), Vec::new(), Vec::new());
    let mut first = true;
    loop {
        match read_chunk(&mut input, &mut meta, &mut body) {
            Ok(Some(_)) => {}
            Ok(None) => {
                output.reclaim(&mut reply);
                return 0;
            }
            Err(_) => return 1,
        }
        let result = if first {
            first = false;
            output.send_chunk(br#"{"type":"streaming"}"#, &[])
        } else {
            let finished = meta.windows(15).any(|w| w == b"\"finished\":true");
            output.reclaim(&mut reply);
            transform(&body, &mut reply);
            let reply_meta: &[u8] = if finished {
                br#"{"finished":true}"#
            } else {
                br#"{"finished":false}"#
            };
            output.send_reply(reply_meta, &reply)
        };
        if result.is_err() {
            return 1;
        }
    }
}

/// The two seed rules evaluated natively behind the protocol's [`RowProcessor`] seam, in
/// annotate mode with the contract's annotation fields. Not the rules engine: it measures what
/// the protocol loop and the seam cost with realistic matching, and checks that multivalue
/// decoding feeds the right values to a matcher.
pub fn seam_rules() -> i32 {
    netdiscover::protocol::enlarge_stdio();
    let mut input = BufReader::with_capacity(1 << 16, raw_stdin());
    // The same reply path as netdiscover.
    let end = match SplicingStdout::new() {
        Some(mut output) => run_session(&mut input, &mut output, &mut SeamCommand),
        None => run_session(&mut input, &mut raw_stdout(), &mut SeamCommand),
    };
    if let Some(e) = end.error {
        eprintln!("seam-rules: {e}");
    }
    end.exit_code
}

use netdiscover::protocol::{
    run_session, CommandError, Emitter, GetInfo, GetInfoReply, ProcessError, Row, RowProcessor,
    SearchCommand, Verdict,
};

struct SeamCommand;

impl SearchCommand for SeamCommand {
    type Processor = SeedRules;
    fn getinfo(&mut self, _: &GetInfo) -> Result<GetInfoReply, CommandError> {
        Ok(GetInfoReply::streaming())
    }
    fn start(&mut self) -> Result<SeedRules, CommandError> {
        let finder = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(["-a", " portproxy ", " v4tov4 "])
            .map_err(|e| CommandError(e.to_string()))?;
        Ok(SeedRules {
            fields: [
                "process_name",
                "original_file_name",
                "process",
                "dest",
                "user",
            ]
            .map(String::from)
            .to_vec(),
            appended: netdiscover::rules::Annotation::FIELDS
                .map(String::from)
                .to_vec(),
            finder,
            message: Vec::new(),
        })
    }
}

struct SeedRules {
    fields: Vec<String>,
    appended: Vec<String>,
    finder: aho_corasick::AhoCorasick,
    message: Vec<u8>,
}

const PROCESS_NAME: usize = 0;
const ORIGINAL_FILE_NAME: usize = 1;
const PROCESS: usize = 2;
const DEST: usize = 3;
const USER: usize = 4;

impl SeedRules {
    /// Bit 0: `-a`, bit 1: ` portproxy `, bit 2: ` v4tov4 ` somewhere in `process`.
    fn process_tokens(&self, row: &Row<'_>) -> u8 {
        let mut found = 0u8;
        for value in row.values(PROCESS) {
            for m in self.finder.find_overlapping_iter(value) {
                found |= 1 << m.pattern().as_usize();
            }
        }
        found
    }
}

impl RowProcessor for SeedRules {
    fn input_fields(&self) -> &[String] {
        &self.fields
    }
    fn appended_columns(&self) -> &[String] {
        &self.appended
    }
    fn process_row(&mut self, row: &Row<'_>, emit: &mut Emitter) -> Result<Verdict, ProcessError> {
        let named =
            |slot: usize, name: &[u8]| row.values(slot).any(|v| v.eq_ignore_ascii_case(name));
        let netstat_name = named(PROCESS_NAME, b"netstat.exe");
        let netsh_name =
            named(PROCESS_NAME, b"netsh.exe") || named(ORIGINAL_FILE_NAME, b"netsh.exe");
        if !netstat_name && !netsh_name {
            return Ok(Verdict::Pass);
        }
        let tokens = self.process_tokens(row);
        let netstat = netstat_name && tokens & 1 != 0;
        let netsh = netsh_name && tokens & 6 == 6;
        if !netstat && !netsh {
            return Ok(Verdict::Pass);
        }
        if netstat {
            emit.push(0, b"Network Connection Discovery With Netstat");
            emit.push(1, b"2cf5cc25-f39a-436d-a790-4857e5995ede");
            emit.push(2, b"Hunting");
            emit.push(3, b"T1049");
            for story in [
                &b"CISA AA22-277A"[..],
                b"Windows Post-Exploitation",
                b"Active Directory Discovery",
                b"CISA AA23-347A",
                b"Prestige Ransomware",
            ] {
                emit.push(4, story);
            }
        }
        if netsh {
            emit.push(0, b"Windows Proxy Via Netsh");
            emit.push(1, b"c137bfe8-6036-4cff-b77b-4e327dd0a1cf");
            emit.push(2, b"Anomaly");
            emit.push(3, b"T1090.001");
            emit.push(4, b"Volt Typhoon");
            for (slot, kind) in [(DEST, &b"system"[..]), (USER, b"user")] {
                for value in row.values(slot) {
                    emit.push(5, b"49");
                    emit.push(6, value);
                    emit.push(7, kind);
                }
            }
            self.message.clear();
            self.message.extend_from_slice(b"A process ");
            self.message
                .extend_from_slice(row.first(PROCESS_NAME).unwrap_or(b""));
            self.message
                .extend_from_slice(b" has launched netsh with command-line ");
            self.message
                .extend_from_slice(row.first(PROCESS).unwrap_or(b""));
            self.message.extend_from_slice(b" on ");
            self.message
                .extend_from_slice(row.first(DEST).unwrap_or(b""));
            self.message.push(b'.');
            emit.push(8, &self.message);
        }
        Ok(Verdict::Emit)
    }
}

/// CPU time of the calling thread (robust against a loaded machine, unlike wall time).
fn thread_cpu() -> f64 {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU seconds of every thread of the process.
fn process_cpu() -> f64 {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn cpu_clock(clock: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; both CPU-time clocks are always available on Linux.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Times the body transformation alone (no pipe, no framing; thread CPU time) for profiling
/// the hot path.
///
/// With `corpus`, the same product with the ESCU corpus loaded is timed too, and each round
/// prints both CPU figures per row. `CORPUS_ONLY=1` runs the corpus product alone (for a
/// profile; `CORPUS_THREADS=n` on n threads), as `PRODUCT_ONLY=1` runs the 2-rule product alone.
pub fn in_process(body: &[u8], corpus: Option<&std::path::Path>) {
    use netdiscover::protocol::{BodyProcessor, Passthrough};
    let rows = body.iter().filter(|&&b| b == b'\n').count() as f64;
    let (mut out, mut messages) = (Vec::new(), Vec::new());
    let mut bodies = BodyProcessor::new();
    let mut seed = match SeamCommand.start() {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    if std::env::var_os("PROCESS_ONLY").is_some() {
        let mut one = Variant {
            fields: vec!["process".into()],
            appended: Vec::new(),
        };
        for _ in 0..rounds {
            let _ = bodies.process(body, &mut one, &mut out, &mut messages);
        }
        return;
    }
    // The shipped product's processor: every rule under app/, annotate mode.
    let app = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/app"));
    let (ruleset, _) =
        netdiscover::rules::RuleSet::load(&[app.join("detections"), app.join("macros")]);
    let selected = netdiscover::rules::Selected::all(&ruleset);
    use netdiscover::cli::command::RulesProcessor;
    let mut product =
        RulesProcessor::new(ruleset, selected, netdiscover::cli::command::Mode::Annotate);
    let mut corpus_product = corpus.map(|dir| {
        let t = std::time::Instant::now();
        let (ruleset, _) = netdiscover::rules::RuleSet::load(&[
            app.join("detections"),
            app.join("macros"),
            dir.to_path_buf(),
        ]);
        println!(
            "corpus: {} rules loaded in {:.1} ms, {} without a usable literal",
            ruleset.len(),
            t.elapsed().as_secs_f64() * 1e3,
            ruleset.rules_without_literal().len()
        );
        let selected = netdiscover::rules::Selected::all(&ruleset);
        RulesProcessor::new(ruleset, selected, netdiscover::cli::command::Mode::Annotate)
    });
    if std::env::var_os("CORPUS_ONLY").is_some() {
        let product = corpus_product
            .as_mut()
            .expect("CORPUS_ONLY needs ../shared/escu/corpus");
        if let Some(n) = std::env::var("CORPUS_THREADS")
            .ok()
            .and_then(|n| n.parse().ok())
        {
            product.set_threads(netdiscover::protocol::Threads::Fixed(n));
        }
        for _ in 0..rounds {
            let _ = bodies.process(body, product, &mut out, &mut messages);
        }
        return;
    }
    let product_only = std::env::var_os("PRODUCT_ONLY").is_some();
    if !product_only {
        // The row gate's scan alone: one pass per row finding its end and field count (the
        // shipped rules' literals are whole values, checked on two fields afterwards).
        use netdiscover::protocol::csv::scan_record;
        use netdiscover::protocol::{scan_row, RowCommas, RowShape};
        let header_end = body.iter().position(|&b| b == b'\n').map_or(0, |n| n + 1);
        let mut spans = Vec::new();
        let mut row_commas = RowCommas::default();
        for _ in 0..rounds {
            let (mut regular, mut irregular) = (0, 0);
            let t = thread_cpu();
            let mut pos = header_end;
            loop {
                match scan_row(body, pos, None, &mut row_commas) {
                    RowShape::Regular { next, .. } => {
                        regular += 1;
                        pos = next;
                    }
                    RowShape::Irregular => {
                        irregular += 1;
                        match scan_record(body, pos, &mut spans) {
                            Ok(end) => pos = end.next,
                            Err(_) => break,
                        }
                    }
                    other => {
                        if pos < body.len() {
                            let end = (pos + 400).min(body.len());
                            println!(
                                "gate scan stopped ({other:?}) at {pos}: {:?}",
                                String::from_utf8_lossy(&body[pos..end])
                            );
                        }
                        break;
                    }
                }
            }
            let scan = thread_cpu() - t;
            println!(
                "row scan {:.1} ns/row ({regular} regular rows, {irregular} irregular)",
                scan / rows * 1e9
            );
        }
    }
    if product_only {
        for _ in 0..rounds {
            let _ = bodies.process(body, &mut product, &mut out, &mut messages);
        }
        return;
    }
    // As the session does it: each 256 KiB piece lands in the body buffer (a copy, as a pipe
    // read is) and is fed at once, while it is still in cache.
    // Both buffers are reused, as the session reuses them, so only the first round pays for
    // touching fresh pages.
    let mut arrived = Vec::with_capacity(body.len());
    let mut reply = Vec::new();
    let mut piecewise = |bodies: &mut BodyProcessor, product: &mut RulesProcessor, feed: bool| {
        arrived.clear();
        let out = &mut reply;
        bodies.begin(out);
        let t = thread_cpu();
        for piece in body.chunks(256 << 10) {
            arrived.extend_from_slice(piece);
            if feed {
                let _ = bodies.feed(&arrived, arrived.len() == body.len(), product, out);
            }
        }
        thread_cpu() - t
    };
    for _ in 0..rounds {
        let copy_only = piecewise(&mut bodies, &mut product, false);
        let fed = piecewise(&mut bodies, &mut product, true);
        println!(
            "fed in 256 KiB pieces after a copy: {:.0} ns/row, of which the copy {:.0}",
            fed / rows * 1e9,
            copy_only / rows * 1e9
        );
    }
    let (mut best_seeds, mut best_corpus) = (f64::INFINITY, f64::INFINITY);
    for round in 0..rounds {
        let t = thread_cpu();
        let _ = bodies.process(body, &mut product, &mut out, &mut messages);
        let product_ns = thread_cpu() - t;
        let t = thread_cpu();
        let _ = bodies.process(body, &mut Passthrough, &mut out, &mut messages);
        let pass = thread_cpu() - t;
        println!(
            "round {round}: netdiscover (all shipped rules, annotate) {:.0} ns/row",
            product_ns / rows * 1e9
        );
        best_seeds = best_seeds.min(product_ns);
        if let Some(product) = corpus_product.as_mut() {
            let t = thread_cpu();
            let _ = bodies.process(body, product, &mut out, &mut messages);
            let corpus_ns = thread_cpu() - t;
            best_corpus = best_corpus.min(corpus_ns);
            println!(
                "round {round}: netdiscover + ESCU corpus (annotate) {:.0} ns/row",
                corpus_ns / rows * 1e9
            );
        }
        let t = thread_cpu();
        let _ = bodies.process(body, &mut seed, &mut out, &mut messages);
        let rules = thread_cpu() - t;
        let t = thread_cpu();
        let copy = body.to_vec();
        std::hint::black_box(&copy);
        let memcpy = thread_cpu() - t;
        // Variants isolating the seam's costs: slots decoded but nothing appended; appended
        // columns but no slots.
        let mut slots_only = Variant {
            fields: seed.fields.clone(),
            appended: Vec::new(),
        };
        let t = thread_cpu();
        let _ = bodies.process(body, &mut slots_only, &mut out, &mut messages);
        let slots = thread_cpu() - t;
        let mut one = Variant {
            fields: vec!["process".into()],
            appended: Vec::new(),
        };
        let t = thread_cpu();
        let _ = bodies.process(body, &mut one, &mut out, &mut messages);
        let process_only = thread_cpu() - t;
        let mut four = Variant {
            fields: ["process_name", "original_file_name", "dest", "user"]
                .map(String::from)
                .to_vec(),
            appended: Vec::new(),
        };
        let t = thread_cpu();
        let _ = bodies.process(body, &mut four, &mut out, &mut messages);
        let four_only = thread_cpu() - t;
        println!(
            "   process slot only {:.0} ns/row, 4 short slots {:.0}",
            process_only / rows * 1e9,
            four_only / rows * 1e9
        );
        let mut appended_only = Variant {
            fields: Vec::new(),
            appended: seed.appended.clone(),
        };
        let t = thread_cpu();
        let _ = bodies.process(body, &mut appended_only, &mut out, &mut messages);
        let appended = thread_cpu() - t;
        println!(
            "round {round}: passthrough {:.0} ns/row, seed rules {:.0}, 5 slots only {:.0}, 11 appended only {:.0}, memcpy {:.0}",
            pass / rows * 1e9,
            rules / rows * 1e9,
            slots / rows * 1e9,
            appended / rows * 1e9,
            memcpy / rows * 1e9
        );
    }
    println!(
        "in process, best of {rounds}: 2 rules {:.0} ns/row; corpus {}",
        best_seeds / rows * 1e9,
        match corpus_product {
            Some(_) => format!(
                "{:.0} ns/row ({:.1}x the 2-rule figure)",
                best_corpus / rows * 1e9,
                best_corpus / best_seeds
            ),
            None => format!("SKIPPED ({})", super::corpus::ABSENT),
        }
    );
    if let Some(product) = corpus_product.as_mut() {
        corpus_on_threads(body, &mut bodies, product, rounds, best_corpus / rows * 1e9);
    }
}

/// The corpus product on 2 threads (`threads=2`): wall time per row, against the 1-thread CPU
/// figure (`one_thread_ns`), and the session thread's own CPU.
fn corpus_on_threads(
    body: &[u8],
    bodies: &mut netdiscover::protocol::BodyProcessor,
    product: &mut netdiscover::cli::command::RulesProcessor,
    rounds: usize,
    one_thread_ns: f64,
) {
    use netdiscover::protocol::Threads;
    let rows = body.iter().filter(|&&b| b == b'\n').count() as f64;
    let (mut out, mut messages) = (Vec::new(), Vec::new());
    product.set_threads(Threads::Fixed(2));
    let (mut best_wall, mut best_cpu, mut best_all) = (f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for _ in 0..rounds {
        let (wall, cpu, all) = (std::time::Instant::now(), thread_cpu(), process_cpu());
        let _ = bodies.process(body, product, &mut out, &mut messages);
        best_cpu = best_cpu.min(thread_cpu() - cpu);
        best_all = best_all.min(process_cpu() - all);
        best_wall = best_wall.min(wall.elapsed().as_secs_f64());
    }
    product.set_threads(Threads::Fixed(1));
    println!(
        "corpus on 2 threads (threads=2), best of {rounds}: {:.0} ns/row wall ({:.2}x the 1-thread \
         CPU figure {one_thread_ns:.0}), session thread CPU {:.0} ns/row, all threads {:.0}",
        best_wall / rows * 1e9,
        one_thread_ns / (best_wall / rows * 1e9),
        best_cpu / rows * 1e9,
        best_all / rows * 1e9
    );
}

/// A processor that reads `fields` and appends `appended`, passing every row.
struct Variant {
    fields: Vec<String>,
    appended: Vec<String>,
}

impl RowProcessor for Variant {
    fn input_fields(&self) -> &[String] {
        &self.fields
    }
    fn appended_columns(&self) -> &[String] {
        &self.appended
    }
    fn process_row(&mut self, row: &Row<'_>, _: &mut Emitter) -> Result<Verdict, ProcessError> {
        // Slots decode on first access: touch every one so the variant measures decoding.
        for slot in 0..self.fields.len() {
            std::hint::black_box(row.first(slot));
        }
        Ok(Verdict::Pass)
    }
}
