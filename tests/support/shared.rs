//! `../shared`, the reference data beside the repository (recorded Splunk sessions, attack logs,
//! the ESCU corpus), read in place. Std only, so every test crate of the workspace can include
//! this file by path (the xtask side's tests too).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Set to `1` (as `.ci/run` does) to make a missing `../shared` fail the tests that need it
/// instead of skipping them.
pub const REQUIRE_SHARED: &str = "NETDISCOVER_REQUIRE_SHARED";

/// `../shared/<rel>` (the reference data beside the repository, read in place), or `None` after
/// one `SKIPPED` line on stderr when it is absent. With `NETDISCOVER_REQUIRE_SHARED=1` an absent
/// path panics instead, naming it, so CI cannot pass by skipping.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let path = workspace_root().join("../shared").join(rel);
    if path.exists() {
        return Some(path);
    }
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("this test");
    if std::env::var_os(REQUIRE_SHARED).is_some_and(|v| v == "1") {
        panic!(
            "{test}: {} is absent and {REQUIRE_SHARED}=1 (put the reference data beside the repository)",
            path.display()
        );
    }
    // Written to the stderr handle, not with `eprintln!`, so the test harness does not capture it
    // and the skip shows in the summary of a normal `cargo test`.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}: {} is absent ({REQUIRE_SHARED}=1 makes this a failure)",
        path.display()
    );
    None
}

/// The workspace root (where `Cargo.lock` is): the including crate's manifest directory or, for
/// a member crate such as `xtask`, an ancestor of it.
pub fn workspace_root() -> &'static Path {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .unwrap_or(manifest)
}
