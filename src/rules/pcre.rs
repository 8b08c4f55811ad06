//! Splunk's `regex`, `rex`, `match()` and `replace()` use PCRE. Patterns compile with the
//! linear-time `regex` crate when they can; patterns that need PCRE-only constructs
//! (look-ahead/look-behind, back-references) fall back to `fancy-regex`, a backtracking
//! engine layered on the same crate, so ESCU rules using them still compile natively.

use std::borrow::Cow;

use regex::bytes::{Regex, RegexBuilder};

use super::error::SplError;

/// A compiled PCRE-style pattern.
#[derive(Debug, Clone)]
pub enum Pcre {
    Linear(Regex),
    Backtracking(fancy_regex::Regex),
}

impl Pcre {
    /// Compiles `pattern`; `position` locates it in the expanded search for errors.
    pub fn new(pattern: &str, position: usize) -> Result<Pcre, SplError> {
        match RegexBuilder::new(pattern).size_limit(1 << 22).build() {
            Ok(re) => Ok(Pcre::Linear(re)),
            Err(linear_err) => fancy_regex::RegexBuilder::new(pattern)
                .backtrack_limit(1_000_000)
                .build()
                .map(Pcre::Backtracking)
                .map_err(|e| {
                    let detail = linear_err
                        .to_string()
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .to_string();
                    SplError::unsupported(
                        format!("regex {pattern}"),
                        position,
                        format!("invalid or unsupported pattern: {detail}; {e}"),
                    )
                }),
        }
    }

    /// True if the pattern matches anywhere in `v`. A backtracking pattern that exceeds its
    /// step limit counts as no match.
    pub fn is_match(&self, v: &[u8]) -> bool {
        match self {
            Pcre::Linear(re) => re.is_match(v),
            Pcre::Backtracking(re) => re.is_match(&String::from_utf8_lossy(v)).unwrap_or(false),
        }
    }

    /// Names of the named capture groups.
    pub fn group_names(&self) -> Vec<String> {
        match self {
            Pcre::Linear(re) => re.capture_names().flatten().map(str::to_string).collect(),
            Pcre::Backtracking(re) => re.capture_names().flatten().map(str::to_string).collect(),
        }
    }

    /// The text of named group `name` in the first match.
    pub fn capture(&self, v: &[u8], name: &str) -> Option<Vec<u8>> {
        match self {
            Pcre::Linear(re) => re
                .captures(v)
                .and_then(|c| c.name(name))
                .map(|m| m.as_bytes().to_vec()),
            Pcre::Backtracking(re) => {
                let s = String::from_utf8_lossy(v);
                re.captures(&s)
                    .ok()
                    .flatten()
                    .and_then(|c| c.name(name).map(|m| m.as_str().as_bytes().to_vec()))
            }
        }
    }

    /// Replaces every match (`${1}` style group references).
    pub fn replace_all(&self, v: &[u8], rep: &[u8]) -> Vec<u8> {
        match self {
            Pcre::Linear(re) => re.replace_all(v, rep).into_owned(),
            Pcre::Backtracking(re) => {
                let s = String::from_utf8_lossy(v);
                let r = String::from_utf8_lossy(rep);
                let out: Cow<str> = re.replace_all(&s, r.as_ref());
                out.into_owned().into_bytes()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pcre;

    #[test]
    fn lookahead_falls_back_to_backtracking() {
        let re = Pcre::new(r"(\b)\w+(\.\w+)?:\w+(\.\w{2,4})(?!\.)(\b|\s|&)", 0).unwrap();
        assert!(matches!(re, Pcre::Backtracking(_)));
        assert!(re.is_match(b"type c:\\temp\\a.txt:evil.exe"));
        assert!(!re.is_match(b"cmd /c echo hello"));
        assert!(matches!(Pcre::new("a.b", 0).unwrap(), Pcre::Linear(_)));
        assert!(Pcre::new("(unclosed", 7).is_err());
    }
}
