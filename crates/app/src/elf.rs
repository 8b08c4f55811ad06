//! Reads what packaging checks in an ELF64 little-endian executable: the CPU it is built for
//! (`e_machine`), whether it is position-independent (`e_type`), the dynamic loader it asks
//! for (`PT_INTERP`; none when statically linked) and the symbol versions it needs from each
//! shared library (the `.gnu.version_r` / SHT_GNU_verneed section), so packaging can refuse a
//! binary for the wrong architecture or one that depends on the host's C library: the shipped
//! builds are static, to run on every Linux Splunk runs on whatever its glibc.

use crate::AppError;

const SHT_GNU_VERNEED: u32 = 0x6fff_fffe;
const PT_INTERP: u32 = 3;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(off..off.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(off..off.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(off..off.checked_add(8)?)?.try_into().ok()?,
    ))
}
fn cstr(b: &[u8], off: usize) -> Option<String> {
    let tail = b.get(off..)?;
    let end = tail.iter().position(|&c| c == 0)?;
    String::from_utf8(tail[..end].to_vec()).ok()
}

fn bad(what: &str) -> AppError {
    AppError::Invalid(format!("ELF: {what}"))
}

/// Fails unless `bytes` starts like a 64-bit little-endian ELF file.
fn check_header(bytes: &[u8]) -> Result<(), AppError> {
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err(bad("not an ELF file"));
    }
    if bytes.get(4) != Some(&2) || bytes.get(5) != Some(&1) {
        return Err(bad("only 64-bit little-endian ELF is supported"));
    }
    Ok(())
}

/// The CPU an ELF file is built for (`e_machine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    X86_64,
    Aarch64,
    Other(u16),
}

impl Machine {
    /// Reads `e_machine` (EM_X86_64 = 62, EM_AARCH64 = 183).
    pub fn of(bytes: &[u8]) -> Result<Machine, AppError> {
        check_header(bytes)?;
        Ok(
            match u16_at(bytes, 18).ok_or_else(|| bad("truncated header"))? {
                62 => Machine::X86_64,
                183 => Machine::Aarch64,
                other => Machine::Other(other),
            },
        )
    }

    /// What Linux's `uname -m` prints on this CPU; also the suffix of the package's
    /// per-architecture binaries (`bin/netdiscover-aarch64`).
    pub fn name(self) -> String {
        match self {
            Machine::X86_64 => "x86_64".into(),
            Machine::Aarch64 => "aarch64".into(),
            Machine::Other(code) => format!("e_machine {code}"),
        }
    }
}

/// What `cargo xtask package` checks and prints for each shipped binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub machine: Machine,
    /// `ET_DYN`: a position-independent executable (Rust's default on Linux; the static
    /// aarch64 builds are not).
    pub pie: bool,
    /// The dynamic loader it needs (`/lib64/ld-linux-x86-64.so.2`); `None`: statically linked.
    pub interpreter: Option<String>,
    /// The newest `GLIBC_x.y` version needed, if any.
    pub newest_glibc: Option<String>,
}

impl Report {
    pub fn of(bytes: &[u8]) -> Result<Report, AppError> {
        let machine = Machine::of(bytes)?;
        let pie = u16_at(bytes, 16).ok_or_else(|| bad("truncated header"))? == 3;
        let newest_glibc = version_needs(bytes)?
            .into_iter()
            .filter_map(|(_, v)| glibc_version(&v).map(|g| (g, v)))
            .max()
            .map(|(_, v)| v);
        Ok(Report {
            machine,
            pie,
            interpreter: interpreter(bytes)?,
            newest_glibc,
        })
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, {}, {}, newest GLIBC needed: {}",
            self.machine.name(),
            if self.pie { "PIE" } else { "not PIE" },
            match &self.interpreter {
                None => "statically linked".to_string(),
                Some(loader) => format!("dynamically linked ({loader})"),
            },
            self.newest_glibc.as_deref().unwrap_or("none")
        )
    }
}

/// The dynamic loader `bytes` asks for (its `PT_INTERP` program header), `None` when it asks
/// for none: a statically linked executable, which runs without the host's C library.
pub fn interpreter(bytes: &[u8]) -> Result<Option<String>, AppError> {
    check_header(bytes)?;
    let phoff = u64_at(bytes, 0x20).ok_or_else(|| bad("truncated header"))? as usize;
    let phentsize = u16_at(bytes, 0x36).ok_or_else(|| bad("truncated header"))? as usize;
    let phnum = u16_at(bytes, 0x38).ok_or_else(|| bad("truncated header"))? as usize;
    for i in 0..phnum {
        let base = i
            .checked_mul(phentsize)
            .and_then(|o| o.checked_add(phoff))
            .ok_or_else(|| bad("program header table out of range"))?;
        let kind = u32_at(bytes, base).ok_or_else(|| bad("truncated program header table"))?;
        if kind != PT_INTERP {
            continue;
        }
        let offset = u64_at(bytes, base.saturating_add(8))
            .ok_or_else(|| bad("truncated program header table"))?;
        let path = cstr(bytes, offset as usize).ok_or_else(|| bad("bad interpreter path"))?;
        return Ok(Some(path));
    }
    Ok(None)
}

/// `(library, version)` pairs, e.g. `("libc.so.6", "GLIBC_2.17")`, in file order.
pub fn version_needs(bytes: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    check_header(bytes)?;
    let shoff = u64_at(bytes, 0x28).ok_or_else(|| bad("truncated header"))? as usize;
    let shentsize = u16_at(bytes, 0x3a).ok_or_else(|| bad("truncated header"))? as usize;
    let shnum = u16_at(bytes, 0x3c).ok_or_else(|| bad("truncated header"))? as usize;
    let section = |i: usize| -> Option<(u32, usize, usize, u32, u32)> {
        let base = shoff.checked_add(i.checked_mul(shentsize)?)?;
        Some((
            u32_at(bytes, base.checked_add(4)?)?,
            u64_at(bytes, base.checked_add(0x18)?)? as usize,
            u64_at(bytes, base.checked_add(0x20)?)? as usize,
            u32_at(bytes, base.checked_add(0x28)?)?,
            u32_at(bytes, base.checked_add(0x2c)?)?,
        ))
    };
    let mut needs = Vec::new();
    for i in 0..shnum {
        let (kind, offset, _size, link, info) =
            section(i).ok_or_else(|| bad("truncated section header table"))?;
        if kind != SHT_GNU_VERNEED {
            continue;
        }
        let (_, strtab, _, _, _) =
            section(link as usize).ok_or_else(|| bad("verneed string table out of range"))?;
        let mut entry = offset;
        for _ in 0..info {
            let count =
                u16_at(bytes, entry.saturating_add(2)).ok_or_else(|| bad("truncated verneed"))?;
            let file =
                u32_at(bytes, entry.saturating_add(4)).ok_or_else(|| bad("truncated verneed"))?;
            let aux =
                u32_at(bytes, entry.saturating_add(8)).ok_or_else(|| bad("truncated verneed"))?;
            let next =
                u32_at(bytes, entry.saturating_add(12)).ok_or_else(|| bad("truncated verneed"))?;
            let library =
                cstr(bytes, strtab.saturating_add(file as usize)).ok_or_else(|| bad("bad name"))?;
            let mut a = entry.saturating_add(aux as usize);
            for _ in 0..count {
                let name =
                    u32_at(bytes, a.saturating_add(8)).ok_or_else(|| bad("truncated vernaux"))?;
                let a_next =
                    u32_at(bytes, a.saturating_add(12)).ok_or_else(|| bad("truncated vernaux"))?;
                let version = cstr(bytes, strtab.saturating_add(name as usize))
                    .ok_or_else(|| bad("bad version name"))?;
                needs.push((library.clone(), version));
                a = a.saturating_add(a_next as usize);
            }
            if next == 0 {
                break;
            }
            entry = entry.saturating_add(next as usize);
        }
    }
    Ok(needs)
}

/// Parses `GLIBC_2.17` → `(2, 17)`; other version names give `None`.
pub fn glibc_version(name: &str) -> Option<(u32, u32)> {
    let rest = name.strip_prefix("GLIBC_")?;
    let mut parts = rest.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_glibc_version_names() {
        assert_eq!(glibc_version("GLIBC_2.17"), Some((2, 17)));
        assert_eq!(glibc_version("GLIBC_2.2.5"), Some((2, 2)));
        assert_eq!(glibc_version("GLIBC_PRIVATE"), None);
        assert!(glibc_version("GLIBC_2.34").unwrap() > (2, 17));
    }

    #[test]
    fn rejects_non_elf_and_truncated_input_without_panicking() {
        assert!(version_needs(b"MZ").is_err());
        let mut fake = b"\x7fELF\x02\x01".to_vec();
        fake.resize(64, 0xff);
        assert!(version_needs(&fake).is_err());
        assert!(interpreter(b"MZ").is_err());
        assert!(interpreter(&fake).is_err());
    }

    /// An ELF header with one program header of type `kind` whose content is `/lib/ld.so`.
    fn with_program_header(kind: u32) -> Vec<u8> {
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.resize(64, 0);
        elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
        elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        let mut header = vec![0u8; 56];
        header[..4].copy_from_slice(&kind.to_le_bytes());
        header[8..16].copy_from_slice(&120u64.to_le_bytes()); // p_offset
        elf.extend_from_slice(&header);
        elf.extend_from_slice(b"/lib/ld.so\0");
        elf
    }

    #[test]
    fn reads_the_loader_a_program_header_asks_for_and_none_without_one() {
        assert_eq!(
            interpreter(&with_program_header(PT_INTERP))
                .unwrap()
                .as_deref(),
            Some("/lib/ld.so")
        );
        // PT_LOAD only, as in a statically linked executable.
        assert_eq!(interpreter(&with_program_header(1)).unwrap(), None);
    }
}
