//! `netdiscover scan PATH...`: the rules over exported telemetry, without Splunk.

mod collect;
mod detector;
mod output;
mod paths;
mod pipeline;
mod summary;
mod work;

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::OnceLock;

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ingest::Format;
use collect::Collector;
use detector::Ready;
use output::{OutputFormat, Writer};
use pipeline::Load;
use summary::Summary;

/// The scan subcommand's usage as `--help` shows it.
pub const HELP: &str = "\
SCAN: netdiscover scan [OPTIONS] PATH...
  Reads process-creation events from files, directories (recursively; hidden files, *.md and
  *.txt inside directories are passed over) and globs, normalises them to CIM
  Endpoint.Processes rows and runs every loaded rule over them.
  Formats (detected from content; .gz read transparently): XmlWinEventLog XML (UTF-8/UTF-16),
  EVTX, publisher JSON (NDJSON), CrowdStrike ProcessRollup2 NDJSON, CSV with CIM columns.

  --rules DIR         also load the rules in DIR (repeatable; the app's rules always load)
  --format FORMAT     read every file as FORMAT: xml, evtx, json, crowdstrike, csv
  --output FORMAT     table (default), csv, json or ndjson, on stdout
  --all               write every process event, not only matching ones
  --strict            exit 2 when any record is malformed
  --no-progress       never show the progress bar
  --threads N         read and match on N threads (default: one per core); files, and the
                      chunks of an EVTX file, are read in parallel, the output order is the same
  --no-bind           leave the threads' CPUs to the scheduler (by default each thread keeps a
                      CPU of its own when there are enough)
  -h, --help          this text

  Malformed records are reported on stderr with file and byte offset (or record number for
  EVTX and .gz) and counted; they never stop the scan. The summary goes to stderr.
  Exit status: 0 no match, 1 at least one match, 2 error (bad arguments, a file that could
  not be read, no rule loaded, a missing --rules directory; with --strict also malformed
  records). A single rule that fails to load is only a warning.
";

#[derive(Parser, Debug)]
#[command(name = "netdiscover scan", override_help = HELP)]
struct Args {
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    output: OutputFormat,
    #[arg(long)]
    all: bool,
    #[arg(long)]
    strict: bool,
    #[arg(long = "no-progress")]
    no_progress: bool,
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=256))]
    threads: Option<u64>,
    #[arg(long = "no-bind")]
    no_bind: bool,
}

/// Exit statuses (documented in HELP and the README).
pub const EXIT_NO_MATCH: i32 = 0;
pub const EXIT_MATCH: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

/// Malformed records printed individually; beyond this they are only counted.
const MALFORMED_PRINT_LIMIT: u64 = 100;

/// Work above this many bytes gets a progress bar (when stderr is a terminal).
const PROGRESS_THRESHOLD: u64 = 16 * 1024 * 1024;

/// Runs the scan subcommand; returns the exit code.
pub fn run(args: &[OsString]) -> i32 {
    let argv = std::iter::once(OsString::from("netdiscover scan")).chain(args.iter().cloned());
    let args = match Args::try_parse_from(argv) {
        Ok(args) => args,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                EXIT_ERROR
            } else {
                EXIT_NO_MATCH
            };
        }
    };
    let format = match args
        .format
        .as_deref()
        .map(|name| (name, Format::from_name(name)))
    {
        None => None,
        Some((_, Some(f))) => Some(f),
        Some((name, None)) => {
            eprintln!(
                "netdiscover scan: unknown --format {name:?}; expected one of: {}",
                Format::names()
            );
            return EXIT_ERROR;
        }
    };
    let options = ScanOptions {
        format,
        all: args.all,
        show_progress: !args.no_progress && std::io::stderr().is_terminal(),
        threads: args
            .threads
            .map_or_else(crate::rules::cores, |n| n as usize),
        bind: !args.no_bind,
    };
    // The process ends after the scan: what loading the rules parsed and no longer needs is
    // left to the process's end instead of freed on the workers' cores meanwhile.
    crate::rules::never_free_loading();
    let rules = OnceLock::new();
    let load = || load_rules(&args.rules, args.output, options.threads);
    let (outcome, writer) = scan(&args.paths, &options, &rules, &load);
    if let Err(e) = writer.finish() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("netdiscover scan: cannot write output: {e}");
            return EXIT_ERROR;
        }
    }
    eprint!("{}", outcome.summary.render());
    // The process ends here: freeing the compiled rules piece by piece would only delay it
    // (a few milliseconds with the ESCU corpus, more with the Sigma rules).
    std::mem::forget(rules);
    if outcome.errors > 0 || (args.strict && outcome.summary.malformed > 0) {
        EXIT_ERROR
    } else if outcome.summary.matched_rows > 0 {
        EXIT_MATCH
    } else {
        EXIT_NO_MATCH
    }
}

/// Loads the rules. Should loading ever panic, the scan stops with an error instead of
/// going on without them.
fn load_rules(extra: &[PathBuf], output: OutputFormat, threads: usize) -> Ready {
    let loaded = std::panic::catch_unwind(|| Ready::load(extra, output, threads));
    match loaded {
        Ok(ready) => ready,
        Err(_) => {
            eprintln!("netdiscover scan: error: the rules could not be loaded");
            std::process::exit(EXIT_ERROR);
        }
    }
}

struct ScanOptions {
    format: Option<Format>,
    all: bool,
    show_progress: bool,
    /// Threads that read and match (1: everything on the calling thread).
    threads: usize,
    /// Each thread on a CPU of its own, when there are enough (`pipeline`).
    bind: bool,
}

struct Outcome {
    summary: Summary,
    /// Problems that make the exit status 2 (already reported on stderr).
    errors: u64,
}

/// Not locked: whichever worker applies a job writes its rows (the buffer takes the lock
/// only to flush).
type Stdout = std::io::BufWriter<std::io::Stdout>;

/// Scans every file `args` name and writes what it finds, with the rules `load` loads (kept
/// in `rules`); returns the summary and the writer to close.
fn scan(
    args: &[PathBuf],
    options: &ScanOptions,
    rules: &OnceLock<Ready>,
    load: &Load<'_>,
) -> (Outcome, Writer<Stdout>) {
    let (files, problems) = paths::expand(args);
    let progress = progress_bar(options.show_progress, &files);
    let begin = |ready: &Ready| {
        let errors = report_loading(ready, &problems);
        let stdout = std::io::BufWriter::new(std::io::stdout());
        let writer = Writer::new(stdout, ready.render.clone());
        let rules = ready.detector().rule_names().len();
        Collector::new(writer, &files, progress.clone(), rules, errors).noting_sources(ready.fork())
    };
    let collector = pipeline::run(&files, options, rules, load, &progress, &begin);
    let ready = rules.wait();
    collector.finish(&**ready.detector(), ready.unavailable.clone())
}

/// Prints what loading the rules and listing the paths reported, before anything else;
/// returns how many of those are errors.
fn report_loading(ready: &Ready, path_problems: &[String]) -> u64 {
    let mut errors = 0u64;
    for warning in &ready.warnings {
        eprintln!("netdiscover scan: warning: {warning}");
    }
    for error in ready.errors.iter().chain(&ready.unavailable) {
        eprintln!("netdiscover scan: error: {error}");
        errors += 1;
    }
    for problem in path_problems {
        eprintln!("netdiscover scan: error: {problem}");
        errors += 1;
    }
    errors
}

/// A progress bar over `files`' bytes, drawn when `wanted` and they are many; the files'
/// sizes are only asked for then.
fn progress_bar(wanted: bool, files: &[PathBuf]) -> ProgressBar {
    if !wanted {
        return ProgressBar::hidden();
    }
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    if total <= PROGRESS_THRESHOLD {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {elapsed} {wide_msg}")
    {
        bar.set_style(style);
    }
    bar
}
