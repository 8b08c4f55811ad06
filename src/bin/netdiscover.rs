use std::ffi::{c_char, c_int};

use netdiscover::heap;

#[global_allocator]
static HEAP: heap::Allocator = heap::Allocator;

/// Chooses the heap before anything is allocated: glibc runs `.init_array` before `main`, with
/// the program's arguments (as Rust's own runtime reads them).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[link_section = ".init_array"]
static CHOOSE_HEAP: extern "C" fn(c_int, *const *const c_char, *const *const c_char) = {
    extern "C" fn choose(argc: c_int, argv: *const *const c_char, _env: *const *const c_char) {
        // SAFETY: glibc passes the program's own argc and argv.
        unsafe { heap::choose_from_arguments(argc, argv) }
    }
    choose
};

fn main() {
    std::process::exit(netdiscover::cli::run_netdiscover())
}
