//! What the literal index's marks already decide of a candidate's condition.
//!
//! The index marks every indexed literal a row holds (see [`super::prefilter`]). A test whose
//! patterns each match a value exactly when the value holds one literal, in its place (`x`,
//! `x*`, `*x`, `*x*`, and `IN` lists of them: [`Glob::sole_part`]), holds exactly when one of
//! those literals is marked, provided the index searches for all of them. Its evaluation would
//! only confirm the marks: fold the field (a command line), look the value up in a sorted list,
//! `memmem` it. A rule's [`Plan`] names those tests, so a candidate reads its marks for them
//! and evaluates only the rest.
//!
//! Values are compared alike on both sides: ASCII case-insensitively, every value of the field,
//! empty values matching no literal (the index has no empty literal). So a plan's verdict is
//! the condition's on every row, which tests check against evaluating every rule in full.

use super::expr::{eval_cond, Cond, FoldCache, Src};
use super::glob::Glob;
use super::prefilter::{equivalent_literal, IndexScratch, LiteralIndex, RequiredLiteral};
use super::row::Row;

/// How a rule's condition is evaluated, mirroring its tree down to the tests the marks
/// decide.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    /// True exactly when one of these literals (ids in the index) is marked.
    Marked(Box<[u32]>),
    /// Evaluated as the condition says.
    Eval,
    Not(Box<Plan>),
    /// The plans of an `And`'s or `Or`'s items, each with its item's position: the items
    /// the marks decide first, as they cost next to nothing.
    And(Box<[(usize, Plan)]>),
    Or(Box<[(usize, Plan)]>),
}

/// The plan of `cond`; `None` when the marks decide nothing of it. `id` gives a literal's id
/// in the index, `None` when the index does not search for it.
pub(crate) fn plan(cond: &Cond, id: &impl Fn(&RequiredLiteral) -> Option<u32>) -> Option<Plan> {
    match plan_of(cond, id) {
        Plan::Eval => None,
        plan => Some(plan),
    }
}

fn plan_of(cond: &Cond, id: &impl Fn(&RequiredLiteral) -> Option<u32>) -> Plan {
    let decided = match cond {
        Cond::Glob {
            src: Src::Slot(slot),
            pat,
        } => literal_ids(*slot, &[], std::slice::from_ref(pat), id),
        Cond::AnyGlob { slot, exact, globs } => literal_ids(*slot, exact, globs, id),
        Cond::Not(inner) => {
            return match plan_of(inner, id) {
                Plan::Eval => Plan::Eval,
                plan => Plan::Not(Box::new(plan)),
            }
        }
        Cond::And(items) => return items_plan(items, id).map_or(Plan::Eval, Plan::And),
        Cond::Or(items) => return items_plan(items, id).map_or(Plan::Eval, Plan::Or),
        _ => None,
    };
    decided.map_or(Plan::Eval, Plan::Marked)
}

/// The ids of the literals equivalent to the patterns (`exact` values and `globs` of one
/// field); `None` unless every pattern that can match has one the index searches for.
fn literal_ids(
    slot: usize,
    exact: &[Vec<u8>],
    globs: &[Glob],
    id: &impl Fn(&RequiredLiteral) -> Option<u32>,
) -> Option<Box<[u32]>> {
    // The evaluator looks lower-cased values up in the sorted, lower-cased list: a list
    // otherwise is left to it.
    let folded = |e: &Vec<u8>| !e.iter().any(u8::is_ascii_uppercase);
    if !exact.iter().all(folded) || !exact.is_sorted() {
        return None;
    }
    // An empty exact value matches no value: the evaluator skips empty values.
    let exact = exact.iter().filter(|e| !e.is_empty()).map(|e| {
        Some(RequiredLiteral {
            slot,
            bytes: e.clone(),
            place: super::Place::Whole,
        })
    });
    let globs = globs.iter().map(|g| equivalent_literal(slot, g));
    exact
        .chain(globs)
        .map(|literal| id(&literal?))
        .collect::<Option<Vec<u32>>>()
        .filter(|ids| !ids.is_empty())
        .map(Vec::into_boxed_slice)
}

/// The items' plans, decided ones first; `None` when the marks decide none of them.
fn items_plan(
    items: &[Cond],
    id: &impl Fn(&RequiredLiteral) -> Option<u32>,
) -> Option<Box<[(usize, Plan)]>> {
    let mut plans: Vec<(usize, Plan)> = items
        .iter()
        .enumerate()
        .map(|(at, item)| (at, plan_of(item, id)))
        .collect();
    if plans.iter().all(|(_, p)| matches!(p, Plan::Eval)) {
        return None;
    }
    plans.sort_by_key(|(at, p)| (!matches!(p, Plan::Marked(_)), *at));
    Some(plans.into())
}

impl Plan {
    /// Whether `cond` (the condition this plan was made from) holds on `row`, whose literals
    /// `index` has marked in `scratch` (after [`LiteralIndex::candidates`] on this row).
    pub(crate) fn holds(
        &self,
        cond: &Cond,
        row: &dyn Row,
        index: &LiteralIndex,
        scratch: &mut IndexScratch,
        cache: &mut FoldCache,
    ) -> bool {
        let mut item = |(at, plan): &(usize, Plan), items: &[Cond]| {
            items
                .get(*at)
                .is_some_and(|c| plan.holds(c, row, index, scratch, cache))
        };
        match (self, cond) {
            (Plan::Marked(ids), _) => ids.iter().any(|&l| index.marked(l, row, scratch)),
            (Plan::Not(plan), Cond::Not(inner)) => !plan.holds(inner, row, index, scratch, cache),
            (Plan::And(plans), Cond::And(items)) => plans.iter().all(|p| item(p, items)),
            (Plan::Or(plans), Cond::Or(items)) => plans.iter().any(|p| item(p, items)),
            _ => eval_cond(cond, row, cache),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::OwnedRow;

    fn glob(slot: usize, pattern: &str) -> Cond {
        Cond::Glob {
            src: Src::Slot(slot),
            pat: Glob::new(pattern),
        }
    }

    fn any(slot: usize, exact: &[&str], globs: &[&str]) -> Cond {
        Cond::AnyGlob {
            slot,
            exact: exact.iter().map(|e| e.as_bytes().to_vec()).collect(),
            globs: globs
                .iter()
                .map(|g| Glob::new(g))
                .collect::<Vec<_>>()
                .into(),
        }
    }

    /// Conditions whose tests the marks decide, in every shape a plan takes (a list, a
    /// start, an end, a piece; under NOT, OR and AND), beside tests they cannot decide (a
    /// 2-byte piece, `!=`, a list not lower-cased).
    fn conds() -> Vec<Cond> {
        vec![
            Cond::And(vec![
                any(0, &["a.exe", "b.exe"], &[]),
                glob(1, "*-encoded*"),
            ]),
            Cond::Or(vec![glob(0, "c:\\win*"), glob(2, "*.dll")]),
            Cond::And(vec![
                Cond::Not(Box::new(any(1, &[], &["*foo*", "*powershell*"]))),
                glob(0, "x.exe"),
                Cond::Not(Box::new(any(1, &[], &["*foo*", "*bar*"]))),
            ]),
            Cond::And(vec![glob(1, "*-e*"), glob(0, "y.exe"), glob(1, "*foo*")]),
            Cond::And(vec![
                Cond::NotGlob {
                    src: Src::Slot(2),
                    pat: Glob::new("lib.dll"),
                },
                any(0, &["B.EXE"], &[]),
                glob(3, "z.exe"),
            ]),
            Cond::Or(vec![
                Cond::And(vec![glob(0, "cmd.exe"), glob(1, "*powershell*")]),
                any(0, &["", "pwsh.exe"], &["*shell.exe"]),
            ]),
        ]
    }

    const VALUES: &[&str] = &[
        "",
        "A.EXE",
        "a.exe",
        "xa.exe",
        "C:\\Windows\\x",
        "c:\\win",
        "lib.DLL",
        "x.dll",
        "foo",
        "x -ENCODED y",
        "-e",
        "BAR",
        "x.exe",
        "Y.exe",
        "cmd.exe",
        "PowerShell",
        "pwsh.exe",
        "B.EXE",
        "Z.exe",
        "é.exe",
        "FOObar",
    ];

    /// Every row of up to two values per field from [`VALUES`] (a deterministic sample):
    /// whatever the case, multivalue or empty values, each condition's plan gives the
    /// condition's own verdict.
    #[test]
    fn plans_give_the_conditions_verdicts() {
        let conds = conds();
        let refs: Vec<&Cond> = conds.iter().collect();
        let index = LiteralIndex::of_conds(&refs, 1);
        let planned = (0..conds.len()).filter(|&r| index.plan(r).is_some());
        assert_eq!(planned.count(), conds.len());
        let mut scratch = IndexScratch::new(&index);
        let mut cache = FoldCache::new(4);
        let mut next = crate::test_strings::below(0x5eed);
        let (mut held, mut candidates) = (0, Vec::new());
        for _ in 0..20_000 {
            let mut row = OwnedRow::with_slots(4);
            for slot in 0..4 {
                for _ in 0..next(3) {
                    row.slots[slot].push(VALUES[next(VALUES.len())].as_bytes().to_vec());
                }
            }
            cache.next_row();
            candidates.clear();
            index.candidates(&row, &mut scratch, &mut candidates);
            for (rule, cond) in conds.iter().enumerate() {
                let plain = eval_cond(cond, &row, &mut cache);
                let planned = index.evaluate(rule, cond, &row, &mut scratch, &mut cache);
                assert_eq!(planned, plain, "rule {rule} on {row:?}");
                held += usize::from(plain);
            }
        }
        assert!(held > 5_000, "{held}");
    }

    #[test]
    fn only_tests_the_index_searches_for_are_decided() {
        let conds = conds();
        let refs: Vec<&Cond> = conds.iter().collect();
        let index = LiteralIndex::of_conds(&refs, 1);
        let marked = |rule: usize| match index.plan(rule) {
            Some(Plan::And(items)) | Some(Plan::Or(items)) => items
                .iter()
                .map(|(at, p)| (*at, matches!(p, Plan::Marked(_))))
                .collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        // The 2-byte piece is evaluated, the whole value read from the marks.
        let rule3 = marked(3);
        assert!(
            rule3.contains(&(0, false)) && rule3.contains(&(1, true)),
            "{rule3:?}"
        );
        // Under NOT, a list with a piece the index does not search for is evaluated.
        assert!(marked(2).contains(&(2, false)));
        let Some(Plan::And(rule2)) = index.plan(2) else {
            panic!("{:?}", index.plan(2));
        };
        assert!(matches!(
            rule2[..],
            [(1, Plan::Marked(_)), (0, Plan::Not(_)), (2, Plan::Eval)]
        ));
        // `!=` and a list not lower-cased are evaluated.
        assert_eq!(marked(4), [(2, true), (0, false), (1, false)]);
    }
}
