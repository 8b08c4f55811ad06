//! The rules over CIM process rows from [`crate::ingest`]: the bridge `netdiscover scan` and the
//! modular input's `annotate = true` share. (`| netdiscover` reads rows from the protocol
//! instead; its bridge is `cli::command`.)

use std::sync::Arc;

use crate::ingest::{CimField, ProcessRow};
use crate::rules::{Annotation, Matcher, Row, RuleSet, Selected};

/// Every loaded rule, evaluated in one pass per process row.
pub struct ProcessDetector {
    rules: Arc<RuleSet>,
    selected: Selected,
    matcher: Matcher,
    /// What each slot of [`RuleSet::fields`] reads in a process row.
    slots: Vec<SlotField>,
}

/// A row some rule matched: the matched rules (indices into [`RuleSet::rules`]) and the
/// annotation fields.
pub struct ProcessMatch {
    pub rules: Vec<usize>,
    pub annotation: Annotation,
}

impl ProcessDetector {
    pub fn new(rules: RuleSet) -> ProcessDetector {
        ProcessDetector {
            selected: Selected::all(&rules),
            matcher: Matcher::new(&rules),
            slots: rules.fields().iter().map(|f| SlotField::of(f)).collect(),
            rules: Arc::new(rules),
        }
    }

    /// Another detector over the same compiled rules, with its own matching scratch state:
    /// one per thread.
    pub fn fork(&self) -> ProcessDetector {
        ProcessDetector {
            rules: Arc::clone(&self.rules),
            selected: self.selected.clone(),
            matcher: Matcher::new(&self.rules),
            slots: self.slots.clone(),
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// `None` for a row no rule matches.
    pub fn detect(&mut self, row: &ProcessRow) -> Option<ProcessMatch> {
        let view = SlotRow {
            row,
            slots: &self.slots,
        };
        let matched = self.matcher.match_row(&self.rules, &self.selected, &view);
        if matched.is_empty() {
            return None;
        }
        let rules = matched.to_vec();
        let annotation = self.rules.annotate(&rules, &view);
        Some(ProcessMatch { rules, annotation })
    }
}

/// Where a rule field is found in a process row: a CIM field, or an extra field under its
/// source name (Sigma rules read `Description`, `Company`, ... so).
#[derive(Clone)]
enum SlotField {
    Cim(CimField),
    Extra(String),
}

impl SlotField {
    fn of(name: &str) -> SlotField {
        match CimField::from_name(name) {
            Some(field) => SlotField::Cim(field),
            None => SlotField::Extra(name.to_string()),
        }
    }
}

/// A process row seen through the rules' slots. An empty value is an absent field.
struct SlotRow<'a> {
    row: &'a ProcessRow,
    slots: &'a [SlotField],
}

impl SlotRow<'_> {
    fn get(&self, slot: usize) -> &str {
        match self.slots.get(slot) {
            Some(SlotField::Cim(field)) => self.row.get(*field),
            Some(SlotField::Extra(name)) => self.row.extra(name),
            None => "",
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

    /// One lookup of the field (an extra field is found by name) for both answers.
    fn values_into<'s>(&'s self, slot: usize, out: &mut [&'s [u8]]) -> usize {
        let value = self.get(slot);
        if value.is_empty() {
            return 0;
        }
        if let Some(first) = out.first_mut() {
            *first = value.as_bytes();
        }
        1
    }
}
