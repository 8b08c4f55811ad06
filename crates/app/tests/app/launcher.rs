//! The launcher the Splunk Enterprise package ships as `bin/netdiscover` and
//! `bin/netdiscover_input`: it runs `bin/<name>-<cpu>` in its own process with the same
//! arguments and stdin, for every CPU name the kernel may report, and refuses other CPUs with a
//! message naming the machine. The builds are stand-in scripts that report what they got.

use netdiscover_app::edition::LAUNCHER;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The shipped launcher's redirection that reads the CPU without starting a process.
const KERNEL_ARCH: &str = "</proc/sys/kernel/arch";

fn write_exec(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// An app `bin/` holding `launcher` as `bin/<name>` and stand-in builds for both CPUs that
/// print their CPU, their process id, their arguments (one per line) and their stdin.
fn app_bin(dir: &Path, name: &str, launcher: &str) -> PathBuf {
    let bin = dir.join("bin");
    write_exec(&bin.join(name), launcher);
    for cpu in ["x86_64", "aarch64"] {
        write_exec(
            &bin.join(format!("{name}-{cpu}")),
            &format!("#!/bin/sh\necho {cpu} $$\nfor a in \"$@\"; do echo \"[$a]\"; done\ncat\n"),
        );
    }
    bin
}

fn run(exe: &Path, args: &[&str], path_env: Option<&Path>) -> (Output, u32) {
    let mut command = Command::new(exe);
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(dir) = path_env {
        let path = std::env::var("PATH").unwrap_or_default();
        command.env("PATH", format!("{}:{path}", dir.display()));
    }
    let mut child = spawn_written(&mut command);
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    // A launcher that refuses the CPU exits without reading: its stdin may be closed already.
    let _ = stdin.write_all(b"rows on stdin\n");
    drop(stdin);
    (child.wait_with_output().unwrap(), pid)
}

/// Spawns `command`, whose program this test process has just written. Another test thread
/// that forks while the file is open for writing holds that descriptor until its own exec, and
/// Linux refuses to run a file open for writing (ETXTBSY): that passes within moments, so wait.
fn spawn_written(command: &mut Command) -> std::process::Child {
    let mut attempts = 0;
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempts < 100 => {
                attempts += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            spawned => return spawned.unwrap(),
        }
    }
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The launcher with the kernel's CPU file replaced by one that says `machine` (or by a missing
/// file when `machine` is `None`), so that each branch can be driven on any machine.
fn launcher_reading(dir: &Path, machine: Option<&str>) -> String {
    assert_eq!(LAUNCHER.matches(KERNEL_ARCH).count(), 1, "{LAUNCHER}");
    let file = dir.join("arch");
    if let Some(machine) = machine {
        std::fs::write(&file, format!("{machine}\n")).unwrap();
    }
    LAUNCHER.replace(KERNEL_ARCH, &format!("<{}", file.display()))
}

#[test]
fn runs_this_machines_build_in_its_own_process_with_arguments_and_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = app_bin(tmp.path(), "netdiscover", LAUNCHER);
    let (out, pid) = run(&bin.join("netdiscover"), &["mode=risk", "a b", ""], None);
    assert!(out.status.success(), "{out:?}");
    let cpu = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        other => panic!("no build for {other}"),
    };
    assert_eq!(
        stdout(&out),
        format!("{cpu} {pid}\n[mode=risk]\n[a b]\n[]\nrows on stdin\n"),
        "same process (exec), every argument as given, stdin passed on"
    );
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[test]
fn each_cpu_name_picks_its_build_and_others_are_refused_by_name() {
    let cases = [
        ("x86_64", Some("x86_64")),
        ("amd64", Some("x86_64")),
        ("aarch64", Some("aarch64")),
        ("arm64", Some("aarch64")),
        ("riscv64", None),
    ];
    for (machine, build) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let launcher = launcher_reading(tmp.path(), Some(machine));
        let bin = app_bin(tmp.path(), "netdiscover_input", &launcher);
        let (out, _) = run(&bin.join("netdiscover_input"), &["--scheme"], None);
        match build {
            Some(cpu) => {
                assert!(out.status.success(), "{machine}: {out:?}");
                assert!(stdout(&out).starts_with(&format!("{cpu} ")), "{machine}");
                assert!(stdout(&out).contains("[--scheme]"), "{machine}");
            }
            None => {
                assert_eq!(out.status.code(), Some(1), "{machine}: {out:?}");
                assert!(out.stdout.is_empty(), "{machine}: {out:?}");
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(
                    err.contains("netdiscover_input") && err.contains("riscv64"),
                    "{err}"
                );
            }
        }
    }
}

#[test]
fn without_the_kernels_cpu_file_it_asks_uname_and_sh_launcher_works_in_bin() {
    let tmp = tempfile::tempdir().unwrap();
    let launcher = launcher_reading(tmp.path(), None);
    let bin = app_bin(tmp.path(), "netdiscover", &launcher);
    let tools = tmp.path().join("tools");
    write_exec(&tools.join("uname"), "#!/bin/sh\necho aarch64\n");
    let (out, _) = run(&bin.join("netdiscover"), &[], Some(&tools));
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).starts_with("aarch64 "), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    // Started as `sh netdiscover` in bin/ ($0 without a directory), it still finds its builds.
    let out = Command::new("sh")
        .args(["netdiscover", "x"])
        .current_dir(&bin)
        .env(
            "PATH",
            format!(
                "{}:{}",
                tools.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).lines().nth(1), Some("[x]"), "{out:?}");
}
