//! Parser for the SPL *eval expression language*, used by `where` and `eval`:
//! literals, fields, function calls, arithmetic, `.` concatenation, comparisons,
//! `AND`/`OR`/`NOT`/`XOR`, `LIKE`. Field names are resolved later by the compiler.

use super::error::SplError;
use super::pipeline::{quoted_end, unescape_quoted};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    Xor,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Like,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
}

/// Eval syntax tree. `position` is a byte offset in the expanded search.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalAst {
    Num(f64),
    Str(String),
    Field {
        name: String,
        position: usize,
    },
    Call {
        name: String,
        args: Vec<EvalAst>,
        position: usize,
    },
    Bin {
        op: BinOp,
        left: Box<EvalAst>,
        right: Box<EvalAst>,
    },
    Not(Box<EvalAst>),
    Neg(Box<EvalAst>),
}

/// Parses one expression that must span all of `text`.
pub fn parse_expr(text: &str, base: usize) -> Result<EvalAst, SplError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        base,
    };
    let e = p.expr()?;
    p.skip_ws();
    if p.i < p.s.len() {
        return Err(SplError::unsupported(
            p.snippet(),
            p.pos(),
            "unexpected text in eval expression",
        ));
    }
    Ok(e)
}

/// Parses the argument of `eval`: `name = expr (, name = expr)*`.
pub fn parse_assignments(text: &str, base: usize) -> Result<Vec<(String, EvalAst)>, SplError> {
    let mut p = Parser {
        s: text.as_bytes(),
        text,
        i: 0,
        base,
    };
    let mut out = Vec::new();
    loop {
        p.skip_ws();
        let start = p.pos();
        let name = p.field_name().ok_or_else(|| {
            SplError::unsupported(p.snippet(), p.pos(), "eval: field name expected")
        })?;
        p.skip_ws();
        if !(p.s.get(p.i) == Some(&b'=') && p.s.get(p.i + 1) != Some(&b'=')) {
            return Err(SplError::unsupported(
                name,
                start,
                "eval: `=` expected after field name",
            ));
        }
        p.i += 1;
        let e = p.expr()?;
        out.push((name, e));
        p.skip_ws();
        if p.s.get(p.i) == Some(&b',') {
            p.i += 1;
            continue;
        }
        if p.i < p.s.len() {
            return Err(SplError::unsupported(
                p.snippet(),
                p.pos(),
                "eval: `,` or end expected",
            ));
        }
        return Ok(out);
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    i: usize,
    base: usize,
}

impl<'a> Parser<'a> {
    fn pos(&self) -> usize {
        self.base + self.i
    }
    fn snippet(&self) -> String {
        self.text[self.i.min(self.text.len())..]
            .chars()
            .take(24)
            .collect()
    }
    fn skip_ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }
    fn word_at(&self) -> &'a str {
        let mut j = self.i;
        while j < self.s.len() && (self.s[j].is_ascii_alphanumeric() || self.s[j] == b'_') {
            j += 1;
        }
        &self.text[self.i..j]
    }
    fn keyword(&mut self, kw: &str) -> bool {
        self.skip_ws();
        let w = self.word_at();
        if w.eq_ignore_ascii_case(kw) {
            self.i += w.len();
            true
        } else {
            false
        }
    }
    fn field_name(&mut self) -> Option<String> {
        if self.s.get(self.i) == Some(&b'\'') {
            let end = self.text[self.i + 1..].find('\'')? + self.i + 1;
            let name = self.text[self.i + 1..end].to_string();
            self.i = end + 1;
            return Some(name);
        }
        let w = self.word_at();
        if w.is_empty() || w.as_bytes()[0].is_ascii_digit() {
            return None;
        }
        self.i += w.len();
        Some(w.to_string())
    }
    fn sym(&mut self, sym: &str) -> bool {
        self.skip_ws();
        if self.s[self.i..].starts_with(sym.as_bytes()) {
            self.i += sym.len();
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<EvalAst, SplError> {
        let mut left = self.xor()?;
        while self.keyword("OR") || self.sym("||") {
            let right = self.xor()?;
            left = bin(BinOp::Or, left, right);
        }
        Ok(left)
    }
    fn xor(&mut self) -> Result<EvalAst, SplError> {
        let mut left = self.and()?;
        while self.keyword("XOR") {
            let right = self.and()?;
            left = bin(BinOp::Xor, left, right);
        }
        Ok(left)
    }
    fn and(&mut self) -> Result<EvalAst, SplError> {
        let mut left = self.not()?;
        while self.keyword("AND") || self.sym("&&") {
            let right = self.not()?;
            left = bin(BinOp::And, left, right);
        }
        Ok(left)
    }
    fn not(&mut self) -> Result<EvalAst, SplError> {
        if self.keyword("NOT") {
            return Ok(EvalAst::Not(Box::new(self.not()?)));
        }
        self.skip_ws();
        if self.s[self.i..].starts_with(b"!") && !self.s[self.i..].starts_with(b"!=") {
            self.i += 1;
            return Ok(EvalAst::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }
    fn comparison(&mut self) -> Result<EvalAst, SplError> {
        let left = self.concat()?;
        self.skip_ws();
        if self.word_at().eq_ignore_ascii_case("IN") {
            let save = self.i;
            self.i += 2;
            if self.sym("(") {
                // `x IN (a, b)` ≡ `x == a OR x == b`
                let mut alternatives: Option<EvalAst> = None;
                loop {
                    let item = self.concat()?;
                    let test = bin(BinOp::Eq, left.clone(), item);
                    alternatives = Some(match alternatives {
                        None => test,
                        Some(prev) => bin(BinOp::Or, prev, test),
                    });
                    if self.sym(",") {
                        continue;
                    }
                    if self.sym(")") {
                        break;
                    }
                    return Err(SplError::unsupported(
                        "IN (",
                        self.pos(),
                        "`,` or `)` expected",
                    ));
                }
                return alternatives
                    .ok_or_else(|| SplError::unsupported("IN ()", self.pos(), "empty IN list"));
            }
            self.i = save;
        }
        let rest = &self.s[self.i..];
        let (op, len) = if rest.starts_with(b"==") {
            (BinOp::Eq, 2)
        } else if rest.starts_with(b"!=") {
            (BinOp::Ne, 2)
        } else if rest.starts_with(b"<=") {
            (BinOp::Le, 2)
        } else if rest.starts_with(b">=") {
            (BinOp::Ge, 2)
        } else if rest.starts_with(b"=") {
            (BinOp::Eq, 1)
        } else if rest.starts_with(b"<") {
            (BinOp::Lt, 1)
        } else if rest.starts_with(b">") {
            (BinOp::Gt, 1)
        } else if self.word_at().eq_ignore_ascii_case("LIKE") {
            (BinOp::Like, 4)
        } else {
            return Ok(left);
        };
        self.i += len;
        let right = self.concat()?;
        Ok(bin(op, left, right))
    }
    fn concat(&mut self) -> Result<EvalAst, SplError> {
        let mut left = self.additive()?;
        loop {
            self.skip_ws();
            if self.s.get(self.i) == Some(&b'.')
                && !self.s.get(self.i + 1).is_some_and(|b| b.is_ascii_digit())
            {
                self.i += 1;
                let right = self.additive()?;
                left = bin(BinOp::Concat, left, right);
            } else {
                return Ok(left);
            }
        }
    }
    fn additive(&mut self) -> Result<EvalAst, SplError> {
        let mut left = self.multiplicative()?;
        loop {
            self.skip_ws();
            let op = match self.s.get(self.i) {
                Some(b'+') => BinOp::Add,
                Some(b'-') => BinOp::Sub,
                _ => return Ok(left),
            };
            self.i += 1;
            let right = self.multiplicative()?;
            left = bin(op, left, right);
        }
    }
    fn multiplicative(&mut self) -> Result<EvalAst, SplError> {
        let mut left = self.unary()?;
        loop {
            self.skip_ws();
            let op = match self.s.get(self.i) {
                Some(b'*') => BinOp::Mul,
                Some(b'/') => BinOp::Div,
                Some(b'%') => BinOp::Mod,
                _ => return Ok(left),
            };
            self.i += 1;
            let right = self.unary()?;
            left = bin(op, left, right);
        }
    }
    fn unary(&mut self) -> Result<EvalAst, SplError> {
        self.skip_ws();
        if self.s.get(self.i) == Some(&b'-') {
            self.i += 1;
            return Ok(EvalAst::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<EvalAst, SplError> {
        self.skip_ws();
        let start = self.pos();
        let Some(&b) = self.s.get(self.i) else {
            return Err(SplError::unsupported("<end>", start, "expression expected"));
        };
        match b {
            b'(' => {
                self.i += 1;
                let e = self.expr()?;
                if !self.sym(")") {
                    return Err(SplError::unsupported("(", start, "unbalanced parenthesis"));
                }
                Ok(e)
            }
            b'"' => {
                let end = quoted_end(self.s, self.i)
                    .ok_or_else(|| SplError::unsupported("\"", start, "unterminated string"))?;
                let body = unescape_quoted(&self.text[self.i + 1..end - 1]);
                self.i = end;
                Ok(EvalAst::Str(body))
            }
            b'0'..=b'9' => {
                let mut j = self.i;
                while j < self.s.len() && (self.s[j].is_ascii_digit() || self.s[j] == b'.') {
                    j += 1;
                }
                let text = &self.text[self.i..j];
                let n: f64 = text
                    .parse()
                    .map_err(|_| SplError::unsupported(text, start, "invalid number"))?;
                self.i = j;
                Ok(EvalAst::Num(n))
            }
            b'[' => Err(SplError::not_row_level(
                "[subsearch]",
                start,
                "a subsearch needs other rows or a lookup",
            )),
            _ => {
                let name = self.field_name().ok_or_else(|| {
                    SplError::unsupported(self.snippet(), start, "operand expected")
                })?;
                self.skip_ws();
                if self.s.get(self.i) == Some(&b'(') && !self.text[..self.i].ends_with('\'') {
                    self.i += 1;
                    let mut args = Vec::new();
                    if !self.sym(")") {
                        loop {
                            args.push(self.expr()?);
                            if self.sym(",") {
                                continue;
                            }
                            if self.sym(")") {
                                break;
                            }
                            return Err(SplError::unsupported(
                                name,
                                start,
                                "`,` or `)` expected in call",
                            ));
                        }
                    }
                    return Ok(EvalAst::Call {
                        name: name.to_ascii_lowercase(),
                        args,
                        position: start,
                    });
                }
                Ok(EvalAst::Field {
                    name,
                    position: start,
                })
            }
        }
    }
}

fn bin(op: BinOp, left: EvalAst, right: EvalAst) -> EvalAst {
    EvalAst::Bin {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_calls() {
        let e = parse_expr(r#"match(process, "(?i)a\.b") AND x != y OR len(p) > 3"#, 0).unwrap();
        match e {
            EvalAst::Bin {
                op: BinOp::Or,
                left,
                ..
            } => {
                assert!(matches!(*left, EvalAst::Bin { op: BinOp::And, .. }))
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn assignments_and_concat() {
        let a = parse_assignments("a = x . \"-\" . y, b=if(c==\"1\", 1, 0)", 0).unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].0, "a");
        assert!(matches!(
            a[0].1,
            EvalAst::Bin {
                op: BinOp::Concat,
                ..
            }
        ));
    }

    #[test]
    fn error_position() {
        let e = parse_expr("a = = b", 10).unwrap_err();
        assert!(
            matches!(e, SplError::Unsupported { position: 14, .. }),
            "{e:?}"
        );
    }
}
