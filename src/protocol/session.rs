//! The request/reply loop: getinfo, then one reply per execute chunk, in strict lock-step.
//!
//! Errors are answered on the wire the way splunkd shows them to the user: an inspector ERROR
//! message, `error`, `finished:true` (inspector serialised before error, as Splunk's MLTK does),
//! then the process exits 1. The getinfo metadata is deserialised into [`GetInfo`], which has no
//! field for `session_key`: the token is never stored, printed or logged.

use std::io::{self, BufRead};

use serde::{Deserialize, Serialize};

use super::chunk::{BodyError, BodyProcessor, BodyStats};
use super::framing::{read_chunk, read_exact_into, read_header, ChunkHeader, FrameError};
use super::output::ReplyOutput;
use super::prefetch::{PrefetchBuffer, PrefetchError};
use super::processor::{Level, Message, RowProcessor};

/// Bytes of an execute body read between two hand-overs to the row processor when the body is
/// read on the session's own thread.
const BODY_PIECE: u64 = 256 << 10;

/// Bodies of this size and up are read by a helper thread while rows are processed
/// (`protocol::prefetch`); below it, starting the thread costs more than the overlap saves.
pub const PREFETCH_MIN: u64 = 1 << 20;

/// Larger announced bodies are read on the session's thread, which grows its buffer only as
/// bytes arrive: the helper needs the whole buffer up front, and a header may lie.
pub const PREFETCH_MAX: u64 = 256 << 20;

/// What the getinfo request tells the command (unknown keys are ignored; `session_key` is
/// deliberately not a field).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GetInfo {
    #[serde(default)]
    pub preview: bool,
    #[serde(default)]
    pub searchinfo: SearchInfo,
}

/// `searchinfo` of the getinfo request.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchInfo {
    /// Splunk-tokenised arguments, quotes removed.
    #[serde(default)]
    pub args: Vec<String>,
    /// The same tokens with quoting preserved.
    #[serde(default)]
    pub raw_args: Vec<String>,
    #[serde(default)]
    pub dispatch_dir: Option<String>,
    #[serde(default)]
    pub sid: Option<String>,
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub command: Option<String>,
    #[serde(default)]
    pub splunk_version: Option<String>,
    #[serde(default)]
    pub maxresultrows: Option<serde_json::Value>,
}

/// The command's getinfo reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetInfoReply {
    /// `streaming` (distributable), `stateful`, `events` or `reporting`.
    pub command_type: &'static str,
    /// Fields Splunk should send; `None` sends every field.
    pub required_fields: Option<Vec<String>>,
    pub messages: Vec<Message>,
}

impl GetInfoReply {
    /// A distributable streaming command that receives every field.
    pub fn streaming() -> Self {
        GetInfoReply {
            command_type: "streaming",
            required_fields: None,
            messages: Vec::new(),
        }
    }
}

/// An error the command reports to the user; the session answers with it and exits 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CommandError(pub String);

/// A search command: validates its options at getinfo and builds its row processor at the
/// first execute (Splunk starts probe processes that only do getinfo, so heavy work waits).
pub trait SearchCommand {
    type Processor: RowProcessor;

    fn getinfo(&mut self, request: &GetInfo) -> Result<GetInfoReply, CommandError>;

    fn start(&mut self) -> Result<Self::Processor, CommandError>;
}

/// Why a session ended badly. The message has already been sent to splunkd when possible.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("chunk {chunk}: invalid metadata: {message}")]
    Metadata { chunk: usize, message: String },
    #[error("chunk {chunk}: expected action \"{expected}\", got {got}")]
    UnexpectedAction {
        chunk: usize,
        expected: &'static str,
        got: String,
    },
    #[error("getinfo request carries a {0}-byte body; splunkd never sends data with getinfo")]
    GetInfoBody(u64),
    #[error("{0}")]
    Command(CommandError),
    #[error("execute chunk {chunk}: {source}")]
    Body { chunk: usize, source: BodyError },
    #[error("writing the reply failed: {0}")]
    Write(io::Error),
}

/// How a session ended.
#[derive(Debug)]
pub struct SessionEnd {
    /// 0 after EOF at a chunk boundary, 1 after a fatal error.
    pub exit_code: i32,
    pub error: Option<SessionError>,
    /// Execute chunks answered.
    pub chunks: usize,
    pub rows_in: u64,
    pub rows_out: u64,
}

#[derive(Deserialize)]
struct Action {
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    finished: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct ExecuteReplyMeta<'a> {
    finished: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    inspector: Option<Inspector<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

#[derive(Serialize)]
struct GetInfoReplyMeta<'a> {
    #[serde(rename = "type")]
    command_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    required_fields: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inspector: Option<Inspector<'a>>,
}

#[derive(Serialize)]
struct Inspector<'a> {
    messages: Vec<[&'a str; 2]>,
}

fn inspector(messages: &[Message]) -> Option<Inspector<'_>> {
    if messages.is_empty() {
        return None;
    }
    Some(Inspector {
        messages: messages
            .iter()
            .map(|m| [m.level.as_str(), m.text.as_str()])
            .collect(),
    })
}

/// Runs a whole session: reads requests from `input`, answers on `output`.
pub fn run_session<R: BufRead + Send, W: ReplyOutput, C: SearchCommand>(
    input: &mut R,
    output: &mut W,
    command: &mut C,
) -> SessionEnd {
    let mut session = Session {
        bodies: BodyProcessor::new(),
        meta: Vec::new(),
        body: Vec::new(),
        prefetch: PrefetchBuffer::new(),
        reply: Vec::new(),
        messages: Vec::new(),
        end: SessionEnd {
            exit_code: 0,
            error: None,
            chunks: 0,
            rows_in: 0,
            rows_out: 0,
        },
    };
    if let Err(error) = session.run(input, output, command) {
        if !matches!(error, SessionError::Write(_)) {
            // Best effort: splunkd may already be gone.
            let _ = send_error(output, &error.to_string());
        }
        session.end.exit_code = 1;
        session.end.error = Some(error);
    }
    // The last reply may still be read from this buffer.
    output.reclaim(&mut session.reply);
    session.end
}

struct Session {
    bodies: BodyProcessor,
    meta: Vec<u8>,
    body: Vec<u8>,
    prefetch: PrefetchBuffer,
    reply: Vec<u8>,
    messages: Vec<Message>,
    end: SessionEnd,
}

impl Session {
    fn run<R: BufRead + Send, W: ReplyOutput, C: SearchCommand>(
        &mut self,
        input: &mut R,
        output: &mut W,
        command: &mut C,
    ) -> Result<(), SessionError> {
        if !self.handshake(input, output, command)? {
            return Ok(());
        }
        let mut processor: Option<C::Processor> = None;
        let mut chunk = 1;
        while let Some(header) = read_header(input)? {
            chunk += 1;
            self.execute_chunk(input, output, command, &mut processor, header, chunk)?;
        }
        Ok(())
    }

    /// The getinfo exchange; `false` when the input ends before any request.
    fn handshake<R: BufRead, W: ReplyOutput, C: SearchCommand>(
        &mut self,
        input: &mut R,
        output: &mut W,
        command: &mut C,
    ) -> Result<bool, SessionError> {
        let Some(header) = read_chunk(input, &mut self.meta, &mut self.body)? else {
            return Ok(false);
        };
        let action: Action = parse_meta(&self.meta, 1)?;
        if action.action.as_deref() != Some("getinfo") {
            return Err(SessionError::UnexpectedAction {
                chunk: 1,
                expected: "getinfo",
                got: describe_action(&action.action),
            });
        }
        if header.body_len > 0 {
            return Err(SessionError::GetInfoBody(header.body_len));
        }
        let getinfo: GetInfo = parse_meta(&self.meta, 1)?;
        self.meta.clear();
        let reply = command.getinfo(&getinfo).map_err(SessionError::Command)?;
        let meta = serde_json::to_vec(&GetInfoReplyMeta {
            command_type: reply.command_type,
            required_fields: reply.required_fields.as_deref(),
            inspector: inspector(&reply.messages),
        })
        .map_err(|e| SessionError::Write(io::Error::other(e)))?;
        output.send_chunk(&meta, &[]).map_err(SessionError::Write)?;
        Ok(true)
    }

    /// One execute request (request number `chunk`, from 1 for getinfo) whose header has
    /// been read: its metadata, the processor (started at the first execute), the body fed
    /// through `bodies` while it arrives, and the reply.
    fn execute_chunk<R: BufRead + Send, W: ReplyOutput, C: SearchCommand>(
        &mut self,
        input: &mut R,
        output: &mut W,
        command: &mut C,
        processor: &mut Option<C::Processor>,
        header: ChunkHeader,
        chunk: usize,
    ) -> Result<(), SessionError> {
        let body_len = header.body_len;
        read_exact_into(input, header.meta_len, &mut self.meta, "metadata")?;
        let finished = or_drain(execute_finished(&self.meta, chunk), input, body_len)?;
        let processor = match processor {
            Some(p) => p,
            None => {
                let started = command.start().map_err(SessionError::Command);
                processor.insert(or_drain(started, input, body_len)?)
            }
        };
        self.messages.clear();
        output.reclaim(&mut self.reply);
        self.bodies.begin(&mut self.reply);
        if (PREFETCH_MIN..=PREFETCH_MAX).contains(&body_len) {
            let (bodies, reply) = (&mut self.bodies, &mut self.reply);
            self.prefetch
                .read_while(input, body_len as usize, |received, complete| {
                    bodies.feed(received, complete, processor, reply)?;
                    Ok(bodies.consumed())
                })
                .map_err(|e| prefetch_error(e, body_len, chunk))?;
        } else {
            self.read_and_feed(input, body_len, chunk, processor)?;
        }
        let stats: BodyStats = self.bodies.finish(processor, &mut self.messages);
        let meta = serde_json::to_vec(&ExecuteReplyMeta {
            finished,
            inspector: inspector(&self.messages),
            error: None,
        })
        .map_err(|e| SessionError::Write(io::Error::other(e)))?;
        output
            .send_reply(&meta, &self.reply)
            .map_err(SessionError::Write)?;
        self.end.chunks += 1;
        self.end.rows_in += stats.rows_in as u64;
        self.end.rows_out += stats.rows_out as u64;
        Ok(())
    }

    /// Reads a body on this thread, [`BODY_PIECE`] at a time, handing each longer prefix to
    /// the body processor: for bodies too small to be worth a helper thread, and announced lengths too
    /// large to allocate up front.
    fn read_and_feed<R: BufRead, P: RowProcessor>(
        &mut self,
        input: &mut R,
        body_len: u64,
        chunk: usize,
        processor: &mut P,
    ) -> Result<(), SessionError> {
        self.body.clear();
        let mut remaining = body_len;
        loop {
            let step = remaining.min(BODY_PIECE);
            self.body.reserve(step as usize);
            let got = io::Read::read_to_end(
                &mut io::Read::take(io::Read::by_ref(input), step),
                &mut self.body,
            )
            .map_err(FrameError::Io)? as u64;
            if got < step {
                return Err(SessionError::Frame(FrameError::Truncated {
                    what: "body",
                    expected: body_len,
                    got: self.body.len() as u64,
                }));
            }
            remaining -= got;
            let fed = self
                .bodies
                .feed(&self.body, remaining == 0, processor, &mut self.reply)
                .map_err(|source| SessionError::Body {
                    chunk: chunk - 1,
                    source,
                });
            or_drain(fed, input, remaining)?;
            if remaining == 0 {
                return Ok(());
            }
        }
    }
}

/// Passes `result` on; on an error, first discards the `unread` rest of the request body (best
/// effort), so the error reply answers the request whole.
fn or_drain<T, R: BufRead>(
    result: Result<T, SessionError>,
    input: &mut R,
    unread: u64,
) -> Result<T, SessionError> {
    if result.is_err() {
        let _ = io::copy(
            &mut io::Read::take(io::Read::by_ref(input), unread),
            &mut io::sink(),
        );
    }
    result
}

/// An execute request's metadata: the action must be `execute`; returns its `finished`.
fn execute_finished(meta: &[u8], chunk: usize) -> Result<bool, SessionError> {
    let action: Action = parse_meta(meta, chunk)?;
    if action.action.as_deref() != Some("execute") {
        return Err(SessionError::UnexpectedAction {
            chunk,
            expected: "execute",
            got: describe_action(&action.action),
        });
    }
    match action.finished {
        None | Some(serde_json::Value::Null) => Ok(false),
        Some(serde_json::Value::Bool(b)) => Ok(b),
        Some(other) => Err(SessionError::Metadata {
            chunk,
            message: format!("\"finished\" must be true or false, got {other}"),
        }),
    }
}

/// The session error for a body the prefetch helper could not hand over whole.
fn prefetch_error(error: PrefetchError<BodyError>, body_len: u64, chunk: usize) -> SessionError {
    match error {
        PrefetchError::Truncated { got } => SessionError::Frame(FrameError::Truncated {
            what: "body",
            expected: body_len,
            got: got as u64,
        }),
        PrefetchError::Io(e) => SessionError::Frame(FrameError::Io(e)),
        PrefetchError::Consume(source) => SessionError::Body {
            chunk: chunk - 1,
            source,
        },
    }
}

fn describe_action(action: &Option<String>) -> String {
    match action {
        Some(a) => format!("{a:?}"),
        None => "no action".to_string(),
    }
}

/// Parses metadata JSON. The error names the chunk and the JSON problem, never the content
/// (which may hold the session key).
fn parse_meta<'a, T: Deserialize<'a>>(meta: &'a [u8], chunk: usize) -> Result<T, SessionError> {
    serde_json::from_slice(meta).map_err(|e| SessionError::Metadata {
        chunk,
        message: format!(
            "{} at line {} column {}",
            match e.classify() {
                serde_json::error::Category::Io => "I/O error",
                serde_json::error::Category::Syntax => "not valid JSON",
                serde_json::error::Category::Data => "unexpected JSON shape",
                serde_json::error::Category::Eof => "JSON ends early",
            },
            e.line(),
            e.column()
        ),
    })
}

/// Writes the fatal-error reply: inspector ERROR, `error`, `finished:true`.
pub fn send_error<W: ReplyOutput + ?Sized>(output: &mut W, message: &str) -> io::Result<()> {
    let messages = [Message {
        level: Level::Error,
        text: message.to_string(),
    }];
    let meta = serde_json::to_vec(&ExecuteReplyMeta {
        finished: true,
        inspector: inspector(&messages),
        error: Some(message),
    })
    .map_err(io::Error::other)?;
    output.send_chunk(&meta, &[])
}
