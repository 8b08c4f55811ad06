//! [`Literals`] against a naive search, on each scan the CPU runs (the portable one always,
//! AVX2 when detected), around every block and haystack boundary; and [`WholeValues`].

use super::*;

type Found<'a> = &'a mut dyn FnMut(usize) -> bool;
type Kernel = fn(&Literals, &[u8], Found<'_>) -> bool;

/// The scans this CPU runs, by name, and the dispatching [`Literals::find`].
fn kernels() -> Vec<(&'static str, Kernel)> {
    let portable: [(&'static str, Kernel); 2] = [
        ("find", |set, hay, found| set.find(hay, found)),
        ("scalar", |set, hay, mut found| {
            set.find_scalar(hay, &mut found)
        }),
    ];
    portable.into_iter().chain(vector_kernel()).collect()
}

/// The AVX2 scan when this CPU has AVX2.
fn vector_kernel() -> Option<(&'static str, Kernel)> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return Some(("avx2", |set, hay, mut found| {
            // SAFETY: AVX2 was detected before this kernel was listed.
            unsafe { set.find_avx2(hay, &mut found) }
        }));
    }
    None
}

/// Every occurrence of every literal, as `eq_ignore_ascii_case` sees it: literal ids, sorted.
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

fn search(kernel: Kernel, set: &Literals, haystack: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let stopped = kernel(set, haystack, &mut |id| {
        found.push(id);
        false
    });
    assert!(!stopped, "stopped without being asked to");
    found.sort_unstable();
    found
}

/// Checks every kernel against [`naive`] on `haystack`, and `any_in`; returns the hits.
fn agree(literals: &[&[u8]], set: &Literals, haystack: &[u8]) -> usize {
    let expected = naive(literals, haystack);
    for (name, kernel) in kernels() {
        assert_eq!(
            search(kernel, set, haystack),
            expected,
            "{name} on {:?}",
            String::from_utf8_lossy(haystack)
        );
    }
    assert_eq!(set.any_in(haystack), !expected.is_empty());
    expected.len()
}

/// xorshift64: the same pseudo-random sequence on every machine.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn pick(&mut self, bytes: &[u8]) -> u8 {
        bytes[self.below(bytes.len())]
    }

    /// `bytes` with each ASCII letter's case flipped at random.
    fn recase(&mut self, bytes: &[u8]) -> Vec<u8> {
        let flip = |b: u8| if b.is_ascii_alphabetic() { b ^ 0x20 } else { b };
        bytes
            .iter()
            .map(|&b| if self.below(2) == 0 { flip(b) } else { b })
            .collect()
    }
}

/// Letters, the punctuation pairs `| 0x20` folds together, and bytes past ASCII whose folds
/// collide (`0xC1`/`0xE1`) or that are UTF-8 lead and continuation bytes.
const ALPHABET: &[u8] = b"aAbBeExX-. \\|[{@`_\x7f^~\xc1\xe1\xc3\xa9\xff\x80";

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
        agree(literals, &set, hay);
    }
}

#[test]
fn agrees_with_a_naive_search_on_pseudo_random_text() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let words: Vec<Vec<u8>> = (0..300)
        .map(|_| {
            let len = 3 + rng.below(6) + if rng.below(8) == 0 { rng.below(32) } else { 0 };
            (0..len).map(|_| rng.pick(ALPHABET)).collect()
        })
        .collect();
    let literals: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
    let set = Literals::new(&literals).expect("valid");
    let mut hits = 0;
    for _ in 0..3_000 {
        let mut hay = Vec::new();
        let len = rng.below(130);
        while hay.len() < len {
            match rng.below(4) {
                0 => {
                    let literal = literals[rng.below(literals.len())];
                    hay.extend(rng.recase(literal));
                }
                _ => hay.push(rng.pick(ALPHABET)),
            }
        }
        hits += agree(&literals, &set, &hay);
    }
    assert!(hits > 5_000, "{hits}");
}

/// Literals of 3, 4 and (in turn) 5 to 40 bytes at every offset of haystacks of every length
/// up to 70: across the 32-position blocks, the copied last block and the 3-byte end.
#[test]
fn literals_are_found_at_every_offset_of_every_haystack_length() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let source: Vec<u8> = (0..40).map(|_| rng.pick(b"qwxzjkvQWXZJKV")).collect();
    let words: Vec<Vec<u8>> = (3..=40).map(|len| source[40 - len..].to_vec()).collect();
    let literals: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
    let set = Literals::new(&literals).expect("valid");
    let mut lengths_found = std::collections::BTreeSet::new();
    for len in 0..=70 {
        assert_eq!(agree(&literals, &set, &vec![b'.'; len]), 0);
        for at in 0..len {
            for literal_len in [3, 4, 5 + (len + at) % 36] {
                if at + literal_len > len {
                    continue;
                }
                let mut hay = vec![b'.'; len];
                let literal = rng.recase(literals[literal_len - 3]);
                hay[at..at + literal_len].copy_from_slice(&literal);
                assert!(agree(&literals, &set, &hay) > 0, "{len} {at}");
                lengths_found.insert(literal_len);
            }
        }
    }
    assert_eq!(lengths_found.len(), 38);
}

/// Bytes that `| 0x20` folds together hash to the same table bit, so the table passes them:
/// the verification must not.
#[test]
fn punctuation_and_bytes_past_ascii_that_fold_together_do_not_match() {
    let pairs: &[(u8, u8)] = &[
        (b'\\', b'|'),
        (b'[', b'{'),
        (b'@', b'`'),
        (b'_', 0x7f),
        (b'^', b'~'),
        (b']', b'}'),
        (0xc1, 0xe1),
        (b'A', b'a'),
    ];
    for &(one, other) in pairs {
        for literal in [[one, b'k', b'q'], [b'k', one, b'q'], [b'k', b'q', one]] {
            let long = [&literal[..], b"zv"].concat();
            let literals: &[&[u8]] = &[&literal, &long];
            let set = Literals::new(literals).expect("valid");
            let swap = |b: &u8| if *b == one { other } else { *b };
            let swapped: Vec<u8> = long.iter().map(swap).collect();
            for hay in [&long[..], &swapped, &[b"  ", &swapped[..], b"  "].concat()] {
                let hits = agree(literals, &set, hay);
                let same = one.eq_ignore_ascii_case(&other) || hay == &long[..];
                assert_eq!(hits > 0, same, "{one:#x}/{other:#x} in {hay:?}");
            }
        }
    }
}

/// Literals sharing their rarest window land in one bucket: each is still told apart.
#[test]
fn many_literals_sharing_a_window_are_told_apart() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let words: Vec<Vec<u8>> = (0..200)
        .map(|_| {
            let before: Vec<u8> = (0..rng.below(6)).map(|_| rng.pick(b"ab ")).collect();
            let after: Vec<u8> = (0..rng.below(6)).map(|_| rng.pick(b"ab ")).collect();
            [&before[..], b"qzj", &after[..]].concat()
        })
        .collect();
    let literals: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
    let set = Literals::new(&literals).expect("valid");
    let mut hits = 0;
    for _ in 0..500 {
        let mut hay = Vec::new();
        for _ in 0..rng.below(6) {
            let literal = literals[rng.below(literals.len())];
            hay.extend(rng.recase(literal));
            for _ in 0..rng.below(4) {
                hay.push(rng.pick(b"ab "));
            }
        }
        hits += agree(&literals, &set, &hay);
    }
    assert!(hits > 1_000, "{hits}");
}

/// A literal at every position of haystacks of 3 to 70 bytes: the last positions, looked up
/// from the haystack's last 16 bytes (overlapping positions already scanned), are each
/// reported once, none missed, none twice.
#[test]
fn a_literal_at_every_position_is_reported_once_up_to_the_end() {
    let literals: &[&[u8]] = &[b"aaa", b"aaaa", b"aab", b"zaa"];
    let set = Literals::new(literals).expect("valid");
    for len in 3..=70 {
        let all_a = vec![b'A'; len];
        assert_eq!(agree(literals, &set, &all_a), 2 * (len - 2) - 1, "{len}");
        let mut ends = all_a.clone();
        ends[len - 1] = b'b';
        ends[0] = b'z';
        assert!(len < 4 || agree(literals, &set, &ends) >= 2, "{len}");
    }
}

#[test]
fn the_search_stops_at_the_first_occurrence_it_is_told_to() {
    let literals: &[&[u8]] = &[b"abc", b"bcd", b"-enc"];
    let set = Literals::new(literals).expect("valid");
    let hay = b"xx ABCD -enc abcd ABC -Enc bcd -enc xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx abc";
    let total = naive(literals, hay).len();
    assert_eq!(total, 10);
    for (name, kernel) in kernels() {
        for stop_at in 1..=total {
            let mut calls = 0;
            let stopped = kernel(&set, hay, &mut |_| {
                calls += 1;
                calls == stop_at
            });
            assert!(stopped, "{name}");
            assert_eq!(calls, stop_at, "{name}");
        }
    }
}

#[test]
fn whole_values_are_found_in_any_case_and_only_whole() {
    let values = WholeValues::new(&["NetSh.exe", "cmd.exe", "netsh.EXE"]);
    assert_eq!(values.get(b"NETSH.exe").len(), 2);
    assert_eq!(values.get(b"cmd.exe"), [1]);
    for miss in [&b"xnetsh.exe"[..], b"netsh.ex", b"", b"cmd.exe "] {
        assert!(values.get(miss).is_empty(), "{miss:?}");
    }
    assert!(!values.any_holds(b'"'));
}

/// Values hashed alike (`| 0x20` folds `@` with a backtick, `[` with `{`) or of one length
/// are told apart exactly; lengths past 255 bytes, empty values and many values (the table
/// probing past full buckets) are found too.
#[test]
fn whole_values_are_told_apart_exactly_whatever_they_hash_to() {
    let long = "x".repeat(300);
    let mut values: Vec<String> = vec![
        "a@b".into(),
        "a[b".into(),
        "A`B".into(),
        long.clone(),
        String::new(),
    ];
    values.extend((0..500).map(|n| format!("prog{n:03}.exe")));
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut short = || -> Vec<u8> {
        let len = 1 + rng.below(3);
        (0..len).map(|_| rng.pick(ALPHABET)).collect()
    };
    let mut values: Vec<Vec<u8>> = values.into_iter().map(String::into_bytes).collect();
    values.extend((0..200).map(|_| short()));
    let table = WholeValues::new(&values);
    let naive = |value: &[u8]| -> Vec<u32> {
        (values.iter().enumerate())
            .filter(|(_, v)| v.eq_ignore_ascii_case(value))
            .map(|(id, _)| id as u32)
            .collect()
    };
    assert!(table.get(b"A@B").contains(&0) && !table.get(b"A@B").contains(&2));
    assert!(!table.get(b"a{b").contains(&1));
    assert!(table.get(b"a`b").contains(&2));
    for probe in [&b"A@B"[..], b"a{b", b"a`b", b"a[B", b""] {
        assert_eq!(table.get(probe), naive(probe), "{probe:?}");
    }
    assert_eq!(table.get(long.to_uppercase().as_bytes()), [3]);
    assert!(table.get(&long.as_bytes()[1..]).is_empty());
    for n in 0..500u32 {
        let value = format!("PROG{n:03}.Exe");
        assert_eq!(table.get(value.as_bytes()), [n + 5], "{value}");
        assert!(table.get(format!("prog{n:03}.ex_").as_bytes()).is_empty());
    }
    assert!(table.get(b"prog500.exe").is_empty());
    let mut hits = 0;
    for _ in 0..5000 {
        let value = short();
        let expected = naive(&value);
        hits += usize::from(!expected.is_empty());
        assert_eq!(table.get(&value), expected, "{value:?}");
    }
    assert!(hits > 100, "{hits}");
}

#[test]
fn refuses_short_or_no_literals() {
    assert!(Literals::new(&[&b"ab"[..]]).is_none());
    assert!(Literals::new::<&[u8]>(&[]).is_none());
}

#[test]
fn windows_are_picked_rare_by_the_command_line_model() {
    // `dows` is common (every `windows`), `.dit` is not.
    let (offset, _, _) = window_of(b"\\windows\\ntds\\ntds.dit");
    assert!(window_level([b'd', b'o', b'w']) > window_level([b'd', b'i', b't']));
    assert_ne!(&b"\\windows\\ntds\\ntds.dit"[offset..offset + 3], b"dow");
}

/// The answers do not depend on the hash: the random-text check under every multiplier the
/// set could pick.
#[test]
fn every_multiplier_gives_the_same_answers() {
    let mut rng = Rng(0x94D0_49BB_1331_11EB);
    let words: Vec<Vec<u8>> = (0..120)
        .map(|_| (0..3 + rng.below(8)).map(|_| rng.pick(ALPHABET)).collect())
        .collect();
    let literals: Vec<&[u8]> = words.iter().map(Vec::as_slice).collect();
    let picked = Literals::new(&literals).expect("valid");
    let hays: Vec<Vec<u8>> = (0..200)
        .map(|_| {
            let mut hay = Vec::new();
            while hay.len() < 60 {
                let literal = literals[rng.below(literals.len())];
                hay.extend(rng.recase(literal));
                hay.push(rng.pick(ALPHABET));
            }
            hay
        })
        .collect();
    for multiplier in MULTIPLIERS {
        let candidates = picked.entries.to_vec();
        let set = Literals::tabled(
            picked.literals.clone(),
            picked.text.clone(),
            candidates,
            multiplier,
        );
        assert_eq!(set.entries.len(), literals.len());
        for hay in &hays {
            assert!(agree(&literals, &set, hay) > 0);
        }
    }
}

/// The generated model is whole folded 3-byte windows, most common first.
#[test]
fn the_command_line_model_is_whole_folded_windows_by_falling_level() {
    let mut windows = 0;
    let mut last = u8::MAX;
    for &(level, bytes) in trigrams::COMMON {
        assert_eq!(bytes.len() % 3, 0, "level {level}");
        assert!(bytes.iter().all(|b| b & 0x20 != 0), "level {level}");
        assert!(level <= last);
        last = level;
        windows += bytes.len() / 3;
    }
    assert_eq!(windows, 4096);
    assert!(window_level(*b"EXE") >= 12);
    assert_eq!(window_level(*b"qzj"), 0);
}

/// The tables the compiler works out are what the table lists: every window in order with
/// its level, and sorted by window with the last level of a window listed twice (as a
/// stable sort and a pass keeping each window's last entry give them; the generated table
/// lists none twice today).
#[test]
fn the_compiled_window_tables_are_the_lists() {
    let listed: Vec<(u32, u8)> = (trigrams::COMMON.iter())
        .flat_map(|&(level, bytes)| {
            let windows = bytes.chunks_exact(3);
            windows.map(move |w| (u32::from_le_bytes([w[0], w[1], w[2], 0]), level))
        })
        .collect();
    assert_eq!(COMMON_WINDOWS[..], listed[..]);
    let mut by_window = listed.clone();
    by_window.sort_by_key(|&(window, _)| window);
    let last_of_each: Vec<(u32, u8)> = (0..by_window.len())
        .filter(|&i| {
            by_window
                .get(i + 1)
                .is_none_or(|next| next.0 != by_window[i].0)
        })
        .map(|i| by_window[i])
        .collect();
    assert_eq!(LEVELS.0[..LEVELS.1], last_of_each[..]);
}

/// A literal whose window shares a table bit with `exe` under the first multiplier gets
/// another: otherwise every `.exe` in a command line would cost a verification.
#[test]
fn the_hash_is_picked_so_that_common_windows_miss_the_literals_bits() {
    let exe = u32::from_le_bytes(*b"exe\0");
    let folded = || (0x20..0x80u8).filter(|b| b & 0x20 != 0);
    let colliding = folded()
        .flat_map(|a| folded().flat_map(move |b| folded().map(move |c| [a, b, c])))
        .find(|&[a, b, c]| {
            let window = u32::from_le_bytes([a, b, c, 0]);
            slot(window, MULTIPLIERS[0]) == slot(exe, MULTIPLIERS[0])
                && window_level([a, b, c]) == 0
        })
        .expect("some rare window collides with `exe`");
    let set = Literals::new(&[&colliding[..]]).expect("valid");
    assert_ne!(set.multiplier, MULTIPLIERS[0]);
    assert_eq!(set.has(exe), 0);
    assert_eq!(
        set.has(u32::from_le_bytes([
            colliding[0],
            colliding[1],
            colliding[2],
            0
        ])),
        1
    );
}

#[test]
fn literals_are_reported_by_the_ids_given() {
    let set = Literals::with_ids(&["mimikatz", "-enc"], &[7, 3]).expect("set");
    let mut found = Vec::new();
    set.find(b"x -ENC y MimiKatz and more bytes", |id| {
        found.push(id);
        false
    });
    found.sort_unstable();
    assert_eq!(found, vec![3, 7]);
    assert_eq!(set.literal(1), b"-enc");
    assert!(Literals::with_ids(&["abc", "def"], &[1]).is_none());
}

/// The multiplier as first written, a collision looked up among every literal window per
/// multiplier: the reference the load-time shortcut must agree with.
fn pick_multiplier_reference(windows: &[u32]) -> u32 {
    let windows: Vec<u32> = windows.iter().map(|w| w & 0x00FF_FFFF).collect();
    let cost = |&multiplier: &u32| {
        let mut bits = vec![0u64; TABLE_WORDS];
        for &w in &windows {
            let slot = slot(w, multiplier);
            bits[slot as usize >> 6] |= 1 << (slot & 63);
        }
        let mut cost = 0u64;
        for &(level, trigrams) in trigrams::COMMON {
            for t in trigrams.chunks_exact(3) {
                let w = u32::from_le_bytes([t[0], t[1], t[2], 0]);
                let slot = slot(w, multiplier);
                if bits[slot as usize >> 6] >> (slot & 63) & 1 == 1 && !windows.contains(&w) {
                    cost += 1 << level;
                }
            }
        }
        cost
    };
    MULTIPLIERS.into_iter().min_by_key(cost).unwrap()
}

/// Literal sets of every size, from a few windows to thousands of common and rare ones,
/// get the multiplier and window levels the direct computation gives.
#[test]
fn the_multiplier_and_window_levels_are_the_direct_computations() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let common: Vec<u32> = trigrams::COMMON
        .iter()
        .flat_map(|(_, t)| t.chunks_exact(3))
        .map(|t| u32::from_le_bytes([t[0], t[1], t[2], 0]))
        .collect();
    let mut picked = std::collections::BTreeSet::new();
    for size in [1, 5, 40, 300, 2000, 6000] {
        let windows: Vec<u32> = (0..size)
            .map(|_| match rng.below(2) {
                0 => common[rng.below(common.len())] | (rng.below(256) as u32) << 24,
                _ => fold4([
                    b'a' + rng.below(26) as u8,
                    b'0' + rng.below(40) as u8,
                    b'q',
                    b' ',
                ]),
            })
            .collect();
        let multiplier = pick_multiplier(&windows);
        assert_eq!(multiplier, pick_multiplier_reference(&windows), "{size}");
        picked.insert(multiplier);
    }
    assert!(
        picked.len() > 1,
        "the sets should not all pick one multiplier"
    );
    let mut levels = std::collections::HashMap::new();
    for &(level, trigrams) in trigrams::COMMON {
        for t in trigrams.chunks_exact(3) {
            levels.insert([t[0], t[1], t[2]], level);
        }
    }
    for a in (0x20..0x80u8).step_by(3) {
        for b in 0x20..0x80u8 {
            for c in [b'e', b'x', b'.', b'Z', b'3', b' '] {
                let folded = [a | 0x20, b | 0x20, c | 0x20];
                let expected = levels.get(&folded).copied().unwrap_or(0);
                assert_eq!(window_level([a, b, c]), expected, "{:?}", [a, b, c]);
            }
        }
    }
}
