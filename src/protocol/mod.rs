//! Splunk's chunked external command protocol ("SCP v2"): framing, the CSV body dialect,
//! the `__mv_` multivalue codec and the request/reply loop.
//!
//! This module knows nothing of detection rules or file ingest. The loop hands every execute
//! chunk to a [`RowProcessor`] supplied by the caller (the seam the rules engine plugs into);
//! [`Passthrough`] returns every row unchanged.

pub mod chunk;
pub mod csv;
pub mod framing;
pub mod mv;
pub mod needles;
pub mod output;
pub mod pipes;
pub mod prefetch;
pub mod processor;
pub mod session;
pub mod structural;

pub use chunk::{BodyError, BodyProcessor, BodyStats};
pub use needles::Needles;
pub use output::{ReplyOutput, SplicingStdout};
pub use processor::{
    Columns, Emitter, GateLiteral, Level, Message, Passthrough, ProcessError, Row, RowGate,
    RowProcessor, SlotColumns, Values, Verdict,
};
pub use session::{
    run_session, send_error, CommandError, GetInfo, GetInfoReply, SearchCommand, SearchInfo,
    SessionEnd, SessionError,
};
