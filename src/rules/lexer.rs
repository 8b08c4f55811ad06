//! The cursor both SPL expression parsers read with (the search language of `tstats where` /
//! `search`, and the eval language of `where` / `eval`): position, whitespace, words and
//! keywords, operators, quoted strings, and error snippets. The two grammars differ only in
//! what a *word* is and in their rules, which live in `search_lang` and `eval_lang`.

use super::error::SplError;
use super::pipeline::{quoted_end, unescape_quoted};

/// A table by byte of `$test`, an expression of the byte `$byte: u8`, worked out by the
/// compiler: one load where a test per byte would branch.
macro_rules! byte_table {
    ($byte:ident => $test:expr) => {{
        let mut table = [false; 256];
        let mut b = 0;
        while b < 256 {
            let $byte = b as u8;
            table[b] = $test;
            b += 1;
        }
        table
    }};
}
pub(crate) use byte_table;

/// Which bytes make up a word (a bare value, field name or keyword): a table by byte, read
/// inline where a function pointer was called per byte.
pub(super) type WordByte = &'static [bool; 256];

/// A read position in one expression whose first byte sits at `base` in the expanded search.
pub(super) struct Cursor<'a> {
    pub text: &'a str,
    pub s: &'a [u8],
    pub i: usize,
    base: usize,
    is_word: WordByte,
}

impl<'a> Cursor<'a> {
    pub fn new(text: &'a str, base: usize, is_word: WordByte) -> Self {
        Cursor {
            text,
            s: text.as_bytes(),
            i: 0,
            base,
            is_word,
        }
    }

    pub fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    /// The byte under the cursor.
    pub fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Position of the cursor in the expanded search (for errors).
    pub fn pos(&self) -> usize {
        self.base + self.i
    }

    pub fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    /// The next few characters, to name what stopped the parser.
    pub fn snippet(&self) -> String {
        self.text[self.i.min(self.text.len())..]
            .chars()
            .take(24)
            .collect()
    }

    /// The word under the cursor (possibly empty), not consumed.
    pub fn word(&self) -> &'a str {
        let mut j = self.i;
        while j < self.s.len() && self.is_word[usize::from(self.s[j])] {
            j += 1;
        }
        &self.text[self.i..j]
    }

    /// Consumes the word `kw` if it is the whole word under the cursor, compared exactly
    /// (the search language's operators must be capitalized).
    pub fn keyword(&mut self, kw: &str) -> bool {
        self.take_word_if(|w| w == kw)
    }

    /// Consumes the word `kw` in any case (the eval language's `and`, `or`, ...).
    pub fn keyword_any_case(&mut self, kw: &str) -> bool {
        self.take_word_if(|w| w.eq_ignore_ascii_case(kw))
    }

    fn take_word_if(&mut self, test: impl Fn(&str) -> bool) -> bool {
        let w = self.word();
        if !w.is_empty() && test(w) {
            self.i += w.len();
            true
        } else {
            false
        }
    }

    /// True if the text at the cursor starts with `sym`.
    pub fn looking_at(&self, sym: &str) -> bool {
        self.s[self.i.min(self.s.len())..].starts_with(sym.as_bytes())
    }

    /// Consumes `sym` if the text at the cursor starts with it.
    pub fn eat(&mut self, sym: &str) -> bool {
        let hit = self.looking_at(sym);
        if hit {
            self.i += sym.len();
        }
        hit
    }

    /// The first of `ops` (longest first) the text at the cursor starts with, consumed.
    pub fn operator<T: Copy>(&mut self, ops: &[(&str, T)]) -> Option<T> {
        let (sym, op) = ops.iter().find(|(sym, _)| self.looking_at(sym))?;
        self.i += sym.len();
        Some(*op)
    }

    /// A double-quoted string at the cursor, unescaped (`\\` and `\"`).
    pub fn quoted(&mut self) -> Result<String, SplError> {
        let end = quoted_end(self.s, self.i)
            .ok_or_else(|| SplError::unsupported("\"", self.pos(), "unterminated quoted string"))?;
        let body = unescape_quoted(&self.text[self.i + 1..end - 1]);
        self.i = end;
        Ok(body)
    }

    /// The error for a subsearch (`[...]`) at the cursor.
    pub fn subsearch_error(&self) -> SplError {
        SplError::not_row_level(
            "[subsearch]",
            self.pos(),
            "a subsearch needs other rows or a lookup",
        )
    }
}
