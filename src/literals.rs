//! Many literals searched at once, ASCII case-insensitively: the search behind the rules'
//! literal index (over field values) and the protocol's row gate (over raw rows), shared by
//! both because neither may know the other.
//!
//! Aho-Corasick answers this with one automaton step per byte, each depending on the last:
//! with the ESCU corpus's 565 command-line pieces its DFA takes 2 MiB and walks 215-byte
//! command lines at about 3.2 ns per byte, on a lower-cased copy. Here every position is
//! tested on its own, on the raw bytes, in about 40 KiB, in two steps:
//!
//! - **Scan.** Each literal is represented by one 3-byte window, its rarest by a model of real
//!   Windows command lines (`window_level`; by the bytes' [`commonness`] among equals): a
//!   window's every occurrence costs a verification, and common windows (`dow`, `exe`) occur
//!   in most command lines. The folded windows (`| 0x20` per byte: the two cases of a letter
//!   together, and a few punctuation pairs) are hashed to one bit each of a 64 Kbit table
//!   (8 KiB), by the multiplier (of 16) under which the model's common windows collide least
//!   with the literals' (`pick_multiplier`). Every position's window is looked up, 32
//!   positions before any branch: with AVX2 (detected at run time) 8 windows per shuffle,
//!   multiply and gather; otherwise 4 per 8-byte load. The last positions (under 16 bytes)
//!   are looked up one at a time, so no read passes the end.
//! - **Verification.** A set bit's rank (prefix counts per 64-bit word, plus a popcount) is
//!   its bucket's first entry in a flat array of cache-line-aligned entries, chained within
//!   the bucket: no hash map. An entry compares the 4 folded bytes at the position (3 for a
//!   window ending its literal), then the literal 8 bytes at a time as
//!   `hay | letters == lower`, exact ASCII case-insensitivity since `letters` is `0x20` only
//!   where the literal has a letter.
//!
//! On the benchmark's command lines (236 bytes on average) with the 413 `process` pieces the
//! corpus index searches (2026-12-06): 8.7 verifications per value, 6.9 of them passing the
//! window's 4 bytes and 3.3 true occurrences, and 227 ns per value with AVX2 (337 without), of
//! which the scan alone is 119. Earlier, with 569 pieces: 14 verifications and 290 ns (405
//! without), where 4-byte windows picked by byte commonness alone, a second table for 3-byte
//! literals and a hash map of buckets took 890 (18 verifications). On the real command lines
//! of `../shared/datasets/bulk` (185 bytes): 3.6 verifications, 130 ns (205 without AVX2)
//! against 510.
//!
//! Measured and not kept: probing every second position, each literal registered under two
//! windows of different parity (one of which any occurrence puts on an even position) and a
//! 3-byte literal also under the 128 windows of each folded byte before it. The scan halves
//! (119 → 76 ns) but the second windows and the 128-window sets double the verifications
//! (8.7 → 16.8), and the whole costs as much (232 ns); without the 12 3-byte pieces it would
//! save 11% (203 ns). AVX-512 gathers of 16 positions (149 ns for the scan) and scalar table
//! loads after a vector hash (292 ns in all) lose to the 8-lane AVX2 gather on this CPU (AMD
//! EPYC with AVX-512), and 16-byte entries with the literal's text elsewhere (one more load per
//! window match) to the 32-byte ones (236 ns).

mod trigrams;
mod whole;

pub use whole::WholeValues;

/// Literals shorter than this are not accepted: they occur everywhere.
pub const MIN_LITERAL: usize = 3;

const TABLE_BITS: u32 = 16;
const TABLE_WORDS: usize = 1 << (TABLE_BITS - 6);
/// The multipliers a set's window hash is picked from ([`pick_multiplier`]): odd, the golden
/// ratio's first, then splitmix64's outputs, fixed so that a rule set always gets one table.
const MULTIPLIERS: [u32; 16] = {
    let mut multipliers = [0x9E37_79B1u32; 16];
    let mut state = 0u64;
    let mut i = 1;
    while i < multipliers.len() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        multipliers[i] = (z ^ (z >> 31)) as u32 | 1;
        i += 1;
    }
    multipliers
};

/// A set of literals (each at least [`MIN_LITERAL`] bytes), searched ASCII case-insensitively.
#[derive(Debug, Clone)]
pub struct Literals {
    /// Lower-cased.
    literals: Vec<Box<[u8]>>,
    /// One bit per hash of a folded 3-byte window: set for each literal's rarest window.
    bits: Box<[u64; TABLE_WORDS]>,
    /// The hash's multiplier, [`pick_multiplier`]'s for these literals.
    multiplier: u32,
    /// Set bits in the words before each word of `bits`: a set bit's rank is its bucket.
    ranks: Box<[u32; TABLE_WORDS]>,
    /// Bucket `r` starts at entry `r` ([`chain_buckets`]).
    entries: Box<[Candidate]>,
    /// Per literal, [`push_padded`]: its lower-cased bytes, letter mask ([`letter_mask`]) and
    /// care mask, each padded to a multiple of [`WORD`] bytes.
    text: Box<[u8]>,
}

/// A literal whose rarest window hashes to the entry's bucket. 32 bytes, aligned: one cache
/// line holds it whole.
#[derive(Debug, Clone, Copy)]
#[repr(align(32))]
struct Candidate {
    /// The literal's 4 folded bytes from its window on (3 and a zero when it ends there),
    /// compared with the haystack's under `mask` before the literal itself.
    window: u32,
    mask: u32,
    id: u32,
    /// Where the window sits in the literal.
    offset: u32,
    /// Where the literal sits in `text`, and its length.
    text: u32,
    len: u32,
    /// The bucket's next entry (none: past the end of `entries`).
    next: u32,
}

#[inline(always)]
fn fold4(bytes: [u8; 4]) -> u32 {
    u32::from_le_bytes(bytes) | 0x2020_2020
}

/// The folded window at `at` (which must leave at least 3 bytes): 4 bytes, or the last 3 and
/// a zero byte, folded the same way as the vector scan pads the haystack's end.
#[inline(always)]
fn window_at(haystack: &[u8], at: usize) -> u32 {
    match haystack.get(at..at + 4) {
        Some(&[a, b, c, d]) => fold4([a, b, c, d]),
        _ => fold4([haystack[at], haystack[at + 1], haystack[at + 2], 0]),
    }
}

/// The table bit of a folded window: a hash of its first 3 bytes by `multiplier`.
#[inline(always)]
fn slot(window: u32, multiplier: u32) -> u32 {
    (window & 0x00FF_FFFF).wrapping_mul(multiplier) >> (32 - TABLE_BITS)
}

/// The multiplier under which the windows that real command lines hold most often
/// ([`trigrams`]) collide least with the literals' `windows`: a collision costs a
/// verification at every occurrence of the common window, and the one multiplier measured
/// cost a benchmark command line 3 of them, where the best of 16 costs 0.5. Only the common
/// windows no literal has can collide: whether a colliding window is a literal's is asked
/// only of the few that collide, not of every common window (a fifth of the 2 shipped
/// rules' loading when it was).
fn pick_multiplier(windows: &[u32]) -> u32 {
    let mut windows: Vec<u32> = windows.iter().map(|w| w & 0x00FF_FFFF).collect();
    windows.sort_unstable();
    windows.dedup();
    let no_literal_has = |w: &u32| windows.binary_search(w).is_err();
    // The first multiplier of least cost, as `min_by_key` picks it. The common windows come
    // most common first, so a multiplier that cannot beat the best so far is mostly told
    // after a few of them; no collision at all is the least there is (the usual case for a
    // few rules' literals), and the rest are not tried.
    let mut bits = vec![0u64; TABLE_WORDS];
    let mut best = (u64::MAX, MULTIPLIERS[0]);
    for multiplier in MULTIPLIERS {
        for &w in &windows {
            let slot = slot(w, multiplier);
            bits[slot as usize >> 6] |= 1 << (slot & 63);
        }
        let collides = |w: u32| {
            let slot = slot(w, multiplier);
            bits[slot as usize >> 6] >> (slot & 63) & 1 == 1
        };
        let mut cost = 0u64;
        for &(w, level) in COMMON_WINDOWS.iter() {
            if collides(w) && no_literal_has(&w) {
                cost += 1u64 << level;
                if cost >= best.0 {
                    break;
                }
            }
        }
        if cost < best.0 {
            best = (cost, multiplier);
        }
        if cost == 0 {
            break;
        }
        // Cleared where the windows set it: far fewer words than the whole table.
        for &w in &windows {
            bits[slot(w, multiplier) as usize >> 6] = 0;
        }
    }
    best.1
}

/// How many windows [`trigrams::COMMON`] lists, repeats included.
const COMMON_COUNT: usize = {
    let mut count = 0;
    let mut i = 0;
    while i < trigrams::COMMON.len() {
        count += trigrams::COMMON[i].1.len() / 3;
        i += 1;
    }
    count
};

/// [`trigrams::COMMON`] as (window, level) pairs, each window's 3 bytes little-endian in a
/// `u32`, in the table's order. This and [`LEVELS`] are worked out by the compiler: every
/// process that loads rules needs them, and building them took a fifth of loading the two
/// shipped rules.
static COMMON_WINDOWS: [(u32, u8); COMMON_COUNT] = common_pairs();

const fn common_pairs() -> [(u32, u8); COMMON_COUNT] {
    let mut pairs = [(0u32, 0u8); COMMON_COUNT];
    let (mut i, mut at) = (0, 0);
    while i < trigrams::COMMON.len() {
        let (level, bytes) = trigrams::COMMON[i];
        let mut k = 0;
        while k + 3 <= bytes.len() {
            let window = u32::from_le_bytes([bytes[k], bytes[k + 1], bytes[k + 2], 0]);
            pairs[at] = (window, level);
            at += 1;
            k += 3;
        }
        i += 1;
    }
    pairs
}

/// [`COMMON_WINDOWS`] sorted by window, a window the table lists twice with its last level;
/// the first `.1` entries are used.
static LEVELS: ([(u32, u8); COMMON_COUNT], usize) = sorted_levels();

const fn sorted_levels() -> ([(u32, u8); COMMON_COUNT], usize) {
    // (window, place in the table) in one key, so that equal windows sort by their place.
    let pairs = common_pairs();
    let mut keys = [0u64; COMMON_COUNT];
    let mut i = 0;
    while i < COMMON_COUNT {
        keys[i] = (pairs[i].0 as u64) << 32 | i as u64;
        i += 1;
    }
    heapsort(&mut keys);
    let mut levels = [(0u32, 0u8); COMMON_COUNT];
    let mut len = 0;
    let mut i = 0;
    while i < COMMON_COUNT {
        let (window, at) = ((keys[i] >> 32) as u32, keys[i] as u32 as usize);
        let last_of_window = i + 1 == COMMON_COUNT || (keys[i + 1] >> 32) as u32 != window;
        if last_of_window {
            levels[len] = (window, pairs[at].1);
            len += 1;
        }
        i += 1;
    }
    (levels, len)
}

/// Sorts `keys` ascending (a heap sort: the compiler runs it, and it is O(n log n)).
const fn heapsort(keys: &mut [u64; COMMON_COUNT]) {
    let mut start = COMMON_COUNT / 2;
    while start > 0 {
        start -= 1;
        sift_down(keys, start, COMMON_COUNT);
    }
    let mut end = COMMON_COUNT;
    while end > 1 {
        end -= 1;
        let top = keys[0];
        keys[0] = keys[end];
        keys[end] = top;
        sift_down(keys, 0, end);
    }
}

const fn sift_down(keys: &mut [u64; COMMON_COUNT], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && keys[child] < keys[child + 1] {
            child += 1;
        }
        if keys[root] >= keys[child] {
            return;
        }
        let parent = keys[root];
        keys[root] = keys[child];
        keys[child] = parent;
        root = child;
    }
}

/// `0x20` where a lower-cased literal byte is a letter, 0 elsewhere: a haystack byte `h`
/// equals the literal byte `l` but for ASCII case exactly when `h | mask == l`.
fn letter_mask(lower: u8) -> u8 {
    if lower.is_ascii_lowercase() {
        0x20
    } else {
        0
    }
}

/// The offset of a literal's rarest 3-byte window, and the entry comparing it. Rarest by
/// [`window_level`] first, then by the bytes' [`commonness`]: a window of common bytes can
/// still be rare (`owst` in `windowstate`), and one of rare bytes common (`m32` in every
/// `system32`), and every occurrence of the window costs a verification.
fn window_of(literal: &[u8]) -> (usize, u32, u32) {
    let offset = (0..=literal.len() - 3)
        .min_by_key(|&k| {
            let w = &literal[k..k + 3];
            let bytes: u32 = w.iter().map(|&b| u32::from(commonness(b))).sum();
            (window_level([w[0], w[1], w[2]]), bytes)
        })
        .unwrap_or(0);
    let w = &literal[offset..];
    match w {
        [a, b, c, d, ..] => (offset, fold4([*a, *b, *c, *d]), u32::MAX),
        _ => (
            offset,
            fold4([w[0], w[1], w[2], 0]) & 0x00FF_FFFF,
            0x00FF_FFFF,
        ),
    }
}

/// How common a 3-byte window is in Windows command lines: floor(log2) of its occurrences
/// among the 5 million windows of 31,448 real command lines, 0 when not among the 4,096 most
/// common ([`trigrams`], generated by `tools/trigrams.py`).
fn window_level(window: [u8; 3]) -> u8 {
    let levels = &LEVELS.0[..LEVELS.1];
    let [a, b, c] = window.map(|b| b | 0x20);
    let folded = u32::from_le_bytes([a, b, c, 0]);
    levels
        .binary_search_by_key(&folded, |&(w, _)| w)
        .map_or(0, |at| levels[at].1)
}

/// Rough commonness rank of a lower-cased byte in Windows command lines and process fields:
/// higher is more common.
pub fn commonness(b: u8) -> u8 {
    const BY_FREQUENCY: &[u8] = b" e\\.tsaoirnc-:lmdwpx/\"h0u1y2gfb3=_v4k5j6q7z8,9";
    const TABLE: [u8; 256] = {
        let mut table = [0u8; 256];
        let mut rank = 0;
        while rank < BY_FREQUENCY.len() {
            table[BY_FREQUENCY[rank] as usize] = 100 - rank as u8;
            rank += 1;
        }
        table
    };
    TABLE[usize::from(b)]
}

impl Literals {
    /// `None` when a literal is shorter than [`MIN_LITERAL`] or there is none. Literal `i` is
    /// reported as `i`.
    pub fn new<L: AsRef<[u8]>>(literals: &[L]) -> Option<Literals> {
        let ids: Vec<u32> = (0..literals.len() as u32).collect();
        Literals::with_ids(literals, &ids)
    }

    /// [`Literals::new`], literal `i` reported as `ids[i]` (the caller's own numbering, so a
    /// hit needs no translation). `None` also when `ids` is shorter than `literals`.
    pub fn with_ids<L: AsRef<[u8]>>(literals: &[L], ids: &[u32]) -> Option<Literals> {
        if literals.is_empty() || ids.len() < literals.len() {
            return None;
        }
        let mut candidates = Vec::with_capacity(literals.len());
        let mut lowered = Vec::with_capacity(literals.len());
        let mut text = Vec::new();
        for (&id, literal) in ids.iter().zip(literals) {
            let literal = literal.as_ref().to_ascii_lowercase();
            if literal.len() < MIN_LITERAL {
                return None;
            }
            let (offset, window, mask) = window_of(&literal);
            candidates.push(Candidate {
                window,
                mask,
                id,
                offset: offset as u32,
                text: text.len() as u32,
                len: literal.len() as u32,
                next: u32::MAX,
            });
            text.extend_from_slice(&literal);
            text.extend(literal.iter().map(|&b| letter_mask(b)));
            lowered.push(literal.into_boxed_slice());
        }
        let windows: Vec<u32> = candidates.iter().map(|c| c.window).collect();
        let multiplier = pick_multiplier(&windows);
        Some(Literals::tabled(
            lowered,
            text.into(),
            candidates,
            multiplier,
        ))
    }

    /// The set with its table and buckets under `multiplier`.
    fn tabled(
        literals: Vec<Box<[u8]>>,
        text: Box<[u8]>,
        candidates: Vec<Candidate>,
        multiplier: u32,
    ) -> Literals {
        let mut bits = Box::new([0u64; TABLE_WORDS]);
        let mut by_slot: Vec<(u32, Candidate)> = Vec::with_capacity(candidates.len());
        for candidate in candidates {
            let slot = slot(candidate.window, multiplier);
            bits[slot as usize >> 6] |= 1 << (slot & 63);
            by_slot.push((
                slot,
                Candidate {
                    next: u32::MAX,
                    ..candidate
                },
            ));
        }
        by_slot.sort_by_key(|&(slot, entry)| (slot, entry.id));
        Literals {
            literals,
            ranks: ranks(&bits),
            bits,
            multiplier,
            entries: chain_buckets(&by_slot),
            text,
        }
    }

    pub fn len(&self) -> usize {
        self.literals.len()
    }

    pub fn is_empty(&self) -> bool {
        self.literals.is_empty()
    }

    /// The `id`-th literal given, lower-cased.
    pub fn literal(&self, id: usize) -> &[u8] {
        &self.literals[id]
    }

    /// Calls `found` with the id of every literal occurring in `haystack` (once per
    /// occurrence). Stops early, returning `true`, when `found` returns `true`.
    #[inline]
    pub fn find(&self, haystack: &[u8], mut found: impl FnMut(usize) -> bool) -> bool {
        if haystack.len() < MIN_LITERAL {
            return false;
        }
        // A haystack under 16 bytes has no vector step: the portable scan, inlined here, costs
        // less than the call.
        #[cfg(target_arch = "x86_64")]
        if haystack.len() >= 16 && std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 was just detected.
            return unsafe { self.find_avx2(haystack, &mut found) };
        }
        self.find_scalar(haystack, &mut found)
    }

    /// Whether any literal occurs in `haystack`.
    pub fn any_in(&self, haystack: &[u8]) -> bool {
        self.find(haystack, |_| true)
    }

    fn find_scalar(&self, haystack: &[u8], found: &mut impl FnMut(usize) -> bool) -> bool {
        self.find_with(
            haystack,
            found,
            |literals, block| literals.eight_scalar(block),
            Literals::last_scalar,
        )
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,popcnt,bmi1")]
    fn find_avx2(&self, haystack: &[u8], found: &mut impl FnMut(usize) -> bool) -> bool {
        self.find_with(
            haystack,
            found,
            |literals, block| literals.eight_avx2::<0>(block),
            |literals, haystack, at| literals.last_avx2(haystack, at),
        )
    }

    /// The scan, generic over how the table bits of 8 positions are looked up (from the 16
    /// bytes at the first) and of the last positions (`last`: from a position on, bit `k` for
    /// position `at + k`), so that it compiles once for the baseline and once for AVX2: 32
    /// positions a round while 40 bytes remain, then 8 while 16 remain, then the rest.
    #[inline(always)]
    fn find_with(
        &self,
        haystack: &[u8],
        found: &mut impl FnMut(usize) -> bool,
        eight: impl Fn(&Self, &[u8; 16]) -> u32,
        last: impl Fn(&Self, &[u8], usize) -> u32,
    ) -> bool {
        let mut at = 0;
        while let Some(bytes) = haystack.get(at..).and_then(|h| h.first_chunk::<40>()) {
            let mut hits = 0;
            for k in 0..4 {
                let sixteen = bytes[8 * k..].first_chunk().unwrap_or(&[0; 16]);
                hits |= eight(self, sixteen) << (8 * k);
            }
            if hits != 0 && self.verify_hits(haystack, at, hits, found) {
                return true;
            }
            at += 32;
        }
        while let Some(sixteen) = haystack.get(at..).and_then(|h| h.first_chunk()) {
            let hits = eight(self, sixteen);
            if hits != 0 && self.verify_hits(haystack, at, hits, found) {
                return true;
            }
            at += 8;
        }
        let hits = last(self, haystack, at);
        hits != 0 && self.verify_hits(haystack, at, hits, found)
    }

    /// The table bits of the windows from `at` to the end, one at a time: at most 13
    /// positions once 16 bytes no longer remain, where a copy for the vector loads would cost
    /// more.
    #[inline(always)]
    fn last_scalar(&self, haystack: &[u8], at: usize) -> u32 {
        (at..(haystack.len() + 1).saturating_sub(MIN_LITERAL))
            .map(|p| self.has(window_at(haystack, p)) << (p - at))
            .fold(0, |hits, bit| hits | bit)
    }

    /// [`Literals::last_scalar`] from the haystack's last 16 bytes, whose 14 windows two
    /// lookups of 8 cover (positions 0-7 and 6-13), shifted to start at `at` (which must
    /// leave fewer than 16 bytes): the windows before `at` are looked up again, but 2 gathers
    /// cost less than up to 13 lookups one at a time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    fn last_avx2(&self, haystack: &[u8], at: usize) -> u32 {
        let Some(block) = haystack.last_chunk::<16>() else {
            return self.last_scalar(haystack, at);
        };
        let skip = at + 16 - haystack.len();
        let mut hits = self.eight_avx2::<6>(block) << 6;
        if skip < 6 {
            hits |= self.eight_avx2::<0>(block);
        }
        hits >> skip
    }

    /// Whether the table bit of `window` is set, as 1 or 0.
    #[inline(always)]
    fn has(&self, window: u32) -> u32 {
        let slot = slot(window, self.multiplier);
        (self.bits[slot as usize >> 6] >> (slot & 63) & 1) as u32
    }

    /// The table bits of the windows at the first 8 positions of `bytes`, bit `k` for
    /// position `k`: 4 windows from each 8 bytes.
    #[inline(always)]
    fn eight_scalar(&self, bytes: &[u8; 16]) -> u32 {
        let mut hits = 0;
        for half in 0..2 {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(&bytes[4 * half..4 * half + 8]);
            let eight = u64::from_le_bytes(eight) | 0x2020_2020_2020_2020;
            for k in 0..4 {
                hits |= self.has((eight >> (8 * k)) as u32) << (4 * half + k);
            }
        }
        hits
    }

    /// [`Literals::eight_scalar`] with AVX2, for the 8 positions from `FROM` (at most 6): the
    /// 8 windows shuffled out of the 16 bytes, folded, hashed, and their table words gathered
    /// at once.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    fn eight_avx2<const FROM: i8>(&self, bytes: &[u8; 16]) -> u32 {
        use std::arch::x86_64::*;
        const { assert!(FROM >= 0 && FROM <= 6) };
        // Window k (lane k) is bytes FROM + k..FROM + k + 3 and a zero (index -1); each
        // 128-bit half shuffles within its copy of the 16 bytes.
        let f = FROM;
        #[rustfmt::skip]
        let shuffle = _mm256_setr_epi8(
            f, f + 1, f + 2, -1, f + 1, f + 2, f + 3, -1,
            f + 2, f + 3, f + 4, -1, f + 3, f + 4, f + 5, -1,
            f + 4, f + 5, f + 6, -1, f + 5, f + 6, f + 7, -1,
            f + 6, f + 7, f + 8, -1, f + 7, f + 8, f + 9, -1,
        );
        // SAFETY: the load reads the 16 bytes of `bytes` (unaligned load).
        let sixteen = unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) };
        let both = _mm256_broadcastsi128_si256(sixteen);
        let windows = _mm256_or_si256(
            _mm256_shuffle_epi8(both, shuffle),
            _mm256_set1_epi32(0x0020_2020),
        );
        let hashed = _mm256_mullo_epi32(windows, _mm256_set1_epi32(self.multiplier as i32));
        let slots = _mm256_srli_epi32::<{ 32 - TABLE_BITS as i32 }>(hashed);
        let words = _mm256_srli_epi32::<5>(slots);
        // SAFETY: `words` are below 2^(TABLE_BITS - 5), the number of 32-bit words in `bits`;
        // x86_64 is little-endian, so 32-bit word `w` holds bits 32w.. of the table.
        let gathered =
            unsafe { _mm256_i32gather_epi32::<4>(self.bits.as_ptr().cast::<i32>(), words) };
        // The slot's bit shifted to the top of its lane, where movemask reads it.
        let up = _mm256_andnot_si256(slots, _mm256_set1_epi32(31));
        let top = _mm256_sllv_epi32(gathered, up);
        _mm256_movemask_ps(_mm256_castsi256_ps(top)) as u32
    }

    /// Verifies the positions `at + k` whose bit `k` is set in `hits`.
    #[inline(always)]
    fn verify_hits(
        &self,
        haystack: &[u8],
        mut at: usize,
        mut hits: u32,
        found: &mut impl FnMut(usize) -> bool,
    ) -> bool {
        while hits != 0 {
            let skip = hits.trailing_zeros();
            at += skip as usize;
            if self.verify(haystack, at, found) {
                return true;
            }
            hits = hits >> skip >> 1;
            at += 1;
        }
        false
    }

    /// Reports the literals of the bucket of the window at `at` that occur there.
    #[inline(always)]
    fn verify(&self, haystack: &[u8], at: usize, found: &mut impl FnMut(usize) -> bool) -> bool {
        let window = window_at(haystack, at);
        let mut next = self.bucket(slot(window, self.multiplier));
        while let Some(entry) = self.entries.get(next) {
            next = entry.next as usize;
            if window & entry.mask != entry.window {
                continue;
            }
            let Some(start) = at.checked_sub(entry.offset as usize) else {
                continue;
            };
            if self.occurs(haystack, start, entry) && found(entry.id as usize) {
                return true;
            }
        }
        false
    }

    /// The first entry of the bucket of the table bit `slot`, which must be set: the bit's
    /// rank.
    #[inline(always)]
    fn bucket(&self, slot: u32) -> usize {
        let (word, bit) = (slot as usize >> 6, slot & 63);
        let below = self.bits[word] & ((1u64 << bit) - 1);
        self.ranks[word] as usize + below.count_ones() as usize
    }

    /// Whether the entry's literal occurs in `haystack` from `start`.
    #[inline(always)]
    fn occurs(&self, haystack: &[u8], start: usize, entry: &Candidate) -> bool {
        let len = entry.len as usize;
        let Some(hay) = haystack.get(start..start + len) else {
            return false;
        };
        let text = &self.text[entry.text as usize..][..2 * len];
        let (lower, letters) = text.split_at(len);
        equal_but_case(hay, lower, letters)
    }
}

/// Whether `hay` equals `lower` but for ASCII case, `letters` being `lower`'s letter mask
/// (all three of one length): 8 bytes at a time, `hay | letters == lower`, the last word
/// overlapping the one before it, so no byte is read past the end.
#[inline(always)]
fn equal_but_case(hay: &[u8], lower: &[u8], letters: &[u8]) -> bool {
    let n = lower.len();
    let folds = |at: usize, width: usize| {
        let word = |s: &[u8]| {
            let mut w = [0u8; 8];
            w[..width].copy_from_slice(&s[at..at + width]);
            u64::from_le_bytes(w)
        };
        word(hay) | word(letters) == word(lower)
    };
    match n {
        0..=3 => hay
            .iter()
            .zip(lower)
            .zip(letters)
            .all(|((&h, &l), &m)| h | m == l),
        4..=7 => folds(0, 4) && folds(n - 4, 4),
        _ => (0..n - 8).step_by(8).all(|at| folds(at, 8)) && folds(n - 8, 8),
    }
}

/// The entries of `by_slot` (sorted by slot) in bucket order: entry `r` is the first of
/// bucket `r`, the table's `r`-th set bit in slot order, so that finding a bucket takes no
/// load besides the rank's. A bucket's other entries follow all the first ones, each chained
/// from the one before.
fn chain_buckets(by_slot: &[(u32, Candidate)]) -> Box<[Candidate]> {
    let starts_bucket = |i: usize| i == 0 || by_slot[i - 1].0 != by_slot[i].0;
    let mut entries: Vec<Candidate> = (0..by_slot.len())
        .filter(|&i| starts_bucket(i))
        .map(|i| by_slot[i].1)
        .collect();
    let (mut bucket, mut last) = (0, 0);
    for (i, &(_, entry)) in by_slot.iter().enumerate() {
        if starts_bucket(i) {
            last = bucket;
            bucket += 1;
        } else {
            entries[last].next = entries.len() as u32;
            last = entries.len();
            entries.push(entry);
        }
    }
    entries.into()
}

/// The number of set bits before each word of `bits`.
fn ranks(bits: &[u64; TABLE_WORDS]) -> Box<[u32; TABLE_WORDS]> {
    let mut ranks = Box::new([0u32; TABLE_WORDS]);
    let mut below = 0;
    for (rank, word) in ranks.iter_mut().zip(bits.iter()) {
        *rank = below;
        below += word.count_ones();
    }
    ranks
}

#[cfg(test)]
mod tests;
