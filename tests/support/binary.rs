//! Which netdiscover executables the tests run, and how. By default, the ones cargo built for
//! this test run. CI also runs the recorded-session replays, the dataset scans and the modular
//! input's protocol tests against the package's aarch64 build under qemu-user, with:
//!
//! - `NETDISCOVER_TEST_BIN`: the `netdiscover` executable to run instead;
//! - `NETDISCOVER_TEST_INPUT_BIN`: the `netdiscover_input` executable to run instead;
//! - `NETDISCOVER_TEST_RUNNER`: a command line, split at whitespace, that runs them, e.g.
//!   `qemu-aarch64-static` (without `-L`: docs/packaging.md, "Building for aarch64").
//!
//! The runner alone also serves a test build for aarch64 whose harness runs under qemu (cargo's
//! `CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER`): there the harness, itself emulated, starts
//! cargo's aarch64 builds through the runner, as the host kernel cannot execute them. So every
//! test starts the programs with [`command`], never with `Command::new`.
//!
//! A variable naming a file that does not exist fails the test instead of falling back. Under
//! a runner (an emulator runs the code 10–30 times slower) the driver's deadlines are 20 times
//! longer.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub const TEST_BIN: &str = "NETDISCOVER_TEST_BIN";
pub const TEST_INPUT_BIN: &str = "NETDISCOVER_TEST_INPUT_BIN";
pub const TEST_RUNNER: &str = "NETDISCOVER_TEST_RUNNER";

fn chosen(variable: &str, built: &str) -> PathBuf {
    match std::env::var_os(variable).filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "{variable}={} is not a file",
                path.display()
            );
            path
        }
        None => PathBuf::from(built),
    }
}

/// The `netdiscover` executable under test.
pub fn netdiscover_exe() -> PathBuf {
    chosen(TEST_BIN, env!("CARGO_BIN_EXE_netdiscover"))
}

/// The `netdiscover_input` executable under test.
pub fn netdiscover_input_exe() -> PathBuf {
    chosen(TEST_INPUT_BIN, env!("CARGO_BIN_EXE_netdiscover_input"))
}

/// A command that runs `exe`, through `NETDISCOVER_TEST_RUNNER` when it is set.
pub fn command(exe: impl AsRef<std::ffi::OsStr>) -> Command {
    let runner = std::env::var(TEST_RUNNER).unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut command = Command::new(program);
            command.args(words).arg(exe);
            command
        }
        None => Command::new(exe),
    }
}

/// Whether the binaries run through `NETDISCOVER_TEST_RUNNER` (an emulator).
pub fn emulated() -> bool {
    std::env::var(TEST_RUNNER).is_ok_and(|runner| !runner.trim().is_empty())
}

/// `deadline`, or 20 times it when a runner is set.
pub fn under_runner(deadline: Duration) -> Duration {
    if emulated() {
        deadline * 20
    } else {
        deadline
    }
}
