//! Semantics-preserving rewrites of compiled conditions: nested AND/OR are flattened and
//! OR-ed `field=pattern` tests on the same field become one [`Cond::AnyGlob`].

use super::expr::{Cond, Src};

pub fn optimize(cond: Cond) -> Cond {
    match cond {
        Cond::And(items) => {
            let mut flat = Vec::new();
            for c in items.into_iter().map(optimize) {
                match c {
                    Cond::And(inner) => flat.extend(inner),
                    Cond::True => {}
                    other => flat.push(other),
                }
            }
            match flat.len() {
                0 => Cond::True,
                1 => flat.remove(0),
                _ => Cond::And(flat),
            }
        }
        Cond::Or(items) => {
            let mut flat = Vec::new();
            for c in items.into_iter().map(optimize) {
                match c {
                    Cond::Or(inner) => flat.extend(inner),
                    other => flat.push(other),
                }
            }
            merge_globs(flat)
        }
        Cond::Not(inner) => Cond::Not(Box::new(optimize(*inner))),
        other => other,
    }
}

/// Merges OR-ed globs (and already merged sets) over the same slot; other alternatives are
/// kept in order.
fn merge_globs(items: Vec<Cond>) -> Cond {
    let mut out: Vec<Cond> = Vec::new();
    for c in items {
        let (slot, new_exact, new_globs) = match c {
            Cond::Glob {
                src: Src::Slot(slot),
                pat,
            } => match pat.exact() {
                Some(e) => (slot, vec![e.to_vec()], Vec::new()),
                None => (slot, Vec::new(), vec![pat]),
            },
            Cond::AnyGlob { slot, exact, globs } => (slot, exact, globs.into_vec()),
            other => {
                out.push(other);
                continue;
            }
        };
        let at = match out
            .iter()
            .position(|o| matches!(o, Cond::AnyGlob { slot: s, .. } if *s == slot))
        {
            Some(at) => at,
            None => {
                out.push(Cond::AnyGlob {
                    slot,
                    exact: Vec::new(),
                    globs: Default::default(),
                });
                out.len() - 1
            }
        };
        if let Cond::AnyGlob { exact, globs, .. } = &mut out[at] {
            for e in new_exact {
                if let Err(pos) = exact.binary_search(&e) {
                    exact.insert(pos, e);
                }
            }
            globs.extend(new_globs);
        }
    }
    match out.len() {
        1 => out.remove(0),
        _ => Cond::Or(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::expr::{eval_cond, FoldCache};
    use crate::rules::glob::Glob;
    use crate::rules::row::OwnedRow;

    fn g(slot: usize, p: &str) -> Cond {
        Cond::Glob {
            src: Src::Slot(slot),
            pat: Glob::new(p),
        }
    }

    #[test]
    fn merges_or_ed_globs_per_slot_and_keeps_meaning() {
        let cond = Cond::Or(vec![
            g(0, "Cmd.exe"),
            Cond::Or(vec![g(1, "x"), g(0, "power*.exe")]),
            g(0, "cmd.exe"),
        ]);
        let opt = optimize(cond.clone());
        match &opt {
            Cond::Or(items) => {
                assert_eq!(items.len(), 2);
                assert!(
                    matches!(&items[0], Cond::AnyGlob { slot: 0, exact, globs } if exact == &vec![b"cmd.exe".to_vec()] && globs.len() == 1)
                );
            }
            other => panic!("{other:?}"),
        }
        let mut cache = FoldCache::new(2);
        for (v0, v1) in [
            ("CMD.EXE", ""),
            ("powershell.exe", ""),
            ("a", "X"),
            ("a", "y"),
            ("", ""),
        ] {
            let mut row = OwnedRow::with_slots(2);
            row.set(0, vec![v0.as_bytes().to_vec()]);
            row.set(1, vec![v1.as_bytes().to_vec()]);
            cache.next_row();
            let a = eval_cond(&cond, &row, &mut cache);
            cache.next_row();
            assert_eq!(a, eval_cond(&opt, &row, &mut cache), "{v0} {v1}");
        }
    }
}
