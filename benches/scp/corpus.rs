//! The `corpus` contender (issue 14): `| netdiscover` with the whole ESCU corpus
//! (`../shared/escu/corpus`, loaded through `NETDISCOVER_RULES_DIR` beside the shipped rules),
//! over the same rows and driver as the other contenders. Its figures are reported against the
//! copy limit and the 2-rule run measured in the same run, with what loading the corpus costs:
//! parse + compile time, start → getinfo, the compiled rule set's heap and peak RSS.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use netdiscover::rules::{RuleSet, Sources};

use super::{drive, startup_median, Cmd, Config, Run, Stream};

/// Why the contender is skipped.
pub const ABSENT: &str = "../shared/escu/corpus is absent (or pass --corpus DIR)";

/// `--corpus DIR`, else `../shared/escu/corpus` beside the repository; `None` when absent.
pub fn dir(args: &[String]) -> Option<PathBuf> {
    let explicit = super::option_value(args, "--corpus").map(PathBuf::from);
    let dir = explicit.unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/escu/corpus"
        ))
    });
    dir.is_dir().then_some(dir)
}

/// What the report needs from the main run.
pub struct Context<'a> {
    pub dir: &'a Path,
    pub env: &'a [(&'a str, &'a OsStr)],
    pub netdiscover: &'a Path,
    pub stream: &'a Stream,
    pub config: &'a Config,
    /// The corpus contender's best run.
    pub best: &'a Run,
    /// The 2-rule netdiscover's best run.
    pub seeds: &'a Run,
    pub copy: &'a Run,
}

/// The shipped rule places plus the corpus, as the binary loads them.
fn places(corpus: &Path) -> Vec<PathBuf> {
    let app = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/app"));
    vec![
        app.join("detections"),
        app.join("macros"),
        corpus.to_path_buf(),
    ]
}

/// Loading the corpus in this process: best-of-5 times and the compiled set's heap.
pub struct LoadFigures {
    pub rules: usize,
    pub warnings: usize,
    pub without_literal: usize,
    pub parse: Duration,
    pub compile: Duration,
    /// Heap bytes the compiled [`RuleSet`] holds once the sources are dropped.
    pub bytes: isize,
}

pub fn load_figures(corpus: &Path) -> LoadFigures {
    let places = places(corpus);
    let mut best: Option<LoadFigures> = None;
    for _ in 0..5 {
        let before = super::alloc_count::live_bytes();
        let mut warnings = Vec::new();
        let t = Instant::now();
        let mut sources = Sources::new();
        for place in &places {
            sources.add_dir(place, &mut warnings);
        }
        let parse = t.elapsed();
        let t = Instant::now();
        let set = RuleSet::compile(&sources, &mut warnings);
        let compile = t.elapsed();
        drop(sources);
        let count = warnings.len();
        drop(warnings);
        let bytes = super::alloc_count::live_bytes() - before;
        let figures = LoadFigures {
            rules: set.len(),
            warnings: count,
            without_literal: set.rules_without_literal().len(),
            parse,
            compile,
            bytes,
        };
        drop(set);
        if best
            .as_ref()
            .is_none_or(|b| figures.parse + figures.compile < b.parse + b.compile)
        {
            best = Some(figures);
        }
    }
    best.expect("five rounds")
}

/// What the report measures beyond the contender's best run.
struct Extra {
    /// The full stream with hits counted.
    checked: Run,
    /// The long stream, for peak RSS.
    long: Run,
    startup: Duration,
    load: LoadFigures,
}

fn measure(ctx: &Context<'_>) -> Extra {
    let fail = |what: &str, e: String| -> ! {
        eprintln!("{what} failed: {e}");
        std::process::exit(1)
    };
    let stream = ctx.stream;
    let cmd = Cmd {
        exe: ctx.netdiscover,
        args: &[],
        env: ctx.env,
    };
    let rows = stream.rows();
    let in_bytes: u64 = stream.body_bytes.iter().sum();
    let (requests, _, _) = stream.requests_for(rows);
    let checked = drive(&cmd, &stream.getinfo, &requests, rows, in_bytes, true)
        .unwrap_or_else(|e| fail("corpus", e));
    let (long_reqs, long_rows, long_bytes) = stream.requests_for(ctx.config.rss_long);
    let long = drive(
        &cmd,
        &stream.getinfo,
        &long_reqs,
        long_rows,
        long_bytes,
        false,
    )
    .unwrap_or_else(|e| fail("corpus rss", e));
    let startup = startup_median(ctx.netdiscover, &[], ctx.env, ctx.config.startup_runs)
        .unwrap_or_else(|e| fail("corpus startup", e));
    Extra {
        checked,
        long,
        startup,
        load: load_figures(ctx.dir),
    }
}

/// Prints the corpus figures with their targets.
pub fn report(ctx: &Context<'_>) {
    let Extra {
        checked,
        long,
        startup,
        load,
    } = measure(ctx);
    let stream = ctx.stream;
    let rows = stream.rows();
    let long_rows = long.rows;

    println!();
    println!(
        "corpus contender: {} rules compiled ({} load warnings) from the shipped rules + {}",
        load.rules,
        load.warnings,
        ctx.dir.display()
    );
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    let best = ctx.best;
    let to_copy = best.rows_per_s() / ctx.copy.rows_per_s();
    let to_seeds = best.rows_per_s() / ctx.seeds.rows_per_s();
    let row = |figure: &str, measured: String, target: &str, result: &str| {
        println!("{figure:<44} {measured:>22} {target:>24} {result:>6}");
    };
    row(
        "corpus rows/s",
        format!("{:.0}", best.rows_per_s()),
        ">= 1,000,000",
        verdict(best.rows_per_s() >= 1e6),
    );
    row(
        "corpus / copy limit (rows/s)",
        format!("{:.1}%", to_copy * 100.0),
        ">= 25%",
        verdict(to_copy >= 0.25),
    );
    row(
        "corpus / 2-rule netdiscover (rows/s)",
        format!("{:.1}%", to_seeds * 100.0),
        "(context)",
        "",
    );
    let cpu = |r: &Run| r.cpu_ns.map_or(f64::NAN, |ns| ns as f64 / r.rows as f64);
    row(
        "command CPU ns/row: corpus vs 2 rules",
        format!("{:.0} vs {:.0}", cpu(best), cpu(ctx.seeds)),
        "(context)",
        "",
    );
    let expected = (stream.netstat, stream.netsh);
    match checked.hits {
        Some(h) => row(
            "corpus hits (netstat, netsh)",
            format!("{h:?}"),
            &format!("{expected:?}"),
            verdict(h == expected),
        ),
        None => row("corpus hits", "no detection column".into(), "", "FAIL"),
    }
    row(
        "corpus: rows annotated by any rule",
        format!("{} of {rows}", checked.annotated),
        "(context)",
        "",
    );
    row(
        "corpus rules without a usable literal",
        format!("{} of {}", load.without_literal, load.rules),
        "(reported)",
        "",
    );
    let load_ms = (load.parse + load.compile).as_secs_f64() * 1e3;
    row(
        "corpus load: parse + compile, best of 5",
        format!(
            "{load_ms:.1} ms ({:.1} + {:.1})",
            load.parse.as_secs_f64() * 1e3,
            load.compile.as_secs_f64() * 1e3
        ),
        "<= 50 ms",
        verdict(load_ms <= 50.0),
    );
    row(
        &format!(
            "corpus start -> getinfo, median of {}",
            ctx.config.startup_runs
        ),
        format!("{:.2} ms", startup.as_secs_f64() * 1e3),
        "< 20 ms",
        verdict(startup < Duration::from_millis(20)),
    );
    let rules_kib = load.bytes.max(0) as u64 / 1024;
    row(
        "compiled rule set (heap)",
        format!("{rules_kib} KiB"),
        "(reported)",
        "",
    );
    let chunk_kib = stream.largest_body() / 1024;
    row(
        &format!("corpus peak RSS over {long_rows} rows"),
        format!("{} KiB", long.peak_rss_kib),
        &format!("<= 3x{chunk_kib} + {rules_kib}"),
        verdict(long.peak_rss_kib <= 3 * chunk_kib + rules_kib),
    );
    // The reply holds each row plus its annotations (ESCU's analytic_story lists run to dozens
    // of names), so with a quarter of the rows matched it is about twice its request, and both
    // are whole in memory at the end of a chunk: SCP v2 sends one reply per request and its
    // header carries the body's length.
    let reply_kib = long.largest_reply / 1024;
    row(
        "corpus peak RSS vs request + reply + rules",
        format!(
            "{:.2}x of {} KiB",
            long.peak_rss_kib as f64 / (chunk_kib + reply_kib + rules_kib) as f64,
            chunk_kib + reply_kib + rules_kib
        ),
        &format!("(context: reply {reply_kib} KiB)"),
        "",
    );
}
