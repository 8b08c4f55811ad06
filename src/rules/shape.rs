//! What a rule without literals needs of a row's shape, for the literal index's rules
//! evaluated on every row ([`super::prefilter::LiteralIndex::unanchored`]).
//!
//! `eval n=len(process_name) | search n=5` holds only on rows whose field's first non-empty
//! value has 5 characters. Checked on the value itself (its byte length first: a character
//! has 1 to 4 bytes), that rules out most rows before the expression is evaluated on each
//! (the length made a value, compared as a number with the pattern).

use super::expr::{char_count, integer_pattern, Cond, Ex, Func, Src};
use super::row::{for_each_value, Row};

/// A UTF-8 character has at most this many bytes, and so has an invalid sequence counted as
/// one character.
const MAX_CHAR_BYTES: usize = 4;

/// The characters (as `len` counts them) the first non-empty value of field `slot` must have
/// for a rule to match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LengthBound {
    slot: usize,
    chars: usize,
}

/// The bounds every row `cond` accepts meets: one per `len(field)=N` test AND-ed at its top
/// (none when it has no such test).
pub(crate) fn length_bounds(cond: &Cond) -> Box<[LengthBound]> {
    let mut out = Vec::new();
    collect(cond, &mut out);
    out.into()
}

fn collect(cond: &Cond, out: &mut Vec<LengthBound>) {
    match cond {
        Cond::And(items) => items.iter().for_each(|item| collect(item, out)),
        Cond::Glob {
            src: Src::Expr(ex),
            pat,
        } => {
            let Ex::Call(Func::Len, args) = &**ex else {
                return;
            };
            // A non-empty value has a character or more: 0 (for a negative length too) is a
            // bound no value meets.
            if let ([Ex::Field(slot)], Some(chars)) = (args.as_slice(), integer_pattern(pat)) {
                let chars = usize::try_from(chars).unwrap_or(0);
                out.push(LengthBound { slot: *slot, chars });
            }
        }
        _ => {}
    }
}

/// Whether `row` meets every bound: `false` rules out the rule the bounds were read from.
pub(crate) fn fits(bounds: &[LengthBound], row: &dyn Row) -> bool {
    bounds.iter().all(|bound| {
        let mut first = None;
        for_each_value(row, bound.slot, |v| {
            if first.is_none() && !v.is_empty() {
                first = Some(v);
            }
        });
        first.is_some_and(|v| bound.holds_for(v))
    })
}

impl LengthBound {
    /// Whether `value` has the bound's number of characters.
    #[inline]
    fn holds_for(&self, value: &[u8]) -> bool {
        let bytes = value.len();
        bytes >= self.chars
            && bytes <= self.chars.saturating_mul(MAX_CHAR_BYTES)
            && char_count(value) == self.chars
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::expr::{eval_cond, FoldCache};
    use crate::rules::glob::Glob;
    use crate::rules::prefilter::{IndexScratch, LiteralIndex};
    use crate::rules::OwnedRow;

    fn len_is(slot: usize, pattern: &str) -> Cond {
        Cond::Glob {
            src: Src::Expr(Box::new(Ex::Call(Func::Len, vec![Ex::Field(slot)]))),
            pat: Glob::new(pattern),
        }
    }

    /// Length tests alone and AND-ed with others, with patterns that are no integer as the
    /// evaluator writes one (no bound), zero and a negative number (no row).
    fn conds() -> Vec<Cond> {
        let other = Cond::Glob {
            src: Src::Slot(1),
            pat: Glob::new("*a*"),
        };
        vec![
            len_is(0, "5"),
            Cond::And(vec![other.clone(), len_is(0, "2"), len_is(1, "3")]),
            len_is(0, "05"),
            len_is(0, "5*"),
            len_is(0, "0"),
            len_is(0, "-1"),
            Cond::Or(vec![len_is(0, "1"), other]),
        ]
    }

    #[test]
    fn bounds_are_read_from_length_tests_at_the_top() {
        let bounds: Vec<usize> = conds().iter().map(|c| length_bounds(c).len()).collect();
        assert_eq!(bounds, [1, 2, 0, 0, 1, 1, 0]);
        assert_eq!(
            length_bounds(&len_is(3, "5"))[..],
            [LengthBound { slot: 3, chars: 5 }]
        );
    }

    const PIECES: &[&[u8]] = &[
        b"a",
        b"B",
        b"\xc3\xa9",
        b"\xe2\x82\xac",
        b"\xf0\x9f\x98\x80",
        b"\xff",
        b"\xe2\x82",
    ];

    /// A deterministic sample of rows of up to three values per field, each of up to eight
    /// pieces (ASCII, 2-, 3- and 4-byte characters, invalid bytes) or empty: wherever a
    /// condition holds, its bounds are met, and the literal index makes its rule a candidate
    /// exactly where they are.
    #[test]
    fn every_row_a_condition_accepts_meets_its_bounds() {
        let conds = conds();
        let refs: Vec<&Cond> = conds.iter().collect();
        let index = LiteralIndex::of_conds(&refs, 1);
        assert_eq!(index.unanchored().len(), conds.len());
        let (mut scratch, mut candidates) = (IndexScratch::new(&index), Vec::new());
        let mut cache = FoldCache::new(2);
        let mut next = crate::test_strings::below(0x1e46);
        let (mut held, mut ruled_out) = (0, 0);
        for _ in 0..20_000 {
            let mut row = OwnedRow::with_slots(2);
            for slot in 0..2 {
                for _ in 0..next(4) {
                    let value = (0..next(9)).flat_map(|_| PIECES[next(PIECES.len())].iter());
                    row.slots[slot].push(value.copied().collect());
                }
            }
            cache.next_row();
            candidates.clear();
            index.candidates(&row, &mut scratch, &mut candidates);
            for (rule, cond) in conds.iter().enumerate() {
                let fit = fits(&length_bounds(cond), &row);
                let holds = eval_cond(cond, &row, &mut cache);
                assert!(fit || !holds, "{cond:?} on {row:?}");
                assert_eq!(
                    candidates.contains(&(rule as u32)),
                    fit,
                    "{cond:?} on {row:?}"
                );
                held += usize::from(holds);
                ruled_out += usize::from(!fit);
            }
        }
        assert!(held > 2_000 && ruled_out > 20_000, "{held} {ruled_out}");
    }
}
