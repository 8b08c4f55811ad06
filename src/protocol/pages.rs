//! Giving part of a buffer's memory back to the system while the buffer stays allocated.
//!
//! `madvise(MADV_DONTNEED)` drops the process's pages behind a range of private anonymous
//! memory (what the allocator hands out): the range stays mapped, and the next touch of a page
//! maps a fresh zero-filled one. So the buffer remains valid, initialised memory whose released
//! bytes read as zeros afterwards, as if they had been overwritten; only whole pages inside the
//! buffer are released, never the allocator's bytes around it. Callers release only bytes they
//! will not read again before writing them (their contract is in their own module docs), so
//! what a released page holds afterwards never matters. Where the call is refused (or on
//! systems without it) nothing changes but the memory figure.

use std::ops::Range;
use std::sync::OnceLock;

/// The system's page size, if known.
pub fn page_size() -> Option<usize> {
    static PAGE: OnceLock<Option<usize>> = OnceLock::new();
    *PAGE.get_or_init(|| {
        #[cfg(unix)]
        {
            // SAFETY: sysconf has no preconditions.
            let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            usize::try_from(n).ok().filter(|&n| n.is_power_of_two())
        }
        #[cfg(not(unix))]
        {
            None
        }
    })
}

/// The offsets (relative to `base`) of the whole pages that lie inside `base + range`; empty
/// when there are none or the page size is unknown.
pub fn whole_pages(base: *const u8, range: Range<usize>) -> Range<usize> {
    let Some(page) = page_size() else {
        return 0..0;
    };
    let addr = base as usize;
    let start = (addr + range.start).next_multiple_of(page) - addr;
    let end = ((addr + range.end) & !(page - 1)).saturating_sub(addr);
    if end > start {
        start..end
    } else {
        0..0
    }
}

/// Releases the whole pages inside `base + range` (see the module docs); returns their offsets
/// relative to `base`, empty when nothing was released.
///
/// # Safety
/// `base + range` lies within one live allocation the caller may write, no reference to any
/// of its bytes is live during the call, and the caller treats the released bytes as
/// overwritten with unknown values (zeros, in practice) until it writes them again.
#[cfg(target_os = "linux")]
pub unsafe fn release(base: *mut u8, range: Range<usize>) -> Range<usize> {
    let pages = whole_pages(base, range);
    if pages.is_empty() {
        return pages;
    }
    // SAFETY: `pages` is whole pages inside the caller's allocation (by `whole_pages` and the
    // caller's contract), which nothing else references during the call; MADV_DONTNEED keeps
    // them mapped and readable, with fresh zero pages on the next touch.
    let rc = unsafe {
        libc::madvise(
            base.add(pages.start).cast::<libc::c_void>(),
            pages.len(),
            libc::MADV_DONTNEED,
        )
    };
    if rc == 0 {
        pages
    } else {
        0..0
    }
}

/// Releases nothing: no `madvise` here.
///
/// # Safety
/// As on Linux.
#[cfg(not(target_os = "linux"))]
pub unsafe fn release(_base: *mut u8, _range: Range<usize>) -> Range<usize> {
    0..0
}

/// Moves the whole pages of `base + from` (page-aligned start) to `base + to` (page-aligned),
/// replacing the pages there, and leaves `from` mapped and empty (it reads as zeros); `false`
/// when the kernel refuses (before Linux 5.7, or memory that is not [`Mapping`]'s kind).
///
/// # Safety
/// Both ranges lie within one live [`Mapping`] and do not overlap, no reference to any of their
/// bytes is live and nothing else writes them during the call, and the caller treats both
/// ranges as overwritten with unknown values until it writes them again.
#[cfg(target_os = "linux")]
pub unsafe fn move_pages(base: *mut u8, from: Range<usize>, to: usize) -> bool {
    if !moves_keep_their_source() {
        return false;
    }
    // SAFETY: the caller's contract. MREMAP_FIXED replaces the mapping at `to` atomically, and
    // MREMAP_DONTUNMAP keeps `from` mapped, so no address range is ever left without a mapping
    // (where another thread's `mmap` could land).
    let moved = unsafe {
        libc::mremap(
            base.add(from.start).cast::<libc::c_void>(),
            from.len(),
            from.len(),
            libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED | libc::MREMAP_DONTUNMAP,
            base.add(to).cast::<libc::c_void>(),
        )
    };
    moved != libc::MAP_FAILED
}

/// Whether a move leaves its source mapped where the process can see it, as Linux promises for
/// MREMAP_DONTUNMAP: asked once, by moving one page of a scratch mapping and asking `mincore`
/// about the page left behind. qemu-user (CI runs the aarch64 tests in it) performs the move
/// but stops counting the source as the guest's (`mincore` fails with ENOMEM) and may place a
/// later mapping over it; there the buffer gives pages back instead.
#[cfg(target_os = "linux")]
pub fn moves_keep_their_source() -> bool {
    static SOUND: OnceLock<bool> = OnceLock::new();
    *SOUND.get_or_init(|| {
        let Some(page) = page_size() else {
            return false;
        };
        let Some(mut scratch) = Mapping::new(2 * page) else {
            return false;
        };
        let base = scratch.as_mut_ptr();
        let mut resident = 0u8;
        // SAFETY: both pages belong to `scratch`, which nothing else references; `mincore`
        // writes one byte for the one page asked about.
        unsafe {
            base.write(1);
            let moved = libc::mremap(
                base.cast::<libc::c_void>(),
                page,
                page,
                libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED | libc::MREMAP_DONTUNMAP,
                base.add(page).cast::<libc::c_void>(),
            );
            moved != libc::MAP_FAILED
                && libc::mincore(base.cast::<libc::c_void>(), page, &mut resident) == 0
        }
    })
}

/// Moves nothing: no `mremap` here.
///
/// # Safety
/// As on Linux.
#[cfg(not(target_os = "linux"))]
pub unsafe fn move_pages(_base: *mut u8, _from: Range<usize>, _to: usize) -> bool {
    false
}

/// Private anonymous memory of our own, outside the allocator, so that its pages may be moved
/// from one offset to another ([`move_pages`]): a buffer read front to back can then reuse the
/// pages behind its reader ahead of its writer, instead of giving them back and having the
/// kernel fault in (and zero) fresh ones.
#[derive(Debug)]
pub struct Mapping {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is owned memory, like a `Vec<u8>`'s.
unsafe impl Send for Mapping {}

impl Mapping {
    /// `len` (> 0) zero-filled bytes, page-aligned, or `None` where that cannot be had.
    pub fn new(len: usize) -> Option<Mapping> {
        #[cfg(target_os = "linux")]
        {
            if len == 0 {
                return None;
            }
            // SAFETY: a fresh anonymous private mapping chosen by the kernel; nothing of ours
            // is touched.
            let ptr = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if ptr == libc::MAP_FAILED {
                return None;
            }
            std::ptr::NonNull::new(ptr.cast::<u8>()).map(|ptr| Mapping { ptr, len })
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = len;
            None
        }
    }

    /// The mapping's length in bytes.
    pub fn size(&self) -> usize {
        self.len
    }

    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    #[cfg(test)]
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `len` mapped bytes, readable and initialised (zero-filled, or written).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        // SAFETY: the range is this mapping's (however its pages were moved around inside it),
        // and no reference to it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast::<libc::c_void>(), self.len);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
pub mod tests {
    use super::*;

    /// Whether each whole page inside `base + range` is resident, by `mincore`. A page read or
    /// written since it was released is resident again (a read maps the zero page), so this
    /// is how tests tell that released bytes were never touched.
    pub fn resident(base: *const u8, range: Range<usize>) -> Vec<bool> {
        try_resident(base, range).unwrap_or_else(|e| panic!("mincore: {e}"))
    }

    /// [`resident`], or `mincore`'s error. Natively `mincore` never fails on a live mapping;
    /// under qemu-user (CI's aarch64 tests) it fails with ENOMEM on pages a `mremap` left
    /// behind, which the emulator no longer counts as the guest's, though they read and write.
    pub fn try_resident(base: *const u8, range: Range<usize>) -> std::io::Result<Vec<bool>> {
        let pages = whole_pages(base, range);
        let page = page_size().expect("page size");
        let mut vec = vec![0u8; pages.len() / page];
        if vec.is_empty() {
            return Ok(Vec::new());
        }
        // SAFETY: the range is whole pages of a live allocation; mincore writes one byte per
        // page into `vec`, which has exactly that many.
        let rc = unsafe {
            libc::mincore(
                base.add(pages.start) as *mut libc::c_void,
                pages.len(),
                vec.as_mut_ptr(),
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(vec.iter().map(|b| b & 1 == 1).collect())
    }

    #[test]
    fn only_whole_pages_inside_the_range_are_released_and_they_read_as_zeros() {
        let page = page_size().expect("page size");
        let mut buffer = vec![7u8; 8 * page + 123];
        let base = buffer.as_mut_ptr();
        let range = 100..6 * page + 5;
        let pages = whole_pages(base, range.clone());
        assert!(pages.start >= range.start && pages.end <= range.end);
        assert_eq!((base as usize + pages.start) % page, 0);
        assert!(pages.len() >= 4 * page && pages.len().is_multiple_of(page));
        assert!(resident(base, pages.clone()).iter().all(|&r| r));
        // SAFETY: within `buffer`, which nothing borrows during the call.
        let released = unsafe { release(base, range.clone()) };
        assert_eq!(released, pages);
        assert!(resident(base, pages.clone()).iter().all(|&r| !r));
        // Bytes outside the released pages keep their values; released ones read as zeros.
        assert!(buffer[..pages.start].iter().all(|&b| b == 7));
        assert!(buffer[pages.end..].iter().all(|&b| b == 7));
        assert!(buffer[pages.clone()].iter().all(|&b| b == 0));
        assert_eq!(whole_pages(base, 10..page / 2), 0..0);
    }

    #[test]
    fn moved_pages_keep_their_bytes_and_leave_zeros_behind() {
        let page = page_size().expect("page size");
        let mut mapping = Mapping::new(16 * page).expect("mmap");
        let base = mapping.as_mut_ptr();
        // SAFETY: within the mapping, which nothing borrows while the bytes are written.
        unsafe {
            for i in 0..16 * page {
                base.add(i).write((i / page) as u8 + 1);
            }
        }
        // SAFETY: both ranges are inside the mapping, disjoint, and not borrowed.
        let moved = unsafe { move_pages(base, 2 * page..5 * page, 10 * page) };
        if !moves_keep_their_source() {
            // Only the emulator CI runs the aarch64 tests in may lose track of moved pages;
            // there nothing may be moved. Natively (Linux 5.7+) moves must work.
            assert!(std::env::var_os("NETDISCOVER_TEST_RUNNER").is_some());
            assert!(!moved, "a move where moves are not sound");
            return;
        }
        assert!(moved);
        let bytes = mapping.as_slice();
        assert!(bytes[2 * page..5 * page].iter().all(|&b| b == 0));
        assert!(bytes[10 * page..13 * page]
            .chunks(page)
            .zip(3u8..)
            .all(|(p, n)| p.iter().all(|&b| b == n)));
        assert!(bytes[5 * page..10 * page]
            .chunks(page)
            .zip(6u8..)
            .all(|(p, n)| p.iter().all(|&b| b == n)));
    }
}
