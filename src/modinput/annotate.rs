//! `annotate = true`: the netdiscover detections run on every event at ingest, and events
//! that match get the detection and risk fields (the brief's annotation contract) next to
//! their CIM fields — the same fields `| netdiscover` adds at search time.

use std::path::PathBuf;

use crate::ingest::{CimField, ProcessRow};
use crate::rules::{self, Matcher, Row, RulePlaces, RuleSet, Selected};

use super::follow::Annotator;
use super::source::ProcessRecord;

/// The loaded rules and the mapping from their field slots to CIM row fields, resolved once.
pub struct Detections {
    rules: RuleSet,
    selected: Selected,
    matcher: Matcher,
    slots: Vec<Option<CimField>>,
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
        let slots = rules
            .fields()
            .iter()
            .map(|name| CimField::from_name(rules::bare_field_name(name)))
            .collect();
        let selected = Selected::all(&rules);
        let matcher = Matcher::new(&rules);
        Ok((
            Detections {
                rules,
                selected,
                matcher,
                slots,
            },
            warnings.iter().map(|w| w.to_string()).collect(),
        ))
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// The detection fields for one event; empty when no rule matches.
    pub fn annotate(&mut self, record: &ProcessRecord) -> Vec<(String, Vec<String>)> {
        let row = SlotRow {
            row: &record.row,
            slots: &self.slots,
        };
        let matched = self.matcher.match_row(&self.rules, &self.selected, &row);
        if matched.is_empty() {
            return Vec::new();
        }
        let matched = matched.to_vec();
        let annotation = self.rules.annotate(&matched, &row);
        annotation
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

/// A CIM row seen through the rules' slots. An empty CIM value is an absent field.
struct SlotRow<'a> {
    row: &'a ProcessRow,
    slots: &'a [Option<CimField>],
}

impl SlotRow<'_> {
    fn get(&self, slot: usize) -> &str {
        match self.slots.get(slot) {
            Some(Some(field)) => self.row.get(*field),
            _ => "",
        }
    }
}

impl Row for SlotRow<'_> {
    fn value_count(&self, slot: usize) -> usize {
        usize::from(!self.get(slot).is_empty())
    }

    fn value(&self, slot: usize, _index: usize) -> &[u8] {
        self.get(slot).as_bytes()
    }
}
