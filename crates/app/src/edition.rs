//! The two packages `cargo xtask package` writes from the same sources and the same builds,
//! and where each puts the x86_64 and aarch64 builds of each program.
//!
//! ```text
//! Splunk Enterprise  netdiscover-<v>.tgz        bin/<name>               launcher (sh): execs bin/<name>-<cpu>
//!                                               bin/<name>-x86_64        x86_64 build
//!                                               bin/<name>-aarch64       aarch64 build
//! Splunk Cloud       netdiscover-<v>-cloud.tgz  bin/<name>               aarch64 build
//!                                               linux_x86_64/bin/<name>  x86_64 build
//!                                               default/distsearch.conf  keeps linux_x86_64/bin out of bundles
//! ```
//!
//! Why two layouts (docs/packaging.md has the sources): a chunked command that follows an
//! event search runs on the indexers, from the copy of `<app>/bin/` that knowledge-bundle
//! replication sends them (the default allowlist takes `apps/<app>/bin/...`, not platform
//! folders). Splunk Enterprise indexers may be x86_64 or aarch64, so `bin/<name>` must run on
//! both: a launcher. Splunk Cloud requires the indexer-tier executable itself to be aarch64
//! (AppInspect `check_idx_binary_compatibility`), which AppInspect can only verify when the
//! command's file *is* the ELF binary; x86_64 search heads run the x86_64 build from
//! `linux_x86_64/bin/`, where Splunk looks before `bin/` (commands.conf.spec `filename`; the
//! same platform folders hold modular inputs).

use crate::package::{Member, MODE_EXEC, MODE_FILE};
use crate::APP_ID;

/// The launcher shipped as `bin/<name>` in the Splunk Enterprise package.
pub const LAUNCHER: &str = include_str!("../launcher.sh");

/// The CPUs the app ships builds for, by their `uname -m` names.
pub const CPUS: [&str; 2] = ["x86_64", "aarch64"];

/// `default/distsearch.conf` of the Splunk Cloud package.
pub const CLOUD_DISTSEARCH_CONF: &str = "\
# Splunk Cloud package only (written by cargo xtask package; docs/packaging.md).
# linux_x86_64/bin/ holds the x86_64 builds for x86_64 search heads. The default
# replicationAllowlist does not send platform folders to indexers; this entry makes that
# explicit, so the indexers get bin/netdiscover, the aarch64 build, and nothing else.
# Splunk-style pattern: '...' matches anything, '.' is a literal dot. The optional
# ([-.][^/]+)? also matches the package file name, which AppInspect 4.3.1 puts in place of the
# app folder when it applies this list (app.py, get_non_distributed_files).
[replicationDenylist]
netdiscover_x86_64_builds = apps/netdiscover([-.][^/]+)?/linux_x86_64/bin/...
";

/// A program's two builds: `x86_64` and `aarch64` hold the ELF files' bytes.
#[derive(Debug, Clone)]
pub struct Program {
    pub name: String,
    pub x86_64: Vec<u8>,
    pub aarch64: Vec<u8>,
}

/// Which Splunk the package is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edition {
    /// Splunk Enterprise (on premises): launchers and both builds in `bin/`.
    Enterprise,
    /// Splunk Cloud Platform: the aarch64 builds in `bin/`, the x86_64 ones in
    /// `linux_x86_64/bin/`.
    Cloud,
}

impl Edition {
    pub const ALL: [Edition; 2] = [Edition::Enterprise, Edition::Cloud];

    /// `netdiscover-<version>.tgz` or `netdiscover-<version>-cloud.tgz`.
    pub fn file_name(self, version: &str) -> String {
        match self {
            Edition::Enterprise => format!("{APP_ID}-{version}.tgz"),
            Edition::Cloud => format!("{APP_ID}-{version}-cloud.tgz"),
        }
    }

    /// The files this edition adds to the app for `programs`.
    pub fn members(self, programs: &[Program]) -> Vec<Member> {
        let exec = |path: String, data: &[u8]| Member {
            path,
            mode: MODE_EXEC,
            data: data.to_vec(),
        };
        let mut out = Vec::new();
        for p in programs {
            match self {
                Edition::Enterprise => {
                    out.push(exec(format!("bin/{}", p.name), LAUNCHER.as_bytes()));
                    out.push(exec(format!("bin/{}-x86_64", p.name), &p.x86_64));
                    out.push(exec(format!("bin/{}-aarch64", p.name), &p.aarch64));
                }
                Edition::Cloud => {
                    out.push(exec(format!("bin/{}", p.name), &p.aarch64));
                    out.push(exec(format!("linux_x86_64/bin/{}", p.name), &p.x86_64));
                }
            }
        }
        if self == Edition::Cloud {
            out.push(Member {
                path: "default/distsearch.conf".into(),
                mode: MODE_FILE,
                data: CLOUD_DISTSEARCH_CONF.as_bytes().to_vec(),
            });
        }
        out
    }
}
