//! The app tarballs (Splunk Enterprise and Splunk Cloud editions): exact file list and modes
//! (read back with the system `tar`, an independent reader), byte-for-byte reproducibility, and
//! the ELF checks. When `NETDISCOVER_DIST_TGZ` / `NETDISCOVER_DIST_CLOUD_TGZ` name real packages
//! (CI sets them after `cargo xtask package`), those are checked too, including their binaries'
//! CPU and that they are statically linked.

use netdiscover_app::edition::{Edition, Program};
use netdiscover_app::elf::{self, Machine};
use netdiscover_app::package::{self, Member, DEFAULT_MTIME};
use netdiscover_app::tar;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::workspace_root;

fn fake_programs() -> Vec<Program> {
    ["netdiscover", "netdiscover_input"]
        .iter()
        .map(|name| Program {
            name: name.to_string(),
            x86_64: format!("\x7fELF x86_64 stand-in for {name}").into_bytes(),
            aarch64: format!("\x7fELF aarch64 stand-in for {name}").into_bytes(),
        })
        .collect()
}

fn fake_members(edition: Edition) -> Vec<Member> {
    edition.members(&fake_programs())
}

/// The executables of each edition, as docs/packaging.md lays them out.
fn executables(edition: Edition) -> &'static [&'static str] {
    match edition {
        Edition::Enterprise => &[
            "netdiscover/bin/netdiscover",
            "netdiscover/bin/netdiscover-aarch64",
            "netdiscover/bin/netdiscover-x86_64",
            "netdiscover/bin/netdiscover_input",
            "netdiscover/bin/netdiscover_input-aarch64",
            "netdiscover/bin/netdiscover_input-x86_64",
        ],
        Edition::Cloud => &[
            "netdiscover/bin/netdiscover",
            "netdiscover/bin/netdiscover_input",
            "netdiscover/linux_x86_64/bin/netdiscover",
            "netdiscover/linux_x86_64/bin/netdiscover_input",
        ],
    }
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
fn expected_files(edition: Edition) -> Vec<String> {
    let mut files: Vec<String> = REQUIRED.iter().map(|s| s.to_string()).collect();
    files.extend(executables(edition).iter().map(|s| s.to_string()));
    if edition == Edition::Cloud {
        files.push("netdiscover/default/distsearch.conf".into());
    }
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

fn check_listing(
    listing: &BTreeMap<String, (String, String)>,
    expected_mtime: &str,
    edition: Edition,
) {
    let files: Vec<String> = listing
        .iter()
        .filter(|(_, (mode, _))| !mode.starts_with('d'))
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(
        files,
        expected_files(edition),
        "{edition:?}: file list differs"
    );
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
        } else if executables(edition).contains(&path.as_str()) {
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
    for edition in Edition::ALL {
        lists_expected_files(edition);
    }
}

fn lists_expected_files(edition: Edition) {
    let tmp = tempfile::tempdir().unwrap();
    let entries = package::entries(workspace_root(), &fake_members(edition)).unwrap();
    let tgz = tmp.path().join("netdiscover-test.tgz");
    std::fs::write(&tgz, tar::tgz(&entries, DEFAULT_MTIME).unwrap()).unwrap();
    let Some(listing) = tar_listing(&tgz) else {
        return;
    };
    check_listing(&listing, "2000-01-01 00:00:00", edition);
    untar(&tgz, tmp.path());
    let unpacked = |rel: &str| std::fs::read(tmp.path().join(rel)).unwrap();
    assert_eq!(
        unpacked("netdiscover/default/savedsearches.conf"),
        std::fs::read(workspace_root().join("default/savedsearches.conf")).unwrap()
    );
    assert_eq!(
        unpacked("netdiscover/bin/rules/macros/process_netsh.yml"),
        std::fs::read(workspace_root().join("app/macros/process_netsh.yml")).unwrap()
    );
    let programs = fake_programs();
    let (name, x86_64, aarch64) = (&programs[0].name, &programs[0].x86_64, &programs[0].aarch64);
    match edition {
        Edition::Enterprise => {
            let launcher = unpacked("netdiscover/bin/netdiscover");
            assert_eq!(launcher, netdiscover_app::edition::LAUNCHER.as_bytes());
            assert_eq!(unpacked(&format!("netdiscover/bin/{name}-x86_64")), *x86_64);
            assert_eq!(
                unpacked(&format!("netdiscover/bin/{name}-aarch64")),
                *aarch64
            );
        }
        Edition::Cloud => {
            assert_eq!(unpacked("netdiscover/bin/netdiscover"), *aarch64);
            assert_eq!(
                unpacked("netdiscover/linux_x86_64/bin/netdiscover"),
                *x86_64
            );
            let distsearch =
                String::from_utf8(unpacked("netdiscover/default/distsearch.conf")).expect("UTF-8");
            assert!(distsearch.contains("[replicationDenylist]"), "{distsearch}");
        }
    }
}

#[test]
fn same_sources_give_the_same_bytes() {
    let tgz = |members: &[Member]| {
        tar::tgz(
            &package::entries(workspace_root(), members).unwrap(),
            DEFAULT_MTIME,
        )
        .unwrap()
    };
    for edition in Edition::ALL {
        let first = tgz(&fake_members(edition));
        assert_eq!(first, tgz(&fake_members(edition)), "{edition:?}");
        let mut other = fake_programs();
        other[1].x86_64.push(b'!');
        let changed = tgz(&edition.members(&other));
        assert_ne!(
            first, changed,
            "{edition:?}: a changed binary must change the package"
        );
    }
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

/// This test program is linked dynamically (cargo's default), so it names its loader.
#[test]
fn elf_reader_finds_the_loader_readelf_finds() {
    let exe = std::env::current_exe().unwrap();
    let bytes = std::fs::read(&exe).unwrap();
    let ours = elf::interpreter(&bytes).unwrap();
    assert!(
        ours.as_deref().is_some_and(|l| l.contains("ld-linux")),
        "{ours:?}"
    );
    let Ok(out) = Command::new("readelf").arg("-l").arg(&exe).output() else {
        eprintln!("SKIP: readelf (binutils) not installed; parser checked on its own only");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let theirs = text
        .split("Requesting program interpreter: ")
        .nth(1)
        .and_then(|rest| rest.split(']').next());
    assert_eq!(ours.as_deref(), theirs);
}

/// The package that `variable` names, checked against `edition`'s listing and unpacked; `None`
/// (after a SKIP line) when the variable is unset.
fn unpack_built(variable: &str, edition: Edition) -> Option<tempfile::TempDir> {
    let Some(tgz) = std::env::var_os(variable).map(PathBuf::from) else {
        eprintln!("SKIP: {variable} not set (run `cargo xtask package` first, as .ci/run does)");
        return None;
    };
    assert!(tgz.is_file(), "{variable}={} does not exist", tgz.display());
    let listing = tar_listing(&tgz)?;
    let mtime = chrono::DateTime::from_timestamp(package::mtime_from_env() as i64, 0)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string();
    check_listing(&listing, &mtime, edition);
    let tmp = tempfile::tempdir().unwrap();
    untar(&tgz, tmp.path());
    Some(tmp)
}

/// Unpacks the gzipped tarball `tgz` into `into` with the system's `tar`, which must succeed.
fn untar(tgz: &Path, into: &Path) {
    let out = Command::new("tar")
        .arg("-xzf")
        .arg(tgz)
        .arg("-C")
        .arg(into)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where each edition keeps each CPU's build of `program`.
fn build_path(edition: Edition, program: &str, machine: Machine) -> String {
    match (edition, machine) {
        (Edition::Enterprise, _) => format!("netdiscover/bin/{program}-{}", machine.name()),
        (Edition::Cloud, Machine::Aarch64) => format!("netdiscover/bin/{program}"),
        (Edition::Cloud, _) => format!("netdiscover/linux_x86_64/bin/{program}"),
    }
}

#[test]
fn built_packages_are_complete_and_their_binaries_fit_their_cpu_and_are_static() {
    let editions = [
        (
            "NETDISCOVER_DIST_TGZ",
            Edition::Enterprise,
            "bin/netdiscover",
        ),
        (
            "NETDISCOVER_DIST_CLOUD_TGZ",
            Edition::Cloud,
            "linux_x86_64/bin/netdiscover",
        ),
    ];
    let mut builds = BTreeMap::new();
    for (variable, edition, runs_here) in editions {
        let Some(tmp) = unpack_built(variable, edition) else {
            continue;
        };
        // The Enterprise package's launcher picks the x86_64 build on this machine.
        let version = Command::new(tmp.path().join("netdiscover").join(runs_here))
            .arg("--version")
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&version.stdout).trim(),
            format!("netdiscover {}", env!("CARGO_PKG_VERSION")),
            "{edition:?}: {runs_here} runs here and reports Cargo's version"
        );
        for program in ["netdiscover", "netdiscover_input"] {
            for machine in [Machine::X86_64, Machine::Aarch64] {
                let path = build_path(edition, program, machine);
                let bytes = std::fs::read(tmp.path().join(&path)).unwrap();
                assert_eq!(Machine::of(&bytes).unwrap(), machine, "{path}");
                let loader = elf::interpreter(&bytes).unwrap();
                assert_eq!(loader, None, "{path} is dynamically linked");
                assert_eq!(elf::version_needs(&bytes).unwrap(), [], "{path}");
                builds
                    .entry((program, machine.name()))
                    .or_insert_with(Vec::new)
                    .push(bytes);
            }
        }
    }
    for (build, copies) in &builds {
        assert!(
            copies.windows(2).all(|w| w[0] == w[1]),
            "{build:?}: the two packages ship different builds"
        );
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
    let binaries = [Member {
        path: "bin/netdiscover".into(),
        mode: package::MODE_EXEC,
        data: b"\x7fELF".to_vec(),
    }];
    let entries = package::entries(t, &binaries).unwrap();
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
    let err = package::entries(t, &binaries).unwrap_err().to_string();
    assert!(
        err.contains("evil.conf") && err.contains("symlink"),
        "{err}"
    );
    std::fs::remove_file(t.join("default/evil.conf")).unwrap();

    write("bin/netdiscover", 0o755);
    let err = package::entries(t, &binaries).unwrap_err().to_string();
    assert!(err.contains("netdiscover/bin/netdiscover"), "{err}");
}
