//! Rule selection for `rule=`, `type=`, `story=`: values of one key unite, different keys
//! intersect, no selection means every rule. Matching is case-insensitive with `*` wildcards;
//! `rule=` matches a rule's name or id.

use super::error::SelectionError;
use super::glob::Glob;
use super::ruleset::RuleSet;

/// What the user asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selection {
    /// Rule names or ids.
    pub rules: Vec<String>,
    /// Detection types (`Hunting`, `Anomaly`, `TTP`, ...).
    pub types: Vec<String>,
    /// Analytic stories.
    pub stories: Vec<String>,
}

/// The selected rule indices, in rule order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selected {
    indices: Vec<usize>,
}

impl Selected {
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }
    /// Every rule of a set.
    pub fn all(rules: &RuleSet) -> Selected {
        Selected {
            indices: (0..rules.len()).collect(),
        }
    }
}

fn any_matches(globs: &[Glob], candidates: &[&str]) -> bool {
    globs.iter().any(|g| {
        candidates
            .iter()
            .any(|c| g.matches_folded(c.to_ascii_lowercase().as_bytes()))
    })
}

impl RuleSet {
    /// Applies a selection. A value that matches no loaded rule at all is an error naming it
    /// (a typo in `rule=` should not silently select nothing).
    pub fn select(&self, sel: &Selection) -> Result<Selected, SelectionError> {
        let keys: [(&'static str, &Vec<String>); 3] = [
            ("rule", &sel.rules),
            ("type", &sel.types),
            ("story", &sel.stories),
        ];
        let candidates = |i: usize, key: &str| -> Vec<&str> {
            let m = &self.rules[i].meta;
            match key {
                "rule" => vec![m.name.as_str(), m.id.as_str()],
                "type" => vec![m.kind.as_str()],
                _ => m.analytic_story.iter().map(String::as_str).collect(),
            }
        };
        for (key, values) in keys {
            for v in values {
                let g = [Glob::new(v)];
                if !(0..self.rules.len()).any(|i| any_matches(&g, &candidates(i, key))) {
                    return Err(SelectionError::NoMatch {
                        key,
                        value: v.clone(),
                    });
                }
            }
        }
        let globs: Vec<(&str, Vec<Glob>)> = keys
            .iter()
            .map(|(k, vs)| (*k, vs.iter().map(|v| Glob::new(v)).collect()))
            .collect();
        let indices = (0..self.rules.len())
            .filter(|&i| {
                globs
                    .iter()
                    .all(|(key, gs)| gs.is_empty() || any_matches(gs, &candidates(i, key)))
            })
            .collect();
        Ok(Selected { indices })
    }
}
