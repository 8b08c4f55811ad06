//! `annotate = true`: the netdiscover detections run on every event at ingest, and events
//! that match get the detection and risk fields (the brief's annotation contract) next to
//! their CIM fields — the same fields `| netdiscover` adds at search time.

use std::path::PathBuf;

use crate::detect::ProcessDetector;
use crate::rules::{self, RulePlaces};

use super::follow::Annotator;
use super::source::ProcessRecord;

/// The loaded rules and the mapping from their field slots to CIM row fields, resolved once.
pub struct Detections {
    detector: ProcessDetector,
}

impl Detections {
    /// Loads the rules from where the running executable finds them (shipped rules next to
    /// it, `<app>/local/rules`, `NETDISCOVER_RULES_DIR`). Returns the skipped-rule warnings
    /// to log. No rule at all is an error: annotation would silently do nothing.
    pub fn locate() -> Result<(Detections, Vec<String>), String> {
        Detections::load(&rules::locate(&[]))
    }

    /// Loads the rules from `places`.
    pub fn load(places: &RulePlaces) -> Result<(Detections, Vec<String>), String> {
        let (rules, warnings) = places.load();
        if rules.is_empty() {
            let searched: Vec<PathBuf> = places.all();
            return Err(format!(
                "no detection rules found (searched {searched:?}); set NETDISCOVER_RULES_DIR or \
                 install the app's bin/rules"
            ));
        }
        Ok((
            Detections {
                detector: ProcessDetector::new(rules),
            },
            warnings.iter().map(|w| w.to_string()).collect(),
        ))
    }

    pub fn rule_count(&self) -> usize {
        self.detector.rules().len()
    }

    /// The detection fields for one event; empty when no rule matches.
    pub fn annotate(&mut self, record: &ProcessRecord) -> Vec<(String, Vec<String>)> {
        let Some(found) = self.detector.detect(&record.row) else {
            return Vec::new();
        };
        found
            .annotation
            .fields()
            .iter()
            .filter(|(_, values)| !values.is_empty())
            .map(|(name, values)| (name.to_string(), values.to_vec()))
            .collect()
    }

    /// The follow loop's annotator.
    pub fn into_annotator(mut self) -> Annotator {
        Box::new(move |record| self.annotate(record))
    }
}
