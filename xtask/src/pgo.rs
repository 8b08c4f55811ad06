//! Profile-guided optimisation of the shipped `netdiscover` for this machine's CPU.
//!
//! With hundreds of rules a row's work is spread over much code (the literal index, then
//! whichever rules' tests and regular expressions the row makes candidates), and the CPU's
//! instruction cache misses are a large part of a row's cost: callgrind's cache model counts
//! ~55 first-level instruction misses per row for `| netdiscover` with the ESCU corpus. A
//! profile lets LLVM lay out and inline for the paths real work takes. Measured on the same
//! source (BENCHMARKS.md, session 19): `scan` 12-16% faster on one thread, 5-14% on two;
//! `| netdiscover` 1-2% less CPU on a 50,000-row chunk with the corpus, 30% fewer modelled
//! instruction-cache misses.
//!
//! The build is instrumented (`-Cprofile-generate`), run over the training work below, its
//! counts merged by `llvm-profdata` (LLVM's, of the version rustc is built on), and the
//! shipped build made with `-Cprofile-use`. Only the instruction layout and inlining change,
//! never what the program computes: CI runs the command-level tests on the shipped build.
//!
//! The training work is real data and real rules from `../shared` (read in place): `scan`
//! over the datasets with the shipped rules, the ESCU corpus and the SigmaHQ process-creation
//! rules, and `| netdiscover` sessions over those datasets' process rows. Without `../shared`,
//! without a matching `llvm-profdata`, for the other CPU's build (its compiler is Debian's and
//! the training would run under emulation), or with `NETDISCOVER_PGO=0`, the build is made
//! without a profile, as before, and xtask says why.

use anyhow::{bail, Context, Result};
use netdiscover::protocol::encode_chunk;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What profiling a build needs: the merger and the training data.
pub struct Pgo {
    profdata: PathBuf,
    shared: PathBuf,
}

/// Rows per `execute` request of a training session, as splunkd sends them (at most 50,000).
const ROWS_PER_CHUNK: usize = 10_000;

/// Training sessions of `| netdiscover` over the rows, for each rule set.
const SESSION_PASSES: usize = 3;

impl Pgo {
    /// How to profile the build of `triple`, or `None` (having said why) when it is built
    /// without a profile.
    pub fn plan(root: &Path, triple: &str, native: bool, rustc: &Path) -> Option<Pgo> {
        let skip = |why: &str| {
            eprintln!("xtask: {triple}: no profile-guided optimisation: {why}");
            None
        };
        if std::env::var("NETDISCOVER_PGO").is_ok_and(|v| v == "0") {
            return skip("NETDISCOVER_PGO=0");
        }
        if !native {
            return skip("the build is for another CPU (the training would run emulated)");
        }
        let shared = root.join("../shared");
        let needed = ["datasets/bulk", "datasets/evtx", "escu/corpus"];
        if let Some(missing) = needed.iter().find(|d| !shared.join(d).is_dir()) {
            return skip(&format!(
                "../shared/{missing} is absent (the training data)"
            ));
        }
        match profdata_tool(rustc) {
            Ok(profdata) => Some(Pgo { profdata, shared }),
            Err(e) => skip(&format!("{e:#}")),
        }
    }

    /// Trains the instrumented `netdiscover` in `instrumented_dir` (whose profiles go to
    /// `raw`) and merges its counts into one profile; returns the profile's path.
    pub fn train(&self, root: &Path, instrumented_dir: &Path, raw: &Path) -> Result<PathBuf> {
        let started = std::time::Instant::now();
        let exe = install_for_training(root, instrumented_dir)?;
        let datasets = self.shared.join("datasets");
        let corpus = self.shared.join("escu/corpus");
        let sigma = self
            .shared
            .join("sigma_corpus/rules/windows/process_creation");
        let inputs = [datasets.join("bulk"), datasets.join("evtx")];
        scan(&exe, &inputs, None, &[])?;
        scan(&exe, &inputs, Some(&corpus), &[])?;
        if sigma.is_dir() {
            scan(&exe, &inputs[..1], None, &[sigma])?;
        }
        let rows = process_rows(&exe, &inputs)?;
        for rules in [None, Some(corpus.as_path())] {
            for _ in 0..SESSION_PASSES {
                session(&exe, &rows, rules)?;
            }
        }
        let merged = raw.with_extension("profdata");
        remove_old_profiles(&merged);
        let status = Command::new(&self.profdata)
            .arg("merge")
            .arg("-o")
            .arg(&merged)
            .arg(raw)
            .status()
            .with_context(|| format!("running {}", self.profdata.display()))?;
        if !status.success() {
            bail!("{} merge failed ({status})", self.profdata.display());
        }
        let profile = named_by_content(&merged)?;
        eprintln!(
            "xtask: profile {} (trained in {:.1} s)",
            profile.display(),
            started.elapsed().as_secs_f64()
        );
        Ok(profile)
    }
}

/// Removes the profiles earlier packaging named beside `merged` ([`named_by_content`]).
fn remove_old_profiles(merged: &Path) {
    let (Some(dir), Some(stem)) = (merged.parent(), merged.file_stem()) else {
        return;
    };
    let prefix = format!("{}.", stem.to_string_lossy());
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".profdata") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// `merged` renamed to a name holding a hash of its bytes, so that the `-Cprofile-use` flag
/// changes with the profile and cargo rebuilds every crate with it (cargo sees the flags, not
/// the file they name).
fn named_by_content(merged: &Path) -> Result<PathBuf> {
    use std::hash::{DefaultHasher, Hasher};
    let bytes = std::fs::read(merged).with_context(|| format!("reading {}", merged.display()))?;
    let mut hasher = DefaultHasher::new();
    hasher.write(&bytes);
    let named = merged.with_extension(format!("{:016x}.profdata", hasher.finish()));
    std::fs::rename(merged, &named).with_context(|| format!("naming {}", named.display()))?;
    Ok(named)
}

/// LLVM's `llvm-profdata` of the major version `rustc` is built on: `LLVM_PROFDATA`, else
/// `llvm-profdata-<major>` on PATH, Debian's `/usr/lib/llvm-<major>/bin/`, or rustup's
/// `llvm-tools` component.
fn profdata_tool(rustc: &Path) -> Result<PathBuf> {
    if let Some(tool) = std::env::var_os("LLVM_PROFDATA") {
        return Ok(tool.into());
    }
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .with_context(|| format!("running {} -vV", rustc.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let major = text
        .lines()
        .find_map(|l| l.strip_prefix("LLVM version: "))
        .and_then(|v| v.split('.').next())
        .context("rustc -vV names no LLVM version")?
        .to_string();
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let host = text
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .unwrap_or_default();
    let candidates = [
        PathBuf::from(format!("llvm-profdata-{major}")),
        PathBuf::from(format!("/usr/lib/llvm-{major}/bin/llvm-profdata")),
        Path::new(&sysroot).join(format!("lib/rustlib/{host}/bin/llvm-profdata")),
    ];
    candidates
        .into_iter()
        .find(|tool| {
            Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {major}.")))
        })
        .with_context(|| {
            format!(
                "no llvm-profdata of LLVM {major} (rustc's): `apt-get install llvm-{major}`, \
                 `rustup component add llvm-tools`, or set LLVM_PROFDATA"
            )
        })
}

/// Copies the instrumented `netdiscover` into `<dir>/train/bin/` beside a copy of the app's
/// shipped rules in `rules/`, the layout of an installed app; returns its path.
fn install_for_training(root: &Path, dir: &Path) -> Result<PathBuf> {
    let bin = dir.join("train/bin");
    let rules = bin.join("rules");
    let _ = std::fs::remove_dir_all(&rules);
    for part in ["detections", "macros"] {
        copy_tree(&root.join("app").join(part), &rules.join(part))?;
    }
    let exe = bin.join("netdiscover");
    std::fs::copy(dir.join("netdiscover"), &exe)
        .with_context(|| format!("copying the instrumented build to {}", exe.display()))?;
    Ok(exe)
}

/// Copies the files under `from` to `to` (the rule loader does not follow symbolic links).
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_tree(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)
                .with_context(|| format!("copying {}", source.display()))?;
        }
    }
    Ok(())
}

/// `scan` of `inputs` with the shipped rules, the rules in `rules_dir` and `--rules` `extra`.
fn scan(exe: &Path, inputs: &[PathBuf], rules_dir: Option<&Path>, extra: &[PathBuf]) -> Result<()> {
    let mut cmd = Command::new(exe);
    cmd.args(["scan", "--no-progress"]).args(inputs);
    for dir in extra {
        cmd.arg("--rules").arg(dir);
    }
    training_env(&mut cmd, rules_dir);
    let out = cmd.stdout(Stdio::null()).output().context("running scan")?;
    // 0: no match, 1: matches; anything else is a failed run.
    if !matches!(out.status.code(), Some(0 | 1)) {
        bail!(
            "training scan failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn training_env(cmd: &mut Command, rules_dir: Option<&Path>) {
    cmd.env_remove("NETDISCOVER_RULES_DIR");
    if let Some(dir) = rules_dir {
        cmd.env("NETDISCOVER_RULES_DIR", dir);
    }
}

/// The process rows of `inputs` as `| tstats ... by Processes.*` hands them to the command:
/// a CSV header of CIM fields and one record per process event (`scan --all --output csv`,
/// without the file columns before the fields and the detection columns after them).
fn process_rows(exe: &Path, inputs: &[PathBuf]) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let out = Command::new(exe)
        .args(["scan", "--no-progress", "--all", "--output", "csv"])
        .args(inputs)
        .env_remove("NETDISCOVER_RULES_DIR")
        .stderr(Stdio::null())
        .output()
        .context("running scan --output csv")?;
    let mut reader = csv::ReaderBuilder::new().from_reader(&out.stdout[..]);
    let header = reader
        .byte_headers()
        .context("the scan's CSV header")?
        .clone();
    let first = header.iter().position(|f| f == b"dest");
    let end = header.iter().position(|f| f == b"detection");
    let (Some(first), Some(end)) = (first, end) else {
        bail!("the scan's CSV has no dest..detection columns");
    };
    let encode = |record: &csv::ByteRecord| -> Result<Vec<u8>> {
        let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
        writer.write_record(record.iter().skip(first).take(end - first))?;
        Ok(writer.into_inner().map_err(|e| e.into_error())?)
    };
    let head = encode(&header)?;
    let mut rows = Vec::new();
    for record in reader.byte_records() {
        rows.push(encode(&record.context("a scan CSV record")?)?);
    }
    if rows.is_empty() {
        bail!("the training inputs hold no process event");
    }
    Ok((head, rows))
}

/// One `| netdiscover` session over `rows`: getinfo, then the rows in `execute` requests,
/// the last one `finished`; the replies are read as they come and dropped.
fn session(exe: &Path, rows: &(Vec<u8>, Vec<Vec<u8>>), rules: Option<&Path>) -> Result<()> {
    let requests = requests(rows);
    let mut cmd = Command::new(exe);
    training_env(&mut cmd, rules);
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting the command")?;
    let mut stdin = child.stdin.take().context("the command's stdin")?;
    let writer = std::thread::spawn(move || stdin.write_all(&requests));
    let mut replies = Vec::new();
    child
        .stdout
        .take()
        .context("the command's stdout")?
        .read_to_end(&mut replies)
        .context("reading the replies")?;
    let status = child.wait().context("waiting for the command")?;
    let written = writer
        .join()
        .map_err(|_| anyhow::anyhow!("the writer panicked"))?;
    written.context("writing the requests")?;
    if !status.success() || replies.is_empty() {
        bail!("training session failed ({status})");
    }
    Ok(())
}

/// What splunkd sends a session over `rows` (a CSV header and records): getinfo, then the rows
/// in `execute` requests of [`ROWS_PER_CHUNK`], each with the header, the last `finished`.
fn requests((head, rows): &(Vec<u8>, Vec<Vec<u8>>)) -> Vec<u8> {
    let mut requests = encode_chunk(GETINFO.as_bytes(), b"");
    let chunks: Vec<&[Vec<u8>]> = rows.chunks(ROWS_PER_CHUNK).collect();
    for (n, part) in chunks.iter().enumerate() {
        let mut body = head.clone();
        part.iter().for_each(|row| body.extend_from_slice(row));
        let meta = match n + 1 == chunks.len() {
            true => r#"{"action":"execute","finished":true}"#,
            false => r#"{"action":"execute","finished":false}"#,
        };
        requests.extend(encode_chunk(meta.as_bytes(), &body));
    }
    requests
}

/// A getinfo request as splunkd sends one for `| netdiscover` (no arguments).
const GETINFO: &str = concat!(
    r#"{"action":"getinfo","preview":false,"streaming_command_will_restart":false,"#,
    r#""searchinfo":{"args":[],"raw_args":[],"dispatch_dir":"/tmp","sid":"1.1","app":"search","#,
    r#""owner":"admin","username":"admin","session_key":"training","#,
    r#""splunkd_uri":"https://127.0.0.1:8089","splunk_version":"9.0.0","#,
    r#""search":"%7C%20netdiscover","command":"netdiscover","maxresultrows":50000,"#,
    r#""earliest_time":"0","latest_time":"0"}}"#,
);

#[cfg(test)]
mod tests {
    use super::*;

    /// The framing of docs/scp-v2.md: a header line with the two lengths in bytes, then the
    /// metadata and the body.
    #[test]
    fn a_training_request_is_framed_as_splunkd_frames_it() {
        assert_eq!(encode_chunk(b"{}", b"a,b\n"), b"chunked 1.0,2,4\n{}a,b\n");
    }

    /// The training session's requests, read back by netdiscover's own frame reader: a getinfo
    /// whose metadata is JSON, then every row in execute requests, only the last finished.
    #[test]
    fn a_training_session_is_what_the_command_reads() {
        let head = b"process_name,process\n".to_vec();
        let rows: Vec<Vec<u8>> = (0..ROWS_PER_CHUNK * 2 + 7)
            .map(|n| format!("cmd.exe,\"cmd.exe /c echo {n}\"\n").into_bytes())
            .collect();
        let stream = requests(&(head.clone(), rows.clone()));
        let (mut input, mut meta, mut body) = (&stream[..], Vec::new(), Vec::new());
        let mut chunks = Vec::new();
        while netdiscover::protocol::read_chunk(&mut input, &mut meta, &mut body)
            .expect("a well-framed request")
            .is_some()
        {
            let meta: serde_json::Value = serde_json::from_slice(&meta).expect("JSON metadata");
            chunks.push((meta, body.clone()));
        }
        assert_eq!(chunks[0].0["action"], "getinfo");
        assert_eq!(chunks[0].0["searchinfo"]["command"], "netdiscover");
        assert!(chunks[0].1.is_empty());
        let executes = &chunks[1..];
        assert_eq!(executes.len(), 3);
        let finished: Vec<bool> = executes
            .iter()
            .map(|(meta, _)| meta["finished"].as_bool().expect("finished"))
            .collect();
        assert_eq!(finished, [false, false, true]);
        let mut sent = Vec::new();
        for (meta, body) in executes {
            assert_eq!(meta["action"], "execute");
            let rest = body
                .strip_prefix(&head[..])
                .expect("each body starts with the header");
            sent.extend_from_slice(rest);
        }
        assert_eq!(sent, rows.concat());
    }
}
