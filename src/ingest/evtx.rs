//! EVTX binaries through the `evtx` crate, one 64 KiB chunk in memory at a time. Each
//! record is rendered to XML and read by the same parser as XmlWinEventLog files, so an
//! EVTX file and its XML rendering give the same rows.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::Arc;

use evtx::{EvtxParser, IntoIterChunks, ParserSettings};

/// One record: its 1-based number in read order and its XML (or why it could not be read).
pub(crate) type RenderedRecord = (u64, Result<String, String>);

const HEADER_SIZE: u64 = 4096;
const CHUNK_SIZE: u64 = 65536;

/// Why an EVTX file cannot be read (yet).
#[derive(Debug)]
pub(crate) enum EvtxOpenError {
    /// Follow mode: the file is still shorter than its header says (being copied).
    Incomplete(String),
    Invalid(String),
}

pub(crate) struct EvtxRecords {
    chunks: IntoIterChunks<File>,
    settings: Arc<ParserSettings>,
    queue: VecDeque<RenderedRecord>,
    /// Records seen so far (rendered or skipped).
    seen: u64,
    /// Records to pass over without rendering (resume).
    skip: u64,
    chunks_read: u64,
    /// Bytes after the last whole chunk, which the `evtx` crate passes over in silence; they
    /// are reported once at the end (a truncated copy of a log).
    trailing_bytes: u64,
    /// Set after the parser panicked: nothing more is read from this file.
    failed: bool,
}

impl EvtxRecords {
    /// Opens `file`, passing over its first `skip` records. In follow mode a file that is
    /// shorter than its header promises (a copy in progress: a partial chunk, or fewer chunks
    /// than the header counts) is [`EvtxOpenError::Incomplete`] rather than read in part, so
    /// record numbers never count what a later read would find in the same place.
    pub(crate) fn open(file: File, skip: u64, follow: bool) -> Result<Self, EvtxOpenError> {
        let invalid = |e: &dyn std::fmt::Display| EvtxOpenError::Invalid(e.to_string());
        let len = file.metadata().map_err(|e| invalid(&e))?.len();
        if follow && len < HEADER_SIZE {
            return Err(EvtxOpenError::Incomplete(format!(
                "{len} bytes of the {HEADER_SIZE}-byte file header"
            )));
        }
        let trailing_bytes = len.saturating_sub(HEADER_SIZE) % CHUNK_SIZE;
        let parser = EvtxParser::from_read_seek(file).map_err(|e| invalid(&e))?;
        if follow {
            let whole = (len - HEADER_SIZE) / CHUNK_SIZE;
            let promised = u64::from(parser.header().chunk_count);
            if trailing_bytes > 0 || whole < promised {
                return Err(EvtxOpenError::Incomplete(format!(
                    "{whole} whole chunks of the {promised} its header counts, and {trailing_bytes} bytes of the next"
                )));
            }
        }
        let settings = Arc::new(ParserSettings::new().num_threads(1).indent(false));
        Ok(EvtxRecords {
            chunks: parser.with_configuration((*settings).clone()).into_chunks(),
            settings,
            queue: VecDeque::new(),
            seen: 0,
            skip,
            chunks_read: 0,
            trailing_bytes,
            failed: false,
        })
    }

    /// Bytes of the file read so far (header plus whole chunks), for progress.
    pub(crate) fn bytes_read(&self) -> u64 {
        HEADER_SIZE + self.chunks_read * CHUNK_SIZE
    }

    fn load_next_chunk(&mut self) -> bool {
        let Some(chunk) = self.chunks.next() else {
            if self.trailing_bytes > 0 {
                let bytes = std::mem::take(&mut self.trailing_bytes);
                self.seen += 1;
                let message = format!("the file ends {bytes} bytes into a 64 KiB chunk (truncated copy?); that chunk is not read");
                if self.seen > self.skip {
                    self.queue.push_back((self.seen, Err(message)));
                }
                return true;
            }
            return false;
        };
        self.chunks_read += 1;
        let mut data = match chunk {
            Ok(data) => data,
            Err(e) => {
                self.seen += 1;
                if self.seen > self.skip {
                    self.queue
                        .push_back((self.seen, Err(format!("unreadable chunk: {e}"))));
                }
                return true;
            }
        };
        let mut chunk = match data.parse(Arc::clone(&self.settings)) {
            Ok(chunk) => chunk,
            Err(e) => {
                self.seen += 1;
                if self.seen > self.skip {
                    self.queue
                        .push_back((self.seen, Err(format!("unparsable chunk: {e}"))));
                }
                return true;
            }
        };
        for record in chunk.iter() {
            self.seen += 1;
            if self.seen <= self.skip {
                continue;
            }
            let rendered = record
                .and_then(|r| r.into_xml())
                .map(|r| r.data)
                .map_err(|e| e.to_string());
            self.queue.push_back((self.seen, rendered));
        }
        true
    }
}

impl Iterator for EvtxRecords {
    type Item = RenderedRecord;

    fn next(&mut self) -> Option<RenderedRecord> {
        loop {
            if let Some(record) = self.queue.pop_front() {
                return Some(record);
            }
            if self.failed {
                return None;
            }
            // The `evtx` crate parses untrusted binary data; should it ever panic on a
            // damaged chunk, that becomes a malformed record and the end of this file,
            // not the end of the scan.
            let loaded =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.load_next_chunk()));
            match loaded {
                Ok(true) => {}
                Ok(false) => return None,
                Err(_) => {
                    self.failed = true;
                    self.seen += 1;
                    let message = format!(
                        "the EVTX parser failed on chunk {}; the rest of the file is not read",
                        self.chunks_read
                    );
                    return Some((self.seen, Err(message)));
                }
            }
        }
    }
}
