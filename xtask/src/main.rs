//! `cargo xtask <task>`: project automation that is not part of the shipped binaries.
//!
//! - `render [--check]`: writes the rendered app files (confs, manifest, icons) from the YAML
//!   and Cargo's version; `--check` only reports drift and fails on it.
//! - `package [--bin-dir DIR] [--out DIR]`: builds the release binaries for x86_64 and aarch64,
//!   statically linked ([`build`]; the x86_64 ones profile-guided when they can be, [`pgo`]),
//!   renders, checks each binary's architecture and that it
//!   needs no dynamic loader, and writes the Splunk Enterprise and Splunk Cloud packages,
//!   `dist/netdiscover-<version>.tgz` and `dist/netdiscover-<version>-cloud.tgz`
//!   ([`netdiscover_app::edition`]). `--bin-dir` skips the builds and packages
//!   `DIR/<program>-x86_64` and `DIR/<program>-aarch64` (an unpacked Enterprise package's `bin/`).
//! - `check-binary FILE...`: prints each ELF file's CPU, PIE-ness, dynamic loader and newest
//!   GLIBC need; fails unless it is statically linked.

use anyhow::{bail, Context, Result};
mod build;
mod pgo;

use build::TARGETS;
use netdiscover_app::edition::{Edition, Program};
use netdiscover_app::elf::{self, Machine};
use netdiscover_app::{appconf, package, render, tar};
use std::path::{Path, PathBuf};

/// The shipped programs (the crate's binaries).
const PROGRAMS: &[&str] = &["netdiscover", "netdiscover_input"];

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
        bail!("usage: cargo xtask <render [--check] | package [--bin-dir DIR] [--out DIR] | check-binary FILE...>");
    };
    let rest = &args[1..];
    match task.as_str() {
        "render" => render_task(rest),
        "package" => package_task(rest),
        "check-binary" => {
            if rest.is_empty() {
                bail!("check-binary needs at least one file");
            }
            for file in rest {
                check_binary(Path::new(file), None)?;
            }
            Ok(())
        }
        other => bail!("unknown task {other:?}; available: render, package, check-binary"),
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

/// Reads `path` and fails unless it is a statically linked ELF file for `machine`; prints what
/// the ELF reader found.
fn check_binary(path: &Path, machine: Option<Machine>) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let report = elf::Report::of(&bytes).with_context(|| path.display().to_string())?;
    if let Some(machine) = machine.filter(|m| *m != report.machine) {
        bail!(
            "{} is built for {}, not {}",
            path.display(),
            report.machine.name(),
            machine.name()
        );
    }
    if let Some(loader) = &report.interpreter {
        bail!(
            "{} is dynamically linked (it needs {loader} and the host's C library); the shipped \
             builds are static: build with `cargo xtask package`",
            path.display()
        );
    }
    println!("{}: {report}", path.display());
    Ok(bytes)
}

/// Builds (or, with `--bin-dir`, takes) every program for every target.
fn programs(root: &Path, bin_dir: Option<&Path>) -> Result<Vec<Program>> {
    // Per target: the directory holding its builds, and whether their names carry the CPU.
    let mut sources = Vec::new();
    for target in TARGETS {
        sources.push(match bin_dir {
            Some(dir) => (target, dir.to_path_buf(), true),
            None => (target, build::release(root, target, PROGRAMS)?, false),
        });
    }
    let mut out = Vec::new();
    for name in PROGRAMS {
        let mut builds = Vec::new();
        for (target, dir, suffixed) in &sources {
            let file = match suffixed {
                true => format!("{name}-{}", target.machine.name()),
                false => (*name).to_string(),
            };
            builds.push(check_binary(&dir.join(file), Some(target.machine))?);
        }
        let [x86_64, aarch64]: [Vec<u8>; 2] = builds
            .try_into()
            .map_err(|_| anyhow::anyhow!("one build per target"))?;
        out.push(Program {
            name: (*name).to_string(),
            x86_64,
            aarch64,
        });
    }
    Ok(out)
}

fn package_task(args: &[String]) -> Result<()> {
    let root = repo_root();
    let bin_dir = option(args, "--bin-dir")?;
    let out_dir = option(args, "--out")?.unwrap_or_else(|| root.join("dist"));
    let programs = programs(&root, bin_dir.as_deref())?;
    for path in render::write_all(&root)? {
        println!("rendered {}", path.display());
    }
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    for edition in Edition::ALL {
        let entries = package::entries(&root, &edition.members(&programs))?;
        let bytes = tar::tgz(&entries, package::mtime_from_env())?;
        let out = out_dir.join(edition.file_name(appconf::VERSION));
        std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
        println!(
            "wrote {} ({edition:?}: {} members, {} bytes)",
            out.display(),
            entries.len(),
            bytes.len()
        );
    }
    Ok(())
}
