//! A cheap "cannot match" test run before a PCRE pattern: the pattern rewritten, where it can
//! be, for the `regex` crate's automata so that it matches **every value PCRE matches, and
//! maybe more**. A value the rewrite does not match cannot match the pattern, so PCRE (a
//! backtracking matcher, tens of cycles per byte of a command line on patterns such as ESCU's
//! alternate-data-stream one) runs only on values the rewrite lets through. Verdicts, captures
//! and replacements stay PCRE's own.
//!
//! The rewrite reads values as bytes (the automaton stays small) and keeps or widens each
//! construct, never narrows one:
//! * literal characters, `\xHH` and escapes of punctuation stay themselves (as their UTF-8
//!   bytes);
//! * a PCRE character that may be non-ASCII (`.`, a negated class, `\D \S \W`) becomes "one
//!   ASCII byte it allows, or a run of non-ASCII bytes": a UTF-8 character is one of the two;
//! * `\d \s \w` and classes of ASCII characters and ranges become the ASCII byte classes PCRE
//!   gives them without UCP (`pcre` compiles so);
//! * assertions (`^ $ \b \B \A \z \Z \G`, look-ahead and look-behind groups) are dropped:
//!   without them a pattern only matches more;
//! * lazy (`*?`) and possessive (`*+`) quantifiers become greedy ones: whether *some* match
//!   exists does not depend on laziness, and possessiveness only removes matches;
//! * groups become non-capturing.
//!
//! Anything else (inline flags such as `(?i)`, back-references, `\Q..\E`, `\p{..}`, `\h`,
//! `\v`, `\R`, POSIX classes, non-ASCII characters in a class, verbs, recursion,
//! conditionals, a quantifier after a dropped assertion) gives no rewrite, and the pattern
//! runs on PCRE alone, as before. The rewrite runs on the lazy DFA alone: should its cache
//! thrash (it then gives up), the value counts as a possible match and PCRE decides.
//!
//! The lazy DFA walks a value at about 3 ns a byte (700 ns for a 236-byte command line it
//! does not match), several times what PCRE's own literal optimisations take on patterns
//! such as `rundll32.+\#\d+`. So when the rewrite is one sequence holding a rare literal
//! outside any quantifier (its *pivot*: `#` there, `:` in ESCU's alternate-data-stream
//! pattern), the pivot is looked for first (`memchr`, `memmem`) and the rest of the rewrite
//! from it on tried anchored at each occurrence; a value with no occurrence where it matches
//! is ruled out before the automaton runs (on the benchmark's command lines, 100 ns instead
//! of 700 for the alternate-data-stream pattern, a `memchr` for the ordinal one).

use std::fmt::Write;
use std::panic::{RefUnwindSafe, UnwindSafe};

use memchr::memmem::Finder;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::pool::Pool;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use crate::literals::commonness;

/// The rewrite of `pattern` (as PCRE reads it, without UCP, UTF mode, case-sensitive), or
/// `None` when it uses something the rewrite does not handle.
#[cfg(test)]
pub(crate) fn superset(pattern: &str) -> Option<String> {
    rewrite(pattern).map(|r| r.source)
}

/// A pattern's rewrite, and its pivot when it has one.
struct Rewrite {
    source: String,
    pivot: Option<Pivot>,
}

/// A literal every match of the rewrite holds at a known place: the rewrite is a sequence
/// whose items from `rest` on (in `source`) start with these bytes, so wherever the rewrite
/// matches, `rest` matches anchored at an occurrence of the bytes.
#[derive(Debug, PartialEq)]
struct Pivot {
    bytes: Vec<u8>,
    rest: String,
}

fn rewrite(pattern: &str) -> Option<Rewrite> {
    let mut reader = Reader {
        chars: pattern.chars().collect(),
        at: 0,
        out: String::with_capacity(pattern.len() * 4),
        top: Vec::new(),
        branches: false,
    };
    reader.alternation(0)?;
    if reader.at != reader.chars.len() {
        return None;
    }
    let pivot = reader.pivot();
    Some(Rewrite {
        source: reader.out,
        pivot,
    })
}

/// A compiled rewrite, with a cache per thread for its lazy DFAs.
pub(crate) struct Prefilter {
    dfa: DFA,
    gate: Option<Gate>,
    caches: Pool<Caches, CacheMaker>,
}

/// The test run before the rewrite's automaton when the rewrite has a [`Pivot`]: the pivot
/// found by `memchr`/`memmem`, and the rest of the rewrite tried anchored at each occurrence
/// (none: the pivot ends the rewrite, an occurrence is enough). A value without an
/// occurrence where the rest matches cannot match the rewrite: ESCU's `rundll32.+\#\d+` is
/// ruled out by one `memchr` for `#`, and `\w+(\.\w+)?:\w+(\.\w{2,4})...` by trying
/// `:\w+\.\w{2,4}` at each `:` instead of the automaton's walk over the whole command line.
#[derive(Clone)]
struct Gate {
    pivot: Needle,
    rest: Option<DFA>,
    /// The bytes after which, right after the pivot, the rest cannot match (`\\` after the
    /// `:` of `C:\\`): such an occurrence is passed over without running the automaton.
    dead_after: Option<Box<[bool; 256]>>,
}

#[derive(Clone)]
enum Needle {
    Byte(u8),
    Bytes(Box<Finder<'static>>),
}

struct Caches {
    whole: Cache,
    rest: Option<Cache>,
}

type CacheMaker = Box<dyn Fn() -> Caches + Send + Sync + UnwindSafe + RefUnwindSafe>;

/// The lazy DFA of a rewrite: bytes, no captures.
fn lazy_dfa(source: &str) -> Option<DFA> {
    DFA::builder()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .thompson(thompson::Config::new().which_captures(WhichCaptures::None))
        .configure(
            DFA::config()
                .minimum_cache_clear_count(Some(3))
                .minimum_bytes_per_state(Some(10)),
        )
        .build(source)
        .ok()
}

impl Prefilter {
    /// The rewrite of `pattern` compiled, or `None` (no rewrite, or one the DFA refuses).
    pub(crate) fn new(pattern: &str) -> Option<Prefilter> {
        let rewrite = rewrite(pattern)?;
        let dfa = lazy_dfa(&rewrite.source)?;
        let gate = rewrite.pivot.and_then(|pivot| {
            let rest = match pivot.rest.len() == 4 * pivot.bytes.len() {
                true => None,
                false => Some(lazy_dfa(&pivot.rest)?),
            };
            let dead_after = rest.as_ref().and_then(|dfa| dead_after(dfa, &pivot.bytes));
            let pivot = match pivot.bytes.as_slice() {
                [byte] => Needle::Byte(*byte),
                bytes => Needle::Bytes(Box::new(Finder::new(bytes).into_owned())),
            };
            Some(Gate {
                pivot,
                rest,
                dead_after,
            })
        });
        Some(Prefilter::with_dfas(dfa, gate))
    }

    fn with_dfas(dfa: DFA, gate: Option<Gate>) -> Prefilter {
        let whole = dfa.clone();
        let rest = gate.as_ref().and_then(|g| g.rest.clone());
        let make: CacheMaker = Box::new(move || Caches {
            whole: whole.create_cache(),
            rest: rest.as_ref().map(DFA::create_cache),
        });
        Prefilter {
            dfa,
            gate,
            caches: Pool::new(make),
        }
    }

    /// False only when PCRE cannot match `value`.
    pub(crate) fn may_match(&self, value: &[u8]) -> bool {
        let mut caches = self.caches.get();
        if let Some(gate) = &self.gate {
            if !gate.may_match(value, &mut caches.rest) {
                return false;
            }
        }
        let input = Input::new(value).earliest(true);
        !matches!(self.dfa.try_search_fwd(&mut caches.whole, &input), Ok(None))
    }

    /// Whether a pivot is looked for before the automaton runs.
    pub(crate) fn has_gate(&self) -> bool {
        self.gate.is_some()
    }

    /// [`may_match`](Self::may_match) without the gate: the automaton alone (for tests).
    #[cfg(test)]
    fn may_match_whole(&self, value: &[u8]) -> bool {
        let mut caches = self.caches.get();
        let input = Input::new(value).earliest(true);
        !matches!(self.dfa.try_search_fwd(&mut caches.whole, &input), Ok(None))
    }
}

impl Gate {
    /// False only when the rewrite cannot match `value`: no occurrence of the pivot where
    /// the rest matches (past [`MAX_PIVOT_TRIES`] occurrences, the automaton decides).
    fn may_match(&self, value: &[u8], cache: &mut Option<Cache>) -> bool {
        let mut tries = 0;
        let len = self.pivot_len();
        let mut rest_matches = |at: usize| {
            if let (Some(dead), Some(&next)) = (&self.dead_after, value.get(at + len)) {
                if dead[usize::from(next)] {
                    return false;
                }
            }
            tries += 1;
            match (&self.rest, cache.as_mut()) {
                (Some(rest), Some(cache)) if tries <= MAX_PIVOT_TRIES => {
                    let input = Input::new(value)
                        .range(at..)
                        .anchored(Anchored::Yes)
                        .earliest(true);
                    !matches!(rest.try_search_fwd(cache, &input), Ok(None))
                }
                _ => true,
            }
        };
        match &self.pivot {
            Needle::Byte(byte) => memchr::memchr_iter(*byte, value).any(&mut rest_matches),
            // Every occurrence, overlapping ones too (`find_iter` skips those).
            Needle::Bytes(finder) => {
                let mut from = 0;
                while let Some(found) = value.get(from..).and_then(|v| finder.find(v)) {
                    if rest_matches(from + found) {
                        return true;
                    }
                    from += found + 1;
                }
                false
            }
        }
    }

    fn pivot_len(&self) -> usize {
        match &self.pivot {
            Needle::Byte(_) => 1,
            Needle::Bytes(finder) => finder.needle().len(),
        }
    }
}

/// For each byte, whether the rest's automaton (which starts with the pivot) is dead once
/// it has read the pivot and that byte: then no match starts at that occurrence. `None`
/// when a match may end inside the pivot or the automaton cannot tell (its cache gave up).
/// The rewrite has no assertions, so the automaton's start does not depend on what comes
/// before the occurrence.
fn dead_after(dfa: &DFA, pivot: &[u8]) -> Option<Box<[bool; 256]>> {
    let mut cache = dfa.create_cache();
    let input = Input::new(pivot).anchored(Anchored::Yes);
    let mut state = dfa.start_state_forward(&mut cache, &input).ok()?;
    for &byte in pivot {
        if state.is_match() || state.is_dead() || state.is_quit() {
            return None;
        }
        state = dfa.next_state(&mut cache, state, byte).ok()?;
    }
    if state.is_match() || state.is_dead() || state.is_quit() {
        return None;
    }
    let mut dead = Box::new([false; 256]);
    for (byte, place) in (0..=255u8).zip(dead.iter_mut()) {
        let next = dfa.next_state(&mut cache, state, byte).ok()?;
        *place = next.is_dead();
    }
    Some(dead)
}

impl Clone for Prefilter {
    fn clone(&self) -> Prefilter {
        Prefilter::with_dfas(self.dfa.clone(), self.gate.clone())
    }
}

impl std::fmt::Debug for Prefilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prefilter").finish_non_exhaustive()
    }
}

/// A single-byte pivot more common than this in command lines ([`commonness`]: `:` and `-`
/// pass; `\\`, `.`, space and the commonest letters do not) is not looked for: it occurs
/// so often that trying the rest at each occurrence costs more than the automaton's scan.
const MAX_PIVOT_COMMONNESS: u8 = 90;

/// Occurrences of the pivot tried before the value is handed to the automaton as it is.
const MAX_PIVOT_TRIES: usize = 16;

/// ASCII classes as PCRE gives them without UCP (`\s` includes VT since PCRE2).
const WORD: &str = r"0-9A-Za-z_";
const DIGIT: &str = r"0-9";
const SPACE: &str = r"\t\n\x0B\x0C\r ";
/// Any character: an ASCII byte or a run of non-ASCII bytes.
const ANY: &str = r"(?:[\x00-\x7F]|[\x80-\xFF]+)";
/// What a negated class adds for non-ASCII characters.
const NON_ASCII: &str = r"|[\x80-\xFF]+)";

struct Reader {
    chars: Vec<char>,
    at: usize,
    out: String,
    /// The items of the outermost sequence, while it has one branch.
    top: Vec<TopItem>,
    /// Whether the outermost level has several branches (then no item is required).
    branches: bool,
}

/// An item of the outermost sequence: where its rewrite sits in `out`, and whether a
/// quantifier follows it (then it may be absent or repeated).
struct TopItem {
    start: usize,
    end: usize,
    quantified: bool,
}

/// What the last item written was, for the quantifier that may follow it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Nothing yet in this branch, or an item a quantifier must not follow.
    Nothing,
    /// Something a quantifier applies to as it does in PCRE.
    Item,
    /// A dropped assertion: a quantifier after it would apply to something else here.
    Dropped,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.at + ahead).copied()
    }

    /// Branches separated by `|`, up to a `)` at `depth > 0` or the end.
    fn alternation(&mut self, depth: usize) -> Option<()> {
        let mut last = Last::Nothing;
        while let Some(c) = self.peek() {
            match c {
                '|' => {
                    self.at += 1;
                    self.out.push('|');
                    self.branches |= depth == 0;
                    last = Last::Nothing;
                }
                ')' if depth > 0 => return Some(()),
                ')' => return None,
                '*' | '+' | '?' => {
                    self.quantifier_after(last)?;
                    self.quantify_top(depth);
                    self.at += 1;
                    self.out.push(c);
                    self.skip_mode();
                    last = Last::Nothing;
                }
                '{' => match self.counted()? {
                    Some(count) => {
                        self.quantifier_after(last)?;
                        self.quantify_top(depth);
                        self.out.push_str(&count);
                        self.skip_mode();
                        last = Last::Nothing;
                    }
                    None => {
                        let start = self.out.len();
                        self.at += 1;
                        literal(c, &mut self.out);
                        self.note_top(depth, start);
                        last = Last::Item;
                    }
                },
                _ => {
                    let start = self.out.len();
                    last = self.atom()?;
                    self.note_top(depth, start);
                }
            }
        }
        (depth == 0).then_some(())
    }

    /// Records an outermost item written from `start` on (nothing written: an assertion).
    fn note_top(&mut self, depth: usize, start: usize) {
        if depth == 0 && self.out.len() > start {
            self.top.push(TopItem {
                start,
                end: self.out.len(),
                quantified: false,
            });
        }
    }

    /// Marks the last outermost item as quantified.
    fn quantify_top(&mut self, depth: usize) {
        if let (0, Some(item)) = (depth, self.top.last_mut()) {
            item.quantified = true;
        }
    }

    /// The rarest run of unquantified literal characters among the outermost items (by its
    /// rarest byte's [`commonness`], then its length), if the pattern has one branch and the
    /// run is rare enough to be looked for before the automaton: a byte such as `\` or `.`,
    /// in every path, is not.
    fn pivot(&self) -> Option<Pivot> {
        if self.branches {
            return None;
        }
        let mut runs: Vec<(Vec<u8>, usize)> = Vec::new();
        let mut extending = false;
        for item in &self.top {
            let bytes = match item.quantified {
                false => literal_bytes(&self.out[item.start..item.end]),
                true => None,
            };
            match (bytes, runs.last_mut()) {
                (Some(bytes), Some((run, _))) if extending => run.extend(bytes),
                (Some(bytes), _) => {
                    runs.push((bytes, item.start));
                    extending = true;
                }
                (None, _) => extending = false,
            }
        }
        let rarest = |run: &[u8]| run.iter().map(|&b| commonness(b)).min().unwrap_or(u8::MAX);
        let (bytes, start) = runs
            .into_iter()
            .min_by_key(|(run, _)| (rarest(run), std::cmp::Reverse(run.len())))?;
        (bytes.len() >= 2 || rarest(&bytes) <= MAX_PIVOT_COMMONNESS).then(|| Pivot {
            bytes,
            rest: self.out[start..].to_string(),
        })
    }

    /// A quantifier may follow only an item kept as it is.
    fn quantifier_after(&self, last: Last) -> Option<()> {
        (last == Last::Item).then_some(())
    }

    /// Skips a lazy `?` or possessive `+` after a quantifier (see the module docs).
    fn skip_mode(&mut self) {
        if matches!(self.peek(), Some('?' | '+')) {
            self.at += 1;
        }
    }

    /// `{n}`, `{n,}` or `{n,m}` at the cursor (consumed), as written: `Some(Some(..))`;
    /// `Some(None)` (nothing consumed) when the brace is a literal one; `None` for `{,m}`,
    /// whose reading changed between PCRE versions.
    fn counted(&mut self) -> Option<Option<String>> {
        let rest: String = self.chars[self.at..].iter().take(24).collect();
        let Some(close) = rest.find('}') else {
            return Some(None);
        };
        let inner = &rest[1..close];
        let (low, high) = match inner.split_once(',') {
            Some((low, high)) => (low, Some(high)),
            None => (inner, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if low.is_empty() && high.is_some_and(digits) {
            return None;
        }
        if !digits(low) || !high.is_none_or(|h| h.is_empty() || digits(h)) {
            return Some(None);
        }
        self.at += inner.chars().count() + 2;
        Some(Some(format!("{{{inner}}}")))
    }

    /// One item: a character, escape, class or group.
    fn atom(&mut self) -> Option<Last> {
        let c = self.peek()?;
        self.at += 1;
        match c {
            '^' | '$' => Some(Last::Dropped),
            '.' => {
                self.out.push_str(ANY);
                Some(Last::Item)
            }
            '[' => {
                self.class()?;
                Some(Last::Item)
            }
            '(' => self.group(),
            '\\' => self.escape(),
            _ => {
                literal(c, &mut self.out);
                Some(Last::Item)
            }
        }
    }

    /// A group after its `(`: kept non-capturing, or dropped when it is a look-around.
    fn group(&mut self) -> Option<Last> {
        let mut look_around = false;
        if self.peek() == Some('?') {
            match (self.peek_at(1), self.peek_at(2)) {
                (Some(':'), _) => self.at += 2,
                (Some('=' | '!'), _) => {
                    look_around = true;
                    self.at += 2;
                }
                (Some('<'), Some('=' | '!')) => {
                    look_around = true;
                    self.at += 3;
                }
                (Some('<'), _) | (Some('P'), Some('<')) => self.skip_group_name('>')?,
                (Some('\''), _) => self.skip_group_name('\'')?,
                _ => return None,
            }
        } else if self.peek() == Some('*') {
            return None;
        }
        let start = self.out.len();
        self.out.push_str("(?:");
        self.alternation(1)?;
        if self.peek() != Some(')') {
            return None;
        }
        self.at += 1;
        if look_around {
            self.out.truncate(start);
            return Some(Last::Dropped);
        }
        self.out.push(')');
        Some(Last::Item)
    }

    /// Skips `?<name>`, `?P<name>` or `?'name'` (with `close` ending the name).
    fn skip_group_name(&mut self, close: char) -> Option<()> {
        let open = self.chars[self.at..]
            .iter()
            .position(|&c| c == '<' || c == '\'')?
            + self.at;
        let end = self.chars[open + 1..].iter().position(|&c| c == close)? + open + 1;
        let name = &self.chars[open + 1..end];
        let valid = !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == '_');
        self.at = end + 1;
        valid.then_some(())
    }

    /// An escape after its `\`, outside a class.
    fn escape(&mut self) -> Option<Last> {
        let c = self.peek()?;
        self.at += 1;
        let class = |out: &mut String, set: &str, negated: bool| {
            if negated {
                let _ = write!(out, "(?:[^{set}\\x80-\\xFF]{NON_ASCII}");
            } else {
                let _ = write!(out, "[{set}]");
            }
        };
        match c {
            'b' | 'B' | 'A' | 'z' | 'Z' | 'G' => return Some(Last::Dropped),
            'w' | 'W' => class(&mut self.out, WORD, c == 'W'),
            'd' | 'D' => class(&mut self.out, DIGIT, c == 'D'),
            's' | 'S' => class(&mut self.out, SPACE, c == 'S'),
            _ => {
                let c = self.escaped_char(c)?;
                literal(c, &mut self.out);
            }
        }
        Some(Last::Item)
    }

    /// The character an escape other than a class stands for: `\t \n \r \f \e`, `\xHH`,
    /// or escaped ASCII punctuation.
    fn escaped_char(&mut self, c: char) -> Option<char> {
        Some(match c {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\x0C',
            'e' => '\x1B',
            'x' => {
                let hex: String = [self.peek()?, self.peek_at(1)?].iter().collect();
                let value = u8::from_str_radix(&hex, 16).ok()?;
                self.at += 2;
                char::from(value)
            }
            c if c.is_ascii_punctuation() || c == ' ' => c,
            _ => return None,
        })
    }

    /// A class after its `[` (of ASCII characters only).
    fn class(&mut self) -> Option<()> {
        let negated = self.peek() == Some('^');
        if negated {
            self.at += 1;
            self.out.push_str("(?:[^");
        } else {
            self.out.push('[');
        }
        let mut first = true;
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                ']' if !first => break,
                '[' if self.peek() == Some(':') => return None,
                '\\' => {
                    let e = self.peek()?;
                    self.at += 1;
                    match e {
                        'w' => self.out.push_str(WORD),
                        'd' => self.out.push_str(DIGIT),
                        's' => self.out.push_str(SPACE),
                        _ => {
                            let c = self.escaped_char(e)?;
                            self.class_char(c)?;
                        }
                    }
                }
                _ => self.class_char(c)?,
            }
            first = false;
        }
        if negated {
            self.out.push_str("\\x80-\\xFF]");
            self.out.push_str(NON_ASCII);
        } else {
            self.out.push(']');
        }
        Some(())
    }

    /// A character of a class, and the range it may start (`a-z`; a `-` before `]` is
    /// literal).
    fn class_char(&mut self, c: char) -> Option<()> {
        if !c.is_ascii() {
            return None;
        }
        literal(c, &mut self.out);
        if self.peek() == Some('-') && self.peek_at(1).is_some_and(|n| n != ']') {
            self.at += 1;
            let mut end = self.peek()?;
            self.at += 1;
            if end == '\\' {
                let e = self.peek()?;
                self.at += 1;
                end = self.escaped_char(e)?;
            } else if end == '[' {
                return None;
            }
            if end < c || !end.is_ascii() {
                return None;
            }
            self.out.push('-');
            literal(end, &mut self.out);
        }
        Some(())
    }
}

/// The bytes a rewritten item stands for when it is literal characters only (each byte
/// written `\xHH` by [`literal`]).
fn literal_bytes(item: &str) -> Option<Vec<u8>> {
    let bytes = item.as_bytes();
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    bytes
        .chunks_exact(4)
        .map(|c| match c {
            [b'\\', b'x', hi, lo] => {
                u8::from_str_radix(std::str::from_utf8(&[*hi, *lo]).ok()?, 16).ok()
            }
            _ => None,
        })
        .collect()
}

/// `c` as its UTF-8 bytes, each written `\xHH` (read literally in or out of a class).
fn literal(c: char, out: &mut String) {
    let mut utf8 = [0; 4];
    for byte in c.encode_utf8(&mut utf8).bytes() {
        let _ = write!(out, "\\x{byte:02X}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Pcre;

    #[test]
    fn rewrites_drop_assertions_and_widen_classes() {
        assert_eq!(superset(r"^a\.b$").as_deref(), Some(r"\x61\x2E\x62"));
        assert_eq!(
            superset(r"(?<n>x)+?(?!y)\w").as_deref(),
            Some(r"(?:\x78)+[0-9A-Za-z_]")
        );
        assert_eq!(
            superset(r"[^\\]*").as_deref(),
            Some(r"(?:[^\x5C\x80-\xFF]|[\x80-\xFF]+)*")
        );
        assert_eq!(superset(r"a{2,4}b{,3}"), None);
        assert_eq!(superset(r"a{x").as_deref(), Some(r"\x61\x7B\x78"));
        for refused in [
            r"(?i)abc",
            r"(\w)\1",
            r"\Qa\E",
            r"\p{L}",
            r"[[:alpha:]]",
            r"(*UCP)a",
            r"\b+",
            r"(?>a)",
            r"a\h",
            r"(a",
            r"a)",
            r"[^é]",
        ] {
            assert_eq!(superset(refused), None, "{refused}");
        }
    }

    /// The pivot is the rarest run of required literal characters of a one-branch pattern,
    /// and the rest of the rewrite from it on.
    #[test]
    fn pivots_are_rare_required_literals() {
        let pivot = |pattern: &str| {
            rewrite(pattern)
                .and_then(|r| r.pivot)
                .map(|p| (String::from_utf8_lossy(&p.bytes).into_owned(), p.rest))
        };
        assert_eq!(
            pivot(r"rundll32.+\#\d+"),
            Some(("#".into(), r"\x23[0-9]+".into()))
        );
        assert_eq!(
            pivot(r"(\b)\w+(\.\w+)?:\w+(\.\w{2,4})(?!\.)"),
            Some((
                ":".into(),
                r"\x3A[0-9A-Za-z_]+(?:\x2E[0-9A-Za-z_]{2,4})".into()
            ))
        );
        assert_eq!(pivot(r"x-y\bz").map(|p| p.0), Some("x-yz".into()));
        // Quantified items break runs: `a`, `c` and `d` remain, `d` the rarest.
        assert_eq!(pivot(r"ab?c#?d"), Some(("d".into(), r"\x64".into())));
        // No required place: several branches, only common bytes, only quantified ones.
        for none in [r"a#|b#", r"^.*?\\[^\\]*\.(?:exe|bat)", r"#+x?", r"(?:#)"] {
            assert_eq!(pivot(none), None, "{none}");
        }
    }

    /// The gate never rules out a value the automaton matches: overlapping occurrences of a
    /// pivot, occurrences past the ones tried, a pivot at either end.
    #[test]
    fn the_gate_keeps_every_value_the_automaton_matches() {
        let many_colons = format!("{}a:b.cd", "x: ".repeat(40));
        let cases: [(&str, &[&[u8]]); 4] = [
            (r"aa#b", &[b"aaa#b", b"a#b", b"xaa#bb", b"aa#"]),
            (
                r"\w:\w+\.\w{2}",
                &[b"c:\\x", b"a:b.cd", many_colons.as_bytes(), b":b.cd"],
            ),
            (r"x-y-", &[b"x-y-", b"x-y", b"x-x-y-"]),
            (
                r"(?:ab)+#9\d",
                &[b"abab#90", b"#90", b"ab#9", b"x#9#90ab#91"],
            ),
        ];
        let mut kept = 0;
        for (pattern, values) in cases {
            let pcre = Pcre::new(pattern, 0).unwrap();
            let prefilter = Prefilter::new(pattern).unwrap();
            assert!(prefilter.gate.is_some(), "{pattern}");
            for value in values {
                let whole = prefilter.may_match_whole(value);
                assert_eq!(prefilter.may_match(value), whole, "{pattern} {value:?}");
                assert!(whole || !pcre.is_match_plain(value), "{pattern} {value:?}");
                kept += usize::from(whole);
            }
        }
        assert!(kept >= 7, "{kept}");
        // The `:` of `c:\\x` is passed over by its next byte; the one of `a:b.cd` is tried.
        let prefilter = Prefilter::new(r"\w:\w+\.\w{2}").unwrap();
        let dead = prefilter.gate.and_then(|g| g.dead_after).unwrap();
        assert!(dead[usize::from(b'\\')] && dead[usize::from(b' ')] && !dead[usize::from(b'b')]);
    }

    /// Wherever PCRE matches, the rewrite matches: patterns of each construct over values
    /// around their edges (non-ASCII, invalid UTF-8, newlines).
    #[test]
    fn the_rewrite_matches_wherever_pcre_does() {
        let patterns = [
            r"(\b)\w+(\.\w+)?:\w+(\.\w{2,4})(?!\.)(\b|\s|&)",
            r"rundll32.+\#\d+",
            r"^.*?\\(?<service_process>[^\\]*\.(?:exe|bat|com|ps1))",
            r"\W\D\S.$",
            r"[a-c\-x]{2}[^\d\s]",
            r"(?<=a)b(?=c)|^z$",
            r"x\x41{1,}y?+",
            r"é.[^a]\W",
        ];
        let values: [&[u8]; 13] = [
            b"type c:\\temp\\a.txt:evil.exe ",
            b"rundll32.exe x.dll,#12",
            b"C:\\Windows\\svc.exe -k",
            b"\xC3\xA9\xC3\xA9\xC3\xA9x",
            b"ab-\xC3\xA9",
            b"abc",
            b"z\n",
            b"xAAAy",
            "é\né".as_bytes(),
            "éxa".as_bytes(),
            "éxé-".as_bytes(),
            b"\xFFz\xFF",
            b"",
        ];
        let mut matched = 0;
        for pattern in patterns {
            let pcre = Pcre::new(pattern, 0).unwrap();
            let rewrite = Prefilter::new(pattern).unwrap_or_else(|| panic!("{pattern}"));
            for value in values {
                if pcre.is_match(value) {
                    matched += 1;
                    assert!(rewrite.may_match(value), "{pattern} {value:?}");
                }
            }
        }
        assert!(matched >= 12, "{matched}");
    }
}
