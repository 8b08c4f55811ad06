//! Literal prefilter: for each rule, one literal its row *must* contain in one field (taken
//! from a top-level AND-ed `field=pattern`, the longest literal of the pattern). Per row,
//! one Aho-Corasick scan per such field over the lower-cased values marks which literals
//! occur; rules whose literal is absent are skipped without evaluating their condition.
//!
//! A literal that is a whole value (`process_name=netsh.exe`, an `IN` list of names) is
//! preferred over a substring literal and is checked by comparing each raw value of its field
//! (length first, then ASCII case-insensitively): no lower-cased copy and no scan. Whole-value
//! anchors usually sit on short fields (`process_name`, `original_file_name`), so a row the
//! prefilter rejects is decided without reading its long `process` command line at all.

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

/// Whole-value literals of one slot: `(lower-cased literal, global literal id)`, sorted by
/// length so a value is compared only with literals of its own length.
#[derive(Debug, Clone)]
pub(crate) struct SlotExact {
    pub slot: usize,
    pub literals: Vec<(Vec<u8>, usize)>,
}

impl SlotExact {
    /// Calls `seen` with the id of every literal equal (ASCII case-insensitively) to `value`.
    pub fn find(&self, value: &[u8], mut seen: impl FnMut(usize)) {
        let start = self
            .literals
            .partition_point(|(l, _)| l.len() < value.len());
        for (literal, id) in &self.literals[start..] {
            if literal.len() != value.len() {
                break;
            }
            if literal.eq_ignore_ascii_case(value) {
                seen(*id);
            }
        }
    }
}

/// One literal a matching row must contain in `slot`: as a whole value (`exact`) or anywhere
/// in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Literal {
    slot: usize,
    bytes: Vec<u8>,
    exact: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Prefilter {
    pub(crate) scanners: Vec<SlotScanner>,
    pub(crate) exact: Vec<SlotExact>,
    /// Rule index → literal ids of which one must be present (None: always evaluate).
    pub(crate) rule_literal: Vec<Option<Vec<usize>>>,
    pub(crate) literal_count: usize,
    /// Literal id → its bytes (lower-cased), its slot, and whether it is a whole value.
    pub(crate) literals: Vec<RequiredLiteral>,
}

/// A literal that a row matched by some rule must hold in one field: as that field's whole
/// value, or anywhere in it. ASCII case-insensitive; `bytes` is lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredLiteral {
    pub slot: usize,
    pub bytes: Vec<u8>,
    pub whole_value: bool,
}

/// Literals a matching row must contain: alternatives, at least one of which occurs in
/// every row the condition accepts. `None` when no such set is known.
fn anchor(cond: &Cond) -> Option<Vec<Literal>> {
    match cond {
        Cond::Glob {
            src: Src::Slot(slot),
            pat,
        } => pat.required_literal().map(|l| {
            vec![Literal {
                slot: *slot,
                bytes: l.to_vec(),
                exact: pat.exact().is_some(),
            }]
        }),
        Cond::AnyGlob { slot, exact, globs } => {
            let mut alts: Vec<Literal> = exact
                .iter()
                .map(|e| Literal {
                    slot: *slot,
                    bytes: e.clone(),
                    exact: true,
                })
                .collect();
            for g in globs {
                alts.push(Literal {
                    slot: *slot,
                    bytes: g.required_literal()?.to_vec(),
                    exact: g.exact().is_some(),
                });
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
        // Any conjunct's anchor works; prefer whole-value anchors (checked without a scan),
        // then the most selective (longest shortest literal).
        Cond::And(items) => items
            .iter()
            .filter_map(anchor)
            .filter(|a| usable(a))
            .max_by_key(|a| {
                let shortest = a.iter().map(|l| l.bytes.len()).min().unwrap_or(0);
                let all_exact = a.iter().all(|l| l.exact);
                (all_exact, shortest.min(12), usize::MAX - a.len())
            }),
        _ => None,
    }
}

/// Short literals rarely filter anything; evaluating the rule is as cheap.
fn usable(alts: &[Literal]) -> bool {
    !alts.is_empty() && alts.len() <= 64 && alts.iter().all(|l| l.bytes.len() >= 3)
}

impl Prefilter {
    pub fn build(rules: &[Rule]) -> Prefilter {
        let mut literals: Vec<Literal> = Vec::new();
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
        let mut slots: Vec<usize> = literals.iter().map(|l| l.slot).collect();
        slots.sort_unstable();
        slots.dedup();
        let mut scanners = Vec::new();
        let mut exact = Vec::new();
        for &slot in &slots {
            let mut whole: Vec<(Vec<u8>, usize)> = (0..literals.len())
                .filter(|&i| literals[i].slot == slot && literals[i].exact)
                .map(|i| (literals[i].bytes.to_ascii_lowercase(), i))
                .collect();
            if !whole.is_empty() {
                whole.sort_by_key(|(l, _)| l.len());
                exact.push(SlotExact {
                    slot,
                    literals: whole,
                });
            }
        }
        for slot in slots {
            let ids: Vec<usize> = (0..literals.len())
                .filter(|&i| literals[i].slot == slot && !literals[i].exact)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let patterns: Vec<&[u8]> = ids.iter().map(|&i| literals[i].bytes.as_slice()).collect();
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
            exact,
            rule_literal,
            literal_count: literals.len(),
            literals: literals
                .iter()
                .map(|l| RequiredLiteral {
                    slot: l.slot,
                    bytes: l.bytes.to_ascii_lowercase(),
                    whole_value: l.exact,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleSet;

    #[test]
    fn whole_value_literal_matches_the_whole_value_in_any_case_only() {
        let exact = SlotExact {
            slot: 0,
            literals: vec![(b"cmd.exe".to_vec(), 3), (b"netsh.exe".to_vec(), 7)],
        };
        let found = |value: &[u8]| {
            let mut ids = Vec::new();
            exact.find(value, |id| ids.push(id));
            ids
        };
        assert_eq!(found(b"NetSh.EXE"), vec![7]);
        assert_eq!(found(b"cmd.exe"), vec![3]);
        assert!(found(b"xnetsh.exe").is_empty());
        assert!(found(b"netsh.ex").is_empty());
        assert!(found(b"").is_empty());
    }

    /// The seed rules are decided by `process_name`/`original_file_name` alone for rows the
    /// prefilter rejects: their anchors are whole values, so the long `process` field is
    /// neither folded nor scanned.
    #[test]
    fn seed_rules_anchor_on_whole_values_not_the_command_line() {
        let app = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("app");
        let (set, warnings) = RuleSet::load(&[app.join("detections"), app.join("macros")]);
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(set.len(), 2);
        let pre = &set.prefilter;
        let process = set.slot("process").expect("seed rules read process");
        assert!(pre.scanners.iter().all(|s| s.slot != process));
        let exact_ids: Vec<usize> = pre
            .exact
            .iter()
            .flat_map(|e| e.literals.iter().map(|(_, id)| *id))
            .collect();
        for (rule, ids) in set.rules.iter().zip(&pre.rule_literal) {
            let ids = ids.as_ref().expect("every seed rule is prefiltered");
            assert!(
                ids.iter().all(|id| exact_ids.contains(id)),
                "{} anchors on a substring",
                rule.meta.name
            );
        }
    }
}
