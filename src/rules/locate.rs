//! Where rules are loaded from.
//!
//! * Shipped rules, relative to the executable: `<exe_dir>/rules/` in the installed app
//!   (`<app>/bin/rules/{detections,macros}`, under `bin/` so knowledge-bundle replication
//!   carries them to indexers); in the dev tree (`target/{debug,release}/netdiscover`, or
//!   `target/<triple>/{debug,release}/netdiscover` built with `--target`) the fallback is the
//!   repository's `app/{detections,macros}`. An executable in a Splunk
//!   platform folder (`<app>/linux_x86_64/bin/`, where the Splunk Cloud package keeps its
//!   x86-64 build) reads the same `<app>/bin/rules/` and `<app>/local/rules/`.
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

    /// Loads every place (on every core).
    pub fn load(&self) -> (RuleSet, Vec<Warning>) {
        RuleSet::load(&self.all())
    }

    /// Loads every place on `threads` threads ([`RuleSet::load_on`]).
    pub fn load_on(&self, threads: usize) -> (RuleSet, Vec<Warning>) {
        RuleSet::load_on(&self.all(), threads)
    }
}

/// Splunk's platform folders: for a chunked command (commands.conf.spec, `filename`) and a
/// modular input, Splunk looks for the executable in `<app>/<platform>/bin` before `<app>/bin`
/// (the names as AppInspect 4.3.1 lists them, `App.arch_bin_dirs`).
const PLATFORM_DIRS: &[&str] = &[
    "linux_x86_64",
    "linux_x86",
    "windows_x86_64",
    "windows_x86",
    "darwin_x86_64",
    "darwin_x86",
];

/// The app's `bin/` for an executable in `exe_dir`: `exe_dir` itself, or `<app>/bin` when
/// `exe_dir` is a platform folder's `<app>/<platform>/bin`.
fn app_bin(exe_dir: &Path) -> PathBuf {
    let is_named = |dir: &Path, names: &[&str]| {
        dir.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| names.contains(&n))
    };
    let app = Some(exe_dir)
        .filter(|d| is_named(d, &["bin"]))
        .and_then(Path::parent)
        .filter(|platform| is_named(platform, PLATFORM_DIRS))
        .and_then(Path::parent);
    match app {
        Some(app) => app.join("bin"),
        None => exe_dir.to_path_buf(),
    }
}

/// Shipped rule directories for an executable at `exe`.
pub fn shipped_places(exe: &Path) -> Vec<PathBuf> {
    let Some(dir) = exe.parent().map(app_bin) else {
        return Vec::new();
    };
    let installed = dir.join("rules");
    if installed.is_dir() {
        return vec![installed];
    }
    // The dev tree: `target/<profile>/`, or `target/<triple>/<profile>/` for a `--target`
    // build (e.g. the aarch64 build whose tests run under qemu).
    let Some(dev) = ["../../app", "../../../app"]
        .iter()
        .map(|up| dir.join(up))
        .find(|app| app.join("detections").is_dir() || app.join("macros").is_dir())
    else {
        return Vec::new();
    };
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
        if let Some(app_local) = exe.parent().map(|d| app_bin(d).join("../local/rules")) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_build_in_a_platform_folder_reads_the_apps_bin_and_local_rules() {
        let app = tempfile::tempdir().expect("temp dir");
        for dir in ["bin/rules", "local/rules", "linux_x86_64/bin"] {
            std::fs::create_dir_all(app.path().join(dir)).expect("create");
        }
        let in_bin = rule_places(Some(&app.path().join("bin/netdiscover")), None, &[]);
        let in_platform = rule_places(
            Some(&app.path().join("linux_x86_64/bin/netdiscover")),
            None,
            &[],
        );
        assert_eq!(in_bin.shipped, vec![app.path().join("bin/rules")]);
        assert_eq!(in_platform, in_bin);
        assert_eq!(in_bin.user, vec![app.path().join("bin/../local/rules")]);
        // A `bin` under any other folder is not a platform folder.
        assert_eq!(
            app_bin(&app.path().join("tools/bin")),
            app.path().join("tools/bin")
        );
    }

    #[test]
    fn a_dev_build_reads_the_repositorys_app_with_or_without_a_target_triple() {
        let repo = tempfile::tempdir().expect("temp dir");
        let dirs = [
            "app/detections",
            "app/macros",
            "target/debug",
            "target/aarch64-unknown-linux-gnu/debug",
            "target/a/b/c",
        ];
        for dir in dirs {
            std::fs::create_dir_all(repo.path().join(dir)).expect("create");
        }
        let expected =
            |up: &str| ["detections", "macros"].map(|d| repo.path().join(up).join("app").join(d));
        let host = repo.path().join("target/debug/netdiscover");
        assert_eq!(shipped_places(&host), expected("target/debug/../.."));
        let cross = repo
            .path()
            .join("target/aarch64-unknown-linux-gnu/debug/netdiscover");
        assert_eq!(
            shipped_places(&cross),
            expected("target/aarch64-unknown-linux-gnu/debug/../../..")
        );
        // Nothing two or three levels up: no shipped places, not a guess further up.
        let elsewhere = repo.path().join("target/a/b/c/netdiscover");
        assert!(shipped_places(&elsewhere).is_empty());
    }
}
