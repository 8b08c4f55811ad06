//! The Splunk app's build-time tooling (run by `cargo xtask render` and `cargo xtask package`,
//! never by the shipped binaries): renders the shipped `.conf` files from the detection YAML
//! (the way contentctl-ng 1.1.1 does for ESCU 6 rules, contentctl 5.6.2 for v5 rules), draws
//! the app icons, and lays out, writes and checks the
//! package. The app's sources are the repository's `app/` and `default/` directories.
//!
//! Each submodule has one job:
//! - [`model`]: the detections and macros read with the rules engine's own model
//!   (`netdiscover::rules`), plus schedules, deployments and ATT&CK tactics;
//! - [`tojson`] and [`conf`]: Jinja's `tojson`, contentctl-ng's compact JSON and
//!   `escapeNewlines`, plus a small `.conf` reader used to compare files key by key;
//! - [`savedsearches`], [`macros`], [`appconf`]: the renderers;
//! - [`fields`]: the CIM fields the shipped rules read (the combined search's `tstats` by-clause);
//! - [`icon`]: the app icons, drawn by our own code;
//! - [`render`]: every rendered file of the repository, in one place, for `xtask` and the drift test;
//! - [`package`], [`tar`], [`elf`]: the tarball's layout, a deterministic ustar+gzip writer,
//!   and the architecture and static-linking check of the shipped binaries;
//! - [`edition`]: the Splunk Enterprise and Splunk Cloud packages, and where each puts the
//!   x86_64 and aarch64 builds.

pub mod appconf;
pub mod conf;
pub mod edition;
pub mod elf;
pub mod fields;
pub mod icon;
pub mod macros;
pub mod model;
pub mod package;
pub mod render;
pub mod savedsearches;
pub mod tar;
pub mod tojson;

use std::path::PathBuf;

/// Label prefix of our saved-search stanza names: `netdiscover - <name> - Rule`, where
/// contentctl writes `ESCU - <name> - Rule`. A distinct prefix lets the app sit beside ESCU.
pub const APP_LABEL: &str = "netdiscover";

/// The app's package id (`[package] id`, the tarball's top folder).
pub const APP_ID: &str = "netdiscover";

/// Everything that can go wrong while rendering or packaging, with the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{path}: {error}")]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: invalid YAML: {error}")]
    Yaml {
        path: PathBuf,
        error: serde_yaml::Error,
    },
    #[error("{path}: {message}")]
    Content { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl AppError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AppError::Io {
            path: path.into(),
            error: source,
        }
    }

    pub(crate) fn content(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        AppError::Content {
            path: path.into(),
            message: message.into(),
        }
    }
}
