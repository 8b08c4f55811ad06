//! Maps a byte offset of the macro-expanded search (where the compiler's facts point) back to
//! what the author wrote: a byte of the detection's own `search`, or a macro call in it. A
//! Sigma rule's facts point into the rule file itself: their place is its line.
//!
//! The expander copies the text between top-level macro calls verbatim and replaces each call
//! by its expansion, which depends on the call alone; so expanding each top-level call on its
//! own gives the length it takes in the expanded search.

use std::fmt;

use super::super::macros::MacroTable;

/// Where a byte of the expanded search came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// Byte `byte` of the detection's `search` text.
    Search { byte: usize },
    /// Inside the expansion of the macro call `call` written at byte `byte` of `search`.
    Macro { call: String, byte: usize },
    /// Line `line` (from 1) of a Sigma rule file.
    Line { line: usize },
}

impl Location {
    /// The line of byte `byte` of a rule file.
    pub fn line_of(text: &str, byte: usize) -> Location {
        let upto = text.get(..byte.min(text.len())).unwrap_or(text);
        Location::Line {
            line: 1 + upto.bytes().filter(|&b| b == b'\n').count(),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Search { byte } => write!(f, "byte {byte} of the search"),
            Location::Macro { call, byte } => {
                write!(f, "in macro `{call}` called at byte {byte} of the search")
            }
            Location::Line { line } => write!(f, "line {line}"),
        }
    }
}

/// A stretch of the expanded search and where it came from.
#[derive(Debug, Clone)]
struct Segment {
    expanded_start: usize,
    expanded_len: usize,
    search_start: usize,
    /// The macro call, for an expanded call; `None` for text copied verbatim.
    call: Option<String>,
}

/// The segments of one search.
#[derive(Debug, Clone, Default)]
pub struct PositionMap {
    segments: Vec<Segment>,
}

impl PositionMap {
    /// Builds the map of `search` expanded with `macros`. `None` when a call does not expand
    /// (the rule's own expansion failed too, and that is reported instead).
    pub fn build(search: &str, macros: &MacroTable) -> Option<PositionMap> {
        let mut segments = Vec::new();
        let (mut expanded_at, mut search_at) = (0usize, 0usize);
        let mut rest = search;
        while let Some(open) = rest.find('`') {
            let close = open + 1 + rest[open + 1..].find('`')?;
            if open > 0 {
                segments.push(Segment {
                    expanded_start: expanded_at,
                    expanded_len: open,
                    search_start: search_at,
                    call: None,
                });
                expanded_at += open;
            }
            let call_text = &rest[open..=close];
            let expansion = macros.expand(call_text).ok()?;
            segments.push(Segment {
                expanded_start: expanded_at,
                expanded_len: expansion.len(),
                search_start: search_at + open,
                call: Some(call_text.trim_matches('`').trim().to_string()),
            });
            expanded_at += expansion.len();
            search_at += close + 1;
            rest = &rest[close + 1..];
        }
        segments.push(Segment {
            expanded_start: expanded_at,
            expanded_len: rest.len(),
            search_start: search_at,
            call: None,
        });
        Some(PositionMap { segments })
    }

    /// Where byte `expanded` of the expanded search came from.
    pub fn locate(&self, expanded: usize) -> Location {
        let segment = self
            .segments
            .iter()
            .find(|s| expanded < s.expanded_start + s.expanded_len)
            .or(self.segments.last());
        match segment {
            Some(s) => match &s.call {
                None => Location::Search {
                    byte: s.search_start + expanded.saturating_sub(s.expanded_start),
                },
                Some(call) => Location::Macro {
                    call: call.clone(),
                    byte: s.search_start,
                },
            },
            None => Location::Search { byte: expanded },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::macros::Macro;
    use super::*;

    #[test]
    fn offsets_map_to_the_search_or_the_macro_call() {
        let mut macros = MacroTable::with_builtins();
        macros.insert(Macro {
            name: "process_netsh".into(),
            args: vec![],
            definition:
                "(Processes.process_name=netsh.exe OR Processes.original_file_name=netsh.exe)"
                    .into(),
        });
        let search = "| tstats count from datamodel=Endpoint.Processes where `process_netsh` Processes.proces=x by Processes.dest | `drop_dm_object_name(Processes)`";
        let expanded = macros.expand(search).unwrap();
        let map = PositionMap::build(search, &macros).unwrap();
        let in_search = expanded.find("Processes.proces=").unwrap();
        assert_eq!(
            map.locate(in_search),
            Location::Search {
                byte: search.find("Processes.proces=").unwrap()
            }
        );
        let in_macro = expanded.find("Processes.original_file_name").unwrap();
        assert_eq!(
            map.locate(in_macro),
            Location::Macro {
                call: "process_netsh".into(),
                byte: search.find('`').unwrap()
            }
        );
        let by = expanded.find("Processes.dest").unwrap();
        assert_eq!(
            map.locate(by),
            Location::Search {
                byte: search.find("Processes.dest").unwrap()
            }
        );
    }
}
