//! Parser for the SPL *search language*: the `tstats ... where` predicate and the argument
//! of the `search` command. Field comparisons, implicit AND, `AND`/`OR`/`NOT`, parentheses,
//! `IN (...)`. Field names are kept as written; resolving them is the compiler's job.
//!
//! Precedence is the search command's, not eval's: NOT, then OR, then AND, so
//! `a=1 b=2 OR c=3` is `a=1 AND (b=2 OR c=3)` (Search Manual, "Boolean expressions with
//! logical operators").

use super::error::SplError;
use super::lexer::{byte_table, Cursor};
use super::pipeline::unescape_quoted;

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

/// A parsed predicate, and where it leans on the OR-before-AND rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub ast: SearchAst,
    /// Positions of each unparenthesized `OR` that sits in an AND (explicit or implied)
    /// list: the places where reading AND before OR (as `where` does) would change the meaning.
    pub or_in_and: Vec<usize>,
}

/// Parses `text` (whose first byte sits at `base` in the expanded search).
pub fn parse_search(text: &str, base: usize) -> Result<SearchAst, SplError> {
    parse_search_noting(text, base).map(|p| p.ast)
}

/// [`parse_search`], also noting where the predicate depends on the OR-before-AND rule.
pub fn parse_search_noting(text: &str, base: usize) -> Result<Parsed, SplError> {
    let mut p = Parser {
        c: Cursor::new(text, base, &WORD_BYTES),
        or_in_and: Vec::new(),
    };
    p.c.skip_ws();
    if p.c.at_end() {
        return Ok(Parsed {
            ast: SearchAst::MatchAll,
            or_in_and: Vec::new(),
        });
    }
    let ast = p.conjunction()?;
    p.c.skip_ws();
    if !p.c.at_end() {
        return Err(SplError::unsupported(
            p.c.snippet(),
            p.c.pos(),
            "unexpected text in search expression",
        ));
    }
    Ok(Parsed {
        ast,
        or_in_and: p.or_in_and,
    })
}

struct Parser<'a> {
    c: Cursor<'a>,
    or_in_and: Vec<usize>,
}

/// [`is_word_byte`] by byte.
static WORD_BYTES: [bool; 256] = byte_table!(b => is_word_byte(b));

/// Bytes of a bare word: everything but whitespace and the language's punctuation.
const fn is_word_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace()
        || matches!(
            b,
            b'(' | b')' | b'=' | b'!' | b'<' | b'>' | b',' | b'"' | b'[' | b']' | b'|'
        ))
}

/// Comparison operators, longest first.
const OPERATORS: &[(&str, CmpOp)] = &[
    ("!=", CmpOp::Ne),
    ("<=", CmpOp::Le),
    (">=", CmpOp::Ge),
    ("==", CmpOp::Eq),
    ("=", CmpOp::Eq),
    ("<", CmpOp::Lt),
    (">", CmpOp::Gt),
];

fn one_or_many(mut items: Vec<SearchAst>, many: fn(Vec<SearchAst>) -> SearchAst) -> SearchAst {
    if items.len() == 1 {
        items.remove(0)
    } else {
        many(items)
    }
}

impl Parser<'_> {
    // The grammar, one function per row of the Search Manual's table ("Boolean expressions
    // with logical operators", Order of evaluation, search command): 1 parentheses
    // (`primary`), 2 NOT (`negation`), 3 OR (`disjunction`), 4 AND, explicit or implied
    // (`conjunction`). Operators must be capitalized: `or` is a search term, not OR.

    /// `d1 [AND] d2 [AND] ...`: AND binds loosest.
    fn conjunction(&mut self) -> Result<SearchAst, SplError> {
        let mut items = Vec::new();
        let mut bare_ors = Vec::new();
        loop {
            let (item, or_at) = self.disjunction()?;
            items.push(item);
            bare_ors.extend(or_at);
            self.c.skip_ws();
            if self.c.at_end() || self.c.peek() == Some(b')') {
                break;
            }
            self.c.keyword("AND");
        }
        if items.len() > 1 {
            self.or_in_and.extend(bare_ors);
        }
        Ok(one_or_many(items, SearchAst::And))
    }

    /// `n1 OR n2 OR ...`, and the position of its first `OR` if it has one.
    fn disjunction(&mut self) -> Result<(SearchAst, Option<usize>), SplError> {
        let mut items = vec![self.negation()?];
        let mut first_or = None;
        loop {
            self.c.skip_ws();
            let at = self.c.pos();
            if !self.c.keyword("OR") {
                break;
            }
            first_or.get_or_insert(at);
            items.push(self.negation()?);
        }
        Ok((one_or_many(items, SearchAst::Or), first_or))
    }

    /// `NOT x` applies to the term immediately following.
    fn negation(&mut self) -> Result<SearchAst, SplError> {
        self.c.skip_ws();
        if self.c.keyword("NOT") {
            return Ok(SearchAst::Not(Box::new(self.negation()?)));
        }
        self.primary()
    }

    /// `( conjunction )` or one comparison.
    fn primary(&mut self) -> Result<SearchAst, SplError> {
        self.c.skip_ws();
        match self.c.peek() {
            None => Err(SplError::unsupported(
                "<end>",
                self.c.pos(),
                "expression expected",
            )),
            Some(b'(') => {
                let open = self.c.pos();
                self.c.i += 1;
                let inner = self.conjunction()?;
                self.c.skip_ws();
                if !self.c.eat(")") {
                    return Err(SplError::unsupported("(", open, "unbalanced parenthesis"));
                }
                Ok(inner)
            }
            Some(b'[') => Err(self.c.subsearch_error()),
            Some(b'"') => self.quoted_field_comparison(),
            Some(_) => self.comparison(),
        }
    }

    /// `"field name"=value`: a quoted string directly followed by an operator is a field name.
    fn quoted_field_comparison(&mut self) -> Result<SearchAst, SplError> {
        let start = self.c.pos();
        let save = self.c.i;
        let field = self.c.quoted()?;
        self.c.skip_ws();
        let Some(op) = self.c.operator(OPERATORS) else {
            self.c.i = save;
            return Err(SplError::unsupported(
                self.c.snippet(),
                start,
                "free-text search term (matches _raw, not a field)",
            ));
        };
        self.c.skip_ws();
        let value = self.value(false)?;
        Ok(SearchAst::Cmp {
            field,
            op,
            value,
            position: start,
        })
    }

    /// `field op value` or `field IN (v1, v2, ...)`.
    fn comparison(&mut self) -> Result<SearchAst, SplError> {
        let start = self.c.pos();
        let field = self.c.word();
        if field.is_empty() {
            return Err(SplError::unsupported(
                self.c.snippet(),
                start,
                "field name expected",
            ));
        }
        self.c.i += field.len();
        if field == "*" {
            return Ok(SearchAst::MatchAll);
        }
        self.c.skip_ws();
        if self.c.keyword("IN") {
            let values = self.in_list(start)?;
            return Ok(SearchAst::In {
                field: field.to_string(),
                values,
                position: start,
            });
        }
        let Some(op) = self.c.operator(OPERATORS) else {
            return Err(SplError::unsupported(
                field.chars().take(40).collect::<String>(),
                start,
                "free-text search term (matches _raw, not a field)",
            ));
        };
        self.c.skip_ws();
        let value = self.value(false)?;
        Ok(SearchAst::Cmp {
            field: field.to_string(),
            op,
            value,
            position: start,
        })
    }

    /// `(v1, v2, ...)` after `IN`.
    fn in_list(&mut self, start: usize) -> Result<Vec<String>, SplError> {
        self.c.skip_ws();
        if !self.c.eat("(") {
            return Err(SplError::unsupported(
                "IN",
                self.c.pos(),
                "`(` expected after IN",
            ));
        }
        let mut values = Vec::new();
        loop {
            self.c.skip_ws();
            match self.c.peek() {
                None => return Err(SplError::unsupported("IN (", start, "unterminated IN list")),
                Some(b')') => {
                    self.c.i += 1;
                    return Ok(values);
                }
                Some(b',') => self.c.i += 1,
                Some(_) => values.push(self.value(true)?),
            }
        }
    }

    /// A quoted or bare value. A bare value ends at whitespace, at a `)` that closes a
    /// parenthesis opened before it (`(a=*x*)`), and at `,` inside IN lists; parentheses it
    /// opens itself are part of it (`process=*GetCurrent()*`, as ESCU writes it).
    fn value(&mut self, in_list: bool) -> Result<String, SplError> {
        match self.c.peek() {
            None => {
                return Err(SplError::unsupported(
                    "<end>",
                    self.c.pos(),
                    "value expected",
                ))
            }
            Some(b'"') => return self.c.quoted(),
            Some(b'[') => return Err(self.c.subsearch_error()),
            Some(_) => {}
        }
        let start = self.c.i;
        let mut depth = 0usize;
        while let Some(b) = self.c.peek() {
            match b {
                b if b.is_ascii_whitespace() => break,
                b',' if in_list && depth == 0 => break,
                b')' if depth == 0 => break,
                b')' => depth -= 1,
                b'(' => depth += 1,
                b'\\' if self.c.i + 1 < self.c.s.len() => {
                    // Skip the escaped character whole (it may be multi-byte UTF-8).
                    let next = self.c.text[self.c.i + 1..]
                        .chars()
                        .next()
                        .map_or(1, char::len_utf8);
                    self.c.i += next;
                }
                _ => {}
            }
            self.c.i += 1;
        }
        if self.c.i == start {
            return Err(SplError::unsupported(
                self.c.snippet(),
                self.c.pos(),
                "value expected",
            ));
        }
        Ok(unescape_quoted(&self.c.text[start..self.c.i]))
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

    /// Search Manual, "Boolean expressions with logical operators": the search command
    /// evaluates NOT, then OR, then AND (explicit or implied), so `b OR NOT c` groups before
    /// the implied ANDs around it.
    #[test]
    fn implicit_and_or_not_parens_in() {
        let text = r#"(a="x y") b=*-a* OR NOT c!=3 d IN ("p", q*)"#;
        let parsed = parse_search_noting(text, 0).unwrap();
        let expected = SearchAst::And(vec![
            cmp("a", CmpOp::Eq, "x y", 1),
            SearchAst::Or(vec![
                cmp("b", CmpOp::Eq, "*-a*", 10),
                SearchAst::Not(Box::new(cmp("c", CmpOp::Ne, "3", 24))),
            ]),
            SearchAst::In {
                field: "d".into(),
                values: vec!["p".into(), "q*".into()],
                position: 29,
            },
        ]);
        assert_eq!(parsed.ast, expected);
        assert_eq!(parsed.or_in_and, vec![17], "the OR between implied ANDs");
        let grouped = parse_search_noting("a=1 (b=2 OR c=3)", 0).unwrap();
        assert!(grouped.or_in_and.is_empty(), "parentheses settle it");
        let only_or = parse_search_noting("a=1 OR b=2 OR c=3", 0).unwrap();
        assert!(only_or.or_in_and.is_empty(), "no AND to mix with");
    }

    #[test]
    fn operators_must_be_capitalized() {
        let e = parse_search("a=1 or b=2", 0).unwrap_err();
        assert_eq!(e.construct(), "or");
        let e = parse_search("a IN (1)", 0).unwrap();
        assert!(matches!(e, SearchAst::In { .. }));
        // `a in (1)` is three search terms; the first is free text.
        let e = parse_search("a in (1)", 0).unwrap_err();
        assert!(e.to_string().contains("free-text"), "{e}");
    }

    #[test]
    fn bare_values_keep_their_own_parentheses() {
        let ast = parse_search("(p=*GetCurrent()* q=x) r=(y)z", 0).unwrap();
        let SearchAst::And(items) = ast else {
            panic!("{ast:?}")
        };
        assert_eq!(
            items[0],
            SearchAst::And(vec![
                cmp("p", CmpOp::Eq, "*GetCurrent()*", 1),
                cmp("q", CmpOp::Eq, "x", 18)
            ])
        );
        assert_eq!(items[1], cmp("r", CmpOp::Eq, "(y)z", 23));
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
