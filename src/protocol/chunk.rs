//! Turns one execute body into one reply body through a [`RowProcessor`].
//!
//! A processor that offers a [`RowGate`](super::processor::RowGate) has most rows decided by
//! one bitmask pass that finds the row's end, searches the gate's substring literals and keeps
//! the comma positions, after which only the fields of whole-value literals are compared
//! ([`super::structural`]); the other rows are scanned field by field.
//!
//! Rows are copied verbatim whenever the reply's columns are the input's columns plus the
//! appended ones; only when an input column must be dropped (name clash with an appended
//! column) or a row is short of fields are rows rebuilt field by field, still from the raw field
//! bytes, never re-encoded.

use std::ops::Range;

use super::csv::{scan_record, write_field, CsvError, FieldSpan, RecordEnd};
use super::mv;
use super::parallel::Parallel;
use super::processor::{
    Cell, Columns, Emitter, GateValues, LazySlot, Message, Row, RowGate, RowProcessor, SlotColumns,
    Verdict,
};
use super::structural::{scan_row, RowCommas, RowShape};

/// A body that cannot be processed, located precisely.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("CSV header: {0}")]
    Header(CsvError),
    #[error("row {row} (body byte {offset}): {source}")]
    Row {
        row: usize,
        offset: usize,
        source: CsvError,
    },
    #[error(
        "row {row} (body byte {offset}) has {fields} fields but the header has {columns} columns"
    )]
    TooManyFields {
        row: usize,
        offset: usize,
        fields: usize,
        columns: usize,
    },
    #[error("row {row}: {message}")]
    Processor { row: usize, message: String },
}

/// Counts for one processed body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BodyStats {
    pub rows_in: usize,
    pub rows_out: usize,
    /// Rows decided by the processor's [`RowGate`](super::processor::RowGate) alone.
    pub rows_gated: usize,
}

/// Reusable state for processing bodies; keeping it across chunks means steady-state chunks
/// allocate nothing.
#[derive(Debug, Default)]
pub struct BodyProcessor {
    layout: Layout,
    header_spans: Vec<FieldSpan>,
    /// The session thread's rows: where the body stands, and the chunk's counts.
    rows: RowRunner,
    /// Other threads' share of a large body's rows ([`super::parallel`]).
    parallel: Parallel,
    header_done: bool,
    /// While the record at `pos` (or the header) is incomplete, the body length at which to scan
    /// it again ([`BodyProcessor::wait_for_more`]).
    retry_at: usize,
}

/// What a chunk's header fixes for all its rows. Read-only while rows are processed, so the
/// threads processing one chunk's rows share it.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    columns: Columns,
    slots: Vec<SlotColumns>,
    /// Input columns kept in the reply (all unless a name clashes with an appended column).
    kept: Vec<usize>,
    empty_suffix: Vec<u8>,
    field_tmp: Vec<u8>,
}

impl Layout {
    pub(crate) fn columns(&self) -> &Columns {
        &self.columns
    }

    /// Some input column is dropped from the reply: rows are rebuilt field by field.
    fn fieldwise(&self) -> bool {
        self.kept.len() != self.columns.len()
    }
}

/// One thread's rows: the scratch reused from row to row, where the next row starts and what
/// was counted. The session's thread has one, and so has each helper of a parallel chunk.
#[derive(Debug, Default)]
pub(crate) struct RowRunner {
    field_spans: Vec<FieldSpan>,
    lazy: Vec<LazySlot>,
    /// Which of `lazy` the row being processed decoded ([`Row`]'s `decoded`).
    decoded: std::cell::Cell<u64>,
    /// Where the row the gate scanned has its commas.
    row_commas: RowCommas,
    emitter: Emitter,
    mv_tmp: Vec<u8>,
    /// Start of the next record to process.
    pub(crate) pos: usize,
    /// `rows_in` also numbers the rows: the next row is the chunk's row `rows_in` (from 0).
    pub(crate) stats: BodyStats,
}

/// How [`RowRunner::run`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunEnd {
    /// Every row of the bytes given is processed.
    Done,
    /// The row at `pos` has not arrived whole.
    Waiting,
}

impl BodyProcessor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Processes a whole `body` and writes the reply body into `out` (cleared first). Messages
    /// the processor reports at the end of the chunk are appended to `messages`.
    pub fn process<P: RowProcessor + ?Sized>(
        &mut self,
        body: &[u8],
        processor: &mut P,
        out: &mut Vec<u8>,
        messages: &mut Vec<Message>,
    ) -> Result<BodyStats, BodyError> {
        self.begin(out);
        self.feed(body, true, processor, out)?;
        Ok(self.finish(processor, messages))
    }

    /// Starts a new body; `out` is cleared.
    pub fn begin(&mut self, out: &mut Vec<u8>) {
        out.clear();
        self.layout.columns.clear();
        self.header_done = false;
        self.rows.pos = 0;
        self.retry_at = 0;
        self.rows.stats = BodyStats::default();
        self.parallel.begin();
    }

    /// Processes every complete record of `body`, the part of the chunk body received so far
    /// (each call passes the same buffer, longer). With `complete`, `body` is the whole body and
    /// its last record may end without a newline. Processing rows while the rest of the body
    /// is still arriving overlaps the scan with the transfer. A processor that can be forked
    /// ([`RowProcessor::fork`]) may have a large body's rows processed on several threads; the
    /// reply is the same byte for byte.
    pub fn feed<P: RowProcessor + ?Sized>(
        &mut self,
        body: &[u8],
        complete: bool,
        processor: &mut P,
        out: &mut Vec<u8>,
    ) -> Result<(), BodyError> {
        if !complete && body.len() < self.retry_at {
            return Ok(());
        }
        if !self.header_done && !self.read_header(body, complete, processor, out)? {
            return Ok(());
        }
        self.parallel.run(
            &self.layout,
            (body, complete),
            &mut self.rows,
            processor,
            out,
        )?;
        let started = self.parallel.timer();
        let first_row = self.rows.stats.rows_in;
        let end = self
            .rows
            .run(&self.layout, (body, complete), usize::MAX, processor, out)?;
        self.parallel
            .observe(started, self.rows.stats.rows_in - first_row);
        if end == RunEnd::Waiting {
            self.wait_for_more(self.rows.pos, body.len());
        }
        Ok(())
    }

    /// How far the current body is processed: its bytes before this offset are never read
    /// again (the header's names are copied out, each row is read only while it is processed),
    /// so `protocol::prefetch` may give their memory back.
    pub fn consumed(&self) -> usize {
        if self.header_done {
            self.rows.pos
        } else {
            0
        }
    }

    /// Reads the header once it has arrived whole, binds the processor and writes the reply's
    /// header; `false` while it is still incomplete.
    fn read_header<P: RowProcessor + ?Sized>(
        &mut self,
        body: &[u8],
        complete: bool,
        processor: &mut P,
        out: &mut Vec<u8>,
    ) -> Result<bool, BodyError> {
        if complete && body.iter().all(|b| b.is_ascii_whitespace()) {
            self.header_done = true;
            self.rows.pos = body.len();
            return Ok(true);
        }
        let Some(header_end) =
            scan_complete(body, 0, complete, &mut self.header_spans).map_err(BodyError::Header)?
        else {
            self.wait_for_more(0, body.len());
            return Ok(false);
        };
        self.start_chunk(body, header_end.content_end, processor, out);
        self.parallel.start_chunk(processor);
        self.header_done = true;
        self.rows.pos = header_end.next;
        Ok(true)
    }

    /// The record starting at `from` is not complete in the `received` bytes: scan it again
    /// once the bytes pending since `from` have doubled, so a record that spans many reads is
    /// scanned O(its length) times in total, not once per read.
    fn wait_for_more(&mut self, from: usize, received: usize) {
        self.retry_at = from + 2 * (received - from);
    }

    /// Ends the body: the processor's end-of-chunk messages go to `messages`, also for a chunk
    /// without rows (a search with no results still gets its warnings).
    pub fn finish<P: RowProcessor + ?Sized>(
        &mut self,
        processor: &mut P,
        messages: &mut Vec<Message>,
    ) -> BodyStats {
        processor.end_chunk(messages);
        self.rows.stats
    }

    /// Reads the chunk's header, binds the processor's slots and writes the reply header.
    fn start_chunk<P: RowProcessor + ?Sized>(
        &mut self,
        body: &[u8],
        header_content_end: usize,
        processor: &mut P,
        out: &mut Vec<u8>,
    ) {
        let layout = &mut self.layout;
        layout.columns.clear();
        for span in &self.header_spans {
            layout.columns.push(super::csv::decode_owned(body, *span));
        }
        processor.bind_columns(&layout.columns, &mut layout.slots);

        let appended = processor.appended_columns();
        let n_appended = appended.len();
        layout.kept.clear();
        for (i, name) in layout.columns.names().iter().enumerate() {
            let clashes = appended.iter().any(|a| {
                name.as_slice() == a.as_bytes()
                    || (name.starts_with(b"__mv_") && &name[5..] == a.as_bytes())
            });
            if !clashes {
                layout.kept.push(i);
            }
        }
        if layout.fieldwise() {
            write_raw_fields(body, &self.header_spans, &layout.kept, out);
        } else {
            out.extend_from_slice(&body[..header_content_end]);
        }
        let mut first = layout.kept.is_empty();
        for prefix in ["", "__mv_"] {
            for name in appended {
                if !first {
                    out.push(b',');
                }
                first = false;
                layout.field_tmp.clear();
                layout.field_tmp.extend_from_slice(prefix.as_bytes());
                layout.field_tmp.extend_from_slice(name.as_bytes());
                write_field(&layout.field_tmp, out);
            }
        }
        out.push(b'\n');
        layout.empty_suffix.clear();
        layout.empty_suffix.resize(2 * n_appended, b',');
        if layout.kept.is_empty() && n_appended > 0 {
            layout.empty_suffix.pop();
        }
    }
}

impl RowRunner {
    /// Processes the complete rows of `body` from `pos` on, before row number `until_row`,
    /// writing their replies into `out`. With `complete`, `body` is the whole body and its last
    /// record may end without a newline.
    pub(crate) fn run<P: RowProcessor + ?Sized>(
        &mut self,
        layout: &Layout,
        (body, complete): (&[u8], bool),
        until_row: usize,
        processor: &mut P,
        out: &mut Vec<u8>,
    ) -> Result<RunEnd, BodyError> {
        let fieldwise = layout.fieldwise();
        while self.pos < body.len() && self.stats.rows_in < until_row {
            let gate = processor
                .row_gate()
                .filter(|g| !fieldwise && g.verdict != Verdict::Emit);
            let located = match self.scan_row_at(layout, body, gate, out) {
                Scanned::Decided => continue,
                Scanned::Incomplete if !complete => return Ok(RunEnd::Waiting),
                Scanned::Located(end) => Some(end),
                // Irregular quoting, a row too long for the kept masks, or the last row of
                // the body without its newline: the field scanner locates the fields.
                Scanned::Incomplete | Scanned::NeedsFields => None,
            };
            if !self.field_row(layout, body, complete, located, processor, out)? {
                return Ok(RunEnd::Waiting);
            }
        }
        Ok(RunEnd::Done)
    }

    /// The bitmask pass over the row at `pos`: finds its end and its fields, and decides a row
    /// holding none of the gate's literals without asking the processor.
    #[inline]
    fn scan_row_at(
        &mut self,
        layout: &Layout,
        body: &[u8],
        gate: Option<&RowGate>,
        out: &mut Vec<u8>,
    ) -> Scanned {
        let pos = self.pos;
        let needles = gate.and_then(|g| g.needles.as_ref());
        let (content_end, next, fields, literal) =
            match scan_row(body, pos, needles, &mut self.row_commas) {
                RowShape::Regular {
                    content_end,
                    next,
                    fields,
                    literal,
                } => (content_end, next, fields, literal),
                RowShape::Incomplete => return Scanned::Incomplete,
                RowShape::Irregular => return Scanned::NeedsFields,
            };
        if let Some(gate) = gate {
            let decided = !literal
                && fields == layout.columns.len()
                && !gate
                    .many
                    .as_ref()
                    .is_some_and(|many| many.any_in(&body[pos..content_end]))
                && !may_hold_whole_value(
                    body,
                    &self.row_commas,
                    content_end,
                    &gate.whole_values,
                    &layout.slots,
                );
            if decided {
                self.pos = next;
                self.stats.rows_in += 1;
                self.stats.rows_gated += 1;
                if gate.verdict == Verdict::Pass {
                    self.stats.rows_out += 1;
                    out.extend_from_slice(&body[pos..content_end]);
                    out.extend_from_slice(&layout.empty_suffix);
                    out.push(b'\n');
                }
                return Scanned::Decided;
            }
        }
        match self
            .row_commas
            .spans(body, content_end, &mut self.field_spans)
        {
            true => Scanned::Located(RecordEnd { content_end, next }),
            false => Scanned::NeedsFields,
        }
    }

    /// Asks the processor about the row at `pos` and writes its answer. Its fields are in
    /// `field_spans` when `located` (the row's end) is known, else the field scanner locates
    /// them; `false` when the row has not arrived whole yet.
    #[inline]
    fn field_row<P: RowProcessor + ?Sized>(
        &mut self,
        layout: &Layout,
        body: &[u8],
        complete: bool,
        located: Option<RecordEnd>,
        processor: &mut P,
        out: &mut Vec<u8>,
    ) -> Result<bool, BodyError> {
        let (pos, row) = (self.pos, self.stats.rows_in);
        let scanned = match located {
            Some(end) => Ok(Some(end)),
            None => scan_complete(body, pos, complete, &mut self.field_spans),
        };
        let end = match scanned {
            Ok(Some(end)) => end,
            Ok(None) => return Ok(false),
            Err(source) => {
                return Err(BodyError::Row {
                    row: row + 1,
                    offset: pos,
                    source,
                })
            }
        };
        let n_columns = layout.columns.len();
        if self.field_spans.len() > n_columns {
            return Err(BodyError::TooManyFields {
                row: row + 1,
                offset: pos,
                fields: self.field_spans.len(),
                columns: n_columns,
            });
        }
        let record = pos..end.content_end;
        self.pos = end.next;
        self.stats.rows_in += 1;
        let masked = located.is_some();
        let verdict = self.decide(layout, body, (record.clone(), masked), row, processor)?;
        let verbatim = !layout.fieldwise() && self.field_spans.len() == n_columns;
        let n_appended = processor.appended_columns().len();
        self.write_answer(layout, body, record, verdict, verbatim, n_appended, out);
        Ok(true)
    }

    /// The processor's verdict on the located row `record` (the chunk's row `row`, from 0);
    /// `masked` when the bitmask scan located its fields, so its masks in `row_commas` hold.
    #[inline]
    fn decide<P: RowProcessor + ?Sized>(
        &mut self,
        layout: &Layout,
        body: &[u8],
        (record, masked): (Range<usize>, bool),
        row: usize,
        processor: &mut P,
    ) -> Result<Verdict, BodyError> {
        self.reset_slots(layout.slots.len());
        self.emitter.clear();
        let view = Row {
            body,
            spans: &self.field_spans,
            bindings: &layout.slots,
            slots: &self.lazy,
            quotes: masked.then_some(&self.row_commas),
            decoded: &self.decoded,
            record,
            index: row,
        };
        processor
            .process_row(&view, &mut self.emitter)
            .map_err(|e| BodyError::Processor {
                row: row + 1,
                message: e.0,
            })
    }

    /// Writes the reply rows for a located row: none, the row with empty appended columns,
    /// or one row per emitted row.
    #[allow(clippy::too_many_arguments)]
    fn write_answer(
        &mut self,
        layout: &Layout,
        body: &[u8],
        record: Range<usize>,
        verdict: Verdict,
        verbatim: bool,
        n_appended: usize,
        out: &mut Vec<u8>,
    ) {
        match verdict {
            Verdict::Drop => {}
            Verdict::Pass => {
                self.stats.rows_out += 1;
                self.write_row_prefix(layout, body, record, verbatim, out);
                out.extend_from_slice(&layout.empty_suffix);
                out.push(b'\n');
            }
            Verdict::Emit => {
                let rows = self.emitter.finish();
                for r in 0..rows {
                    self.stats.rows_out += 1;
                    self.write_row_prefix(layout, body, record.clone(), verbatim, out);
                    self.write_appended(layout, r, n_appended, out);
                    out.push(b'\n');
                }
            }
        }
    }

    /// Writes the input part of an output row: the raw record, or its kept fields (padded).
    fn write_row_prefix(
        &self,
        layout: &Layout,
        body: &[u8],
        record: Range<usize>,
        verbatim: bool,
        out: &mut Vec<u8>,
    ) {
        if verbatim {
            out.extend_from_slice(&body[record]);
            return;
        }
        for (n, &column) in layout.kept.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            if let Some(span) = self.field_spans.get(column) {
                out.extend_from_slice(&body[span.range()]);
            }
        }
    }

    /// Writes `,plain…,mv…` for emitted row `row`: both fields of a column in one pass, the
    /// `__mv_` ones gathered in `mv_tmp` meanwhile.
    fn write_appended(
        &mut self,
        layout: &Layout,
        row: usize,
        n_appended: usize,
        out: &mut Vec<u8>,
    ) {
        let (cells, bytes) = self.emitter.row(row);
        let mv_fields = &mut self.mv_tmp;
        mv_fields.clear();
        let mut rest = cells;
        for column in 0..n_appended {
            if column > 0 || !layout.kept.is_empty() {
                out.push(b',');
            }
            mv_fields.push(b',');
            let n = rest.iter().take_while(|c| c.column == column).count();
            let (here, after) = rest.split_at(n);
            rest = after;
            match here {
                [Cell {
                    start,
                    end,
                    encoded: Some(split),
                    ..
                }] => {
                    out.extend_from_slice(&bytes[*start..*split]);
                    mv_fields.extend_from_slice(&bytes[*split..*end]);
                }
                _ => {
                    let values = here.iter().map(|c| &bytes[c.start..c.end]);
                    mv::write_fields(values, out, mv_fields);
                }
            }
        }
        out.extend_from_slice(mv_fields);
    }

    /// Prepares the `n_slots` slots for the next row: nothing is decoded until the processor
    /// asks.
    fn reset_slots(&mut self, n_slots: usize) {
        self.lazy.resize_with(n_slots, LazySlot::default);
        let mut decoded = self.decoded.take();
        if decoded & 1 << 63 != 0 {
            self.lazy.iter_mut().skip(63).for_each(LazySlot::reset);
            decoded &= !(1 << 63);
        }
        while decoded != 0 {
            if let Some(slot) = self.lazy.get_mut(decoded.trailing_zeros() as usize) {
                slot.reset();
            }
            decoded &= decoded - 1;
        }
    }
}

/// How the bitmask pass left a row.
enum Scanned {
    /// Decided by the gate and written.
    Decided,
    /// No row end in the bytes received so far.
    Incomplete,
    /// Every field located (in `field_spans`); the row ends there.
    Located(RecordEnd),
    /// The row needs the field scanner.
    NeedsFields,
}

/// Scans the record at `pos`: `Ok(None)` when it may continue past the bytes received so far
/// (only while the body is not `complete`).
fn scan_complete(
    body: &[u8],
    pos: usize,
    complete: bool,
    spans: &mut Vec<FieldSpan>,
) -> Result<Option<RecordEnd>, CsvError> {
    match scan_record(body, pos, spans) {
        Ok(end) if complete || end.content_end < body.len() => Ok(Some(end)),
        Ok(_) => Ok(None),
        Err(CsvError::UnterminatedQuote { .. }) if !complete => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a row the gate scanned may hold one of the gate's whole-value literals: one of the
/// bound fields equals one (ASCII case-insensitively), or cannot be told without decoding (a
/// non-empty `__mv_` companion, an escaped field, a row too long for its comma masks). Mirrors
/// how [`Row`] reads a slot: the `__mv_` companion when non-empty, else the plain field.
fn may_hold_whole_value(
    body: &[u8],
    commas: &RowCommas,
    content_end: usize,
    whole_values: &[GateValues],
    slots: &[SlotColumns],
) -> bool {
    for gate in whole_values {
        let Some(binding) = slots.get(gate.slot) else {
            return true;
        };
        if let Some(mv) = binding.mv {
            match commas.field(mv, content_end) {
                Some(span) if span.is_empty() => {}
                _ => return true,
            }
        }
        let Some(plain) = binding.plain else {
            continue;
        };
        let Some(span) = commas.field(plain, content_end) else {
            return true;
        };
        let (value, quoted) = match &body[span] {
            [b'"', inner @ .., b'"'] => (inner, true),
            [b'"', ..] => return true,
            plain => (plain, false),
        };
        if !gate.values.get(value).is_empty() {
            return true;
        }
        // A quoted value with `""` escapes decodes to a value holding `"`, which only a
        // literal holding `"` could equal.
        if quoted && gate.quote && value.contains(&b'"') {
            return true;
        }
    }
    false
}

/// Writes the raw fields `spans[kept]` joined by commas.
fn write_raw_fields(body: &[u8], spans: &[FieldSpan], kept: &[usize], out: &mut Vec<u8>) {
    for (n, &column) in kept.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        if let Some(span) = spans.get(column) {
            out.extend_from_slice(&body[span.range()]);
        }
    }
}
