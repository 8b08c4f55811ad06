//! splunkd's end of the event stream. A batch written to a pipe is not delivered until
//! splunkd has read it: if splunkd goes away (a restart), whatever is still in the pipe is
//! lost with it. So before the input records a batch as delivered it asks the pipe how much
//! is still unread (`FIONREAD`, as the search command does for its replies) and waits until
//! nothing is.

use std::fs::File;
use std::time::{Duration, Instant};

/// How long a stopping input waits for splunkd to read its last batch before leaving it
/// unrecorded (it is then sent again by the next run).
pub const STOP_GRACE: Duration = Duration::from_secs(2);

/// What became of the bytes written to the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// splunkd has read everything.
    Read,
    /// splunkd closed its end; what was unread is lost with the pipe.
    Closed,
    /// Still unread when the input had to stop.
    Unconfirmed,
}

/// The input's stdout when it is a pipe (a duplicate of descriptor 1).
#[derive(Debug)]
pub struct StdoutPipe {
    file: File,
}

impl StdoutPipe {
    /// `None` when stdout is not a pipe (a file or a terminal: written is delivered).
    pub fn new() -> Option<StdoutPipe> {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsFd;
            use std::os::unix::fs::FileTypeExt;
            let fd = std::io::stdout().as_fd().try_clone_to_owned().ok()?;
            let file = File::from(fd);
            let is_pipe = file.metadata().ok()?.file_type().is_fifo();
            is_pipe.then_some(StdoutPipe { file })
        }
        #[cfg(not(target_os = "linux"))]
        {
            None
        }
    }

    /// A pipe's write end (for tests).
    pub fn from_file(file: File) -> StdoutPipe {
        StdoutPipe { file }
    }

    /// Waits until splunkd has read everything written so far, or has closed the pipe. Gives
    /// up once `stopping` has held for [`STOP_GRACE`].
    pub fn wait_until_read(&self, stopping: impl Fn() -> bool) -> Delivery {
        let mut pause = Duration::from_micros(200);
        let mut stop_seen: Option<Instant> = None;
        loop {
            match self.unread() {
                Some(0) | None => return Delivery::Read,
                Some(_) => {}
            }
            if self.reader_gone() {
                return Delivery::Closed;
            }
            if stopping() {
                let since = *stop_seen.get_or_insert_with(Instant::now);
                if since.elapsed() >= STOP_GRACE {
                    return Delivery::Unconfirmed;
                }
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// Bytes written and not yet read, or `None` when the pipe cannot tell.
    #[cfg(target_os = "linux")]
    fn unread(&self) -> Option<usize> {
        use std::os::fd::AsRawFd;
        let mut unread: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int through the pointer, which is valid for the call.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), libc::FIONREAD, &mut unread) };
        (rc == 0).then(|| usize::try_from(unread).ok()).flatten()
    }

    #[cfg(not(target_os = "linux"))]
    fn unread(&self) -> Option<usize> {
        None
    }

    /// Whether the read end is closed: a pipe's write end polls as an error then.
    #[cfg(target_os = "linux")]
    fn reader_gone(&self) -> bool {
        use std::os::fd::AsRawFd;
        let mut poll = libc::pollfd {
            fd: self.file.as_raw_fd(),
            events: libc::POLLOUT,
            revents: 0,
        };
        // SAFETY: one pollfd, valid for the call; a zero timeout never blocks.
        let rc = unsafe { libc::poll(&mut poll, 1, 0) };
        rc > 0 && poll.revents & (libc::POLLERR | libc::POLLHUP) != 0
    }

    #[cfg(not(target_os = "linux"))]
    fn reader_gone(&self) -> bool {
        false
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};

    fn pipe() -> (File, File) {
        let mut fds = [0; 2];
        // SAFETY: pipe(2) writes two new descriptors into the array, which we then own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
        // SAFETY: both descriptors are open and owned by nothing else.
        unsafe {
            (
                File::from(OwnedFd::from_raw_fd(fds[0])),
                File::from(OwnedFd::from_raw_fd(fds[1])),
            )
        }
    }

    #[test]
    fn delivery_waits_for_the_reader_and_notices_it_leave() {
        let (mut reader, mut writer) = pipe();
        let watch = StdoutPipe::from_file(writer.try_clone().unwrap());
        writer.write_all(b"batch").unwrap();
        let drain = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            let mut got = [0u8; 5];
            reader.read_exact(&mut got).unwrap();
            reader
        });
        assert_eq!(watch.wait_until_read(|| false), Delivery::Read);
        let reader = drain.join().unwrap();
        writer.write_all(b"never read").unwrap();
        assert_eq!(watch.wait_until_read(|| true), Delivery::Unconfirmed);
        drop(reader);
        assert_eq!(watch.wait_until_read(|| false), Delivery::Closed);
    }
}
