//! The vector block masks (NEON on aarch64; SSE2, and AVX2 when detected, on x86_64) against
//! the scalar masks, bit for bit, and the row scan built on each against the scan built on
//! the scalar masks and against the field-by-field scanner. The row scan's answers are what a
//! [`RowGate`](crate::protocol::processor::RowGate) decides rows by, so equal answers mean
//! equal gate decisions.
//!
//! On aarch64 these run under qemu-user in CI (`.ci/run`); NEON is part of that target's
//! baseline, so the vector kernel is always `neon_masks` there.

use super::{prefix_xor, scan_row, scan_row_with, BlockMasks, ProbeMasks, RowCommas, RowShape};
use crate::protocol::needles::{Needle, Needles, MAX_NEEDLES};

type Kernel = fn(&[u8], &[Needle], &mut ProbeMasks) -> BlockMasks;

/// The vector kernels this CPU runs, by name; never empty on x86_64 or aarch64.
fn vector_kernels() -> Vec<(&'static str, Kernel)> {
    let mut kernels: Vec<(&'static str, Kernel)> = Vec::new();
    #[cfg(target_arch = "aarch64")]
    kernels.push(("neon", |block, needles, probes| {
        let block = block.first_chunk::<64>().expect("a 64-byte block");
        super::neon_masks(block, needles, probes)
    }));
    #[cfg(target_arch = "x86_64")]
    {
        kernels.push(("sse2", |block, needles, probes| {
            let block = block.first_chunk::<64>().expect("a 64-byte block");
            super::sse2_masks(block, needles, probes)
        }));
        if super::avx2_detected() {
            // SAFETY: AVX2 was just detected.
            kernels.push(("avx2", |block, needles, probes| unsafe {
                super::avx2_masks(block, needles, probes)
            }));
        }
    }
    kernels
}

/// A needle whose probe bytes are exactly `a` and `b` (folded as the kernels compare them).
fn probing(a: u8, b: u8) -> Needle {
    Needle {
        bytes: vec![a, b],
        first: 0,
        second: 1,
        probe_bytes: (a | 0x20, b | 0x20),
    }
}

/// Needle sets that together probe every folded byte value (0x20..=0x3f, 0x60..=0x7f, and
/// the same with the high bit), `MAX_NEEDLES` needles a set.
fn probe_sets() -> Vec<Vec<Needle>> {
    let folded: Vec<u8> = (0..=255u8).filter(|b| b & 0x20 != 0).collect();
    folded
        .chunks(2 * MAX_NEEDLES)
        .map(|bytes| {
            bytes
                .chunks(2)
                .map(|pair| probing(pair[0], pair[pair.len() - 1]))
                .collect()
        })
        .collect()
}

/// Asserts every vector kernel's masks equal the scalar masks on `block`.
fn assert_masks_agree(block: &[u8; 64], needles: &[Needle], what: &str) {
    let mut expected_probes: ProbeMasks = [(0, 0); MAX_NEEDLES];
    let expected = BlockMasks::scalar(block, needles, &mut expected_probes);
    for (name, kernel) in vector_kernels() {
        // Stale values a kernel must overwrite.
        let mut probes: ProbeMasks = [(!0, !0); MAX_NEEDLES];
        let got = kernel(block, needles, &mut probes);
        assert_eq!(
            (got.quote, got.comma, got.newline),
            (expected.quote, expected.comma, expected.newline),
            "{name}, {what}: quote/comma/newline masks of {block:?}"
        );
        assert_eq!(
            probes[..needles.len()],
            expected_probes[..needles.len()],
            "{name}, {what}: probe masks of {block:?}"
        );
    }
}

/// xorshift64: reproducible pseudo-random bytes without a dependency.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// The bytes the masks look for, the bytes that fold onto them (`| 0x20`), their high-bit
/// twins (a signed compare would confuse them), and the bytes either side of each.
const TRICKY: &[u8] = &[
    b'"',
    b',',
    b'\n',
    b'\r',
    0x02,
    0x0c,
    0x0a | 0x20,
    0xa2,
    0xac,
    0x8a,
    0x21,
    0x23,
    0x2b,
    0x2d,
    0x09,
    0x0b,
    0x00,
    0xff,
    0x7f,
    0x80,
    b'a',
    b'A',
    b'e',
    b'E',
    b'.',
    b'N',
];

#[test]
fn vector_masks_equal_the_scalar_masks_on_every_byte_at_every_position() {
    assert!(!vector_kernels().is_empty(), "a vector kernel to check");
    let sets = probe_sets();
    assert_eq!(sets.iter().map(Vec::len).sum::<usize>(), 64);
    let mut checked = 0;
    for (n, byte) in (0..=255u8).enumerate() {
        let needles = &sets[n % sets.len()];
        for at in 0..64 {
            // One byte in a field of filler, and one filler byte in a field of that byte.
            for (fill, odd) in [(b'x', byte), (byte, b'x')] {
                let mut block = [fill; 64];
                block[at] = odd;
                assert_masks_agree(
                    &block,
                    needles,
                    &format!("{odd:#04x} at {at} in {fill:#04x}"),
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 256 * 64 * 2);
}

#[test]
fn vector_masks_equal_the_scalar_masks_on_pairs_lane_edges_and_random_blocks() {
    let sets = probe_sets();
    let mut random = Random(0x2545_F491_4F6C_DD1D);
    // Two tricky bytes at every pair of positions, one probe set per pair.
    for (i, &a) in [b'"', b',', b'\n'].iter().enumerate() {
        for first in 0..64 {
            for second in first..64 {
                let mut block = [b'q'; 64];
                block[first] = a;
                block[second] = random.pick(TRICKY);
                let needles = &sets[(i + first + second) % sets.len()];
                assert_masks_agree(&block, needles, &format!("pair {first},{second}"));
            }
        }
    }
    // Every byte of the 16-byte lanes' edges set, the rest random.
    for _ in 0..2_000 {
        let mut block = [0u8; 64];
        block.iter_mut().for_each(|b| *b = random.next() as u8);
        for edge in [0, 15, 16, 31, 32, 47, 48, 63] {
            block[edge] = random.pick(TRICKY);
        }
        let needles = &sets[random.below(sets.len())];
        assert_masks_agree(&block, needles, "lane edges");
    }
    // Blocks mostly of the tricky bytes, and blocks of any bytes.
    for round in 0..10_000 {
        let mut block = [0u8; 64];
        for b in &mut block {
            *b = match round % 2 {
                0 => random.pick(TRICKY),
                _ => random.next() as u8,
            };
        }
        let needles = &sets[random.below(sets.len())];
        assert_masks_agree(&block, needles, "random");
    }
}

/// The row scan on `body` at `start`: with the scalar masks, with each vector kernel, and as
/// `scan_row` dispatches on this CPU, must give the same shape and the same field spans; a
/// regular row must be what the field-by-field scanner reads. Returns the shape.
fn assert_rows_agree(body: &[u8], start: usize, needles: &Needles) -> RowShape {
    let scan = |kernel: Kernel| {
        let mut commas = RowCommas::default();
        let shape = scan_row_with(
            body,
            start,
            needles.as_slice(),
            &mut commas,
            kernel,
            prefix_xor,
        );
        (shape, commas)
    };
    let (expected, expected_commas) = scan(BlockMasks::scalar);
    let mut dispatched_commas = RowCommas::default();
    let dispatched = scan_row(body, start, Some(needles), &mut dispatched_commas);
    // Without literals `scan_row` takes its own build: the same row, with no literal found.
    let mut plain_commas = RowCommas::default();
    let plain = match scan_row(body, start, None, &mut plain_commas) {
        RowShape::Regular {
            content_end,
            next,
            fields,
            literal: false,
        } => RowShape::Regular {
            content_end,
            next,
            fields,
            literal: matches!(expected, RowShape::Regular { literal: true, .. }),
        },
        other => other,
    };
    let mut answers = vec![
        ("scan_row", dispatched, dispatched_commas),
        ("scan_row without literals", plain, plain_commas),
    ];
    for (name, kernel) in vector_kernels() {
        let (shape, commas) = scan(kernel);
        answers.push((name, shape, commas));
    }
    let text = String::from_utf8_lossy(body);
    for (name, shape, commas) in &answers {
        assert_eq!(*shape, expected, "{name} at {start} of {text:?}");
        if let RowShape::Regular {
            content_end,
            fields,
            ..
        } = expected
        {
            for index in 0..=fields {
                assert_eq!(
                    commas.field(index, content_end),
                    expected_commas.field(index, content_end),
                    "{name}: field {index} at {start} of {text:?}"
                );
            }
            // The kept quote masks too: the spans (escapes included) are the same.
            let (mut spans, mut expected_spans) = (Vec::new(), Vec::new());
            assert_eq!(
                commas.spans(body, content_end, &mut spans),
                expected_commas.spans(body, content_end, &mut expected_spans),
                "{name} at {start} of {text:?}"
            );
            assert_eq!(spans, expected_spans, "{name} at {start} of {text:?}");
        }
    }
    if let RowShape::Regular { .. } = expected {
        super::tests::assert_regular_is_the_field_scanners(
            body,
            start,
            expected,
            &expected_commas,
            needles,
        );
    }
    expected
}

/// How many rows got each shape: regular, literal, incomplete, irregular.
#[derive(Debug, Default)]
struct Shapes([usize; 4]);

impl Shapes {
    fn count(&mut self, shape: RowShape) {
        self.0[match shape {
            RowShape::Regular { literal: false, .. } => 0,
            RowShape::Regular { literal: true, .. } => 1,
            RowShape::Incomplete => 2,
            RowShape::Irregular => 3,
        }] += 1;
    }

    /// Each shape occurred at least `least` times.
    fn assert_each_at_least(&self, least: usize) {
        assert!(self.0.iter().all(|&n| n >= least), "{self:?}");
    }
}

/// Rows whose quotes, commas, newlines and literals fall at every offset from a block
/// boundary, as regular (Splunk-quoted) and irregular rows, scanned from the body's start and
/// from behind a preceding row.
#[test]
fn row_scans_agree_at_every_offset_from_a_block_boundary() {
    let needles = Needles::new(&["netsh.exe", "portproxy", "-a"]).expect("non-empty");
    let tails: &[&str] = &[
        ",\"q\"\"\n,\",z\n",
        "\"\n\"\n",
        ",,,\r\n",
        ",NETSH.EXE,x\n",
        ",\"Port\nProxy\"\n",
        "a\"b,c\n",
        ",\"x\"\r\n",
        ",\"\"\"\",\"\"\n",
        ",\"open",
        "\n",
    ];
    let mut shapes = Shapes::default();
    for k in 0..140 {
        let filler = "y".repeat(k);
        for tail in tails {
            for row in [
                format!("{filler}{tail}"),
                format!("\"{filler}\"{tail}"),
                format!("\"{filler}{tail}\"\n"),
            ] {
                shapes.count(assert_rows_agree(row.as_bytes(), 0, &needles));
                let behind = format!("p,\"r\"\n{row}");
                shapes.count(assert_rows_agree(behind.as_bytes(), 6, &needles));
            }
        }
    }
    shapes.assert_each_at_least(500);
}

/// Random CSV rows of 1 to 12 fields: plain, quoted (with `""`, commas, newlines, `\r`),
/// holding a literal in any case, or with a stray quote.
#[test]
fn row_scans_agree_on_random_rows() {
    let needles = Needles::new(&["netsh.exe", "portproxy", "v4tov4", "\\\\"]).expect("non-empty");
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let plain: &[u8] = b"abcnetsNETSH.exe portPROXYv4to\\ \t-=:0123\xc3\xa9";
    let mut shapes = Shapes::default();
    for _ in 0..4_000 {
        let mut row = Vec::new();
        for field in 0..1 + random.below(12) {
            if field > 0 {
                row.push(b',');
            }
            let len = random.below(90);
            match random.below(24) {
                0..=13 => row.extend((0..len).map(|_| random.pick(plain))),
                14..=19 => {
                    row.push(b'"');
                    for _ in 0..len {
                        match random.pick(b"\",\n\ra.N") {
                            b'"' => row.extend_from_slice(b"\"\""),
                            b => row.push(b),
                        }
                    }
                    row.push(b'"');
                }
                20 | 21 => {
                    row.extend_from_slice(random.pick(&[&b"NetSh.Exe"[..], b"PORTproxy", b"\\\\"]))
                }
                _ => {
                    row.extend((0..len).map(|_| random.pick(plain)));
                    row.insert(row.len() - len / 2, b'"');
                }
            }
        }
        row.extend_from_slice(random.pick(&[&b"\n"[..], b"\r\n", b""]));
        // Scanned at the body's start or behind a preceding row.
        let mut body = random.pick(&[&b""[..], b"\n", b"x,\"y\"\n"]).to_vec();
        let start = body.len();
        body.extend_from_slice(&row);
        shapes.count(assert_rows_agree(&body, start, &needles));
    }
    shapes.assert_each_at_least(400);
}
