//! Generated test inputs shared by the unit tests of several rooms.

/// Every string of up to `len` pieces from `pieces` (repeats allowed), the empty one first:
/// for checking a rewrite against the code it replaced on each of them.
pub(crate) fn joined(pieces: &[&str], len: usize) -> Vec<String> {
    let mut all = vec![String::new()];
    let mut last = vec![String::new()];
    for _ in 0..len {
        last = last
            .iter()
            .flat_map(|s| pieces.iter().map(move |p| format!("{s}{p}")))
            .collect();
        all.extend(last.iter().cloned());
    }
    all
}

/// `count` pseudo-random sequences of fewer than `max_len` picks from `0..pieces` (xorshift
/// from `seed`, so every run checks the same ones): inputs for checking a rewrite against the
/// code it replaced where every sequence ([`joined`]) would be too many.
pub(crate) fn random_picks(
    seed: u64,
    count: usize,
    max_len: u64,
    pieces: usize,
) -> impl Iterator<Item = Vec<usize>> {
    let mut seed = seed;
    (0..count).map(move |_| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let pick = |k: u64| (seed.rotate_right(7 * k as u32) % pieces as u64) as usize;
        (0..seed % max_len).map(pick).collect()
    })
}

/// A pseudo-random index below `n` at each call (a linear congruential generator from
/// `state`, the same sequence every run).
pub(crate) fn below(mut state: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        (state >> 33) as usize % n
    }
}
