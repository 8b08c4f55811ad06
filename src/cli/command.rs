//! `| netdiscover`: the SCP v2 front end that wires the protocol loop to the rules engine.

/// The search command's options as `--help` shows them.
pub const HELP: &str = "SEARCH COMMAND OPTIONS (| netdiscover ...): not yet implemented\n";

/// Runs the SCP v2 session on stdin/stdout; returns the exit code.
pub fn run_scp() -> i32 {
    eprintln!("netdiscover: the SCP v2 front end is not built yet");
    1
}
