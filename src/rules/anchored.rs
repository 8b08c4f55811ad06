//! Literals a value must start (or end) with, for the literal index: one walk along the
//! value's first (last) bytes finds every literal it starts (ends) with, however many share
//! their first bytes (`c:\\`, `.exe`: Sigma names hundreds of programs by `Image|endswith`).
//!
//! The literals' folded bytes make a trie (read from the end for ends). The root's children
//! are one 256-entry table, looked up inline, so most values leave the trie at their first
//! byte without a call; every other edge sits in one open-addressed table keyed by (node,
//! byte), under both cases of a letter, so a step is one hash and usually one probe, whatever
//! the node's number of children, and the value's bytes are not folded. A node's number
//! carries whether a literal ends there, so a step that reads no literal loads nothing else.
//! With the ESCU corpus a benchmark row walks ~12 steps below the roots (most of them in the
//! ends); the walks cost it ~520 instructions with sorted edge lists binary-searched per node
//! and each byte lower-cased, ~400 now besides the inline root lookups (callgrind, 2026-12-07).

/// The literals starting (or ending) a value, in a trie of their lower-cased bytes.
#[derive(Debug, Clone)]
pub(super) struct Anchored {
    /// The root's child for each byte, either case: an encoded node ([`Anchored::node`]), 0
    /// for none (the root is no one's child).
    root: Box<[u32; 256]>,
    /// Every edge below the root: a power of two at most half full, probed linearly from the
    /// key's hash; a free slot has child 0.
    edges: Box<[Edge]>,
    /// `64 - log2(edges.len())`: a key's first slot is its hash's top bits.
    shift: u32,
    /// Node → the literal whose last byte read it is (meaningful where the node's number says
    /// one ends there).
    literal: Box<[u32]>,
    at_end: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct Edge {
    /// `node << 8 | byte`: a letter's edge is there in both cases.
    key: u64,
    /// The encoded node the edge leads to.
    child: u32,
}

const HASH: u64 = 0x9E37_79B9_7F4A_7C15;

impl Anchored {
    /// The trie of `literals` (lower-cased, each reported by its id), read from the end when
    /// `at_end`. Of literals equal to each other, the first in sorted order is reported.
    pub(super) fn new(literals: &[&[u8]], ids: &[u32], at_end: bool) -> Anchored {
        let (children, literal) = trie(literals, ids, at_end);
        let mut root = Box::new([0u32; 256]);
        let cases = |byte: u8| 1 + usize::from(byte.is_ascii_lowercase());
        let below: usize = children
            .iter()
            .skip(1)
            .flatten()
            .map(|&(b, _)| cases(b))
            .sum();
        let size = (2 * below).next_power_of_two().max(2);
        let mut anchored = Anchored {
            root: Box::new([0; 256]),
            edges: vec![Edge::default(); size].into(),
            shift: 64 - size.trailing_zeros(),
            literal: literal.iter().map(|id| id.unwrap_or(0)).collect(),
            at_end,
        };
        for (node, edges) in children.iter().enumerate() {
            for &(byte, child) in edges {
                let encoded = Anchored::node(child, literal[child as usize].is_some());
                for byte in [byte, byte.to_ascii_uppercase()] {
                    match node {
                        0 => root[usize::from(byte)] = encoded,
                        _ => anchored.insert(key(node as u32, byte), encoded),
                    }
                }
            }
        }
        anchored.root = root;
        anchored
    }

    /// A node's number as the tables hold it: `node << 1`, plus 1 when a literal ends there.
    fn node(node: u32, ends_literal: bool) -> u32 {
        node << 1 | u32::from(ends_literal)
    }

    /// Adds the edge `key` unless it is there.
    fn insert(&mut self, key: u64, child: u32) {
        let mask = self.edges.len() - 1;
        let mut at = self.first_slot(key);
        while self.edges[at].child != 0 {
            if self.edges[at].key == key {
                return;
            }
            at = (at + 1) & mask;
        }
        self.edges[at] = Edge { key, child };
    }

    #[inline(always)]
    fn first_slot(&self, key: u64) -> usize {
        (key.wrapping_mul(HASH) >> self.shift) as usize
    }

    /// The encoded child of (decoded) `node` by `byte` (either case), 0 when there is none.
    #[inline(always)]
    fn child(&self, node: u32, byte: u8) -> u32 {
        let key = key(node, byte);
        let mask = self.edges.len() - 1;
        let mut at = self.first_slot(key);
        loop {
            let Some(edge) = self.edges.get(at) else {
                return 0;
            };
            if edge.key == key || edge.child == 0 {
                return edge.child;
            }
            at = (at + 1) & mask;
        }
    }

    /// Calls `found` with the id of every literal `value` starts (ends) with, shortest first.
    /// Inlined up to the root's table, which most values leave by: the call cost more than
    /// that lookup.
    #[inline(always)]
    pub(super) fn find(&self, value: &[u8], found: impl FnMut(u32)) {
        if value.len() < super::prefilter::MIN_ANCHORED {
            return;
        }
        let first = match self.at_end {
            true => value.last(),
            false => value.first(),
        };
        let node = first.map_or(0, |&byte| self.root[usize::from(byte)]);
        if node != 0 {
            self.walk_from(node, value, found);
        }
    }

    /// [`Anchored::find`] from the root's child `node`.
    #[inline(never)]
    fn walk_from(&self, node: u32, value: &[u8], found: impl FnMut(u32)) {
        match self.at_end {
            true => {
                let before_last = value.get(..value.len().saturating_sub(1));
                self.walk(node, before_last.unwrap_or_default().iter().rev(), found);
            }
            false => self.walk(node, value.get(1..).unwrap_or_default().iter(), found),
        }
    }

    #[inline(always)]
    fn walk<'v>(
        &self,
        mut node: u32,
        mut bytes: impl Iterator<Item = &'v u8>,
        mut found: impl FnMut(u32),
    ) {
        while node != 0 {
            if node & 1 == 1 {
                found(self.literal.get((node >> 1) as usize).copied().unwrap_or(0));
            }
            let Some(&byte) = bytes.next() else {
                return;
            };
            node = self.child(node >> 1, byte);
        }
    }
}

#[inline(always)]
fn key(node: u32, byte: u8) -> u64 {
    u64::from(node) << 8 | u64::from(byte)
}

/// Node → its children (byte, node), and node → the literal ending there, of the trie of
/// `literals`, built breadth first from their sorted order: a node's children are the runs
/// of one byte at its depth. Node 0 is the root.
#[allow(clippy::type_complexity)]
fn trie(literals: &[&[u8]], ids: &[u32], at_end: bool) -> (Vec<Vec<(u8, u32)>>, Vec<Option<u32>>) {
    let byte = |i: usize, depth: usize| -> Option<u8> {
        let literal = literals[i];
        let at = if at_end {
            literal.len().checked_sub(depth + 1)?
        } else {
            depth
        };
        literal.get(at).copied()
    };
    let mut order: Vec<usize> = (0..literals.len().min(ids.len())).collect();
    order.sort_by(|&a, &b| match at_end {
        true => literals[a].iter().rev().cmp(literals[b].iter().rev()),
        false => literals[a].cmp(literals[b]),
    });
    let (mut children, mut literal) = (Vec::new(), Vec::new());
    let mut queue = std::collections::VecDeque::from([(0..order.len(), 0)]);
    let mut nodes = 1u32;
    while let Some((range, depth)) = queue.pop_front() {
        let ends_here = order[range.clone()]
            .iter()
            .take_while(|&&i| byte(i, depth).is_none())
            .count();
        literal.push(
            order[range.start..range.start + ends_here]
                .first()
                .map(|&i| ids[i]),
        );
        let mut edges = Vec::new();
        let mut at = range.start + ends_here;
        while let Some(next) = order
            .get(at)
            .filter(|_| at < range.end)
            .and_then(|&i| byte(i, depth))
        {
            let run = order[at..range.end]
                .iter()
                .take_while(|&&i| byte(i, depth) == Some(next))
                .count();
            edges.push((next, nodes));
            nodes += 1;
            queue.push_back((at..at + run, depth + 1));
            at += run;
        }
        children.push(edges);
    }
    (children, literal)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every literal a value starts (ends) with, by comparing each literal with the value's
    /// first (last) bytes: what the walk must report.
    fn naive(literals: &[&[u8]], value: &[u8], at_end: bool) -> Vec<u32> {
        let mut ids: Vec<u32> = (0..literals.len() as u32)
            .filter(|&i| {
                let literal = literals[i as usize];
                let Some(at) = value.len().checked_sub(literal.len()) else {
                    return false;
                };
                let part = if at_end {
                    &value[at..]
                } else {
                    &value[..literal.len()]
                };
                part.eq_ignore_ascii_case(literal)
            })
            .collect();
        ids.sort_unstable();
        ids
    }

    /// Deterministic words over a small alphabet (so that literals share prefixes and
    /// suffixes, and values often hold them), in both cases, with non-ASCII bytes.
    fn words(seed: u64, count: usize, max_len: u64) -> Vec<Vec<u8>> {
        const ALPHABET: &[u8] = b"aAbB.\\ex\xc3";
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(HASH);
            let z = (state ^ (state >> 31)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z ^ (z >> 29)
        };
        (0..count)
            .map(|_| {
                let len = 2 + next() % max_len;
                (0..len)
                    .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_walk_reports_every_literal_a_value_starts_or_ends_with() {
        let mut literals: Vec<Vec<u8>> = words(1, 300, 5)
            .into_iter()
            .map(|w| w.to_ascii_lowercase())
            .collect();
        literals.sort();
        literals.dedup();
        let literals: Vec<&[u8]> = literals.iter().map(Vec::as_slice).collect();
        let ids: Vec<u32> = (0..literals.len() as u32).collect();
        let mut reported = 0;
        for at_end in [false, true] {
            let anchored = Anchored::new(&literals, &ids, at_end);
            for value in words(2, 3000, 9) {
                let mut found = Vec::new();
                anchored.find(&value, |id| found.push(id));
                found.sort_unstable();
                assert_eq!(
                    found,
                    naive(&literals, &value, at_end),
                    "{value:?} {at_end}"
                );
                reported += found.len();
            }
        }
        assert!(
            reported > 1000,
            "the values hold too few literals: {reported}"
        );
    }

    #[test]
    fn no_literal_or_a_short_value_reports_nothing() {
        let anchored = Anchored::new(&[], &[], true);
        anchored.find(b"anything.exe", |_| panic!("no literal"));
        let anchored = Anchored::new(&[b"ab"], &[7], false);
        anchored.find(b"a", |_| panic!("shorter than any literal"));
        let mut found = Vec::new();
        anchored.find(b"ABc", |id| found.push(id));
        assert_eq!(found, vec![7]);
    }
}
