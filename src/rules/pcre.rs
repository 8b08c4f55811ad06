//! Splunk's `regex`, `rex`, `match()` and `replace()` are PCRE ("Splunk regular expressions
//! are PCRE (Perl Compatible Regular Expressions) and use the PCRE C library", Knowledge
//! Manager Manual, "About Splunk regular expressions"). So the engine here *is* PCRE: the
//! PCRE2 C library (bundled with the `pcre2` crate, built statically, JIT-compiled), not an
//! imitation. Every PCRE rule about `$`, `\Z`, `.`, look-around and back-references is
//! PCRE's own.
//!
//! Compile options, and why (docs/semantics.md, "Regular expressions"):
//! * UTF mode: values are UTF-8 (Splunk indexes UTF-8), so `.` is one character and
//!   case-insensitive matching folds non-ASCII letters (`(?i)é` matches `É`).
//! * No UCP: `\d \s \w \b` and POSIX classes stay ASCII-only, PCRE's default. The binding
//!   only offers invalid-UTF-8 safety together with UCP, so UCP is switched on and a leading
//!   `(?a)` (PCRE2 10.43+: ASCII `\d \s \w \b` and POSIX classes) switches its effect off
//!   again, unless the pattern itself asks for `(*UCP)`.
//! * Invalid UTF-8 in a value never matches any character (PCRE2_MATCH_INVALID_UTF); the
//!   valid text around it still matches.
//! * No multiline, no dotall: `$` matches at the end **and before a final newline**, `.`
//!   does not match `\n`, `\Z` is "end or before a final newline", `\z` is the very end.
//! * A match that exceeds PCRE2's match or depth limit (10,000,000 each, PCRE2's defaults)
//!   or the JIT stack counts as **no match**: a row never fails because of one value.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::{Mutex, OnceLock};

use pcre2::bytes::{CaptureLocations, Regex, RegexBuilder};

use super::error::SplError;
use super::pcre_prefilter::Prefilter;

/// Largest JIT stack one match may use (PCRE2's default is 32 KiB, too small for some
/// deeply nested patterns; exceeding it is a failed match).
const MAX_JIT_STACK: usize = 1 << 20;

/// The option that restores PCRE's ASCII classes in UCP mode.
const ASCII_CLASSES: &str = "(?a)";

/// A compiled PCRE pattern.
///
/// Loading compiles every pattern (so a bad one is reported then), but JIT-compiles it only
/// when it is first matched: JIT compilation was most of the cost of compiling a regex rule
/// (8% of loading the Sigma rules), and the literal index leaves most regex rules unevaluated
/// on most inputs. Every match runs on the JIT-compiled pattern, as before.
#[derive(Debug)]
pub struct Pcre {
    /// Compiled without JIT: checks the pattern, names its groups.
    re: Regex,
    /// The same pattern JIT-compiled, made on the first match.
    jit: OnceLock<Regex>,
    /// The pattern rewritten for the `regex` crate to match every value it matches and maybe
    /// more (`pcre_prefilter`), made on the first match: a value it does not match is no
    /// match, without running PCRE. `None` when the pattern has no such rewrite.
    superset: OnceLock<Option<Box<Prefilter>>>,
    /// Capture locations kept for the next capture: making them allocates the JIT stack (an
    /// `mmap`, and a `munmap` when dropped), which cost more than the match itself when a
    /// `rex` rule was evaluated on every other row.
    spare: Mutex<Vec<CaptureLocations>>,
    /// How the rewrite has done on the values it was tried on.
    record: PrecheckRecord,
}

/// Values the rewrite is tried on before it is judged.
const PRECHECK_SAMPLE: u32 = 256;

/// The rewrite keeps running when it rules out at least one in this many sampled values.
/// It costs about a quarter of a PCRE match that succeeds on a command line (the rewrite of
/// ESCU's program.exe `rex` 660 instructions, the capture 2,860), and a PCRE match that fails
/// can cost much more than one that succeeds, so it is kept for much rarer rejections than
/// the quarter at which it breaks even on succeeding matches.
const PRECHECK_MIN_RULED_OUT: u32 = 16;

/// Whether the rewrite run before PCRE ([`Pcre::may_match`]) earns its cost: it is tried
/// on the first [`PRECHECK_SAMPLE`] values, and if it ruled out fewer than one in
/// [`PRECHECK_MIN_RULED_OUT`] of them (a `rex` whose candidates nearly all match), PCRE
/// alone decides from then on. Only the cost changes: PCRE gives the same answer either
/// way. The counters are written during the sample only, so threads sharing the pattern
/// then read them without contention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precheck {
    Sample,
    Run,
    Skip,
}

#[derive(Debug, Default)]
struct PrecheckRecord {
    tried: AtomicU32,
    ruled_out: AtomicU32,
}

impl PrecheckRecord {
    /// What to do with the rewrite on the next value.
    fn next(&self) -> Precheck {
        if self.tried.load(Relaxed) < PRECHECK_SAMPLE {
            self.tried.fetch_add(1, Relaxed);
            return Precheck::Sample;
        }
        match self.ruled_out.load(Relaxed) * PRECHECK_MIN_RULED_OUT >= PRECHECK_SAMPLE {
            true => Precheck::Run,
            false => Precheck::Skip,
        }
    }

    fn note(&self, may_match: bool) {
        if !may_match {
            self.ruled_out.fetch_add(1, Relaxed);
        }
    }
}

impl Clone for Pcre {
    fn clone(&self) -> Pcre {
        Pcre {
            re: self.re.clone(),
            jit: self.jit.clone(),
            superset: self.superset.clone(),
            spare: Mutex::new(Vec::new()),
            record: PrecheckRecord::default(),
        }
    }
}

impl Pcre {
    /// Compiles `pattern`; `position` locates it in the expanded search for errors.
    pub fn new(pattern: &str, position: usize) -> Result<Pcre, SplError> {
        let (source, inserted_at) = with_ascii_classes(pattern);
        builder(false)
            .build(&source)
            .map(|re| Pcre {
                re,
                jit: OnceLock::new(),
                superset: OnceLock::new(),
                spare: Mutex::new(Vec::new()),
                record: PrecheckRecord::default(),
            })
            .map_err(|e| {
                let at = e.offset().map(|o| match inserted_at {
                    Some(i) if o >= i + ASCII_CLASSES.len() => o - ASCII_CLASSES.len(),
                    Some(i) if o >= i => i,
                    _ => o,
                });
                // "PCRE2: error compiling pattern at offset N: <message>"
                let text = e.to_string();
                let message = text.splitn(3, ": ").nth(2).unwrap_or(&text);
                let detail = match at {
                    Some(o) => format!("invalid PCRE pattern at offset {o}: {message}"),
                    None => format!("invalid PCRE pattern: {message}"),
                };
                SplError::unsupported(format!("regex {pattern}"), position, detail)
            })
    }

    /// The pattern as compiled (with the `(?a)` this module may insert).
    pub fn source(&self) -> &str {
        self.re.as_str()
    }

    /// The pattern JIT-compiled (where PCRE2 has a JIT), made on the first call. It compiled
    /// once already, so it compiles again; should it not, the pattern without JIT matches.
    fn matcher(&self) -> &Regex {
        self.jit.get_or_init(|| {
            builder(true)
                .build(self.re.as_str())
                .unwrap_or_else(|_| self.re.clone())
        })
    }

    /// True if the pattern matches anywhere in `v`. A match that hits a PCRE limit is no match.
    pub fn is_match(&self, v: &[u8]) -> bool {
        self.may_match(v) && self.is_match_plain(v)
    }

    /// [`is_match`](Self::is_match) by PCRE alone, without the rewrite that rules values out
    /// first: the same answer (tests prove it on real and generated values), slower.
    pub fn is_match_plain(&self, v: &[u8]) -> bool {
        self.matcher().is_match(v).unwrap_or(false)
    }

    /// False only when `v` cannot match: the rewrite (made on the first call, from the
    /// pattern as written, behind the `(?a)` this module inserts) does not match it. True
    /// without trying when the rewrite has not earned its cost ([`PrecheckRecord`]).
    #[inline]
    fn may_match(&self, v: &[u8]) -> bool {
        let Some(superset) = self.prefilter() else {
            return true;
        };
        match self.record.next() {
            Precheck::Skip => true,
            Precheck::Run => superset.may_match(v),
            Precheck::Sample => {
                let may = superset.may_match(v);
                self.record.note(may);
                may
            }
        }
    }

    /// The rewrite, made on the first call.
    fn prefilter(&self) -> Option<&Prefilter> {
        self.superset
            .get_or_init(|| {
                let written = self.re.as_str().strip_prefix(ASCII_CLASSES)?;
                Prefilter::new(written).map(Box::new)
            })
            .as_deref()
    }

    /// False only when the rewrite rules `v` out, tried whatever [`PrecheckRecord`] decided
    /// (for tests: wherever PCRE matches, this is true).
    pub fn rewrite_may_match(&self, v: &[u8]) -> bool {
        self.prefilter().is_none_or(|re| re.may_match(v))
    }

    /// Whether the pattern has a rewrite run before PCRE (for tests and reports).
    pub fn has_prefilter(&self) -> bool {
        self.prefilter().is_some()
    }

    /// Whether the rewrite is gated by a literal looked for first (`pcre_prefilter`'s pivot;
    /// for tests and reports).
    pub fn has_pivot(&self) -> bool {
        self.prefilter().is_some_and(Prefilter::has_gate)
    }

    /// Names of the named capture groups.
    pub fn group_names(&self) -> Vec<String> {
        self.re.capture_names().iter().flatten().cloned().collect()
    }

    /// The text of named group `name` in the first match.
    pub fn capture(&self, v: &[u8], name: &str) -> Option<Vec<u8>> {
        self.capture_range(v, name).map(|at| v[at].to_vec())
    }

    /// Where in `v` named group `name` of the first match lies (to read it without a copy).
    pub fn capture_range(&self, v: &[u8], name: &str) -> Option<std::ops::Range<usize>> {
        if !self.may_match(v) {
            return None;
        }
        self.capture_range_plain(v, name)
    }

    /// [`capture`](Self::capture) by PCRE alone (see [`is_match_plain`](Self::is_match_plain)).
    pub fn capture_plain(&self, v: &[u8], name: &str) -> Option<Vec<u8>> {
        self.capture_range_plain(v, name).map(|at| v[at].to_vec())
    }

    fn capture_range_plain(&self, v: &[u8], name: &str) -> Option<std::ops::Range<usize>> {
        let group = self
            .re
            .capture_names()
            .iter()
            .position(|n| n.as_deref() == Some(name))?;
        let re = self.matcher();
        let spare = self.spare.lock().ok().and_then(|mut spare| spare.pop());
        let mut locations = spare.unwrap_or_else(|| re.capture_locations());
        let text = match re.captures_read(&mut locations, v) {
            Ok(Some(_)) => locations.get(group).map(|(s, e)| s..e),
            _ => None,
        };
        if let Ok(mut spare) = self.spare.lock() {
            spare.push(locations);
        }
        text
    }

    /// Replaces every match by `rep`, whose `\1` ... `\9` insert groups (Splunk's `replace()`
    /// syntax); every other byte is literal. A value whose matching hits a PCRE limit is
    /// left as it is.
    pub fn replace_all(&self, v: &[u8], rep: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(v.len());
        let mut last = 0;
        for caps in self.matcher().captures_iter(v) {
            let Ok(caps) = caps else {
                return v.to_vec();
            };
            let Some(whole) = caps.get(0) else { continue };
            out.extend_from_slice(&v[last..whole.start()]);
            expand_replacement(rep, |g| caps.get(g).map(|m| m.as_bytes()), &mut out);
            last = whole.end();
        }
        out.extend_from_slice(&v[last..]);
        out
    }
}

/// The options every pattern compiles with; `jit` for the one that matches.
fn builder(jit: bool) -> RegexBuilder {
    let mut builder = RegexBuilder::new();
    builder
        .utf(true)
        .ucp(true)
        .jit_if_available(jit)
        .max_jit_stack_size(Some(MAX_JIT_STACK));
    builder
}

/// `pattern` with `(?a)` after its leading `(*VERB)` items (which must stay first), unless
/// one of them is `(*UCP)`; and where it was inserted.
fn with_ascii_classes(pattern: &str) -> (String, Option<usize>) {
    let mut at = 0;
    while pattern[at..].starts_with("(*") {
        let Some(close) = pattern[at..].find(')') else {
            break;
        };
        if pattern[at..at + close].eq_ignore_ascii_case("(*UCP") {
            return (pattern.to_string(), None);
        }
        at += close + 1;
    }
    let source = format!("{}{ASCII_CLASSES}{}", &pattern[..at], &pattern[at..]);
    (source, Some(at))
}

/// Appends `rep` with `\N` (one digit) replaced by group N's text (nothing if it did not
/// take part in the match).
fn expand_replacement<'a>(
    rep: &[u8],
    group: impl Fn(usize) -> Option<&'a [u8]>,
    out: &mut Vec<u8>,
) {
    let mut i = 0;
    while i < rep.len() {
        if rep[i] == b'\\' && rep.get(i + 1).is_some_and(u8::is_ascii_digit) {
            out.extend_from_slice(group(usize::from(rep[i + 1] - b'0')).unwrap_or(b""));
            i += 2;
        } else {
            out.push(rep[i]);
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pcre;

    fn m(re: &str, v: &str) -> bool {
        Pcre::new(re, 0).unwrap().is_match(v.as_bytes())
    }

    /// Answers stay PCRE's while the rewrite is sampled, kept or dropped; it is kept where
    /// it rules out one value in four (no backslash, no `#`) and dropped where it rules out
    /// none.
    #[test]
    fn a_rewrite_that_rules_out_too_few_values_stops_running() {
        let rex = r"^.*?\\(?<name>[^\\]*\.exe)";
        let paths = [
            "C:\\Windows\\cmd.exe /c x",
            "C:\\a\\b.exe",
            "x",
            "C:\\a.bat",
        ];
        let lines = [
            "rundll32.exe a.dll,#1",
            "cmd.exe /c x",
            "svchost.exe -k",
            "y",
        ];
        let all_pass = ["C:\\Windows\\cmd.exe", "C:\\a\\b.exe x", "D:\\x\\y.exe -k"];
        let cases = [
            (Pcre::new(rex, 0).unwrap(), &paths[..], super::Precheck::Run),
            (
                Pcre::new(r"rundll32.+\#\d+", 0).unwrap(),
                &lines[..],
                super::Precheck::Run,
            ),
            (
                Pcre::new(rex, 0).unwrap(),
                &all_pass[..],
                super::Precheck::Skip,
            ),
        ];
        for (re, values, kept) in &cases {
            for round in 0..3 * super::PRECHECK_SAMPLE as usize {
                let v = values[round % values.len()].as_bytes();
                assert_eq!(re.is_match(v), re.is_match_plain(v), "{v:?}");
                assert_eq!(re.capture(v, "name"), re.capture_plain(v, "name"));
                assert!(re.rewrite_may_match(v) || !re.is_match_plain(v));
            }
            let decided = re.record.next();
            assert_eq!(decided, *kept, "{}", re.source());
        }
        assert!(!cases[2].0.is_match(b"cmd.exe") && !cases[2].0.is_match(b"C:\\cmd.com"));
    }

    #[test]
    fn look_around_and_back_references_are_native() {
        let re = r"(\b)\w+(\.\w+)?:\w+(\.\w{2,4})(?!\.)(\b|\s|&)";
        assert!(m(re, "type c:\\temp\\a.txt:evil.exe"));
        assert!(!m(re, "cmd /c echo hello"));
        assert!(m(r"(\w)\1", "aa"));
        assert!(Pcre::new("(unclosed", 7).is_err());
    }

    #[test]
    fn errors_give_the_offset_in_the_pattern_as_written() {
        let e = Pcre::new("ab(c", 3).unwrap_err().to_string();
        assert!(e.contains("offset 4"), "{e}");
        let e = Pcre::new("(*LIMIT_MATCH=10)x(", 0).unwrap_err().to_string();
        assert!(e.contains("offset 19"), "{e}");
    }

    #[test]
    fn ucp_verb_keeps_unicode_classes() {
        assert!(!m(r"^\w$", "é"));
        assert!(m(r"(*UCP)^\w$", "é"));
        assert!(m(r"(*LIMIT_MATCH=1000)^a$", "a"));
    }

    #[test]
    fn replace_expands_single_digit_groups() {
        let re = Pcre::new(r"(\w+)@(\w+)", 0).unwrap();
        assert_eq!(re.replace_all(b"a@b c@d", br"\2.\1 $1"), b"b.a $1 d.c $1");
        let opt = Pcre::new(r"x(y)?", 0).unwrap();
        assert_eq!(opt.replace_all(b"x-xy", br"[\1]"), b"[]-[y]");
    }
}
