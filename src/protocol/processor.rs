//! The seam between the protocol loop and whatever decides about rows (the rules engine).
//!
//! Designed so a non-matching row costs one scan of its bytes and one copy:
//! - the processor declares once which input fields it reads ([`RowProcessor::input_fields`]) and
//!   which columns it appends ([`RowProcessor::appended_columns`]);
//! - once per chunk header the loop maps those fields to the chunk's columns ("slots"), so no
//!   field is looked up by name per row;
//! - per row the processor sees only its slots' values, CSV-decoded and split into multivalue
//!   items on first access (a slot it never reads is never decoded), borrowed from the body
//!   unless an escape had to be undone;
//! - it answers [`Verdict::Pass`] (the row's original bytes go out verbatim followed by empty
//!   appended columns), [`Verdict::Drop`], or [`Verdict::Emit`] with one or more rows of appended
//!   values written into the [`Emitter`] (several values in one column become a proper `__mv_`
//!   multivalue). Buffers are reused across rows: no allocation per row in steady state.
//!
//! Appended columns own their names: if the input already has a column with an appended
//! column's name (or its `__mv_` companion), for instance because `| netdiscover` runs twice in
//! one search, the input column is dropped from the reply and the processor's value takes its
//! place. Re-running the command therefore replaces annotations instead of stacking stale ones.

use std::cell::{self, OnceCell};
use std::fmt;
use std::ops::Range;

use super::csv::{decode_field, Decoded, FieldKind, FieldSpan};
use super::mv;
use super::needles::{Needles, MAX_NEEDLES};
use super::structural::RowCommas;
use crate::literals::{Literals, WholeValues};

/// A processor's answer for one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Send the row unchanged, with every appended column empty.
    Pass,
    /// Send nothing for this row.
    Drop,
    /// Send the row once per row written into the [`Emitter`], each with its appended values.
    Emit,
}

/// An error a processor reports for a row; the session answers with it and exits 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProcessError(pub String);

/// Inspector message severity, as splunkd spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// One inspector message shown under the search bar and in the Job Inspector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub level: Level,
    pub text: String,
}

/// The columns of one chunk's header, decoded.
#[derive(Debug, Default)]
pub struct Columns {
    names: Vec<Vec<u8>>,
}

impl Columns {
    pub(crate) fn clear(&mut self) {
        self.names.clear();
    }

    pub(crate) fn push(&mut self, name: Vec<u8>) {
        self.names.push(name);
    }

    /// Column names in input order (`__mv_` companions included).
    pub fn names(&self) -> &[Vec<u8>] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// Index of the column named exactly `name`.
    pub fn position(&self, name: &[u8]) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// The plain column `name` and its `__mv_name` companion, where present.
    pub fn field(&self, name: &str) -> SlotColumns {
        let mut mv = Vec::with_capacity(name.len() + 5);
        mv.extend_from_slice(b"__mv_");
        mv.extend_from_slice(name.as_bytes());
        SlotColumns {
            plain: self.position(name.as_bytes()),
            mv: self.position(&mv),
        }
    }
}

/// Where a slot's values come from in the current chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlotColumns {
    pub plain: Option<usize>,
    pub mv: Option<usize>,
}

/// Location of one decoded value: in the chunk body, or in its slot's own scratch buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ValueRef {
    Body(usize, usize),
    Scratch(usize, usize),
}

/// One slot's decoded values for the current row. Buffers are recycled across rows.
#[derive(Debug, Default)]
pub(crate) struct SlotValues {
    refs: Vec<ValueRef>,
    scratch: Vec<u8>,
    mv_text: Vec<u8>,
}

impl SlotValues {
    /// Decodes the slot bound to `binding` from the row whose field spans are `spans` (and
    /// whose quotes are in `quotes` when the bitmask scan located them).
    fn decode(
        &mut self,
        body: &[u8],
        spans: &[FieldSpan],
        quotes: Option<&RowCommas>,
        binding: SlotColumns,
    ) {
        self.refs.clear();
        self.scratch.clear();
        let mv_span = binding
            .mv
            .and_then(|c| spans.get(c).copied())
            .filter(|s| !s.is_empty());
        if let Some(span) = mv_span {
            self.decode_mv(body, span, quotes);
        } else if let Some(span) = binding.plain.and_then(|c| spans.get(c).copied()) {
            match decode_span(body, span, quotes, &mut self.scratch) {
                Decoded::Borrowed(s, e) if e > s => self.refs.push(ValueRef::Body(s, e)),
                Decoded::Scratch(s, e) if e > s => self.refs.push(ValueRef::Scratch(s, e)),
                _ => {}
            }
        }
    }

    /// Splits a non-empty `__mv_` field into its items.
    fn decode_mv(&mut self, body: &[u8], span: FieldSpan, quotes: Option<&RowCommas>) {
        self.mv_text.clear();
        let (text, in_body): (&[u8], Option<usize>) =
            match decode_span(body, span, quotes, &mut self.mv_text) {
                Decoded::Borrowed(s, e) => (&body[s..e], Some(s)),
                Decoded::Scratch(s, e) => (&self.mv_text[s..e], None),
            };
        let scratch = &mut self.scratch;
        let values = &mut self.refs;
        mv::decode_items(text, |item| {
            let raw = &text[item.start..item.end];
            match (item.escaped, in_body) {
                (false, Some(base)) => {
                    values.push(ValueRef::Body(base + item.start, base + item.end))
                }
                _ => {
                    let s = scratch.len();
                    if item.escaped {
                        mv::unescape_into(raw, scratch);
                    } else {
                        scratch.extend_from_slice(raw);
                    }
                    values.push(ValueRef::Scratch(s, scratch.len()));
                }
            }
        });
    }
}

/// [`decode_field`], with an escaped field's `""` pairs taken from the row's quote masks when
/// there are some.
fn decode_span(
    body: &[u8],
    span: FieldSpan,
    quotes: Option<&RowCommas>,
    scratch: &mut Vec<u8>,
) -> Decoded {
    match quotes {
        Some(quotes) => quotes.decode(body, span, scratch),
        None => decode_field(body, span, scratch),
    }
}

/// One slot of the current row, decoded on first access: most rows are decided by a few short
/// fields, so the long ones (`process`, often `""`-escaped) are never decoded for them. Access
/// goes through `&Row` (the rules engine's `Row` trait takes `&self`), hence the cells: the
/// decoded values live in a `OnceCell` for the row, and their buffers go back to `spare` when
/// the loop moves to the next row, so steady state allocates nothing.
#[derive(Default)]
pub(crate) struct LazySlot {
    decoded: OnceCell<SlotValues>,
    spare: cell::Cell<SlotValues>,
}

impl LazySlot {
    /// Forgets the previous row's values, keeping their buffers.
    pub(crate) fn reset(&mut self) {
        if let Some(values) = self.decoded.take() {
            self.spare.set(values);
        }
    }
}

impl fmt::Debug for LazySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazySlot")
            .field("decoded", &self.decoded.get().is_some())
            .finish()
    }
}

/// The values of the processor's slots for one row, decoded on demand and borrowed from the
/// chunk body or the slot's scratch buffer.
pub struct Row<'a> {
    pub(crate) body: &'a [u8],
    pub(crate) spans: &'a [FieldSpan],
    pub(crate) bindings: &'a [SlotColumns],
    pub(crate) slots: &'a [LazySlot],
    /// The row's comma and quote masks when the bitmask scan located its fields (`spans`
    /// then came from them); `None` when the field scanner did.
    pub(crate) quotes: Option<&'a RowCommas>,
    /// Bit `s` set once slot `s` is decoded (bit 63: some slot from 63 on), so the loop resets
    /// only those for the next row.
    pub(crate) decoded: &'a cell::Cell<u64>,
    pub(crate) record: Range<usize>,
    pub(crate) index: usize,
}

impl<'a> Row<'a> {
    fn decoded(&self, slot: usize) -> Option<&'a SlotValues> {
        let lazy = self.slots.get(slot)?;
        // Read again and again in a row: the decoded values without setting up a decode.
        if let Some(values) = lazy.decoded.get() {
            return Some(values);
        }
        let binding = self.bindings.get(slot).copied().unwrap_or_default();
        let (body, spans, quotes) = (self.body, self.spans, self.quotes);
        Some(lazy.decoded.get_or_init(|| {
            self.decoded.set(self.decoded.get() | 1 << slot.min(63));
            let mut values = lazy.spare.take();
            values.decode(body, spans, quotes, binding);
            values
        }))
    }

    /// The slot's value when it needs no decoding (no `__mv_` value, and a plain or `"…"` field
    /// without escapes): `Some(None)` for an empty or absent field, `None` when the slot must
    /// be decoded. The common case, so it skips the cell entirely; mirrors [`SlotValues::decode`].
    fn direct(&self, slot: usize) -> Option<Option<&'a [u8]>> {
        let binding = *self.bindings.get(slot)?;
        if let Some(column) = binding.mv {
            if self.spans.get(column).is_some_and(|s| !s.is_empty()) {
                return None;
            }
        }
        let Some(span) = binding.plain.and_then(|c| self.spans.get(c)) else {
            return Some(None);
        };
        let (start, end) = match span.kind {
            FieldKind::Plain => (span.start, span.end),
            FieldKind::Quoted => (span.start + 1, span.end - 1),
            FieldKind::Escaped => return None,
        };
        Some((end > start).then(|| &self.body[start..end]))
    }

    /// Every value of the field in `slot`, in order: several for a multivalue field, none when
    /// the column is absent or empty (Splunk's null).
    pub fn values(&self, slot: usize) -> Values<'a> {
        let mut values = Values {
            body: self.body,
            scratch: &[],
            single: None,
            refs: [].iter(),
        };
        if let Some(single) = self.direct(slot) {
            values.single = single;
        } else if let Some(v) = self.decoded(slot) {
            values.scratch = &v.scratch;
            values.refs = v.refs.iter();
        }
        values
    }

    /// Writes the first values of the field in `slot` into `out` (as many as fit) and returns
    /// how many it has: the field is located once for all of them.
    pub fn values_into<'s>(&self, slot: usize, out: &mut [&'s [u8]]) -> usize
    where
        'a: 's,
    {
        match self.direct(slot) {
            Some(single) => {
                if let (Some(value), Some(place)) = (single, out.first_mut()) {
                    *place = value;
                }
                usize::from(single.is_some())
            }
            None => {
                let Some(decoded) = self.decoded(slot) else {
                    return 0;
                };
                for (place, value) in out.iter_mut().zip(&decoded.refs) {
                    *place = match *value {
                        ValueRef::Body(s, e) => &self.body[s..e],
                        ValueRef::Scratch(s, e) => &decoded.scratch[s..e],
                    };
                }
                decoded.refs.len()
            }
        }
    }

    /// How many values the field in `slot` has (the shape of the rules engine's `Row` trait).
    pub fn value_count(&self, slot: usize) -> usize {
        match self.direct(slot) {
            Some(single) => usize::from(single.is_some()),
            None => self.decoded(slot).map_or(0, |v| v.refs.len()),
        }
    }

    /// Value `index` of the field in `slot`; empty when out of range.
    pub fn value(&self, slot: usize, index: usize) -> &'a [u8] {
        self.values(slot).nth(index).unwrap_or_default()
    }

    /// The first value of the field in `slot`, if any.
    pub fn first(&self, slot: usize) -> Option<&'a [u8]> {
        self.values(slot).next()
    }

    /// The row's raw CSV bytes as received (terminator excluded).
    pub fn raw(&self) -> &'a [u8] {
        &self.body[self.record.clone()]
    }

    /// The row's position in its chunk, from 0.
    pub fn index(&self) -> usize {
        self.index
    }
}

/// Iterator over one slot's values.
pub struct Values<'a> {
    body: &'a [u8],
    scratch: &'a [u8],
    /// A value that needed no decoding (then `refs` is empty).
    single: Option<&'a [u8]>,
    refs: std::slice::Iter<'a, ValueRef>,
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if let Some(value) = self.single.take() {
            return Some(value);
        }
        self.refs.next().map(|r| match *r {
            ValueRef::Body(s, e) => &self.body[s..e],
            ValueRef::Scratch(s, e) => &self.scratch[s..e],
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.refs.len() + usize::from(self.single.is_some());
        (n, Some(n))
    }
}

impl ExactSizeIterator for Values<'_> {}

/// Collects the rows a processor emits for one input row: values per appended column.
#[derive(Debug, Default)]
pub struct Emitter {
    bytes: Vec<u8>,
    cells: Vec<Cell>,
    row_ends: Vec<usize>,
}

/// One value of an emitted row: appended column `column`, bytes `start..end` of the emitter;
/// or, with `encoded`, the column's two fields already encoded: the plain one up to `encoded`,
/// the `__mv_` one after it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cell {
    pub(crate) column: usize,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) encoded: Option<usize>,
}

impl Emitter {
    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.cells.clear();
        self.row_ends.clear();
    }

    /// Adds one value to appended column `column` (an index into
    /// [`RowProcessor::appended_columns`]) of the row being built. Several values for one column
    /// make it multivalue.
    pub fn push(&mut self, column: usize, value: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(value);
        self.cells.push(Cell {
            column,
            start,
            end: self.bytes.len(),
            encoded: None,
        });
    }

    /// Sets appended column `column` of the row being built to fields already encoded:
    /// `plain` and `mv` are its plain and `__mv_` CSV fields exactly as the reply carries them
    /// ([`mv::write_fields`] writes them). For values that do not change from row to row,
    /// encoded once and then copied. The column must get no other value in this row.
    pub fn push_encoded(&mut self, column: usize, plain: &[u8], mv: &[u8]) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(plain);
        let encoded = Some(self.bytes.len());
        self.bytes.extend_from_slice(mv);
        self.cells.push(Cell {
            column,
            start,
            end: self.bytes.len(),
            encoded,
        });
    }

    /// [`push_encoded`](Self::push_encoded) for the consecutive columns from `first`, whose
    /// fields lie back to back in `bytes`, copied at once: column `first + i`'s plain field is
    /// `bytes[bounds[i].0..bounds[i].1]`, its `__mv_` field `bytes[bounds[i].1..bounds[i].2]`.
    pub fn push_encoded_columns(
        &mut self,
        first: usize,
        bytes: &[u8],
        bounds: &[(usize, usize, usize)],
    ) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(bytes);
        let cells = bounds
            .iter()
            .enumerate()
            .map(|(i, &(start, split, end))| Cell {
                column: first + i,
                start: base + start,
                end: base + end,
                encoded: Some(base + split),
            });
        self.cells.extend(cells);
    }

    /// Finishes the row being built; the next [`push`](Self::push) starts another output row.
    pub fn end_row(&mut self) {
        self.row_ends.push(self.cells.len());
    }

    /// Closes a row left open and returns how many rows were emitted. Each row's cells are
    /// then grouped by column (a stable sort keeps each column's values in push order).
    pub(crate) fn finish(&mut self) -> usize {
        let last = self.row_ends.last().copied().unwrap_or(0);
        if self.cells.len() > last || self.row_ends.is_empty() {
            self.row_ends.push(self.cells.len());
        }
        let mut start = 0;
        for &end in &self.row_ends {
            self.cells[start..end].sort_by_key(|c| c.column);
            start = end;
        }
        self.row_ends.len()
    }

    /// The cells of emitted row `row` grouped by column (after [`finish`]), and the bytes
    /// their ranges point into.
    ///
    /// [`finish`]: Self::finish
    pub(crate) fn row(&self, row: usize) -> (&[Cell], &[u8]) {
        let start = if row == 0 { 0 } else { self.row_ends[row - 1] };
        (&self.cells[start..self.row_ends[row]], &self.bytes)
    }
}

/// A processor's promise about rows it does not care about: a row that holds none of the
/// gate's literals gets `verdict`, exactly as if [`RowProcessor::process_row`] had been called.
/// A literal is either a whole value of one slot (`process_name=netsh.exe`), checked on that
/// field alone, or a substring of any field, searched in the row's raw bytes (a decoded value's
/// substring is in the raw bytes unless it holds a `"`, written `""`, or a `$`, written `$$` in
/// `__mv_`). Both ASCII case-insensitively. The rules engine can promise this because every
/// selected rule needs some literal in some field. Such rows then cost one bitmask scan for
/// their end (and the substring literals), not a field scan.
#[derive(Debug, Clone)]
pub struct RowGate {
    /// Substring literals when there are at most [`MAX_NEEDLES`](super::needles::MAX_NEEDLES):
    /// probed in the same pass that finds the row's end.
    pub needles: Option<Needles>,
    /// More substring literals: searched in the row once its end is known.
    pub(crate) many: Option<Literals>,
    /// Whole-value literals, per slot.
    pub(crate) whole_values: Vec<GateValues>,
    /// [`Verdict::Pass`] or [`Verdict::Drop`]; a gate saying [`Verdict::Emit`] is ignored.
    pub verdict: Verdict,
}

/// The whole-value literals of one slot.
#[derive(Debug, Clone)]
pub(crate) struct GateValues {
    pub slot: usize,
    pub values: WholeValues,
    /// Some value holds a `"`, which a quoted field writes as `""`.
    pub quote: bool,
}

/// One literal of a [`RowGate`].
#[derive(Debug, Clone, Copy)]
pub enum GateLiteral<'a> {
    /// The whole value of the field in this slot.
    WholeValue { slot: usize, value: &'a [u8] },
    /// A substring of any field.
    Anywhere(&'a [u8]),
}

impl RowGate {
    /// A gate for a processor that decides nothing unless some field's decoded value contains
    /// one of `literals`: [`RowGate::new`] with substring literals only.
    pub fn for_values<L: AsRef<[u8]>>(literals: &[L], verdict: Verdict) -> Option<RowGate> {
        let literals: Vec<GateLiteral<'_>> = literals
            .iter()
            .map(|l| GateLiteral::Anywhere(l.as_ref()))
            .collect();
        RowGate::new(&literals, verdict)
    }

    /// A gate over `literals`. A substring literal holding `"` or `$` is encoded differently
    /// in the raw bytes, so its longest run without them stands in for it. `None` (no gate)
    /// when that leaves fewer than 3 bytes of some substring literal (too short to filter
    /// anything), when a whole value is empty, or when there is no literal.
    pub fn new(literals: &[GateLiteral<'_>], verdict: Verdict) -> Option<RowGate> {
        if verdict == Verdict::Emit || literals.is_empty() {
            return None;
        }
        let mut anywhere: Vec<Vec<u8>> = Vec::new();
        let mut whole: Vec<(usize, Vec<&[u8]>)> = Vec::new();
        for literal in literals {
            match *literal {
                GateLiteral::Anywhere(bytes) => {
                    let longest = bytes
                        .split(|&b| b == b'"' || b == b'$')
                        .max_by_key(|run| run.len())
                        .unwrap_or_default()
                        .to_ascii_lowercase();
                    if longest.len() < 3 {
                        return None;
                    }
                    if !anywhere.contains(&longest) {
                        anywhere.push(longest);
                    }
                }
                GateLiteral::WholeValue { slot, value } => {
                    if value.is_empty() {
                        return None;
                    }
                    match whole.iter_mut().find(|(s, _)| *s == slot) {
                        Some((_, values)) => values.push(value),
                        None => whole.push((slot, vec![value])),
                    }
                }
            }
        }
        let (needles, many) = match anywhere.len() {
            0 => (None, None),
            n if n <= MAX_NEEDLES => (Some(Needles::new(&anywhere)?), None),
            _ => (None, Some(Literals::new(&anywhere)?)),
        };
        let whole_values = whole
            .into_iter()
            .map(|(slot, values)| {
                let values = WholeValues::new(&values);
                GateValues {
                    slot,
                    quote: values.any_holds(b'"'),
                    values,
                }
            })
            .collect();
        Some(RowGate {
            needles,
            many,
            whole_values,
            verdict,
        })
    }

    /// How many substring literals the gate searches (probed in the scan or after it).
    pub fn substring_literals(&self) -> usize {
        self.needles.as_ref().map_or(0, |n| n.literals().count())
            + self.many.as_ref().map_or(0, Literals::len)
    }
}

/// Decides about rows. The loop calls [`bind_columns`](Self::bind_columns) once per chunk and
/// [`process_row`](Self::process_row) once per row.
pub trait RowProcessor {
    /// Names of the fields the processor reads; slot `i` is field `i`.
    fn input_fields(&self) -> &[String];

    /// Names of the columns appended to every row of the reply (fixed for the session).
    fn appended_columns(&self) -> &[String];

    /// Maps each slot to the chunk's columns. The default binds field `f` to the column `f` and
    /// its `__mv_f` companion.
    fn bind_columns(&mut self, columns: &Columns, slots: &mut Vec<SlotColumns>) {
        slots.clear();
        slots.extend(self.input_fields().iter().map(|f| columns.field(f)));
    }

    /// A promise that lets the loop decide most rows without locating their fields: see
    /// [`RowGate`]. `None` (the default) sends every row to [`process_row`](Self::process_row).
    fn row_gate(&self) -> Option<&RowGate> {
        None
    }

    /// Decides about one row.
    fn process_row(&mut self, row: &Row<'_>, emit: &mut Emitter) -> Result<Verdict, ProcessError>;

    /// Called at the end of every execute chunk (after its last row, if it has rows); messages
    /// added here go into that chunk's reply.
    fn end_chunk(&mut self, _messages: &mut Vec<Message>) {}

    /// How many threads may process a chunk's rows (only with [`fork`](Self::fork)).
    fn threads(&self) -> Threads {
        Threads::Fixed(1)
    }

    /// A copy of this processor for another thread, or `None` (the default) when rows must be
    /// processed on one thread. A fork promises that its verdict and emitted values for a row
    /// depend only on that row and the bound columns, never on the rows processed before (the
    /// loop may process a row twice and keep one answer); the loop binds it to every chunk's
    /// columns and never calls its [`end_chunk`](Self::end_chunk), so its messages are lost.
    fn fork(&self) -> Option<Box<dyn RowProcessor + Send>> {
        None
    }
}

/// How many threads process a large chunk's rows when the processor can be forked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// Up to this many threads (at most the machine's cores), the extra ones only while rows
    /// cost enough to be worth them (`protocol::parallel`).
    Auto(usize),
    /// This many threads for every large chunk (at least 1).
    Fixed(usize),
}

/// Passes every row through unchanged and appends nothing.
#[derive(Debug, Default)]
pub struct Passthrough;

impl RowProcessor for Passthrough {
    fn input_fields(&self) -> &[String] {
        &[]
    }

    fn appended_columns(&self) -> &[String] {
        &[]
    }

    fn process_row(
        &mut self,
        _row: &Row<'_>,
        _emit: &mut Emitter,
    ) -> Result<Verdict, ProcessError> {
        Ok(Verdict::Pass)
    }
}

impl<P: RowProcessor + ?Sized> RowProcessor for Box<P> {
    fn input_fields(&self) -> &[String] {
        (**self).input_fields()
    }
    fn appended_columns(&self) -> &[String] {
        (**self).appended_columns()
    }
    fn bind_columns(&mut self, columns: &Columns, slots: &mut Vec<SlotColumns>) {
        (**self).bind_columns(columns, slots)
    }
    fn row_gate(&self) -> Option<&RowGate> {
        (**self).row_gate()
    }
    fn process_row(&mut self, row: &Row<'_>, emit: &mut Emitter) -> Result<Verdict, ProcessError> {
        (**self).process_row(row, emit)
    }
    fn end_chunk(&mut self, messages: &mut Vec<Message>) {
        (**self).end_chunk(messages)
    }
    fn threads(&self) -> Threads {
        (**self).threads()
    }
    fn fork(&self) -> Option<Box<dyn RowProcessor + Send>> {
        (**self).fork()
    }
}
