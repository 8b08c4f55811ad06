//! Whole values looked up ASCII case-insensitively, without folding the value first: the
//! value's 8-byte words are hashed with each byte `| 0x20` (both cases of a letter hash alike,
//! as do a few punctuation pairs), probed in an open-addressed table, and the entry found is
//! compared exactly as [`Literals`](super::Literals) compares a literal: `hay | letters ==
//! lower`. A length table turns most values away before any hashing: the values of one field
//! that rules name (program names) have few lengths, the field's other values (command lines)
//! other ones.

/// Whole values, each reported by its ids; values equal but for case share one entry.
#[derive(Debug, Clone)]
pub struct WholeValues {
    /// Open-addressed, a power of two at most half full: (hash tag, entry + 1), 0 when free.
    slots: Box<[(u32, u32)]>,
    /// `64 - log2(slots.len())`: a hash's slot is its top bits.
    shift: u32,
    /// Bit `n` set when some value has `n` bytes (`n < 256`).
    lengths: [u64; 4],
    /// Whether some value has 256 bytes or more.
    long: bool,
    entries: Box<[Entry]>,
    /// Per entry: its lower-cased bytes, then their letter mask ([`super::letter_mask`]).
    text: Box<[u8]>,
    ids: Box<[u32]>,
}

/// Where an entry's bytes sit in `text` and its ids in `ids`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    text: u32,
    len: u32,
    ids: u32,
    ids_end: u32,
}

const FOLD: u64 = 0x2020_2020_2020_2020;

/// FxHash's multiply-rotate over the value's 8-byte words, each byte `| 0x20`, the last word
/// zero-padded: values equal but for ASCII case hash alike.
#[inline(always)]
fn folded_hash(value: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut hash = value.len() as u64;
    let mut words = value.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        hash = (hash.rotate_left(5) ^ (u64::from_le_bytes(bytes) | FOLD)).wrapping_mul(K);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let word = last_bytes(value, tail.len());
        hash = (hash.rotate_left(5) ^ (word | FOLD)).wrapping_mul(K);
    }
    hash
}

/// The last `n` bytes of `value` (`1..=7`, at most its length), little-endian and
/// zero-extended: what copying them into a zeroed 8-byte word gives, read with overlapping
/// loads instead of a copy of variable length (a call to `memcpy`).
#[inline(always)]
fn last_bytes(value: &[u8], n: usize) -> u64 {
    let len = value.len();
    let word = |at: usize| -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&value[at..at + 8]);
        u64::from_le_bytes(bytes)
    };
    let half = |at: usize| -> u64 {
        let mut bytes = [0u8; 4];
        bytes.copy_from_slice(&value[at..at + 4]);
        u64::from(u32::from_le_bytes(bytes))
    };
    let byte = |at: usize| u64::from(value[at]);
    if len >= 8 {
        word(len - 8) >> (8 * (8 - n))
    } else if n >= 4 {
        half(0) | half(n - 4) << (8 * (n - 4))
    } else {
        byte(0) | byte(n / 2) << (8 * (n / 2)) | byte(n - 1) << (8 * (n - 1))
    }
}

impl WholeValues {
    /// Value `i` is reported as `i`; values equal but for case share a lookup.
    pub fn new<V: AsRef<[u8]>>(values: &[V]) -> WholeValues {
        let mut order: Vec<(Vec<u8>, u32)> = values
            .iter()
            .enumerate()
            .map(|(id, v)| (v.as_ref().to_ascii_lowercase(), id as u32))
            .collect();
        order.sort();
        let mut table = WholeValues {
            slots: Box::new([]),
            shift: 0,
            lengths: [0; 4],
            long: false,
            entries: Box::new([]),
            text: Box::new([]),
            ids: Box::new([]),
        };
        let (mut entries, mut text, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (lower, id)) in order.iter().enumerate() {
            if i == 0 || order[i - 1].0 != *lower {
                entries.push(Entry {
                    text: text.len() as u32,
                    len: lower.len() as u32,
                    ids: ids.len() as u32,
                    ids_end: ids.len() as u32,
                });
                text.extend_from_slice(lower);
                text.extend(lower.iter().map(|&b| super::letter_mask(b)));
                match lower.len() {
                    n @ 0..=255 => table.lengths[n >> 6] |= 1 << (n & 63),
                    _ => table.long = true,
                }
            }
            ids.push(*id);
            if let Some(entry) = entries.last_mut() {
                entry.ids_end = ids.len() as u32;
            }
        }
        let size = (2 * entries.len()).next_power_of_two().max(2);
        table.shift = 64 - size.trailing_zeros();
        let mut slots = vec![(0u32, 0u32); size];
        for (e, entry) in entries.iter().enumerate() {
            let lower = &text[entry.text as usize..][..entry.len as usize];
            let hash = folded_hash(lower);
            let mut at = (hash >> table.shift) as usize;
            while slots[at].1 != 0 {
                at = (at + 1) & (size - 1);
            }
            slots[at] = (hash as u32, e as u32 + 1);
        }
        table.slots = slots.into();
        table.entries = entries.into();
        table.text = text.into();
        table.ids = ids.into();
        table
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether some value has `len` bytes.
    #[inline(always)]
    fn has_length(&self, len: usize) -> bool {
        match self.lengths.get(len >> 6) {
            Some(word) => word >> (len & 63) & 1 == 1,
            None => self.long,
        }
    }

    /// The ids of the values equal to `value` but for ASCII case (none: empty). Inlined: the
    /// call saved and restored ~19 instructions' worth of registers, a sixth of a lookup.
    #[inline(always)]
    pub fn get(&self, value: &[u8]) -> &[u32] {
        if !self.has_length(value.len()) {
            return &[];
        }
        let hash = folded_hash(value);
        let mask = self.slots.len() - 1;
        let mut at = (hash >> self.shift) as usize;
        loop {
            // The tag turns other values away before their entry is loaded.
            let (tag, entry) = self.slots[at];
            if entry == 0 {
                return &[];
            }
            if tag == hash as u32 {
                let Some(entry) = self.entries.get(entry as usize - 1) else {
                    return &[];
                };
                let len = value.len();
                if entry.len as usize == len {
                    let text = &self.text[entry.text as usize..][..2 * len];
                    let (lower, letters) = text.split_at(len);
                    if super::equal_but_case(value, lower, letters) {
                        return &self.ids[entry.ids as usize..entry.ids_end as usize];
                    }
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Whether some value holds `byte` (a lookup cannot tell values needing decoding apart).
    pub fn any_holds(&self, byte: u8) -> bool {
        self.entries
            .iter()
            .any(|e| self.text[e.text as usize..][..e.len as usize].contains(&byte))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The overlapping loads give what a copy into a zeroed word gives, for every tail of
    /// every value of up to 24 bytes.
    #[test]
    fn last_bytes_is_the_zero_padded_copy() {
        let value: Vec<u8> = (1..=24u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 1..=value.len() {
            let value = &value[..len];
            let tails = match len {
                1..=7 => len..=len,
                _ => 1..=7,
            };
            for n in tails {
                let mut copied = [0u8; 8];
                copied[..n].copy_from_slice(&value[len - n..]);
                assert_eq!(
                    last_bytes(value, n),
                    u64::from_le_bytes(copied),
                    "{len} {n}"
                );
            }
        }
    }
}
