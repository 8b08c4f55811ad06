//! Splunk search-language value patterns: `*` matches any run of bytes, including none and
//! including newlines; everything else matches literally, ASCII case-insensitively.
//!
//! Patterns are stored lower-cased and matched against values the caller has already
//! lower-cased once per row, so matching never allocates; substring steps use
//! `memchr::memmem` finders built once at compile time.

use std::sync::OnceLock;

use aho_corasick::packed::Searcher;
use memchr::memmem::Finder;

/// Where a literal sits in a field value that holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Place {
    /// It is the whole value.
    Whole,
    /// The value starts with it.
    Start,
    /// The value ends with it.
    End,
    /// Anywhere in the value.
    Anywhere,
}

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

/// One piece of a pattern given to [`Glob::from_parts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobPart {
    /// Bytes matched literally (ASCII case-insensitively).
    Lit(Vec<u8>),
    /// Any run of bytes, including none and newlines.
    Star,
    /// Exactly one character: one UTF-8 sequence (one byte where the value is not UTF-8).
    AnyChar,
    /// Exactly one of these alternatives, each one character (a UTF-8 sequence, or a fixed
    /// unit such as a UTF-16 code unit), so at most one of them matches at a position.
    Class(Vec<Vec<u8>>),
}

/// A pattern with single-character tokens: the token runs between `*`s. The first run is
/// anchored at the start and the last at the end (either may be empty).
#[derive(Debug, Clone)]
struct Tokens {
    segments: Vec<Vec<Token>>,
}

#[derive(Debug, Clone)]
enum Token {
    Lit(Vec<u8>),
    AnyChar,
    Class(Vec<Vec<u8>>),
}

/// Length of the character starting at `at`: a whole UTF-8 sequence when one starts there,
/// else one byte.
fn char_len(v: &[u8], at: usize) -> usize {
    let width = match v[at] {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    };
    let whole = at + width <= v.len()
        && v[at + 1..at + width].iter().all(|b| b & 0xC0 == 0x80)
        && std::str::from_utf8(&v[at..at + width]).is_ok();
    if whole {
        width
    } else {
        1
    }
}

/// A UTF-8 continuation byte: no character starts there.
fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

impl Tokens {
    /// Where `segment` ends when matched at `at`, if it matches there. Each token matches at
    /// most one length at a position, so the end is unique.
    fn end_of(segment: &[Token], v: &[u8], mut at: usize) -> Option<usize> {
        for token in segment {
            match token {
                Token::Lit(l) => {
                    if !v[at..].starts_with(l) {
                        return None;
                    }
                    at += l.len();
                }
                Token::AnyChar => {
                    if at >= v.len() {
                        return None;
                    }
                    at += char_len(v, at);
                }
                Token::Class(alternatives) => {
                    let alt = alternatives.iter().find(|a| v[at..].starts_with(a))?;
                    at += alt.len();
                }
            }
        }
        Some(at)
    }

    /// The first start at or after `from` (where a character starts) where `segment` matches,
    /// and its end.
    /// Candidate starts are found by the first token: a literal by `memmem`, a class by its
    /// alternatives' first bytes.
    fn find(segment: &[Token], v: &[u8], from: usize) -> Option<(usize, usize)> {
        let mut at = from;
        while at <= v.len() {
            let candidate = match segment.first() {
                Some(Token::Lit(l)) => at + memchr::memmem::find(&v[at..], l)?,
                Some(Token::Class(alts)) => {
                    at + v[at..]
                        .iter()
                        .position(|b| alts.iter().any(|a| a.first() == Some(b)))?
                }
                _ => at,
            };
            let starts_char = candidate == v.len() || !is_continuation(v[candidate]);
            if starts_char || candidate == from {
                if let Some(end) = Self::end_of(segment, v, candidate) {
                    return Some((candidate, end));
                }
            }
            at = candidate + 1;
        }
        None
    }

    /// Runs between stars consume a fixed number of characters, so matching each middle run
    /// at its leftmost place leaves the most room for the rest.
    fn matches(&self, v: &[u8]) -> bool {
        let segments = &self.segments;
        let Some((first, rest)) = segments.split_first() else {
            return v.is_empty();
        };
        let Some(mut at) = Self::end_of(first, v, 0) else {
            return false;
        };
        let Some((last, middles)) = rest.split_last() else {
            return at == v.len();
        };
        for segment in middles {
            match Self::find(segment, v, at) {
                Some((_, end)) => at = end,
                None => return false,
            }
        }
        (at..=v.len())
            .filter(|&start| start == v.len() || !is_continuation(v[start]))
            .any(|start| Self::end_of(last, v, start) == Some(v.len()))
    }

    /// The literal tokens: every matching value contains each of them.
    fn literals(&self) -> impl Iterator<Item = &[u8]> {
        self.segments.iter().flatten().filter_map(|t| match t {
            Token::Lit(l) => Some(l.as_slice()),
            _ => None,
        })
    }

    fn longest_literal(&self) -> Option<&[u8]> {
        self.literals().max_by_key(|l| l.len())
    }
}

#[derive(Debug, Clone)]
enum Kind {
    Any,
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
    Suffix(Vec<u8>),
    Contains(Box<Finder<'static>>),
    General(Box<General>),
    /// Patterns with single-character wildcards or character classes ([`Glob::from_parts`]).
    Tokens(Box<Tokens>),
}

impl Kind {
    /// The kind of a pattern given as the (lower-cased) literals between its `*`s.
    fn from_star_split(parts: &[&[u8]]) -> Kind {
        if parts.len() == 1 {
            return Kind::Exact(parts[0].to_vec());
        }
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
    }
}

/// For parts of literals and stars only, the lower-cased literals between the stars, as
/// [`Glob::from_parts`]'s segments give them (consecutive stars are one, but for a leading
/// one): built at once, without a token per literal. `None` for any other part.
fn star_split_parts(parts: &[GlobPart]) -> Option<Vec<Vec<u8>>> {
    let mut literals: Vec<Vec<u8>> = vec![Vec::new()];
    for part in parts {
        let first = literals.len() == 1;
        let last = literals.last_mut()?;
        match part {
            GlobPart::Star if !last.is_empty() || first => literals.push(Vec::new()),
            GlobPart::Star => {}
            GlobPart::Lit(bytes) => last.extend(bytes.iter().map(u8::to_ascii_lowercase)),
            GlobPart::AnyChar | GlobPart::Class(_) => return None,
        }
    }
    Some(literals)
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        let lower = pattern.as_bytes().to_ascii_lowercase();
        let parts: Vec<&[u8]> = lower.split(|&b| b == b'*').collect();
        Glob {
            kind: Kind::from_star_split(&parts),
            source: pattern.to_string(),
        }
    }

    /// A pattern built from parts rather than parsed from SPL text, so a literal may hold `*`
    /// and the pattern may hold single-character wildcards and character classes (Sigma
    /// values). Literals and class alternatives are matched ASCII case-insensitively, like
    /// [`Glob::new`]'s; a pattern of literals and stars only compiles to the same kinds as
    /// the SPL pattern would, so prefilters and `IN` merging treat both alike.
    pub fn from_parts(parts: &[GlobPart], source: &str) -> Glob {
        if let Some(literals) = star_split_parts(parts) {
            let parts: Vec<&[u8]> = literals.iter().map(Vec::as_slice).collect();
            return Glob {
                kind: Kind::from_star_split(&parts),
                source: source.to_string(),
            };
        }
        Glob::from_tokens(parts, source)
    }

    /// [`Glob::from_parts`] through a token list per segment (what any part needs).
    fn from_tokens(parts: &[GlobPart], source: &str) -> Glob {
        let mut segments: Vec<Vec<Token>> = vec![Vec::new()];
        for part in parts {
            let segment = segments.last_mut().expect("segments is never empty");
            match part {
                GlobPart::Star => {
                    if !segment.is_empty() || segments.len() == 1 {
                        segments.push(Vec::new());
                    }
                }
                GlobPart::Lit(bytes) => match segment.last_mut() {
                    Some(Token::Lit(prev)) => prev.extend(bytes.to_ascii_lowercase()),
                    _ if bytes.is_empty() => {}
                    _ => segment.push(Token::Lit(bytes.to_ascii_lowercase())),
                },
                GlobPart::AnyChar => segment.push(Token::AnyChar),
                GlobPart::Class(alternatives) => {
                    let mut alts: Vec<Vec<u8>> = alternatives
                        .iter()
                        .map(|a| a.to_ascii_lowercase())
                        .collect();
                    alts.sort();
                    alts.dedup();
                    segment.push(Token::Class(alts));
                }
            }
        }
        let plain = segments
            .iter()
            .flatten()
            .all(|t| matches!(t, Token::Lit(_)));
        let kind = if plain {
            let literals: Vec<Vec<u8>> = segments
                .iter()
                .map(|s| match s.first() {
                    Some(Token::Lit(l)) => l.clone(),
                    _ => Vec::new(),
                })
                .collect();
            let parts: Vec<&[u8]> = literals.iter().map(Vec::as_slice).collect();
            Kind::from_star_split(&parts)
        } else {
            Kind::Tokens(Box::new(Tokens { segments }))
        };
        Glob {
            kind,
            source: source.to_string(),
        }
    }

    /// The lower-cased value if the pattern has no wildcard (matches exactly one value).
    pub fn exact(&self) -> Option<&[u8]> {
        match &self.kind {
            Kind::Exact(e) => Some(e),
            _ => None,
        }
    }

    /// The part a value holds, in its place, exactly when the pattern matches it (no wildcard,
    /// one at an end, or one at each end): what lets the literal index tell from its marks
    /// that `NOT field=pattern` fails. `None` for other patterns.
    pub fn sole_part(&self) -> Option<(Place, &[u8])> {
        match &self.kind {
            Kind::Exact(e) => Some((Place::Whole, e)),
            Kind::Prefix(p) => Some((Place::Start, p)),
            Kind::Suffix(s) => Some((Place::End, s)),
            Kind::Contains(f) => Some((Place::Anywhere, f.needle())),
            _ => None,
        }
    }

    /// Whether [`Glob::matches_unfolded`] can decide: no wildcard, or only at the ends.
    pub fn matches_in_place(&self) -> bool {
        matches!(
            self.kind,
            Kind::Any | Kind::Exact(_) | Kind::Prefix(_) | Kind::Suffix(_)
        )
    }

    /// Matches a value as the row holds it, comparing ASCII case-insensitively in place, for
    /// the kinds [`Glob::matches_in_place`] names (`false` for the others): a test such as
    /// `process!=unknown` then needs no lower-cased copy of a long field.
    #[inline]
    pub fn matches_unfolded(&self, v: &[u8]) -> bool {
        match &self.kind {
            Kind::Any => true,
            Kind::Exact(e) => v.eq_ignore_ascii_case(e),
            Kind::Prefix(p) => v.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)),
            Kind::Suffix(s) => v
                .len()
                .checked_sub(s.len())
                .is_some_and(|at| v[at..].eq_ignore_ascii_case(s)),
            _ => false,
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
            Kind::Tokens(t) => t.matches(v),
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

    /// Every literal part a matching value must contain (lower-cased, non-empty), with where
    /// it must sit: the whole value for an exact pattern, the parts before the first and after
    /// the last `*` at the value's start and end, the parts between wildcards anywhere.
    /// Patterns with single-character tokens give their literal tokens as `Anywhere` parts.
    pub fn required_parts(&self) -> Vec<(Place, &[u8])> {
        let parts: Vec<(Place, &[u8])> = match &self.kind {
            Kind::Any => Vec::new(),
            Kind::Exact(e) => vec![(Place::Whole, e)],
            Kind::Prefix(p) => vec![(Place::Start, p)],
            Kind::Suffix(s) => vec![(Place::End, s)],
            Kind::Contains(f) => vec![(Place::Anywhere, f.needle())],
            Kind::Tokens(t) => t.literals().map(|l| (Place::Anywhere, l)).collect(),
            Kind::General(g) => std::iter::once((Place::Start, g.first.as_slice()))
                .chain(g.middles.iter().map(|m| (Place::Anywhere, m.needle())))
                .chain(std::iter::once((Place::End, g.last.as_slice())))
                .collect(),
        };
        parts.into_iter().filter(|(_, p)| !p.is_empty()).collect()
    }

    /// The longest literal every matching value must contain (lower-cased), for prefilters.
    pub fn required_literal(&self) -> Option<&[u8]> {
        let lit: &[u8] = match &self.kind {
            Kind::Any => return None,
            Kind::Exact(e) => e,
            Kind::Prefix(p) => p,
            Kind::Suffix(s) => s,
            Kind::Contains(f) => f.needle(),
            Kind::Tokens(t) => t.longest_literal()?,
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

/// Patterns OR-ed on one field ([`Cond::AnyGlob`](super::expr::Cond::AnyGlob)'s): read as a
/// slice of [`Glob`]s, matched at once. `*x*` patterns (Sigma's `contains` lists, ESCU's
/// `process IN ("*.key*", "*.pem*", ...)`) are searched together by one multi-pattern
/// search once there are [`MIN_PIECES`] of them, built on the first match; the others are
/// matched one by one. The search is aho-corasick's packed (Teddy, SIMD) searcher: on the
/// benchmark's command lines it tells ESCU's 15 key-file extensions apart in 43 ns, where a
/// `memmem` each took 202 and aho-corasick's automaton with its own prefilter 58 (800 for
/// the 10 pieces of "Windows Password Managers Discovery", whose `pass` most values hold).
#[derive(Debug, Clone, Default)]
pub struct Globs {
    all: Vec<Glob>,
    split: OnceLock<Split>,
}

/// [`Globs`] as matched: the pieces' search, and the patterns it does not cover.
#[derive(Debug, Clone)]
struct Split {
    pieces: Option<Searcher>,
    others: Vec<Glob>,
}

/// Fewer `*x*` patterns than this are searched one by one: a `memmem` each costs less than
/// the multi-pattern search's start.
const MIN_PIECES: usize = 3;

impl Globs {
    /// Whether some pattern matches the lower-cased value `v`: exactly
    /// `self.iter().any(|g| g.matches_folded(v))`.
    #[inline]
    pub fn any_matches_folded(&self, v: &[u8]) -> bool {
        let split = self.split.get_or_init(|| Split::new(&self.all));
        split.pieces.as_ref().is_some_and(|p| p.find(v).is_some())
            || split.others.iter().any(|g| g.matches_folded(v))
    }

    pub fn into_vec(self) -> Vec<Glob> {
        self.all
    }
}

impl Split {
    fn new(all: &[Glob]) -> Split {
        let piece = |g: &Glob| match g.kind {
            Kind::Contains(ref f) => Some(f.needle().to_vec()),
            _ => None,
        };
        let pieces: Vec<Vec<u8>> = all.iter().filter_map(piece).collect();
        // `None` without SIMD or past the packed search's pattern limit: one by one then.
        let search = (pieces.len() >= MIN_PIECES)
            .then(|| Searcher::new(&pieces))
            .flatten();
        let others = all
            .iter()
            .filter(|g| search.is_none() || piece(g).is_none())
            .cloned()
            .collect();
        Split {
            pieces: search,
            others,
        }
    }
}

impl From<Vec<Glob>> for Globs {
    fn from(all: Vec<Glob>) -> Globs {
        Globs {
            all,
            split: OnceLock::new(),
        }
    }
}

impl Extend<Glob> for Globs {
    fn extend<I: IntoIterator<Item = Glob>>(&mut self, globs: I) {
        self.all.extend(globs);
        self.split = OnceLock::new();
    }
}

impl std::ops::Deref for Globs {
    type Target = [Glob];

    fn deref(&self) -> &[Glob] {
        &self.all
    }
}

#[cfg(test)]
mod tests {
    use super::{Glob, GlobPart};
    use crate::test_strings::random_picks;

    /// Parts of literals and stars take the short way; it must build the glob the token
    /// list builds.
    #[test]
    fn literal_and_star_parts_build_what_the_token_list_builds() {
        let pieces = [
            GlobPart::Star,
            GlobPart::Lit(b"Ab".to_vec()),
            GlobPart::Lit(Vec::new()),
            GlobPart::Lit(b"*X".to_vec()),
            GlobPart::Lit("\u{c9}t\u{e9}".as_bytes().to_vec()),
        ];
        for picks in random_picks(0x853C_49E6_748F_EA9B, 5_000, 7, pieces.len()) {
            let parts: Vec<GlobPart> = picks.iter().map(|&p| pieces[p].clone()).collect();
            let short = Glob::from_parts(&parts, "s");
            let tokens = Glob::from_tokens(&parts, "s");
            assert_eq!(format!("{short:?}"), format!("{tokens:?}"), "{parts:?}");
        }
    }

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

    /// Patterns with wildcards only at their ends match a value in place exactly as they
    /// match its lower-cased copy.
    #[test]
    fn matching_in_place_agrees_with_matching_folded() {
        let patterns = [
            "*",
            "cmd.exe",
            "CMD.EXE",
            "c:\\windows\\*",
            "*.exe",
            "*\\Rundll32.exe",
            "é.exe",
            "*-a*",
            "a*b",
            "",
        ];
        let values = [
            "cmd.exe",
            "CMD.exe",
            "cmd.exe ",
            "C:\\Windows\\x.EXE",
            "c:\\windows\\",
            ".exe",
            "É.exe",
            "é.EXE",
            "x\\RUNDLL32.EXE",
            "netstat -a",
            "",
            "a",
            "AB",
        ];
        let mut in_place = 0;
        for pattern in patterns {
            let glob = Glob::new(pattern);
            if !glob.matches_in_place() {
                continue;
            }
            in_place += 1;
            for value in values {
                let folded = value.as_bytes().to_ascii_lowercase();
                assert_eq!(
                    glob.matches_unfolded(value.as_bytes()),
                    glob.matches_folded(&folded),
                    "{pattern} {value}"
                );
            }
        }
        assert_eq!(in_place, 8);
    }

    fn parts(text: &str) -> Vec<super::GlobPart> {
        use super::GlobPart;
        text.chars()
            .map(|c| match c {
                '*' => GlobPart::Star,
                '?' => GlobPart::AnyChar,
                '#' => GlobPart::Class(vec![
                    b"-".to_vec(),
                    b"/".to_vec(),
                    "\u{2013}".as_bytes().to_vec(),
                ]),
                '%' => GlobPart::Lit(b"*".to_vec()),
                c => GlobPart::Lit(c.to_string().into_bytes()),
            })
            .collect()
    }

    fn p(pattern: &str, v: &str) -> bool {
        Glob::from_parts(&parts(pattern), pattern).matches_folded(v.to_ascii_lowercase().as_bytes())
    }

    /// `from_parts`: `?` is one character, a class one of its alternatives, a literal `*`
    /// plain; literal-and-star patterns get the same kinds as SPL patterns.
    #[test]
    fn patterns_from_parts() {
        assert!(p("a?c", "abc") && p("a?c", "aéc") && !p("a?c", "ac") && !p("a?c", "abbc"));
        assert!(p("*#x*", "run -X now") && p("*#x*", "run /x") && p("*#x*", "run \u{2013}x"));
        assert!(!p("*#x*", "run _x") && !p("*#x*", "run x"));
        assert!(p("a%b", "a*b") && !p("a%b", "axb"));
        assert!(p("*?", "x") && !p("*?", "") && p("??", "éé") && !p("??", "é"));
        assert!(p("#*#", "-/") && p("#*#", "--") && !p("#*#", "-"));
        assert!(p("*a#b*c?", "xxa-b a/bcz") && !p("*a#b*c?", "xxa-bc") && !p("*a#b*c?", "xxab cz"));
        let plain = Glob::from_parts(&parts("netsh.exe"), "x");
        assert_eq!(plain.exact(), Some(b"netsh.exe".as_slice()));
        let contains = Glob::from_parts(&parts("*portproxy*"), "x");
        assert_eq!(contains.required_literal(), Some(b"portproxy".as_slice()));
        let tokens = Glob::from_parts(&parts("*a#longer*"), "x");
        assert_eq!(tokens.required_literal(), Some(b"longer".as_slice()));
    }
}
