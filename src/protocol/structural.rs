//! Finds where a row ends and how many fields it has, 64 bytes at a time, without locating
//! each field; on the way it keeps the comma masks (so a few fields can be located afterwards)
//! and searches substring literals.
//!
//! Most rows of a chunk are decided by a [`RowGate`] without decoding any field; for them the
//! loop needs the row's end, a field count and at most a few fields. All come from three
//! bitmasks per 64-byte block (quote, comma, newline), the quoted regions from a prefix XOR of
//! the quote mask, as in simdjson. The prefix XOR reads every quote as a toggle, which is RFC 4180 only while quotes
//! sit where Splunk puts them: an opening quote right after a delimiter (or right after a
//! closing quote, the `""` escape), a closing quote right before a delimiter or another quote.
//! A row with a quote anywhere else is reported [`RowShape::Irregular`] and goes through
//! [`scan_record`](super::csv::scan_record), whose reading is authoritative; so is a row whose
//! closing quote is followed by `\r`. Each row is scanned from its own start, so one irregular
//! row cannot shift the quote parity of the next.
//!
//! [`RowGate`]: super::processor::RowGate

use super::csv::{decode_field, Decoded, FieldKind, FieldSpan};
use super::needles::{Needle, Needles, MAX_NEEDLES};

/// What [`scan_row`] found at a row start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowShape {
    /// A row ended by an unquoted `\n`, with regular quoting: `content_end` excludes the
    /// terminator (`\n` or `\r\n`), `next` is the start of the following row. `literal`:
    /// one of the literals searched for occurs in the row (or straddles its end).
    Regular {
        content_end: usize,
        next: usize,
        fields: usize,
        literal: bool,
    },
    /// No unquoted `\n` in the bytes available (and no irregular quote before their end).
    Incomplete,
    /// A quote the bitmask reading cannot vouch for: scan the row field by field.
    Irregular,
}

/// Scans the row starting at `start` (which must be a record start), looking for `literals`
/// (ASCII case-insensitively) on the way.
pub fn scan_row(
    body: &[u8],
    start: usize,
    literals: Option<&Needles>,
    commas: &mut RowCommas,
) -> RowShape {
    let needles = literals.map_or(&[][..], Needles::as_slice);
    #[cfg(target_arch = "x86_64")]
    if avx2_detected() {
        // SAFETY: the features `scan_row_avx2` and `scan_row_avx2_plain` are compiled for
        // were just detected.
        return unsafe {
            match needles.is_empty() {
                true => scan_row_avx2_plain(body, start, commas),
                false => scan_row_avx2(body, start, needles, commas),
            }
        };
    }
    scan_row_with(body, start, needles, commas, BlockMasks::of, prefix_xor)
}

/// Where a scanned row's unquoted commas (and its quotes) are, block by block, so that its
/// fields can be located afterwards without scanning it again.
#[derive(Debug, Clone)]
pub struct RowCommas {
    start: usize,
    masks: [u64; COMMA_BLOCKS],
    /// Every quote of the row, per block: a quoted field's last `""` and its pairs without a
    /// search.
    quotes: [u64; COMMA_BLOCKS],
    blocks: usize,
    /// The row ran past `COMMA_BLOCKS` blocks: fields beyond them cannot be located.
    overflow: bool,
}

/// Rows up to 2 KiB keep their comma masks.
const COMMA_BLOCKS: usize = 32;

impl Default for RowCommas {
    fn default() -> Self {
        RowCommas {
            start: 0,
            masks: [0; COMMA_BLOCKS],
            quotes: [0; COMMA_BLOCKS],
            blocks: 0,
            overflow: false,
        }
    }
}

impl RowCommas {
    fn begin(&mut self, start: usize) {
        self.start = start;
        self.blocks = 0;
        self.overflow = false;
    }

    #[inline(always)]
    fn push(&mut self, commas: u64, quotes: u64) {
        match (
            self.masks.get_mut(self.blocks),
            self.quotes.get_mut(self.blocks),
        ) {
            (Some(comma_slot), Some(quote_slot)) => {
                *comma_slot = commas;
                *quote_slot = quotes;
                self.blocks += 1;
            }
            _ => self.overflow = true,
        }
    }

    /// Calls `each` with every quote in `from..to` (body offsets inside the row's kept
    /// blocks), in order.
    #[inline]
    fn each_quote(&self, from: usize, to: usize, mut each: impl FnMut(usize)) {
        let (from, to) = (from - self.start, to - self.start);
        if to <= from {
            return;
        }
        for block in from / 64..=(to - 1) / 64 {
            let base = 64 * block;
            let Some(&mask) = self.quotes.get(block) else {
                return;
            };
            let mut mask = mask;
            if to - base < 64 {
                mask &= (1u64 << (to - base)) - 1;
            }
            if from > base {
                mask &= u64::MAX << (from - base);
            }
            while mask != 0 {
                each(self.start + base + mask.trailing_zeros() as usize);
                mask &= mask - 1;
            }
        }
    }

    /// [`decode_field`] of a field of the row last scanned as [`RowShape::Regular`], its `""`
    /// pairs read from the kept quote masks instead of searched for (falling back on
    /// [`decode_field`] for a span these masks do not describe).
    pub(crate) fn decode(&self, body: &[u8], span: FieldSpan, scratch: &mut Vec<u8>) -> Decoded {
        let described = !self.overflow
            && span.kind == FieldKind::Escaped
            && span.start >= self.start
            && span.close + 1 == span.end
            && span.start < span.escapes_end
            && span.escapes_end <= span.close;
        if !described {
            return decode_field(body, span, scratch);
        }
        let begin = scratch.len();
        // Every quote before `escapes_end` is half of a `""` pair: keep the first half.
        let mut copied = span.start + 1;
        self.each_quote(copied, span.escapes_end, |quote| {
            if quote >= copied {
                scratch.extend_from_slice(&body[copied..=quote]);
                copied = quote + 2;
            }
        });
        scratch.extend_from_slice(&body[copied.min(span.close)..span.close]);
        Decoded::Scratch(begin, scratch.len())
    }

    /// The last quote in `from..to` (body offsets inside the row's kept blocks).
    #[inline]
    fn last_quote(&self, from: usize, to: usize) -> Option<usize> {
        let (from, to) = (from - self.start, to - self.start);
        if to <= from {
            return None;
        }
        for block in (from / 64..=(to - 1) / 64).rev() {
            let base = 64 * block;
            let mut mask = *self.quotes.get(block)?;
            if to - base < 64 {
                mask &= (1u64 << (to - base)) - 1;
            }
            if from > base {
                mask &= u64::MAX << (from - base);
            }
            if mask != 0 {
                return Some(self.start + base + 63 - mask.leading_zeros() as usize);
            }
        }
        None
    }

    /// The raw span of field `index` of the row last scanned as [`RowShape::Regular`] with
    /// this `content_end`; `None` when the row has fewer fields, or when the field reaches
    /// past the blocks whose masks were kept.
    #[inline]
    pub fn field(&self, index: usize, content_end: usize) -> Option<std::ops::Range<usize>> {
        // Commas still to skip before the field starts (the field starts after comma
        // `index - 1`), then the field ends at the next comma.
        let mut skip = index;
        let mut start = (index == 0).then_some(self.start);
        for (block, &mask) in self.masks[..self.blocks].iter().enumerate() {
            let mut mask = mask;
            if start.is_none() {
                let count = mask.count_ones() as usize;
                if skip > count {
                    skip -= count;
                    continue;
                }
                for _ in 1..skip {
                    mask &= mask - 1;
                }
                start = Some(self.start + 64 * block + mask.trailing_zeros() as usize + 1);
                mask &= mask - 1;
            }
            if mask != 0 {
                let end = self.start + 64 * block + mask.trailing_zeros() as usize;
                return start.map(|s| s..end);
            }
        }
        match (start, self.overflow) {
            (Some(s), false) => Some(s..content_end.max(s)),
            _ => None,
        }
    }
}

impl RowCommas {
    /// Every field of the row last scanned as [`RowShape::Regular`] with this `content_end`,
    /// as [`scan_record`](super::csv::scan_record) finds them (a regular row's quotes sit
    /// only where that scanner's fast path expects them); `false` when the row ran past the
    /// blocks whose masks were kept.
    pub fn spans(&self, body: &[u8], content_end: usize, spans: &mut Vec<FieldSpan>) -> bool {
        if self.overflow {
            return false;
        }
        spans.clear();
        let mut field_start = self.start;
        for (block, &mask) in self.masks[..self.blocks].iter().enumerate() {
            let mut mask = mask;
            while mask != 0 {
                let comma = self.start + 64 * block + mask.trailing_zeros() as usize;
                spans.push(self.regular_field(body, field_start, comma));
                field_start = comma + 1;
                mask &= mask - 1;
            }
        }
        spans.push(self.regular_field(body, field_start, content_end.max(field_start)));
        true
    }

    /// The span of the field `start..end` of a regular row: unquoted, or quoted with its
    /// closing quote last and every quote inside part of a `""` pair, the last of which the
    /// quote masks give.
    #[inline]
    fn regular_field(&self, body: &[u8], start: usize, end: usize) -> FieldSpan {
        if end <= start || body[start] != b'"' {
            return FieldSpan {
                start,
                end,
                kind: FieldKind::Plain,
                escapes_end: start,
                close: start,
            };
        }
        let close = end - 1;
        let (kind, escapes_end) = match self.last_quote(start + 1, close) {
            None => (FieldKind::Quoted, start + 1),
            Some(last) => (FieldKind::Escaped, last + 1),
        };
        FieldSpan {
            start,
            end,
            kind,
            escapes_end,
            close,
        }
    }
}

/// AVX2 with the scalar instructions every AVX2 machine also has (CLMUL for the prefix XOR,
/// POPCNT and BMI1's TZCNT for the masks), detected once.
#[cfg(target_arch = "x86_64")]
#[inline]
fn avx2_detected() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static DETECTED: AtomicU8 = AtomicU8::new(0);
    match DETECTED.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("pclmulqdq")
                && std::arch::is_x86_feature_detected!("popcnt")
                && std::arch::is_x86_feature_detected!("bmi1");
            DETECTED.store(1 + u8::from(yes), Ordering::Relaxed);
            yes
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,popcnt,bmi1")]
fn scan_row_avx2(
    body: &[u8],
    start: usize,
    needles: &[Needle],
    commas: &mut RowCommas,
) -> RowShape {
    scan_row_with(
        body,
        start,
        needles,
        commas,
        |block, needles, probes| avx2_masks(block, needles, probes),
        |x| clmul_prefix_xor(x),
    )
}

/// [`scan_row_avx2`] without literals (a processor without a row gate): compiled apart, so
/// that nothing of the literal search is left in the loop.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,popcnt,bmi1")]
fn scan_row_avx2_plain(body: &[u8], start: usize, commas: &mut RowCommas) -> RowShape {
    scan_row_with(
        body,
        start,
        &[],
        commas,
        |block, _, probes| avx2_masks(block, &[], probes),
        |x| clmul_prefix_xor(x),
    )
}

/// The scan, generic over how a block's masks and the quote mask's prefix XOR are computed,
/// so that it compiles once for the x86_64 baseline and once for AVX2 + CLMUL.
#[inline(always)]
fn scan_row_with(
    body: &[u8],
    start: usize,
    needles: &[Needle],
    row_commas: &mut RowCommas,
    block_masks: impl Fn(&[u8], &[Needle], &mut ProbeMasks) -> BlockMasks,
    prefix_xor: impl Fn(u64) -> u64,
) -> RowShape {
    let mut probes: ProbeMasks = [(0, 0); MAX_NEEDLES];
    let mut search = NeedleSearch::new(needles);
    let len = body.len();
    let mut at = start;
    let mut carries = Carries::ROW_START;
    let mut commas = 0usize;
    row_commas.begin(start);
    while at < len {
        let available = len - at;
        let masks = match body.get(at..at + 64) {
            Some(block) => block_masks(block, needles, &mut probes),
            None => {
                let mut padded = [0u8; 64];
                padded[..available].copy_from_slice(&body[at..]);
                block_masks(&padded, needles, &mut probes)
            }
        };
        let valid = if available >= 64 {
            u64::MAX
        } else {
            (1u64 << available) - 1
        };
        let classes = carries.classify(&masks, &prefix_xor);
        let in_row = up_to_first_newline(classes.newline, valid);
        if carries.misplaced_quotes(&classes) & in_row != 0 {
            return RowShape::Irregular;
        }
        search.block(body, start, at, &probes, in_row);
        if classes.newline != 0 {
            let terminator = at + classes.newline.trailing_zeros() as usize;
            commas += (classes.comma & in_row).count_ones() as usize;
            row_commas.push(classes.comma & in_row, masks.quote & in_row);
            let content_end = if terminator > start && body[terminator - 1] == b'\r' {
                terminator - 1
            } else {
                terminator
            };
            return RowShape::Regular {
                content_end,
                next: terminator + 1,
                fields: commas + 1,
                literal: search.found && !needles.is_empty(),
            };
        }
        commas += classes.comma.count_ones() as usize;
        row_commas.push(classes.comma, masks.quote);
        carries = carries.next(&classes);
        at += 64;
    }
    RowShape::Incomplete
}

/// Calls `each(at, ends)` for every 64 bytes of `body[from..]` from `at = from` on (the last
/// ones zero-padded) until it returns `false`: bit `i` of `ends` is set where `body[at + i]` is
/// a newline after an even number of `"` since `from`, every quote read as a toggle. A quote where CSV allows none can
/// mislead this reading; whoever cuts rows by it must check the rows where they end
/// (`protocol::parallel` does). One pass of 64-byte masks instead of a stop at every quote.
pub(crate) fn unquoted_newlines(body: &[u8], from: usize, each: impl FnMut(usize, u64) -> bool) {
    #[cfg(target_arch = "x86_64")]
    if avx2_detected() {
        // SAFETY: the features `unquoted_newlines_avx2` is compiled for were just detected.
        return unsafe { unquoted_newlines_avx2(body, from, each) };
    }
    unquoted_newlines_with(body, from, each, BlockMasks::of, prefix_xor)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq,popcnt,bmi1")]
fn unquoted_newlines_avx2(body: &[u8], from: usize, each: impl FnMut(usize, u64) -> bool) {
    unquoted_newlines_with(
        body,
        from,
        each,
        |block, needles, probes| avx2_masks(block, needles, probes),
        |x| clmul_prefix_xor(x),
    )
}

#[inline(always)]
fn unquoted_newlines_with(
    body: &[u8],
    from: usize,
    mut each: impl FnMut(usize, u64) -> bool,
    block_masks: impl Fn(&[u8], &[Needle], &mut ProbeMasks) -> BlockMasks,
    prefix_xor: impl Fn(u64) -> u64,
) {
    let mut probes: ProbeMasks = [(0, 0); MAX_NEEDLES];
    let mut inside_carry = 0u64;
    let mut at = from;
    while at < body.len() {
        let masks = match body.get(at..at + 64) {
            Some(block) => block_masks(block, &[], &mut probes),
            None => {
                let mut padded = [0u8; 64];
                padded[..body.len() - at].copy_from_slice(&body[at..]);
                block_masks(&padded, &[], &mut probes)
            }
        };
        let inside = prefix_xor(masks.quote) ^ inside_carry;
        inside_carry = 0u64.wrapping_sub(inside >> 63);
        if !each(at, masks.newline & !inside) {
            return;
        }
        at += 64;
    }
}

/// A block's structural bytes, quotes taken into account.
struct Classes {
    inside: u64,
    open: u64,
    close: u64,
    newline: u64,
    comma: u64,
    delimiter: u64,
}

/// What one block tells the next about the quotes it ended in.
#[derive(Clone, Copy)]
struct Carries {
    /// All ones while the previous block ended inside quotes.
    inside: u64,
    /// Bit 0: the byte before the block is a delimiter or a closing quote.
    may_open: u64,
    /// Bit 0: the byte before the block is a closing quote.
    close: u64,
}

impl Carries {
    /// A row start counts as a delimiter.
    const ROW_START: Carries = Carries {
        inside: 0,
        may_open: 1,
        close: 0,
    };

    #[inline(always)]
    fn classify(&self, masks: &BlockMasks, prefix_xor: &impl Fn(u64) -> u64) -> Classes {
        let inside = prefix_xor(masks.quote) ^ self.inside;
        let newline = masks.newline & !inside;
        let comma = masks.comma & !inside;
        Classes {
            inside,
            open: masks.quote & inside,
            close: masks.quote & !inside,
            newline,
            comma,
            delimiter: newline | comma,
        }
    }

    /// Quotes CSV does not allow: one opening anywhere but at a field's start, or anything
    /// but a delimiter or a second quote after a closing one.
    #[inline(always)]
    fn misplaced_quotes(&self, c: &Classes) -> u64 {
        let may_open = ((c.delimiter | c.close) << 1) | self.may_open;
        let after_close = (c.close << 1) | self.close;
        (c.open & !may_open) | (after_close & !(c.delimiter | c.open))
    }

    #[inline(always)]
    fn next(&self, c: &Classes) -> Carries {
        Carries {
            inside: 0u64.wrapping_sub(c.inside >> 63),
            may_open: (c.delimiter | c.close) >> 63,
            close: c.close >> 63,
        }
    }
}

/// Bytes up to and including the first newline of the block (all valid bytes if none).
#[inline(always)]
fn up_to_first_newline(newline: u64, valid: u64) -> u64 {
    if newline == 0 {
        return valid;
    }
    match newline.trailing_zeros() {
        63 => u64::MAX,
        bit => (1u64 << (bit + 1)) - 1,
    }
}

/// The search for any needle in a row, one block at a time; pairs of probe bytes may
/// straddle two blocks.
struct NeedleSearch<'n> {
    needles: &'n [Needle],
    /// Per needle, the previous block's first-probe mask.
    first_carry: [u64; MAX_NEEDLES],
    found: bool,
}

impl<'n> NeedleSearch<'n> {
    fn new(needles: &'n [Needle]) -> Self {
        NeedleSearch {
            needles,
            first_carry: [0; MAX_NEEDLES],
            found: needles.is_empty(),
        }
    }

    #[inline(always)]
    fn block(&mut self, body: &[u8], start: usize, at: usize, probes: &ProbeMasks, in_row: u64) {
        if self.found {
            return;
        }
        for (n, needle) in self.needles.iter().enumerate() {
            let (first, second) = probes[n];
            let gap = (needle.second - needle.first) as u32;
            let first_shifted = match gap {
                0 => first,
                gap => first << gap | self.first_carry[n] >> (64 - gap),
            };
            self.first_carry[n] = first;
            // Bit i: the needle's second probe byte at `at + i`, its first probe in place.
            let mut candidates = second & first_shifted & in_row;
            while candidates != 0 {
                let probe_at = at + candidates.trailing_zeros() as usize;
                if let Some(needle_start) = probe_at.checked_sub(needle.second) {
                    if needle_start >= start && needle.is_at(body, needle_start) {
                        self.found = true;
                        return;
                    }
                }
                candidates &= candidates - 1;
            }
        }
    }
}

/// `bit i` = XOR of bits `0..=i`: set on an opening quote and the bytes it quotes, clear on
/// the closing quote.
#[inline(always)]
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// [`prefix_xor`] in one carry-less multiplication by all ones.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
#[inline]
fn clmul_prefix_xor(x: u64) -> u64 {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set1_epi8, _mm_set_epi64x,
    };
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// Bit `i` of each mask is set when byte `i` of a 64-byte block is that character.
struct BlockMasks {
    quote: u64,
    comma: u64,
    newline: u64,
}

/// Per needle: the masks of its first and second probe byte (case folded) in a block.
type ProbeMasks = [(u64, u64); MAX_NEEDLES];

impl BlockMasks {
    /// `block` must hold at least 64 bytes.
    #[inline(always)]
    fn of(block: &[u8], needles: &[Needle], probes: &mut ProbeMasks) -> BlockMasks {
        let block: &[u8; 64] = match block.first_chunk() {
            Some(b) => b,
            None => return BlockMasks::scalar(block, needles, probes),
        };
        #[cfg(target_arch = "x86_64")]
        {
            sse2_masks(block, needles, probes)
        }
        #[cfg(target_arch = "aarch64")]
        {
            neon_masks(block, needles, probes)
        }
        #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            BlockMasks::scalar(block, needles, probes)
        }
    }

    #[cold]
    #[inline(never)]
    fn scalar(block: &[u8], needles: &[Needle], probes: &mut ProbeMasks) -> BlockMasks {
        let mut masks = BlockMasks {
            quote: 0,
            comma: 0,
            newline: 0,
        };
        for (n, needle) in needles.iter().enumerate() {
            probes[n] = (0, 0);
            let (a, b) = probe_bytes(needle);
            for (i, &byte) in block.iter().take(64).enumerate() {
                let folded = byte | 0x20;
                probes[n].0 |= u64::from(folded == a) << i;
                probes[n].1 |= u64::from(folded == b) << i;
            }
        }
        for (i, &b) in block.iter().take(64).enumerate() {
            let bit = 1u64 << i;
            match b {
                b'"' => masks.quote |= bit,
                b',' => masks.comma |= bit,
                b'\n' => masks.newline |= bit,
                _ => {}
            }
        }
        masks
    }
}

/// A needle's two probe bytes, folded (`| 0x20`) as they are compared.
#[inline(always)]
fn probe_bytes(needle: &Needle) -> (u8, u8) {
    needle.probe_bytes
}

/// SSE2 is part of the x86_64 baseline, so no runtime detection is needed.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn sse2_masks(block: &[u8; 64], needles: &[Needle], probes: &mut ProbeMasks) -> BlockMasks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    let mut masks = BlockMasks {
        quote: 0,
        comma: 0,
        newline: 0,
    };
    for probe in probes.iter_mut().take(needles.len()) {
        *probe = (0, 0);
    }
    // SAFETY: SSE2 is always available on x86_64; each load reads 16 bytes at offset
    // 0, 16, 32 or 48 of a 64-byte array, and `loadu` has no alignment requirement.
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let comma = _mm_set1_epi8(b',' as i8);
        let newline = _mm_set1_epi8(b'\n' as i8);
        let fold = _mm_set1_epi8(0x20);
        for lane in 0..4 {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * lane).cast::<__m128i>());
            let shift = 16 * lane as u32;
            let bits = |m| u64::from(_mm_movemask_epi8(m) as u16) << shift;
            masks.quote |= bits(_mm_cmpeq_epi8(v, quote));
            masks.comma |= bits(_mm_cmpeq_epi8(v, comma));
            masks.newline |= bits(_mm_cmpeq_epi8(v, newline));
            let folded = _mm_or_si128(v, fold);
            for (n, needle) in needles.iter().enumerate() {
                let (a, b) = probe_bytes(needle);
                probes[n].0 |= bits(_mm_cmpeq_epi8(folded, _mm_set1_epi8(a as i8)));
                probes[n].1 |= bits(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b as i8)));
            }
        }
    }
    masks
}

/// NEON is part of the aarch64 baseline, so no runtime detection is needed. NEON has no
/// `movemask`: each compare result (0xff or 0) keeps its byte's bit weight within its half
/// of the vector, and three rounds of pairwise adds fold 64 such bytes into one 64-bit mask
/// with bit `i` for byte `i` (simdjson's `to_bitmask` for ARM).
#[cfg(target_arch = "aarch64")]
#[inline(always)]
fn neon_masks(block: &[u8; 64], needles: &[Needle], probes: &mut ProbeMasks) -> BlockMasks {
    use std::arch::aarch64::{
        uint8x16_t, vandq_u8, vceqq_u8, vdupq_n_u8, vgetq_lane_u64, vld1q_u8, vorrq_u8, vpaddq_u8,
        vreinterpretq_u64_u8,
    };
    const WEIGHTS: [u8; 16] = [1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128];
    // SAFETY: NEON is always available on aarch64; each load reads 16 bytes at offset 0, 16,
    // 32 or 48 of a 64-byte array (or of the 16-byte WEIGHTS), with no alignment requirement.
    unsafe {
        let weights = vld1q_u8(WEIGHTS.as_ptr());
        let lanes: [uint8x16_t; 4] = [0, 16, 32, 48].map(|at| vld1q_u8(block.as_ptr().add(at)));
        let mask = |lanes: &[uint8x16_t; 4], byte: u8| -> u64 {
            let c = vdupq_n_u8(byte);
            let w = lanes.map(|v| vandq_u8(vceqq_u8(v, c), weights));
            let halves = vpaddq_u8(vpaddq_u8(w[0], w[1]), vpaddq_u8(w[2], w[3]));
            vgetq_lane_u64::<0>(vreinterpretq_u64_u8(vpaddq_u8(halves, halves)))
        };
        let folded = lanes.map(|v| vorrq_u8(v, vdupq_n_u8(0x20)));
        for (n, needle) in needles.iter().enumerate() {
            let (a, b) = probe_bytes(needle);
            probes[n] = (mask(&folded, a), mask(&folded, b));
        }
        BlockMasks {
            quote: mask(&lanes, b'"'),
            comma: mask(&lanes, b','),
            newline: mask(&lanes, b'\n'),
        }
    }
}

/// [`BlockMasks::of`] with 32-byte compares.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn avx2_masks(block: &[u8], needles: &[Needle], probes: &mut ProbeMasks) -> BlockMasks {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8,
    };
    let Some(block) = block.first_chunk::<64>() else {
        return BlockMasks::scalar(block, needles, probes);
    };
    // SAFETY: the two loads read bytes 0..32 and 32..64 of a 64-byte array; unaligned loads.
    let (lo, hi) = unsafe {
        (
            _mm256_loadu_si256(block.as_ptr().cast::<__m256i>()),
            _mm256_loadu_si256(block.as_ptr().add(32).cast::<__m256i>()),
        )
    };
    #[target_feature(enable = "avx2")]
    #[inline]
    fn eq(lo: __m256i, hi: __m256i, c: u8) -> u64 {
        let c = _mm256_set1_epi8(c as i8);
        let low = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, c)) as u32;
        let high = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, c)) as u32;
        u64::from(low) | u64::from(high) << 32
    }
    let fold = _mm256_set1_epi8(0x20);
    let (folded_lo, folded_hi) = (_mm256_or_si256(lo, fold), _mm256_or_si256(hi, fold));
    for (n, needle) in needles.iter().enumerate() {
        let (a, b) = probe_bytes(needle);
        probes[n] = (eq(folded_lo, folded_hi, a), eq(folded_lo, folded_hi, b));
    }
    BlockMasks {
        quote: eq(lo, hi, b'"'),
        comma: eq(lo, hi, b','),
        newline: eq(lo, hi, b'\n'),
    }
}

#[cfg(all(test, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod simd_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::csv::scan_record;

    fn scan(body: &[u8], start: usize, literals: &Needles) -> RowShape {
        scan_row(body, start, Some(literals), &mut RowCommas::default())
    }

    /// The oracle for a row the bitmask scan calls regular: it is the field scanner's row
    /// (end, next row, field count), the comma masks give the scanner's spans, and the row holds
    /// a literal exactly when the scan says so (one may straddle the row's end).
    pub(super) fn assert_regular_is_the_field_scanners(
        body: &[u8],
        start: usize,
        shape: RowShape,
        commas: &RowCommas,
        literals: &Needles,
    ) {
        let RowShape::Regular {
            content_end,
            next,
            fields,
            literal,
        } = shape
        else {
            panic!("not a regular row: {shape:?}");
        };
        let text = String::from_utf8_lossy(body);
        let mut spans = Vec::new();
        let end = scan_record(body, start, &mut spans)
            .unwrap_or_else(|e| panic!("{e} at {start} of {text:?}"));
        assert_eq!(
            (end.content_end, end.next, spans.len()),
            (content_end, next, fields),
            "{text:?}"
        );
        for (index, span) in spans.iter().enumerate() {
            assert_eq!(
                commas.field(index, content_end),
                Some(span.range()),
                "{text:?}"
            );
        }
        assert_eq!(commas.field(spans.len(), content_end), None, "{text:?}");
        // The spans the masks give are the field scanner's, escapes included.
        let mut from_masks = Vec::new();
        assert!(commas.spans(body, content_end, &mut from_masks));
        assert_eq!(from_masks, spans, "{text:?}");
        // Every field decodes from the masks as the plain decoder decodes it.
        for span in &spans {
            let (mut ours, mut plain) = (b"prefix".to_vec(), b"prefix".to_vec());
            let ours = match commas.decode(body, *span, &mut ours) {
                Decoded::Borrowed(s, e) => body[s..e].to_vec(),
                Decoded::Scratch(s, e) => ours[s..e].to_vec(),
            };
            let plain = match decode_field(body, *span, &mut plain) {
                Decoded::Borrowed(s, e) => body[s..e].to_vec(),
                Decoded::Scratch(s, e) => plain[s..e].to_vec(),
            };
            assert_eq!(ours, plain, "{span:?} of {text:?}");
        }
        match literal {
            true => assert!(literals.any_in(&body[start..]), "{text:?}"),
            false => assert!(!literals.any_in(&body[start..content_end]), "{text:?}"),
        }
    }

    fn no_literals() -> Needles {
        // A literal the test bodies never contain.
        Needles::new(&["\u{1}\u{2}\u{3}"]).expect("non-empty")
    }

    fn regular(body: &str, start: usize) -> (usize, usize, usize) {
        match scan(body.as_bytes(), start, &no_literals()) {
            RowShape::Regular {
                content_end,
                next,
                fields,
                literal: false,
            } => (content_end, next, fields),
            other => panic!("{body:?} at {start}: {other:?}"),
        }
    }

    #[test]
    fn finds_the_unquoted_newline_and_counts_unquoted_commas() {
        assert_eq!(regular("a,b,c\nx", 0), (5, 6, 3));
        assert_eq!(regular("a,\"b,\n\"\"c\"\"\",d\r\nx", 0), (14, 16, 3));
        assert_eq!(regular("\n", 0), (0, 1, 1));
        assert_eq!(regular(",,\n", 0), (2, 3, 3));
        assert_eq!(regular("x\nq,\"\"\n", 2), (6, 7, 2));
    }

    #[test]
    fn quoted_regions_and_rows_span_blocks() {
        let long = format!(
            "\"{}\n{}\",{},z\n",
            "a".repeat(70),
            "\"\"".repeat(40),
            "b".repeat(100)
        );
        let (end, next, fields) = regular(&long, 0);
        assert_eq!((end, next, fields), (long.len() - 1, long.len(), 3));
        // A newline exactly at bit 63, and a quote closing at bit 63.
        let at63 = format!("{}\n", "c".repeat(63));
        assert_eq!(regular(&at63, 0), (63, 64, 1));
        let close63 = format!("\"{}\",d\n", "q".repeat(62));
        assert_eq!(regular(&close63, 0).2, 2);
    }

    #[test]
    fn fields_of_a_long_row_are_located_while_its_masks_last() {
        // 40 fields of 100 bytes: the row runs past the 32 blocks whose masks are kept.
        let row = format!("{}\n", vec!["f".repeat(99); 40].join(","));
        let mut commas = RowCommas::default();
        let RowShape::Regular {
            content_end,
            fields,
            ..
        } = scan_row(row.as_bytes(), 0, None, &mut commas)
        else {
            panic!("a regular row");
        };
        assert_eq!(fields, 40);
        assert!(!commas.spans(row.as_bytes(), content_end, &mut Vec::new()));
        assert_eq!(commas.field(0, content_end), Some(0..99));
        assert_eq!(commas.field(3, content_end), Some(300..399));
        assert_eq!(commas.field(19, content_end), Some(1900..1999));
        // Fields that end past byte 2048 (the kept masks): unknown, not guessed.
        assert_eq!(commas.field(20, content_end), None);
        assert_eq!(commas.field(39, content_end), None);
        assert_eq!(commas.field(40, content_end), None);
    }

    /// Quoted fields over one to three blocks with a `""` escape, a comma or a newline at every
    /// offset, behind fields that put quotes before them in the same block: the spans the kept
    /// comma and quote masks give (kind, last `""`, closing quote) are the field scanner's.
    #[test]
    fn spans_from_the_masks_are_the_field_scanners_at_every_offset() {
        let leads = [
            String::new(),
            "a,".to_string(),
            "\"\"\"\",".to_string(),
            format!("\"{}\"\"\",", "b".repeat(58)),
        ];
        let mut checked = 0;
        for width in [0usize, 1, 62, 63, 64, 65, 127, 130] {
            for at in 0..=width {
                for inner in ["\"\"", ",", "\n", "\"\"\"\"", "\"\",\"\""] {
                    let mut text = "q".repeat(width);
                    text.insert_str(at, inner);
                    for lead in &leads {
                        let body = format!("{lead}\"{text}\",\"{text}\"\"\",z\n");
                        let mut commas = RowCommas::default();
                        let shape = scan_row(body.as_bytes(), 0, None, &mut commas);
                        let literals = no_literals();
                        assert_regular_is_the_field_scanners(
                            body.as_bytes(),
                            0,
                            shape,
                            &commas,
                            &literals,
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    #[test]
    fn misplaced_quotes_are_irregular() {
        for body in ["ab\"c,d\n", "\"a\"b,c\n", "a,\"x\"\r\n", "a,b\"\"\n"] {
            assert_eq!(
                scan(body.as_bytes(), 0, &no_literals()),
                RowShape::Irregular,
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_row_without_its_newline_is_incomplete() {
        for body in ["", "a,b", "a,\"b\nc", "\"x\"\"", "a,\"b\","] {
            assert_eq!(
                scan(body.as_bytes(), 0, &no_literals()),
                RowShape::Incomplete,
                "{body:?}"
            );
        }
        assert_eq!(scan(b"a\"", 0, &no_literals()), RowShape::Irregular);
    }

    /// Unquoted newlines found one byte at a time, toggling at every quote.
    fn unquoted_newlines_bytewise(body: &[u8], from: usize) -> Vec<usize> {
        let mut quoted = false;
        let mut found = Vec::new();
        for (at, &byte) in body.iter().enumerate().skip(from) {
            match byte {
                b'"' => quoted = !quoted,
                b'\n' if !quoted => found.push(at),
                _ => {}
            }
        }
        found
    }

    #[test]
    fn unquoted_newlines_are_the_bytewise_ones_with_either_kernel() {
        let alphabet = b"\"\n,a";
        for len in 0..300usize {
            let body: Vec<u8> = (0..len)
                .map(|i| alphabet[(i * 7 + i * i / 5 + len) % alphabet.len()])
                .collect();
            for from in [0, 1, len / 3, len] {
                let from = from.min(len);
                let mut dispatched = Vec::new();
                unquoted_newlines(&body, from, |at, ends| {
                    dispatched.extend((0..64).filter(|b| ends >> b & 1 == 1).map(|b| at + b));
                    true
                });
                let mut scalar = Vec::new();
                let each = |at: usize, ends: u64| {
                    scalar.extend((0..64).filter(|b| ends >> b & 1 == 1).map(|b| at + b));
                    true
                };
                unquoted_newlines_with(&body, from, each, BlockMasks::of, prefix_xor);
                let expected = unquoted_newlines_bytewise(&body, from);
                assert_eq!(dispatched, expected, "len {len} from {from}");
                assert_eq!(scalar, expected, "len {len} from {from}");
            }
        }
    }

    /// On every row it calls regular, the bitmask reading agrees with the field-by-field
    /// scanner; where it says incomplete, so does the scanner. Every body of up to 7 bytes
    /// over the five characters that matter, alone and behind prefixes that put it across a
    /// block boundary outside and inside quotes.
    #[test]
    fn agrees_with_the_field_scanner_on_every_small_body() {
        let alphabet = [b'a', b',', b'"', b'\n', b'\r'];
        let prefixes = [
            String::new(),
            "a".repeat(60),
            format!("\"{}\",", "a".repeat(57)),
            format!("\"{}", "a".repeat(61)),
        ];
        let literals = Needles::new(&["a\ra", ",,A"]).expect("non-empty");
        let mut spans = Vec::new();
        let mut checked = 0;
        for prefix in &prefixes {
            for len in 0..=7u32 {
                for code in 0..5usize.pow(len) {
                    let mut c = code;
                    let mut body = prefix.as_bytes().to_vec();
                    body.extend((0..len).map(|_| {
                        let b = alphabet[c % 5];
                        c /= 5;
                        b
                    }));
                    compare(&body, &no_literals(), &mut spans);
                    compare(&body, &literals, &mut spans);
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 4 * 97_656);
    }

    /// The scan with the baseline (SSE2 on x86_64, NEON on aarch64) or the scalar masks.
    fn baseline(body: &[u8], literals: &Needles, scalar: bool) -> RowShape {
        let needles = literals.as_slice();
        match scalar {
            false => scan_row_with(
                body,
                0,
                needles,
                &mut RowCommas::default(),
                BlockMasks::of,
                prefix_xor,
            ),
            true => scan_row_with(
                body,
                0,
                needles,
                &mut RowCommas::default(),
                BlockMasks::scalar,
                prefix_xor,
            ),
        }
    }

    fn compare(body: &[u8], literals: &Needles, spans: &mut Vec<crate::protocol::csv::FieldSpan>) {
        let mut commas = RowCommas::default();
        let shape = scan_row(body, 0, Some(literals), &mut commas);
        // The baseline build, the scalar masks and the detected build (AVX2 + CLMUL here, when
        // present) agree.
        for scalar in [false, true] {
            assert_eq!(shape, baseline(body, literals, scalar), "{body:?}");
        }
        match shape {
            RowShape::Regular { .. } => {
                assert_regular_is_the_field_scanners(body, 0, shape, &commas, literals)
            }
            RowShape::Incomplete => {
                if let Ok(end) = scan_record(body, 0, spans) {
                    assert_eq!(end.content_end, body.len(), "{body:?}");
                }
            }
            RowShape::Irregular => {}
        }
    }
}
