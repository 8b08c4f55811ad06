//! Splunk search-language value patterns: `*` matches any run of bytes, including none and
//! including newlines; everything else matches literally, ASCII case-insensitively.
//!
//! Patterns are stored lower-cased and matched against values the caller has already
//! lower-cased once per row, so matching never allocates; substring steps use
//! `memchr::memmem` finders built once at compile time.

use memchr::memmem::Finder;

/// A compiled wildcard pattern.
#[derive(Debug, Clone)]
pub struct Glob {
    kind: Kind,
    /// The pattern as written (for diagnostics).
    pub source: String,
}

#[derive(Debug, Clone)]
struct General {
    first: Vec<u8>,
    middles: Vec<Finder<'static>>,
    last: Vec<u8>,
}

#[derive(Debug, Clone)]
enum Kind {
    Any,
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
    Suffix(Vec<u8>),
    Contains(Box<Finder<'static>>),
    General(Box<General>),
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        let lower = pattern.as_bytes().to_ascii_lowercase();
        let parts: Vec<&[u8]> = lower.split(|&b| b == b'*').collect();
        let kind = if parts.len() == 1 {
            Kind::Exact(lower.clone())
        } else {
            let first = parts[0];
            let last = parts[parts.len() - 1];
            let middles: Vec<&[u8]> = parts[1..parts.len() - 1]
                .iter()
                .copied()
                .filter(|p| !p.is_empty())
                .collect();
            match (first.is_empty(), middles.len(), last.is_empty()) {
                (true, 0, true) => Kind::Any,
                (false, 0, true) => Kind::Prefix(first.to_vec()),
                (true, 0, false) => Kind::Suffix(last.to_vec()),
                (true, 1, true) => Kind::Contains(Box::new(Finder::new(middles[0]).into_owned())),
                _ => Kind::General(Box::new(General {
                    first: first.to_vec(),
                    middles: middles
                        .iter()
                        .map(|m| Finder::new(m).into_owned())
                        .collect(),
                    last: last.to_vec(),
                })),
            }
        };
        Glob {
            kind,
            source: pattern.to_string(),
        }
    }

    /// The lower-cased value if the pattern has no wildcard (matches exactly one value).
    pub fn exact(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Exact(e) => Some(e),
            _ => None,
        }
    }

    /// Matches an already lower-cased value.
    pub fn matches_folded(&self, v: &[u8]) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Exact(e) => v == e.as_slice(),
            Kind::Prefix(p) => v.starts_with(p),
            Kind::Suffix(s) => v.ends_with(s),
            Kind::Contains(f) => f.find(v).is_some(),
            Kind::General(g) => {
                let General {
                    first,
                    middles,
                    last,
                } = g.as_ref();
                if v.len() < first.len() + last.len() || !v.starts_with(first) || !v.ends_with(last)
                {
                    return false;
                }
                let mut rest = &v[first.len()..v.len() - last.len()];
                for m in middles {
                    match m.find(rest) {
                        Some(at) => rest = &rest[at + m.needle().len()..],
                        None => return false,
                    }
                }
                true
            }
        }
    }

    /// Every literal piece a matching value must contain (lower-cased, non-empty): the whole
    /// value for an exact pattern, else the parts between wildcards.
    pub fn required_pieces(&self) -> Vec<&[u8]> {
        let pieces: Vec<&[u8]> = match &self.kind {
            Kind::Any => Vec::new(),
            Kind::Exact(e) => vec![e],
            Kind::Prefix(p) => vec![p],
            Kind::Suffix(s) => vec![s],
            Kind::Contains(f) => vec![f.needle()],
            Kind::General(g) => std::iter::once(g.first.as_slice())
                .chain(g.middles.iter().map(Finder::needle))
                .chain(std::iter::once(g.last.as_slice()))
                .collect(),
        };
        pieces.into_iter().filter(|p| !p.is_empty()).collect()
    }

    /// The longest literal every matching value must contain (lower-cased), for prefilters.
    pub fn required_literal(&self) -> Option<&[u8]> {
        let lit: &[u8] = match &self.kind {
            Kind::Any => return None,
            Kind::Exact(e) => e,
            Kind::Prefix(p) => p,
            Kind::Suffix(s) => s,
            Kind::Contains(f) => f.needle(),
            Kind::General(g) => {
                let General {
                    first,
                    middles,
                    last,
                } = g.as_ref();
                let mut best: &[u8] = first;
                for m in middles {
                    if m.needle().len() > best.len() {
                        best = m.needle();
                    }
                }
                if last.len() > best.len() {
                    best = last;
                }
                best
            }
        };
        (!lit.is_empty()).then_some(lit)
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, v: &str) -> bool {
        Glob::new(p).matches_folded(v.to_ascii_lowercase().as_bytes())
    }

    #[test]
    fn splunk_wildcards() {
        assert!(m("*-a*", "netstat -a"));
        assert!(m("*-a*", "netstat -ano"));
        assert!(!m("*-a*", "netstat -na"));
        assert!(!m("*-a*", "netstat -nao"));
        assert!(m("* portproxy *", "netsh interface portproxy add"));
        assert!(!m("* portproxy *", "netsh interface portproxy"));
        assert!(!m("* portproxy *", "portproxy add"));
        assert!(m("netsh.exe", "NETSH.EXE"));
        assert!(!m("netsh.exe", "netsh.exe "));
        assert!(m("a*b*c", "abc"));
        assert!(m("a*b*c", "a-x-b-y-c"));
        assert!(!m("a*b*c", "ac"));
        assert!(!m("ab*ba", "aba"));
        assert!(m("*", ""));
        assert!(m("**x**", "x"));
        assert!(m("*a*b*", "line1 a\nline2 b"));
    }
}
