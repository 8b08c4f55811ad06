//! netdiscover: ESCU detection YAML compiled to native matchers, run inside Splunk as the
//! `| netdiscover` chunked custom search command, as the `netdiscover_input` modular input,
//! and offline over EVTX/XML/JSON/CSV exports with `netdiscover scan`.
//!
//! Dependencies between modules go one way only:
//!
//! ```text
//!   cli ──► protocol      (SCP v2 framing, CSV, __mv_; knows nothing of rules or ingest)
//!    │ └──► rules         (parse/compile/match/risk; knows neither protocol nor ingest)
//!    └───► ingest         (file formats → CIM Endpoint.Processes rows; knows nothing of protocol)
//!   detect ──► ingest, rules   (the rules over CIM process rows: scan and the modular input)
//!   modinput ──► ingest, rules, detect
//!   protocol, rules ──► literals   (many literals searched at once; knows neither)
//!   cli, rules ──► cpus            (threads bound to CPUs of their own: scan's workers and
//!                                   the helpers that load its rules)
//! ```
//!
//! `heap` is the `netdiscover` program's allocator (mimalloc for the offline front ends, glibc's
//! malloc for the chunked command); only that binary installs it.
//!
//! The Splunk app's build-time tooling (conf renderers, icons, the package) is not here: it is
//! the `netdiscover-app` crate in `crates/app`, run by `cargo xtask`.

pub mod cli;
pub mod cpus;
pub mod detect;
pub mod heap;
pub mod ingest;
pub mod literals;
pub mod modinput;
pub mod protocol;
pub mod rules;
#[cfg(test)]
mod test_strings;

/// The version of the binaries, printed by `netdiscover --version`; the app package carries it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
