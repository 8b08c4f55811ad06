//! `| netdiscover`'s row gate on real process rows from ../shared/datasets: with the gate on,
//! the replies in every mode are byte for byte those with every row evaluated, and the gate
//! decides nearly every row by itself.

use crate::support::rules::*;
use crate::support::{repo, shared};
use netdiscover::cli::command::{Mode, RulesProcessor};
use netdiscover::protocol::BodyProcessor;
use netdiscover::rules::{shipped_places, RuleSet, Selected};

const COLUMNS: [&str; 9] = [
    "dest",
    "user",
    "parent_process_name",
    "parent_process",
    "process_name",
    "original_file_name",
    "process",
    "process_id",
    "process_path",
];

/// Every process event of the shared XML and bulk datasets as one `| tstats … by Processes.*
/// | drop_dm_object_name(Processes)`-style CSV body per file.
pub(crate) fn bodies() -> Option<Vec<(String, Vec<u8>, usize)>> {
    let datasets = shared("datasets")?;
    let files = xml_dataset_files(&datasets);
    let mut bodies = Vec::new();
    for file in files {
        let events = process_events(&read_text(&file));
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        writer.write_record(COLUMNS).expect("header");
        for event in &events {
            writer
                .write_record(COLUMNS.map(|c| event.get(c)))
                .expect("row");
        }
        let name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        bodies.push((name, writer.into_inner().expect("body"), events.len()));
    }
    Some(bodies)
}

fn shipped() -> RuleSet {
    let (set, warnings) = RuleSet::load(&shipped_places(&repo("target/debug/netdiscover")));
    assert!(warnings.is_empty(), "{warnings:?}");
    set
}

#[test]
fn the_gate_changes_no_reply_and_decides_most_real_rows() {
    let Some(bodies) = bodies() else {
        return;
    };
    let mut totals = (0usize, 0usize, 0usize);
    for mode in [Mode::Annotate, Mode::Filter, Mode::Risk] {
        let set = shipped();
        let selected = Selected::all(&set);
        let mut gated = RulesProcessor::new(set.clone(), selected.clone(), mode);
        let mut evaluated = RulesProcessor::new(set, selected, mode);
        evaluated.set_row_gate(false);
        let (mut bodies_a, mut bodies_b) = (BodyProcessor::new(), BodyProcessor::new());
        let (mut out_a, mut out_b, mut messages) = (Vec::new(), Vec::new(), Vec::new());
        let (mut rows, mut decided, mut out_rows) = (0, 0, 0);
        for (name, body, events) in &bodies {
            let a = bodies_a
                .process(body, &mut gated, &mut out_a, &mut messages)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let b = bodies_b
                .process(body, &mut evaluated, &mut out_b, &mut messages)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(a.rows_in, *events, "{name}");
            assert_eq!(
                (a.rows_in, a.rows_out),
                (b.rows_in, b.rows_out),
                "{name} {mode:?}"
            );
            assert!(out_a == out_b, "{name} {mode:?}: replies differ");
            assert_eq!(b.rows_gated, 0);
            rows += a.rows_in;
            decided += a.rows_gated;
            out_rows += a.rows_out;
        }
        println!(
            "{mode:?}: {rows} rows, {decided} decided by the gate ({:.2}%), {out_rows} out",
            100.0 * decided as f64 / rows as f64
        );
        assert!(rows > 30_000, "{rows}");
        // Rows naming netsh.exe or netstat.exe anywhere (near-misses included) are evaluated.
        assert!(decided * 100 >= rows * 99, "{decided} of {rows}");
        totals = (rows, decided, out_rows);
        match mode {
            Mode::Annotate => assert_eq!(out_rows, rows),
            // The 3 netsh positives (SOURCES.md), each with two risk objects (dest, user).
            Mode::Filter => assert_eq!(out_rows, 3),
            Mode::Risk => assert_eq!(out_rows, 6),
        }
    }
    assert!(totals.1 < totals.0, "some rows reach the rules");
}
