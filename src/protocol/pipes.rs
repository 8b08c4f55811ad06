//! The session's stdin and stdout: larger pipe buffers, and handles without std's locks and
//! buffers.
//!
//! splunkd writes each execute chunk whole and then waits for the whole reply. With Linux's
//! default 64 KiB pipe, splunkd can only get 64 KiB ahead while the command is busy with rows,
//! so its copy into the pipe stalls and is not overlapped with the command's work; every
//! 64 KiB also costs a sleep and a wake-up on each side. A pipe of up to
//! `/proc/sys/fs/pipe-max-size` (1 MiB by default, allowed for any user) lets both sides run
//! longer stretches. Failure changes nothing but speed, so it is not an error.

/// The size asked for: Linux's default `pipe-max-size`.
pub const PIPE_SIZE: usize = 1 << 20;

/// Grows the pipe behind `fd` (if it is one) to [`PIPE_SIZE`]; returns the size the kernel
/// granted, or `None` when `fd` is not a pipe or the request was refused.
#[cfg(target_os = "linux")]
pub fn enlarge(fd: std::os::fd::BorrowedFd<'_>) -> Option<usize> {
    use std::os::fd::AsRawFd;
    // SAFETY: F_SETPIPE_SZ takes an int argument and touches no memory of ours; `fd` is a
    // descriptor borrowed for the duration of the call.
    let granted =
        unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETPIPE_SZ, PIPE_SIZE as libc::c_int) };
    usize::try_from(granted).ok()
}

#[cfg(not(target_os = "linux"))]
pub fn enlarge<T>(_fd: T) -> Option<usize> {
    None
}

/// Grows stdin's and stdout's pipes; see the module documentation.
pub fn enlarge_stdio() {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        enlarge(std::io::stdin().as_fd());
        enlarge(std::io::stdout().as_fd());
    }
}

/// stdin as an owned file: unlike `StdinLock` it can move to the helper thread that reads
/// bodies (`protocol::prefetch`). The session buffers it itself.
pub fn raw_stdin() -> Box<dyn std::io::Read + Send> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stdin().as_fd().try_clone_to_owned() {
            return Box::new(std::fs::File::from(fd));
        }
    }
    Box::new(std::io::stdin())
}

/// stdout unbuffered: replies are written whole (header, meta, body) by the session, so the
/// line buffering of `std::io::Stdout` would only add a newline search over every body.
pub fn raw_stdout() -> Box<dyn std::io::Write> {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() {
            return Box::new(std::fs::File::from(fd));
        }
    }
    Box::new(std::io::stdout())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn grows_a_pipe_and_ignores_other_files() {
        let (reader, writer) = std::io::pipe().expect("pipe");
        assert_eq!(enlarge(reader.as_fd()), Some(PIPE_SIZE));
        // SAFETY: F_GETPIPE_SZ reads the size of the pipe behind a live descriptor.
        let size =
            unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&writer), libc::F_GETPIPE_SZ) };
        assert_eq!(size as usize, PIPE_SIZE);
        let file = tempfile::tempfile().expect("temp file");
        assert_eq!(enlarge(file.as_fd()), None);
    }
}
