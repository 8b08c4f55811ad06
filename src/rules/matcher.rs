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
    stats: MatchStats,
}

/// What a [`Matcher`] did so far: how many rule conditions the literal index left to
/// evaluate per row, against how many matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchStats {
    pub rows: u64,
    /// Rule conditions evaluated.
    pub evaluated: u64,
    /// Rule conditions that held.
    pub matched: u64,
}

impl Matcher {
    pub fn new(rules: &RuleSet) -> Matcher {
        Matcher {
            cache: FoldCache::new(rules.fields.len()),
            scratch: IndexScratch::new(&rules.index),
            candidates: Vec::new(),
            matched: Vec::new(),
            index: true,
            stats: MatchStats::default(),
        }
    }

    /// Turns the literal index off: every selected rule's condition is evaluated on every row.
    /// The result is the same either way; this exists to prove that and to measure what the
    /// index saves.
    pub fn set_prefilter(&mut self, on: bool) {
        self.index = on;
    }

    /// What this matcher did so far.
    pub fn stats(&self) -> MatchStats {
        self.stats
    }

    /// Indices (into [`RuleSet::rules`]) of the selected rules that match `row`, in rule order.
    pub fn match_row(&mut self, rules: &RuleSet, selected: &Selected, row: &dyn Row) -> &[usize] {
        self.matched.clear();
        self.cache.next_row();
        self.stats.rows += 1;
        if !self.index {
            for &i in selected.indices() {
                if eval_cond(&rules.rules[i].cond, row, &mut self.cache) {
                    self.matched.push(i);
                }
            }
            self.stats.evaluated += selected.indices().len() as u64;
            self.stats.matched += self.matched.len() as u64;
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
            if all || chosen.binary_search(&i).is_ok() {
                self.stats.evaluated += 1;
                let cond = &rules.rules[i].cond;
                let (scratch, cache) = (&mut self.scratch, &mut self.cache);
                if rules.index.evaluate(i, cond, row, scratch, cache) {
                    self.matched.push(i);
                }
            }
        }
        self.stats.matched += self.matched.len() as u64;
        &self.matched
    }
}
