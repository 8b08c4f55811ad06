//! SIGTERM/SIGINT handling: splunkd stops a modular input with SIGTERM. The handler only sets
//! a flag; the follow loop checks it between batches, so the batch in flight is written,
//! flushed and checkpointed before the process exits 0.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

/// True once a stop signal arrived.
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

#[cfg(unix)]
extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Installs the handlers (SA_RESTART, so a write to stdout in progress is not interrupted).
pub fn install() {
    #[cfg(unix)]
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe; the sigaction
    // struct is zero-initialised and then filled field by field as the C API expects.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGTERM, &action, std::ptr::null_mut());
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

/// Sleeps up to `duration`, waking early when a stop is requested.
pub fn sleep_unless_stopped(duration: std::time::Duration) {
    let deadline = std::time::Instant::now() + duration;
    while !stop_requested() {
        let now = std::time::Instant::now();
        if now >= deadline {
            break;
        }
        std::thread::sleep((deadline - now).min(std::time::Duration::from_millis(50)));
    }
}
