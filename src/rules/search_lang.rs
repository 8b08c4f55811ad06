//! Parser for the SPL *search language*: the `tstats ... where` predicate and the argument
//! of the `search` command. Field comparisons, implicit AND, `AND`/`OR`/`NOT`, parentheses,
//! `IN (...)`. Field names are kept as written; resolving them is the compiler's job.

use super::error::SplError;
use super::pipeline::{quoted_end, unescape_quoted};

/// Comparison operators of the search language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Search-language syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchAst {
    /// `*` on its own: matches every row.
    MatchAll,
    And(Vec<SearchAst>),
    Or(Vec<SearchAst>),
    Not(Box<SearchAst>),
    /// `field op value`; `value` already unescaped; `*` in it is a wildcard for `=`/`!=`.
    Cmp {
        field: String,
        op: CmpOp,
        value: String,
        position: usize,
    },
    /// `field IN (v1, v2, ...)`: true if any value matches (wildcards allowed).
    In {
        field: String,
        values: Vec<String>,
        position: usize,
    },
}

/// Parses `text` (whose first byte sits at `base` in the expanded search).
pub fn parse_search(text: &str, base: usize) -> Result<SearchAst, SplError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        base,
    };
    p.skip_ws();
    if p.at_end() {
        return Ok(SearchAst::MatchAll);
    }
    let ast = p.or()?;
    p.skip_ws();
    if !p.at_end() {
        return Err(SplError::unsupported(
            p.snippet(),
            p.pos(),
            "unexpected text in search expression",
        ));
    }
    Ok(ast)
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    base: usize,
}

fn is_word_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace()
        || matches!(
            b,
            b'(' | b')' | b'=' | b'!' | b'<' | b'>' | b',' | b'"' | b'[' | b']' | b'|'
        ))
}

impl<'a> Parser<'a> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
    fn pos(&self) -> usize {
        self.base + self.i
    }
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn snippet(&self) -> String {
        let rest = &self.text[self.i.min(self.text.len())..];
        rest.chars().take(24).collect()
    }
    /// Peeks a bare word (keyword detection) without consuming it.
    fn peek_word(&self) -> &'a str {
        let mut j = self.i;
        while j < self.s.len() && is_word_byte(self.s[j]) {
            j += 1;
        }
        &self.text[self.i..j]
    }
    fn keyword(&mut self, kw: &str) -> bool {
        let w = self.peek_word();
        if w.eq_ignore_ascii_case(kw) {
            self.i += w.len();
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<SearchAst, SplError> {
        let mut items = vec![self.and()?];
        loop {
            self.skip_ws();
            if self.keyword("OR") {
                items.push(self.and()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            SearchAst::Or(items)
        })
    }

    fn and(&mut self) -> Result<SearchAst, SplError> {
        let mut items = vec![self.not()?];
        loop {
            self.skip_ws();
            if self.at_end() || self.s[self.i] == b')' {
                break;
            }
            let w = self.peek_word();
            if w.eq_ignore_ascii_case("OR") {
                break;
            }
            if w.eq_ignore_ascii_case("AND") {
                self.i += 3;
            }
            items.push(self.not()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            SearchAst::And(items)
        })
    }

    fn not(&mut self) -> Result<SearchAst, SplError> {
        self.skip_ws();
        if self.keyword("NOT") {
            return Ok(SearchAst::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<SearchAst, SplError> {
        self.skip_ws();
        if self.at_end() {
            return Err(SplError::unsupported(
                "<end>",
                self.pos(),
                "expression expected",
            ));
        }
        match self.s[self.i] {
            b'(' => {
                let open = self.pos();
                self.i += 1;
                let inner = self.or()?;
                self.skip_ws();
                if self.at_end() || self.s[self.i] != b')' {
                    return Err(SplError::unsupported("(", open, "unbalanced parenthesis"));
                }
                self.i += 1;
                Ok(inner)
            }
            b'[' => Err(SplError::not_row_level(
                "[subsearch]",
                self.pos(),
                "a subsearch needs other rows or a lookup",
            )),
            b'"' => self.quoted_field_comparison(),
            _ => self.comparison(),
        }
    }

    /// `"field name"=value`: a quoted string directly followed by an operator is a field name.
    fn quoted_field_comparison(&mut self) -> Result<SearchAst, SplError> {
        let start = self.pos();
        let end = quoted_end(self.s, self.i)
            .ok_or_else(|| SplError::unsupported("\"", start, "unterminated quoted string"))?;
        let field = unescape_quoted(&self.text[self.i + 1..end - 1]);
        let save = self.i;
        self.i = end;
        self.skip_ws();
        let Some(op) = self.operator() else {
            self.i = save;
            return Err(SplError::unsupported(
                self.snippet(),
                start,
                "free-text search term (matches _raw, not a field)",
            ));
        };
        self.skip_ws();
        let value = self.value(false)?;
        Ok(SearchAst::Cmp {
            field,
            op,
            value,
            position: start,
        })
    }

    fn comparison(&mut self) -> Result<SearchAst, SplError> {
        let start = self.pos();
        let field = self.peek_word();
        if field.is_empty() {
            return Err(SplError::unsupported(
                self.snippet(),
                start,
                "field name expected",
            ));
        }
        self.i += field.len();
        if field == "*" {
            return Ok(SearchAst::MatchAll);
        }
        let after_field = self.i;
        self.skip_ws();
        if self.keyword("IN") {
            self.skip_ws();
            if self.at_end() || self.s[self.i] != b'(' {
                return Err(SplError::unsupported(
                    "IN",
                    self.pos(),
                    "`(` expected after IN",
                ));
            }
            self.i += 1;
            let mut values = Vec::new();
            loop {
                self.skip_ws();
                if self.at_end() {
                    return Err(SplError::unsupported("IN (", start, "unterminated IN list"));
                }
                match self.s[self.i] {
                    b')' => {
                        self.i += 1;
                        break;
                    }
                    b',' => {
                        self.i += 1;
                    }
                    _ => values.push(self.value(true)?),
                }
            }
            return Ok(SearchAst::In {
                field: field.to_string(),
                values,
                position: start,
            });
        }
        let op = match self.operator() {
            Some(op) => op,
            None => {
                self.i = after_field;
                return Err(SplError::unsupported(
                    field.chars().take(40).collect::<String>(),
                    start,
                    "free-text search term (matches _raw, not a field)",
                ));
            }
        };
        self.skip_ws();
        let value = self.value(false)?;
        Ok(SearchAst::Cmp {
            field: field.to_string(),
            op,
            value,
            position: start,
        })
    }

    fn operator(&mut self) -> Option<CmpOp> {
        let rest = &self.s[self.i..];
        let (op, len) = if rest.starts_with(b"!=") {
            (CmpOp::Ne, 2)
        } else if rest.starts_with(b"<=") {
            (CmpOp::Le, 2)
        } else if rest.starts_with(b">=") {
            (CmpOp::Ge, 2)
        } else if rest.starts_with(b"==") {
            (CmpOp::Eq, 2)
        } else if rest.starts_with(b"=") {
            (CmpOp::Eq, 1)
        } else if rest.starts_with(b"<") {
            (CmpOp::Lt, 1)
        } else if rest.starts_with(b">") {
            (CmpOp::Gt, 1)
        } else {
            return None;
        };
        self.i += len;
        Some(op)
    }

    /// A quoted or bare value. Bare values end at whitespace, `)` (and `,` inside IN lists).
    fn value(&mut self, in_list: bool) -> Result<String, SplError> {
        if self.at_end() {
            return Err(SplError::unsupported("<end>", self.pos(), "value expected"));
        }
        if self.s[self.i] == b'"' {
            let end = quoted_end(self.s, self.i).ok_or_else(|| {
                SplError::unsupported("\"", self.pos(), "unterminated quoted string")
            })?;
            let body = &self.text[self.i + 1..end - 1];
            self.i = end;
            return Ok(unescape_quoted(body));
        }
        if self.s[self.i] == b'[' {
            return Err(SplError::not_row_level(
                "[subsearch]",
                self.pos(),
                "a subsearch needs other rows or a lookup",
            ));
        }
        let start = self.i;
        while self.i < self.s.len() {
            let b = self.s[self.i];
            if b.is_ascii_whitespace() || b == b')' || (in_list && b == b',') {
                break;
            }
            if b == b'\\' && self.i + 1 < self.s.len() {
                // Skip the escaped character whole (it may be multi-byte UTF-8).
                let next = self.text[self.i + 1..]
                    .chars()
                    .next()
                    .map_or(1, char::len_utf8);
                self.i += 1 + next;
                continue;
            }
            self.i += 1;
        }
        if self.i == start {
            return Err(SplError::unsupported(
                self.snippet(),
                self.pos(),
                "value expected",
            ));
        }
        Ok(unescape_quoted(&self.text[start..self.i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(f: &str, op: CmpOp, v: &str, p: usize) -> SearchAst {
        SearchAst::Cmp {
            field: f.into(),
            op,
            value: v.into(),
            position: p,
        }
    }

    #[test]
    fn implicit_and_or_not_parens_in() {
        let ast = parse_search(r#"(a="x y") b=*-a* OR NOT c!=3 d IN ("p", q*)"#, 0).unwrap();
        let expected = SearchAst::Or(vec![
            SearchAst::And(vec![
                cmp("a", CmpOp::Eq, "x y", 1),
                cmp("b", CmpOp::Eq, "*-a*", 10),
            ]),
            SearchAst::And(vec![
                SearchAst::Not(Box::new(cmp("c", CmpOp::Ne, "3", 24))),
                SearchAst::In {
                    field: "d".into(),
                    values: vec!["p".into(), "q*".into()],
                    position: 29,
                },
            ]),
        ]);
        assert_eq!(ast, expected);
    }

    #[test]
    fn spaces_around_operator() {
        let ast = parse_search(r#"Processes.process = "* portproxy *""#, 5).unwrap();
        assert_eq!(ast, cmp("Processes.process", CmpOp::Eq, "* portproxy *", 5));
    }

    #[test]
    fn errors_name_construct_and_position() {
        let e = parse_search("a=1 foo", 100).unwrap_err();
        assert_eq!(e.construct(), "foo");
        assert!(matches!(e, SplError::Unsupported { position: 104, .. }));
        let e = parse_search("a IN (1", 0).unwrap_err();
        assert!(e.to_string().contains("unterminated"));
        assert!(parse_search("a=[| inputlookup x]", 0)
            .unwrap_err()
            .is_not_row_level());
    }
}
