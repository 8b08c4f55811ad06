//! A deterministic ustar + gzip writer: the same entries give the same bytes, whatever the
//! machine, user, umask or clock. Entries carry their own mode; owner and group are 0
//! (`root`), every mtime is the one given, the gzip header has no name and mtime 0.

use crate::AppError;
use flate2::{Compression, GzBuilder};
use std::io::Write;

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory (`path` without a trailing `/`).
    Dir { path: String, mode: u32 },
    /// A regular file.
    File {
        path: String,
        mode: u32,
        data: Vec<u8>,
    },
}

impl Entry {
    pub fn path(&self) -> &str {
        match self {
            Entry::Dir { path, .. } | Entry::File { path, .. } => path,
        }
    }
}

fn octal(field: &mut [u8], value: u64) -> Result<(), AppError> {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    if text.len() > digits {
        return Err(AppError::Invalid(format!(
            "tar: value {value} does not fit a {digits}-digit octal field"
        )));
    }
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
    Ok(())
}

/// Splits `path` into ustar's `prefix` (≤155 bytes) and `name` (≤100 bytes) at a `/`.
fn split_path(path: &str) -> Result<(&str, &str), AppError> {
    if path.len() <= 100 {
        return Ok(("", path));
    }
    for (i, _) in path.match_indices('/') {
        let (prefix, name) = (&path[..i], &path[i + 1..]);
        if prefix.len() <= 155 && name.len() <= 100 && !name.is_empty() {
            return Ok((prefix, name));
        }
    }
    Err(AppError::Invalid(format!(
        "tar: path too long for ustar: {path}"
    )))
}

fn header(path: &str, mode: u32, size: u64, mtime: u64, dir: bool) -> Result<[u8; 512], AppError> {
    let mut h = [0u8; 512];
    let full = if dir {
        format!("{path}/")
    } else {
        path.to_string()
    };
    let (prefix, name) = split_path(&full)?;
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], u64::from(mode))?;
    octal(&mut h[108..116], 0)?;
    octal(&mut h[116..124], 0)?;
    octal(&mut h[124..136], size)?;
    octal(&mut h[136..148], mtime)?;
    h[148..156].copy_from_slice(b"        ");
    h[156] = if dir { b'5' } else { b'0' };
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[265..269].copy_from_slice(b"root");
    h[297..301].copy_from_slice(b"root");
    octal(&mut h[329..337], 0)?;
    octal(&mut h[337..345], 0)?;
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    let sum: u64 = h.iter().map(|&b| u64::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    Ok(h)
}

/// The uncompressed ustar archive of `entries`, in the order given.
pub fn ustar(entries: &[Entry], mtime: u64) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::new();
    for entry in entries {
        match entry {
            Entry::Dir { path, mode } => {
                out.extend_from_slice(&header(path, *mode, 0, mtime, true)?)
            }
            Entry::File { path, mode, data } => {
                out.extend_from_slice(&header(path, *mode, data.len() as u64, mtime, false)?);
                out.extend_from_slice(data);
                let pad = (512 - data.len() % 512) % 512;
                out.resize(out.len() + pad, 0);
            }
        }
    }
    out.resize(out.len() + 1024, 0);
    Ok(out)
}

/// The gzip-compressed ustar archive of `entries` (a `.tgz` / `.spl`).
pub fn tgz(entries: &[Entry], mtime: u64) -> Result<Vec<u8>, AppError> {
    let tar = ustar(entries, mtime)?;
    let mut gz = GzBuilder::new()
        .mtime(0)
        .operating_system(3)
        .write(Vec::new(), Compression::best());
    gz.write_all(&tar)
        .and_then(|_| gz.finish())
        .map_err(|e| AppError::Invalid(format!("gzip: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_checksum_and_fields_follow_ustar() {
        let h = header("a/b.txt", 0o644, 5, 946_684_800, false).unwrap();
        assert_eq!(&h[..7], b"a/b.txt");
        assert_eq!(&h[100..108], b"0000644\0");
        assert_eq!(&h[124..136], b"00000000005\0");
        let stored = std::str::from_utf8(&h[148..154]).unwrap();
        let mut copy = h;
        copy[148..156].copy_from_slice(b"        ");
        let sum: u64 = copy.iter().map(|&b| u64::from(b)).sum();
        assert_eq!(u64::from_str_radix(stored, 8).unwrap(), sum);
    }

    #[test]
    fn long_paths_use_the_prefix_field_and_impossible_ones_fail() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let h = header(&long, 0o644, 0, 0, false).unwrap();
        assert_eq!(&h[345..465], "d".repeat(120).as_bytes());
        assert!(header(&"x".repeat(300), 0o644, 0, 0, false).is_err());
    }
}
