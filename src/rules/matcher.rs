//! One pass over a row for every selected rule: the literal index names the candidate rules,
//! and only their conditions are evaluated.

use super::expr::{eval_cond, FoldCache};
use super::prefilter::IndexScratch;
use super::row::Row;
use super::ruleset::RuleSet;
use super::select::Selected;

/// Per-thread scratch state for matching. Reusing one `Matcher` across rows means a row that
/// matches nothing costs no allocation (for search-language rules; `where`/`eval` rules may
/// allocate while computing string values).
#[derive(Debug)]
pub struct Matcher {
    cache: FoldCache,
    scratch: IndexScratch,
    candidates: Vec<u32>,
    matched: Vec<usize>,
    index: bool,
}

impl Matcher {
    pub fn new(rules: &RuleSet) -> Matcher {
        Matcher {
            cache: FoldCache::new(rules.fields.len()),
            scratch: IndexScratch::new(&rules.index),
            candidates: Vec::new(),
            matched: Vec::new(),
            index: true,
        }
    }

    /// Turns the literal index off: every selected rule's condition is evaluated on every row.
    /// The result is the same either way; this exists to prove that and to measure what the
    /// index saves.
    pub fn set_prefilter(&mut self, on: bool) {
        self.index = on;
    }

    /// Indices (into [`RuleSet::rules`]) of the selected rules that match `row`, in rule order.
    pub fn match_row(&mut self, rules: &RuleSet, selected: &Selected, row: &dyn Row) -> &[usize] {
        self.matched.clear();
        self.cache.next_row();
        if !self.index {
            for &i in selected.indices() {
                if eval_cond(&rules.rules[i].cond, row, &mut self.cache) {
                    self.matched.push(i);
                }
            }
            return &self.matched;
        }
        self.candidates.clear();
        rules
            .index
            .candidates(row, &mut self.scratch, &mut self.candidates);
        self.candidates.sort_unstable();
        let chosen = selected.indices();
        let all = chosen.len() == rules.rules.len();
        for &candidate in &self.candidates {
            let i = candidate as usize;
            if (all || chosen.binary_search(&i).is_ok())
                && eval_cond(&rules.rules[i].cond, row, &mut self.cache)
            {
                self.matched.push(i);
            }
        }
        &self.matched
    }
}
