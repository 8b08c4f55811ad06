//! Literals every match of a PCRE pattern contains, read from the pattern's text: what the
//! literal index (`prefilter`) needs to evaluate a `regex` rule (ESCU's `| regex`, Sigma's
//! `|re`) only on rows holding one of them, instead of on every row.
//!
//! The reading is deliberately narrow. It understands literal characters, escapes of
//! punctuation and of `\t \n \r \f \e \xHH \x{H..}`, the one-character escapes (`\d \s \w`
//! ...), `.`, character classes, groups (capturing, `(?:`, named, look-arounds), inline flags,
//! alternation and quantifiers. Anything else (back-references, `\Q...\E`, `\p{..}`,
//! recursion, conditionals, `(?x)`, verbs past the start, `{,n}` whose reading changed
//! between PCRE versions) gives no literal: the rule is then evaluated on every row, which is
//! slower but never wrong.
//!
//! Case: the index compares ASCII case-insensitively, so a case-sensitive literal is found
//! in any case (a superset: the rule still decides). A caseless pattern (`(?i)` anywhere, read
//! as applying to all of it) folds more than ASCII in PCRE's UTF mode (`k` also matches the
//! Kelvin sign, `s` the long s, `é` matches `É`): there, `k`, `s` and non-ASCII characters end
//! a literal instead of joining it.

use crate::literals::MIN_LITERAL;

/// Sets of alternatives: every match holds one alternative of each set (lower-cased bytes).
pub(crate) type Factors = Vec<Vec<Vec<u8>>>;

/// The factors of `pattern` (empty when nothing is known).
pub(crate) fn factors(pattern: &str) -> Factors {
    let caseless = has_caseless_flag(pattern);
    let mut parser = Parser {
        chars: pattern.chars().collect(),
        at: 0,
        caseless,
    };
    parser.skip_leading_verbs();
    match parser.alternation() {
        Some(alt) if parser.at == parser.chars.len() => alt.factors(),
        _ => Vec::new(),
    }
}

/// An alternation: branches, each a sequence.
struct Alt(Vec<Seq>);

/// The items of one branch, in order.
struct Seq(Vec<Item>);

enum Item {
    /// One literal character, matched exactly (up to ASCII case): held as itself, not as
    /// its UTF-8 bytes on the heap (a long pattern is thousands of them).
    Char(char),
    /// Something that matches one or more characters not known here.
    Other,
    /// A zero-width assertion (`^`, `\b`, look-around...): no character, but a break.
    Assertion,
    Group(Alt),
    /// An item that may match nothing (`?`, `*`, `{0,n}`).
    Optional,
    /// An item repeated at least once: the item itself is required, then a break.
    Repeated(Box<Item>),
}

impl Alt {
    /// One branch: its factors. Several: each branch's best factor, united (a branch without
    /// one leaves the alternation without a factor).
    fn factors(&self) -> Factors {
        if let [only] = self.0.as_slice() {
            return only.factors();
        }
        let mut union: Vec<Vec<u8>> = Vec::new();
        for branch in &self.0 {
            match best(branch.factors()) {
                Some(factor) => union.extend(factor),
                None => return Vec::new(),
            }
        }
        union.sort();
        union.dedup();
        vec![union]
    }
}

impl Seq {
    fn factors(&self) -> Factors {
        let mut out = Factors::new();
        let mut run: Vec<u8> = Vec::new();
        for item in &self.0 {
            collect(item, &mut run, &mut out);
        }
        end_run(&mut run, &mut out);
        out
    }
}

fn collect(item: &Item, run: &mut Vec<u8>, out: &mut Factors) {
    match item {
        Item::Char(c) => {
            let mut bytes = [0u8; 4];
            let bytes = c.encode_utf8(&mut bytes).as_bytes();
            run.extend(bytes.iter().map(u8::to_ascii_lowercase));
        }
        Item::Other | Item::Assertion | Item::Optional => end_run(run, out),
        Item::Group(alt) => {
            end_run(run, out);
            out.extend(alt.factors());
        }
        Item::Repeated(inner) => {
            collect(inner, run, out);
            end_run(run, out);
        }
    }
}

fn end_run(run: &mut Vec<u8>, out: &mut Factors) {
    if run.len() >= MIN_LITERAL {
        out.push(vec![std::mem::take(run)]);
    }
    run.clear();
}

/// The factor most likely to be rare: the longest shortest alternative, then the fewest.
fn best(factors: Factors) -> Option<Vec<Vec<u8>>> {
    factors.into_iter().max_by_key(|f| {
        let shortest = f.iter().map(Vec::len).min().unwrap_or(0);
        (shortest.min(12), usize::MAX - f.len())
    })
}

/// Whether an inline option group turns caseless matching on anywhere (`(?i)`, `(?mi:`...).
fn has_caseless_flag(pattern: &str) -> bool {
    pattern.match_indices("(?").any(|(at, _)| {
        pattern[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic() || *c == '^')
            .any(|c| c == 'i')
    })
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    caseless: bool,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }

    /// `(*UCP)`, `(*UTF)`, `(*LIMIT_MATCH=n)`... at the very start set options only. Any other
    /// verb there (`(*SKIP)`...) is left for [`Parser::group`], which does not read it.
    fn skip_leading_verbs(&mut self) {
        const OPTIONS: [&str; 10] = [
            "UTF", "UCP", "LIMIT_", "NO_", "CR", "LF", "ANY", "NUL", "BSR_", "NOTEMPTY",
        ];
        while self.chars[self.at..].starts_with(&['(', '*']) {
            let Some(close) = self.chars[self.at..].iter().position(|&c| c == ')') else {
                return;
            };
            let name: String = self.chars[self.at + 2..self.at + close].iter().collect();
            if !OPTIONS.iter().any(|o| name.starts_with(o)) {
                return;
            }
            self.at += close + 1;
        }
    }

    fn alternation(&mut self) -> Option<Alt> {
        let mut branches = vec![self.sequence()?];
        while self.eat('|') {
            branches.push(self.sequence()?);
        }
        Some(Alt(branches))
    }

    fn sequence(&mut self) -> Option<Seq> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            let item = self.quantified(atom)?;
            items.push(item);
        }
        Some(Seq(items))
    }

    /// The quantifier after `atom`, if any, applied to it.
    fn quantified(&mut self, atom: Item) -> Option<Item> {
        let least = match self.peek() {
            Some('?') | Some('*') => {
                self.at += 1;
                0
            }
            Some('+') => {
                self.at += 1;
                1
            }
            Some('{') => match self.braces()? {
                Some(least) => least,
                // Not a quantifier: the `{` is a literal character.
                None => return Some(atom),
            },
            _ => return Some(atom),
        };
        // Lazy or possessive forms.
        if !self.eat('?') {
            self.eat('+');
        }
        if matches!(atom, Item::Assertion) {
            return Some(Item::Assertion);
        }
        Some(match least {
            0 => Item::Optional,
            _ => Item::Repeated(Box::new(atom)),
        })
    }

    /// `{n}`, `{n,}`, `{n,m}`: `Some(Some(n))`, consumed. Anything else that PCRE reads as
    /// literal text: `Some(None)`, nothing consumed. `{,m}` and braces with spaces
    /// (quantifiers since PCRE2 10.43, literal text before): `None`.
    fn braces(&mut self) -> Option<Option<u32>> {
        let rest: String = self.chars[self.at + 1..].iter().take(24).collect();
        let Some(close) = rest.find('}') else {
            return Some(None);
        };
        let inside = &rest[..close];
        let (low, high) = match inside.split_once(',') {
            Some((low, high)) => (low, Some(high)),
            None => (inside, None),
        };
        let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        // `{,m}`, and spaces inside (`{ 1, 3 }`): quantifiers in some PCRE2 versions only.
        let loose = inside
            .chars()
            .all(|c| c.is_ascii_digit() || c == ',' || c == ' ');
        if (low.is_empty() && high.is_some_and(digits)) || (loose && inside.contains(' ')) {
            return None;
        }
        if !digits(low) || !high.is_none_or(|h| h.is_empty() || digits(h)) {
            return Some(None);
        }
        self.at += close + 2;
        Some(low.parse().ok())
    }

    fn atom(&mut self) -> Option<Item> {
        let c = self.peek()?;
        self.at += 1;
        match c {
            '\\' => self.escape(),
            '.' => Some(Item::Other),
            '^' | '$' => Some(Item::Assertion),
            '[' => self.class(),
            '(' => self.group(),
            '*' | '+' | '?' => None,
            c => Some(self.char_item(c)),
        }
    }

    fn char_item(&self, c: char) -> Item {
        let folds_beyond_ascii = !c.is_ascii() || matches!(c, 'k' | 'K' | 's' | 'S');
        if self.caseless && folds_beyond_ascii {
            return Item::Other;
        }
        Item::Char(c)
    }

    fn escape(&mut self) -> Option<Item> {
        let c = self.peek()?;
        self.at += 1;
        let literal = match c {
            't' => '\t',
            'n' => '\n',
            'r' => '\r',
            'f' => '\x0c',
            'e' => '\x1b',
            'x' => self.hex()?,
            'd' | 'D' | 's' | 'S' | 'w' | 'W' | 'h' | 'H' | 'v' | 'V' | 'N' | 'R' | 'X' => {
                return Some(Item::Other)
            }
            'b' | 'B' | 'A' | 'z' | 'Z' | 'G' => return Some(Item::Assertion),
            c if c.is_ascii_alphanumeric() => return None,
            c => c,
        };
        Some(self.char_item(literal))
    }

    /// `\xHH` (up to two hex digits) or `\x{H...}`.
    fn hex(&mut self) -> Option<char> {
        let digits: String = if self.eat('{') {
            let text: String = self.chars[self.at..]
                .iter()
                .take_while(|&&c| c != '}')
                .collect();
            self.at += text.chars().count();
            if !self.eat('}') {
                return None;
            }
            text
        } else {
            let text: String = self.chars[self.at..]
                .iter()
                .take(2)
                .take_while(|c| c.is_ascii_hexdigit())
                .collect();
            self.at += text.len();
            text
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        char::from_u32(u32::from_str_radix(&digits, 16).ok()?)
    }

    /// A character class, up to its closing `]` (a `]` first in the class is literal).
    fn class(&mut self) -> Option<Item> {
        self.eat('^');
        let mut first = true;
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                ']' if !first => return Some(Item::Other),
                '\\' => {
                    let next = self.peek()?;
                    if matches!(next, 'Q' | 'E' | 'p' | 'P') {
                        return None;
                    }
                    self.at += 1;
                }
                '[' if self.peek() == Some(':') => {
                    let close = self.chars[self.at..].iter().position(|&c| c == ']')?;
                    self.at += close + 1;
                }
                _ => {}
            }
            first = false;
        }
    }

    fn group(&mut self) -> Option<Item> {
        if !self.eat('?') {
            if self.peek() == Some('*') {
                return None;
            }
            return self.group_body(Item::Group);
        }
        match self.peek()? {
            ':' => {
                self.at += 1;
                self.group_body(Item::Group)
            }
            '=' | '!' => {
                self.at += 1;
                self.group_body(|_| Item::Assertion)
            }
            '<' if matches!(self.chars.get(self.at + 1), Some('=') | Some('!')) => {
                self.at += 2;
                self.group_body(|_| Item::Assertion)
            }
            '<' | '\'' | 'P' => {
                let close = if self.peek() == Some('\'') { '\'' } else { '>' };
                if self.peek() == Some('P') && self.chars.get(self.at + 1) != Some(&'<') {
                    return None;
                }
                let end = self.chars[self.at + 1..].iter().position(|&c| c == close)?;
                self.at += end + 2;
                self.group_body(Item::Group)
            }
            _ => self.option_group(),
        }
    }

    /// `(?flags)` or `(?flags:...)` with PCRE's option letters; `(?x)` (extended syntax) is
    /// not read, nor are `(?R)`, `(?C)`... which look alike.
    fn option_group(&mut self) -> Option<Item> {
        let flags: String = self.chars[self.at..]
            .iter()
            .take_while(|c| c.is_ascii_alphabetic() || **c == '-' || **c == '^')
            .collect();
        let options = |c: char| matches!(c, 'i' | 'm' | 'n' | 's' | 'U' | 'J' | 'a' | '-' | '^');
        if flags.is_empty() || !flags.chars().all(options) {
            return None;
        }
        self.at += flags.len();
        if self.eat(')') {
            return Some(Item::Assertion);
        }
        if self.eat(':') {
            return self.group_body(Item::Group);
        }
        None
    }

    fn group_body(&mut self, make: impl Fn(Alt) -> Item) -> Option<Item> {
        let alt = self.alternation()?;
        self.eat(')').then(|| make(alt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::pcre::Pcre;

    fn lits(pattern: &str) -> Vec<Vec<String>> {
        factors(pattern)
            .into_iter()
            .map(|f| {
                f.into_iter()
                    .map(|l| String::from_utf8_lossy(&l).into_owned())
                    .collect()
            })
            .collect()
    }

    /// Every value the pattern matches holds one alternative of each factor (checked with
    /// PCRE itself, ASCII case-insensitively as the index searches).
    fn assert_sound(pattern: &str, matching: &[&str]) {
        let re = Pcre::new(pattern, 0).expect("valid pattern");
        for value in matching {
            assert!(
                re.is_match(value.as_bytes()),
                "{pattern} should match {value:?}"
            );
            let folded = value.to_ascii_lowercase();
            for factor in factors(pattern) {
                assert!(
                    factor.iter().any(|l| folded
                        .as_bytes()
                        .windows(l.len())
                        .any(|w| w == l.as_slice())),
                    "{pattern}: {value:?} holds none of {factor:?}"
                );
            }
        }
    }

    #[test]
    fn literal_runs_between_metacharacters() {
        assert_eq!(lits(r"ipconfig\s+/all"), [["ipconfig"], ["/all"]]);
        assert_eq!(
            lits(r"\$PSHome\[\s*\d{1,3}\s*\]\s*\+\s*\$PSHome\["),
            [["$pshome["], ["$pshome["]]
        );
        assert_eq!(lits(r"\x{202E}"), [["\u{202e}"]]);
        assert_eq!(lits(r"a\.exe\x20b"), [["a.exe b"]]);
        assert_eq!(lits(r"a.exe"), [["exe"]]);
        // An optional character ends the literal before it; `+` keeps one copy.
        assert_eq!(lits(r"abcd?efgh"), [["abc"], ["efgh"]]);
        assert_eq!(lits(r"abcd+efg"), [["abcd"], ["efg"]]);
        assert_eq!(lits(r"abc{2,}def"), [["abc"], ["def"]]);
        assert_eq!(lits(r"abc{0,2}def"), [["def"]]);
    }

    #[test]
    fn alternations_unite_each_branch_best_literal() {
        assert_eq!(
            lits(r"ipconfig\s+/all|arp\s+-a|route\s+print"),
            [["arp", "ipconfig", "print"]]
        );
        assert_eq!(lits(r"x(?:alpha|beta)y"), [["alpha", "beta"]]);
        // A branch without a literal leaves the alternation without one.
        assert!(lits(r"(?:alpha|\d+)").is_empty());
        // Optional groups give nothing.
        assert_eq!(lits(r"(?:alpha)?betas"), [["betas"]]);
    }

    #[test]
    fn caseless_patterns_keep_only_what_ascii_folding_finds() {
        // `k` and `s` also match the Kelvin sign and the long s in PCRE's UTF mode.
        assert_eq!(
            lits(r"(?i)werfaultsecure\.exe"),
            [["werfault"], ["ecure.exe"]]
        );
        assert_eq!(lits(r"(?i)caf\x{e9}s"), [["caf"]]);
        assert_eq!(lits(r"cafés"), [["cafés"]]);
    }

    #[test]
    fn what_is_not_understood_gives_nothing() {
        for pattern in [
            r"(abc)\1",
            r"\Qabc\E",
            r"\p{L}abc",
            r"(?x) a b c",
            r"a{,3}bcd",
            r"(?(1)abc|def)",
            r"(?R)abc",
            r"(?|abc)",
            r"(*SKIP)abc",
            r"abc(*SKIP)def",
            r"abc(",
        ] {
            assert!(lits(pattern).is_empty(), "{pattern}: {:?}", lits(pattern));
        }
        // Braces that are no quantifier are literal text, as PCRE reads them.
        assert_eq!(lits(r"\d{x}abc"), [["{x}abc"]]);
    }

    #[test]
    fn extracted_literals_are_in_every_match() {
        assert_sound(
            r"ipconfig\s+/all|arp\s+-a",
            &["x ipconfig  /all", "x arp -a"],
        );
        assert_sound(r"(?i)ipconfig\s+/all", &["IPCONFIG  /ALL"]);
        assert_sound(
            r#"(?i)\.exe[\"\']?\s+[^\"]{0,64}werfaultsecure\.exe[\"\']?\s+\d{2,10}"#,
            &["wsass.exe C:\\x\\WerFaultSecure.EXE\" 123"],
        );
        assert_sound(
            r"cmd.{0,5}(?:/c|/r)(?:\s|)\x22set\s[a-zA-Z]{3,6}",
            &["cmd.exe /c\"set abcd"],
        );
        assert_sound(r"(*UCP)x(?<n>abc|abd)+y", &["xabdabcy"]);
        assert_sound(r"(?=.*needle)hay", &["hay needle"]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        /// Patterns built from the constructs the reader understands (and some it refuses),
        /// over values built from the same words: whenever PCRE matches, the value holds one
        /// alternative of every factor.
        #[test]
        fn every_match_holds_every_factor(
            pieces in proptest::collection::vec(0usize..PIECES.len(), 1..6),
            caseless in proptest::bool::ANY,
            words in proptest::collection::vec(0usize..WORDS.len(), 0..8),
            upper in proptest::collection::vec(proptest::bool::ANY, 12),
        ) {
            let body: String = pieces.iter().map(|&p| PIECES[p]).collect();
            let pattern = if caseless { format!("(?i){body}") } else { body };
            let Ok(re) = Pcre::new(&pattern, 0) else {
                return Ok(());
            };
            let value: String = words
                .iter()
                .zip(&upper)
                .map(|(&w, &up)| if up { WORDS[w].to_uppercase() } else { WORDS[w].to_string() })
                .collect();
            if re.is_match(value.as_bytes()) {
                let folded = value.to_ascii_lowercase();
                for factor in factors(&pattern) {
                    proptest::prop_assert!(
                        factor.iter().any(|l| folded
                            .as_bytes()
                            .windows(l.len())
                            .any(|w| w == l.as_slice())),
                        "{} on {:?}: none of {:?}", pattern, value, factor
                    );
                }
            }
        }
    }

    const PIECES: &[&str] = &[
        "net",
        "user",
        "net",
        "user",
        "cmd",
        ".*",
        ".*",
        "[a-z]*",
        "\\s?",
        "(?:net|user)+",
        "net",
        "user",
        "\\s+",
        "\\s*",
        ".",
        ".*",
        "[a-z]+",
        "\\.exe",
        "(?:cmd|ps)",
        "(?:x|)",
        "k",
        "s",
        "\\x{212A}",
        "é",
        "?",
        "+",
        "{1,2}",
        "{0,2}",
        "|",
        "(",
        ")",
        "\\d",
        "\\b",
        "(?=net)",
        "[^\\\"]",
        "\\Q.\\E",
        "\\1",
        "{",
        "}",
        "$",
        "^",
    ];

    const WORDS: &[&str] = &[
        "net", "user", " ", "  ", "cmd", "ps", ".exe", "x", "k", "s", "\u{212A}", "\u{17F}", "é",
        "É", "1", "\"", "a.exe", "netuser", "{", "}",
    ];
}
