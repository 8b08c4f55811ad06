//! Eval-language syntax trees (`where`, `eval`) to compiled expressions. Functions that take
//! a pattern (`match`, `like`, `replace`) compile it once here; the pattern must be a literal.

use regex::bytes::{Regex, RegexBuilder};

use super::super::error::SplError;
use super::super::eval_lang::{BinOp, EvalAst};
use super::super::expr::{Ex, Func};
use super::super::pcre::Pcre;
use super::env::{resolve_ex, CompiledSearch};

/// Compiles an eval expression, resolving field names through the environment.
pub(super) fn compile_ex(ast: &EvalAst, out: &mut CompiledSearch) -> Result<Ex, SplError> {
    Ok(match ast {
        EvalAst::Num(n) => Ex::Num(*n),
        EvalAst::Str(s) => Ex::Str(s.as_bytes().to_vec()),
        EvalAst::Field { name, position } => resolve_ex(out, name, *position)?,
        EvalAst::Not(e) => Ex::Not(Box::new(compile_ex(e, out)?)),
        EvalAst::Neg(e) => Ex::Neg(Box::new(compile_ex(e, out)?)),
        EvalAst::Bin {
            op: BinOp::Like,
            left,
            right,
        } => {
            let pat = literal_str(right, "LIKE", 0)?;
            Ex::Like(Box::new(compile_ex(left, out)?), like_to_regex(&pat, 0)?)
        }
        EvalAst::Bin { op, left, right } => Ex::Bin(
            *op,
            Box::new(compile_ex(left, out)?),
            Box::new(compile_ex(right, out)?),
        ),
        EvalAst::Call {
            name,
            args,
            position,
        } => compile_call(name, args, *position, out)?,
    })
}

/// A function call: the pattern-taking functions, then the table of plain functions.
fn compile_call(
    name: &str,
    args: &[EvalAst],
    pos: usize,
    out: &mut CompiledSearch,
) -> Result<Ex, SplError> {
    let want = |n: usize| -> Result<(), SplError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(SplError::unsupported(
                format!("{name}()"),
                pos,
                format!("expects {n} argument(s), got {}", args.len()),
            ))
        }
    };
    Ok(match name {
        "in" if args.len() >= 2 => {
            // `in(x, a, b)` is `x IN (a, b)`: x == a OR x == b.
            let field = compile_ex(&args[0], out)?;
            let mut alternatives = Vec::new();
            for value in &args[1..] {
                let test = Ex::Bin(
                    BinOp::Eq,
                    Box::new(field.clone()),
                    Box::new(compile_ex(value, out)?),
                );
                alternatives.push(test);
            }
            alternatives
                .into_iter()
                .reduce(|a, b| Ex::Bin(BinOp::Or, Box::new(a), Box::new(b)))
                .unwrap_or(Ex::Null)
        }
        "match" => {
            want(2)?;
            let re = compile_pcre(&literal_str(&args[1], "match()", pos)?, pos)?;
            Ex::Match(Box::new(compile_ex(&args[0], out)?), re)
        }
        "like" => {
            want(2)?;
            let re = like_to_regex(&literal_str(&args[1], "like()", pos)?, pos)?;
            Ex::Like(Box::new(compile_ex(&args[0], out)?), re)
        }
        "replace" => {
            want(3)?;
            let re = compile_pcre(&literal_str(&args[1], "replace()", pos)?, pos)?;
            let rep = literal_str(&args[2], "replace()", pos)?;
            Ex::Replace(Box::new(compile_ex(&args[0], out)?), re, rep.into_bytes())
        }
        other => {
            let f = Func::by_name(other).ok_or_else(|| {
                SplError::unsupported(format!("{other}()"), pos, "eval function not supported")
            })?;
            let (min, max) = f.arity();
            if args.len() < min || args.len() > max {
                return Err(SplError::unsupported(
                    format!("{other}()"),
                    pos,
                    "wrong number of arguments",
                ));
            }
            Ex::Call(
                f,
                args.iter()
                    .map(|a| compile_ex(a, out))
                    .collect::<Result<_, _>>()?,
            )
        }
    })
}

/// Compiles a PCRE pattern as used by Splunk (`regex`, `rex`, `match()`, `replace()`).
pub(super) fn compile_pcre(pattern: &str, pos: usize) -> Result<Pcre, SplError> {
    Pcre::new(pattern, pos)
}

fn like_to_regex(pattern: &str, pos: usize) -> Result<Regex, SplError> {
    let mut re = String::from("(?s)^");
    for c in pattern.chars() {
        match c {
            '%' => re.push_str(".*"),
            '_' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    RegexBuilder::new(&re)
        .build()
        .map_err(|e| SplError::unsupported(format!("like {pattern}"), pos, e.to_string()))
}

fn literal_str(ast: &EvalAst, what: &str, pos: usize) -> Result<String, SplError> {
    match ast {
        EvalAst::Str(s) => Ok(s.clone()),
        _ => Err(SplError::unsupported(
            what,
            pos,
            "the pattern must be a string literal",
        )),
    }
}
