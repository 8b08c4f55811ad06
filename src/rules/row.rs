//! The row abstraction: callers expose their columns by *slot*, the position of a field in
//! [`RuleSet::fields`](super::RuleSet::fields), so the hot path never looks a field up by name.

/// One event row as the rules see it.
///
/// `value_count(slot) == 0` means the field is absent. Empty values are ignored by the
/// matchers (an empty CIM field is treated as absent, as Splunk does not index empty values).
pub trait Row {
    /// How many values the field in `slot` has (several for a multivalue field).
    fn value_count(&self, slot: usize) -> usize;
    /// Value `index` (< `value_count(slot)`) of the field in `slot`, as raw bytes.
    fn value(&self, slot: usize, index: usize) -> &[u8];

    /// Writes the first values of the field in `slot` into `out` (as many as fit) and returns
    /// how many it has. One call where `value_count` and `value` would each locate the field
    /// again: rows that must decode or look up a field to answer override it.
    fn values_into<'s>(&'s self, slot: usize, out: &mut [&'s [u8]]) -> usize {
        let count = self.value_count(slot);
        for (index, place) in out.iter_mut().take(count).enumerate() {
            *place = self.value(slot, index);
        }
        count
    }
}

/// Calls `f` with every value of the field in `slot`, in order (empty ones included).
#[inline]
pub(crate) fn for_each_value<'s>(row: &'s dyn Row, slot: usize, mut f: impl FnMut(&'s [u8])) {
    let mut first: [&[u8]; 2] = [&[]; 2];
    let count = row.values_into(slot, &mut first);
    for index in 0..count {
        f(first
            .get(index)
            .copied()
            .unwrap_or_else(|| row.value(slot, index)));
    }
}

/// A simple owned row: one list of values per slot. Useful for tests and offline scans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnedRow {
    pub slots: Vec<Vec<Vec<u8>>>,
}

impl OwnedRow {
    /// An empty row with `n` slots.
    pub fn with_slots(n: usize) -> Self {
        OwnedRow {
            slots: vec![Vec::new(); n],
        }
    }
    /// Sets the values of one slot (ignored if out of range).
    pub fn set(&mut self, slot: usize, values: Vec<Vec<u8>>) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = values;
        }
    }
}

impl Row for OwnedRow {
    fn value_count(&self, slot: usize) -> usize {
        self.slots.get(slot).map_or(0, Vec::len)
    }
    fn value(&self, slot: usize, index: usize) -> &[u8] {
        self.slots
            .get(slot)
            .and_then(|v| v.get(index))
            .map_or(&[], Vec::as_slice)
    }

    fn values_into<'s>(&'s self, slot: usize, out: &mut [&'s [u8]]) -> usize {
        let values = self.slots.get(slot).map_or(&[][..], Vec::as_slice);
        for (place, value) in out.iter_mut().zip(values) {
            *place = value;
        }
        values.len()
    }
}

/// Strips the data-model prefix from a column name: `Processes.process` → `process`.
/// Rows may name fields either way; both map to the same slot.
pub fn bare_field_name(column: &str) -> &str {
    column.strip_prefix("Processes.").unwrap_or(column)
}
