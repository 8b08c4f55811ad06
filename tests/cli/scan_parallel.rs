//! `netdiscover scan` on several threads writes exactly what it writes on one: the same rows
//! in the same order, the same problems on stderr, the same summary. Files are read in
//! parallel and the chunks of one EVTX file are decoded in parallel, so the inputs mix many
//! small files, large EVTX files, gzip XML, a damaged EVTX copy and a missing file.

use std::path::{Path, PathBuf};

use std::process::Output;

use crate::support;

fn scan(args: &[&str], threads: usize, rules_dir: Option<&Path>) -> Output {
    let mut command = support::command(support::netdiscover_exe());
    command
        .arg("scan")
        .args(args)
        .arg("--no-progress")
        .arg("--threads")
        .arg(threads.to_string())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove(netdiscover::rules::RULES_DIR_ENV);
    if let Some(dir) = rules_dir {
        command.env(netdiscover::rules::RULES_DIR_ENV, dir);
    }
    command.output().expect("run netdiscover")
}

/// Runs `args` on 1, 2 and 5 threads and requires the same stdout, stderr and exit status.
fn same_on_every_thread_count(args: &[&str], rules_dir: Option<&Path>) -> Output {
    let one = scan(args, 1, rules_dir);
    for threads in [2, 5] {
        let many = scan(args, threads, rules_dir);
        assert_eq!(
            one.status.code(),
            many.status.code(),
            "{args:?}, {threads} threads"
        );
        assert!(
            one.stdout == many.stdout,
            "{args:?}: stdout differs on {threads} threads"
        );
        assert_eq!(
            String::from_utf8_lossy(&one.stderr),
            String::from_utf8_lossy(&many.stderr),
            "{args:?}, {threads} threads"
        );
    }
    one
}

/// A copy of an EVTX file cut 1000 bytes into its third chunk, and a second copy with its
/// second chunk's magic overwritten: pieces that are problems, between good ones.
fn damaged_evtx(source: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let bytes = std::fs::read(source).expect("read evtx");
    assert!(
        bytes.len() >= 4096 + 3 * 65536,
        "{} too small",
        source.display()
    );
    let cut = dir.join("cut.evtx");
    std::fs::write(&cut, &bytes[..4096 + 2 * 65536 + 1000]).expect("write");
    let mut broken = bytes.clone();
    broken[4096 + 65536..4096 + 65536 + 8].copy_from_slice(b"NotChunk");
    let bad = dir.join("bad_chunk.evtx");
    std::fs::write(&bad, &broken).expect("write");
    (cut, bad)
}

#[test]
fn several_threads_write_what_one_thread_writes() {
    let (Some(datasets), Some(corpus)) =
        (support::shared("datasets"), support::shared("escu/corpus"))
    else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tempdir");
    let large_evtx =
        datasets.join("evtx/mdecrevoisier__ID4688-5447-4950-Firewall_disabled_command.evtx");
    let (cut, bad) = damaged_evtx(&large_evtx, tmp.path());
    let inputs: Vec<String> = [
        datasets.join("evtx"),
        datasets.join("xml"),
        datasets.join("json"),
        datasets.join("bulk/atomic-evtx__sysmon__reconnaissance.xml.gz"),
        datasets.join("bulk/atomic-evtx__sysmon__exfiltration.xml.gz"),
        cut,
        PathBuf::from("no/such/file.evtx"),
        bad,
        PathBuf::from("examples"),
    ]
    .iter()
    .map(|p| p.to_string_lossy().into_owned())
    .collect();
    let mut args: Vec<&str> = inputs.iter().map(String::as_str).collect();

    // The seed rules, table output: the matching rows only.
    let table = same_on_every_thread_count(&args, None);
    let err = String::from_utf8_lossy(&table.stderr);
    assert!(err.contains("no/such/file.evtx"), "{err}");
    assert!(err.contains("bytes into a 64 KiB chunk"), "{err}");
    assert!(String::from_utf8_lossy(&table.stdout).lines().count() > 5);

    // The matches of the ESCU corpus as CSV and as a JSON array: the position columns
    // (offset, record) and the array's separators are written in order, by the collector.
    for format in ["csv", "json"] {
        let mut with_format = args.clone();
        with_format.extend(["--output", format]);
        let out = same_on_every_thread_count(&with_format, Some(&corpus));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.lines().count() > 500,
            "{format}: {} lines",
            text.lines().count()
        );
        if format == "json" {
            let rows: Vec<serde_json::Value> = serde_json::from_str(&text).expect("a JSON array");
            assert!(rows.iter().all(|r| r.get("record_id").is_some()));
        }
    }

    // Every process event, with the ESCU corpus loaded (many more matches).
    args.extend(["--all", "--output", "ndjson"]);
    let all = same_on_every_thread_count(&args, Some(&corpus));
    let rows = String::from_utf8_lossy(&all.stdout).lines().count();
    assert!(rows > 1_500, "{rows} rows");
    // EVTX record numbers count through the whole file, across its chunks.
    let last_record = String::from_utf8_lossy(&all.stdout)
        .lines()
        .filter(|l| l.contains("Firewall_disabled_command.evtx"))
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            v.get("record")?.as_u64()
        })
        .max();
    assert!(last_record.is_some_and(|n| n > 900), "{last_record:?}");
}

/// The workers wait for rules that take long to load: with the SigmaHQ process_creation
/// rules (the slowest set, about 0.1 s, loaded with helpers while the other workers wait)
/// what the scan writes is still what one thread writes.
#[test]
fn waiting_for_the_sigma_rules_writes_what_one_thread_writes() {
    let (Some(evtx), Some(sigma)) = (
        support::shared("datasets/evtx"),
        support::shared("sigma_corpus/rules/windows/process_creation"),
    ) else {
        return;
    };
    let evtx = evtx.to_string_lossy().into_owned();
    let sigma = sigma.to_string_lossy().into_owned();
    for format in ["table", "ndjson"] {
        let args = [evtx.as_str(), "--rules", &sigma, "--output", format];
        let out = same_on_every_thread_count(&args, None);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("events: 2135 records"), "{err}");
        assert!(String::from_utf8_lossy(&out.stdout).lines().count() > 100);
    }
}

/// `--no-bind` (each thread's CPUs left to the scheduler) writes what the bound threads
/// write, and what one thread writes.
#[test]
fn unbound_threads_write_what_bound_threads_write() {
    let Some(evtx) = support::shared("datasets/evtx") else {
        return;
    };
    let evtx = evtx.to_string_lossy().into_owned();
    let bound = scan(&[evtx.as_str(), "--output", "csv"], 2, None);
    let unbound = scan(&[evtx.as_str(), "--output", "csv", "--no-bind"], 2, None);
    let one = scan(&[evtx.as_str(), "--output", "csv", "--no-bind"], 1, None);
    for other in [&unbound, &one] {
        assert_eq!(bound.status.code(), other.status.code());
        assert!(bound.stdout == other.stdout);
        assert_eq!(
            String::from_utf8_lossy(&bound.stderr),
            String::from_utf8_lossy(&other.stderr)
        );
    }
    assert_eq!(bound.status.code(), Some(1), "datasets/evtx has matches");
}
