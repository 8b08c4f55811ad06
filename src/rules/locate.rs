//! Where rules are loaded from.
//!
//! * Shipped rules, relative to the executable: `<exe_dir>/rules/` in the installed app
//!   (`<app>/bin/rules/{detections,macros}`, under `bin/` so knowledge-bundle replication
//!   carries them to indexers); in the dev tree (`target/{debug,release}/netdiscover`) the
//!   fallback is `<exe_dir>/../../app/{detections,macros}`.
//! * User rules, loaded after (so they override shipped rules with the same id, and user
//!   macros override shipped macros): `<app>/local/rules/` (survives app upgrades), then the
//!   directory in `NETDISCOVER_RULES_DIR`, then any `--rules DIR` given on the command line.

use std::path::{Path, PathBuf};

use super::error::Warning;
use super::ruleset::RuleSet;

/// Environment variable naming an extra user rule directory.
pub const RULES_DIR_ENV: &str = "NETDISCOVER_RULES_DIR";

/// The directories rules are read from, in load order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RulePlaces {
    pub shipped: Vec<PathBuf>,
    pub user: Vec<PathBuf>,
}

impl RulePlaces {
    /// Shipped places first, then user places.
    pub fn all(&self) -> Vec<PathBuf> {
        self.shipped.iter().chain(&self.user).cloned().collect()
    }

    /// Loads every place.
    pub fn load(&self) -> (RuleSet, Vec<Warning>) {
        RuleSet::load(&self.all())
    }
}

/// Shipped rule directories for an executable at `exe`.
pub fn shipped_places(exe: &Path) -> Vec<PathBuf> {
    let Some(dir) = exe.parent() else {
        return Vec::new();
    };
    let installed = dir.join("rules");
    if installed.is_dir() {
        return vec![installed];
    }
    let dev = dir.join("../../app");
    ["detections", "macros"]
        .iter()
        .map(|d| dev.join(d))
        .filter(|p| p.is_dir())
        .collect()
}

/// All rule places for an executable at `exe`, an optional `NETDISCOVER_RULES_DIR` value and
/// extra `--rules` directories. Places that do not exist are left out, except explicit ones
/// (env var, `--rules`), whose absence is reported by loading as a warning.
pub fn rule_places(exe: Option<&Path>, env_dir: Option<&Path>, extra: &[PathBuf]) -> RulePlaces {
    let mut places = RulePlaces::default();
    if let Some(exe) = exe {
        places.shipped = shipped_places(exe);
        if let Some(app_local) = exe.parent().map(|d| d.join("../local/rules")) {
            if app_local.is_dir() {
                places.user.push(app_local);
            }
        }
    }
    if let Some(env) = env_dir.filter(|p| !p.as_os_str().is_empty()) {
        places.user.push(env.to_path_buf());
    }
    places.user.extend(extra.iter().cloned());
    places
}

/// [`rule_places`] for the running executable and the process environment.
pub fn locate(extra: &[PathBuf]) -> RulePlaces {
    let exe = std::env::current_exe().ok();
    let env = std::env::var_os(RULES_DIR_ENV).map(PathBuf::from);
    rule_places(exe.as_deref(), env.as_deref(), extra)
}
