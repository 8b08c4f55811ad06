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
        let found = self.matches(row)?;
        let annotation = found.rules.annotate(found.matched, &found.view());
        Some(ProcessMatch {
            rules: found.matched.to_vec(),
            annotation,
        })
    }

    /// The rules matching `row`, whose annotation the caller may write where it needs it
    /// without building an owned [`Annotation`]; `None` for a row no rule matches.
    pub fn matches<'d>(&'d mut self, row: &'d ProcessRow) -> Option<Matches<'d>> {
        let view = SlotRow {
            row,
            slots: &self.slots,
        };
        let matched = self.matcher.match_row(&self.rules, &self.selected, &view);
        (!matched.is_empty()).then_some(Matches {
            matched,
            rules: &self.rules,
            row,
            slots: &self.slots,
        })
    }
}

/// A process row some rules matched, borrowed from the detector that matched it.
pub struct Matches<'d> {
    matched: &'d [usize],
    rules: &'d RuleSet,
    row: &'d ProcessRow,
    slots: &'d [SlotField],
}

impl Matches<'_> {
    /// Indices of the matched rules (into [`RuleSet::rules`]), in rule order.
    pub fn rules(&self) -> &[usize] {
        self.matched
    }

    /// The names of the matched rules: the annotation's `detection` values.
    pub fn names(&self) -> impl Iterator<Item = &str> + '_ {
        let rules = self.rules.rules();
        self.matched
            .iter()
            .filter_map(|&i| rules.get(i))
            .map(|r| r.meta.name.as_str())
    }

    /// The values of the annotation's first [`Annotation::IDENTITY_FIELDS`] fields, which
    /// depend only on [`rules`](Self::rules): [`RuleSet::annotate_identity_into`].
    pub fn identity_into(&self, sink: &mut dyn FnMut(usize, &[u8])) {
        self.rules.annotate_identity_into(self.matched, sink);
    }

    /// The values of the annotation's other fields, filled from the row, `scratch` reused
    /// for rendered values: [`RuleSet::annotate_findings_into`].
    pub fn findings_into(&self, scratch: &mut Vec<u8>, sink: &mut dyn FnMut(usize, &[u8])) {
        self.rules
            .annotate_findings_into(self.matched, &self.view(), scratch, sink);
    }

    fn view(&self) -> SlotRow<'_> {
        SlotRow {
            row: self.row,
            slots: self.slots,
        }
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
