//! Command-line front ends. `netdiscover` with no arguments and a non-terminal stdin speaks
//! SCP v2 to splunkd ([`command`]); `netdiscover scan` runs the rules offline ([`scan`]).

pub mod command;
mod load_warnings;
pub mod scan;

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
        Some("coverage") => coverage(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{}", help_text());
            0
        }
        Some("-V" | "--version") => {
            println!("netdiscover {}", env!("CARGO_PKG_VERSION"));
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
         \x20 netdiscover coverage DETECTIONS_DIR [MACROS_DIR...]\n\
         \x20                            which detections compile, and what stopped the others\n\
         \x20 netdiscover --help          this text\n\n\
         {command}\n{scan}",
        version = env!("CARGO_PKG_VERSION"),
        command = command::HELP,
        scan = scan::HELP,
    )
}

/// `netdiscover coverage DETECTIONS_DIR [MACROS_DIR...]`: compiles every detection YAML under
/// the first directory (with the macros of the others) and prints the coverage report.
fn coverage(args: &[OsString]) -> i32 {
    let Some((detections, macros)) = args.split_first() else {
        eprintln!(
            "netdiscover coverage: usage: netdiscover coverage DETECTIONS_DIR [MACROS_DIR...]"
        );
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
    print!("{}", crate::rules::coverage(detections, &macros));
    0
}
