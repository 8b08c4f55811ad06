//! The app tarball: exact file list and modes (read back with the system `tar`, an
//! independent reader), byte-for-byte reproducibility, and the ELF GLIBC check. When
//! `NETDISCOVER_DIST_TGZ` names a real package (CI sets it after `cargo xtask package`), that
//! package is checked too, including its binaries' GLIBC needs.

use netdiscover_app::package::{self, Binary, DEFAULT_MTIME};
use netdiscover_app::{elf, tar};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::workspace_root;

fn fake_binaries() -> Vec<Binary> {
    ["netdiscover", "netdiscover_input"]
        .iter()
        .map(|name| Binary {
            name: name.to_string(),
            data: format!("\x7fELF stand-in for {name}").into_bytes(),
        })
        .collect()
}

/// `path → (mode string, owner/group, mtime)` as GNU tar lists the archive.
fn tar_listing(tgz: &Path) -> Option<BTreeMap<String, (String, String)>> {
    let out = match Command::new("tar")
        .args(["--numeric-owner", "--full-time", "-tvzf"])
        .arg(tgz)
        .env("TZ", "UTC")
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("SKIP: system tar not runnable: {e}");
            return None;
        }
    };
    assert!(
        out.status.success(),
        "tar failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut listing = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(cols.len() >= 6, "unexpected tar line {line:?}");
        let path = cols[5..].join(" ");
        let path = path.trim_end_matches('/').to_string();
        let when = format!("{} {}", cols[3], cols[4]);
        listing.insert(path, (cols[0].to_string(), format!("{} {when}", cols[1])));
    }
    Some(listing)
}

/// Files a package must hold whatever else other modules add to default/ and app/.
const REQUIRED: &[&str] = &[
    "netdiscover/app.manifest",
    "netdiscover/bin/netdiscover",
    "netdiscover/bin/netdiscover_input",
    "netdiscover/bin/rules/detections/endpoint/network_connection_discovery_with_netstat.yml",
    "netdiscover/bin/rules/detections/endpoint/windows_proxy_via_netsh.yml",
    "netdiscover/bin/rules/macros/fillnull_config.yml",
    "netdiscover/bin/rules/macros/oldsummaries_config.yml",
    "netdiscover/bin/rules/macros/process_netsh.yml",
    "netdiscover/bin/rules/macros/security_content_ctime.yml",
    "netdiscover/bin/rules/macros/security_content_summariesonly.yml",
    "netdiscover/bin/rules/macros/summariesonly_config.yml",
    "netdiscover/default/app.conf",
    "netdiscover/default/commands.conf",
    "netdiscover/default/macros.conf",
    "netdiscover/default/savedsearches.conf",
    "netdiscover/default/searchbnf.conf",
    "netdiscover/lookups/cim_endpoint_processes.csv",
    "netdiscover/metadata/default.meta",
    "netdiscover/static/appIcon.png",
    "netdiscover/static/appIcon_2x.png",
];

/// Every regular file under `dir` (relative, `/`-separated), skipping dot-files.
fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{prefix}/{name}");
        if entry.path().is_dir() {
            walk(&entry.path(), &rel, out);
        } else {
            out.push(rel);
        }
    }
}

/// The files the package must contain: the required list plus whatever other modules put
/// in default/ and app/README/ (the modular input's confs and spec).
fn expected_files() -> Vec<String> {
    let mut files: Vec<String> = REQUIRED.iter().map(|s| s.to_string()).collect();
    walk(
        &workspace_root().join("default"),
        "netdiscover/default",
        &mut files,
    );
    walk(
        &workspace_root().join("app/README"),
        "netdiscover/README",
        &mut files,
    );
    files.sort();
    files.dedup();
    files
}

fn check_listing(listing: &BTreeMap<String, (String, String)>, expected_mtime: &str) {
    let files: Vec<String> = listing
        .iter()
        .filter(|(_, (mode, _))| !mode.starts_with('d'))
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(files, expected_files(), "file list differs");
    for (path, (mode, owner_time)) in listing {
        assert!(
            path == "netdiscover" || path.starts_with("netdiscover/"),
            "{path} outside the top folder"
        );
        assert!(
            !path.split('/').any(|c| c.starts_with('.')),
            "hidden file {path}"
        );
        let want = if mode.starts_with('d') {
            "drwxr-xr-x"
        } else if path == "netdiscover/bin/netdiscover"
            || path == "netdiscover/bin/netdiscover_input"
        {
            "-rwxr-xr-x"
        } else {
            "-rw-r--r--"
        };
        assert_eq!(mode, want, "mode of {path}");
        assert!(
            owner_time.starts_with("0/0 "),
            "owner of {path}: {owner_time}"
        );
        assert!(
            owner_time.ends_with(expected_mtime),
            "mtime of {path}: {owner_time}"
        );
    }
    for dir in [
        "netdiscover",
        "netdiscover/bin",
        "netdiscover/bin/rules",
        "netdiscover/default",
    ] {
        assert!(
            listing.get(dir).is_some_and(|(m, _)| m.starts_with('d')),
            "no directory {dir}"
        );
    }
}

#[test]
fn package_lists_exactly_the_expected_files_with_expected_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let entries = package::entries(workspace_root(), &fake_binaries()).unwrap();
    let tgz = tmp.path().join("netdiscover-test.tgz");
    std::fs::write(&tgz, tar::tgz(&entries, DEFAULT_MTIME).unwrap()).unwrap();
    let Some(listing) = tar_listing(&tgz) else {
        return;
    };
    check_listing(&listing, "2000-01-01 00:00:00");
    let out = Command::new("tar")
        .arg("-xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let unpacked = |rel: &str| std::fs::read(tmp.path().join(rel)).unwrap();
    assert_eq!(
        unpacked("netdiscover/default/savedsearches.conf"),
        std::fs::read(workspace_root().join("default/savedsearches.conf")).unwrap()
    );
    assert_eq!(
        unpacked("netdiscover/bin/rules/macros/process_netsh.yml"),
        std::fs::read(workspace_root().join("app/macros/process_netsh.yml")).unwrap()
    );
    assert_eq!(
        unpacked("netdiscover/bin/netdiscover"),
        fake_binaries()[0].data
    );
}

#[test]
fn same_sources_give_the_same_bytes() {
    let first = tar::tgz(
        &package::entries(workspace_root(), &fake_binaries()).unwrap(),
        DEFAULT_MTIME,
    )
    .unwrap();
    let second = tar::tgz(
        &package::entries(workspace_root(), &fake_binaries()).unwrap(),
        DEFAULT_MTIME,
    )
    .unwrap();
    assert_eq!(first, second);
    let mut other = fake_binaries();
    other[0].data.push(b'!');
    let changed = tar::tgz(
        &package::entries(workspace_root(), &other).unwrap(),
        DEFAULT_MTIME,
    )
    .unwrap();
    assert_ne!(first, changed, "a changed binary must change the package");
}

#[test]
fn elf_reader_agrees_with_readelf_on_a_real_binary() {
    let exe = std::env::current_exe().unwrap();
    let bytes = std::fs::read(&exe).unwrap();
    let needs = elf::version_needs(&bytes).unwrap();
    assert!(
        needs
            .iter()
            .any(|(lib, v)| lib.starts_with("libc.so") && v.starts_with("GLIBC_2.")),
        "{needs:?}"
    );
    let Ok(out) = Command::new("readelf").arg("-V").arg(&exe).output() else {
        eprintln!("SKIP: readelf (binutils) not installed; parser checked on its own only");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let section = text.split("Version needs section").nth(1).unwrap_or("");
    let mut theirs: Vec<String> = section
        .lines()
        .filter_map(|l| l.split("Name: ").nth(1))
        .map(|n| n.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    let mut ours: Vec<String> = needs.into_iter().map(|(_, v)| v).collect();
    theirs.sort();
    ours.sort();
    assert_eq!(ours, theirs);
}

#[test]
fn glibc_check_flags_versions_newer_than_2_17() {
    let bytes = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let too_new = elf::glibc_too_new(&bytes).unwrap();
    let newest = elf::version_needs(&bytes)
        .unwrap()
        .iter()
        .filter_map(|(_, v)| elf::glibc_version(v))
        .max()
        .unwrap();
    assert_eq!(
        too_new.is_empty(),
        newest <= elf::MAX_GLIBC,
        "{too_new:?} vs {newest:?}"
    );
}

#[test]
fn built_package_is_complete_and_its_binaries_need_at_most_glibc_2_17() {
    let Some(tgz) = std::env::var_os("NETDISCOVER_DIST_TGZ").map(PathBuf::from) else {
        eprintln!(
            "SKIP: NETDISCOVER_DIST_TGZ not set (run `cargo xtask package` first, as .ci/run does)"
        );
        return;
    };
    assert!(
        tgz.is_file(),
        "NETDISCOVER_DIST_TGZ={} does not exist",
        tgz.display()
    );
    let Some(listing) = tar_listing(&tgz) else {
        return;
    };
    let mtime = chrono::DateTime::from_timestamp(package::mtime_from_env() as i64, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    check_listing(&listing, &mtime);
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new("tar")
        .arg("-xzf")
        .arg(&tgz)
        .arg("-C")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let version = Command::new(tmp.path().join("netdiscover/bin/netdiscover"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("netdiscover {}", env!("CARGO_PKG_VERSION")),
        "the packaged binary runs here and reports Cargo's version"
    );
    for bin in ["netdiscover", "netdiscover_input"] {
        let bytes = std::fs::read(tmp.path().join("netdiscover/bin").join(bin)).unwrap();
        let too_new = elf::glibc_too_new(&bytes).unwrap();
        assert!(too_new.is_empty(), "{bin} needs {too_new:?}");
        assert_eq!(&bytes[18..20], &[0x3e, 0x00], "{bin} is not x86-64");
    }
}

#[test]
fn layout_rules_hidden_files_bin_scripts_deployments_and_symlinks() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let write = |rel: &str, mode: u32| {
        let path = t.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, rel).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    write("default/app.conf", 0o600);
    write("default/.app.conf.swp", 0o644);
    write("app/metadata/default.meta", 0o777);
    write("app/app.manifest", 0o644);
    write("app/detections/endpoint/a.yml", 0o644);
    write("app/macros/m.yml", 0o644);
    write("app/deployments/d.yml", 0o644);
    write("bin/helper.sh", 0o755);
    write("bin/notes.txt", 0o644);
    let entries = package::entries(t, &fake_binaries()).unwrap();
    let listing: Vec<(String, u32, bool)> = entries
        .iter()
        .map(|e| match e {
            tar::Entry::Dir { path, mode } => (path.clone(), *mode, true),
            tar::Entry::File { path, mode, .. } => (path.clone(), *mode, false),
        })
        .collect();
    let files: Vec<(&str, u32)> = listing
        .iter()
        .filter(|(_, _, dir)| !dir)
        .map(|(p, m, _)| (p.as_str(), *m))
        .collect();
    assert_eq!(
        files,
        [
            ("netdiscover/app.manifest", 0o644),
            ("netdiscover/bin/helper.sh", 0o755),
            ("netdiscover/bin/netdiscover", 0o755),
            ("netdiscover/bin/netdiscover_input", 0o755),
            ("netdiscover/bin/notes.txt", 0o644),
            ("netdiscover/bin/rules/detections/endpoint/a.yml", 0o644),
            ("netdiscover/bin/rules/macros/m.yml", 0o644),
            ("netdiscover/default/app.conf", 0o644),
            ("netdiscover/metadata/default.meta", 0o644),
        ]
    );
    assert!(listing
        .iter()
        .filter(|(_, _, d)| *d)
        .all(|(_, m, _)| *m == 0o755));

    std::os::unix::fs::symlink("/etc/passwd", t.join("default/evil.conf")).unwrap();
    let err = package::entries(t, &fake_binaries())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("evil.conf") && err.contains("symlink"),
        "{err}"
    );
    std::fs::remove_file(t.join("default/evil.conf")).unwrap();

    write("bin/netdiscover", 0o755);
    let err = package::entries(t, &fake_binaries())
        .unwrap_err()
        .to_string();
    assert!(err.contains("netdiscover/bin/netdiscover"), "{err}");
}
