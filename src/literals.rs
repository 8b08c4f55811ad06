//! Many literals searched at once, ASCII case-insensitively: the search behind the rules'
//! literal index (over field values) and the protocol's row gate (over raw rows), shared by
//! both because neither may know the other.
//!
//! Aho-Corasick answers this with one automaton step per byte, each depending on the last:
//! with the ESCU corpus's 565 command-line pieces its DFA takes 2 MiB and walks 215-byte
//! command lines at about 3.2 ns per byte (its overlapping search, which reports every literal,
//! at 3.6), and it needs a lower-cased copy of the bytes. Here every position is tested on its
//! own, on the raw bytes, in about the same time and 40 KiB: the position's next 4 bytes,
//! folded (`| 0x20` per byte, which maps the two cases of a letter together and merges a few
//! punctuation pairs), are hashed to one bit of a 64 Kbit table (8 KiB) holding one 4-byte
//! window of each
//! literal, its rarest by the bytes' [`commonness`] in command lines (3-byte literals have a
//! second table over 3 bytes). A set bit is verified against the literals with that exact
//! folded window; false hits (about 1 position in 100 for 500 literals) cost a hash lookup,
//! and rare windows keep true hits of common prefixes (`c:\w`, `powe`) from costing one.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::ops::RangeInclusive;

/// Literals shorter than this are not accepted: they occur everywhere.
pub const MIN_LITERAL: usize = 3;

const TABLE_BITS: u32 = 16;
const TABLE_WORDS: usize = 1 << (TABLE_BITS - 6);

/// A set of literals (each at least [`MIN_LITERAL`] bytes), searched ASCII case-insensitively.
#[derive(Debug, Clone)]
pub struct Literals {
    /// Lower-cased.
    literals: Vec<Box<[u8]>>,
    /// Fingerprint bits of literals of 4 bytes or more (their first 4 bytes, folded).
    long: Box<[u64]>,
    /// Fingerprint bits of 3-byte literals (their 3 bytes, folded).
    short: Box<[u64]>,
    has_short: bool,
    /// Folded window → the literals holding it as their window, with its offset in them.
    by_fingerprint: HashMap<u32, Box<[(u32, u32)]>, WordHash>,
}

#[inline(always)]
fn fold4(bytes: [u8; 4]) -> u32 {
    u32::from_le_bytes(bytes) | 0x2020_2020
}

#[inline(always)]
fn bit(table: &[u64], fingerprint: u32) -> bool {
    let h = fingerprint.wrapping_mul(0x9E37_79B1) >> (32 - TABLE_BITS);
    table[(h >> 6) as usize] & (1 << (h & 63)) != 0
}

fn set_bit(table: &mut [u64], fingerprint: u32) {
    let h = fingerprint.wrapping_mul(0x9E37_79B1) >> (32 - TABLE_BITS);
    table[(h >> 6) as usize] |= 1 << (h & 63);
}

/// The fingerprint of a literal and where it sits in it: its rarest 4-byte window, folded, or
/// its 3 bytes folded with a zero fourth byte for a 3-byte literal.
fn fingerprint(literal: &[u8]) -> (u32, usize) {
    if let [a, b, c] = literal {
        return (fold4([*a, *b, *c, 0]) & 0x00FF_FFFF, 0);
    }
    let offset = (0..=literal.len().saturating_sub(4))
        .min_by_key(|&k| {
            literal[k..k + 4]
                .iter()
                .map(|&b| u32::from(commonness(b)))
                .sum::<u32>()
        })
        .unwrap_or(0);
    let w = &literal[offset..offset + 4];
    (fold4([w[0], w[1], w[2], w[3]]), offset)
}

/// Rough commonness rank of a lower-cased byte in Windows command lines and process fields:
/// higher is more common.
pub fn commonness(b: u8) -> u8 {
    const BY_FREQUENCY: &[u8] = b" e\\.tsaoirnc-:lmdwpx/\"h0u1y2gfb3=_v4k5j6q7z8,9";
    match BY_FREQUENCY.iter().position(|&c| c == b) {
        Some(rank) => 100 - rank as u8,
        None => 0,
    }
}

impl Literals {
    /// `None` when a literal is shorter than [`MIN_LITERAL`] or there is none. Literal `i` is
    /// reported as `i`.
    pub fn new<L: AsRef<[u8]>>(literals: &[L]) -> Option<Literals> {
        if literals.is_empty() {
            return None;
        }
        let mut long = vec![0u64; TABLE_WORDS].into_boxed_slice();
        let mut short = vec![0u64; TABLE_WORDS].into_boxed_slice();
        let mut has_short = false;
        let mut groups: HashMap<u32, Vec<(u32, u32)>, WordHash> = HashMap::default();
        let mut lowered = Vec::with_capacity(literals.len());
        for (id, literal) in literals.iter().enumerate() {
            let literal = literal.as_ref().to_ascii_lowercase();
            if literal.len() < MIN_LITERAL {
                return None;
            }
            let (print, offset) = fingerprint(&literal);
            if literal.len() == 3 {
                set_bit(&mut short, print);
                has_short = true;
            } else {
                set_bit(&mut long, print);
            }
            groups
                .entry(print)
                .or_default()
                .push((id as u32, offset as u32));
            lowered.push(literal.into_boxed_slice());
        }
        Some(Literals {
            literals: lowered,
            long,
            short,
            has_short,
            by_fingerprint: groups.into_iter().map(|(k, v)| (k, v.into())).collect(),
        })
    }

    pub fn len(&self) -> usize {
        self.literals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.literals.is_empty()
    }

    /// Literal `id`, lower-cased.
    pub fn literal(&self, id: usize) -> &[u8] {
        &self.literals[id]
    }

    /// Calls `found` with the id of every literal occurring in `haystack` (once per
    /// occurrence). Stops early, returning `true`, when `found` returns `true`.
    #[inline]
    pub fn find(&self, haystack: &[u8], mut found: impl FnMut(usize) -> bool) -> bool {
        let n = haystack.len();
        if n < MIN_LITERAL {
            return false;
        }
        // Four positions per 8-byte load, their bits gathered before any branch.
        let mut at = 0;
        while at + 8 <= n {
            let mut word = [0u8; 8];
            word.copy_from_slice(&haystack[at..at + 8]);
            let eight = u64::from_le_bytes(word) | 0x2020_2020_2020_2020;
            let windows = [
                eight as u32,
                (eight >> 8) as u32,
                (eight >> 16) as u32,
                (eight >> 24) as u32,
            ];
            let mut hits = 0u32;
            for (k, &w) in windows.iter().enumerate() {
                hits |= u32::from(bit(&self.long, w)) << k;
                if self.has_short {
                    hits |= u32::from(bit(&self.short, w & 0x00FF_FFFF)) << (4 + k);
                }
            }
            if hits != 0 && self.verify_hits(haystack, at, &windows, hits, &mut found) {
                return true;
            }
            at += 4;
        }
        while at + 4 <= n {
            let word = fold4([
                haystack[at],
                haystack[at + 1],
                haystack[at + 2],
                haystack[at + 3],
            ]);
            if bit(&self.long, word) && self.verify(haystack, at, word, &mut found) {
                return true;
            }
            if self.has_short {
                let three = word & 0x00FF_FFFF;
                if bit(&self.short, three) && self.verify(haystack, at, three, &mut found) {
                    return true;
                }
            }
            at += 1;
        }
        // The last 3 bytes can only hold a 3-byte literal.
        if self.has_short {
            let three = fold4([haystack[n - 3], haystack[n - 2], haystack[n - 1], 0]) & 0x00FF_FFFF;
            if bit(&self.short, three) && self.verify(haystack, n - 3, three, &mut found) {
                return true;
            }
        }
        false
    }

    /// Verifies the positions `at + k` whose bit `k` (4-byte window) or `4 + k` (3-byte
    /// window) is set in `hits`.
    #[cold]
    fn verify_hits(
        &self,
        haystack: &[u8],
        at: usize,
        windows: &[u32; 4],
        hits: u32,
        found: &mut impl FnMut(usize) -> bool,
    ) -> bool {
        for (k, &w) in windows.iter().enumerate() {
            if hits >> k & 1 == 1 && self.verify(haystack, at + k, w, found) {
                return true;
            }
            if hits >> (4 + k) & 1 == 1 && self.verify(haystack, at + k, w & 0x00FF_FFFF, found) {
                return true;
            }
        }
        false
    }

    /// Whether any literal occurs in `haystack`.
    pub fn any_in(&self, haystack: &[u8]) -> bool {
        self.find(haystack, |_| true)
    }

    #[inline(never)]
    fn verify(
        &self,
        haystack: &[u8],
        at: usize,
        print: u32,
        found: &mut impl FnMut(usize) -> bool,
    ) -> bool {
        let Some(ids) = self.by_fingerprint.get(&print) else {
            return false;
        };
        for &(id, offset) in ids.iter() {
            let literal = &self.literals[id as usize];
            let Some(start) = at.checked_sub(offset as usize) else {
                continue;
            };
            let fits = haystack
                .get(start..start + literal.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(literal));
            if fits && found(id as usize) {
                return true;
            }
        }
        false
    }
}

/// Whole values looked up ASCII case-insensitively: one hash lookup of the folded value. The
/// other half of a literal index, beside [`Literals`] for pieces of values.
#[derive(Debug, Clone)]
pub struct WholeValues {
    by_value: HashMap<Box<[u8]>, Box<[u32]>, BuildHasherDefault<BytesHasher>>,
    lengths: RangeInclusive<usize>,
    /// The same entries when there are at most [`FEW`]: compared in place (length first), which
    /// costs less than folding and hashing the value.
    few: Option<Box<[Entry]>>,
}

/// A folded value and the ids of the values equal to it.
type Entry = (Box<[u8]>, Box<[u32]>);

/// Up to this many distinct values are compared one by one.
const FEW: usize = 8;

impl WholeValues {
    /// Value `i` is reported as `i`; values equal but for case share a lookup.
    pub fn new<V: AsRef<[u8]>>(values: &[V]) -> WholeValues {
        let mut by_value: HashMap<Box<[u8]>, Vec<u32>, BuildHasherDefault<BytesHasher>> =
            HashMap::default();
        for (id, value) in values.iter().enumerate() {
            by_value
                .entry(value.as_ref().to_ascii_lowercase().into())
                .or_default()
                .push(id as u32);
        }
        let lengths = by_value.keys().map(|k| k.len());
        let lengths = lengths.clone().min().unwrap_or(1)..=lengths.max().unwrap_or(0);
        let by_value: HashMap<Box<[u8]>, Box<[u32]>, _> =
            by_value.into_iter().map(|(k, v)| (k, v.into())).collect();
        let few = (by_value.len() <= FEW).then(|| {
            by_value
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        });
        WholeValues {
            by_value,
            lengths,
            few,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.by_value.is_empty()
    }

    /// The ids of the values equal to `value` but for ASCII case (none: empty). `fold` is
    /// scratch space.
    #[inline]
    pub fn find(&self, value: &[u8], fold: &mut Vec<u8>) -> &[u32] {
        if !self.lengths.contains(&value.len()) {
            return &[];
        }
        if let Some(few) = &self.few {
            return few
                .iter()
                .find(|(v, _)| v.len() == value.len() && v.eq_ignore_ascii_case(value))
                .map_or(&[], |(_, ids)| ids);
        }
        fold.clear();
        fold.extend(value.iter().map(u8::to_ascii_lowercase));
        self.by_value.get(fold.as_slice()).map_or(&[], |ids| ids)
    }

    /// Whether some value holds `byte` (a lookup cannot tell values needing decoding apart).
    pub fn any_holds(&self, byte: u8) -> bool {
        self.by_value.keys().any(|v| v.contains(&byte))
    }
}

/// FxHash's multiply-rotate over 8-byte words: keys are short folded field values, where
/// SipHash's setup costs more than the lookup.
#[derive(Debug, Clone, Copy, Default)]
struct BytesHasher(u64);

impl Hasher for BytesHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        self.0 =
            (self.0.rotate_left(5) ^ u64::from_le_bytes(tail) ^ bytes.len() as u64).wrapping_mul(K);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type WordHash = BuildHasherDefault<WordHasher>;

/// Fingerprints are already hashed well enough by one multiplication.
#[derive(Debug, Clone, Copy, Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0 >> 20
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(literals: &[&[u8]], haystack: &[u8]) -> Vec<usize> {
        let mut found = Vec::new();
        for start in 0..haystack.len() {
            for (id, literal) in literals.iter().enumerate() {
                if haystack
                    .get(start..start + literal.len())
                    .is_some_and(|h| h.eq_ignore_ascii_case(literal))
                {
                    found.push(id);
                }
            }
        }
        found.sort_unstable();
        found
    }

    fn search(set: &Literals, haystack: &[u8]) -> Vec<usize> {
        let mut found = Vec::new();
        set.find(haystack, |id| {
            found.push(id);
            false
        });
        found.sort_unstable();
        found
    }

    #[test]
    fn finds_every_occurrence_of_every_literal_in_any_case() {
        let literals: &[&[u8]] = &[
            b"abc", b"ABCD", b"bcd", b"-enc", b"\\x\\y", b"zzz", b"c:\\w",
        ];
        let set = Literals::new(literals).expect("valid");
        for hay in [
            &b"xxabcdxx"[..],
            b"ABC",
            b"abcd",
            b"zzzz",
            b"..-ENC ",
            b"C:\\Windows",
            b"c:|w",
            b"",
            b"ab",
            b"\\X\\Y\\x\\y",
        ] {
            assert_eq!(search(&set, hay), naive(literals, hay), "{hay:?}");
        }
    }

    #[test]
    fn agrees_with_a_naive_search_on_pseudo_random_text() {
        let alphabet = b"aAbB-\\|.eExX ";
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let words: Vec<Vec<u8>> = (0..300)
            .map(|_| {
                let len = 3 + next(6);
                (0..len).map(|_| alphabet[next(alphabet.len())]).collect()
            })
            .collect();
        let literals: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
        let set = Literals::new(&literals).expect("valid");
        let mut hits = 0;
        for _ in 0..3_000 {
            let hay: Vec<u8> = (0..next(80))
                .map(|_| alphabet[next(alphabet.len())])
                .collect();
            let expected = naive(&literals, &hay);
            hits += expected.len();
            assert_eq!(search(&set, &hay), expected, "{hay:?}");
            assert_eq!(set.any_in(&hay), !expected.is_empty());
        }
        assert!(hits > 1_000, "{hits}");
    }

    #[test]
    fn whole_values_are_found_in_any_case_and_only_whole() {
        let values = WholeValues::new(&["NetSh.exe", "cmd.exe", "netsh.EXE"]);
        let mut fold = Vec::new();
        assert_eq!(values.find(b"NETSH.exe", &mut fold).len(), 2);
        assert_eq!(values.find(b"cmd.exe", &mut fold), [1]);
        for miss in [&b"xnetsh.exe"[..], b"netsh.ex", b"", b"cmd.exe "] {
            assert!(values.find(miss, &mut fold).is_empty(), "{miss:?}");
        }
        assert!(!values.any_holds(b'"'));
    }

    #[test]
    fn refuses_short_or_no_literals() {
        assert!(Literals::new(&[&b"ab"[..]]).is_none());
        assert!(Literals::new::<&[u8]>(&[]).is_none());
    }
}
