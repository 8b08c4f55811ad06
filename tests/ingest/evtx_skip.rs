//! EVTX records passed over without rendering (`SkipCheck`): on every record of every EVTX file
//! in the shared datasets and the Sigma corpus's regression data, a record is passed over only
//! when rendering it and reading its XML would skip it too, under the same event id.

use std::path::{Path, PathBuf};

use crate::support;

use netdiscover::ingest::{skip_audit, Item};

/// The `.evtx` files under `dir`, at any depth.
fn evtx_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("list") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            evtx_files(&path, found);
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("evtx"))
        {
            found.push(path);
        }
    }
}

/// Checks one file; returns (records passed over unrendered, records skipped when rendered).
fn check_file(path: &Path) -> (usize, usize) {
    let audit = skip_audit(path).expect("read");
    let (mut passed_over, mut skipped) = (0, 0);
    for (n, (label, item)) in audit.iter().enumerate() {
        skipped += usize::from(matches!(item, Item::Skipped(_)));
        let Some(label) = label else { continue };
        passed_over += 1;
        match item {
            Item::Skipped(s) => assert_eq!(&s.event_id, label, "{} record {n}", path.display()),
            other => panic!(
                "{} record {n}: passed over as {label}, but yields {other:?}",
                path.display()
            ),
        }
    }
    (passed_over, skipped)
}

#[test]
fn records_are_passed_over_unrendered_only_as_the_xml_reader_would_skip_them() {
    let mut files = Vec::new();
    for rel in ["datasets", "sigma_corpus"] {
        let Some(dir) = support::shared(rel) else {
            return;
        };
        let before = files.len();
        evtx_files(&dir, &mut files);
        assert!(files.len() > before, "no EVTX file under {}", dir.display());
    }
    let (mut passed_over, mut skipped) = (0, 0);
    for file in &files {
        let (p, s) = check_file(file);
        passed_over += p;
        skipped += s;
    }
    println!("{passed_over} of {skipped} skipped records passed over unrendered");
    // The common shapes (Security and Sysmon templates) are all decided before rendering; a
    // change that stopped reading them would still agree, so say so here.
    assert!(
        2 * passed_over > skipped,
        "only {passed_over} of {skipped} skipped records were passed over unrendered"
    );
}
