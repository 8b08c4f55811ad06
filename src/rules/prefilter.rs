//! The literal index: one for the whole rule set, so a row costs one search per field however
//! many rules are loaded, and only the rules whose literals the row holds are evaluated.
//!
//! Each rule's condition yields *factors* ([`factors`]): sets of literals of which every row
//! the rule matches holds at least one (the "must contain one of" parts of its AND-ed
//! predicates; an OR contributes the union of its branches' best factors). A literal is a whole
//! value of one field (`process_name=netsh.exe`, an `IN` list without wildcards) or a piece of
//! one (`*-enc*`, the `x` of `x*` and `*x`, each part of `a*b`, a literal every match of a
//! regex holds). All literals are compiled per field: whole values into one hash table of
//! folded values, pieces into one [`Literals`] search. Per row, the fields are looked up and searched once; a rule becomes a *candidate*
//! when every one of its factors has a literal in the row, and only candidates are evaluated.
//! Rules without a usable literal are evaluated on every row; [`LiteralIndex::unanchored`]
//! lists them.
//!
//! Everything here reads [`Cond`], whatever front door (ESCU SPL, Sigma) compiled it.

use std::collections::HashMap;

use crate::literals::{Literals, WholeValues, MIN_LITERAL};

use super::eval_lang::BinOp;
use super::expr::{Cond, Ex, Func, Src};
use super::glob::Glob;
use super::row::Row;
use super::ruleset::Rule;
use super::search_lang::CmpOp;

/// A literal that a row matched by some rule must hold in one field: as that field's whole
/// value, or anywhere in it. ASCII case-insensitive; `bytes` is lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequiredLiteral {
    pub slot: usize,
    pub bytes: Vec<u8>,
    pub whole_value: bool,
}

/// Pieces shorter than this are too common to filter anything; evaluating the rule is as cheap.
const MIN_PIECE: usize = MIN_LITERAL;

/// Factors indexed per rule: its most selective ones. More would cut few candidates, but
/// every literal indexed is searched for and, when a row holds it, walked to its rules.
const FACTORS_PER_RULE: usize = 2;

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
        Cond::AnyGlob { slot, exact, globs } => {
            let mut alternatives: Factor = exact
                .iter()
                .map(|e| whole(*slot, e))
                .filter(|l| !l.bytes.is_empty())
                .collect();
            for glob in globs {
                match best(glob_factors(*slot, glob)) {
                    Some(factor) => alternatives.extend(factor),
                    None => return,
                }
            }
            // An empty exact value never matches (empty values are absent), so it is no
            // alternative.
            if !alternatives.is_empty() {
                out.push(alternatives);
            }
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
        Cond::Or(items) => {
            let mut alternatives = Factor::new();
            for item in items {
                match best(factors(item)) {
                    Some(factor) => alternatives.extend(factor),
                    None => return,
                }
            }
            if !alternatives.is_empty() {
                out.push(dedup(alternatives));
            }
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
    (least >= 2.0 && sep.len() >= MIN_PIECE).then(|| {
        vec![RequiredLiteral {
            slot: *slot,
            bytes: sep.to_ascii_lowercase(),
            whole_value: false,
        }]
    })
}

/// The factors of a regex test on one field: literals every match holds (`regex_literals`).
fn regex_factors(slot: usize, pattern: &str) -> Vec<Factor> {
    super::regex_literals::factors(pattern)
        .into_iter()
        .map(|alternatives| {
            alternatives
                .into_iter()
                .map(|bytes| RequiredLiteral {
                    slot,
                    bytes,
                    whole_value: false,
                })
                .collect()
        })
        .collect()
}

fn whole(slot: usize, bytes: &[u8]) -> RequiredLiteral {
    RequiredLiteral {
        slot,
        bytes: bytes.to_ascii_lowercase(),
        whole_value: true,
    }
}

/// An exact pattern is one whole-value factor; a wildcard pattern gives one factor per piece
/// long enough to be worth searching.
fn glob_factors(slot: usize, glob: &Glob) -> Vec<Factor> {
    if let Some(exact) = glob.exact() {
        return match exact.is_empty() {
            true => Vec::new(),
            false => vec![vec![whole(slot, exact)]],
        };
    }
    glob.required_pieces()
        .into_iter()
        .filter(|piece| piece.len() >= MIN_PIECE)
        .map(|piece| {
            vec![RequiredLiteral {
                slot,
                bytes: piece.to_vec(),
                whole_value: false,
            }]
        })
        .collect()
}

fn dedup(mut factor: Factor) -> Factor {
    factor
        .sort_by(|a, b| (a.slot, &a.bytes, a.whole_value).cmp(&(b.slot, &b.bytes, b.whole_value)));
    factor.dedup();
    factor
}

/// How selective a factor is likely to be: whole values first (compared, never searched),
/// then the longest shortest literal, then the fewest alternatives.
fn selectivity(factor: &Factor) -> (bool, usize, usize) {
    let all_whole = factor.iter().all(|l| l.whole_value);
    let shortest = factor.iter().map(|l| l.bytes.len()).min().unwrap_or(0);
    (all_whole, shortest.min(12), usize::MAX - factor.len())
}

fn best(factors: Vec<Factor>) -> Option<Factor> {
    factors.into_iter().max_by_key(selectivity)
}

/// A literal's id in [`LiteralIndex::literals`].
type LiteralId = u32;

/// The compiled index of every rule's literals.
#[derive(Debug, Clone, Default)]
pub struct LiteralIndex {
    /// Literal id → the literal.
    pub(crate) literals: Vec<RequiredLiteral>,
    /// Factor id → its literals.
    factors: Vec<Box<[LiteralId]>>,
    /// Rule → its distinct factors (empty: the rule has no usable literal).
    rule_factors: Vec<Box<[u32]>>,
    /// Rule → the factor the row gate checks: its most selective.
    gate_factor: Vec<Option<u32>>,
    /// Literal → the factors holding it; factor → the rules requiring it.
    literal_factors: Vec<Box<[u32]>>,
    factor_rules: Vec<Box<[u32]>>,
    /// Rules evaluated on every row.
    unanchored: Vec<u32>,
    slots: Vec<SlotSearch>,
}

/// One field's literals: whole values in one hash table, pieces in one [`Literals`] search,
/// each with the literal ids behind its own numbering.
#[derive(Debug, Clone)]
struct SlotSearch {
    slot: usize,
    whole: (WholeValues, Box<[LiteralId]>),
    pieces: Option<(Literals, Box<[LiteralId]>)>,
}

impl LiteralIndex {
    pub(crate) fn build(rules: &[Rule]) -> LiteralIndex {
        let mut index = LiteralIndex::default();
        let mut literal_ids: HashMap<RequiredLiteral, LiteralId> = HashMap::new();
        let mut factor_ids: HashMap<Box<[LiteralId]>, u32> = HashMap::new();
        for (rule, compiled) in rules.iter().enumerate() {
            let mut ids: Vec<u32> = Vec::new();
            let mut gate: Option<(u32, (bool, usize, usize))> = None;
            let mut found = factors(&compiled.cond);
            found.sort_by_key(|f| std::cmp::Reverse(selectivity(f)));
            found.truncate(FACTORS_PER_RULE);
            for factor in found {
                let score = selectivity(&factor);
                let mut literals: Vec<LiteralId> = factor
                    .into_iter()
                    .map(|l| {
                        let next = index.literals.len() as LiteralId;
                        *literal_ids.entry(l.clone()).or_insert_with(|| {
                            index.literals.push(l);
                            next
                        })
                    })
                    .collect();
                literals.sort_unstable();
                literals.dedup();
                let literals: Box<[LiteralId]> = literals.into();
                let next = index.factors.len() as u32;
                let id = *factor_ids.entry(literals.clone()).or_insert_with(|| {
                    index.factors.push(literals);
                    next
                });
                if !ids.contains(&id) {
                    ids.push(id);
                }
                if gate.is_none_or(|(_, s)| score > s) {
                    gate = Some((id, score));
                }
            }
            if ids.is_empty() {
                index.unanchored.push(rule as u32);
            }
            index.rule_factors.push(ids.into());
            index.gate_factor.push(gate.map(|(id, _)| id));
        }
        index.invert();
        index.slots = SlotSearch::build_all(&index.literals);
        index
    }

    /// Fills the literal → factor and factor → rule lists.
    fn invert(&mut self) {
        let mut literal_factors = vec![Vec::new(); self.literals.len()];
        for (f, literals) in self.factors.iter().enumerate() {
            for &l in literals.iter() {
                literal_factors[l as usize].push(f as u32);
            }
        }
        let mut factor_rules = vec![Vec::new(); self.factors.len()];
        for (r, factors) in self.rule_factors.iter().enumerate() {
            for &f in factors.iter() {
                factor_rules[f as usize].push(r as u32);
            }
        }
        self.literal_factors = literal_factors.into_iter().map(Into::into).collect();
        self.factor_rules = factor_rules.into_iter().map(Into::into).collect();
    }

    /// Rules with no usable literal (indices into the rule list): evaluated on every row.
    pub(crate) fn unanchored(&self) -> &[u32] {
        &self.unanchored
    }

    /// The literals of `rule`'s gate factor: a row it matches holds one of them. `None` when
    /// the rule has no usable literal.
    pub(crate) fn gate_literals(
        &self,
        rule: usize,
    ) -> Option<impl Iterator<Item = &RequiredLiteral>> {
        let factor = (*self.gate_factor.get(rule)?)?;
        Some(
            self.factors[factor as usize]
                .iter()
                .map(|&l| &self.literals[l as usize]),
        )
    }
}

impl SlotSearch {
    fn build_all(literals: &[RequiredLiteral]) -> Vec<SlotSearch> {
        let mut slots: Vec<usize> = literals.iter().map(|l| l.slot).collect();
        slots.sort_unstable();
        slots.dedup();
        slots
            .into_iter()
            .map(|slot| SlotSearch::build(slot, literals))
            .collect()
    }

    fn build(slot: usize, literals: &[RequiredLiteral]) -> SlotSearch {
        let mut whole: Vec<(&[u8], LiteralId)> = Vec::new();
        let mut pieces: Vec<(&[u8], LiteralId)> = Vec::new();
        for (id, literal) in literals.iter().enumerate() {
            if literal.slot == slot {
                let list = if literal.whole_value {
                    &mut whole
                } else {
                    &mut pieces
                };
                list.push((&literal.bytes, id as LiteralId));
            }
        }
        let (whole_bytes, whole_ids): (Vec<&[u8]>, Vec<LiteralId>) = whole.into_iter().unzip();
        let (piece_bytes, piece_ids): (Vec<&[u8]>, Vec<LiteralId>) = pieces.into_iter().unzip();
        SlotSearch {
            slot,
            whole: (WholeValues::new(&whole_bytes), whole_ids.into()),
            pieces: Literals::new(&piece_bytes).map(|l| (l, piece_ids.into())),
        }
    }
}

/// Per-thread state for [`LiteralIndex::candidates`]. Marks carry a generation, so a row costs
/// nothing for the literals, factors and rules it does not touch.
#[derive(Debug, Default)]
pub(crate) struct IndexScratch {
    generation: u32,
    literal_mark: Vec<u32>,
    factor_mark: Vec<u32>,
    rule_mark: Vec<u32>,
    rule_hits: Vec<u32>,
    seen: Vec<LiteralId>,
    fold: Vec<u8>,
}

impl IndexScratch {
    pub(crate) fn new(index: &LiteralIndex) -> IndexScratch {
        IndexScratch {
            generation: 0,
            literal_mark: vec![0; index.literals.len()],
            factor_mark: vec![0; index.factors.len()],
            rule_mark: vec![0; index.rule_factors.len()],
            rule_hits: vec![0; index.rule_factors.len()],
            seen: Vec::new(),
            fold: Vec::new(),
        }
    }

    fn next_row(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        if self.generation == 0 {
            for marks in [
                &mut self.literal_mark,
                &mut self.factor_mark,
                &mut self.rule_mark,
            ] {
                marks.iter_mut().for_each(|m| *m = 0);
            }
            self.generation = 1;
        }
        self.seen.clear();
    }

    fn see(&mut self, id: LiteralId) {
        let mark = &mut self.literal_mark[id as usize];
        if *mark != self.generation {
            *mark = self.generation;
            self.seen.push(id);
        }
    }
}

impl LiteralIndex {
    /// Pushes onto `out` every rule whose factors all have a literal in `row`, and every rule
    /// without a usable literal, in no particular order.
    pub(crate) fn candidates(&self, row: &dyn Row, scratch: &mut IndexScratch, out: &mut Vec<u32>) {
        scratch.next_row();
        for search in &self.slots {
            search.find(row, scratch);
        }
        let generation = scratch.generation;
        for &literal in &scratch.seen {
            for &factor in self.literal_factors[literal as usize].iter() {
                let mark = &mut scratch.factor_mark[factor as usize];
                if *mark == generation {
                    continue;
                }
                *mark = generation;
                for &rule in self.factor_rules[factor as usize].iter() {
                    let r = rule as usize;
                    if scratch.rule_mark[r] != generation {
                        scratch.rule_mark[r] = generation;
                        scratch.rule_hits[r] = 0;
                    }
                    scratch.rule_hits[r] += 1;
                    if scratch.rule_hits[r] as usize == self.rule_factors[r].len() {
                        out.push(rule);
                    }
                }
            }
        }
        out.extend_from_slice(&self.unanchored);
    }
}

impl SlotSearch {
    /// Marks the literals of this field that `row` holds.
    fn find(&self, row: &dyn Row, scratch: &mut IndexScratch) {
        let (whole, whole_ids) = &self.whole;
        for index in 0..row.value_count(self.slot) {
            let value = row.value(self.slot, index);
            if !whole.is_empty() {
                for &id in whole.find(value, &mut scratch.fold) {
                    scratch.see(whole_ids[id as usize]);
                }
            }
            if let Some((pieces, ids)) = &self.pieces {
                pieces.find(value, |piece| {
                    scratch.see(ids[piece]);
                    false
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

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
                literals.iter().all(|l| l.whole_value),
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
                        let kind = if l.whole_value { "=" } else { "~" };
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
                vec!["1~v4tov4", "2~abc"],
            ]
        );
        // An OR with a branch that has no literal gives nothing; so does a lone short piece.
        assert!(factors(&Cond::Or(vec![glob(0, "a.exe"), glob(1, "*-a*")])).is_empty());
        let any = Cond::AnyGlob {
            slot: 3,
            exact: vec![b"cmd.exe".to_vec()],
            globs: vec![Glob::new("*\\powershell*.exe")],
        };
        assert_eq!(
            names(&factors(&any)),
            vec![vec!["3=cmd.exe", "3~\\powershell"]]
        );
    }
}
