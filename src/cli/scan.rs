//! `netdiscover scan PATH...`: the rules over exported telemetry, without Splunk.

mod collect;
mod detector;
mod output;
mod paths;
mod pipeline;
mod summary;
mod work;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Parser;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ingest::Format;
use collect::Collector;
use output::{OutputFormat, Render, Writer};
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
    let stdout = std::io::stdout().lock();
    let show_progress = !args.no_progress && std::io::stderr().is_terminal();
    let loaded = detector::load(&args.rules);
    let render = Render::new(args.output, loaded.detector.rule_names());
    let options = ScanOptions {
        format,
        all: args.all,
        render: render.clone(),
        show_progress,
        threads: args.threads.map(|n| n as usize).unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
        }),
    };
    let mut writer = Writer::new(std::io::BufWriter::new(stdout), render);
    let outcome = scan(&args.paths, &options, loaded, &mut writer);
    if let Err(e) = writer.finish() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("netdiscover scan: cannot write output: {e}");
            return EXIT_ERROR;
        }
    }
    eprint!("{}", outcome.summary.render());
    if outcome.errors > 0 || (args.strict && outcome.summary.malformed > 0) {
        EXIT_ERROR
    } else if outcome.summary.matched_rows > 0 {
        EXIT_MATCH
    } else {
        EXIT_NO_MATCH
    }
}

struct ScanOptions {
    format: Option<Format>,
    all: bool,
    /// How found rows are rendered (by the thread that found them).
    render: Render,
    show_progress: bool,
    /// Threads that read and match (1: everything on the calling thread).
    threads: usize,
}

struct Outcome {
    summary: Summary,
    /// Problems that make the exit status 2 (already reported on stderr).
    errors: u64,
}

/// Scans every file `args` name and writes what it finds; returns the summary.
fn scan<W: Write>(
    args: &[PathBuf],
    options: &ScanOptions,
    loaded: detector::Loaded,
    writer: &mut Writer<W>,
) -> Outcome {
    let mut errors = 0u64;
    for warning in &loaded.warnings {
        eprintln!("netdiscover scan: warning: {warning}");
    }
    for error in loaded.errors.iter().chain(&loaded.unavailable) {
        eprintln!("netdiscover scan: error: {error}");
        errors += 1;
    }
    let (files, problems) = paths::expand(args);
    for problem in problems {
        eprintln!("netdiscover scan: error: {problem}");
        errors += 1;
    }
    let total_bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let progress = progress_bar(
        options.show_progress && total_bytes > PROGRESS_THRESHOLD,
        total_bytes,
    );
    let mut detector = loaded.detector;
    let rules = detector.rule_names().len();
    let mut collector = Collector::new(writer, &files, progress.clone(), rules, errors);
    pipeline::run(
        &files,
        options,
        &mut *detector,
        &progress,
        &mut collector,
        options.threads,
    );
    collector.finish(&*detector, loaded.unavailable)
}

fn progress_bar(visible: bool, total: u64) -> ProgressBar {
    if !visible {
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
