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

/// Merges OR-ed globs over the same slot; other alternatives are kept in order.
fn merge_globs(items: Vec<Cond>) -> Cond {
    let mut out: Vec<Cond> = Vec::new();
    for c in items {
        let Cond::Glob {
            src: Src::Slot(slot),
            pat,
        } = c
        else {
            out.push(c);
            continue;
        };
        let existing = out
            .iter_mut()
            .find(|o| matches!(o, Cond::AnyGlob { slot: s, .. } if *s == slot));
        let target = match existing {
            Some(t) => t,
            None => {
                out.push(Cond::AnyGlob {
                    slot,
                    exact: Vec::new(),
                    globs: Vec::new(),
                });
                out.last_mut().expect("just pushed")
            }
        };
        if let Cond::AnyGlob { exact, globs, .. } = target {
            match pat.exact() {
                Some(e) => {
                    if let Err(at) = exact.binary_search_by(|x| x.as_slice().cmp(e)) {
                        exact.insert(at, e.to_vec());
                    }
                }
                None => globs.push(pat),
            }
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
