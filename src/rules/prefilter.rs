//! The literal index: one for the whole rule set, so a row costs one search per field however
//! many rules are loaded, and only the rules whose literals the row holds are evaluated.
//!
//! Each rule's condition yields *factors* ([`factors`]): sets of literals of which every row
//! the rule matches holds at least one (the "must contain one of" parts of its AND-ed
//! predicates, `where match(...)` tests included; an OR contributes the union of its branches'
//! best factors). A literal sits in one field, in a [`Place`]: the whole value
//! (`process_name=netsh.exe`, an `IN` list without wildcards), its start or end (the `x` of
//! `x*`, of `*x`, the ends of `x*y`), or anywhere (`*-enc*`, a literal every match of a regex
//! holds).
//!
//! Per field, whole values are looked up in one hash table, starts and ends walked in a trie
//! of their bytes, and pieces found by one [`Literals`] search; fields holding no rule's key
//! are searched only when a rule asks for one of their literals, and so are a field's starts
//! (ends) when none of them is a key ([`on_demand`]).
//! A rule indexes its [`FACTORS_PER_RULE`] rarest factors (see [`rarity`]); the rarest is its
//! *key*. Per row, every literal found is marked; each rule keyed by a marked literal becomes
//! a *candidate* when each of its other indexed factors has a marked literal too, and only
//! candidates are evaluated. Keys keep that walk short: a literal many rules share
//! (`process_name=cmd.exe`) is seldom a key, so a row holding it touches few rules. Rules
//! without a usable literal are evaluated on every row; [`LiteralIndex::unanchored`] lists
//! them.
//!
//! Everything here reads [`Cond`], whatever front door (ESCU SPL, Sigma) compiled it.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::literals::{commonness, Literals, WholeValues, MIN_LITERAL};

use super::anchored::Anchored;
use super::decided::{plan, Plan};
use super::eval_lang::BinOp;
use super::expr::{eval_cond, Cond, Ex, FoldCache, Func, Src};
use super::glob::Glob;
pub use super::glob::Place;
use super::parallel::{drop_off_thread, each_in_parallel, in_parallel, in_parts, join};
use super::row::Row;
use super::ruleset::Rule;
use super::search_lang::CmpOp;
use super::shape::{fits, length_bounds, LengthBound};

/// A literal that a row matched by some rule must hold in one field, in one place. ASCII
/// case-insensitive; `bytes` is lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequiredLiteral {
    pub slot: usize,
    pub bytes: Vec<u8>,
    pub place: Place,
}

impl RequiredLiteral {
    /// Whether the protocol's row gate can look for it: a whole value, or bytes it can search
    /// the raw row for (a start or end is somewhere in the row too).
    fn gate_can_search(&self) -> bool {
        self.place == Place::Whole || self.bytes.len() >= MIN_LITERAL
    }
}

/// Pieces shorter than this are too common to filter anything; evaluating the rule is as cheap.
const MIN_PIECE: usize = MIN_LITERAL;

/// Starts and ends are compared in one place, not searched for: two bytes already tell
/// `7z*.exe` from most values.
pub(super) const MIN_ANCHORED: usize = 2;

/// Factors indexed per rule: its rarest ones. A rule is a candidate only when all of them
/// hold; each costs a search for its literals (a whole value or anchored one next to
/// nothing, a piece a little) and a look at its marks when the rule's key holds.
const FACTORS_PER_RULE: usize = 3;

type Factor = Vec<RequiredLiteral>;

/// The factors of `cond`: each a set of alternatives of which every row `cond` accepts holds
/// one. Empty when nothing is known (the rule must be evaluated on every row).
pub(crate) fn factors(cond: &Cond) -> Vec<Factor> {
    let mut out = Vec::new();
    collect_factors(cond, &mut out);
    out
}

fn collect_factors(cond: &Cond, out: &mut Vec<Factor>) {
    match cond {
        Cond::Glob {
            src: Src::Slot(slot),
            pat,
        } => out.extend(glob_factors(*slot, pat)),
        // One branch per value and per pattern. An empty exact value never matches (empty
        // values are absent), so it is no branch.
        Cond::AnyGlob { slot, exact, globs } => {
            let exact = exact
                .iter()
                .filter(|e| !e.is_empty())
                .map(|e| vec![vec![literal(*slot, Place::Whole, e)]]);
            let globs = globs.iter().map(|glob| glob_factors(*slot, glob));
            out.extend(unions(exact.chain(globs)));
        }
        Cond::Regex {
            src: Src::Slot(slot),
            re,
            negate: false,
        } => out.extend(regex_factors(*slot, re.source())),
        Cond::And(items) => items.iter().for_each(|item| collect_factors(item, out)),
        Cond::Order {
            src: Src::Expr(ex),
            op,
            num: Some(bound),
            ..
        } => out.extend(split_count_factor(ex, *op, *bound)),
        // Each branch must hold one of its best factor's literals: their union holds for the OR.
        Cond::Or(items) => out.extend(unions(items.iter().map(factors))),
        Cond::Truthy(ex) => truthy_factors(ex, out),
        _ => {}
    }
}

/// Factors for alternatives that each yield `branches`' factors. A factor every branch has
/// (`name=mofcomp.exe` in `(name=mofcomp.exe AND parent IN (...)) OR (name=mofcomp.exe AND
/// *\appdata\*)`) holds for the OR as it is. Of the others, every branch a row
/// passes holds each of its own factors, so the union of one factor per branch holds for the
/// OR: the union of each branch's rarest, then of each branch's second rarest (its rarest
/// again where it has one), and so on, up to [`FACTORS_PER_RULE`] unions in all. `(name=wmic.exe
/// AND *ntevent*) OR (name=wevtutil.exe AND "* qe *")` so needs a name *and* an argument.
/// Nothing when some branch has no factor; no unions when some branch has only common ones.
fn unions(branches: impl Iterator<Item = Vec<Factor>>) -> Vec<Factor> {
    let mut ranked: Vec<Vec<Factor>> = Vec::new();
    for branch in branches {
        if branch.is_empty() {
            return Vec::new();
        }
        ranked.push(branch.into_iter().map(dedup).collect());
    }
    let mut out: Vec<Factor> = Vec::new();
    if let Some((first, others)) = ranked.split_first() {
        for factor in first {
            if others.iter().all(|branch| branch.contains(factor)) && !out.contains(factor) {
                out.push(factor.clone());
            }
        }
    }
    for branch in &mut ranked {
        branch.retain(|f| !out.contains(f));
        if branch.is_empty() {
            return out;
        }
        branch.sort_by_cached_key(|f| std::cmp::Reverse(factor_rarity(f, |_| 0)));
    }
    let deepest = ranked.iter().map(Vec::len).max().unwrap_or(0);
    for depth in 0..deepest.min(FACTORS_PER_RULE) {
        let union: Factor = ranked
            .iter()
            .flat_map(|branch| branch[depth.min(branch.len() - 1)].iter().cloned())
            .collect();
        let union = dedup(union);
        if !union.is_empty() && !out.contains(&union) {
            out.push(union);
        }
    }
    out
}

/// The factors of a `where` expression that is true only for rows holding literals:
/// `match(field, "re")` (some value matches), `isnotnull` of a `rex` group of a field (the
/// regex matched), and `AND`/`OR` of those. Eval's `AND` is true only when both sides are
/// true, `OR` when one is.
fn truthy_factors(ex: &Ex, out: &mut Vec<Factor>) {
    match ex {
        Ex::Match(src, re) => {
            if let Ex::Field(slot) = **src {
                out.extend(regex_factors(slot, re.source()));
            }
        }
        Ex::Call(Func::IsNotNull, args) => {
            if let [Ex::RexGroup { src, re, .. }] = args.as_slice() {
                if let Ex::Field(slot) = **src {
                    out.extend(regex_factors(slot, re.source()));
                }
            }
        }
        Ex::Bin(BinOp::And, left, right) => {
            truthy_factors(left, out);
            truthy_factors(right, out);
        }
        Ex::Bin(BinOp::Or, left, right) => {
            let branch = |ex: &Ex| {
                let mut found = Vec::new();
                truthy_factors(ex, &mut found);
                found
            };
            out.extend(unions([branch(left), branch(right)].into_iter()));
        }
        _ => {}
    }
}

/// `mvcount(split(field, "sep"))`, less a constant, compared with a number that needs two
/// parts or more (ESCU counts path traversals so): split yields two parts exactly when the
/// field's first value holds `sep`, so every row the comparison accepts holds `sep`.
fn split_count_factor(ex: &Ex, op: CmpOp, bound: f64) -> Option<Factor> {
    let (count, minus) = match ex {
        Ex::Bin(BinOp::Sub, count, constant) => match **constant {
            Ex::Num(c) => (&**count, c),
            _ => return None,
        },
        other => (other, 0.0),
    };
    let Ex::Call(Func::MvCount, args) = count else {
        return None;
    };
    let [Ex::Call(Func::Split, parts)] = args.as_slice() else {
        return None;
    };
    let [Ex::Field(slot), Ex::Str(sep)] = parts.as_slice() else {
        return None;
    };
    // The least part count the comparison accepts (counts are whole numbers).
    let least = match op {
        CmpOp::Gt => (bound + minus).floor() + 1.0,
        CmpOp::Ge | CmpOp::Eq => (bound + minus).ceil(),
        _ => return None,
    };
    (least >= 2.0 && sep.len() >= MIN_PIECE).then(|| vec![literal(*slot, Place::Anywhere, sep)])
}

/// The factors of a regex test on one field: literals every match holds (`regex_literals`).
fn regex_factors(slot: usize, pattern: &str) -> Vec<Factor> {
    super::regex_literals::factors(pattern)
        .into_iter()
        .map(|alternatives| {
            alternatives
                .into_iter()
                .map(|bytes| literal(slot, Place::Anywhere, &bytes))
                .collect()
        })
        .collect()
}

fn literal(slot: usize, place: Place, bytes: &[u8]) -> RequiredLiteral {
    RequiredLiteral {
        slot,
        bytes: bytes.to_ascii_lowercase(),
        place,
    }
}

/// An exact pattern is one whole-value factor; a wildcard pattern gives one factor per part
/// long enough to tell values apart: its start and end, and the pieces between wildcards.
fn glob_factors(slot: usize, glob: &Glob) -> Vec<Factor> {
    glob.required_parts()
        .into_iter()
        .filter(|&(place, part)| match place {
            Place::Whole => true,
            Place::Start | Place::End => part.len() >= MIN_ANCHORED,
            Place::Anywhere => part.len() >= MIN_PIECE,
        })
        .map(|(place, part)| vec![literal(slot, place, part)])
        .collect()
}

/// Literals whose presence rules a rule out, read from the negations in its top-level AND.
#[derive(Debug, Clone, Default, PartialEq)]
struct Exclusions {
    /// Any of them in its field: the rule cannot match (`NOT field=x`, `NOT field IN (...)`).
    any: Vec<RequiredLiteral>,
    /// Any of them as the only value of its field: the rule cannot match (`field!=x`).
    sole: Vec<RequiredLiteral>,
}

fn exclusions(cond: &Cond) -> Exclusions {
    let mut out = Exclusions::default();
    collect_exclusions(cond, &mut out);
    out
}

fn collect_exclusions(cond: &Cond, out: &mut Exclusions) {
    match cond {
        Cond::And(items) => items.iter().for_each(|item| collect_exclusions(item, out)),
        // NOT x is false wherever x holds.
        Cond::Not(inner) => proofs(inner, &mut out.any),
        // `field!=x` holds when some value differs from x: not when the only value is x.
        Cond::NotGlob {
            src: Src::Slot(slot),
            pat,
        } => out.sole.extend(equivalent_literal(*slot, pat)),
        _ => {}
    }
}

/// Literals each of which, when a value holds it, makes `cond` true.
fn proofs(cond: &Cond, out: &mut Vec<RequiredLiteral>) {
    match cond {
        Cond::Glob {
            src: Src::Slot(slot),
            pat,
        } => out.extend(equivalent_literal(*slot, pat)),
        Cond::AnyGlob { slot, exact, globs } => {
            let exact = exact.iter().filter(|e| !e.is_empty());
            out.extend(exact.map(|e| literal(*slot, Place::Whole, e)));
            out.extend(globs.iter().filter_map(|g| equivalent_literal(*slot, g)));
        }
        Cond::Or(items) => items.iter().for_each(|item| proofs(item, out)),
        _ => {}
    }
}

/// The literal a value of `slot` holds exactly when `pat` matches it, if the index can look
/// for it.
pub(super) fn equivalent_literal(slot: usize, pat: &Glob) -> Option<RequiredLiteral> {
    let (place, part) = pat.sole_part()?;
    let searchable = match place {
        Place::Whole => !part.is_empty(),
        Place::Start | Place::End => part.len() >= MIN_ANCHORED,
        Place::Anywhere => part.len() >= MIN_PIECE,
    };
    searchable.then(|| literal(slot, place, part))
}

fn dedup(mut factor: Factor) -> Factor {
    factor.sort_by(|a, b| (a.slot, &a.bytes, a.place).cmp(&(b.slot, &b.bytes, b.place)));
    factor.dedup();
    factor
}

/// A rough estimate of how rarely a row holds `literal`, in tenths of a bit: the rarity of
/// its bytes in command lines ([`commonness`]), less `common` (what the rule set says of it,
/// [`commonness_in_set`]). A piece can be as rare as its bytes make it; the values of one
/// field are few, and the ones rules name are the common programs attackers borrow, so a
/// whole value, a start or an end counts at most 10 bits.
fn rarity(literal: &RequiredLiteral, common: i32) -> i32 {
    let bytes: i32 = literal.bytes.iter().map(|&b| byte_rarity(b)).sum();
    let own = match literal.place {
        Place::Anywhere => bytes.min(250),
        Place::Whole | Place::Start | Place::End => (bytes + 40).min(100),
    };
    own - common
}

/// About 1 bit for a space or an `e`, 6.5 for the rarest byte the table ranks, 8 for bytes
/// it does not rank.
fn byte_rarity(byte: u8) -> i32 {
    static TABLE: OnceLock<[i32; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        std::array::from_fn(|b| match commonness(b as u8) {
            0 => 80,
            rank => 10 + (100 - i32::from(rank)) * 5 / 4,
        })
    });
    table[usize::from(byte)]
}

/// `10 * log2(n)`, for `n >= 1`.
fn tenths_of_bits(n: usize) -> i32 {
    (10.0 * (n.max(1) as f64).log2()) as i32
}

/// A factor's rarity: that of its commonest alternative, less the bits its number of
/// alternatives takes away.
fn factor_rarity(factor: &[RequiredLiteral], common: impl Fn(&RequiredLiteral) -> i32) -> i32 {
    let commonest = factor
        .iter()
        .map(|l| rarity(l, common(l)))
        .min()
        .unwrap_or(0);
    commonest - tenths_of_bits(factor.len())
}

/// How cheap a factor is for the protocol's row gate, which must find it in the raw row:
/// whole values first (compared, never searched), then the longest shortest literal, then
/// the fewest alternatives.
fn gate_preference(factor: &[&RequiredLiteral]) -> (bool, usize, usize) {
    let all_whole = factor.iter().all(|l| l.place == Place::Whole);
    let shortest = factor.iter().map(|l| l.bytes.len()).min().unwrap_or(0);
    (all_whole, shortest.min(12), usize::MAX - factor.len())
}

/// A rule's factors (each its literals' ids, sorted) without repeats, and without a factor
/// holding all the alternatives of another (it holds whenever that one does, so it filters
/// nothing more).
fn distinct(factors: Vec<Vec<LiteralId>>) -> Vec<Vec<LiteralId>> {
    let implied = |i: usize, f: &[LiteralId]| {
        factors.iter().enumerate().any(|(j, g)| {
            j != i && (g.len() < f.len() || j < i) && g.iter().all(|l| f.binary_search(l).is_ok())
        })
    };
    factors
        .iter()
        .enumerate()
        .filter(|&(i, f)| !implied(i, f))
        .map(|(_, f)| f.clone())
        .collect()
}

/// How common the rule set makes each of its literals (by id) look, in tenths of a bit to
/// take off its [`rarity`]: a literal many rules require (`process_name=cmd.exe`); doubly a
/// piece many of the set's other literals contain (`system`, in `\system32\config\sam` and
/// the like: the set's literals are a sample of the words command lines are made of); and a
/// whole value of a field the rules compare with few values (`action=allowed`,
/// `IntegrityLevel=High`): a field of few values, each common.
fn commonness_in_set(
    literals: &[&RequiredLiteral],
    rules: &[Vec<Vec<LiteralId>>],
    threads: usize,
) -> Vec<i32> {
    let mut sharing = vec![0usize; literals.len()];
    for factors in rules {
        let mut own: Vec<LiteralId> = factors.iter().flatten().copied().collect();
        own.sort_unstable();
        own.dedup();
        own.iter().for_each(|&l| sharing[l as usize] += 1);
    }
    // The rules' factors speak for the set (an exclusion names what a rule is not about).
    let in_factors: Vec<bool> = sharing.iter().map(|&n| n > 0).collect();
    let mut values: HashMap<usize, usize> = HashMap::new();
    for (literal, _) in literals.iter().zip(&in_factors).filter(|(_, &f)| f) {
        if literal.place == Place::Whole {
            *values.entry(literal.slot).or_insert(0) += 1;
        }
    }
    let holders = containing(literals, &in_factors, threads);
    literals
        .iter()
        .zip(holders)
        .zip(sharing)
        .map(|((literal, holders), rules)| {
            let own = match literal.place {
                Place::Anywhere => 2 * tenths_of_bits(1 + holders),
                Place::Whole => {
                    let named = values.get(&literal.slot).copied().unwrap_or(1);
                    (100 - 2 * tenths_of_bits(1 + named)).max(0)
                }
                Place::Start | Place::End => 0,
            };
            tenths_of_bits(rules) + own
        })
        .collect()
}

/// Pieces longer than this are specific by their length alone: which literals contain them
/// is not worth the search at load time.
const GENERIC_PIECE: usize = 12;

/// [`containing`]'s texts are searched in this many parts per thread, of at least
/// [`MIN_TEXTS`] texts (a part costs a thread's counts of every piece).
const PARTS_PER_THREAD: usize = 4;
const MIN_TEXTS: usize = 256;

/// For each literal, if it is a short piece, how many other distinct texts among the
/// `counted` literals (in any field and place) contain its bytes; 0 for the others. One
/// [`Literals`] search over the texts, split between `threads` (each text is counted by one
/// part, so the parts' counts add up to one search's).
fn containing(literals: &[&RequiredLiteral], counted: &[bool], threads: usize) -> Vec<usize> {
    let counted = || {
        literals
            .iter()
            .zip(counted)
            .filter(|(_, &c)| c)
            .map(|(l, _)| l)
    };
    let short = |l: &RequiredLiteral| l.place == Place::Anywhere && l.bytes.len() <= GENERIC_PIECE;
    let pieces: Vec<&[u8]> = sorted_distinct(counted().filter(|l| short(l)).map(|l| &l.bytes[..]));
    // The texts are sorted while the pieces' search is built.
    let (search, texts) = join(
        threads,
        || Literals::new(&pieces),
        || sorted_distinct(counted().map(|l| &l.bytes[..])),
    );
    let mut counts = vec![0usize; pieces.len()];
    if let Some(search) = search {
        // Texts cost by their length, and sorted texts come in runs of like length (paths
        // under `c:\`, short names): several parts per thread, each taken by the next free
        // thread, so that no thread is left with the long ones alone.
        let per_part = texts
            .len()
            .div_ceil(threads * PARTS_PER_THREAD)
            .max(MIN_TEXTS);
        let parts: Vec<&[&[u8]]> = texts.chunks(per_part).collect();
        let parts = each_in_parallel(threads, &parts, |texts| {
            let mut counts = vec![0usize; pieces.len()];
            let mut last_text = vec![usize::MAX; pieces.len()];
            for (t, text) in texts.iter().enumerate() {
                search.find(text, |piece| {
                    if last_text[piece] != t && pieces[piece] != *text {
                        last_text[piece] = t;
                        counts[piece] += 1;
                    }
                    false
                });
            }
            counts
        });
        for part in parts {
            counts.iter_mut().zip(part).for_each(|(all, n)| *all += n);
        }
    }
    // Only short pieces are among `pieces`: the others are not looked for.
    let count = |l: &RequiredLiteral| {
        if !short(l) {
            return 0;
        }
        pieces
            .binary_search(&&l.bytes[..])
            .map_or(0, |at| counts[at])
    };
    in_parts(threads, literals, |part| {
        part.iter().map(|l| count(l)).collect::<Vec<_>>()
    })
    .concat()
}

/// The texts, sorted, without repeats.
fn sorted_distinct<'t>(texts: impl Iterator<Item = &'t [u8]>) -> Vec<&'t [u8]> {
    let mut texts: Vec<&[u8]> = texts.collect();
    texts.sort_unstable();
    texts.dedup();
    texts
}

/// Each rule's factors, rarest first (see [`rarity`] and [`commonness_in_set`]).
fn rank(
    literals: &[&RequiredLiteral],
    mut rules: Vec<Vec<Vec<LiteralId>>>,
    threads: usize,
) -> Vec<Vec<Vec<LiteralId>>> {
    let common = commonness_in_set(literals, &rules, threads);
    let rarity: Vec<i32> = literals
        .iter()
        .zip(common)
        .map(|(literal, common)| rarity(literal, common))
        .collect();
    let factor_rarity = |factor: &Vec<LiteralId>| {
        let commonest = factor
            .iter()
            .map(|&l| rarity[l as usize])
            .min()
            .unwrap_or(0);
        commonest - tenths_of_bits(factor.len())
    };
    for factors in &mut rules {
        factors.sort_by_cached_key(|f| std::cmp::Reverse(factor_rarity(f)));
    }
    rules
}

/// A literal's id in [`LiteralIndex::literals`].
type LiteralId = u32;

/// Lists of ids packed in one array: list `i` is `items[start[i]..start[i + 1]]`, so a walk
/// reads two neighbouring offsets instead of following one allocation per list.
#[derive(Debug, Clone)]
struct Lists {
    start: Vec<u32>,
    items: Vec<u32>,
}

impl Default for Lists {
    fn default() -> Lists {
        Lists {
            start: vec![0],
            items: Vec::new(),
        }
    }
}

impl Lists {
    fn new<L: AsRef<[u32]>>(lists: impl IntoIterator<Item = L>) -> Lists {
        let mut packed = Lists::default();
        for list in lists {
            packed.items.extend_from_slice(list.as_ref());
            packed.start.push(packed.items.len() as u32);
        }
        packed
    }

    #[inline]
    fn get(&self, list: usize) -> &[u32] {
        &self.items[self.start[list] as usize..self.start[list + 1] as usize]
    }

    fn len(&self) -> usize {
        self.start.len() - 1
    }
}

/// The compiled index of every rule's literals.
#[derive(Debug, Clone, Default)]
pub struct LiteralIndex {
    /// Literal id → the literal.
    pub(crate) literals: Vec<RequiredLiteral>,
    /// Factor id → its literals.
    factor_literals: Lists,
    /// Rule → its indexed factors, its key first (none: the rule has no usable literal).
    rule_factors: Lists,
    /// Literal → the rules whose key factor holds it.
    key_rules: Lists,
    /// Rule → what it needs besides its key, packed for one walk: the number of its other
    /// indexed factors, then each factor; then the literals that rule it out wherever they
    /// are ([`Exclusions::any`]); then those that rule it out as the only value of their
    /// field. Each of these lists of literals is written as its number of fields, then per
    /// field its search, its number of literals and their ids ([`grouped`]): a field is
    /// searched (if no rule asked before) once, and each literal costs one look at its mark. Empty
    /// when the rule needs nothing besides its key.
    checks: Lists,
    /// Literal → the index of its field's search in `slots`.
    literal_search: Vec<u32>,
    /// The searches run on every row: those of fields holding some rule's key.
    eager: Vec<u32>,
    /// Rule → the factor the row gate checks: the cheapest to find in a raw row (`None`:
    /// the rule has none the gate can search for).
    gate: Vec<Option<Box<[RequiredLiteral]>>>,
    /// Rules evaluated on every row.
    unanchored: Vec<u32>,
    /// Per rule of `unanchored`: the lengths its fields' values must have ([`super::shape`]).
    unanchored_lengths: Vec<Box<[LengthBound]>>,
    slots: Vec<SlotSearch>,
    /// Rule → what of its condition the marks decide (`None`: nothing).
    plans: Vec<Option<Plan>>,
}

/// Per literal, whether [`SlotSearch::build_all`] leaves it to a search run only when a
/// candidate asks: a start (an end) of a field whose starts (ends) are no rule's key. Where
/// some are a key, the trie is walked on every row anyway, and once is cheaper than twice
/// (Sigma names hundreds of programs by `Image|endswith`, keys and checks alike).
fn on_demand(literals: &[RequiredLiteral], key_rules: &[Vec<u32>]) -> Vec<bool> {
    let walked: std::collections::HashSet<(usize, Place)> = (literals.iter().zip(key_rules))
        .filter(|(_, rules)| !rules.is_empty())
        .map(|(literal, _)| (literal.slot, literal.place))
        .collect();
    let anchored = |l: &RequiredLiteral| matches!(l.place, Place::Start | Place::End);
    (literals.iter())
        .map(|l| anchored(l) && !walked.contains(&(l.slot, l.place)))
        .collect()
}

/// The hash of the build's tables of literals and factors (and of the rule set's field and
/// rule-id tables while rules are added): a multiply-rotate of 8 bytes at a time (FxHash's),
/// a few times faster than the standard library's SipHash on these short keys. The keys are
/// the rules' own literals, names and ids, not input, and ids are given in insertion order,
/// so the hash decides nothing but speed.
#[derive(Clone, Copy, Default)]
pub(super) struct FastHash;

impl std::hash::BuildHasher for FastHash {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

pub(super) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517C_C1B7_2722_0A95);
    }
}

impl std::hash::Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(word);
            self.add(u64::from_le_bytes(eight));
        }
        let mut rest = [0u8; 8];
        rest[..words.remainder().len()].copy_from_slice(words.remainder());
        self.add(u64::from_le_bytes(rest));
    }

    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Numbers the [`Catalog`]'s literals that the index keeps, in the order they are first
/// kept (the catalog has told equal literals apart already: no hashing), and interns factors
/// (a factor: its literals' new ids, sorted).
struct Interner<'c> {
    catalog: &'c [&'c RequiredLiteral],
    /// Catalog id → the id here (`LiteralId::MAX`: not kept so far).
    renumbered: Vec<LiteralId>,
    literals: Vec<RequiredLiteral>,
    factors: Vec<Vec<LiteralId>>,
    factor_ids: HashMap<Vec<LiteralId>, u32, FastHash>,
}

impl<'c> Interner<'c> {
    fn new(catalog: &'c [&'c RequiredLiteral]) -> Interner<'c> {
        Interner {
            catalog,
            renumbered: vec![LiteralId::MAX; catalog.len()],
            literals: Vec::new(),
            factors: Vec::new(),
            factor_ids: HashMap::default(),
        }
    }

    /// The id of the catalog's literal `listed`.
    fn literal(&mut self, listed: LiteralId) -> LiteralId {
        let id = &mut self.renumbered[listed as usize];
        if *id == LiteralId::MAX {
            *id = self.literals.len() as LiteralId;
            self.literals.push(self.catalog[listed as usize].clone());
        }
        *id
    }

    /// The ids of the catalog's literals `listed`, sorted, without repeats.
    fn literals(&mut self, listed: impl IntoIterator<Item = LiteralId>) -> Vec<LiteralId> {
        let mut ids: Vec<LiteralId> = listed.into_iter().map(|l| self.literal(l)).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    fn factor(&mut self, listed: impl IntoIterator<Item = LiteralId>) -> u32 {
        let ids = self.literals(listed);
        let next = self.factors.len() as u32;
        *self.factor_ids.entry(ids.clone()).or_insert_with(|| {
            self.factors.push(ids);
            next
        })
    }
}

/// Literals interned by reference, while the index is being chosen: no copies of literals
/// that end up unindexed.
#[derive(Default)]
struct Catalog<'a> {
    literals: Vec<&'a RequiredLiteral>,
    ids: HashMap<&'a RequiredLiteral, LiteralId, FastHash>,
}

impl<'a> Catalog<'a> {
    /// A catalog sized for every literal `shapes` name (repeats included: the table never
    /// grows while the literals are interned).
    fn for_shapes(shapes: &[(Vec<Factor>, Exclusions)]) -> Catalog<'a> {
        let named: usize = (shapes.iter())
            .map(|(factors, exclusions)| {
                let in_factors: usize = factors.iter().map(Vec::len).sum();
                in_factors + exclusions.any.len() + exclusions.sole.len()
            })
            .sum();
        Catalog {
            literals: Vec::with_capacity(named),
            ids: HashMap::with_capacity_and_hasher(named, FastHash),
        }
    }

    /// The ids of `literals`, sorted, without repeats.
    fn ids(&mut self, literals: &'a [RequiredLiteral]) -> Vec<LiteralId> {
        let mut ids: Vec<LiteralId> = literals
            .iter()
            .map(|literal| {
                let next = self.literals.len() as LiteralId;
                *self.ids.entry(literal).or_insert_with(|| {
                    self.literals.push(literal);
                    next
                })
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// The factor the row gate checks for a rule: the cheapest to find in a raw row among those
/// it can search for (see [`gate_preference`]).
fn gate_factor(
    literals: &[&RequiredLiteral],
    factors: &[Vec<LiteralId>],
) -> Option<Box<[RequiredLiteral]>> {
    let factor = |ids: &Vec<LiteralId>| -> Vec<&RequiredLiteral> {
        ids.iter().map(|&l| literals[l as usize]).collect()
    };
    let best = factors
        .iter()
        .map(factor)
        .filter(|f| f.iter().all(|l| l.gate_can_search()))
        .max_by_key(|f| gate_preference(f))?;
    Some(best.into_iter().cloned().collect())
}

/// Fewer rules than this have their index built on the calling thread alone.
const FEW_RULES: usize = 32;

impl LiteralIndex {
    /// The index of `rules`, built on `threads` threads: the same index on any number (the
    /// work is split where its results are per rule, per text or per field, and taken back
    /// in order).
    pub(crate) fn build(rules: &[Rule], threads: usize) -> LiteralIndex {
        let conds: Vec<&Cond> = rules.iter().map(|r| &r.cond).collect();
        LiteralIndex::of_conds(&conds, threads)
    }

    /// The index of rules with these conditions, and their [`Plan`]s.
    pub(crate) fn of_conds(conds: &[&Cond], threads: usize) -> LiteralIndex {
        // A few rules' index is built in less time than its helper threads take to start
        // (`scan` with the 2 shipped rules started 2, each with a heap of its own).
        let threads = if conds.len() < FEW_RULES { 1 } else { threads };
        let shapes = in_parallel(threads, conds, |c| (factors(c), exclusions(c)));
        let mut index = LiteralIndex::from_shapes(shapes, threads);
        let ids: HashMap<&RequiredLiteral, LiteralId, FastHash> =
            (index.literals.iter()).zip(0..).collect();
        let id = |literal: &RequiredLiteral| ids.get(literal).copied();
        let plans = in_parallel(threads, conds, |c| plan(c, &id));
        drop(ids);
        index.plans = plans;
        index.unanchored_lengths = (index.unanchored.iter())
            .map(|&rule| length_bounds(conds[rule as usize]))
            .collect();
        index
    }

    /// Whether `rule`'s condition `cond` holds on `row`, after [`LiteralIndex::candidates`]
    /// marked the row's literals in `scratch`: the tests the marks decide are read from them
    /// ([`Plan`]), the others evaluated.
    pub(crate) fn evaluate(
        &self,
        rule: usize,
        cond: &Cond,
        row: &dyn Row,
        scratch: &mut IndexScratch,
        cache: &mut FoldCache,
    ) -> bool {
        match self.plan(rule) {
            Some(plan) => plan.holds(cond, row, self, scratch, cache),
            None => eval_cond(cond, row, cache),
        }
    }

    /// The index of rules with these factors and exclusions (one pair per rule).
    ///
    /// Searching the row for a piece costs every row something (about a nanosecond per
    /// piece on a command line, most of it for pieces common in the data), while a rule's key
    /// already keeps it from all but a few rows. So every rule's key is searched for, but its
    /// other factors and its exclusions only where that is free: whole values, starts and
    /// ends (one lookup per field, however many), and pieces searched anyway as some rule's
    /// key. A factor left out only makes the rule a candidate on more rows.
    fn from_shapes(shapes: Vec<(Vec<Factor>, Exclusions)>, threads: usize) -> LiteralIndex {
        let mut all = Catalog::for_shapes(&shapes);
        let mut found = Vec::with_capacity(shapes.len());
        let mut excluded = Vec::with_capacity(shapes.len());
        for (factors, exclusions) in &shapes {
            let factors = factors.iter().map(|f| all.ids(f)).collect();
            found.push(distinct(factors));
            excluded.push((all.ids(&exclusions.any), all.ids(&exclusions.sole)));
        }
        let ranked = rank(&all.literals, found, threads);
        let mut searched = vec![false; all.literals.len()];
        for key in ranked.iter().filter_map(|factors| factors.first()) {
            key.iter().for_each(|&l| searched[l as usize] = true);
        }
        let free = |l: &LiteralId| {
            all.literals[*l as usize].place != Place::Anywhere || searched[*l as usize]
        };
        let mut index = LiteralIndex::default();
        let mut used = Interner::new(&all.literals);
        let mut rule_factors: Vec<Vec<u32>> = Vec::with_capacity(ranked.len());
        index.gate = in_parallel(threads, &ranked, |factors| {
            gate_factor(&all.literals, factors)
        });
        for (rule, factors) in ranked.iter().enumerate() {
            let others = factors.iter().skip(1).filter(|f| f.iter().all(free));
            let indexed = factors
                .iter()
                .take(1)
                .chain(others.take(FACTORS_PER_RULE - 1));
            let ids: Vec<u32> = indexed.map(|f| used.factor(f.iter().copied())).collect();
            if ids.is_empty() {
                index.unanchored.push(rule as u32);
            }
            rule_factors.push(ids);
        }
        let mut excluders = |ids: &[LiteralId]| used.literals(ids.iter().copied().filter(free));
        let exclusions: Vec<(Vec<LiteralId>, Vec<LiteralId>)> = excluded
            .iter()
            .map(|(any, sole)| (excluders(any), excluders(sole)))
            .collect();
        let index = index.finish(used, &rule_factors, &exclusions, threads);
        drop_off_thread(threads, shapes);
        index
    }

    /// Packs the lists and compiles the per-field searches.
    fn finish(
        mut self,
        interner: Interner<'_>,
        rule_factors: &[Vec<u32>],
        exclusions: &[(Vec<LiteralId>, Vec<LiteralId>)],
        threads: usize,
    ) -> LiteralIndex {
        let mut key_rules = vec![Vec::new(); interner.literals.len()];
        for (rule, factors) in rule_factors.iter().enumerate() {
            if let Some(&key) = factors.first() {
                for &literal in &interner.factors[key as usize] {
                    key_rules[literal as usize].push(rule as u32);
                }
            }
        }
        let on_demand = on_demand(&interner.literals, &key_rules);
        (self.slots, self.literal_search) =
            SlotSearch::build_all(&interner.literals, &on_demand, threads);
        let search = &self.literal_search;
        let checks = rule_factors
            .iter()
            .zip(exclusions)
            .map(|(factors, (any, sole))| {
                let others = factors.iter().skip(1);
                let mut list = vec![others.len() as u32];
                for &factor in others {
                    grouped(&interner.factors[factor as usize], search, &mut list);
                }
                grouped(any, search, &mut list);
                grouped(sole, search, &mut list);
                // A third of ESCU's rules have nothing to check but their key: an empty list
                // lets the candidate loop take them without walking three empty groups.
                if list == [0, 0, 0] {
                    list.clear();
                }
                list
            });
        self.checks = Lists::new(checks.collect::<Vec<_>>());
        let mut keyed = vec![false; self.slots.len()];
        for (search, rules) in self.literal_search.iter().zip(&key_rules) {
            keyed[*search as usize] |= !rules.is_empty();
        }
        self.eager = (0..self.slots.len() as u32)
            .filter(|&s| keyed[s as usize])
            .collect();
        self.key_rules = Lists::new(&key_rules);
        self.rule_factors = Lists::new(rule_factors);
        self.factor_literals = Lists::new(&interner.factors);
        self.literals = interner.literals;
        self
    }

    /// What the marks decide of `rule`'s condition (`None`: nothing).
    pub(crate) fn plan(&self, rule: usize) -> Option<&Plan> {
        self.plans.get(rule)?.as_ref()
    }

    /// Rules with no usable literal (indices into the rule list): evaluated on every row.
    pub(crate) fn unanchored(&self) -> &[u32] {
        &self.unanchored
    }

    /// The literals of `rule`'s gate factor: a row it matches holds one of them. `None` when
    /// the rule has no factor the row gate can search for.
    pub(crate) fn gate_literals(
        &self,
        rule: usize,
    ) -> Option<impl Iterator<Item = &RequiredLiteral>> {
        Some(self.gate.get(rule)?.as_deref()?.iter())
    }
}

/// One field's literals: whole values in one [`WholeValues`] table (with the literal ids
/// behind its own numbering), starts and ends in one trie each, pieces in one [`Literals`]
/// search reporting literal ids.
#[derive(Debug, Clone)]
struct SlotSearch {
    slot: usize,
    whole: Option<(WholeValues, Box<[LiteralId]>)>,
    starts: Anchored,
    ends: Anchored,
    /// Reporting literal ids.
    pieces: Option<Literals>,
}

impl SlotSearch {
    /// The searches of `literals`, built on `threads` threads, and each literal's search: one
    /// per field holding literals, in field order, and after it one for the field's starts and
    /// ends that are `on_demand` ([`on_demand`]): a field searched on every row for its keys
    /// walks them only when a candidate asks (every process path ends with `.exe`, a walk of
    /// several steps along the ends' trie for literals few rows hold).
    fn build_all(
        literals: &[RequiredLiteral],
        on_demand: &[bool],
        threads: usize,
    ) -> (Vec<SlotSearch>, Vec<u32>) {
        let part = |id: LiteralId| {
            let at = id as usize;
            (
                literals[at].slot,
                on_demand.get(at).copied().unwrap_or(false),
            )
        };
        let mut by_part: Vec<((usize, bool), Vec<LiteralId>)> = Vec::new();
        let mut ids: Vec<LiteralId> = (0..literals.len() as LiteralId).collect();
        ids.sort_by_key(|&id| part(id));
        let mut literal_search = vec![0u32; literals.len()];
        for id in ids {
            match by_part.last_mut() {
                Some((last, ids)) if *last == part(id) => ids.push(id),
                _ => by_part.push((part(id), vec![id])),
            }
            literal_search[id as usize] = (by_part.len() - 1) as u32;
        }
        // The parts with the most literals first, so that no large one starts last.
        let mut largest_first: Vec<usize> = (0..by_part.len()).collect();
        largest_first.sort_by_key(|&at| std::cmp::Reverse(by_part[at].1.len()));
        let built = each_in_parallel(threads, &largest_first, |&at| {
            let ((slot, _), ids) = &by_part[at];
            SlotSearch::build(*slot, literals, ids)
        });
        let mut searches: Vec<(usize, SlotSearch)> = largest_first.into_iter().zip(built).collect();
        searches.sort_unstable_by_key(|(at, _)| *at);
        let searches = searches.into_iter().map(|(_, search)| search).collect();
        (searches, literal_search)
    }

    /// The search of field `slot`, whose literals are `ids` (ascending).
    fn build(slot: usize, literals: &[RequiredLiteral], ids: &[LiteralId]) -> SlotSearch {
        let in_place = |place: Place| -> (Vec<&[u8]>, Vec<LiteralId>) {
            ids.iter()
                .map(|&id| (&literals[id as usize], id))
                .filter(|(l, _)| l.place == place)
                .map(|(l, id)| (l.bytes.as_slice(), id))
                .unzip()
        };
        let (whole, whole_ids) = in_place(Place::Whole);
        let (pieces, piece_ids) = in_place(Place::Anywhere);
        let (starts, start_ids) = in_place(Place::Start);
        let (ends, end_ids) = in_place(Place::End);
        SlotSearch {
            slot,
            whole: (!whole.is_empty()).then(|| (WholeValues::new(&whole), whole_ids.into())),
            starts: Anchored::new(&starts, &start_ids, false),
            ends: Anchored::new(&ends, &end_ids, true),
            pieces: Literals::with_ids(&pieces, &piece_ids),
        }
    }

    /// Marks the literals of this field that `row` holds.
    fn find(&self, row: &dyn Row, scratch: &mut IndexScratch) {
        scratch.values[self.slot] = 0;
        let mut first: [&[u8]; 2] = [&[]; 2];
        let count = row.values_into(self.slot, &mut first);
        // The one value of most fields is searched outside any loop: ahead of the loop over
        // values the compiler copied every table of the search into the stack, ~40
        // instructions for each field searched.
        if count == 1 {
            return self.find_in(first[0], scratch);
        }
        for index in 0..count {
            let value = first.get(index).copied();
            self.find_in(
                value.unwrap_or_else(|| row.value(self.slot, index)),
                scratch,
            );
        }
    }

    /// Marks the literals of this field that `value`, one of its values, holds.
    #[inline(always)]
    fn find_in(&self, value: &[u8], scratch: &mut IndexScratch) {
        scratch.values[self.slot] += u32::from(!value.is_empty());
        if let Some((whole, ids)) = &self.whole {
            for &id in whole.get(value) {
                scratch.see(ids[id as usize]);
            }
        }
        self.starts.find(value, |id| scratch.see(id));
        self.ends.find(value, |id| scratch.see(id));
        if let Some(pieces) = &self.pieces {
            pieces.find(value, |id| {
                scratch.see(id as LiteralId);
                false
            });
        }
    }
}

/// Per-thread state for [`LiteralIndex::candidates`]. Marks carry a generation, so a row costs
/// nothing for the literals and rules it does not touch.
#[derive(Debug, Default)]
pub(crate) struct IndexScratch {
    generation: u32,
    literal_mark: Vec<u32>,
    rule_mark: Vec<u32>,
    seen: Vec<LiteralId>,
    /// Per field search (index into [`LiteralIndex::slots`]): the generation it last ran in.
    searched: Vec<u32>,
    /// Slot → its number of non-empty values in the row (for the slots the index searches).
    values: Vec<u32>,
}

impl IndexScratch {
    pub(crate) fn new(index: &LiteralIndex) -> IndexScratch {
        IndexScratch {
            generation: 0,
            literal_mark: vec![0; index.literals.len()],
            rule_mark: vec![0; index.rule_factors.len()],
            seen: Vec::new(),
            searched: vec![0; index.slots.len()],
            values: vec![0; index.slots.iter().map(|s| s.slot + 1).max().unwrap_or(0)],
        }
    }

    fn next_row(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            self.literal_mark.iter_mut().for_each(|m| *m = 0);
            self.rule_mark.iter_mut().for_each(|m| *m = 0);
            self.searched.iter_mut().for_each(|m| *m = 0);
            self.generation = 1;
        }
        self.seen.clear();
    }

    #[inline]
    fn see(&mut self, id: LiteralId) {
        let mark = &mut self.literal_mark[id as usize];
        if *mark != self.generation {
            *mark = self.generation;
            self.seen.push(id);
        }
    }
}

impl LiteralIndex {
    /// Pushes onto `out` every rule whose indexed factors all have a literal in `row`, and
    /// every rule without a usable literal whose length tests the row's values can pass, in no
    /// particular order; a rule that a literal of the row rules out ([`Exclusions`]) is left
    /// out.
    ///
    /// Only the fields holding some rule's key are searched up front; a field holding only
    /// other factors and exclusions (`action`, `os`: values the rules name few of) is searched
    /// when a rule first asks for one of its literals.
    pub(crate) fn candidates(&self, row: &dyn Row, scratch: &mut IndexScratch, out: &mut Vec<u32>) {
        scratch.next_row();
        for &search in &self.eager {
            self.search(search as usize, row, scratch);
        }
        let mut next = 0;
        while let Some(&literal) = scratch.seen.get(next) {
            next += 1;
            for &rule in self.key_rules.get(literal as usize) {
                let r = rule as usize;
                if scratch.rule_mark[r] == scratch.generation {
                    continue;
                }
                scratch.rule_mark[r] = scratch.generation;
                if self.holds(r, row, scratch) {
                    out.push(rule);
                }
            }
        }
        for (at, &rule) in self.unanchored.iter().enumerate() {
            let lengths = self.unanchored_lengths.get(at).map_or(&[][..], |b| &b[..]);
            if fits(lengths, row) && self.holds(rule as usize, row, scratch) {
                out.push(rule);
            }
        }
    }

    fn search(&self, search: usize, row: &dyn Row, scratch: &mut IndexScratch) {
        scratch.searched[search] = scratch.generation;
        self.slots[search].find(row, scratch);
    }

    /// Whether `row` holds `literal`, searching its field if no rule asked before.
    #[inline]
    pub(super) fn marked(
        &self,
        literal: LiteralId,
        row: &dyn Row,
        scratch: &mut IndexScratch,
    ) -> bool {
        let l = literal as usize;
        if scratch.literal_mark[l] == scratch.generation {
            return true;
        }
        let search = self.literal_search[l] as usize;
        if scratch.searched[search] == scratch.generation {
            return false;
        }
        self.search(search, row, scratch);
        scratch.literal_mark[l] == scratch.generation
    }

    /// Whether each of `rule`'s indexed factors but its key has a literal in `row`, and no
    /// literal of the row rules it out: one walk along its [`Checks`] list.
    #[inline]
    fn holds(&self, rule: usize, row: &dyn Row, scratch: &mut IndexScratch) -> bool {
        let Some((&others, mut rest)) = self.checks.get(rule).split_first() else {
            return true;
        };
        for _ in 0..others {
            let (found, after) = self.any_marked(rest, row, scratch, false);
            if !found {
                return false;
            }
            rest = after;
        }
        let (excluded, rest) = self.any_marked(rest, row, scratch, false);
        !excluded && !self.any_marked(rest, row, scratch, true).0
    }

    /// Whether `row` holds a literal of the list at the start of `list` (written by
    /// [`grouped`]), only counting fields with one value when `sole`; and what follows it.
    fn any_marked<'l>(
        &self,
        list: &'l [u32],
        row: &dyn Row,
        scratch: &mut IndexScratch,
        sole: bool,
    ) -> (bool, &'l [u32]) {
        let Some((&fields, mut rest)) = list.split_first() else {
            return (false, &[]);
        };
        let mut found = false;
        for _ in 0..fields {
            let [search, len, after @ ..] = rest else {
                return (found, &[]);
            };
            let (literals, after) = after.split_at((*len as usize).min(after.len()));
            rest = after;
            if found {
                continue;
            }
            let search = *search as usize;
            if scratch.searched[search] != scratch.generation {
                self.search(search, row, scratch);
            }
            // The field's number of values is known once it is searched.
            if sole && scratch.values[self.slots[search].slot] != 1 {
                continue;
            }
            let mark = &scratch.literal_mark;
            found = literals
                .iter()
                .any(|&l| mark[l as usize] == scratch.generation);
        }
        (found, rest)
    }
}

/// Appends `literals` to `list` grouped by the search of their field (`search`: literal →
/// search): their number of fields, then per field its search, its number of literals and
/// their ids.
fn grouped(literals: &[LiteralId], search: &[u32], list: &mut Vec<u32>) {
    let mut by_search: Vec<(u32, LiteralId)> =
        literals.iter().map(|&l| (search[l as usize], l)).collect();
    by_search.sort_unstable();
    let fields_at = list.len();
    list.push(0);
    let mut count_at = 0;
    for (at, &(field, literal)) in by_search.iter().enumerate() {
        if at == 0 || by_search[at - 1].0 != field {
            list[fields_at] += 1;
            list.push(field);
            count_at = list.len();
            list.push(0);
        }
        list[count_at] += 1;
        list.push(literal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{OwnedRow, RuleSet};

    /// The seed rules are decided by `process_name`/`original_file_name` alone at the gate:
    /// their gate factors are whole values, so the long `process` command line is neither
    /// folded nor scanned for rows holding none of them.
    #[test]
    fn seed_rules_gate_on_whole_values_not_the_command_line() {
        let app = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("app");
        let (set, warnings) = RuleSet::load(&[app.join("detections"), app.join("macros")]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(set.len(), 2);
        let index = &set.index;
        for rule in 0..set.len() {
            let literals: Vec<_> = index.gate_literals(rule).expect("gated").collect();
            assert!(
                literals.iter().all(|l| l.place == Place::Whole),
                "{} gates on a substring",
                set.rules[rule].meta.name
            );
        }
        assert!(index.unanchored().is_empty());
    }

    fn glob(slot: usize, pattern: &str) -> Cond {
        Cond::Glob {
            src: Src::Slot(slot),
            pat: Glob::new(pattern),
        }
    }

    fn names(factors: &[Factor]) -> Vec<Vec<String>> {
        factors
            .iter()
            .map(|f| {
                f.iter()
                    .map(|l| {
                        let kind = match l.place {
                            Place::Whole => "=",
                            Place::Start => "^",
                            Place::End => "$",
                            Place::Anywhere => "~",
                        };
                        format!("{}{kind}{}", l.slot, String::from_utf8_lossy(&l.bytes))
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_split_count_of_two_parts_or_more_needs_the_separator() {
        let order = |sep: &str, op: CmpOp, bound: f64| {
            let split = Ex::Call(
                Func::Split,
                vec![Ex::Field(4), Ex::Str(sep.as_bytes().to_vec())],
            );
            let count = Ex::Call(Func::MvCount, vec![split]);
            Cond::Order {
                src: Src::Expr(Box::new(Ex::Bin(
                    BinOp::Sub,
                    Box::new(count),
                    Box::new(Ex::Num(1.0)),
                ))),
                op,
                value: bound.to_string().into_bytes(),
                num: Some(bound),
            }
        };
        for (op, bound) in [
            (CmpOp::Gt, 1.0),
            (CmpOp::Gt, 0.0),
            (CmpOp::Ge, 1.0),
            (CmpOp::Eq, 2.0),
        ] {
            assert_eq!(
                names(&factors(&order("\\..", op, bound))),
                vec![vec!["4~\\.."]],
                "{op:?} {bound}"
            );
        }
        // One part or more (every row with the field), upper bounds, short separators: nothing.
        assert!(factors(&order("/..", CmpOp::Ge, 0.0)).is_empty());
        assert!(factors(&order("/..", CmpOp::Gt, -0.5)).is_empty());
        assert!(factors(&order("/..", CmpOp::Lt, 5.0)).is_empty());
        assert!(factors(&order("/.", CmpOp::Gt, 1.0)).is_empty());
    }

    #[test]
    fn factors_of_and_or_and_wildcard_patterns() {
        let cond = Cond::And(vec![
            glob(0, "NetSh.exe"),
            glob(1, "*port*proxy*"),
            glob(1, "*-a*"),
            Cond::Or(vec![glob(1, "*v4tov4*"), glob(2, "abc*")]),
            Cond::Not(Box::new(glob(1, "*x64*"))),
        ]);
        assert_eq!(
            names(&factors(&cond)),
            vec![
                vec!["0=netsh.exe"],
                vec!["1~port"],
                vec!["1~proxy"],
                vec!["1~v4tov4", "2^abc"],
            ]
        );
        // An OR with a branch that has no literal gives nothing; so does a lone short piece.
        assert!(factors(&Cond::Or(vec![glob(0, "a.exe"), glob(1, "*-a*")])).is_empty());
        let any = Cond::AnyGlob {
            slot: 3,
            exact: vec![b"cmd.exe".to_vec()],
            globs: vec![Glob::new("*\\powershell*.exe")].into(),
        };
        assert_eq!(
            names(&factors(&any)),
            vec![
                vec!["3~\\powershell", "3=cmd.exe"],
                vec!["3$.exe", "3=cmd.exe"]
            ]
        );
    }

    /// An OR of ANDs needs one of its branches' rarest factors and one of their second
    /// rarest (a long piece before a program's name); a branch with one factor gives it to
    /// both.
    #[test]
    fn an_or_of_ands_gives_a_union_per_rank() {
        let or = Cond::Or(vec![
            Cond::And(vec![glob(0, "wmic.exe"), glob(1, "*ntevent*")]),
            Cond::And(vec![glob(0, "wevtutil.exe"), glob(1, "* qe *")]),
            glob(1, "*eventquery*"),
        ]);
        assert_eq!(
            names(&factors(&or)),
            vec![
                vec!["0=wevtutil.exe", "1~eventquery", "1~ntevent"],
                vec!["0=wmic.exe", "1~ qe ", "1~eventquery"],
            ]
        );
        // A factor every branch has holds as it is; the rest give unions.
        let or = Cond::Or(vec![
            Cond::And(vec![
                Cond::AnyGlob {
                    slot: 2,
                    exact: vec![b"cmd.exe".to_vec(), b"powershell.exe".to_vec()],
                    globs: Vec::new().into(),
                },
                glob(0, "mofcomp.exe"),
            ]),
            Cond::And(vec![glob(0, "MOFCOMP.exe"), glob(1, "*\\appdata\\*")]),
        ]);
        assert_eq!(
            names(&factors(&or)),
            vec![
                vec!["0=mofcomp.exe"],
                vec!["1~\\appdata\\", "2=cmd.exe", "2=powershell.exe"],
            ]
        );
        let only_common = Cond::Or(vec![
            Cond::And(vec![glob(0, "a.exe"), glob(1, "*xyz*")]),
            glob(0, "a.exe"),
        ]);
        assert_eq!(names(&factors(&only_common)), vec![vec!["0=a.exe"]]);
        let any = Cond::AnyGlob {
            slot: 1,
            exact: vec![b"cmd.exe".to_vec(), Vec::new()],
            globs: vec![Glob::new("*\\powershell*.exe")].into(),
        };
        assert_eq!(
            names(&factors(&any)),
            vec![
                vec!["1~\\powershell", "1=cmd.exe"],
                vec!["1$.exe", "1=cmd.exe"]
            ]
        );
    }

    /// Starts and ends keep their place; parts too short for their place give nothing.
    #[test]
    fn wildcard_patterns_give_starts_ends_and_pieces() {
        assert_eq!(
            names(&factors(&glob(0, "7Z*.exe"))),
            vec![vec!["0^7z"], vec!["0$.exe"]]
        );
        assert_eq!(
            names(&factors(&glob(0, "c:\\*\\temp\\*x"))),
            vec![vec!["0^c:\\"], vec!["0~\\temp\\"]]
        );
        assert!(factors(&glob(0, "a*")).is_empty());
        assert!(factors(&glob(0, "*-a*")).is_empty());
    }

    fn pcre(pattern: &str) -> crate::rules::Pcre {
        crate::rules::Pcre::new(pattern, 0).expect("pattern")
    }

    /// `where` tests that hold only when a regex matches a field give that regex's literals;
    /// `OR` gives the union of both sides' best, and a side without literals gives nothing.
    #[test]
    fn where_match_and_rex_tests_give_the_regex_literals() {
        let matches = |slot, re: &str| Ex::Match(Box::new(Ex::Field(slot)), pcre(re));
        let both = Ex::Bin(
            BinOp::And,
            Box::new(matches(1, "(?i)echo\\s+cd")),
            Box::new(matches(1, "__output")),
        );
        assert_eq!(
            names(&factors(&Cond::Truthy(both))),
            vec![vec!["1~echo"], vec!["1~__output"]]
        );
        let either = Ex::Bin(
            BinOp::Or,
            Box::new(matches(1, "mimikatz")),
            Box::new(matches(2, "procdump")),
        );
        assert_eq!(
            names(&factors(&Cond::Truthy(either))),
            vec![vec!["1~mimikatz", "2~procdump"]]
        );
        let open = Ex::Bin(
            BinOp::Or,
            Box::new(matches(1, "mimikatz")),
            Box::new(matches(2, ".")),
        );
        assert!(factors(&Cond::Truthy(open)).is_empty());
        let rex = Ex::Call(
            Func::IsNotNull,
            vec![Ex::RexGroup {
                src: Box::new(Ex::Field(3)),
                re: pcre("Notepad\\.exe (?<arg>.*$)"),
                group: "arg".into(),
            }],
        );
        assert_eq!(
            names(&factors(&Cond::Truthy(rex))),
            vec![vec!["3~notepad.exe "]]
        );
        // A computed value, a negation, a null test: no literal the row must hold.
        let lowered = Ex::Match(
            Box::new(Ex::Call(Func::Lower, vec![Ex::Field(1)])),
            pcre("mimikatz"),
        );
        assert!(factors(&Cond::Truthy(lowered)).is_empty());
        assert!(factors(&Cond::Truthy(Ex::Not(Box::new(matches(1, "x64x"))))).is_empty());
    }

    fn lit(slot: usize, place: Place, bytes: &str) -> RequiredLiteral {
        literal(slot, place, bytes.as_bytes())
    }

    #[test]
    fn rarity_prefers_rare_bytes_fixed_places_and_literals_few_rules_share() {
        let piece = |b: &str| rarity(&lit(1, Place::Anywhere, b), 0);
        assert!(piece("system") < piece("\\users\\public\\"));
        assert!(piece("use") < piece("7z{x"));
        for place in [Place::Whole, Place::Start, Place::End] {
            assert!(piece(".exe") < rarity(&lit(1, place, ".exe"), 0));
            assert!(rarity(&lit(1, place, "bcdedit.exe"), 0) < piece("--headless "));
        }
        let cmd = lit(0, Place::Whole, "cmd.exe");
        assert!(rarity(&cmd, tenths_of_bits(30)) < rarity(&cmd, 0));
        // More alternatives, more ways to hold the factor.
        let one = vec![lit(1, Place::Anywhere, "vssadmin")];
        let two = vec![one[0].clone(), lit(1, Place::Anywhere, "wbadmin0")];
        assert!(factor_rarity(&two, |_| 0) < factor_rarity(&one, |_| 0));
    }

    /// The rule set's own literals tell common pieces: `system` is in three others.
    #[test]
    fn a_piece_other_literals_contain_and_a_literal_rules_share_look_common() {
        let rules = [
            vec![
                vec![lit(1, Place::Anywhere, "system")],
                vec![lit(1, Place::Anywhere, "sudo")],
            ],
            vec![vec![lit(1, Place::Anywhere, "\\system32\\config\\sam")]],
            vec![vec![
                lit(2, Place::End, "\\system32\\x.exe"),
                lit(1, Place::Anywhere, "system"),
            ]],
            vec![
                vec![lit(1, Place::Anywhere, "-system-")],
                vec![lit(0, Place::Whole, "a.exe")],
            ],
            vec![vec![lit(0, Place::Whole, "a.exe")]],
        ];
        let mut all = Catalog::default();
        let rules: Vec<Vec<Vec<LiteralId>>> = rules
            .iter()
            .map(|factors| factors.iter().map(|f| all.ids(f)).collect())
            .collect();
        let id = |slot, place, bytes: &str| all.ids[&lit(slot, place, bytes)] as usize;
        let held = containing(&all.literals, &vec![true; all.literals.len()], 1);
        assert_eq!(held[id(1, Place::Anywhere, "system")], 3);
        assert_eq!(held[id(1, Place::Anywhere, "sudo")], 0);
        let common = commonness_in_set(&all.literals, &rules, 1);
        let of = |slot, place, bytes: &str| common[id(slot, place, bytes)];
        assert_eq!(of(1, Place::Anywhere, "sudo"), 0);
        assert_eq!(
            of(1, Place::Anywhere, "system"),
            tenths_of_bits(2) + 2 * tenths_of_bits(4)
        );
        // `a.exe` is the only value the rules name for its field: a common one.
        assert_eq!(of(0, Place::Whole, "a.exe"), tenths_of_bits(2) + 80);
        let ranked = rank(&all.literals, rules.clone(), 1);
        let sudo = id(1, Place::Anywhere, "sudo") as LiteralId;
        assert_eq!(ranked[0][0], vec![sudo]);
    }

    #[test]
    fn repeated_and_implied_factors_are_dropped() {
        let (a, b, c) = (1, 2, 3);
        let kept = distinct(vec![vec![a, b], vec![c], vec![b], vec![c], vec![b, c]]);
        assert_eq!(kept, vec![vec![c], vec![b]]);
    }

    fn row(values: &[(usize, &str)]) -> OwnedRow {
        let mut row = OwnedRow::with_slots(4);
        for &(slot, value) in values {
            row.slots[slot].push(value.as_bytes().to_vec());
        }
        row
    }

    fn candidates(index: &LiteralIndex, row: &OwnedRow) -> Vec<u32> {
        let mut scratch = IndexScratch::new(index);
        let mut out = Vec::new();
        index.candidates(row, &mut scratch, &mut out);
        out.sort_unstable();
        out
    }

    /// A literal many rules share is no key where the rule has a rarer factor; a rule is a
    /// candidate only when each of its indexed factors holds, whichever is its key.
    #[test]
    fn rules_are_keyed_by_their_rarest_factor_and_need_all_indexed_factors() {
        let cmd = vec![lit(0, Place::Whole, "cmd.exe")];
        let mut rules: Vec<Vec<Factor>> = (0..20)
            .map(|n| {
                vec![
                    cmd.clone(),
                    vec![lit(1, Place::Anywhere, &format!("arg{n:02}"))],
                ]
            })
            .collect();
        rules.push(vec![
            cmd.clone(),
            vec![lit(1, Place::Anywhere, " /delete")],
            vec![lit(2, Place::End, ".exe")],
            vec![lit(3, Place::Start, "c:\\windows\\")],
            vec![lit(1, Place::Anywhere, "shadows")],
        ]);
        rules.push(Vec::new());
        let index = LiteralIndex::from_shapes(
            rules
                .into_iter()
                .map(|f| (f, Exclusions::default()))
                .collect(),
            1,
        );
        let key = |rule: usize| {
            let factor = index.rule_factors.get(rule)[0];
            let literal = index.factor_literals.get(factor as usize)[0];
            String::from_utf8_lossy(&index.literals[literal as usize].bytes).into_owned()
        };
        assert_ne!(key(20), "cmd.exe");
        assert_eq!(key(3), "arg03");
        assert_eq!(index.rule_factors.get(20).len(), FACTORS_PER_RULE);
        assert_eq!(index.unanchored(), &[21]);
        assert_eq!(candidates(&index, &row(&[(0, "CMD.exe")])), vec![21]);
        assert_eq!(
            candidates(&index, &row(&[(0, "cmd.exe"), (1, "x ARG07 y")])),
            vec![7, 21]
        );
        assert_eq!(candidates(&index, &row(&[(1, "arg07")])), vec![21]);
        let full = [
            (0, "cmd.exe"),
            (1, "vssadmin /DELETE shadows"),
            (2, "a.EXE"),
            (3, "C:\\Windows\\System32"),
        ];
        assert_eq!(candidates(&index, &row(&full)), vec![20, 21]);
        // Every indexed factor counts, the key's and the others'.
        for missing in 0..full.len() {
            let mut partial = full.to_vec();
            partial.remove(missing);
            let found = candidates(&index, &row(&partial));
            let indexed: Vec<usize> = index
                .rule_factors
                .get(20)
                .iter()
                .map(|&f| index.literals[index.factor_literals.get(f as usize)[0] as usize].slot)
                .collect();
            assert_eq!(
                found.contains(&20),
                !indexed.contains(&full[missing].0),
                "without slot {}",
                full[missing].0
            );
        }
    }

    /// A field searched for a key walks the starts and ends no rule is keyed by only when a
    /// candidate asks for one: they are a search of their own.
    #[test]
    fn starts_and_ends_no_rule_is_keyed_by_are_walked_on_demand() {
        let factors = vec![
            vec![lit(0, Place::Anywhere, "\\temp\\")],
            vec![lit(0, Place::End, ".ps1")],
            vec![lit(0, Place::Start, "c:")],
        ];
        let index = LiteralIndex::from_shapes(vec![(factors, Exclusions::default())], 1);
        let fields: Vec<(usize, bool)> = (0..index.slots.len())
            .map(|s| (index.slots[s].slot, index.eager.contains(&(s as u32))))
            .collect();
        assert_eq!(fields, [(0, true), (0, false)]);
        let mut scratch = IndexScratch::new(&index);
        let mut out = Vec::new();
        index.candidates(&row(&[(0, "C:\\x.ps1")]), &mut scratch, &mut out);
        assert!(out.is_empty() && scratch.searched[1] != scratch.generation);
        for (value, expected) in [
            ("C:\\Temp\\x.PS1", vec![0]),
            ("d:\\temp\\x.ps1", vec![]),
            ("c:\\temp\\x.ps1 ", vec![]),
        ] {
            assert_eq!(candidates(&index, &row(&[(0, value)])), expected, "{value}");
        }
    }

    /// A field holding no rule's key is searched only when a rule keyed elsewhere asks for
    /// one of its literals: not at all on a row without a key literal.
    #[test]
    fn fields_without_keys_are_searched_only_when_a_rule_asks() {
        let factors = vec![
            vec![lit(0, Place::Anywhere, "mimikatz")],
            vec![lit(1, Place::Whole, "high")],
        ];
        let exclusions = Exclusions {
            any: vec![lit(2, Place::Whole, "x.exe")],
            sole: Vec::new(),
        };
        let index = LiteralIndex::from_shapes(vec![(factors, exclusions)], 1);
        let lazy: Vec<usize> = (0..index.slots.len())
            .filter(|&s| !index.eager.contains(&(s as u32)))
            .map(|s| index.slots[s].slot)
            .collect();
        assert_eq!(lazy, vec![1, 2]);
        let mut scratch = IndexScratch::new(&index);
        let mut out = Vec::new();
        index.candidates(&row(&[(0, "x"), (1, "High")]), &mut scratch, &mut out);
        assert!(out.is_empty());
        for (search, &generation) in scratch.searched.iter().enumerate() {
            let eager = index.eager.contains(&(search as u32));
            assert_eq!(generation == scratch.generation, eager, "search {search}");
        }
        for (values, expected) in [
            (&[(0, "-MIMIKATZ-"), (1, "High")][..], vec![0]),
            (&[(0, "-MIMIKATZ-"), (1, "High"), (2, "X.exe")], vec![]),
            (&[(0, "-MIMIKATZ-"), (1, "low"), (2, "X.exe")], vec![]),
            (&[(0, "-MIMIKATZ-"), (1, "low")], vec![]),
        ] {
            assert_eq!(candidates(&index, &row(values)), expected, "{values:?}");
        }
    }

    /// A rule that needs nothing but its key has an empty check list and is a candidate
    /// wherever its key is; one with an exclusion or a second factor keeps its checks.
    #[test]
    fn rules_needing_only_their_key_have_no_checks() {
        let key_only = vec![vec![lit(0, Place::Anywhere, "mimikatz")]];
        let excluded = Exclusions {
            any: vec![lit(2, Place::Whole, "x.exe")],
            sole: Vec::new(),
        };
        let two = vec![
            vec![lit(0, Place::Anywhere, "psexec")],
            vec![lit(1, Place::Whole, "high")],
        ];
        let shapes = vec![
            (key_only.clone(), Exclusions::default()),
            (key_only, excluded),
            (two, Exclusions::default()),
        ];
        let index = LiteralIndex::from_shapes(shapes, 1);
        let lengths: Vec<usize> = (0..3).map(|r| index.checks.get(r).len()).collect();
        assert_eq!(lengths[0], 0);
        assert!(lengths[1] > 0 && lengths[2] > 0, "{lengths:?}");
        for (values, expected) in [
            (&[(0, "-MIMIKATZ-")][..], vec![0, 1]),
            (&[(0, "-MIMIKATZ-"), (2, "X.exe")], vec![0]),
            (&[(0, "psexec mimikatz"), (1, "low")], vec![0, 1]),
            (&[(0, "psexec mimikatz"), (1, "High")], vec![0, 1, 2]),
            (&[(0, "x"), (1, "High")], vec![]),
        ] {
            assert_eq!(candidates(&index, &row(values)), expected, "{values:?}");
        }
    }

    /// `NOT field=x` in the top-level AND rules a rule out wherever a value holds x;
    /// `field!=x` only where x is the field's only value. Negations the index cannot decide
    /// from one literal give nothing.
    #[test]
    fn negations_give_literals_that_rule_a_rule_out() {
        let cond = Cond::And(vec![
            glob(0, "x.exe"),
            Cond::Not(Box::new(glob(1, "C:\\Windows\\*"))),
            Cond::Not(Box::new(Cond::Or(vec![
                Cond::AnyGlob {
                    slot: 2,
                    exact: vec![b"a.exe".to_vec(), Vec::new()],
                    globs: vec![Glob::new("*\\b.exe"), Glob::new("*x*y*")].into(),
                },
                glob(3, "*-enc*"),
                glob(3, "*-e*"),
            ]))),
            Cond::NotGlob {
                src: Src::Slot(0),
                pat: Glob::new("cmd.exe"),
            },
            Cond::Not(Box::new(Cond::And(vec![glob(1, "a"), glob(2, "b")]))),
            Cond::Or(vec![Cond::Not(Box::new(glob(1, "zzz")))]),
        ]);
        let found = exclusions(&cond);
        assert_eq!(
            names(&[found.any.clone(), found.sole.clone()]),
            vec![
                vec!["1^c:\\windows\\", "2=a.exe", "2$\\b.exe", "3~-enc"],
                vec!["0=cmd.exe"]
            ]
        );
        // A piece is searched for only as some rule's key: rule 1 makes `-enc` one.
        let shape = (factors(&cond), found);
        let enc = vec![vec![lit(3, Place::Anywhere, "-enc")]];
        let index = LiteralIndex::from_shapes(vec![shape.clone(), (enc, Exclusions::default())], 1);
        let base = [(0, "X.EXE"), (1, "D:\\x")];
        assert_eq!(candidates(&index, &row(&base)), vec![0]);
        for (slot, value) in [
            (1, "c:\\WINDOWS\\system32\\x.exe"),
            (2, "A.exe"),
            (2, "c:\\B.EXE"),
            (3, "ps -ENC abc"),
        ] {
            let mut values = base.to_vec();
            values.push((slot, value));
            let found = candidates(&index, &row(&values));
            assert!(!found.contains(&0), "{value}");
        }
        let alone = LiteralIndex::from_shapes(vec![shape], 1);
        let with_enc = [base[0], base[1], (3, "ps -ENC abc")];
        assert_eq!(candidates(&alone, &row(&with_enc)), vec![0]);
        // Near misses, and `!=` with another value beside the one it excludes.
        for (slot, value) in [(2, "xa.exe"), (2, "b.exe"), (3, "-e x"), (0, "cmd.exe")] {
            let mut values = base.to_vec();
            values.push((slot, value));
            assert_eq!(candidates(&index, &row(&values)), vec![0], "{value}");
        }
        let index = LiteralIndex::from_shapes(
            vec![(
                Vec::new(),
                exclusions(&Cond::NotGlob {
                    src: Src::Slot(0),
                    pat: Glob::new("cmd.exe"),
                }),
            )],
            1,
        );
        assert_eq!(
            candidates(&index, &row(&[(0, "CMD.EXE")])),
            Vec::<u32>::new()
        );
        assert_eq!(
            candidates(&index, &row(&[(0, "cmd.exe"), (0, "x")])),
            vec![0]
        );
        assert_eq!(candidates(&index, &row(&[])), vec![0]);
    }

    /// Starts and ends are compared in place, in any case; a value shorter than a literal or
    /// than two bytes holds none.
    #[test]
    fn starts_and_ends_are_found_only_in_their_place() {
        let literals = [
            lit(0, Place::Start, "7z"),
            lit(0, Place::Start, "7za"),
            lit(0, Place::Start, "ab"),
            lit(0, Place::End, ".exe"),
            lit(0, Place::End, "xe"),
            lit(0, Place::Anywhere, "zzz"),
        ];
        let search = SlotSearch::build(0, &literals, &[0, 1, 2, 3, 4, 5]);
        let found = |value: &str| {
            let mut ids = Vec::new();
            search.starts.find(value.as_bytes(), |id| ids.push(id));
            search.ends.find(value.as_bytes(), |id| ids.push(id));
            ids.sort_unstable();
            ids
        };
        assert_eq!(found("7ZA.EXE"), vec![0, 1, 3, 4]);
        assert_eq!(found("7z"), vec![0]);
        assert_eq!(found("a7z.ex"), Vec::<u32>::new());
        assert_eq!(found("Abxe"), vec![2, 4]);
        assert_eq!(found("a"), Vec::<u32>::new());
        assert_eq!(found(""), Vec::<u32>::new());
        assert_eq!(found("zzz"), Vec::<u32>::new());
    }

    /// Shapes of many rules over a few fields: pieces that contain one another, shared
    /// whole values, starts and ends, exclusions; deterministic pseudo-random words.
    fn many_shapes(rules: usize) -> Vec<(Vec<Factor>, Exclusions)> {
        const WORDS: [&str; 12] = [
            "system", "temp", "enc", "invoke", "shadow", "delete", "users", "appdata", "http",
            "bypass", "hidden", "download",
        ];
        const PLACES: [Place; 4] = [Place::Anywhere, Place::Whole, Place::Start, Place::End];
        let state = std::cell::Cell::new(0x2545_F491_4F6C_DD1Du64);
        let next = |n: usize| {
            let mut x = state.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            state.set(x);
            (x % n as u64) as usize
        };
        let word = |rule: usize| {
            let (a, b) = (WORDS[next(WORDS.len())], WORDS[next(WORDS.len())]);
            match next(3) {
                0 => a.to_string(),
                1 => format!("{a}{b}"),
                _ => format!("\\{a}\\{b}{rule}"),
            }
        };
        let factor = |rule: usize, n: usize| -> Factor {
            (0..n)
                .map(|_| lit(next(5), PLACES[next(4)], &word(rule)))
                .collect()
        };
        (0..rules)
            .map(|rule| {
                let factors = (0..next(4)).map(|_| factor(rule, 1 + next(3))).collect();
                let exclusions = Exclusions {
                    any: factor(rule, next(2)),
                    sole: factor(rule, next(2)),
                };
                (factors, exclusions)
            })
            .collect()
    }

    #[test]
    fn containing_counts_the_same_in_many_parts_on_many_threads() {
        // Enough distinct texts for several parts per thread ([`PARTS_PER_THREAD`] of at
        // least [`MIN_TEXTS`]); each count is checked against a plain search of every text.
        let texts: Vec<String> = (0..MIN_TEXTS * 8)
            .map(|i| format!("\\dir{}\\tool{}.exe", i % 97, i))
            .chain(["dir1", "tool7", ".exe", "ool12"].map(String::from))
            .collect();
        let literals: Vec<RequiredLiteral> =
            texts.iter().map(|t| lit(1, Place::Anywhere, t)).collect();
        let refs: Vec<&RequiredLiteral> = literals.iter().collect();
        let counted = vec![true; refs.len()];
        let expected: Vec<usize> = (literals.iter())
            .map(|l| match l.bytes.len() <= GENERIC_PIECE {
                true => (literals.iter())
                    .filter(|other| other.bytes != l.bytes)
                    .filter(|other| memchr::memmem::find(&other.bytes, &l.bytes).is_some())
                    .count(),
                false => 0,
            })
            .collect();
        assert!(expected.iter().filter(|&&n| n > 0).count() >= 4);
        for threads in [1, 2, 3] {
            assert!(
                containing(&refs, &counted, threads) == expected,
                "{threads} threads"
            );
        }
    }

    /// The index built on many threads is the serial one: the same literals, ids, keys,
    /// checks and per-field searches (compared through their full debug form).
    #[test]
    fn the_index_built_on_many_threads_is_the_serial_one() {
        let shapes = many_shapes(600);
        let serial = format!("{:?}", LiteralIndex::from_shapes(shapes.clone(), 1));
        for threads in [2, 3, 8] {
            let parallel = format!("{:?}", LiteralIndex::from_shapes(shapes.clone(), threads));
            assert!(parallel == serial, "{threads} threads");
        }
        let index = LiteralIndex::from_shapes(shapes, 1);
        let mut fields: Vec<usize> = index.slots.iter().map(|s| s.slot).collect();
        fields.dedup();
        assert!(fields.len() == 5 && index.literals.len() > 1000);
    }
}
