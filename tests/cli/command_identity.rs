//! `| netdiscover` with the ESCU corpus on real process rows from ../shared/datasets: the
//! identity columns (detection, id, type, ATT&CK ids, stories) encoded once per set of
//! matched rules reply byte for byte as the same values written row by row, including rows
//! that several rules match (the lists are unions then).

use crate::command_gate::bodies;
use crate::support::repo;
use crate::support::rules::escu_corpus;
use netdiscover::cli::command::{Mode, RulesProcessor};
use netdiscover::protocol::BodyProcessor;
use netdiscover::rules::{shipped_places, RuleSet, Selected};

#[test]
fn identity_columns_encoded_once_change_no_reply() {
    let (Some(bodies), Some((detections, macros))) = (bodies(), escu_corpus()) else {
        return;
    };
    let mut places = shipped_places(&repo("target/debug/netdiscover"));
    places.extend([detections, macros]);
    let (set, _) = RuleSet::load(&places);
    assert!(set.len() > 300, "{}", set.len());
    for mode in [Mode::Annotate, Mode::Filter] {
        let selected = Selected::all(&set);
        let mut encoded = RulesProcessor::new(set.clone(), selected.clone(), mode);
        let mut by_value = RulesProcessor::new(set.clone(), selected, mode);
        by_value.set_encoded_identity(false);
        let (mut out_a, mut out_b, mut messages) = (Vec::new(), Vec::new(), Vec::new());
        let (mut annotated, mut several) = (0, 0);
        for (name, body, _) in &bodies {
            let a = BodyProcessor::new()
                .process(body, &mut encoded, &mut out_a, &mut messages)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let b = BodyProcessor::new()
                .process(body, &mut by_value, &mut out_b, &mut messages)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(a, b, "{name} {mode:?}");
            assert!(out_a == out_b, "{name} {mode:?}: replies differ");
            let mut reader = csv::ReaderBuilder::new().from_reader(out_a.as_slice());
            let headers = reader.headers().expect("header").clone();
            let detection = headers
                .iter()
                .position(|h| h == "detection")
                .expect("detection");
            for record in reader.records() {
                let names = record.expect("reply row")[detection].to_string();
                annotated += usize::from(!names.is_empty());
                several += usize::from(names.contains('\n'));
            }
        }
        println!("{mode:?}: {annotated} annotated rows, {several} by several rules");
        assert!(annotated > 100 && several > 10, "{annotated} {several}");
    }
}
