//! `| netdiscover`: the SCP v2 front end. Parses and validates the search command's options at
//! getinfo and runs the protocol loop on stdin/stdout.
//!
//! The rules engine plugs in at [`NetdiscoverCommand::start`]: it receives the parsed
//! [`CommandOptions`] (mode and rule selection) and returns the row processor. Until then the
//! command passes every row through unchanged.

use std::fmt;
use std::io::{self, BufReader};

use crate::protocol::{
    run_session, CommandError, GetInfo, GetInfoReply, Passthrough, SearchCommand,
};

/// The search command's options as `--help` shows them.
pub const HELP: &str = "\
SEARCH COMMAND (| netdiscover [OPTION]...): Splunk starts this binary with no arguments and
speaks the chunked protocol v2 (commands.conf: chunked = true). Options are key=value tokens;
lists are repeated options because Splunk strips commas.
  mode=annotate|filter|risk  annotate (default): every row passes, matching rows gain the
                             detection and risk fields; filter: only matching rows;
                             risk: one row per matched rule and risk object, as ES writes
                             risk events (a rule without risk objects gives one row with
                             empty risk fields)
  rule=<name or id>          select rules by name or id (case-insensitive, * wildcard);
                             repeatable
  type=<type>                select rules by type: Hunting, Anomaly, TTP, Correlation, ...;
                             repeatable
  story=<analytic story>     select rules by analytic story; repeatable
Selections of different keys intersect, repeats of one key unite; no selection means every
loaded rule. Any other token is an error that lists these options.
Example: | tstats ... by Processes.process ... | `drop_dm_object_name(Processes)`
         | netdiscover mode=filter type=Anomaly rule=\"Windows Proxy Via Netsh\"
";

/// The valid options, as error messages list them.
pub const VALID_OPTIONS: &str =
    "mode=annotate|filter|risk, rule=<name or id>, type=<detection type>, story=<analytic story>";

/// What the command does with matching rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// Every row passes; matching rows gain the annotation fields.
    #[default]
    Annotate,
    /// Only matching rows pass, annotated.
    Filter,
    /// One row per (matched rule × risk object).
    Risk,
}

impl Mode {
    fn parse(value: &str) -> Option<Mode> {
        match value.to_ascii_lowercase().as_str() {
            "annotate" => Some(Mode::Annotate),
            "filter" => Some(Mode::Filter),
            "risk" => Some(Mode::Risk),
            _ => None,
        }
    }
}

/// The parsed `| netdiscover` options, ready for rule selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandOptions {
    pub mode: Mode,
    /// `rule=` patterns (name or id, case-insensitive, `*` wildcard); any may match.
    pub rules: Vec<String>,
    /// `type=` values; any may match.
    pub types: Vec<String>,
    /// `story=` values; any may match.
    pub stories: Vec<String>,
}

/// An invalid option token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionError {
    pub token: String,
    pub problem: String,
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "netdiscover: {} {:?}; valid options: {VALID_OPTIONS}",
            self.problem, self.token
        )
    }
}

impl std::error::Error for OptionError {}

impl CommandOptions {
    /// Parses Splunk-tokenised arguments (`searchinfo.args`). Keys are case-insensitive.
    pub fn parse<S: AsRef<str>>(args: &[S]) -> Result<CommandOptions, OptionError> {
        let mut options = CommandOptions::default();
        let mut mode_seen = false;
        for token in args {
            let token = token.as_ref();
            let error = |problem: &str| OptionError {
                token: token.to_string(),
                problem: problem.to_string(),
            };
            let Some((key, value)) = token.split_once('=') else {
                return Err(error("expected key=value, got"));
            };
            let key = key.trim().to_ascii_lowercase();
            if value.trim().is_empty() {
                return Err(error("empty value in option"));
            }
            match key.as_str() {
                "mode" => {
                    if mode_seen {
                        return Err(error("mode given twice, second time as"));
                    }
                    mode_seen = true;
                    options.mode = Mode::parse(value.trim())
                        .ok_or_else(|| error("mode must be annotate, filter or risk, got"))?;
                }
                "rule" => options.rules.push(value.to_string()),
                "type" => options.types.push(value.to_string()),
                "story" => options.stories.push(value.to_string()),
                "" => return Err(error("missing option name in")),
                _ => return Err(error("unknown option")),
            }
        }
        Ok(options)
    }
}

/// The `netdiscover` search command.
#[derive(Debug, Default)]
pub struct NetdiscoverCommand {
    options: CommandOptions,
}

impl NetdiscoverCommand {
    /// The options parsed at getinfo.
    pub fn options(&self) -> &CommandOptions {
        &self.options
    }
}

impl SearchCommand for NetdiscoverCommand {
    type Processor = Passthrough;

    fn getinfo(&mut self, request: &GetInfo) -> Result<GetInfoReply, CommandError> {
        self.options = CommandOptions::parse(&request.searchinfo.args)
            .map_err(|e| CommandError(e.to_string()))?;
        // Every field is requested: see the README (protocol section) for why `required_fields`
        // is not declared.
        Ok(GetInfoReply::streaming())
    }

    fn start(&mut self) -> Result<Passthrough, CommandError> {
        Ok(Passthrough)
    }
}

/// Runs the SCP v2 session on stdin/stdout; returns the exit code. stderr gets one line, only
/// on a fatal error (splunkd logs every stderr line as ERROR in search.log).
pub fn run_scp() -> i32 {
    let stdin = io::stdin();
    let mut input = BufReader::with_capacity(1 << 16, stdin.lock());
    let mut output = raw_stdout();
    let mut command = NetdiscoverCommand::default();
    let end = run_session(&mut input, &mut output, &mut command);
    if let Some(error) = &end.error {
        let text = error.to_string();
        if text.starts_with("netdiscover:") {
            eprintln!("{text}");
        } else {
            eprintln!("netdiscover: {text}");
        }
    }
    end.exit_code
}

/// Unbuffered stdout: replies are written whole (header, meta, body) by the session, so the
/// line buffering of `std::io::Stdout` would only add a newline search over every body.
#[cfg(unix)]
fn raw_stdout() -> Box<dyn io::Write> {
    use std::os::fd::AsFd;
    match io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(_) => Box::new(io::stdout()),
    }
}

#[cfg(not(unix))]
fn raw_stdout() -> Box<dyn io::Write> {
    Box::new(io::stdout())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_option_and_repeats() {
        let options = CommandOptions::parse(&[
            "mode=Filter",
            "rule=Windows Proxy Via Netsh",
            "RULE=*netstat*",
            "type=Anomaly",
            "story=Active Directory Discovery",
        ])
        .unwrap();
        assert_eq!(options.mode, Mode::Filter);
        assert_eq!(options.rules, ["Windows Proxy Via Netsh", "*netstat*"]);
        assert_eq!(options.types, ["Anomaly"]);
        assert_eq!(options.stories, ["Active Directory Discovery"]);
        assert_eq!(
            CommandOptions::parse::<&str>(&[]).unwrap(),
            CommandOptions::default()
        );
    }

    #[test]
    fn rejects_unknown_and_malformed_tokens_listing_the_valid_options() {
        for (token, problem) in [
            ("count=1000", "unknown option"),
            ("text", "expected key=value, got"),
            ("mode=all", "mode must be annotate, filter or risk, got"),
            ("rule=", "empty value in option"),
            ("=x", "missing option name in"),
        ] {
            let err = CommandOptions::parse(&[token]).unwrap_err();
            assert_eq!(err.problem, problem, "{token}");
            let text = err.to_string();
            assert!(
                text.contains(token) && text.contains(VALID_OPTIONS),
                "{text}"
            );
        }
        let err = CommandOptions::parse(&["mode=filter", "mode=risk"]).unwrap_err();
        assert_eq!(err.problem, "mode given twice, second time as");
    }
}
