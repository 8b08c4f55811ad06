//! Every file of the repository that is rendered rather than written by hand, in one list:
//! `cargo xtask render` writes them, `cargo xtask package` renders them before packaging, and
//! a test fails when a checked-in copy drifts from what the YAML and Cargo's version give.

use crate::model::Content;
use crate::{appconf, icon, macros, savedsearches, AppError};
use std::path::{Path, PathBuf};

const CONF_HEADER: &str = "#############\n\
# Rendered by `cargo xtask render` (crates/app) from app/detections, app/macros and\n\
# app/schedules, the way contentctl-ng 1.1.1 renders ESCU 6 rules (contentctl 5.6.2 for v5\n\
# rules). Do not edit: edit the YAML, re-render.\n\
#############\n";

const APP_CONF_HEADER: &str = "#############\n\
# Rendered by `cargo xtask render` (crates/app) from Cargo.toml's version. Do not edit.\n\
#############\n";

/// A rendered file: its path relative to the repository root, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// Renders every generated file from the repository at `root`.
pub fn render_all(root: &Path) -> Result<Vec<Rendered>, AppError> {
    let content = Content::load(&root.join("app"))?;
    let file = |path: &str, bytes: Vec<u8>| Rendered {
        path: PathBuf::from(path),
        bytes,
    };
    Ok(vec![
        file(
            "default/savedsearches.conf",
            savedsearches::render(&content, CONF_HEADER)?.into_bytes(),
        ),
        file(
            "default/macros.conf",
            macros::render(&content, CONF_HEADER).into_bytes(),
        ),
        file(
            "default/app.conf",
            appconf::render_app_conf(APP_CONF_HEADER)?.into_bytes(),
        ),
        file("app/app.manifest", appconf::render_manifest().into_bytes()),
        file("app/static/appIcon.png", icon::png(36)),
        file("app/static/appIcon_2x.png", icon::png(72)),
    ])
}

/// The rendered files whose checked-in copy under `root` is missing or different.
pub fn drifted(root: &Path) -> Result<Vec<PathBuf>, AppError> {
    let mut out = Vec::new();
    for r in render_all(root)? {
        match std::fs::read(root.join(&r.path)) {
            Ok(bytes) if bytes == r.bytes => {}
            _ => out.push(r.path),
        }
    }
    Ok(out)
}

/// Writes every rendered file under `root` whose content changed; returns the paths written.
pub fn write_all(root: &Path) -> Result<Vec<PathBuf>, AppError> {
    let mut written = Vec::new();
    for r in render_all(root)? {
        let path = root.join(&r.path);
        if std::fs::read(&path).is_ok_and(|b| b == r.bytes) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| AppError::io(parent, e))?;
        }
        std::fs::write(&path, &r.bytes).map_err(|e| AppError::io(&path, e))?;
        written.push(r.path);
    }
    Ok(written)
}
