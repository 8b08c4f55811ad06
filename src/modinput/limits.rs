//! How many files the follow loop may hold open: few enough that it never runs out of file
//! descriptors, whatever the watched directory holds.

/// Files held open at most, whatever the limit allows. Beyond this, files read to their end
/// are closed and kept as saved entries; an unchanged one then costs one `stat` per poll, and
/// one that grows is reopened and resumed like after a restart.
pub const MAX_OPEN_FILES: usize = 256;
/// Descriptors a followed file holds while it is read: the loop's handle and its reader's.
const DESCRIPTORS_PER_FILE: u64 = 2;
/// Descriptors kept for everything else: stdin, stdout, stderr, the checkpoint's files and
/// lock, the directories being listed, the extra handle a reader opens while it starts.
const RESERVED_DESCRIPTORS: u64 = 24;

/// The number of files to hold open under the process's soft `RLIMIT_NOFILE` (1024 when it
/// cannot be read): at most [`MAX_OPEN_FILES`], at least 1.
pub fn open_file_budget() -> usize {
    let limit = soft_descriptor_limit().unwrap_or(1024);
    let budget = limit.saturating_sub(RESERVED_DESCRIPTORS) / DESCRIPTORS_PER_FILE;
    usize::try_from(budget)
        .unwrap_or(usize::MAX)
        .clamp(1, MAX_OPEN_FILES)
}

#[cfg(unix)]
fn soft_descriptor_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit(2) writes one struct through the pointer, valid for the call.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    // rlim_t is a u64 on the platforms the input ships for (Linux, macOS).
    let soft: u64 = limit.rlim_cur;
    Some(if soft == libc::RLIM_INFINITY {
        u64::MAX
    } else {
        soft
    })
}

#[cfg(not(unix))]
fn soft_descriptor_limit() -> Option<u64> {
    None
}

/// Whether an error means the process (or system) is out of file descriptors, which passes
/// once files are closed: the file is tried again, not given up on.
pub fn out_of_descriptors(error: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            error.raw_os_error(),
            Some(libc::EMFILE) | Some(libc::ENFILE)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_stays_within_the_limit_and_the_cap() {
        let budget = open_file_budget() as u64;
        assert!((1..=MAX_OPEN_FILES as u64).contains(&budget));
        if let Some(limit) = soft_descriptor_limit() {
            assert!(budget * DESCRIPTORS_PER_FILE + RESERVED_DESCRIPTORS <= limit.max(26));
        }
    }
}
