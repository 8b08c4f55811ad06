//! `cargo xtask <task>`: project automation that is not part of the shipped binaries.
//!
//! - `render [--check]`: writes the rendered app files (confs, manifest, icons) from the YAML
//!   and Cargo's version; `--check` only reports drift and fails on it.
//! - `package [--bin-dir DIR] [--out DIR]`: builds the release binaries for glibc 2.17 (with
//!   `cargo zigbuild` when it is installed, else a plain release build), renders, checks the
//!   binaries' GLIBC needs, and writes `dist/netdiscover-<version>.tgz`. `--bin-dir` skips the
//!   build and packages the binaries found in DIR.
//! - `check-glibc FILE...`: fails if an ELF file needs a GLIBC newer than 2.17.

use anyhow::{bail, Context, Result};
use netdiscover_app::{appconf, elf, package, render, tar};
use std::path::{Path, PathBuf};
use std::process::Command;

const BINARIES: &[&str] = &["netdiscover", "netdiscover_input"];
const ZIG_TARGET: &str = "x86_64-unknown-linux-gnu.2.17";
const ZIG_TARGET_DIR: &str = "x86_64-unknown-linux-gnu";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() {
    if let Err(err) = run() {
        eprintln!("xtask: error: {err:#}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        bail!("usage: cargo xtask <render [--check] | package [--bin-dir DIR] [--out DIR] | check-glibc FILE...>");
    };
    let rest = &args[1..];
    match task.as_str() {
        "render" => render_task(rest),
        "package" => package_task(rest),
        "check-glibc" => {
            if rest.is_empty() {
                bail!("check-glibc needs at least one file");
            }
            for file in rest {
                check_glibc(Path::new(file))?;
            }
            Ok(())
        }
        other => bail!("unknown task {other:?}; available: render, package, check-glibc"),
    }
}

fn render_task(args: &[String]) -> Result<()> {
    let root = repo_root();
    match args {
        [] => {
            for path in render::write_all(&root)? {
                println!("rendered {}", path.display());
            }
            Ok(())
        }
        [flag] if flag == "--check" => {
            let drifted = render::drifted(&root)?;
            if drifted.is_empty() {
                println!("rendered files are up to date");
                return Ok(());
            }
            for path in &drifted {
                eprintln!("drifted: {}", path.display());
            }
            bail!(
                "{} rendered file(s) differ from the YAML; run `cargo xtask render`",
                drifted.len()
            )
        }
        _ => bail!("usage: cargo xtask render [--check]"),
    }
}

fn option(args: &[String], name: &str) -> Result<Option<PathBuf>> {
    let mut value = None;
    let mut i = 0;
    while i < args.len() {
        if args[i] == name {
            let v = args
                .get(i + 1)
                .with_context(|| format!("{name} needs a value"))?;
            value = Some(PathBuf::from(v));
            i += 2;
        } else if args[i].starts_with("--") && ["--bin-dir", "--out"].contains(&args[i].as_str()) {
            i += 2;
        } else {
            bail!(
                "unknown package option {:?} (valid: --bin-dir DIR, --out DIR)",
                args[i]
            );
        }
    }
    Ok(value)
}

fn zigbuild_available() -> bool {
    Command::new("cargo")
        .args(["zigbuild", "--help"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Builds the release binaries; returns the directory holding them.
fn build_release(root: &Path) -> Result<PathBuf> {
    let mut cmd = Command::new("cargo");
    cmd.current_dir(root);
    let out_dir = if zigbuild_available() {
        cmd.args([
            "zigbuild",
            "--release",
            "-p",
            "netdiscover",
            "--target",
            ZIG_TARGET,
        ]);
        root.join("target").join(ZIG_TARGET_DIR).join("release")
    } else {
        eprintln!(
            "xtask: cargo-zigbuild not found (pip install ziglang cargo-zigbuild); \
             building against the host glibc, the GLIBC check decides if that is portable"
        );
        cmd.args(["build", "--release", "-p", "netdiscover"]);
        root.join("target").join("release")
    };
    for bin in BINARIES {
        cmd.args(["--bin", bin]);
    }
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().context("running cargo")?;
    if !status.success() {
        bail!("release build failed ({status})");
    }
    Ok(out_dir)
}

fn check_glibc(path: &Path) -> Result<()> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let too_new = elf::glibc_too_new(&bytes).with_context(|| path.display().to_string())?;
    let needs = elf::version_needs(&bytes)?;
    let newest = needs
        .iter()
        .filter_map(|(_, v)| elf::glibc_version(v).map(|g| (g, v)))
        .max()
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| "none".into());
    if !too_new.is_empty() {
        bail!(
            "{} needs {} (newer than GLIBC_{}.{}); build with cargo zigbuild --target {ZIG_TARGET}",
            path.display(),
            too_new.join(", "),
            elf::MAX_GLIBC.0,
            elf::MAX_GLIBC.1
        );
    }
    println!(
        "{}: newest GLIBC needed: {newest} (limit GLIBC_2.17)",
        path.display()
    );
    Ok(())
}

fn package_task(args: &[String]) -> Result<()> {
    let root = repo_root();
    let bin_dir = match option(args, "--bin-dir")? {
        Some(dir) => dir,
        None => build_release(&root)?,
    };
    let out_dir = option(args, "--out")?.unwrap_or_else(|| root.join("dist"));
    for path in render::write_all(&root)? {
        println!("rendered {}", path.display());
    }
    let mut binaries = Vec::new();
    for name in BINARIES {
        let path = bin_dir.join(name);
        check_glibc(&path)?;
        let data = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        binaries.push(package::Binary {
            name: (*name).to_string(),
            data,
        });
    }
    let entries = package::entries(&root, &binaries)?;
    let bytes = tar::tgz(&entries, package::mtime_from_env())?;
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let out = out_dir.join(package::file_name(appconf::VERSION));
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    println!(
        "wrote {} ({} members, {} bytes)",
        out.display(),
        entries.len(),
        bytes.len()
    );
    Ok(())
}
