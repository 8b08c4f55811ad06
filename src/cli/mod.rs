//! Command-line front ends: the two executables' entry points, which wire the rooms.
//! `netdiscover` with no arguments and a non-terminal stdin speaks SCP v2 to splunkd
//! ([`command`]); `netdiscover scan` runs the rules offline ([`scan`]); `netdiscover_input` is
//! the modular input ([`run_netdiscover_input`]).

pub mod command;
mod input;
mod load_warnings;
pub mod scan;

pub use input::run_netdiscover_input;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};

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
        Some("coverage") => coverage(&args[1..]),
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
         \x20 netdiscover coverage [--strict] DETECTIONS_DIR [MACROS_DIR...]\n\
         \x20                            which detections compile, what stopped the others, and\n\
         \x20                            every key or block read past (--strict: exit 1 if any)\n\
         \x20 netdiscover --help          this text\n\n\
         {command}\n{scan}",
        version = crate::VERSION,
        command = command::HELP,
        scan = scan::HELP,
    )
}

/// `netdiscover coverage [--strict] DETECTIONS_DIR [MACROS_DIR...]`: compiles every detection
/// YAML under the first directory (with the macros of the others) and prints the coverage
/// report. With `--strict`, a key or block the loader reads past makes its rule invalid and
/// the exit status 1.
fn coverage(args: &[OsString]) -> i32 {
    const USAGE: &str =
        "netdiscover coverage: usage: netdiscover coverage [--strict] DETECTIONS_DIR [MACROS_DIR...]";
    let strict = args.iter().any(|a| a == "--strict");
    let dirs: Vec<&OsString> = args.iter().filter(|a| *a != "--strict").collect();
    if let Some(flag) = dirs.iter().find(|a| a.to_string_lossy().starts_with("--")) {
        eprintln!("netdiscover coverage: unknown option {flag:?}\n{USAGE}");
        return 2;
    }
    let Some((detections, macros)) = dirs.split_first() else {
        eprintln!("{USAGE}");
        return 2;
    };
    let detections = std::path::Path::new(detections);
    if !detections.is_dir() {
        eprintln!(
            "netdiscover coverage: {} is not a directory",
            detections.display()
        );
        return 2;
    }
    let macros: Vec<std::path::PathBuf> = macros.iter().map(std::path::PathBuf::from).collect();
    let report = crate::rules::coverage_with(detections, &macros, strict);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = write!(stdout, "{report}").and_then(|()| stdout.flush()) {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("netdiscover coverage: cannot write the report: {e}");
            return 2;
        }
    }
    if strict && report.ignored() > 0 {
        eprintln!(
            "netdiscover coverage: --strict: {} key(s) or block(s) read past",
            report.ignored()
        );
        return 1;
    }
    0
}
