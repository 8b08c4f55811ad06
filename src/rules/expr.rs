//! Compiled row conditions and eval expressions, and their evaluation over a [`Row`].
//!
//! Search-language comparisons (`Glob`, `NotGlob`, `Order`) are case-insensitive and read
//! the per-row lower-cased copy in [`FoldCache`]; eval expressions (`where`, `eval`) follow
//! eval semantics: case-sensitive string comparison, numbers compared as numbers.

use std::borrow::Cow;

use regex::bytes::Regex;

use super::pcre::Pcre;

use super::eval_lang::BinOp;
use super::glob::{Glob, Globs};
use super::row::{for_each_value, Row};
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
        globs: Globs,
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
    /// The first value, without copying the others (as [`Val::values`] would).
    fn first(&self) -> Option<Cow<'r, [u8]>> {
        match self {
            Val::Null => None,
            Val::Str(s) => Some(s.clone()),
            Val::Multi(v) => v.first().cloned(),
            Val::Bool(_) | Val::Num(_) => self.values().into_iter().next(),
        }
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

/// [`fmt_num`] appended to `out`. Whole numbers (`len(x)`, counts) are written digit by
/// digit: rules evaluated on every row compare them, and the formatter costs more than that.
fn write_num(n: f64, out: &mut Vec<u8>) {
    use std::io::Write;
    // `n as i64` converts back exactly only for whole numbers (no libm `trunc` call).
    if n.abs() < 1e15 && (n as i64) as f64 == n {
        let whole = n as i64;
        if whole < 0 {
            out.push(b'-');
        }
        let mut digits = [0u8; 20];
        let mut start = digits.len();
        let mut rest = whole.unsigned_abs();
        loop {
            start -= 1;
            digits[start] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        out.extend_from_slice(&digits[start..]);
    } else {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{n}");
    }
}

/// Parses a decimal number (surrounding whitespace allowed).
pub fn parse_num(s: &[u8]) -> Option<f64> {
    // Most text compared is no number (`svchost.exe`): decided by its first character
    // without the UTF-8 check and the float parser.
    if s.iter()
        .find(|&&b| !is_trimmed_ascii(b))
        .is_some_and(|&b| b.is_ascii() && !starts_number(b))
    {
        return None;
    }
    parse_num_text(s)
}

/// [`parse_num`] by the float parser alone: the definition its first-character test keeps.
fn parse_num_text(s: &[u8]) -> Option<f64> {
    let t = std::str::from_utf8(s).ok()?.trim();
    if t.is_empty() {
        return None;
    }
    t.parse().ok()
}

/// The ASCII characters `str::trim` removes (Unicode White_Space: TAB to CR, and space; VT
/// too, which `u8::is_ascii_whitespace` leaves out).
fn is_trimmed_ascii(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

/// Whether `f64`'s parser accepts text starting with ASCII `b`: a sign, a digit, a point,
/// or the first letter of `inf`, `infinity` or `nan` (any case).
fn starts_number(b: u8) -> bool {
    matches!(
        b,
        b'+' | b'-' | b'.' | b'0'..=b'9' | b'i' | b'I' | b'n' | b'N'
    )
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
            for_each_value(row, slot, |v| {
                if !v.is_empty() {
                    // A copy lowered in place: both loops run a vector at a time.
                    let start = buf.len();
                    buf.extend_from_slice(v);
                    buf[start..].make_ascii_lowercase();
                    ends.push(buf.len());
                }
            });
            self.slot_generation[slot] = self.generation;
        }
        (&self.bufs[slot], &self.ends[slot])
    }
}

/// Whether some non-empty value of the field in `slot`, as the row holds it, passes `test`;
/// `None` when it has none. For tests that need no lower-cased copy of a long field.
fn any_value(row: &dyn Row, slot: usize, mut test: impl FnMut(&[u8]) -> bool) -> Option<bool> {
    let mut any = None;
    for_each_value(row, slot, |v| {
        if !v.is_empty() && any != Some(true) {
            any = Some(test(v));
        }
    });
    any
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
        Src::Expr(ex) => any_computed(&mut cache.computed, eval(ex, row), f),
    }
}

/// [`any_folded`] of a computed value. It is folded into one reused buffer: rules evaluated
/// on every row compare short strings without allocating.
fn any_computed(buf: &mut Vec<u8>, value: Val, mut f: impl FnMut(&[u8]) -> bool) -> Option<bool> {
    let single = |buf: &mut Vec<u8>, value: &[u8]| {
        buf.clear();
        buf.extend(value.iter().map(u8::to_ascii_lowercase));
    };
    match value {
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

/// `field=N` / `field!=N` on a computed number (`eval n=len(process_name) | search n=5`): the
/// pattern compared with the number's text decided as numbers, without writing the text.
/// `None` unless the value is a number and the pattern an [`integer_pattern`].
fn number_equals_pattern(value: &Val, pat: &Glob) -> Option<bool> {
    let Val::Num(n) = value else {
        return None;
    };
    Some(*n == integer_pattern(pat)? as f64)
}

/// The integer a pattern is when [`write_num`] writes it so (no sign but `-`, no leading
/// zero, no fraction, at most 15 digits): then the text of a number `n` equals the pattern
/// exactly when `n` equals that integer (a number that is not whole, or of 16 digits or
/// more, is written with a point or with more digits).
pub(crate) fn integer_pattern(pat: &Glob) -> Option<i64> {
    let text = pat.exact()?;
    let digits = text.strip_prefix(b"-").unwrap_or(text);
    let canonical = text == b"0"
        || matches!(digits.first(), Some(b'1'..=b'9'))
            && digits.len() <= 15
            && digits.iter().all(u8::is_ascii_digit);
    if !canonical {
        return None;
    }
    let whole = digits
        .iter()
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
    Some(if digits.len() < text.len() {
        -whole
    } else {
        whole
    })
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
                if exact.binary_search_by(|e| lexical(e, v)).is_ok() || globs.any_matches_folded(v)
                {
                    return true;
                }
                start = end;
            }
            false
        }
        Cond::Glob {
            src: Src::Slot(slot),
            pat,
        } if pat.matches_in_place() => {
            any_value(row, *slot, |v| pat.matches_unfolded(v)).unwrap_or(false)
        }
        Cond::NotGlob {
            src: Src::Slot(slot),
            pat,
        } if pat.matches_in_place() => {
            any_value(row, *slot, |v| !pat.matches_unfolded(v)).unwrap_or(false)
        }
        Cond::Glob {
            src: Src::Expr(ex),
            pat,
        } => {
            let value = eval(ex, row);
            number_equals_pattern(&value, pat).unwrap_or_else(|| {
                any_computed(&mut cache.computed, value, |v| pat.matches_folded(v)).unwrap_or(false)
            })
        }
        Cond::NotGlob {
            src: Src::Expr(ex),
            pat,
        } => {
            let value = eval(ex, row);
            match number_equals_pattern(&value, pat) {
                Some(equal) => !equal,
                None => any_computed(&mut cache.computed, value, |v| !pat.matches_folded(v))
                    .unwrap_or(false),
            }
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
                _ => Some(
                    v.iter()
                        .copied()
                        .cmp(value.iter().map(u8::to_ascii_lowercase)),
                ),
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
                Src::Slot(slot) => any_value(row, *slot, |v| re.is_match(v)).unwrap_or(false),
                Src::Expr(ex) => any_text(&eval(ex, row), |v| re.is_match(v)),
            };
            hit != *negate
        }
        Cond::Truthy(ex) => eval(ex, row).is_true(),
    }
}

/// Pushes every PCRE pattern of `cond` onto `out`, with the group a `rex` reads from it.
pub(crate) fn regexes_in<'c>(cond: &'c Cond, out: &mut Vec<(&'c Pcre, Option<&'c str>)>) {
    let src = |src: &'c Src, out: &mut Vec<_>| {
        if let Src::Expr(ex) = src {
            regexes_in_ex(ex, out);
        }
    };
    match cond {
        Cond::True | Cond::AnyGlob { .. } => {}
        Cond::And(items) | Cond::Or(items) => items.iter().for_each(|c| regexes_in(c, out)),
        Cond::Not(c) => regexes_in(c, out),
        Cond::Glob { src: s, .. } | Cond::NotGlob { src: s, .. } | Cond::Order { src: s, .. } => {
            src(s, out)
        }
        Cond::Regex { src: s, re, .. } => {
            out.push((re, None));
            src(s, out);
        }
        Cond::Truthy(ex) => regexes_in_ex(ex, out),
    }
}

/// Pushes every list of patterns OR-ed on one field ([`Cond::AnyGlob`]) of `cond` onto `out`.
pub(crate) fn glob_lists_in<'c>(cond: &'c Cond, out: &mut Vec<&'c Globs>) {
    match cond {
        Cond::AnyGlob { globs, .. } => out.push(globs),
        Cond::And(items) | Cond::Or(items) => items.iter().for_each(|c| glob_lists_in(c, out)),
        Cond::Not(c) => glob_lists_in(c, out),
        _ => {}
    }
}

fn regexes_in_ex<'c>(ex: &'c Ex, out: &mut Vec<(&'c Pcre, Option<&'c str>)>) {
    match ex {
        Ex::Null | Ex::Num(_) | Ex::Str(_) | Ex::Field(_) => {}
        Ex::Bin(_, l, r) => {
            regexes_in_ex(l, out);
            regexes_in_ex(r, out);
        }
        Ex::Not(e) | Ex::Neg(e) | Ex::Like(e, _) => regexes_in_ex(e, out),
        Ex::Call(_, args) => args.iter().for_each(|a| regexes_in_ex(a, out)),
        Ex::Match(e, re) | Ex::Replace(e, re, _) => {
            out.push((re, None));
            regexes_in_ex(e, out);
        }
        Ex::RexGroup { src, re, group } => {
            out.push((re, Some(group)));
            regexes_in_ex(src, out);
        }
    }
}

/// `a.cmp(b)`, deciding most comparisons of a sorted list's entries by their first bytes.
#[inline]
fn lexical(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    match (a.first(), b.first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// A field's non-empty values: null, one string, or a multivalue (the only case that
/// allocates).
fn field_val<'r>(row: &'r dyn Row, slot: usize) -> Val<'r> {
    let mut val = Val::Null;
    for_each_value(row, slot, |v| {
        if v.is_empty() {
            return;
        }
        val = match std::mem::replace(&mut val, Val::Null) {
            Val::Null => Val::Str(Cow::Borrowed(v)),
            Val::Str(first) => Val::Multi(vec![first, Cow::Borrowed(v)]),
            Val::Multi(mut all) => {
                all.push(Cow::Borrowed(v));
                Val::Multi(all)
            }
            other => other,
        };
    });
    val
}

fn compare(op: BinOp, a: &Val, b: &Val) -> Val<'static> {
    compare_folded(op, a, b, |byte| byte)
}

/// [`compare`] of the values as `fold` maps each byte: `lower(x) == lower(y)` compares `x` and
/// `y` so, without making the lower-cased copies (ASCII case folding changes no number).
fn compare_folded(op: BinOp, a: &Val, b: &Val, fold: fn(u8) -> u8) -> Val<'static> {
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
    let bnum = b.as_num();
    // A number's text (`fmt_num`) parses back to the number itself.
    if let (Val::Num(x), Some(y)) = (a, bnum) {
        return Val::Bool(x.partial_cmp(&y).is_some_and(test));
    }
    // Multivalue left side: true if any value satisfies the comparison.
    let hit = any_text(a, |av| {
        if let (Some(x), Some(y)) = (parse_num(av), bnum) {
            return x.partial_cmp(&y).is_some_and(test);
        }
        any_text(b, |bv| {
            test(av.iter().map(|&c| fold(c)).cmp(bv.iter().map(|&c| fold(c))))
        })
    });
    Val::Bool(hit)
}

/// Whether `test` holds for the text of some value of `v` (the texts [`Val::values`] lists),
/// reading strings where they are rather than copying them.
fn any_text(v: &Val, mut test: impl FnMut(&[u8]) -> bool) -> bool {
    match v {
        Val::Null => false,
        Val::Str(s) => test(s),
        Val::Multi(values) => values.iter().any(|s| test(s)),
        Val::Bool(_) | Val::Num(_) => v.values().iter().any(|s| test(s)),
    }
}

/// The byte map of a comparison side that is `lower(x)` or `upper(x)`, with `x`.
fn case_folded(ex: &Ex) -> Option<(Func, &Ex)> {
    match ex {
        Ex::Call(f @ (Func::Lower | Func::Upper), args) => match args.as_slice() {
            [inner] => Some((*f, inner)),
            _ => None,
        },
        _ => None,
    }
}

fn fold_of(f: Func) -> fn(u8) -> u8 {
    if f == Func::Upper {
        |c: u8| c.to_ascii_uppercase()
    } else {
        |c: u8| c.to_ascii_lowercase()
    }
}

/// A string literal that `f` leaves as it is, so it reads the same folded or not.
fn fold_invariant(ex: &Ex, f: Func) -> bool {
    let fold = fold_of(f);
    matches!(ex, Ex::Str(s) if s.iter().all(|&c| fold(c) == c))
}

/// `lower(x) op lower(y)`, `upper(x) op upper(y)` and `lower(x) op "already lower"` (either
/// side), compared with the case folded byte by byte; any other comparison as written.
fn eval_compare<'r>(op: BinOp, l: &'r Ex, r: &'r Ex, row: &'r dyn Row) -> Val<'static> {
    let folded = match (case_folded(l), case_folded(r)) {
        (Some((f, x)), Some((g, y))) if f == g => Some((f, x, y)),
        (Some((f, x)), None) if fold_invariant(r, f) => Some((f, x, r)),
        (None, Some((f, y))) if fold_invariant(l, f) => Some((f, l, y)),
        _ => None,
    };
    match folded {
        Some((f, x, y)) => compare_folded(op, &eval(x, row), &eval(y, row), fold_of(f)),
        None => compare(op, &eval(l, row), &eval(r, row)),
    }
}

fn map_str<'r>(v: Val<'r>, f: impl Fn(&[u8]) -> Vec<u8>) -> Val<'r> {
    match v {
        Val::Null => Val::Null,
        Val::Multi(vs) => Val::Multi(vs.iter().map(|s| Cow::Owned(f(s))).collect()),
        Val::Str(s) => Val::Str(Cow::Owned(f(&s))),
        other => match other.first() {
            Some(s) => Val::Str(Cow::Owned(f(&s))),
            None => Val::Null,
        },
    }
}

/// Evaluates an eval expression over a row.
pub fn eval<'r>(ex: &'r Ex, row: &'r dyn Row) -> Val<'r> {
    match ex {
        Ex::Null => Val::Null,
        Ex::Num(n) => Val::Num(*n),
        Ex::Str(s) => Val::Str(Cow::Borrowed(s)),
        Ex::Field(slot) => field_val(row, *slot),
        Ex::Not(e) => match eval(e, row) {
            Val::Bool(b) => Val::Bool(!b),
            _ => Val::Null,
        },
        Ex::Neg(e) => eval(e, row).as_num().map_or(Val::Null, |n| Val::Num(-n)),
        Ex::Bin(op, l, r) => eval_bin(*op, l, r, row),
        Ex::Match(e, re) => match eval(e, row) {
            Val::Null => Val::Null,
            v => Val::Bool(any_text(&v, |s| re.is_match(s))),
        },
        Ex::Like(e, re) => match eval(e, row) {
            Val::Null => Val::Null,
            v => Val::Bool(any_text(&v, |s| re.is_match(s))),
        },
        Ex::Replace(e, re, rep) => map_str(eval(e, row), |s| re.replace_all(s, rep)),
        Ex::RexGroup { src, re, group } => rex_group(eval(src, row), re, group),
        Ex::Call(Func::Len, args) => match args.as_slice() {
            [Ex::Field(slot)] => field_len(row, *slot),
            _ => eval_call(Func::Len, args, row),
        },
        Ex::Call(f, args) => eval_call(*f, args, row),
    }
}

/// The text of named group `group` in the first value of `v` the regex matches: a slice of
/// that value when the row holds it (no copy), else a copy.
fn rex_group<'r>(v: Val<'r>, re: &Pcre, group: &str) -> Val<'r> {
    let found = |s: &[u8]| re.capture_range(s, group);
    match v {
        Val::Null => Val::Null,
        Val::Str(Cow::Borrowed(s)) => {
            found(s).map_or(Val::Null, |at| Val::Str(Cow::Borrowed(&s[at])))
        }
        Val::Multi(values) => values
            .into_iter()
            .find_map(|s| match s {
                Cow::Borrowed(s) => found(s).map(|at| Cow::Borrowed(&s[at])),
                Cow::Owned(s) => found(&s).map(|at| Cow::Owned(s[at].to_vec())),
            })
            .map_or(Val::Null, Val::Str),
        other => other
            .values()
            .iter()
            .find_map(|s| found(s).map(|at| s[at].to_vec()))
            .map_or(Val::Null, |s| Val::Str(Cow::Owned(s))),
    }
}

fn eval_bin<'r>(op: BinOp, l: &'r Ex, r: &'r Ex, row: &'r dyn Row) -> Val<'r> {
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
            eval_compare(op, l, r, row)
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

fn eval_call<'r>(f: Func, args: &'r [Ex], row: &'r dyn Row) -> Val<'r> {
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
        Func::Len => arg(0)
            .first()
            .map_or(Val::Null, |s| Val::Num(char_count(&s) as f64)),
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

/// `len(field)`: the characters of the field's first non-empty value, null without one. What
/// `eval_call` computes, without making the field's value first: a rule evaluated on every
/// row compares it.
fn field_len(row: &dyn Row, slot: usize) -> Val<'static> {
    let mut count = None;
    for_each_value(row, slot, |v| {
        if count.is_none() && !v.is_empty() {
            count = Some(char_count(v));
        }
    });
    count.map_or(Val::Null, |n| Val::Num(n as f64))
}

/// Characters in `s`, invalid UTF-8 sequences counted as one replacement character each.
pub(crate) fn char_count(s: &[u8]) -> usize {
    if s.is_ascii() {
        return s.len();
    }
    match std::str::from_utf8(s) {
        Ok(text) => text.chars().count(),
        Err(_) => String::from_utf8_lossy(s).chars().count(),
    }
}

/// `substr(s, start[, len])`: 1-based, in characters; a negative start counts from the end.
/// A valid UTF-8 value is sliced in place, without copying it or its characters.
fn substr<'r>(s: Val<'r>, start: Val<'r>, len: Option<Val<'r>>) -> Val<'r> {
    let Some(s) = s.first() else {
        return Val::Null;
    };
    let Some(start) = start.as_num() else {
        return Val::Null;
    };
    let len = len.map(|l| l.as_num());
    let range = |text: &str| {
        let n = text.chars().count() as i64;
        let start = start as i64;
        let from = if start < 0 {
            (n + start).max(0)
        } else {
            (start - 1).max(0)
        };
        let len = len.map_or(n, |l| l.map_or(n, |l| l as i64));
        let to = (from + len.max(0)).min(n);
        let from = from.min(n);
        let byte = |chars: i64| {
            text.char_indices()
                .nth(chars as usize)
                .map_or(text.len(), |(at, _)| at)
        };
        byte(from)..byte(to.max(from))
    };
    match s {
        Cow::Borrowed(bytes) => match std::str::from_utf8(bytes) {
            Ok(text) => Val::Str(Cow::Borrowed(&bytes[range(text)])),
            Err(_) => {
                let text = String::from_utf8_lossy(bytes);
                Val::Str(Cow::Owned(text[range(&text)].as_bytes().to_vec()))
            }
        },
        Cow::Owned(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            Val::Str(Cow::Owned(text[range(&text)].as_bytes().to_vec()))
        }
    }
}

/// `case(c1, v1, c2, v2, ...)`: the value of the first true condition, else null.
fn case<'r>(args: &'r [Ex], row: &'r dyn Row) -> Val<'r> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_told_from_their_first_character_as_the_parser_tells_them() {
        let heads: &[&[u8]] = &[
            b"",
            b" ",
            b"\t",
            b"\x0B",
            b"\x0C",
            b"\r\n",
            b"\x1F",
            "\u{a0}".as_bytes(),
            "\u{3000}".as_bytes(),
            b"\xFF",
        ];
        let bodies: &[&[u8]] = &[
            b"5",
            b"-5",
            b"+5",
            b".5",
            b"5.",
            b"1e3",
            b"inf",
            b"INF",
            b"Infinity",
            b"nan",
            b"NaN",
            b"-inf",
            b"+nan",
            b"i",
            b"n",
            b"x",
            b"svchost.exe",
            b"",
            b"-",
            b"+",
            b".",
            b"e5",
            b"0x10",
            b"\xFF",
            "\u{e9}".as_bytes(),
            b"_1",
            b"1_000",
        ];
        let mut checked = 0;
        for head in heads {
            for body in bodies {
                for tail in [&b""[..], b" ", b"\x0B", b"x"] {
                    let text = [*head, *body, tail].concat();
                    let (fast, plain) = (parse_num(&text), parse_num_text(&text));
                    assert_eq!(fast.map(f64::to_bits), plain.map(f64::to_bits), "{text:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked > 1000);
    }

    /// `substr` as a vector of characters reads it: the definition the in-place slicing keeps.
    fn substr_by_chars(s: &[u8], start: f64, len: Option<f64>) -> Vec<u8> {
        let chars: Vec<char> = String::from_utf8_lossy(s).chars().collect();
        let n = chars.len() as i64;
        let start = start as i64;
        let from = if start < 0 {
            (n + start).max(0)
        } else {
            (start - 1).max(0)
        };
        let len = len.map_or(n, |l| l as i64);
        let to = (from + len.max(0)).min(n);
        let out: String = chars[from.min(n) as usize..to.max(from.min(n)) as usize]
            .iter()
            .collect();
        out.into_bytes()
    }

    #[test]
    fn substr_slices_characters_in_place() {
        let values: [&[u8]; 6] = [
            b"",
            b"a.exe",
            "\u{e9}t\u{e9}.exe".as_bytes(),
            b"ab\xffcd\xfe",
            b"x",
            "\u{1F600}\u{1F600}z".as_bytes(),
        ];
        for value in values {
            for start in [-9.0, -4.0, -1.0, 0.0, 1.0, 2.0, 3.0, 7.0, 20.0] {
                for len in [None, Some(-1.0), Some(0.0), Some(1.0), Some(2.0), Some(9.0)] {
                    let expected = substr_by_chars(value, start, len);
                    for s in [
                        Val::Str(Cow::Borrowed(value)),
                        Val::Str(Cow::Owned(value.to_vec())),
                    ] {
                        let got = substr(s, Val::Num(start), len.map(Val::Num));
                        assert_eq!(
                            got,
                            Val::Str(Cow::Owned(expected.clone())),
                            "{value:?} {start} {len:?}"
                        );
                    }
                }
            }
        }
        assert_eq!(substr(Val::Null, Val::Num(1.0), None), Val::Null);
        assert_eq!(
            substr(Val::Str(Cow::Borrowed(b"ab")), Val::Null, None),
            Val::Null
        );
    }

    #[test]
    fn whole_numbers_are_written_as_the_formatter_writes_integers() {
        for n in [
            0.0,
            -0.0,
            5.0,
            -5.0,
            12.0,
            1e14,
            -999_999_999_999_999.0,
            1234567.0,
        ] {
            let mut out = Vec::new();
            write_num(n, &mut out);
            assert_eq!(out, format!("{}", n as i64).into_bytes(), "{n}");
        }
        for n in [0.5, 1e15, -2.25, f64::NAN, f64::INFINITY] {
            let mut out = Vec::new();
            write_num(n, &mut out);
            assert_eq!(out, format!("{n}").into_bytes(), "{n}");
        }
    }

    /// `len(field)` reads the first non-empty value, as `len` of the field's value does.
    #[test]
    fn len_of_a_field_is_the_first_values() {
        let len = |values: &[&str]| {
            let mut row = super::super::row::OwnedRow::with_slots(1);
            row.set(0, values.iter().map(|v| v.as_bytes().to_vec()).collect());
            let ex = Ex::Call(Func::Len, vec![Ex::Field(0)]);
            let direct = eval(&ex, &row);
            let general = eval_call(Func::Len, &[Ex::Field(0)], &row);
            assert_eq!(direct, general, "{values:?}");
            match direct {
                Val::Num(n) => Some(n),
                _ => None,
            }
        };
        assert_eq!(len(&[]), None);
        assert_eq!(len(&[""]), None);
        assert_eq!(len(&["", "a.exe", "xy"]), Some(5.0));
        assert_eq!(len(&["\u{e9}t\u{e9}"]), Some(3.0));
    }

    #[test]
    fn len_counts_characters_and_invalid_bytes_as_one_each() {
        assert_eq!(char_count(b"a.exe"), 5);
        assert_eq!(char_count("\u{e9}t\u{e9}".as_bytes()), 3);
        assert_eq!(char_count(b"ab\xff\xfecd"), 6);
        assert_eq!(char_count(b""), 0);
    }

    #[test]
    fn a_field_value_is_null_one_string_or_a_multivalue() {
        let mut row = super::super::row::OwnedRow::with_slots(1);
        assert_eq!(field_val(&row, 0), Val::Null);
        row.set(0, vec![Vec::new(), b"a".to_vec()]);
        assert_eq!(field_val(&row, 0), Val::Str(Cow::Borrowed(b"a")));
        row.set(
            0,
            vec![b"a".to_vec(), Vec::new(), b"b".to_vec(), b"c".to_vec()],
        );
        let multi = field_val(&row, 0);
        assert_eq!(
            multi,
            Val::Multi(vec![
                Cow::Borrowed(&b"a"[..]),
                Cow::Borrowed(&b"b"[..]),
                Cow::Borrowed(&b"c"[..])
            ])
        );
        assert_eq!(multi.first(), Some(Cow::Borrowed(&b"a"[..])));
        assert_eq!(Val::Num(3.0).first(), Some(Cow::Owned(b"3".to_vec())));
    }

    /// `field<value` compares bytes of the folded value with the value as written, folded.
    #[test]
    fn order_compares_text_case_insensitively() {
        let cond = |op, value: &str| Cond::Order {
            src: Src::Slot(0),
            op,
            value: value.as_bytes().to_vec(),
            num: parse_num(value.as_bytes()),
        };
        let mut row = super::super::row::OwnedRow::with_slots(1);
        row.set(0, vec![b"Beta".to_vec()]);
        let mut cache = FoldCache::new(1);
        for (op, value, expected) in [
            (CmpOp::Gt, "ALPHA", true),
            (CmpOp::Lt, "ALPHA", false),
            (CmpOp::Eq, "BETA", true),
            (CmpOp::Lt, "BETAx", true),
            (CmpOp::Gt, "BET", true),
            (CmpOp::Ge, "beta", true),
        ] {
            cache.next_row();
            assert_eq!(
                eval_cond(&cond(op, value), &row, &mut cache),
                expected,
                "{op:?} {value}"
            );
        }
    }
}
