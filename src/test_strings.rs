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
