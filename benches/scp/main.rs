//! `cargo bench --bench scp`: `| netdiscover` against the pipe limit, a csv-crate baseline and
//! a splunklib peer, all driven by the same lock-step splunkd stand-in over the same bytes.
//! Also peak RSS for short vs long streams and process start → getinfo reply latency.
//!
//! Run everything with `bench/run.sh` (it installs splunk-sdk into a venv for the peer). The
//! same binary doubles as the reference commands (`--copy-back-spliced`, the copy limit;
//! `--copy-back`, the same with `write`; `--csv-baseline`; `--seam-rules`), so no bench code is
//! linked into the shipped binaries.

#[path = "../../tests/support/mod.rs"]
mod support;

mod alloc_count;
mod corpus;
mod gen;
mod refcmds;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::splunkd::Splunkd;

const TIMEOUT: Duration = Duration::from_secs(600);

struct Config {
    rows: u64,
    chunk_rows: u64,
    peer_rows: u64,
    startup_runs: usize,
    peer_startup_runs: usize,
    rss_short: u64,
    rss_long: u64,
    repeats: usize,
    python: Option<PathBuf>,
    seed: u64,
}

impl Config {
    fn from_args(args: &[String]) -> Config {
        let mut c = Config {
            rows: 1_000_000,
            chunk_rows: 50_000,
            peer_rows: 1_000_000,
            startup_runs: 100,
            peer_startup_runs: 20,
            rss_short: 100_000,
            rss_long: 2_000_000,
            repeats: 5,
            python: std::env::var_os("NETDISCOVER_BENCH_PYTHON").map(PathBuf::from),
            seed: 0x5eed_2026,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut num = || -> u64 {
                it.next()
                    .and_then(|v| v.replace('_', "").parse().ok())
                    .unwrap_or_else(|| panic!("{a} needs a number"))
            };
            match a.as_str() {
                "--rows" => c.rows = num(),
                "--chunk-rows" => c.chunk_rows = num(),
                "--peer-rows" => c.peer_rows = num(),
                "--startup-runs" => c.startup_runs = num() as usize,
                "--rss-long" => c.rss_long = num(),
                "--repeats" => c.repeats = num() as usize,
                "--seed" => c.seed = num(),
                _ => {}
            }
        }
        c
    }
}

/// One contender's run over the request stream.
struct Run {
    rows: u64,
    in_bytes: u64,
    out_bytes: u64,
    /// The largest reply body: with many rules matching, a reply outgrows its request.
    largest_reply: u64,
    wall: Duration,
    peak_rss_kib: u64,
    /// CPU the command used between the first execute and its last reply, when readable.
    cpu_ns: Option<u64>,
    /// Rows annotated with a detection, by rule: (netstat, netsh); `None` when the reply has no
    /// `detection` column.
    hits: Option<(u64, u64)>,
    /// Rows annotated with any detection (when hits are counted).
    annotated: u64,
}

impl Run {
    fn rows_per_s(&self) -> f64 {
        self.rows as f64 / self.wall.as_secs_f64()
    }
    fn mb_per_s(&self) -> f64 {
        self.in_bytes as f64 / 1e6 / self.wall.as_secs_f64()
    }
}

struct Stream {
    getinfo: Vec<u8>,
    requests: Vec<Arc<Vec<u8>>>,
    rows_per_request: Vec<u64>,
    body_bytes: Vec<u64>,
    netstat: u64,
    netsh: u64,
}

impl Stream {
    fn rows(&self) -> u64 {
        self.rows_per_request.iter().sum()
    }
    fn largest_body(&self) -> u64 {
        self.body_bytes.iter().copied().max().unwrap_or(0)
    }
    /// The first `rows` rows' worth of requests, cycling through the generated chunks (for
    /// streams longer than the generated data); the last one says `finished:true`.
    fn requests_for(&self, rows: u64) -> (Vec<Arc<Vec<u8>>>, u64, u64) {
        let (mut out, mut got, mut bytes) = (Vec::new(), 0, 0);
        let mut i = 0;
        while got < rows {
            let k = i % self.requests.len();
            out.push(Arc::clone(&self.requests[k]));
            got += self.rows_per_request[k];
            bytes += self.body_bytes[k];
            i += 1;
        }
        // Re-encode the last request as finished:true.
        if let Some(last) = out.last_mut() {
            let mut meta = Vec::new();
            let mut body = Vec::new();
            let _ = netdiscover::protocol::read_chunk(&mut &last[..], &mut meta, &mut body);
            *last = Arc::new(gen::execute_request(&body, true));
        }
        (out, got, bytes)
    }
}

fn generate(config: &Config) -> Stream {
    let chunks = config.rows.div_ceil(config.chunk_rows);
    let mut s = Stream {
        getinfo: support::getinfo(&[]),
        requests: Vec::new(),
        rows_per_request: Vec::new(),
        body_bytes: Vec::new(),
        netstat: 0,
        netsh: 0,
    };
    for c in 0..chunks {
        let first = c * config.chunk_rows;
        let rows = config.chunk_rows.min(config.rows - first);
        let g = gen::chunk(config.seed, first, rows);
        s.netstat += g.netstat;
        s.netsh += g.netsh;
        s.body_bytes.push(g.body.len() as u64);
        s.rows_per_request.push(rows);
        s.requests
            .push(Arc::new(gen::execute_request(&g.body, c + 1 == chunks)));
    }
    s
}

/// A command to drive: executable, arguments and additions to its environment.
struct Cmd<'a> {
    exe: &'a Path,
    args: &'a [&'a str],
    env: &'a [(&'a str, &'a OsStr)],
}

/// Drives `cmd` over `requests`; the clock runs from the first execute request to the
/// last reply.
fn drive(
    cmd: &Cmd<'_>,
    getinfo: &[u8],
    requests: &[Arc<Vec<u8>>],
    rows: u64,
    in_bytes: u64,
    count_hits: bool,
) -> Result<Run, String> {
    let mut splunkd =
        Splunkd::spawn_with_env(cmd.exe, cmd.args, cmd.env, TIMEOUT).map_err(|e| e.to_string())?;
    splunkd
        .request(getinfo, &[])
        .map_err(|e| format!("getinfo: {e}"))?;
    let mut out_bytes = 0;
    let mut largest_reply = 0;
    let mut hits: Option<(u64, u64)> = None;
    let start = Instant::now();
    let mut kept = Vec::new();
    let cpu_start = splunkd.cpu_ns();
    for (n, request) in requests.iter().enumerate() {
        let reply = splunkd
            .request_bytes(Arc::clone(request))
            .map_err(|e| format!("execute {}: {e}", n + 1))?;
        if let Some(error) = reply.error() {
            return Err(format!("execute {}: command error: {error}", n + 1));
        }
        out_bytes += reply.body.len() as u64;
        largest_reply = largest_reply.max(reply.body.len() as u64);
        if count_hits {
            kept.push(reply);
        } else {
            splunkd.recycle(reply);
        }
    }
    let wall = start.elapsed();
    let cpu_ns = splunkd
        .cpu_ns()
        .zip(cpu_start)
        .map(|(end, start)| end.saturating_sub(start));
    let end = splunkd.finish();
    if end.exit_code != Some(0) {
        return Err(format!(
            "exit {:?}: {}",
            end.exit_code,
            String::from_utf8_lossy(&end.stderr)
        ));
    }
    let mut annotated = 0;
    for reply in &kept {
        let (n, h, any) = count_detections(&reply.body);
        if n.is_some() {
            let acc = hits.get_or_insert((0, 0));
            acc.0 += h.0;
            acc.1 += h.1;
            annotated += any;
        }
    }
    Ok(Run {
        rows,
        in_bytes,
        out_bytes,
        largest_reply,
        wall,
        peak_rss_kib: end.max_rss_kib,
        cpu_ns,
        hits,
        annotated,
    })
}

/// Rows whose `detection` names each seed rule (any value of a multivalue field), and rows
/// with any detection.
fn count_detections(body: &[u8]) -> (Option<usize>, (u64, u64), u64) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body);
    let mut record = csv::ByteRecord::new();
    if !reader.read_byte_record(&mut record).unwrap_or(false) {
        return (None, (0, 0), 0);
    }
    let Some(col) = record.iter().position(|f| f == b"detection") else {
        return (None, (0, 0), 0);
    };
    let (mut a, mut b, mut any) = (0, 0, 0);
    while reader.read_byte_record(&mut record).unwrap_or(false) {
        let v = record.get(col).unwrap_or(b"");
        let has = |needle: &[u8]| v.windows(needle.len()).any(|w| w == needle);
        a += has(b"Network Connection Discovery With Netstat") as u64;
        b += has(b"Windows Proxy Via Netsh") as u64;
        any += u64::from(!v.is_empty());
    }
    (Some(col), (a, b), any)
}

/// The value after `name` in `args`.
fn option_value(args: &[String], name: &str) -> Option<String> {
    args.windows(2)
        .find(|pair| pair[0] == name)
        .map(|pair| pair[1].clone())
}

/// `--only NAME,NAME [--command-args "threads=1 ..."]`: the named contenders alone (`corpus`,
/// `netdiscover`, `copy limit`, ...), each run printed, for profiling and A/B runs; the
/// command arguments go into every contender's getinfo.
fn only_contenders(
    only: &str,
    contenders: &[(Cmd<'_>, &str)],
    stream: &Stream,
    config: &Config,
    rows: u64,
    in_bytes: u64,
    args: &[String],
) {
    let command_args = option_value(args, "--command-args").unwrap_or_default();
    let command_args: Vec<&str> = command_args.split_whitespace().collect();
    let getinfo = support::getinfo(&command_args);
    let (requests, _, _) = stream.requests_for(rows);
    let wanted: Vec<&str> = only.split(',').map(str::trim).collect();
    for repeat in 0..config.repeats.max(1) {
        for (command, name) in contenders.iter().filter(|(_, n)| wanted.contains(n)) {
            match drive(command, &getinfo, &requests, rows, in_bytes, false) {
                Ok(run) => println!(
                    "{repeat} {name:<20} {:>9.0} rows/s  CPU {:>5} ns/row  peak RSS {} KiB",
                    run.rows_per_s(),
                    run.cpu_ns.map_or("?".into(), |ns| (ns / rows).to_string()),
                    run.peak_rss_kib
                ),
                Err(e) => println!("{repeat} {name}: {e}"),
            }
        }
    }
}

/// Median process start → getinfo reply latency.
fn startup_median(
    exe: &Path,
    args: &[&str],
    env: &[(&str, &OsStr)],
    runs: usize,
) -> Result<Duration, String> {
    let getinfo = support::getinfo(&[]);
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let mut s = Splunkd::spawn_with_env(exe, args, env, TIMEOUT).map_err(|e| e.to_string())?;
        s.request(&getinfo, &[]).map_err(|e| e.to_string())?;
        times.push(start.elapsed());
        let end = s.finish();
        if end.exit_code != Some(0) {
            return Err(format!("exit {:?}", end.exit_code));
        }
    }
    times.sort();
    Ok(times[times.len() / 2])
}

/// How fast the driver's own framing moves the stream (memory only, no pipe, no child).
fn driver_ceiling(stream: &Stream) -> f64 {
    let (mut meta, mut body) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut rows = 0;
    for _ in 0..3 {
        for (r, n) in stream.requests.iter().zip(&stream.rows_per_request) {
            let _ = netdiscover::protocol::read_chunk(&mut &r[..], &mut meta, &mut body);
            let copy = netdiscover::protocol::encode_chunk(&meta, &body);
            std::hint::black_box(&copy);
            rows += n;
        }
    }
    rows as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--copy-back") {
        std::process::exit(refcmds::copy_back());
    }
    if args.iter().any(|a| a == "--copy-back-spliced") {
        std::process::exit(refcmds::copy_back_spliced());
    }
    if args.iter().any(|a| a == "--csv-baseline") {
        std::process::exit(refcmds::csv_baseline());
    }
    if args.iter().any(|a| a == "--seam-rules") {
        std::process::exit(refcmds::seam_rules());
    }
    if !support::bench_requested("scp") {
        return;
    }
    let config = Config::from_args(&args);
    if args.iter().any(|a| a == "--in-process") {
        let corpus = corpus::dir(&args);
        refcmds::in_process(
            &gen::chunk(config.seed, 0, config.chunk_rows).body,
            corpus.as_deref(),
        );
        return;
    }
    let me = std::env::current_exe().expect("current_exe");
    let netdiscover = support::netdiscover_exe();

    let t = Instant::now();
    let stream = generate(&config);
    let rows = stream.rows();
    let in_bytes: u64 = stream.body_bytes.iter().sum();
    println!(
        "generated {rows} rows in {} chunks ({:.1} MB of CSV, {:.0} bytes/row; {} netstat and {} netsh positives) in {:.1}s",
        stream.requests.len(),
        in_bytes as f64 / 1e6,
        in_bytes as f64 / rows as f64,
        stream.netstat,
        stream.netsh,
        t.elapsed().as_secs_f64()
    );
    println!("machine: {} cores, {}", cores(), memory());

    let (requests, _, _) = stream.requests_for(rows);
    let fail = |what: &str, e: String| -> ! {
        eprintln!("{what} failed: {e}");
        std::process::exit(1)
    };
    // The fast contenders run interleaved (copy by write, csv, netdiscover, seam, copy limit, …) and each keeps
    // its best run, so a burst of load from elsewhere does not land on one contender only.
    let me_str = me.clone();
    // NETDISCOVER_BENCH_COMPARE=<another netdiscover binary> adds it as a fifth contender, for
    // A/B comparisons of a change within one run.
    let compare = std::env::var_os("NETDISCOVER_BENCH_COMPARE").map(PathBuf::from);
    // The full ESCU corpus loaded beside the shipped rules, as `NETDISCOVER_RULES_DIR` loads it
    // in splunkd's environment (issue 14's `corpus` contender).
    let corpus = corpus::dir(&args);
    let corpus_env: Vec<(&str, &OsStr)> = corpus
        .iter()
        .map(|dir| (netdiscover::rules::RULES_DIR_ENV, dir.as_os_str()))
        .collect();
    let no_env: &[(&str, &OsStr)] = &[];
    let cmd = |exe, args, env| Cmd { exe, args, env };
    let mut contenders: Vec<(Cmd, &str)> = vec![
        (cmd(&me_str, &["--copy-back"], no_env), "copy-back by write"),
        (cmd(&me_str, &["--csv-baseline"], no_env), "csv baseline"),
        (cmd(&netdiscover, &[], no_env), "netdiscover"),
        (cmd(&me_str, &["--seam-rules"], no_env), "seam reference"),
        (cmd(&me_str, &["--copy-back-spliced"], no_env), "copy limit"),
    ];
    if corpus.is_some() {
        contenders.push((cmd(&netdiscover, &[], &corpus_env), "corpus"));
    }
    if let Some(other) = &compare {
        contenders.push((cmd(other, &[], no_env), "compared build"));
    }
    if let Some(only) = option_value(&args, "--only") {
        only_contenders(&only, &contenders, &stream, &config, rows, in_bytes, &args);
        return;
    }
    let mut best: Vec<Option<Run>> = (0..contenders.len()).map(|_| None).collect();
    for _ in 0..config.repeats.max(1) {
        for (slot, (command, name)) in best.iter_mut().zip(&contenders) {
            let run = drive(command, &stream.getinfo, &requests, rows, in_bytes, false)
                .unwrap_or_else(|e| fail(name, e));
            if slot.as_ref().is_none_or(|b| run.wall < b.wall) {
                *slot = Some(run);
            }
        }
    }
    let mut best: Vec<(&str, Run)> = contenders
        .iter()
        .zip(best)
        .map(|((_, name), run)| (*name, run.expect("at least one run")))
        .collect();
    let mut take = |name: &str| {
        best.iter()
            .position(|(n, _)| *n == name)
            .map(|i| best.remove(i).1)
    };
    let (written, csv, nd, seam) = (
        take("copy-back by write").expect("copy-back by write"),
        take("csv baseline").expect("csv"),
        take("netdiscover").expect("netdiscover"),
        take("seam reference").expect("seam"),
    );
    // The limit netdiscover is measured against sends its replies the way netdiscover does
    // (spliced into the pipe), so it stays a limit.
    let copy = take("copy limit").expect("copy limit");
    let corpus_run = take("corpus");
    let compared = take("compared build");
    let seam_checked = drive(
        &Cmd {
            exe: &me,
            args: &["--seam-rules"],
            env: no_env,
        },
        &stream.getinfo,
        &requests,
        rows,
        in_bytes,
        true,
    )
    .unwrap_or_else(|e| fail("seam reference", e));
    let nd_checked = drive(
        &Cmd {
            exe: &netdiscover,
            args: &[],
            env: no_env,
        },
        &stream.getinfo,
        &requests,
        rows,
        in_bytes,
        true,
    )
    .unwrap_or_else(|e| fail("netdiscover", e));
    let nd_label = match nd_checked.hits {
        Some(_) => "netdiscover (annotate, all shipped rules)",
        None => "netdiscover (PASSTHROUGH: rules not wired in yet)",
    };

    let peer_script = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/bench/peer/bin/netdiscover_peer.py"
    ));
    let peer = config.python.as_ref().map(|python| {
        let peer_rows = config.peer_rows.min(rows);
        let (reqs, prow, pbytes) = stream.requests_for(peer_rows);
        let script = peer_script.to_string_lossy().into_owned();
        drive(
            &Cmd {
                exe: python,
                args: &[&script],
                env: no_env,
            },
            &stream.getinfo,
            &reqs,
            prow,
            pbytes,
            true,
        )
        .unwrap_or_else(|e| fail("splunklib peer", e))
    });

    let (short_reqs, short_rows, short_bytes) = stream.requests_for(config.rss_short);
    let (long_reqs, long_rows, long_bytes) = stream.requests_for(config.rss_long);
    let rss_short = drive(
        &Cmd {
            exe: &netdiscover,
            args: &[],
            env: no_env,
        },
        &stream.getinfo,
        &short_reqs,
        short_rows,
        short_bytes,
        false,
    )
    .unwrap_or_else(|e| fail("netdiscover rss short", e));
    let rss_long = drive(
        &Cmd {
            exe: &netdiscover,
            args: &[],
            env: no_env,
        },
        &stream.getinfo,
        &long_reqs,
        long_rows,
        long_bytes,
        false,
    )
    .unwrap_or_else(|e| fail("netdiscover rss long", e));

    let startup = startup_median(&netdiscover, &[], no_env, config.startup_runs)
        .unwrap_or_else(|e| fail("startup", e));
    let peer_startup = config.python.as_ref().map(|python| {
        let script = peer_script.to_string_lossy().into_owned();
        startup_median(python, &[&script], no_env, config.peer_startup_runs)
            .unwrap_or_else(|e| fail("peer startup", e))
    });
    let ceiling = driver_ceiling(&stream);

    // Report.
    println!();
    println!(
        "{:<52} {:>12} {:>9} {:>10} {:>9} {:>12}",
        "contender (same driver, same bytes)", "rows/s", "MB/s", "wall s", "peak RSS", "CPU ns/row"
    );
    let line = |name: &str, r: &Run| {
        let cpu = r.cpu_ns.map_or("-".to_string(), |ns| {
            format!("{:.0}", ns as f64 / r.rows as f64)
        });
        println!(
            "{:<52} {:>12.0} {:>9.1} {:>10.3} {:>6} MiB {:>12}",
            name,
            r.rows_per_s(),
            r.mb_per_s(),
            r.wall.as_secs_f64(),
            r.peak_rss_kib / 1024,
            cpu
        );
    };
    line("copy limit (body back unparsed, spliced reply)", &copy);
    line("copy-back by write() (no splice)", &written);
    line("csv crate, ByteRecord reuse, no matching", &csv);
    line(nd_label, &nd);
    line(
        "seam reference: seed rules via protocol::RowProcessor",
        &seam,
    );
    if let Some(run) = &corpus_run {
        line("netdiscover + ESCU corpus (annotate)", run);
    }
    if let (Some(path), Some(run)) = (&compare, &compared) {
        line(&format!("compared build {}", path.display()), run);
    }
    if let Some(p) = &peer {
        line(&format!("splunklib peer ({} rows)", p.rows), p);
    }
    println!(
        "{:<52} {:>12.0}",
        "driver framing ceiling (in memory)", ceiling
    );
    println!(
        "reply bytes: copy {:.1} MB, netdiscover {:.1} MB",
        copy.out_bytes as f64 / 1e6,
        nd.out_bytes as f64 / 1e6
    );

    println!();
    println!(
        "{:<44} {:>22} {:>24} {:>6}",
        "figure", "measured", "target", "result"
    );
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let ratio = nd.rows_per_s() / copy.rows_per_s();
    println!(
        "{:<44} {:>21.1}% {:>24} {:>6}",
        "netdiscover / copy limit (rows/s)",
        ratio * 100.0,
        ">= 70%",
        verdict(ratio >= 0.70)
    );
    println!(
        "{:<44} {:>21.1}% {:>24} {:>6}",
        "netdiscover / copy-back by write() (rows/s)",
        nd.rows_per_s() / written.rows_per_s() * 100.0,
        "(context)",
        ""
    );
    if let Some(run) = &compared {
        println!(
            "{:<44} {:>21.1}% {:>24} {:>6}",
            "compared build / copy limit (rows/s)",
            run.rows_per_s() / copy.rows_per_s() * 100.0,
            "(context)",
            ""
        );
    }
    if let Some(p) = &peer {
        let x = nd.rows_per_s() / p.rows_per_s();
        println!(
            "{:<44} {:>21.1}x {:>24} {:>6}",
            "netdiscover / splunklib peer (rows/s)",
            x,
            ">= 70x",
            verdict(x >= 70.0)
        );
        let y = seam.rows_per_s() / p.rows_per_s();
        println!(
            "{:<44} {:>21.1}x {:>24} {:>6}",
            "seam reference / splunklib peer (rows/s)",
            y,
            ">= 70x",
            verdict(y >= 70.0)
        );
        let expected = (stream.netstat, stream.netsh);
        match p.hits {
            Some(h) if p.rows == rows => println!(
                "{:<44} {:>22} {:>24} {:>6}",
                "peer hits (netstat, netsh) vs generator",
                format!("{h:?}"),
                format!("{expected:?}"),
                verdict(h == expected)
            ),
            _ => {}
        }
    } else {
        println!("splunklib peer: SKIPPED (set NETDISCOVER_BENCH_PYTHON or run bench/run.sh)");
    }
    if let Some(h) = nd_checked.hits {
        let expected = (stream.netstat, stream.netsh);
        println!(
            "{:<44} {:>22} {:>24} {:>6}",
            "netdiscover hits (netstat, netsh)",
            format!("{h:?}"),
            format!("{expected:?}"),
            verdict(h == expected)
        );
    }
    if let Some(h) = seam_checked.hits {
        let expected = (stream.netstat, stream.netsh);
        println!(
            "{:<44} {:>22} {:>24} {:>6}",
            "seam reference hits (netstat, netsh)",
            format!("{h:?}"),
            format!("{expected:?}"),
            verdict(h == expected)
        );
        let r = seam.rows_per_s() / copy.rows_per_s();
        println!(
            "{:<44} {:>21.1}% {:>24} {:>6}",
            "seam reference / copy limit (rows/s)",
            r * 100.0,
            ">= 70%",
            verdict(r >= 0.70)
        );
    }
    let flat = rss_long.peak_rss_kib as f64 <= rss_short.peak_rss_kib as f64 * 1.10 + 1024.0;
    println!(
        "{:<44} {:>22} {:>24} {:>6}",
        format!("peak RSS {} vs {} rows", short_rows, long_rows),
        format!("{} / {} KiB", rss_short.peak_rss_kib, rss_long.peak_rss_kib),
        "flat (<= +10% +1 MiB)",
        verdict(flat)
    );
    let chunk_kib = stream.largest_body() / 1024;
    let within = rss_long.peak_rss_kib <= 3 * chunk_kib;
    println!(
        "{:<44} {:>22} {:>24} {:>6}",
        "peak RSS vs largest chunk",
        format!(
            "{:.2}x of {} KiB",
            rss_long.peak_rss_kib as f64 / chunk_kib as f64,
            chunk_kib
        ),
        "<= 3x",
        verdict(within)
    );
    println!(
        "{:<44} {:>19.2} ms {:>24} {:>6}",
        format!("start -> getinfo reply, median of {}", config.startup_runs),
        startup.as_secs_f64() * 1e3,
        "< 5 ms",
        verdict(startup < Duration::from_millis(5))
    );
    if let Some(ps) = peer_startup {
        println!(
            "{:<44} {:>19.2} ms {:>24} {:>6}",
            format!(
                "peer start -> getinfo reply, median of {}",
                config.peer_startup_runs
            ),
            ps.as_secs_f64() * 1e3,
            "(context)",
            ""
        );
    }
    let driver_ok = ceiling > 2.0 * copy.rows_per_s();
    println!(
        "{:<44} {:>19.1} x  {:>23} {:>6}",
        "driver framing ceiling / copy limit",
        ceiling / copy.rows_per_s(),
        "> 2x (not the bottleneck)",
        verdict(driver_ok)
    );
    match (&corpus, &corpus_run) {
        (Some(dir), Some(run)) => corpus::report(&corpus::Context {
            dir,
            env: &corpus_env,
            netdiscover: &netdiscover,
            stream: &stream,
            config: &config,
            best: run,
            seeds: &nd,
            copy: &copy,
        }),
        _ => println!("corpus contender: SKIPPED ({})", corpus::ABSENT),
    }
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0)
}

fn memory() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        })
        .map(|kb| format!("MemTotal {kb}"))
        .unwrap_or_else(|| "memory unknown".into())
}
