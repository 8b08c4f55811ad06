//! Release builds of the shipped programs for each CPU the app ships, statically linked.
//!
//! Each target is built with `cargo build --release --target <triple>` and
//! `-C target-feature=+crt-static` (glibc, libgcc's unwinder, PCRE2 and mimalloc linked into
//! the executable; position-independent on x86_64, not on aarch64, whose stable Rust target has no
//! static-pie): the programs then need nothing of the host's C library, so they run on every
//! Linux Splunk runs on (RHEL 7's glibc 2.17 included), and they start faster, as the dynamic
//! loader has no libraries to load, relocate and bind (`scan` of an empty directory: ~0.5 ms
//! less per run; `| netdiscover` is started for every search). The
//! flag goes in `RUSTFLAGS`, which with `--target` reaches only the target's crates: the
//! build scripts and procedural macros stay dynamic, as they must. The Rust toolchain is the
//! first one whose sysroot holds the target's standard library: the default (`rustc` on PATH,
//! e.g. rustup's, after `rustup target add`), else Debian's `/usr/bin/cargo` + `/usr/bin/rustc`
//! (packages `rustc-web`, `cargo-web`, and `libstd-rust-web-dev:arm64` for aarch64). The other
//! CPU's build is linked, and its C compiled, by Debian's cross toolchain: on x86_64
//! `gcc-aarch64-linux-gnu` and `libc6-dev-arm64-cross`, on aarch64 `gcc-x86-64-linux-gnu` and
//! `libc6-dev-amd64-cross`. This CPU's `netdiscover` is built with a profile of real work when
//! one can be made ([`crate::pgo`]).

use anyhow::{bail, Context, Result};
use netdiscover_app::elf::Machine;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::pgo::Pgo;

/// A CPU the app ships builds for.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub triple: &'static str,
    pub machine: Machine,
}

pub const TARGETS: [Target; 2] = [
    Target {
        triple: "x86_64-unknown-linux-gnu",
        machine: Machine::X86_64,
    },
    Target {
        triple: "aarch64-unknown-linux-gnu",
        machine: Machine::Aarch64,
    },
];

/// A cargo and the rustc it should use (`None`: cargo's own choice).
struct Toolchain {
    cargo: PathBuf,
    rustc: Option<PathBuf>,
}

/// Whether `rustc`'s sysroot holds the standard library for `triple`.
fn has_std(rustc: &Path, triple: &str) -> bool {
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let lib = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(triple)
        .join("lib");
    std::fs::read_dir(lib).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("libstd-"))
    })
}

/// `RUSTC`, else `rustc` on PATH.
fn default_rustc() -> PathBuf {
    std::env::var_os("RUSTC").map_or_else(|| "rustc".into(), PathBuf::from)
}

fn toolchain_for(triple: &str) -> Result<Toolchain> {
    let default_rustc = default_rustc();
    if has_std(&default_rustc, triple) {
        return Ok(Toolchain {
            cargo: std::env::var_os("CARGO").map_or_else(|| "cargo".into(), PathBuf::from),
            rustc: None,
        });
    }
    let debian = Path::new("/usr/bin/rustc");
    if has_std(debian, triple) && Path::new("/usr/bin/cargo").is_file() {
        return Ok(Toolchain {
            cargo: "/usr/bin/cargo".into(),
            rustc: Some(debian.into()),
        });
    }
    bail!(
        "no Rust standard library for {triple}: run `rustup target add {triple}`, or on Debian \
         bookworm `apt-get install rustc-web cargo-web libstd-rust-web-dev:arm64` (after \
         `dpkg --add-architecture arm64`)"
    )
}

/// `RUSTFLAGS` for a shipped build: the caller's, if any, then statically linked and without
/// the symbol table (8.1 → 7.3 MB for the x86_64 `netdiscover`), as the builds shipped before.
fn static_rustflags() -> String {
    let flags = std::env::var("RUSTFLAGS").unwrap_or_default();
    format!("{flags} -C target-feature=+crt-static -C strip=symbols")
        .trim()
        .to_string()
}

/// Debian's cross gcc for `target` when it is not this machine's CPU.
fn cross_gcc(target: Target) -> Option<&'static str> {
    match target.machine {
        Machine::Aarch64 if cfg!(target_arch = "x86_64") => Some("aarch64-linux-gnu-gcc"),
        Machine::X86_64 if cfg!(target_arch = "aarch64") => Some("x86_64-linux-gnu-gcc"),
        _ => None,
    }
}

/// Builds `programs` for `target` in release mode, statically linked, with a profile of
/// `netdiscover` when one can be made ([`Pgo`]); returns the directory holding them.
pub fn release(root: &Path, target: Target, programs: &[&str]) -> Result<PathBuf> {
    let toolchain = toolchain_for(target.triple)?;
    let native = cross_gcc(target).is_none();
    let rustc = toolchain.rustc.clone().unwrap_or_else(default_rustc);
    let mut flags = static_rustflags();
    if let Some(pgo) = Pgo::plan(root, target.triple, native, &rustc) {
        let dir = root.join("target/pgo");
        let raw = dir.join(target.triple).join("raw");
        // Counts from an earlier build would not match this one's code.
        let _ = std::fs::remove_dir_all(&raw);
        let instrumented = format!("{flags} -Cprofile-generate={}", raw.display());
        let built = cargo_build(
            root,
            target,
            &toolchain,
            &instrumented,
            Some(&dir),
            &["netdiscover"],
        )?;
        let profile = pgo.train(root, &built, &raw)?;
        flags = format!("{flags} -Cprofile-use={}", profile.display());
    }
    cargo_build(root, target, &toolchain, &flags, None, programs)
}

/// `cargo build --release` of `programs` for `target` with `rustflags`, in `target_dir`
/// (default: the workspace's); returns the directory holding them.
fn cargo_build(
    root: &Path,
    target: Target,
    toolchain: &Toolchain,
    rustflags: &str,
    target_dir: Option<&Path>,
    programs: &[&str],
) -> Result<PathBuf> {
    let mut cmd = Command::new(&toolchain.cargo);
    cmd.current_dir(root);
    if let Some(rustc) = &toolchain.rustc {
        cmd.env("RUSTC", rustc).env("CARGO", &toolchain.cargo);
    }
    cmd.args([
        "build",
        "--release",
        "-p",
        "netdiscover",
        "--target",
        target.triple,
    ])
    // Cargo prefers this to RUSTFLAGS when both are set.
    .env_remove("CARGO_ENCODED_RUSTFLAGS")
    .env("RUSTFLAGS", rustflags);
    let target_dir = target_dir.map_or_else(|| root.join("target"), Path::to_path_buf);
    cmd.env("CARGO_TARGET_DIR", &target_dir);
    if let Some(gcc) = cross_gcc(target) {
        // Debian's cross compiler (gcc-aarch64-linux-gnu, gcc-x86-64-linux-gnu) links and
        // compiles C for a CPU other than this machine's.
        let upper = target.triple.to_uppercase().replace('-', "_");
        cmd.env(format!("CARGO_TARGET_{upper}_LINKER"), gcc)
            .env(format!("CC_{}", target.triple.replace('-', "_")), gcc);
    }
    for program in programs {
        cmd.args(["--bin", program]);
    }
    eprintln!("xtask: running {cmd:?}");
    let status = cmd.status().context("running cargo")?;
    if !status.success() {
        bail!("release build for {} failed ({status})", target.triple);
    }
    Ok(target_dir.join(target.triple).join("release"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_other_cpu_gets_a_cross_compiler() {
        let [x86_64, aarch64] = TARGETS;
        if cfg!(target_arch = "x86_64") {
            assert_eq!(cross_gcc(x86_64), None);
            assert_eq!(cross_gcc(aarch64), Some("aarch64-linux-gnu-gcc"));
        } else if cfg!(target_arch = "aarch64") {
            assert_eq!(cross_gcc(aarch64), None);
            assert_eq!(cross_gcc(x86_64), Some("x86_64-linux-gnu-gcc"));
        }
    }

    #[test]
    fn shipped_rustflags_keep_the_callers_and_link_statically() {
        let flags = static_rustflags();
        assert!(
            flags.ends_with("-C target-feature=+crt-static -C strip=symbols"),
            "{flags}"
        );
        if let Ok(theirs) = std::env::var("RUSTFLAGS") {
            assert!(flags.starts_with(theirs.trim()), "{flags}");
        }
    }
}
