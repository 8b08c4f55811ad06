//! One pass over a row for every selected rule: prefilter scan, then condition evaluation.

use super::expr::{eval_cond, FoldCache};
use super::row::Row;
use super::ruleset::RuleSet;
use super::select::Selected;

/// Per-thread scratch state for matching. Reusing one `Matcher` across rows means a row that
/// matches nothing costs no allocation (for search-language rules; `where`/`eval` rules may
/// allocate while computing string values).
#[derive(Debug)]
pub struct Matcher {
    cache: FoldCache,
    literal_seen: Vec<bool>,
    seen_list: Vec<usize>,
    matched: Vec<usize>,
    prefilter: bool,
}

impl Matcher {
    pub fn new(rules: &RuleSet) -> Matcher {
        Matcher {
            cache: FoldCache::new(rules.fields.len()),
            literal_seen: vec![false; rules.prefilter.literal_count],
            seen_list: Vec::new(),
            matched: Vec::new(),
            prefilter: true,
        }
    }

    /// Turns the literal prefilter off (every selected rule's condition is evaluated). The
    /// result is the same either way; this exists to measure what the prefilter saves.
    pub fn set_prefilter(&mut self, on: bool) {
        self.prefilter = on;
    }

    /// Indices (into [`RuleSet::rules`]) of the selected rules that match `row`, in rule order.
    pub fn match_row(&mut self, rules: &RuleSet, selected: &Selected, row: &dyn Row) -> &[usize] {
        self.matched.clear();
        self.cache.next_row();
        for &id in &self.seen_list {
            self.literal_seen[id] = false;
        }
        self.seen_list.clear();
        let scanners = if self.prefilter {
            rules.prefilter.scanners.as_slice()
        } else {
            &[]
        };
        for scanner in scanners {
            let (buf, _) = self.cache.folded(row, scanner.slot);
            for m in scanner.automaton.find_overlapping_iter(buf) {
                let id = scanner.literal_ids[m.pattern().as_usize()];
                if !self.literal_seen[id] {
                    self.literal_seen[id] = true;
                    self.seen_list.push(id);
                }
            }
        }
        for &i in selected.indices() {
            if let Some(Some(alternatives)) = rules.prefilter.rule_literal.get(i) {
                if self.prefilter && !alternatives.iter().any(|&lit| self.literal_seen[lit]) {
                    continue;
                }
            }
            if eval_cond(&rules.rules[i].cond, row, &mut self.cache) {
                self.matched.push(i);
            }
        }
        &self.matched
    }
}
