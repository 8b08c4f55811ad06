//! The app tarball's layout: which repository files go where, with which mode.
//!
//! ```text
//! netdiscover/                      ← APP_ID, the single top folder
//!   app.manifest, metadata/, static/, README/, ...   ← app/* (except the three below)
//!   default/                        ← default/*
//!   bin/rules/detections/, bin/rules/macros/          ← app/detections, app/macros
//!   bin/*                           ← bin/* of the repository (755 if executable there)
//!   ...                             ← the edition's members: binaries, launchers, confs
//!                                     ([`crate::edition`])
//! ```
//! `app/schedules`, `app/deployments` (ESCU 6 and contentctl 5 schedules) and
//! `app/mitre_tactics.yml` are rendering inputs and are not shipped.
//! Names starting with `.` are never shipped (AppInspect rejects hidden files). Directories
//! and executables get mode 755, every other file 644; the result is sorted by path.

use crate::tar::Entry;
use crate::{AppError, APP_ID};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub const MODE_DIR: u32 = 0o755;
pub const MODE_EXEC: u32 = 0o755;
pub const MODE_FILE: u32 = 0o644;

/// Default mtime of every member (2000-01-01T00:00:00Z) unless `SOURCE_DATE_EPOCH` is set.
pub const DEFAULT_MTIME: u64 = 946_684_800;

/// The mtime to stamp on every member: `SOURCE_DATE_EPOCH` if it is a number, else the default.
pub fn mtime_from_env() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_MTIME)
}

/// `app/` entries that do not ship at `netdiscover/<name>`.
const APP_DIRS_MOVED_OR_SKIPPED: &[&str] = &[
    "detections",
    "macros",
    "schedules",
    "deployments",
    "mitre_tactics.yml",
];

/// A file the package adds to the repository's: `path` is relative to the app folder
/// (`bin/netdiscover`, `linux_x86_64/bin/netdiscover`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub path: String,
    pub mode: u32,
    pub data: Vec<u8>,
}

fn add_tree(
    files: &mut BTreeMap<String, (u32, Vec<u8>)>,
    source: &Path,
    dest: &str,
    keep_exec_bit: bool,
) -> Result<(), AppError> {
    let mut names: Vec<_> = std::fs::read_dir(source)
        .map_err(|e| AppError::io(source, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::io(source, e))?;
    names.sort_by_key(|e| e.file_name());
    for entry in names {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(AppError::content(entry.path(), "file name is not UTF-8"));
        };
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).map_err(|e| AppError::io(&path, e))?;
        let target = format!("{dest}/{name}");
        if meta.is_dir() {
            add_tree(files, &path, &target, keep_exec_bit)?;
        } else if meta.is_file() {
            let exec = keep_exec_bit && meta.permissions().mode() & 0o111 != 0;
            let data = std::fs::read(&path).map_err(|e| AppError::io(&path, e))?;
            insert(
                files,
                target,
                if exec { MODE_EXEC } else { MODE_FILE },
                data,
            )?;
        } else {
            return Err(AppError::content(
                &path,
                "only regular files and directories can be packaged (symlink or special file)",
            ));
        }
    }
    Ok(())
}

fn insert(
    files: &mut BTreeMap<String, (u32, Vec<u8>)>,
    path: String,
    mode: u32,
    data: Vec<u8>,
) -> Result<(), AppError> {
    if files.insert(path.clone(), (mode, data)).is_some() {
        return Err(AppError::Invalid(format!(
            "two sources would both be packaged as {path}"
        )));
    }
    Ok(())
}

/// Every member of the package built from the repository at `root` plus `members`.
pub fn entries(root: &Path, members: &[Member]) -> Result<Vec<Entry>, AppError> {
    let mut files = BTreeMap::new();
    add_tree(
        &mut files,
        &root.join("default"),
        &format!("{APP_ID}/default"),
        false,
    )?;
    let app = root.join("app");
    let mut app_items: Vec<_> = std::fs::read_dir(&app)
        .map_err(|e| AppError::io(&app, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| AppError::io(&app, e))?;
    app_items.sort_by_key(|e| e.file_name());
    for item in app_items {
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || APP_DIRS_MOVED_OR_SKIPPED.contains(&name.as_str()) {
            continue;
        }
        let path = item.path();
        if path.is_dir() {
            add_tree(&mut files, &path, &format!("{APP_ID}/{name}"), false)?;
        } else {
            let data = std::fs::read(&path).map_err(|e| AppError::io(&path, e))?;
            insert(&mut files, format!("{APP_ID}/{name}"), MODE_FILE, data)?;
        }
    }
    for rules in ["detections", "macros"] {
        add_tree(
            &mut files,
            &app.join(rules),
            &format!("{APP_ID}/bin/rules/{rules}"),
            false,
        )?;
    }
    let bin = root.join("bin");
    if bin.is_dir() {
        add_tree(&mut files, &bin, &format!("{APP_ID}/bin"), true)?;
    }
    for member in members {
        insert(
            &mut files,
            format!("{APP_ID}/{}", member.path),
            member.mode,
            member.data.clone(),
        )?;
    }
    let mut dirs = std::collections::BTreeSet::new();
    for path in files.keys() {
        let mut p = path.as_str();
        while let Some((parent, _)) = p.rsplit_once('/') {
            dirs.insert(parent.to_string());
            p = parent;
        }
    }
    let mut out: Vec<Entry> = dirs
        .into_iter()
        .map(|path| Entry::Dir {
            path,
            mode: MODE_DIR,
        })
        .collect();
    out.extend(
        files
            .into_iter()
            .map(|(path, (mode, data))| Entry::File { path, mode, data }),
    );
    out.sort_by(|a, b| a.path().cmp(b.path()));
    Ok(out)
}
