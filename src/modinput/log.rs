//! Logging for splunkd: one line per message on stderr, prefixed with a Splunk level.
//!
//! splunkd copies a modular input's stderr into splunkd.log (component ExecProcessor) and reads
//! the first word of each line as the level; an unprefixed line counts as ERROR. A message with
//! a newline would therefore turn into a second, mislabelled ERROR line, so newlines are folded.

use std::fmt;
use std::io::Write;

/// The levels splunkd recognises at the start of a stderr line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
    Fatal,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Fatal => "FATAL",
        })
    }
}

/// Formats one log line: `LEVEL message` with line breaks replaced by ` | `.
pub fn format_line(level: Level, message: &str) -> String {
    let mut line = format!("{level} ");
    let mut chars = message.trim_end().chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' => line.push_str(" | "),
            c => line.push(c),
        }
    }
    line
}

/// Writes one message to stderr. Errors writing stderr are ignored: there is nowhere else to
/// report them, and losing a log line must never stop ingestion.
pub fn log(level: Level, message: &str) {
    let mut line = format_line(level, message);
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub fn debug(message: &str) {
    if std::env::var_os("NETDISCOVER_INPUT_DEBUG").is_some() {
        log(Level::Debug, message);
    }
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_messages_become_one_line() {
        assert_eq!(
            format_line(Level::Error, "bad record\r\nat line 3\nend\n"),
            "ERROR bad record | at line 3 | end"
        );
        assert_eq!(format_line(Level::Info, "started"), "INFO started");
    }
}
