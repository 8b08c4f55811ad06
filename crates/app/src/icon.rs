//! The app icons (`static/appIcon.png` 36×36, `static/appIcon_2x.png` 72×72), drawn by this
//! code: a rounded navy tile with two scan rings and a small network of three nodes. PNGs use
//! stored (uncompressed) deflate blocks, so the bytes depend on nothing but this file.

const SUPERSAMPLE: u32 = 4;

type Rgba = [f32; 4];

fn mix(under: Rgba, over: Rgba, coverage: f32) -> Rgba {
    let a = over[3] * coverage;
    [
        under[0] * (1.0 - a) + over[0] * a,
        under[1] * (1.0 - a) + over[1] * a,
        under[2] * (1.0 - a) + over[2] * a,
        under[3] + a * (1.0 - under[3]),
    ]
}

fn segment_distance(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let t = (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
    ((p.0 - a.0 - t * dx).powi(2) + (p.1 - a.1 - t * dy).powi(2)).sqrt()
}

/// The colour of the point (x, y) in the unit square.
fn shade(x: f32, y: f32) -> Rgba {
    let mut c: Rgba = [0.0, 0.0, 0.0, 0.0];
    let (qx, qy) = ((x - 0.5).abs() - 0.32, (y - 0.5).abs() - 0.32);
    let outside = (qx.max(0.0).powi(2) + qy.max(0.0).powi(2)).sqrt() + qx.max(qy).min(0.0);
    if outside > 0.17 {
        return c;
    }
    c = mix(
        c,
        [0.08 + 0.02 * y, 0.13 + 0.20 * y, 0.24 + 0.14 * y, 1.0],
        1.0,
    );
    let r = ((x - 0.5).powi(2) + (y - 0.5).powi(2)).sqrt();
    for ring in [0.18, 0.31] {
        if (r - ring).abs() < 0.018 {
            c = mix(c, [0.47, 0.86, 0.78, 0.55], 1.0);
        }
    }
    let center = (0.5, 0.5);
    let nodes = [(0.76, 0.27), (0.27, 0.70), (0.72, 0.74)];
    for node in nodes {
        if segment_distance((x, y), center, node) < 0.022 {
            c = mix(c, [0.95, 0.95, 0.95, 1.0], 1.0);
        }
    }
    for node in nodes {
        if ((x - node.0).powi(2) + (y - node.1).powi(2)).sqrt() < 0.065 {
            c = mix(c, [0.95, 0.95, 0.95, 1.0], 1.0);
        }
    }
    if r < 0.085 {
        c = mix(c, [1.0, 0.76, 0.2, 1.0], 1.0);
    }
    c
}

/// RGBA pixels of a `size`×`size` icon, antialiased by supersampling.
pub fn pixels(size: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity((size * size * 4) as usize);
    let n = SUPERSAMPLE * SUPERSAMPLE;
    for py in 0..size {
        for px in 0..size {
            let mut acc = [0.0f32; 4];
            for sy in 0..SUPERSAMPLE {
                for sx in 0..SUPERSAMPLE {
                    let x = (px as f32 + (sx as f32 + 0.5) / SUPERSAMPLE as f32) / size as f32;
                    let y = (py as f32 + (sy as f32 + 0.5) / SUPERSAMPLE as f32) / size as f32;
                    let c = shade(x, y);
                    for i in 0..3 {
                        acc[i] += c[i] * c[3];
                    }
                    acc[3] += c[3];
                }
            }
            let alpha = acc[3] / n as f32;
            for channel in acc.iter().take(3) {
                let v = if acc[3] > 0.0 { channel / acc[3] } else { 0.0 };
                out.push((v * 255.0).round().clamp(0.0, 255.0) as u8);
            }
            out.push((alpha * 255.0).round().clamp(0.0, 255.0) as u8);
        }
    }
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

/// zlib stream of stored deflate blocks (no compression; fully deterministic).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = data.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        out.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + byte as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// A PNG file (8-bit RGBA) of the icon at `size`×`size`.
pub fn png(size: u32) -> Vec<u8> {
    let rgba = pixels(size);
    let mut raw = Vec::with_capacity(rgba.len() + size as usize);
    for row in rgba.chunks((size * 4) as usize) {
        raw.push(0);
        raw.extend_from_slice(row);
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&size.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &zlib_stored(&raw));
    chunk(&mut out, b"IEND", &[]);
    out
}
