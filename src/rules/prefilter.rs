//! Literal prefilter: for each rule, one literal its row *must* contain in one field (taken
//! from a top-level AND-ed `field=pattern`, the longest literal of the pattern). Per row,
//! one Aho-Corasick scan per such field over the lower-cased values marks which literals
//! occur; rules whose literal is absent are skipped without evaluating their condition.

use aho_corasick::{AhoCorasick, MatchKind};

use super::expr::{Cond, Src};
use super::ruleset::Rule;

#[derive(Debug, Clone)]
pub(crate) struct SlotScanner {
    pub slot: usize,
    pub automaton: AhoCorasick,
    /// Automaton pattern index → global literal id.
    pub literal_ids: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    pub(crate) scanners: Vec<SlotScanner>,
    /// Rule index → literal ids of which one must be present (None: always evaluate).
    pub(crate) rule_literal: Vec<Option<Vec<usize>>>,
    pub(crate) literal_count: usize,
}

/// Literals a matching row must contain: alternatives `(slot, literal)`, at least one of
/// which occurs in every row the condition accepts. `None` when no such set is known.
fn anchor(cond: &Cond) -> Option<Vec<(usize, Vec<u8>)>> {
    match cond {
        Cond::Glob {
            src: Src::Slot(slot),
            pat,
        } => pat.required_literal().map(|l| vec![(*slot, l.to_vec())]),
        Cond::AnyGlob { slot, exact, globs } => {
            let mut alts: Vec<(usize, Vec<u8>)> =
                exact.iter().map(|e| (*slot, e.clone())).collect();
            for g in globs {
                alts.push((*slot, g.required_literal()?.to_vec()));
            }
            Some(alts)
        }
        // Every branch must carry an anchor; the union of theirs is one for the OR.
        Cond::Or(items) => {
            let mut alts = Vec::new();
            for item in items {
                alts.extend(anchor(item)?);
            }
            Some(alts)
        }
        // Any conjunct's anchor works; prefer the most selective (longest shortest literal).
        Cond::And(items) => items
            .iter()
            .filter_map(anchor)
            .filter(|a| usable(a))
            .max_by_key(|a| {
                let shortest = a.iter().map(|(_, l)| l.len()).min().unwrap_or(0);
                (shortest.min(12), usize::MAX - a.len())
            }),
        _ => None,
    }
}

/// Short literals rarely filter anything; evaluating the rule is as cheap.
fn usable(alts: &[(usize, Vec<u8>)]) -> bool {
    !alts.is_empty() && alts.len() <= 64 && alts.iter().all(|(_, l)| l.len() >= 3)
}

impl Prefilter {
    pub fn build(rules: &[Rule]) -> Prefilter {
        let mut literals: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut rule_literal = Vec::with_capacity(rules.len());
        for rule in rules {
            let ids = anchor(&rule.cond).filter(|a| usable(a)).map(|alts| {
                let mut ids: Vec<usize> = alts
                    .into_iter()
                    .map(|key| {
                        literals.iter().position(|k| *k == key).unwrap_or_else(|| {
                            literals.push(key);
                            literals.len() - 1
                        })
                    })
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                ids
            });
            rule_literal.push(ids);
        }
        let mut slots: Vec<usize> = literals.iter().map(|(s, _)| *s).collect();
        slots.sort_unstable();
        slots.dedup();
        let mut scanners = Vec::new();
        for slot in slots {
            let ids: Vec<usize> = (0..literals.len())
                .filter(|&i| literals[i].0 == slot)
                .collect();
            let patterns: Vec<&[u8]> = ids.iter().map(|&i| literals[i].1.as_slice()).collect();
            match AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
            {
                Ok(automaton) => scanners.push(SlotScanner {
                    slot,
                    automaton,
                    literal_ids: ids,
                }),
                Err(_) => {
                    // Cannot happen for plain byte literals; if it did, those rules are simply not prefiltered.
                    for r in rule_literal.iter_mut() {
                        if r.as_ref()
                            .is_some_and(|alts| alts.iter().any(|id| ids.contains(id)))
                        {
                            *r = None;
                        }
                    }
                }
            }
        }
        Prefilter {
            scanners,
            rule_literal,
            literal_count: literals.len(),
        }
    }
}
