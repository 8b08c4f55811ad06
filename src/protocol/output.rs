//! Where the session's replies go.
//!
//! Any `Write` takes replies by copy. [`SplicingStdout`] hands a large reply body to a stdout
//! pipe by reference instead (`vmsplice`): the kernel pins the body's pages and splunkd's `read`
//! copies from them, so the body crosses into the pipe without the command copying it. Without
//! it the pipe carries every reply byte twice (the command's copy in, splunkd's copy out), both
//! under the pipe's lock.
//!
//! The price is that the body's pages belong to the pipe until splunkd has read them. The
//! session therefore calls [`ReplyOutput::reclaim`] before it writes to the reply buffer again;
//! while the pipe still holds bytes (splunkd has not read the whole reply, which lock-step
//! splunkd never does), the buffer is set aside and the session gets a fresh one. The pipe
//! only ever holds the last bytes written, at most its capacity (1 MiB): the pages of the
//! set-aside buffer that splunkd has already read are given back to the system at once
//! (`madvise(MADV_DONTNEED)`), and buffers set aside earlier are freed, since everything
//! written before the last reply has been read. A reader that lags behind therefore costs
//! about a pipe's worth of memory over copying, not a reply's worth per reply it lags.

use std::io::{self, Write};

use super::framing::{write_chunk, write_chunk_head};

/// The session's side of stdout.
pub trait ReplyOutput {
    /// Writes one whole chunk by copy.
    fn send_chunk(&mut self, meta: &[u8], body: &[u8]) -> io::Result<()>;

    /// Writes an execute reply. The output may keep referring to `body`'s memory after this
    /// returns: the caller must pass the buffer to [`reclaim`](Self::reclaim) before writing to
    /// it, freeing it or growing it.
    fn send_reply(&mut self, meta: &[u8], body: &[u8]) -> io::Result<()> {
        self.send_chunk(meta, body)
    }

    /// Makes `body` safe to write to again, replacing it with an empty buffer if the previous
    /// reply may still be read from it.
    fn reclaim(&mut self, body: &mut Vec<u8>) {
        let _ = body;
    }
}

impl<W: Write> ReplyOutput for W {
    fn send_chunk(&mut self, meta: &[u8], body: &[u8]) -> io::Result<()> {
        write_chunk(self, meta, body)
    }
}

/// Bodies shorter than this are copied: pinning pages costs more than copying a few of them.
pub const SPLICE_MIN: usize = 64 << 10;

/// Buffers set aside at most before splicing stops: a reader that stays this many replies
/// behind is not lock-step splunkd, and each one set aside is a reply's worth of memory.
const MAX_RETIRED: usize = 4;

/// stdout, with large reply bodies spliced when it is a pipe (Linux); everything else, and
/// every body when stdout is not a pipe, is written by copy.
#[derive(Debug)]
pub struct SplicingStdout {
    file: std::fs::File,
    /// Cleared when the kernel refuses `vmsplice` (stdout is a file, a socket, a terminal).
    splice: bool,
    /// The buffer last passed to `send_reply` was spliced and may still be referenced by the
    /// pipe.
    body_in_pipe: bool,
    /// Buffers whose pages the pipe may still hold; dropped once the pipe is empty, leaked if it
    /// never is (see [`Drop`]).
    retired: Vec<Vec<u8>>,
    /// Bytes written since the last spliced body began (that body included).
    since_body: usize,
}

impl SplicingStdout {
    /// A handle on stdout (a duplicate of descriptor 1), or `None` if it cannot be duplicated.
    pub fn new() -> Option<Self> {
        #[cfg(unix)]
        {
            use std::os::fd::AsFd;
            let fd = io::stdout().as_fd().try_clone_to_owned().ok()?;
            Some(Self::from_file(std::fs::File::from(fd)))
        }
        #[cfg(not(unix))]
        {
            None
        }
    }

    /// Wraps an open file (a pipe's write end, normally).
    pub fn from_file(file: std::fs::File) -> Self {
        SplicingStdout {
            file,
            splice: cfg!(target_os = "linux"),
            body_in_pipe: false,
            retired: Vec::new(),
            since_body: 0,
        }
    }

    /// Bytes written and not yet read, or `None` when unknown.
    #[cfg(target_os = "linux")]
    fn unread(&self) -> Option<usize> {
        use std::os::fd::AsRawFd;
        let mut unread: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int through the pointer, which is valid for the call.
        let rc = unsafe { libc::ioctl(self.file.as_raw_fd(), libc::FIONREAD, &mut unread) };
        if rc == 0 {
            usize::try_from(unread).ok()
        } else {
            None
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn unread(&self) -> Option<usize> {
        None
    }

    /// Splices `body` into the pipe; returns how much went in before the kernel refused, with
    /// `splice` cleared if it refused for good.
    #[cfg(target_os = "linux")]
    fn splice_body(&mut self, body: &[u8]) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        let mut sent = 0;
        while sent < body.len() {
            let rest = &body[sent..];
            let iov = libc::iovec {
                iov_base: rest.as_ptr() as *mut libc::c_void,
                iov_len: rest.len(),
            };
            // SAFETY: the iovec describes `rest`, valid for the call. The pipe keeps references
            // to its pages after the call; `reclaim` keeps the session off them until read.
            let n = unsafe { libc::vmsplice(self.file.as_raw_fd(), &iov, 1, 0) };
            if n > 0 {
                sent += n as usize;
                self.body_in_pipe = true;
                continue;
            }
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EINTR) => continue,
                // Not a pipe, or a kernel without vmsplice: copy from here on.
                Some(libc::EBADF) | Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EPERM) => {
                    self.splice = false;
                    return Ok(sent);
                }
                _ => return Err(error),
            }
        }
        Ok(sent)
    }

    #[cfg(not(target_os = "linux"))]
    fn splice_body(&mut self, _body: &[u8]) -> io::Result<usize> {
        self.splice = false;
        Ok(0)
    }
}

impl ReplyOutput for SplicingStdout {
    fn send_chunk(&mut self, meta: &[u8], body: &[u8]) -> io::Result<()> {
        let mut head = Vec::with_capacity(meta.len() + 40);
        write_chunk_head(&mut head, meta, body.len())?;
        self.since_body = self.since_body.saturating_add(head.len() + body.len());
        self.file.write_all(&head)?;
        self.file.write_all(body)?;
        self.file.flush()
    }

    fn send_reply(&mut self, meta: &[u8], body: &[u8]) -> io::Result<()> {
        if !self.splice || body.len() < SPLICE_MIN {
            return self.send_chunk(meta, body);
        }
        // Header and metadata in one write.
        let mut head = Vec::with_capacity(meta.len() + 40);
        write_chunk_head(&mut head, meta, body.len())?;
        self.file.write_all(&head)?;
        self.since_body = body.len();
        let sent = self.splice_body(body)?;
        self.file.write_all(&body[sent..])
    }

    fn reclaim(&mut self, body: &mut Vec<u8>) {
        if !self.body_in_pipe && self.retired.is_empty() {
            return;
        }
        let unread = self.unread();
        if unread == Some(0) {
            // Everything spliced has been read: no page is referenced any more.
            self.body_in_pipe = false;
            self.retired.clear();
            return;
        }
        if !self.body_in_pipe {
            return;
        }
        self.body_in_pipe = false;
        if let Some(unread) = unread.filter(|&u| u <= self.since_body) {
            // The pipe holds only bytes of the last body and of what followed it: every
            // buffer set aside before is read through, and so is the body's start.
            self.retired.clear();
            let after_body = self.since_body - body.len().min(self.since_body);
            let unread_of_body = unread.saturating_sub(after_body).min(body.len());
            let read = body.len() - unread_of_body;
            release_read_pages(body, read);
        }
        // The fresh buffer gets the old one's capacity, untouched until written, so building
        // the next reply does not grow it step by step (each step a copy).
        let fresh = Vec::with_capacity(body.capacity());
        self.retired.push(std::mem::replace(body, fresh));
        if self.retired.len() >= MAX_RETIRED {
            self.splice = false;
        }
    }
}

/// Gives the whole pages of `buffer` among its first `read` bytes back to the system: splunkd
/// has read them out of the pipe. Should the pipe still refer to one, it keeps its own
/// reference to the page, so what splunkd reads is unchanged and this mapping just gets a fresh
/// zero page if the buffer is written again.
fn release_read_pages(buffer: &mut [u8], read: usize) {
    let read = read.min(buffer.len());
    // SAFETY: the range is inside `buffer`, borrowed mutably for the call; the caller sets the
    // buffer aside unread until it is freed.
    unsafe { super::pages::release(buffer.as_mut_ptr(), 0..read) };
}

impl Drop for SplicingStdout {
    fn drop(&mut self) {
        if !self.retired.is_empty() && self.unread() != Some(0) {
            // splunkd may still read these pages; freeing them would let the allocator hand
            // them out again. The process is about to exit.
            for buffer in self.retired.drain(..) {
                std::mem::forget(buffer);
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::{AsFd, FromRawFd, OwnedFd};

    fn body(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect()
    }

    fn chunk(meta: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_chunk(&mut out, meta, body).expect("in memory");
        out
    }

    fn pipe_output() -> (std::fs::File, SplicingStdout) {
        let mut fds = [0; 2];
        // SAFETY: pipe(2) writes two new descriptors into the array, which we then own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe");
        // SAFETY: both descriptors are open and owned by nothing else.
        let (reader, writer) =
            unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        assert_eq!(
            super::super::pipes::enlarge(writer.as_fd()),
            Some(super::super::pipes::PIPE_SIZE),
            "a 1 MiB pipe"
        );
        (
            std::fs::File::from(reader),
            SplicingStdout::from_file(std::fs::File::from(writer)),
        )
    }

    #[test]
    fn a_spliced_reply_reads_back_whole_and_its_buffer_is_set_aside_until_read() {
        let (mut reader, mut out) = pipe_output();
        // Fits the 1 MiB pipe, so it is all queued with nobody reading yet.
        let mut reply = body(200_000, 1);
        let expected = chunk(b"{}", &reply);
        out.send_reply(b"{}", &reply).expect("send");
        assert!(out.body_in_pipe, "a 200 kB body on a pipe is spliced");
        out.reclaim(&mut reply);
        assert!(reply.is_empty(), "unread: the buffer is set aside");
        assert_eq!(out.retired.len(), 1);
        reply.extend_from_slice(&[b'X'; 1000]);
        let mut got = vec![0; expected.len()];
        reader.read_exact(&mut got).expect("read");
        assert!(got == expected);
        out.reclaim(&mut reply);
        assert_eq!(reply.len(), 1000, "read: the buffer is the caller's again");
        assert!(out.retired.is_empty() && !out.body_in_pipe);
    }

    #[test]
    fn a_reader_that_stays_behind_turns_splicing_off_and_loses_nothing() {
        let (mut reader, mut out) = pipe_output();
        let mut reply = Vec::new();
        let mut expected = Vec::new();
        for n in 0..MAX_RETIRED + 2 {
            out.reclaim(&mut reply);
            reply.clear();
            reply.extend_from_slice(&body(100_000, n as u8));
            expected.extend(chunk(b"{}", &reply));
            out.send_reply(b"{}", &reply).expect("send");
        }
        out.reclaim(&mut reply);
        assert_eq!(out.retired.len(), MAX_RETIRED);
        assert!(
            !out.splice,
            "splicing stops once {MAX_RETIRED} buffers wait"
        );
        drop(out);
        let mut got = Vec::new();
        reader.read_to_end(&mut got).expect("read");
        assert!(got == expected);
    }

    #[test]
    fn a_reader_one_reply_behind_keeps_one_buffer_set_aside_not_one_per_reply() {
        let (mut reader, mut out) = pipe_output();
        let mut reply = Vec::new();
        for n in 0..6u8 {
            out.reclaim(&mut reply);
            assert!(out.retired.len() <= 1, "reply {n}: {}", out.retired.len());
            reply.clear();
            reply.extend_from_slice(&body(300_000, n));
            let expected = chunk(b"{}", &reply);
            out.send_reply(b"{}", &reply).expect("send");
            // Read all but the last 1000 bytes: the pipe still holds this reply's tail.
            let mut got = vec![0; expected.len() - 1000];
            reader.read_exact(&mut got).expect("read");
            assert!(got == expected[..got.len()]);
            out.reclaim(&mut reply);
            assert_eq!(out.retired.len(), 1, "reply {n}");
            assert!(reply.is_empty() && reply.capacity() >= 300_000);
            let mut rest = vec![0; 1000];
            reader.read_exact(&mut rest).expect("read the tail");
            assert!(
                rest == expected[expected.len() - 1000..],
                "reply {n}: tail intact"
            );
        }
        assert!(out.splice, "splicing goes on");
    }

    #[test]
    fn small_bodies_and_files_are_copied() {
        let (mut reader, mut out) = pipe_output();
        let small = body(SPLICE_MIN - 1, 2);
        out.send_reply(b"{}", &small).expect("send");
        assert!(!out.body_in_pipe);
        drop(out);
        let mut got = Vec::new();
        reader.read_to_end(&mut got).expect("read");
        assert!(got == chunk(b"{}", &small));

        let file = tempfile::tempfile().expect("temp file");
        let mut out = SplicingStdout::from_file(file.try_clone().expect("dup"));
        let large = body(3 * SPLICE_MIN, 3);
        out.send_reply(b"{\"finished\":true}", &large)
            .expect("send");
        assert!(
            !out.splice && !out.body_in_pipe,
            "vmsplice refused on a file"
        );
        let mut file = file;
        io::Seek::rewind(&mut file).expect("rewind");
        let mut got = Vec::new();
        file.read_to_end(&mut got).expect("read");
        assert!(got == chunk(b"{\"finished\":true}", &large));
    }
}
