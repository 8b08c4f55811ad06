//! `netdiscover lint [RULES_DIR...]`: checks the detections' fields against the CIM
//! Endpoint.Processes data set and what their searches output, the fields ES reads from
//! their results, and the metadata ES needs; Sigma rules' metadata, fields and reach per data
//! source (see `rules::lint` and docs/testing-and-lint.md).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Parser;

use crate::ingest;
use crate::rules::lint::{lint_dirs, DataSourceFields, LintOptions, LintReport, Severity};
use crate::rules::{self};

/// The lint subcommand's usage as `--help` shows it.
pub const HELP: &str = "\
LINT: netdiscover lint [RULES_DIR...] [OPTIONS]
  Checks every detection below RULES_DIR (default: the app's rules) without Splunk:
  - every field the search reads (tstats predicate, aggregations and by clause, later
    stages) against the CIM Endpoint.Processes fields and what earlier stages output
    (errors, with the byte position and a \"did you mean\");
  - risk-message $tokens$ and risk/threat object fields the search does not output, or that
    a data source of the rule leaves empty with no fillnull to guard them (warnings);
  - metadata ES needs: id present, a UUID and unique, known type, scores in range, risk
    object types (errors).
  Sigma rules (told apart by content) get: id present, a UUID and unique across ESCU and
  Sigma, a Sigma level and status, attack.tNNNN tags that are technique ids (errors); every
  field a detection item reads one the process_creation mapping carries (warnings, with the
  line and a \"did you mean\"); a note per data source the rule cannot match, an error when
  it can match none.

  --format FORMAT     text (default) or json
  --deny-warnings     warnings fail the run too
  --notes             also print notes (searches the compiler does not follow to the end,
                      Sigma rules refused or out of scope, data sources a rule cannot match)
  -h, --help          this text

  Exit status: 0 no error, 1 an error (or a warning with --deny-warnings), 2 bad arguments
  or a missing directory.
";

#[derive(Parser, Debug)]
#[command(name = "netdiscover lint", override_help = HELP)]
struct Args {
    rule_dirs: Vec<PathBuf>,
    #[arg(long, default_value = "text", value_parser = ["text", "json"])]
    format: String,
    #[arg(long = "deny-warnings")]
    deny_warnings: bool,
    #[arg(long)]
    notes: bool,
}

pub const EXIT_CLEAN: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

/// Which fields each data source fills, from the ingest readers' mapping tables.
pub fn data_source_fields() -> DataSourceFields {
    let mut known = DataSourceFields::default();
    for (name, fields) in ingest::fields_by_data_source() {
        known.insert(name, fields.iter().map(|f| f.name().to_string()));
    }
    known
}

/// Lints `dirs` (the app's rule places when empty).
pub fn lint(dirs: &[PathBuf]) -> LintReport {
    let dirs = if dirs.is_empty() {
        rules::locate(&[]).all()
    } else {
        dirs.to_vec()
    };
    let options = LintOptions {
        data_sources: data_source_fields(),
    };
    lint_dirs(&dirs, &options)
}

/// Runs the lint subcommand; returns the exit code.
pub fn run(args: &[OsString]) -> i32 {
    let args: Args = match super::parse_subcommand("netdiscover lint", args, EXIT_ERROR) {
        Ok(args) => args,
        Err(code) => return code,
    };
    if let Some(missing) = args.rule_dirs.iter().find(|d| !d.is_dir()) {
        eprintln!(
            "netdiscover lint: error: {}: no such directory",
            missing.display()
        );
        return EXIT_ERROR;
    }
    let report = lint(&args.rule_dirs);
    if args.format == "json" {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.json()).unwrap_or_default()
        );
    } else {
        print!("{}", report.text(args.notes));
    }
    let failing = report.count(Severity::Error)
        + if args.deny_warnings {
            report.count(Severity::Warning)
        } else {
            0
        };
    if failing > 0 {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}
