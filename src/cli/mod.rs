//! Command-line front ends: the two executables' entry points, which wire the rooms.
//! `netdiscover` with no arguments and a non-terminal stdin speaks SCP v2 to splunkd
//! ([`command`]); `netdiscover scan` runs the rules offline ([`scan`]); `netdiscover_input` is
//! the modular input ([`run_netdiscover_input`]).

pub mod command;
pub mod coverage;
mod input;
pub mod lint;
mod load_warnings;
pub mod scan;
pub mod test;

pub use input::run_netdiscover_input;

use std::ffi::OsString;
use std::io::IsTerminal;

/// Entry point of the `netdiscover` executable; returns the process exit code.
pub fn run_netdiscover() -> i32 {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let Some(first) = args.first() else {
        if std::io::stdin().is_terminal() {
            print!("{}", help_text());
            return 0;
        }
        return command::run_scp();
    };
    match first.to_str() {
        Some("scan") => scan::run(&args[1..]),
        Some("test") => test::run(&args[1..]),
        Some("lint") => lint::run(&args[1..]),
        Some("coverage") => coverage::run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{}", help_text());
            0
        }
        Some("-V" | "--version") => {
            println!("netdiscover {}", crate::VERSION);
            0
        }
        _ => {
            eprintln!(
                "netdiscover: unknown command {:?}; run `netdiscover --help`",
                first.to_string_lossy()
            );
            2
        }
    }
}

fn help_text() -> String {
    format!(
        "netdiscover {version}: ESCU detections compiled to native matchers\n\n\
         USAGE:\n\
         \x20 netdiscover                 (stdin a pipe) speak Splunk's chunked protocol v2: `| netdiscover`\n\
         \x20 netdiscover scan PATH...    run every rule offline over EVTX/XML/JSON/CSV exports\n\
         \x20 netdiscover test [RULES_DIR...] --data DIR\n\
         \x20                            run the detections' tests on local data (no Splunk)\n\
         \x20 netdiscover lint [RULES_DIR...]\n\
         \x20                            check fields, risk tokens and metadata of the detections\n\
         \x20 netdiscover coverage [--strict] DETECTIONS_DIR [MACROS_DIR...] [--navigator FILE]\n\
         \x20                            which detections compile, what stopped the others, and\n\
         \x20                            every key or block read past (--strict: exit 1 if any);\n\
         \x20                            an ATT&CK Navigator layer marking tested techniques\n\
         \x20 netdiscover --help          this text\n\n\
         {command}\n{scan}\n{test}\n{lint}",
        version = crate::VERSION,
        command = command::HELP,
        scan = scan::HELP,
        test = test::HELP,
        lint = lint::HELP,
    )
}

/// Parses a subcommand's arguments (`name` is how usage messages call it). `Err` holds the
/// exit code after clap printed the help (0) or the error (`error_code`).
pub(crate) fn parse_subcommand<T: clap::Parser>(
    name: &str,
    args: &[OsString],
    error_code: i32,
) -> Result<T, i32> {
    let argv = std::iter::once(OsString::from(name)).chain(args.iter().cloned());
    T::try_parse_from(argv).map_err(|e| {
        let _ = e.print();
        if e.use_stderr() {
            error_code
        } else {
            0
        }
    })
}
