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
    /// Rule index → literal id that must be present (None: always evaluate).
    pub(crate) rule_literal: Vec<Option<usize>>,
    pub(crate) literal_count: usize,
}

/// The best (longest) required literal of a condition, with its slot.
fn anchor(cond: &Cond) -> Option<(usize, Vec<u8>)> {
    match cond {
        Cond::Glob {
            src: Src::Slot(slot),
            pat,
        } => pat.required_literal().map(|l| (*slot, l.to_vec())),
        Cond::And(items) => items.iter().filter_map(anchor).max_by_key(|(_, l)| l.len()),
        _ => None,
    }
}

impl Prefilter {
    pub fn build(rules: &[Rule]) -> Prefilter {
        let mut literals: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut rule_literal = Vec::with_capacity(rules.len());
        for rule in rules {
            // Very short literals rarely filter anything; evaluating the rule is as cheap.
            let id = anchor(&rule.cond).filter(|(_, l)| l.len() >= 3).map(|key| {
                literals.iter().position(|k| *k == key).unwrap_or_else(|| {
                    literals.push(key);
                    literals.len() - 1
                })
            });
            rule_literal.push(id);
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
                        if r.is_some_and(|id| ids.contains(&id)) {
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
