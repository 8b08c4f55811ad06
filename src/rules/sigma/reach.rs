//! Which rows a Sigma rule can match: the condition evaluated with the fields a data source
//! lacks as absent, in three-valued logic. A rule whose condition is false whatever the
//! present fields hold cannot match that source; one that reads absent fields but can still
//! match is degraded (a filter on a missing field never excludes anything).

use super::lower::{Node, Test};

/// A rule's reach on one data source: `Degraded` lists the fields it reads that the source
/// lacks; `Cannot` the missing fields it needs (each of which alone would let it match; all
/// the missing fields it reads when only several together would).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    Full,
    Degraded(Vec<String>),
    Cannot(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tri {
    True,
    False,
    Unknown,
}

/// The reach of a condition when `present` tells which Sigma fields rows carry.
pub fn reach(node: &Node, present: &dyn Fn(&str) -> bool) -> Reach {
    // Most rules read only present fields: nothing is copied for them.
    let mut read = Vec::new();
    collect_refs(node, &mut read);
    read.retain(|f| !present(f));
    if read.is_empty() {
        return Reach::Full;
    }
    read.sort_unstable();
    read.dedup();
    let absent: Vec<String> = read.into_iter().map(str::to_string).collect();
    if eval(node, present) != Tri::False {
        return Reach::Degraded(absent);
    }
    let needed: Vec<String> = absent
        .iter()
        .filter(|f| eval(node, &|x: &str| x == f.as_str() || present(x)) != Tri::False)
        .cloned()
        .collect();
    Reach::Cannot(if needed.is_empty() { absent } else { needed })
}

/// The Sigma fields a condition reads, sorted and distinct.
pub fn fields(node: &Node) -> Vec<String> {
    let mut out = Vec::new();
    collect(node, &mut out);
    out.sort();
    out.dedup();
    out
}

fn collect(node: &Node, out: &mut Vec<String>) {
    let mut refs = Vec::new();
    collect_refs(node, &mut refs);
    out.extend(refs.into_iter().map(str::to_string));
}

fn collect_refs<'n>(node: &'n Node, out: &mut Vec<&'n str>) {
    match node {
        Node::And(items) | Node::Or(items) => items.iter().for_each(|n| collect_refs(n, out)),
        Node::Not(inner) => collect_refs(inner, out),
        Node::Test(test) => out.extend(test.fields()),
    }
}

fn eval(node: &Node, present: &dyn Fn(&str) -> bool) -> Tri {
    match node {
        Node::And(items) => {
            let values: Vec<Tri> = items.iter().map(|n| eval(n, present)).collect();
            if values.contains(&Tri::False) {
                Tri::False
            } else if values.iter().all(|v| *v == Tri::True) {
                Tri::True
            } else {
                Tri::Unknown
            }
        }
        Node::Or(items) => {
            let values: Vec<Tri> = items.iter().map(|n| eval(n, present)).collect();
            if values.contains(&Tri::True) {
                Tri::True
            } else if values.iter().all(|v| *v == Tri::False) {
                Tri::False
            } else {
                Tri::Unknown
            }
        }
        Node::Not(inner) => match eval(inner, present) {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        },
        Node::Test(test) => {
            let all_present = test.fields().iter().all(|f| present(f));
            if all_present {
                return Tri::Unknown;
            }
            // A missing field: only "has no value" tests hold.
            match test {
                Test::Empty { .. } => Tri::True,
                _ => Tri::False,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::glob::GlobPart;

    fn m(field: &str) -> Node {
        Node::Test(Test::Match {
            field: field.into(),
            parts: vec![GlobPart::Lit(b"x".to_vec())],
            cased: false,
        })
    }

    #[test]
    fn needed_missing_and_filtered_missing() {
        let present = |f: &str| f != "Description";
        let needs = Node::And(vec![m("Image"), m("Description")]);
        assert_eq!(
            reach(&needs, &present),
            Reach::Cannot(vec!["Description".into()])
        );
        let needs_one = Node::And(vec![m("Description"), Node::Not(Box::new(m("Company")))]);
        let present_2 = |f: &str| f != "Description" && f != "Company";
        assert_eq!(
            reach(&needs_one, &present_2),
            Reach::Cannot(vec!["Description".into()])
        );
        let filtered = Node::And(vec![m("Image"), Node::Not(Box::new(m("Description")))]);
        assert_eq!(
            reach(&filtered, &present),
            Reach::Degraded(vec!["Description".into()])
        );
        let either = Node::Or(vec![m("Image"), m("Description")]);
        assert!(matches!(reach(&either, &present), Reach::Degraded(_)));
        assert_eq!(reach(&m("Image"), &present), Reach::Full);
    }
}
