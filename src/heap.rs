//! The `netdiscover` program's heap: mimalloc for the offline front ends (`scan`, `test`,
//! `lint`, `coverage`), glibc's malloc for the chunked command (`| netdiscover`, run without
//! arguments) and for everything else.
//!
//! Why two: a scan frees and allocates every record's rows and XML again, on every core at
//! once. glibc's malloc and free were 10–15% of a scan's profile on one thread and nearly
//! twice that on two (once a second thread exists each call takes its arena's lock, and a free
//! of another thread's memory takes that thread's); mimalloc's thread-local heaps take none
//! (BENCHMARKS.md, `scan`: 7–18% less time on every input, rule set and thread count
//! measured). The chunked command's memory, though, is built around glibc: its request
//! and reply buffers are large blocks glibc maps and unmaps at once, and `protocol::pages`
//! moves pages of them; under mimalloc its peak RSS went from 28 to 64 MiB and its rows/s
//! down 8%. mimalloc is built without transparent huge pages (`no_thp`): its arenas asked the
//! kernel for them, and zeroing a 2 MiB page cost a short scan more than mimalloc saved.
//!
//! The choice is made once, from the program's arguments, before anything is allocated
//! ([`choose_from_arguments`], which the binary runs as a constructor), and never changes: an
//! allocation made before it would fix glibc for good, so no block is ever freed by the
//! allocator that did not make it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::{c_char, CStr};
use std::sync::atomic::{AtomicU8, Ordering};

/// The program's allocator: mimalloc or glibc's malloc, as [`choose_from_arguments`] chose.
pub struct Allocator;

/// Nothing allocated and nothing chosen yet.
const UNDECIDED: u8 = 0;
const GLIBC: u8 = 1;
const MIMALLOC: u8 = 2;

static CHOSEN: AtomicU8 = AtomicU8::new(UNDECIDED);

/// The heap the program's first argument calls for: mimalloc for the offline front ends.
pub fn wants_mimalloc(first_argument: Option<&[u8]>) -> bool {
    matches!(
        first_argument,
        Some(b"scan" | b"test" | b"lint" | b"coverage")
    )
}

/// Chooses the heap from the program's `argc`/`argv`, as glibc passes them to `.init_array`
/// constructors. Does nothing once anything has been allocated.
///
/// # Safety
/// `argv` must hold `argc` pointers to NUL-terminated strings (as the C runtime passes them),
/// or `argc` must be 0 or below.
pub unsafe fn choose_from_arguments(argc: i32, argv: *const *const c_char) {
    let first = if argc >= 2 && !argv.is_null() {
        // SAFETY: the caller's promise: argv[1] exists and is a C string.
        let arg = unsafe { *argv.add(1) };
        // SAFETY: as above.
        (!arg.is_null()).then(|| unsafe { CStr::from_ptr(arg) }.to_bytes())
    } else {
        None
    };
    let choice = if wants_mimalloc(first) {
        MIMALLOC
    } else {
        GLIBC
    };
    let _ = CHOSEN.compare_exchange(UNDECIDED, choice, Ordering::Relaxed, Ordering::Relaxed);
}

/// Whether the program runs on mimalloc; the first allocation fixes glibc when nothing was
/// chosen before it.
pub fn on_mimalloc() -> bool {
    match CHOSEN.load(Ordering::Relaxed) {
        MIMALLOC => true,
        GLIBC => false,
        _ => {
            let fixed =
                CHOSEN.compare_exchange(UNDECIDED, GLIBC, Ordering::Relaxed, Ordering::Relaxed);
            fixed == Err(MIMALLOC)
        }
    }
}

// SAFETY: every call goes to the one allocator chosen before the first allocation (see the
// module's doc), which then serves every allocation and free of the program.
// (Not inlined: the choice and both allocators' calls at every allocation site made the program's
// code ~470 KB larger, and 0.3 MiB more of it resident in the command.)
unsafe impl GlobalAlloc for Allocator {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if on_mimalloc() {
            // SAFETY: forwarded unchanged.
            unsafe { mimalloc::MiMalloc.alloc(layout) }
        } else {
            // SAFETY: forwarded unchanged.
            unsafe { System.alloc(layout) }
        }
    }

    #[inline(never)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if on_mimalloc() {
            // SAFETY: forwarded unchanged.
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) }
        } else {
            // SAFETY: forwarded unchanged.
            unsafe { System.alloc_zeroed(layout) }
        }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if on_mimalloc() {
            // SAFETY: the block was made by mimalloc: the choice never changes.
            unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
        } else {
            // SAFETY: the block was made by glibc: the choice never changes.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if on_mimalloc() {
            // SAFETY: as in `dealloc`.
            unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) }
        } else {
            // SAFETY: as in `dealloc`.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offline_front_ends_want_mimalloc_and_the_command_does_not() {
        for front_end in ["scan", "test", "lint", "coverage"] {
            assert!(wants_mimalloc(Some(front_end.as_bytes())), "{front_end}");
        }
        // splunkd runs the chunked command without arguments.
        assert!(!wants_mimalloc(None));
        for other in ["--version", "--help", "scanner", "SCAN", ""] {
            assert!(!wants_mimalloc(Some(other.as_bytes())), "{other}");
        }
    }

    #[test]
    fn nothing_is_chosen_once_something_was_allocated() {
        // The first allocation asks first (this test program's allocator is not `Allocator`).
        assert!(!on_mimalloc());
        let scan = [c"netdiscover".as_ptr(), c"scan".as_ptr()];
        // SAFETY: two C strings.
        unsafe { choose_from_arguments(2, scan.as_ptr()) };
        assert!(!on_mimalloc());
    }
}
