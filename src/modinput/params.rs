//! The stanza's parameters as typed values, and the checks `--validate-arguments` runs.
//!
//! Syntax (numbers in range, booleans, known format, regexes) is checked by
//! [`Params::from_stanza`]; the filesystem (path exists and is readable) by [`check_path`].
//! Run mode uses the first only, so an input whose directory does not exist yet keeps waiting
//! for it instead of failing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;

use super::config::Stanza;
use super::source::FormatChoice;

/// The sourcetype events get when the stanza does not set one (see default/props.conf).
pub const DEFAULT_SOURCETYPE: &str = "netdiscover:process";
pub const DEFAULT_BATCH_SIZE: usize = 500;
pub const BATCH_SIZE_RANGE: (usize, usize) = (1, 100_000);
pub const DEFAULT_POLL_SECONDS: f64 = 1.0;
pub const POLL_SECONDS_RANGE: (f64, f64) = (0.01, 3600.0);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParamError {
    #[error("parameter {name} is required")]
    Missing { name: &'static str },
    #[error("parameter {name} = {value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

/// What one stanza asks the input to do.
#[derive(Debug, Clone)]
pub struct Params {
    pub path: String,
    pub format: FormatChoice,
    pub recursive: bool,
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    pub annotate: bool,
    pub batch_size: usize,
    pub poll_interval: Duration,
    /// splunkd's own `index` setting; written into each event when present.
    pub index: Option<String>,
    pub sourcetype: String,
}

impl Params {
    pub fn from_stanza(stanza: &Stanza) -> Result<Params, ParamError> {
        let value = |name: &str| stanza.param(name).map(str::trim).filter(|v| !v.is_empty());
        let path = value("path")
            .ok_or(ParamError::Missing { name: "path" })?
            .to_string();
        let format = match value("format") {
            None => FormatChoice::Auto,
            Some(name) => FormatChoice::parse(name).ok_or_else(|| ParamError::Invalid {
                name: "format",
                value: name.to_string(),
                reason: format!(
                    "unknown format; known formats: auto, {}",
                    FormatChoice::names().join(", ")
                ),
            })?,
        };
        let regex = |name: &'static str| -> Result<Option<Regex>, ParamError> {
            value(name)
                .map(|pattern| {
                    Regex::new(pattern).map_err(|e| ParamError::Invalid {
                        name,
                        value: pattern.to_string(),
                        reason: format!("not a valid regular expression: {e}"),
                    })
                })
                .transpose()
        };
        let batch_size = match value("batch_size") {
            None => DEFAULT_BATCH_SIZE,
            Some(text) => parse_integer("batch_size", text, BATCH_SIZE_RANGE)?,
        };
        let poll_seconds = match value("poll_interval") {
            None => DEFAULT_POLL_SECONDS,
            Some(text) => parse_seconds("poll_interval", text, POLL_SECONDS_RANGE)?,
        };
        Ok(Params {
            path,
            format,
            recursive: parse_bool_param("recursive", value("recursive"), true)?,
            include: regex("include")?,
            exclude: regex("exclude")?,
            annotate: parse_bool_param("annotate", value("annotate"), false)?,
            batch_size,
            poll_interval: Duration::from_secs_f64(poll_seconds),
            index: value("index").map(str::to_string),
            sourcetype: value("sourcetype")
                .unwrap_or(DEFAULT_SOURCETYPE)
                .to_string(),
        })
    }
}

/// Splunk's boolean spellings (inputs.conf.spec: `1/0, true/false, t/f, yes/no, y/n`).
fn parse_bool_param(
    name: &'static str,
    value: Option<&str>,
    default: bool,
) -> Result<bool, ParamError> {
    let Some(text) = value else {
        return Ok(default);
    };
    match text.to_ascii_lowercase().as_str() {
        "1" | "true" | "t" | "yes" | "y" | "on" => Ok(true),
        "0" | "false" | "f" | "no" | "n" | "off" => Ok(false),
        _ => Err(ParamError::Invalid {
            name,
            value: text.to_string(),
            reason: "expected a boolean (true/false, 1/0, yes/no)".into(),
        }),
    }
}

fn parse_integer(
    name: &'static str,
    text: &str,
    (min, max): (usize, usize),
) -> Result<usize, ParamError> {
    let invalid = |reason: String| ParamError::Invalid {
        name,
        value: text.to_string(),
        reason,
    };
    let n: usize = text
        .parse()
        .map_err(|_| invalid("expected a whole number".into()))?;
    if n < min || n > max {
        return Err(invalid(format!("must be between {min} and {max}")));
    }
    Ok(n)
}

fn parse_seconds(
    name: &'static str,
    text: &str,
    (min, max): (f64, f64),
) -> Result<f64, ParamError> {
    let invalid = |reason: String| ParamError::Invalid {
        name,
        value: text.to_string(),
        reason,
    };
    let n: f64 = text
        .parse()
        .map_err(|_| invalid("expected a number of seconds".into()))?;
    if !n.is_finite() || n < min || n > max {
        return Err(invalid(format!("must be between {min} and {max} seconds")));
    }
    Ok(n)
}

/// True when `path` is a glob pattern rather than a literal path.
pub fn is_glob(path: &str) -> bool {
    path.contains(['*', '?', '['])
}

/// The longest leading part of a glob pattern without metacharacters: the directory that has
/// to exist for the pattern to ever match.
pub fn glob_base(pattern: &str) -> PathBuf {
    let mut base = PathBuf::new();
    for component in Path::new(pattern).components() {
        let text = component.as_os_str().to_string_lossy();
        if is_glob(&text) {
            break;
        }
        base.push(component);
    }
    if base.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        base
    }
}

/// Checks that the configured path can be read: a file opens, a directory lists, a glob is
/// well-formed and its fixed leading directory lists.
pub fn check_path(path: &str) -> Result<(), ParamError> {
    let invalid = |reason: String| ParamError::Invalid {
        name: "path",
        value: path.to_string(),
        reason,
    };
    if is_glob(path) {
        glob::Pattern::new(path).map_err(|e| invalid(format!("not a valid glob pattern: {e}")))?;
        let base = glob_base(path);
        std::fs::read_dir(&base).map_err(|e| {
            invalid(format!(
                "the pattern's directory {} cannot be listed: {e}",
                base.display()
            ))
        })?;
        return Ok(());
    }
    let meta = std::fs::metadata(path).map_err(|e| invalid(format!("cannot be read: {e}")))?;
    if meta.is_dir() {
        std::fs::read_dir(path).map_err(|e| invalid(format!("directory cannot be listed: {e}")))?;
    } else {
        std::fs::File::open(path).map_err(|e| invalid(format!("file cannot be opened: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza(params: &[(&str, &str)]) -> Stanza {
        Stanza {
            name: "netdiscover_input://t".into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), vec![v.to_string()]))
                .collect(),
        }
    }

    #[test]
    fn defaults_apply() {
        let p = Params::from_stanza(&stanza(&[("path", "/x")])).unwrap();
        assert_eq!(p.batch_size, DEFAULT_BATCH_SIZE);
        assert!(p.recursive && !p.annotate);
        assert_eq!(p.sourcetype, DEFAULT_SOURCETYPE);
        assert_eq!(p.format, FormatChoice::Auto);
    }

    #[test]
    fn out_of_range_and_malformed_values_are_named() {
        for (name, value) in [
            ("batch_size", "0"),
            ("batch_size", "100001"),
            ("batch_size", "ten"),
            ("poll_interval", "0"),
            ("poll_interval", "NaN"),
            ("recursive", "maybe"),
            ("include", "(unclosed"),
            ("format", "pdf"),
        ] {
            let err = Params::from_stanza(&stanza(&[("path", "/x"), (name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        assert_eq!(
            Params::from_stanza(&stanza(&[])).unwrap_err(),
            ParamError::Missing { name: "path" }
        );
    }

    #[test]
    fn glob_base_is_the_literal_prefix() {
        assert_eq!(glob_base("/a/b/*.xml"), PathBuf::from("/a/b"));
        assert_eq!(glob_base("/a/*/c/*.xml"), PathBuf::from("/a"));
        assert_eq!(glob_base("*.xml"), PathBuf::from("."));
    }
}
