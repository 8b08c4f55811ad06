//! Parser for the SPL *eval expression language*, used by `where` and `eval`:
//! literals, fields, function calls, arithmetic, `.` concatenation, comparisons,
//! `AND`/`OR`/`NOT`/`XOR`, `LIKE`. Field names are resolved later by the compiler.

use super::error::SplError;
use super::lexer::{byte_table, Cursor};

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
    let mut p = Parser::new(text, base);
    let e = p.expr()?;
    p.c.skip_ws();
    if !p.c.at_end() {
        return Err(SplError::unsupported(
            p.c.snippet(),
            p.c.pos(),
            "unexpected text in eval expression",
        ));
    }
    Ok(e)
}

/// Parses the argument of `eval`: `name = expr (, name = expr)*`.
pub fn parse_assignments(text: &str, base: usize) -> Result<Vec<(String, EvalAst)>, SplError> {
    let mut p = Parser::new(text, base);
    let mut out = Vec::new();
    loop {
        p.c.skip_ws();
        let start = p.c.pos();
        let name = p.field_name().ok_or_else(|| {
            SplError::unsupported(p.c.snippet(), p.c.pos(), "eval: field name expected")
        })?;
        p.c.skip_ws();
        if p.c.looking_at("==") || !p.c.eat("=") {
            return Err(SplError::unsupported(
                name,
                start,
                "eval: `=` expected after field name",
            ));
        }
        out.push((name, p.expr()?));
        p.c.skip_ws();
        if p.c.eat(",") {
            continue;
        }
        if !p.c.at_end() {
            return Err(SplError::unsupported(
                p.c.snippet(),
                p.c.pos(),
                "eval: `,` or end expected",
            ));
        }
        return Ok(out);
    }
}

struct Parser<'a> {
    c: Cursor<'a>,
}

/// [`is_word_byte`] by byte.
static WORD_BYTES: [bool; 256] = byte_table!(b => is_word_byte(b));

/// Bytes of an eval word (field name, function name, keyword).
const fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Comparison operators, longest first (`LIKE` is a keyword, read separately).
const COMPARISONS: &[(&str, BinOp)] = &[
    ("==", BinOp::Eq),
    ("!=", BinOp::Ne),
    ("<=", BinOp::Le),
    (">=", BinOp::Ge),
    ("=", BinOp::Eq),
    ("<", BinOp::Lt),
    (">", BinOp::Gt),
];

impl<'a> Parser<'a> {
    fn new(text: &'a str, base: usize) -> Self {
        Parser {
            c: Cursor::new(text, base, &WORD_BYTES),
        }
    }

    /// A keyword in any case (ESCU writes `where a and b`), after whitespace.
    fn keyword(&mut self, kw: &str) -> bool {
        self.c.skip_ws();
        self.c.keyword_any_case(kw)
    }

    /// A symbol, after whitespace.
    fn sym(&mut self, sym: &str) -> bool {
        self.c.skip_ws();
        self.c.eat(sym)
    }

    fn field_name(&mut self) -> Option<String> {
        if self.c.peek() == Some(b'\'') {
            let close = self.c.text[self.c.i + 1..].find('\'')? + self.c.i + 1;
            let name = self.c.text[self.c.i + 1..close].to_string();
            self.c.i = close + 1;
            return Some(name);
        }
        let w = self.c.word();
        if w.is_empty() || w.as_bytes()[0].is_ascii_digit() {
            return None;
        }
        self.c.i += w.len();
        Some(w.to_string())
    }

    // The Boolean grammar, one function per row of the Search Manual's table ("Boolean
    // expressions with logical operators", Order of evaluation, eval and where commands):
    // 1 parentheses (`primary`), 2 NOT (`not`), 3 AND (`and`), 4 OR (`or`), 5 XOR (`expr`).

    /// `o1 XOR o2 ...`: XOR binds loosest.
    fn expr(&mut self) -> Result<EvalAst, SplError> {
        let mut left = self.or()?;
        while self.keyword("XOR") {
            let right = self.or()?;
            left = bin(BinOp::Xor, left, right);
        }
        Ok(left)
    }
    fn or(&mut self) -> Result<EvalAst, SplError> {
        let mut left = self.and()?;
        while self.keyword("OR") || self.sym("||") {
            let right = self.and()?;
            left = bin(BinOp::Or, left, right);
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
        self.c.skip_ws();
        if self.c.looking_at("!") && !self.c.looking_at("!=") {
            self.c.i += 1;
            return Ok(EvalAst::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    /// `x op y`, `x LIKE y`, `x IN (a, b)`; no chaining.
    fn comparison(&mut self) -> Result<EvalAst, SplError> {
        let left = self.concat()?;
        self.c.skip_ws();
        let save = self.c.i;
        if self.c.keyword_any_case("IN") {
            if self.sym("(") {
                return self.in_list(left);
            }
            self.c.i = save;
        }
        let op = match self.c.operator(COMPARISONS) {
            Some(op) => op,
            None if self.c.keyword_any_case("LIKE") => BinOp::Like,
            None => return Ok(left),
        };
        let right = self.concat()?;
        Ok(bin(op, left, right))
    }

    /// `x IN (a, b)` ≡ `x == a OR x == b`; the `(` is already read.
    fn in_list(&mut self, left: EvalAst) -> Result<EvalAst, SplError> {
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
                self.c.pos(),
                "`,` or `)` expected",
            ));
        }
        alternatives.ok_or_else(|| SplError::unsupported("IN ()", self.c.pos(), "empty IN list"))
    }

    fn concat(&mut self) -> Result<EvalAst, SplError> {
        let mut left = self.additive()?;
        loop {
            self.c.skip_ws();
            let next_is_digit = self.c.s.get(self.c.i + 1).is_some_and(u8::is_ascii_digit);
            if self.c.looking_at(".") && !next_is_digit {
                self.c.i += 1;
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
            self.c.skip_ws();
            let Some(op) = self.c.operator(&[("+", BinOp::Add), ("-", BinOp::Sub)]) else {
                return Ok(left);
            };
            let right = self.multiplicative()?;
            left = bin(op, left, right);
        }
    }
    fn multiplicative(&mut self) -> Result<EvalAst, SplError> {
        let mut left = self.unary()?;
        loop {
            self.c.skip_ws();
            let ops = [("*", BinOp::Mul), ("/", BinOp::Div), ("%", BinOp::Mod)];
            let Some(op) = self.c.operator(&ops) else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = bin(op, left, right);
        }
    }
    fn unary(&mut self) -> Result<EvalAst, SplError> {
        self.c.skip_ws();
        if self.c.eat("-") {
            return Ok(EvalAst::Neg(Box::new(self.unary()?)));
        }
        self.primary()
    }
    fn primary(&mut self) -> Result<EvalAst, SplError> {
        self.c.skip_ws();
        let start = self.c.pos();
        match self.c.peek() {
            None => Err(SplError::unsupported("<end>", start, "expression expected")),
            Some(b'(') => {
                self.c.i += 1;
                let e = self.expr()?;
                if !self.sym(")") {
                    return Err(SplError::unsupported("(", start, "unbalanced parenthesis"));
                }
                Ok(e)
            }
            Some(b'"') => Ok(EvalAst::Str(self.c.quoted()?)),
            Some(b'0'..=b'9') => self.number(),
            Some(b'[') => Err(self.c.subsearch_error()),
            Some(_) => self.name_or_call(),
        }
    }
    fn number(&mut self) -> Result<EvalAst, SplError> {
        let start = self.c.pos();
        let mut j = self.c.i;
        while j < self.c.s.len() && (self.c.s[j].is_ascii_digit() || self.c.s[j] == b'.') {
            j += 1;
        }
        let text = &self.c.text[self.c.i..j];
        let n: f64 = text
            .parse()
            .map_err(|_| SplError::unsupported(text, start, "invalid number"))?;
        self.c.i = j;
        Ok(EvalAst::Num(n))
    }
    /// A field (`name`, `'quoted name'`) or a call `name(args)`.
    fn name_or_call(&mut self) -> Result<EvalAst, SplError> {
        let start = self.c.pos();
        let quoted = self.c.peek() == Some(b'\'');
        let name = self
            .field_name()
            .ok_or_else(|| SplError::unsupported(self.c.snippet(), start, "operand expected"))?;
        self.c.skip_ws();
        if quoted || !self.c.eat("(") {
            return Ok(EvalAst::Field {
                name,
                position: start,
            });
        }
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
        Ok(EvalAst::Call {
            name: name.to_ascii_lowercase(),
            args,
            position: start,
        })
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
