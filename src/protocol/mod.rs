//! Splunk's chunked external command protocol ("SCP v2"): framing, the CSV body dialect,
//! the `__mv_` multivalue codec and the request/reply loop.
//!
//! This module knows nothing of detection rules or file ingest. The loop hands every execute
//! chunk to a [`RowProcessor`] supplied by the caller (the seam the rules engine plugs into);
//! [`Passthrough`] returns every row unchanged.

mod chunk;
pub mod csv;
mod framing;
pub mod mv;
mod needles;
mod output;
mod pages;
mod parallel;
mod pipes;
mod prefetch;
mod processor;
mod session;
mod structural;
mod workers;

pub use chunk::{BodyError, BodyProcessor, BodyStats};
pub use framing::{encode_chunk, read_chunk, write_chunk, FrameError};
pub use needles::{Needles, MAX_NEEDLES};
pub use output::{ReplyOutput, SplicingStdout};
pub use pipes::{enlarge_stdio, raw_stdin, raw_stdout};
pub use prefetch::WINDOW_MIN as PREFETCH_WINDOW_MIN;
pub use processor::{
    Columns, Emitter, GateLiteral, Level, Message, Passthrough, ProcessError, Row, RowGate,
    RowProcessor, SlotColumns, Threads, Values, Verdict,
};
pub use session::{
    run_session, send_error, CommandError, GetInfo, GetInfoReply, SearchCommand, SearchInfo,
    SessionEnd, SessionError, PREFETCH_MAX, PREFETCH_MIN,
};
pub use structural::{scan_row, RowCommas, RowShape};
