//! The literals a [`RowGate`](super::processor::RowGate) looks for, ASCII case-insensitively,
//! and how each is probed.
//!
//! `aho-corasick` answers "does this row hold any of these literals, in any case" only without
//! its SIMD prefilters (measured: 440 ns per 335-byte row, more than the row's whole
//! processing). So each literal gets two probe bytes, its rarest two in Windows command lines,
//! and [`super::structural`] compares them in the same 64-byte blocks it scans for quotes and
//! newlines: a position is a candidate when both probe bytes match with bit 0x20 folded, and
//! only candidates are compared in full. Folding `| 0x20` maps exactly the two cases of a
//! letter together and otherwise merges a byte with one other byte only, so it never misses a
//! match; the full comparison removes the extra candidates.

/// A set of literals searched ASCII case-insensitively.
#[derive(Debug, Clone)]
pub struct Needles {
    needles: Vec<Needle>,
}

/// At most this many distinct literals: `protocol::structural` tests each one's probes in every
/// 64-byte block, so beyond a handful a gate costs more than it saves.
pub const MAX_NEEDLES: usize = 16;

#[derive(Debug, Clone)]
pub(crate) struct Needle {
    /// Lower-cased.
    pub(crate) bytes: Vec<u8>,
    /// Offsets of the two probe bytes in `bytes`: `first <= second < first + 64`.
    pub(crate) first: usize,
    pub(crate) second: usize,
    /// The probe bytes folded (`| 0x20`) as they are compared.
    pub(crate) probe_bytes: (u8, u8),
}

impl Needles {
    /// `None` when `literals` is empty, holds an empty literal (every row would contain it) or
    /// more than [`MAX_NEEDLES`] distinct ones.
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
                probe_bytes: (bytes[first] | 0x20, bytes[second] | 0x20),
                bytes,
                first,
                second,
            });
        }
        if needles.is_empty() || needles.len() > MAX_NEEDLES {
            return None;
        }
        Some(Needles { needles })
    }

    /// The literals, lower-cased.
    pub fn literals(&self) -> impl Iterator<Item = &[u8]> {
        self.needles.iter().map(|n| n.bytes.as_slice())
    }

    pub(crate) fn as_slice(&self) -> &[Needle] {
        &self.needles
    }

    /// Whether `haystack` contains any of the literals, ASCII case-insensitively: the
    /// reference the block scan is tested against.
    pub fn any_in(&self, haystack: &[u8]) -> bool {
        (0..haystack.len()).any(|start| self.needles.iter().any(|n| n.is_at(haystack, start)))
    }
}

impl Needle {
    /// Whether the needle occurs at `start` (and fits in `haystack`).
    #[inline]
    pub(crate) fn is_at(&self, haystack: &[u8], start: usize) -> bool {
        haystack
            .get(start..start + self.bytes.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(&self.bytes))
    }
}

/// The two rarest bytes of `needle` (distinct offsets when it has two bytes), by how often they
/// appear in Windows command lines and process fields.
fn probes(needle: &[u8]) -> (usize, usize) {
    let mut order: Vec<usize> = (0..needle.len()).collect();
    order.sort_by_key(|&i| (commonness(needle[i]), i));
    let x = order[0];
    // The second probe within 63 bytes of the first: block scans carry one 64-bit mask.
    let y = order[1..]
        .iter()
        .copied()
        .find(|&y| y.abs_diff(x) < 64)
        .unwrap_or(x);
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

    /// Whether the block scan finds a literal in `haystack` taken as one row.
    fn scan_finds(needles: &Needles, haystack: &[u8]) -> bool {
        use crate::protocol::structural::{scan_row, RowCommas, RowShape};
        let mut row = haystack.to_vec();
        row.push(b'\n');
        match scan_row(&row, 0, Some(needles), &mut RowCommas::default()) {
            RowShape::Literal => true,
            RowShape::Regular { .. } => false,
            other => panic!("{other:?} for {haystack:?}"),
        }
    }

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
        for len in 0..140 {
            for at in 0..len {
                for word in ["NetSh.EXE", "netstat.exe", "X"] {
                    if at + word.len() > len {
                        continue;
                    }
                    let mut hay = vec![b'q'; len];
                    hay[at..at + word.len()].copy_from_slice(word.as_bytes());
                    assert!(scan_finds(&needles, &hay), "{word} at {at} of {len}");
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
            assert!(
                !scan_finds(&needles, hay),
                "{:?}",
                String::from_utf8_lossy(hay)
            );
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
            let len = (state % 200) as usize;
            let hay: Vec<u8> = (0..len)
                .map(|i| alphabet[((state >> (i % 50)) as usize + i * 7) % alphabet.len()])
                .collect();
            let expected = naive(&literals, &hay);
            assert_eq!(scan_finds(&needles, &hay), expected, "{hay:?}");
            found += usize::from(expected);
        }
        assert!(
            (2_000..18_000).contains(&found),
            "{found} of 20000 contain a literal"
        );
    }

    #[test]
    fn probes_prefer_rare_bytes_within_63_bytes_of_each_other() {
        assert_eq!(probes(b"netsh.exe"), (4, 7));
        assert_eq!(probes(b"a"), (0, 0));
        let long = format!("q{}z{}", " ".repeat(70), "e".repeat(5));
        assert_eq!(probes(long.as_bytes()), (71, 72));
    }

    #[test]
    fn at_most_sixteen_distinct_literals() {
        let names: Vec<String> = (0..17).map(|i| format!("tool{i}.exe")).collect();
        assert!(Needles::new(&names).is_none());
        assert!(Needles::new(&names[..16]).is_some());
        assert!(Needles::new(&vec![names[0].as_str(); 40]).is_some());
    }
}
