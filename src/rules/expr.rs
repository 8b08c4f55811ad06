//! Compiled row conditions and eval expressions, and their evaluation over a [`Row`].
//!
//! Search-language comparisons (`Glob`, `NotGlob`, `Order`) are case-insensitive and read
//! the per-row lower-cased copy in [`FoldCache`]; eval expressions (`where`, `eval`) follow
//! eval semantics: case-sensitive string comparison, numbers compared as numbers.

use std::borrow::Cow;

use regex::bytes::Regex;

use super::pcre::Pcre;

use super::eval_lang::BinOp;
use super::glob::Glob;
use super::row::Row;
use super::search_lang::CmpOp;

/// Where a compared value comes from: a row field, or a computed (eval/rex) expression.
#[derive(Debug, Clone)]
pub enum Src {
    Slot(usize),
    Expr(Box<Ex>),
}

/// A compiled row condition.
#[derive(Debug, Clone)]
pub enum Cond {
    True,
    And(Vec<Cond>),
    Or(Vec<Cond>),
    Not(Box<Cond>),
    /// `field=pattern`: any value matches.
    Glob {
        src: Src,
        pat: Glob,
    },
    /// Several `field=pattern` alternatives on one field (an `IN` list, or OR-ed `=`), merged
    /// so the field's values are walked once: exact patterns by binary search (sorted,
    /// lower-cased), wildcard patterns one by one.
    AnyGlob {
        slot: usize,
        exact: Vec<Vec<u8>>,
        globs: Vec<Glob>,
    },
    /// `field!=pattern`: some value of the field does not match ("every event that has a value
    /// in the field, where that value does not match", Search Manual, "Difference between !=
    /// and NOT"); an absent field never passes. A multivalue field with one matching and one
    /// other value passes, as every search comparison is true if any value satisfies it.
    NotGlob {
        src: Src,
        pat: Glob,
    },
    /// `field<value` etc.: numeric if both sides are numbers, else byte order.
    Order {
        src: Src,
        op: CmpOp,
        value: Vec<u8>,
        num: Option<f64>,
    },
    /// `regex field="re"` / `regex field!="re"`: any value matches (case-sensitive, as PCRE).
    Regex {
        src: Src,
        re: Pcre,
        negate: bool,
    },
    /// `where <expr>`: the expression is true.
    Truthy(Ex),
}

/// Eval functions the compiler supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    Lower,
    Upper,
    Len,
    Substr,
    If,
    Case,
    IsNull,
    IsNotNull,
    MvCount,
    MvIndex,
    Split,
    True,
    False,
    Null,
    Coalesce,
    ToNumber,
    ToString,
    Trim,
    Ltrim,
    Rtrim,
    /// `cidrmatch(network, ip)`: true if the value is an IP address inside the network
    /// (IPv4 or IPv6, `address/prefix`). Compiled for Sigma's `cidr` modifier.
    CidrMatch,
}

impl Func {
    /// Looks a function up by its (lower-cased) SPL name; regex-taking functions are separate.
    pub fn by_name(name: &str) -> Option<Func> {
        Some(match name {
            "lower" => Func::Lower,
            "upper" => Func::Upper,
            "len" => Func::Len,
            "substr" => Func::Substr,
            "if" => Func::If,
            "case" => Func::Case,
            "isnull" => Func::IsNull,
            "isnotnull" => Func::IsNotNull,
            "mvcount" => Func::MvCount,
            "mvindex" => Func::MvIndex,
            "split" => Func::Split,
            "true" => Func::True,
            "false" => Func::False,
            "null" => Func::Null,
            "coalesce" => Func::Coalesce,
            "tonumber" => Func::ToNumber,
            "tostring" => Func::ToString,
            "trim" => Func::Trim,
            "ltrim" => Func::Ltrim,
            "rtrim" => Func::Rtrim,
            _ => return None,
        })
    }
    /// Allowed argument counts (min, max).
    pub fn arity(self) -> (usize, usize) {
        match self {
            Func::True | Func::False | Func::Null => (0, 0),
            Func::Lower
            | Func::Upper
            | Func::Len
            | Func::IsNull
            | Func::IsNotNull
            | Func::MvCount => (1, 1),
            Func::ToNumber | Func::ToString | Func::Trim | Func::Ltrim | Func::Rtrim => (1, 1),
            Func::Substr => (2, 3),
            Func::CidrMatch => (2, 2),
            Func::If => (3, 3),
            Func::Case => (2, usize::MAX),
            Func::MvIndex => (2, 3),
            Func::Split => (2, 2),
            Func::Coalesce => (1, usize::MAX),
        }
    }
}

/// A compiled eval expression.
#[derive(Debug, Clone)]
pub enum Ex {
    Null,
    Num(f64),
    Str(Vec<u8>),
    Field(usize),
    Bin(BinOp, Box<Ex>, Box<Ex>),
    Not(Box<Ex>),
    Neg(Box<Ex>),
    Call(Func, Vec<Ex>),
    /// `match(x, "re")`: true if any value matches.
    Match(Box<Ex>, Pcre),
    /// `like(x, "pat")` / `x LIKE "pat"`: SQL-style `%` and `_`, whole value.
    Like(Box<Ex>, Regex),
    /// `replace(x, "re", "repl")`.
    Replace(Box<Ex>, Pcre, Vec<u8>),
    /// A named group extracted by an earlier `rex field=x "(?<g>...)"`.
    RexGroup {
        src: Box<Ex>,
        re: Pcre,
        group: String,
    },
}

/// A runtime value of an eval expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Val<'r> {
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'r, [u8]>),
    Multi(Vec<Cow<'r, [u8]>>),
}

impl<'r> Val<'r> {
    fn values(&self) -> Vec<Cow<'r, [u8]>> {
        match self {
            Val::Null => Vec::new(),
            Val::Bool(b) => vec![Cow::Owned(if *b {
                b"true".to_vec()
            } else {
                b"false".to_vec()
            })],
            Val::Num(n) => vec![Cow::Owned(fmt_num(*n).into_bytes())],
            Val::Str(s) => vec![s.clone()],
            Val::Multi(v) => v.clone(),
        }
    }
    fn first(&self) -> Option<Cow<'r, [u8]>> {
        self.values().into_iter().next()
    }
    fn as_num(&self) -> Option<f64> {
        match self {
            Val::Num(n) => Some(*n),
            Val::Str(s) => parse_num(s),
            Val::Multi(v) => v.first().and_then(|s| parse_num(s)),
            _ => None,
        }
    }
    /// Truthiness for `where`: only a true boolean keeps a row.
    pub fn is_true(&self) -> bool {
        matches!(self, Val::Bool(true))
    }
}

/// Formats a number as Splunk prints it (integers without a fraction).
pub fn fmt_num(n: f64) -> String {
    let mut text = Vec::new();
    write_num(n, &mut text);
    String::from_utf8(text).unwrap_or_default()
}

/// [`fmt_num`] appended to `out`.
fn write_num(n: f64, out: &mut Vec<u8>) {
    use std::io::Write;
    // Writing to a Vec cannot fail.
    let _ = if n.fract() == 0.0 && n.abs() < 1e15 {
        write!(out, "{}", n as i64)
    } else {
        write!(out, "{n}")
    };
}

/// Parses a decimal number (surrounding whitespace allowed).
pub fn parse_num(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?.trim();
    if t.is_empty() {
        return None;
    }
    t.parse().ok()
}

/// A network `address/prefix` (IPv4 or IPv6); a bare address is a /32 or /128.
pub fn parse_cidr(text: &str) -> Option<(std::net::IpAddr, u8)> {
    let (address, prefix) = match text.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (text, None),
    };
    let address: std::net::IpAddr = address.parse().ok()?;
    let width = if address.is_ipv4() { 32 } else { 128 };
    let prefix = prefix.unwrap_or(width);
    (prefix <= width).then_some((address, prefix))
}

fn in_network(ip: std::net::IpAddr, (network, prefix): (std::net::IpAddr, u8)) -> bool {
    use std::net::IpAddr;
    let (a, b, width) = match (ip, network) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    if prefix == 0 {
        return true;
    }
    let shift = width - u32::from(prefix);
    a >> shift == b >> shift
}

/// Per-row cache of lower-cased field values. Buffers are reused across rows, so a row
/// costs no allocation once the buffers have grown to the data's size.
#[derive(Debug, Default)]
pub struct FoldCache {
    generation: u32,
    slot_generation: Vec<u32>,
    bufs: Vec<Vec<u8>>,
    ends: Vec<Vec<usize>>,
    /// A computed value's text, lower-cased, while a comparison reads it.
    computed: Vec<u8>,
}

impl FoldCache {
    pub fn new(slots: usize) -> Self {
        FoldCache {
            generation: 1,
            slot_generation: vec![0; slots],
            bufs: vec![Vec::new(); slots],
            ends: vec![Vec::new(); slots],
            computed: Vec::new(),
        }
    }
    /// Invalidates the cache for a new row.
    pub fn next_row(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.slot_generation.iter_mut().for_each(|g| *g = 0);
            self.generation = 1;
        }
    }
    /// Lower-cased non-empty values of `slot` for the current row: (concatenated bytes, end offsets).
    pub fn folded(&mut self, row: &dyn Row, slot: usize) -> (&[u8], &[usize]) {
        if slot >= self.bufs.len() {
            return (&[], &[]);
        }
        if self.slot_generation[slot] != self.generation {
            let buf = &mut self.bufs[slot];
            let ends = &mut self.ends[slot];
            buf.clear();
            ends.clear();
            for i in 0..row.value_count(slot) {
                let v = row.value(slot, i);
                if v.is_empty() {
                    continue;
                }
                buf.extend(v.iter().map(u8::to_ascii_lowercase));
                ends.push(buf.len());
            }
            self.slot_generation[slot] = self.generation;
        }
        (&self.bufs[slot], &self.ends[slot])
    }
}

fn any_folded(
    cache: &mut FoldCache,
    row: &dyn Row,
    src: &Src,
    mut f: impl FnMut(&[u8]) -> bool,
) -> Option<bool> {
    match src {
        Src::Slot(slot) => {
            let (buf, ends) = cache.folded(row, *slot);
            if ends.is_empty() {
                return None;
            }
            let mut start = 0;
            for &end in ends {
                if f(&buf[start..end]) {
                    return Some(true);
                }
                start = end;
            }
            Some(false)
        }
        // A computed value is folded into one reused buffer: rules evaluated on every row
        // (`len(process_name)=5`) compare numbers and short strings without allocating.
        Src::Expr(ex) => {
            let buf = &mut cache.computed;
            let single = |buf: &mut Vec<u8>, value: &[u8]| {
                buf.clear();
                buf.extend(value.iter().map(u8::to_ascii_lowercase));
            };
            match eval(ex, row) {
                Val::Null => None,
                Val::Bool(b) => Some(f(if b { b"true" } else { b"false" })),
                Val::Num(n) => {
                    buf.clear();
                    write_num(n, buf);
                    Some(f(buf))
                }
                Val::Str(s) if s.is_empty() => None,
                Val::Str(s) => {
                    single(buf, &s);
                    Some(f(buf))
                }
                Val::Multi(values) => {
                    let mut any = None;
                    for value in values.iter().filter(|v| !v.is_empty()) {
                        single(buf, value);
                        if f(buf) {
                            return Some(true);
                        }
                        any = Some(false);
                    }
                    any
                }
            }
        }
    }
}

/// Evaluates a condition over a row.
pub fn eval_cond(cond: &Cond, row: &dyn Row, cache: &mut FoldCache) -> bool {
    match cond {
        Cond::True => true,
        Cond::And(items) => items.iter().all(|c| eval_cond(c, row, cache)),
        Cond::Or(items) => items.iter().any(|c| eval_cond(c, row, cache)),
        Cond::Not(c) => !eval_cond(c, row, cache),
        Cond::AnyGlob { slot, exact, globs } => {
            let (buf, ends) = cache.folded(row, *slot);
            let mut start = 0;
            for &end in ends {
                let v = &buf[start..end];
                if exact.binary_search_by(|e| e.as_slice().cmp(v)).is_ok()
                    || globs.iter().any(|g| g.matches_folded(v))
                {
                    return true;
                }
                start = end;
            }
            false
        }
        Cond::Glob { src, pat } => {
            any_folded(cache, row, src, |v| pat.matches_folded(v)).unwrap_or(false)
        }
        Cond::NotGlob { src, pat } => {
            any_folded(cache, row, src, |v| !pat.matches_folded(v)).unwrap_or(false)
        }
        Cond::Order {
            src,
            op,
            value,
            num,
        } => any_folded(cache, row, src, |v| {
            let ord = match (num, parse_num(v)) {
                (Some(b), Some(a)) => a.partial_cmp(b),
                _ => Some(v.cmp(&value.to_ascii_lowercase())),
            };
            match ord {
                Some(o) => match op {
                    CmpOp::Lt => o.is_lt(),
                    CmpOp::Le => o.is_le(),
                    CmpOp::Gt => o.is_gt(),
                    CmpOp::Ge => o.is_ge(),
                    CmpOp::Eq => o.is_eq(),
                    CmpOp::Ne => o.is_ne(),
                },
                None => false,
            }
        })
        .unwrap_or(false),
        Cond::Regex { src, re, negate } => {
            let hit = match src {
                Src::Slot(slot) => {
                    let n = row.value_count(*slot);
                    (0..n)
                        .map(|i| row.value(*slot, i))
                        .any(|v| !v.is_empty() && re.is_match(v))
                }
                Src::Expr(ex) => eval(ex, row).values().iter().any(|v| re.is_match(v)),
            };
            hit != *negate
        }
        Cond::Truthy(ex) => eval(ex, row).is_true(),
    }
}

fn field_val<'r>(row: &'r dyn Row, slot: usize) -> Val<'r> {
    let n = row.value_count(slot);
    let mut vals: Vec<Cow<'r, [u8]>> = (0..n)
        .map(|i| row.value(slot, i))
        .filter(|v| !v.is_empty())
        .map(Cow::Borrowed)
        .collect();
    match vals.len() {
        0 => Val::Null,
        1 => Val::Str(vals.remove(0)),
        _ => Val::Multi(vals),
    }
}

fn compare(op: BinOp, a: &Val, b: &Val) -> Val<'static> {
    if matches!(a, Val::Null) || matches!(b, Val::Null) {
        return Val::Null;
    }
    let test = |o: std::cmp::Ordering| match op {
        BinOp::Eq => o.is_eq(),
        BinOp::Ne => o.is_ne(),
        BinOp::Lt => o.is_lt(),
        BinOp::Le => o.is_le(),
        BinOp::Gt => o.is_gt(),
        _ => o.is_ge(),
    };
    let bvals = b.values();
    let bnum = b.as_num();
    // Multivalue left side: true if any value satisfies the comparison.
    let hit = a.values().iter().any(|av| {
        if let (Some(x), Some(y)) = (parse_num(av), bnum) {
            return x.partial_cmp(&y).is_some_and(test);
        }
        bvals.iter().any(|bv| test(av.as_ref().cmp(bv.as_ref())))
    });
    Val::Bool(hit)
}

fn map_str<'r>(v: Val<'r>, f: impl Fn(&[u8]) -> Vec<u8>) -> Val<'r> {
    match v {
        Val::Null => Val::Null,
        Val::Multi(vs) => Val::Multi(vs.iter().map(|s| Cow::Owned(f(s))).collect()),
        other => match other.first() {
            Some(s) => Val::Str(Cow::Owned(f(&s))),
            None => Val::Null,
        },
    }
}

/// Evaluates an eval expression over a row.
pub fn eval<'r>(ex: &Ex, row: &'r dyn Row) -> Val<'r> {
    match ex {
        Ex::Null => Val::Null,
        Ex::Num(n) => Val::Num(*n),
        Ex::Str(s) => Val::Str(Cow::Owned(s.clone())),
        Ex::Field(slot) => field_val(row, *slot),
        Ex::Not(e) => match eval(e, row) {
            Val::Bool(b) => Val::Bool(!b),
            _ => Val::Null,
        },
        Ex::Neg(e) => eval(e, row).as_num().map_or(Val::Null, |n| Val::Num(-n)),
        Ex::Bin(op, l, r) => eval_bin(*op, l, r, row),
        Ex::Match(e, re) => match eval(e, row) {
            Val::Null => Val::Null,
            v => Val::Bool(v.values().iter().any(|s| re.is_match(s))),
        },
        Ex::Like(e, re) => match eval(e, row) {
            Val::Null => Val::Null,
            v => Val::Bool(v.values().iter().any(|s| re.is_match(s))),
        },
        Ex::Replace(e, re, rep) => map_str(eval(e, row), |s| re.replace_all(s, rep)),
        Ex::RexGroup { src, re, group } => {
            let v = eval(src, row);
            let found = v.values().iter().find_map(|s| re.capture(s, group));
            found.map_or(Val::Null, |s| Val::Str(Cow::Owned(s)))
        }
        Ex::Call(f, args) => eval_call(*f, args, row),
    }
}

fn eval_bin<'r>(op: BinOp, l: &Ex, r: &Ex, row: &'r dyn Row) -> Val<'r> {
    match op {
        BinOp::And | BinOp::Or | BinOp::Xor => {
            let a = eval(l, row);
            if op == BinOp::And && matches!(a, Val::Bool(false)) {
                return Val::Bool(false);
            }
            if op == BinOp::Or && matches!(a, Val::Bool(true)) {
                return Val::Bool(true);
            }
            let b = eval(r, row);
            match (a, b) {
                (Val::Bool(x), Val::Bool(y)) => Val::Bool(match op {
                    BinOp::And => x && y,
                    BinOp::Or => x || y,
                    _ => x != y,
                }),
                _ => Val::Null,
            }
        }
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            compare(op, &eval(l, row), &eval(r, row))
        }
        BinOp::Like => Val::Null, // compiled to Ex::Like when the pattern is a literal
        BinOp::Concat => {
            let (a, b) = (eval(l, row), eval(r, row));
            match (a.first(), b.first()) {
                (Some(x), Some(y)) => {
                    let mut s = x.into_owned();
                    s.extend_from_slice(&y);
                    Val::Str(Cow::Owned(s))
                }
                _ => Val::Null,
            }
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
            let (a, b) = (eval(l, row), eval(r, row));
            match (a.as_num(), b.as_num()) {
                (Some(x), Some(y)) => Val::Num(match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div => {
                        if y == 0.0 {
                            return Val::Null;
                        }
                        x / y
                    }
                    _ => {
                        if y == 0.0 {
                            return Val::Null;
                        }
                        x % y
                    }
                }),
                _ if op == BinOp::Add => match (a.first(), b.first()) {
                    (Some(x), Some(y)) => {
                        let mut s = x.into_owned();
                        s.extend_from_slice(&y);
                        Val::Str(Cow::Owned(s))
                    }
                    _ => Val::Null,
                },
                _ => Val::Null,
            }
        }
    }
}

fn eval_call<'r>(f: Func, args: &[Ex], row: &'r dyn Row) -> Val<'r> {
    let arg = |i: usize| eval(&args[i], row);
    match f {
        Func::True => Val::Bool(true),
        Func::False => Val::Bool(false),
        Func::Null => Val::Null,
        Func::Lower => map_str(arg(0), |s| s.to_ascii_lowercase()),
        Func::Upper => map_str(arg(0), |s| s.to_ascii_uppercase()),
        Func::Trim => map_str(arg(0), |s| s.trim_ascii().to_vec()),
        Func::Ltrim => map_str(arg(0), |s| s.trim_ascii_start().to_vec()),
        Func::Rtrim => map_str(arg(0), |s| s.trim_ascii_end().to_vec()),
        Func::Len => arg(0).first().map_or(Val::Null, |s| {
            Val::Num(String::from_utf8_lossy(&s).chars().count() as f64)
        }),
        Func::Substr => substr(arg(0), arg(1), (args.len() > 2).then(|| arg(2))),
        Func::If => match arg(0) {
            Val::Bool(true) => arg(1),
            _ => arg(2),
        },
        Func::Case => case(args, row),
        Func::IsNull => Val::Bool(matches!(arg(0), Val::Null)),
        Func::IsNotNull => Val::Bool(!matches!(arg(0), Val::Null)),
        Func::MvCount => match arg(0) {
            Val::Null => Val::Null,
            v => Val::Num(v.values().len() as f64),
        },
        Func::MvIndex => mvindex(arg(0), arg(1), (args.len() > 2).then(|| arg(2))),
        Func::Split => split(arg(0), arg(1)),
        Func::Coalesce => args
            .iter()
            .map(|a| eval(a, row))
            .find(|v| !matches!(v, Val::Null))
            .unwrap_or(Val::Null),
        Func::ToNumber => arg(0).as_num().map_or(Val::Null, Val::Num),
        Func::CidrMatch => {
            let network = arg(0)
                .first()
                .and_then(|n| parse_cidr(&String::from_utf8_lossy(&n)));
            match (network, arg(1)) {
                (_, Val::Null) | (None, _) => Val::Null,
                (Some(net), v) => Val::Bool(v.values().iter().any(|ip| {
                    std::str::from_utf8(ip)
                        .ok()
                        .and_then(|t| t.trim().parse::<std::net::IpAddr>().ok())
                        .is_some_and(|ip| in_network(ip, net))
                })),
            }
        }
        Func::ToString => match arg(0) {
            Val::Null => Val::Null,
            v => v.first().map_or(Val::Null, Val::Str),
        },
    }
}

/// `substr(s, start[, len])`: 1-based; a negative start counts from the end.
fn substr<'r>(s: Val<'r>, start: Val<'r>, len: Option<Val<'r>>) -> Val<'r> {
    let Some(s) = s.first() else {
        return Val::Null;
    };
    let chars: Vec<char> = String::from_utf8_lossy(&s).chars().collect();
    let n = chars.len() as i64;
    let Some(start) = start.as_num() else {
        return Val::Null;
    };
    let start = start as i64;
    let from = if start < 0 {
        (n + start).max(0)
    } else {
        (start - 1).max(0)
    };
    let len = len.map_or(n, |l| l.as_num().map_or(n, |l| l as i64));
    let to = (from + len.max(0)).min(n);
    let out: String = chars[from.min(n) as usize..to.max(from.min(n)) as usize]
        .iter()
        .collect();
    Val::Str(Cow::Owned(out.into_bytes()))
}

/// `case(c1, v1, c2, v2, ...)`: the value of the first true condition, else null.
fn case<'r>(args: &[Ex], row: &'r dyn Row) -> Val<'r> {
    for pair in args.chunks(2) {
        if pair.len() == 2 && eval(&pair[0], row).is_true() {
            return eval(&pair[1], row);
        }
    }
    Val::Null
}

/// `mvindex(mv, start[, end])`: 0-based, negative indices count from the end, `end` inclusive.
fn mvindex<'r>(mv: Val<'r>, start: Val<'r>, end: Option<Val<'r>>) -> Val<'r> {
    let vals = mv.values();
    let n = vals.len() as i64;
    let idx = |v: Val| {
        v.as_num().map(|x| {
            let x = x as i64;
            if x < 0 {
                n + x
            } else {
                x
            }
        })
    };
    let Some(start) = idx(start) else {
        return Val::Null;
    };
    let end = end.map_or(start, |e| idx(e).unwrap_or(start));
    if start < 0 || start >= n || end < start {
        return Val::Null;
    }
    let mut picked: Vec<_> = vals[start as usize..=(end.min(n - 1)) as usize].to_vec();
    if picked.len() == 1 {
        Val::Str(picked.remove(0))
    } else {
        Val::Multi(picked)
    }
}

/// `split(s, delim)`: the pieces between delimiters (an empty delimiter splits every byte).
fn split<'r>(s: Val<'r>, delim: Val<'r>) -> Val<'r> {
    let (Some(s), Some(d)) = (s.first(), delim.first()) else {
        return Val::Null;
    };
    let parts: Vec<Cow<[u8]>> = if d.is_empty() {
        s.iter().map(|b| Cow::Owned(vec![*b])).collect()
    } else {
        let mut out = Vec::new();
        let mut rest: &[u8] = &s;
        while let Some(at) = memchr::memmem::find(rest, &d) {
            out.push(Cow::Owned(rest[..at].to_vec()));
            rest = &rest[at + d.len()..];
        }
        out.push(Cow::Owned(rest.to_vec()));
        out
    };
    if parts.len() == 1 {
        Val::Str(parts.into_iter().next().unwrap_or(Cow::Borrowed(&[])))
    } else {
        Val::Multi(parts)
    }
}
