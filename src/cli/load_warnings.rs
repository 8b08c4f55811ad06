//! Rule-load warnings as the search command reports them (with getinfo, or with the first
//! execute reply when the load runs past getinfo): each is shown in the Job Inspector, so a
//! mistake repeated over many rule files (the same rule id in 1,000 files) must not bury the
//! search under 1,000 messages. Warnings are grouped by kind; the first few of each kind are
//! shown whole, then one line counts the rest.
//! (`netdiscover scan` prints every warning to stderr.)

use crate::rules::{MacroError, RuleError, Warning};

/// Warnings of one kind shown whole.
pub const SHOWN_PER_KIND: usize = 3;
/// Kinds shown; warnings of further kinds are counted in one last line.
pub const KINDS_SHOWN: usize = 10;

/// The texts to show for `warnings`, in the order they were found.
pub fn summarise(warnings: &[Warning]) -> Vec<String> {
    let mut kinds: Vec<(String, Vec<&Warning>)> = Vec::new();
    for warning in warnings {
        let kind = kind_of(&warning.error);
        match kinds.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, group)) => group.push(warning),
            None => kinds.push((kind, vec![warning])),
        }
    }
    let mut texts = Vec::new();
    for (kind, group) in kinds.iter().take(KINDS_SHOWN) {
        texts.extend(group.iter().take(SHOWN_PER_KIND).map(|w| w.to_string()));
        if group.len() > SHOWN_PER_KIND {
            texts.push(format!(
                "and {} more like this ({kind})",
                group.len() - SHOWN_PER_KIND
            ));
        }
    }
    let rest: Vec<&(String, Vec<&Warning>)> = kinds.iter().skip(KINDS_SHOWN).collect();
    if !rest.is_empty() {
        let count: usize = rest.iter().map(|(_, group)| group.len()).sum();
        texts.push(format!(
            "and {count} more rule-load warnings of {} other kinds",
            rest.len()
        ));
    }
    texts
}

/// What makes two warnings "alike": the cause, without the file and rule it names.
fn kind_of(error: &RuleError) -> String {
    match error {
        RuleError::Io { .. } => "cannot read".into(),
        RuleError::Yaml { .. } => "invalid YAML".into(),
        RuleError::Invalid { message, .. } => without_paths(message),
        RuleError::Macro { source, .. } => match source {
            MacroError::Unknown { .. } => "unknown macro".into(),
            MacroError::Cycle { .. } => "macro cycle".into(),
            MacroError::Unterminated { .. } => "unterminated macro call".into(),
            MacroError::TooDeep { .. } | MacroError::TooManyCalls { .. } => {
                "macro expansion too deep".into()
            }
            MacroError::TooLong { .. } => "macro expansion too long".into(),
        },
        RuleError::Spl { source, .. } if source.is_not_row_level() => {
            format!("not row-level: `{}`", source.construct())
        }
        RuleError::Spl { source, .. } => format!("unsupported `{}`", source.construct()),
        RuleError::Ignored { key, why, .. } => format!("`{key}`: {}", without_paths(why)),
        RuleError::Sigma { source, .. } => format!("Sigma: unsupported {}", source.construct),
        RuleError::OutOfScope { .. } => "Sigma rules out of scope".into(),
        RuleError::Conf { .. } => "macros.conf".into(),
    }
}

/// `message` with every path in it replaced by `<path>`.
fn without_paths(message: &str) -> String {
    message
        .split_whitespace()
        .map(|word| {
            if word.contains('/') || word.contains('\\') {
                "<path>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn replaced(n: usize) -> Warning {
        Warning {
            error: RuleError::Invalid {
                path: PathBuf::from(format!("/rules/copy{n}.yml")),
                rule: "Windows Proxy Via Netsh".into(),
                message: format!(
                    "replaced by the rule with the same id in /rules/copy{}.yml",
                    n + 1
                ),
            },
        }
    }

    #[test]
    fn a_repeated_warning_is_shown_three_times_then_counted() {
        let mut warnings: Vec<Warning> = (0..999).map(replaced).collect();
        warnings.insert(
            500,
            Warning {
                error: RuleError::Yaml {
                    path: PathBuf::from("/rules/broken.yml"),
                    message: "mapping values are not allowed".into(),
                },
            },
        );
        let texts = summarise(&warnings);
        assert_eq!(texts.len(), 5, "{texts:#?}");
        assert!(texts[0].contains("copy0.yml") && texts[2].contains("copy2.yml"));
        assert_eq!(
            texts[3],
            "and 996 more like this (replaced by the rule with the same id in <path>)"
        );
        assert!(texts[4].contains("broken.yml: invalid YAML"));
    }

    #[test]
    fn many_kinds_end_in_one_count() {
        let warnings: Vec<Warning> = (0..25)
            .map(|n| Warning {
                error: RuleError::Invalid {
                    path: PathBuf::from("/r.yml"),
                    rule: format!("r{n}"),
                    message: format!("missing field number{n}"),
                },
            })
            .collect();
        let texts = summarise(&warnings);
        assert_eq!(texts.len(), KINDS_SHOWN + 1);
        assert_eq!(
            texts.last().map(String::as_str),
            Some("and 15 more rule-load warnings of 15 other kinds")
        );
    }
}
