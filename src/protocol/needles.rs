//! Does a row contain any of a few literals, ASCII case-insensitively?
//!
//! The question [`RowGate`](super::processor::RowGate) asks of every row. `aho-corasick` answers
//! it case-insensitively only without its SIMD prefilters (measured: 440 ns per 335-byte row,
//! more than the whole row's processing), so each literal gets two probe bytes, its rarest two
//! in Windows command lines, and 16 positions are tested at once: a position is a candidate
//! when both probe bytes match with bit 0x20 folded, and only candidates are compared in full.
//! Folding `| 0x20` maps exactly the two cases of a letter together and otherwise only merges a
//! byte with one other byte, so it never misses a match; the full comparison removes the extra
//! candidates.

/// A set of literals searched ASCII case-insensitively.
#[derive(Debug, Clone)]
pub struct Needles {
    needles: Vec<Needle>,
}

#[derive(Debug, Clone)]
struct Needle {
    /// Lower-cased.
    bytes: Vec<u8>,
    /// Offsets of the two probe bytes in `bytes` (`first < second`, or equal for one byte).
    first: usize,
    second: usize,
}

impl Needles {
    /// `None` when `literals` is empty or holds an empty literal (every row would contain it).
    pub fn new<L: AsRef<[u8]>>(literals: &[L]) -> Option<Needles> {
        let mut needles = Vec::with_capacity(literals.len());
        for literal in literals {
            let bytes = literal.as_ref().to_ascii_lowercase();
            if bytes.is_empty() {
                return None;
            }
            if needles.iter().any(|n: &Needle| n.bytes == bytes) {
                continue;
            }
            let (first, second) = probes(&bytes);
            needles.push(Needle {
                bytes,
                first,
                second,
            });
        }
        if needles.is_empty() {
            return None;
        }
        Some(Needles { needles })
    }

    /// The literals, lower-cased.
    pub fn literals(&self) -> impl Iterator<Item = &[u8]> {
        self.needles.iter().map(|n| n.bytes.as_slice())
    }

    /// Whether `haystack` contains any of the literals, ASCII case-insensitively.
    pub fn any_in(&self, haystack: &[u8]) -> bool {
        self.needles.iter().any(|needle| needle.is_in(haystack))
    }
}

impl Needle {
    fn is_in(&self, haystack: &[u8]) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                if let Some(last) = haystack.len().checked_sub(self.second + 32) {
                    // SAFETY: AVX2 was just detected.
                    return unsafe { avx2_find(haystack, last, self) };
                }
            }
            if let Some(last) = haystack.len().checked_sub(self.second + 16) {
                return sse2_find(haystack, last, self);
            }
        }
        (0..haystack.len()).any(|start| self.is_at(haystack, start))
    }

    #[inline]
    fn is_at(&self, haystack: &[u8], start: usize) -> bool {
        haystack
            .get(start..start + self.bytes.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(&self.bytes))
    }
}

/// Whether `needle` starts anywhere in `haystack`, testing 16 start positions at a time: a
/// start is a candidate when both probe bytes match (case folded). `last` is the last start
/// position a full 16-byte probe load allows (`haystack.len() - second - 16`); the final
/// window is moved back to it, overlapping its predecessor, instead of a scalar tail.
#[cfg(target_arch = "x86_64")]
fn sse2_find(haystack: &[u8], last: usize, needle: &Needle) -> bool {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    debug_assert!(last + needle.second + 16 <= haystack.len());
    let base = haystack.as_ptr();
    // SAFETY: SSE2 is part of the x86_64 baseline. Every load reads 16 bytes from
    // `at + first` or `at + second` with `at <= last`, so it ends at or before
    // `last + second + 16 == haystack.len()`; `loadu` has no alignment requirement.
    unsafe {
        let fold = _mm_set1_epi8(0x20);
        let want_a = _mm_set1_epi8((needle.bytes[needle.first] | 0x20) as i8);
        let want_b = _mm_set1_epi8((needle.bytes[needle.second] | 0x20) as i8);
        let mut at = 0;
        loop {
            let start = at.min(last);
            let a = _mm_loadu_si128(base.add(start + needle.first).cast::<__m128i>());
            let b = _mm_loadu_si128(base.add(start + needle.second).cast::<__m128i>());
            let both = _mm_and_si128(
                _mm_cmpeq_epi8(_mm_or_si128(a, fold), want_a),
                _mm_cmpeq_epi8(_mm_or_si128(b, fold), want_b),
            );
            let mut candidates = _mm_movemask_epi8(both) as u32;
            while candidates != 0 {
                if needle.is_at(haystack, start + candidates.trailing_zeros() as usize) {
                    return true;
                }
                candidates &= candidates - 1;
            }
            if start == last {
                return false;
            }
            at += 16;
        }
    }
}

/// [`sse2_find`] 32 start positions at a time; `last` is `haystack.len() - second - 32`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn avx2_find(haystack: &[u8], last: usize, needle: &Needle) -> bool {
    use std::arch::x86_64::{
        __m256i, _mm256_and_si256, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8,
        _mm256_or_si256, _mm256_set1_epi8,
    };
    debug_assert!(last + needle.second + 32 <= haystack.len());
    let base = haystack.as_ptr();
    let fold = _mm256_set1_epi8(0x20);
    let want_a = _mm256_set1_epi8((needle.bytes[needle.first] | 0x20) as i8);
    let want_b = _mm256_set1_epi8((needle.bytes[needle.second] | 0x20) as i8);
    let mut at = 0;
    loop {
        let start = at.min(last);
        // SAFETY: each load reads 32 bytes ending at or before `last + second + 32 ==
        // haystack.len()`; unaligned loads.
        let (a, b) = unsafe {
            (
                _mm256_loadu_si256(base.add(start + needle.first).cast::<__m256i>()),
                _mm256_loadu_si256(base.add(start + needle.second).cast::<__m256i>()),
            )
        };
        let both = _mm256_and_si256(
            _mm256_cmpeq_epi8(_mm256_or_si256(a, fold), want_a),
            _mm256_cmpeq_epi8(_mm256_or_si256(b, fold), want_b),
        );
        let mut candidates = _mm256_movemask_epi8(both) as u32;
        while candidates != 0 {
            if needle.is_at(haystack, start + candidates.trailing_zeros() as usize) {
                return true;
            }
            candidates &= candidates - 1;
        }
        if start == last {
            return false;
        }
        at += 32;
    }
}

/// The two rarest bytes of `needle` (distinct offsets when it has two bytes), by how often they
/// appear in Windows command lines and process fields.
fn probes(needle: &[u8]) -> (usize, usize) {
    let mut order: Vec<usize> = (0..needle.len()).collect();
    order.sort_by_key(|&i| (commonness(needle[i]), i));
    let (x, y) = (order[0], order.get(1).copied().unwrap_or(order[0]));
    (x.min(y), x.max(y))
}

/// Rough commonness rank of a lower-cased byte in command lines: higher is more common.
fn commonness(b: u8) -> u8 {
    const BY_FREQUENCY: &[u8] = b" e\\.tsaoirnc-:lmdwpx/\"h0u1y2gfb3=_v4k5j6q7z8,9";
    match BY_FREQUENCY.iter().position(|&c| c == b) {
        Some(rank) => 100 - rank as u8,
        None => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(literals: &[&str], haystack: &[u8]) -> bool {
        literals.iter().any(|l| {
            let l = l.as_bytes();
            haystack.windows(l.len()).any(|w| w.eq_ignore_ascii_case(l))
        })
    }

    #[test]
    fn finds_literals_in_any_case_at_every_position() {
        let literals = ["netsh.exe", "netstat.exe", "x"];
        let needles = Needles::new(&literals).expect("non-empty");
        for len in 0..80 {
            for at in 0..len {
                for word in ["NetSh.EXE", "netstat.exe", "X"] {
                    if at + word.len() > len {
                        continue;
                    }
                    let mut hay = vec![b'q'; len];
                    hay[at..at + word.len()].copy_from_slice(word.as_bytes());
                    assert!(needles.any_in(&hay), "{word} at {at} of {len}");
                }
            }
        }
    }

    #[test]
    fn near_misses_and_folded_lookalikes_do_not_match() {
        let needles = Needles::new(&["netsh.exe"]).expect("non-empty");
        // 0x0E folds onto '.': a candidate, not a match.
        for hay in [
            &b"netsh\x0eexe and netsh.ex and etsh.exe"[..],
            &b"..........netsh_exe.........................."[..],
            &[b'a'; 100][..],
        ] {
            assert!(!needles.any_in(hay), "{:?}", String::from_utf8_lossy(hay));
        }
        assert!(Needles::new::<&str>(&[]).is_none());
        assert!(Needles::new(&["a", ""]).is_none());
    }

    #[test]
    fn agrees_with_a_naive_search_on_pseudo_random_text() {
        let literals = ["nets", "portproxy", "v4tov4", "-a", "\\\\"];
        let needles = Needles::new(&literals).expect("non-empty");
        let alphabet = b"netsNETSpoxy-a\\v4 ";
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut found = 0;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 90) as usize;
            let hay: Vec<u8> = (0..len)
                .map(|i| alphabet[((state >> (i % 50)) as usize + i * 7) % alphabet.len()])
                .collect();
            let expected = naive(&literals, &hay);
            assert_eq!(needles.any_in(&hay), expected, "{hay:?}");
            found += usize::from(expected);
        }
        assert!(
            (2_000..18_000).contains(&found),
            "{found} of 20000 contain a literal"
        );
    }

    #[test]
    fn probes_prefer_rare_bytes() {
        assert_eq!(probes(b"netsh.exe"), (4, 7));
        assert_eq!(probes(b"a"), (0, 0));
    }
}
