//! `netdiscover scan PATH...`: the rules over exported telemetry, without Splunk.

use std::ffi::OsString;

/// The scan subcommand's usage as `--help` shows it.
pub const HELP: &str = "SCAN: not yet implemented\n";

/// Runs the scan subcommand; returns the exit code.
pub fn run(_args: &[OsString]) -> i32 {
    eprintln!("netdiscover scan: not built yet");
    2
}
