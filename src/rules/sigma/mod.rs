//! Sigma rules (SigmaHQ, specification 2.x): a second front door into `rules/`. A rule's
//! detection is parsed, its modifiers applied, its condition resolved, and the result compiled
//! to the same [`Cond`](super::expr::Cond) the ESCU compiler produces, so Sigma and ESCU rules
//! share one matcher, one literal prefilter and one annotation, in one pass per row.
//!
//! ```text
//! YAML ─► document ─► lower (modifiers, values) ─┐
//!          condition (1 of / all of / them) ──────┴► Node tree ─► compile ─► Cond
//!                                                    └► reach (which data sources can match)
//! ```
//!
//! Rules of `logsource.category: process_creation` compile; other logsources are reported
//! as out of scope. Fields map to CIM Endpoint.Processes names ([`fields`]); a rule's
//! annotation follows [`rule_meta`].

mod compile;
mod condition;
mod document;
pub mod fields;
mod lower;
mod reach;
mod settings;
mod value;

use std::path::Path;

pub use document::{looks_like_sigma, parse_rule, Item, LogSource, Search, SigmaRule, SigmaValue};
pub use fields::DataSource;
pub use reach::Reach;
pub use settings::{looks_like_settings, SigmaSettings};

use super::error::{RuleError, SigmaError};
use super::model::{RiskObjectSpec, RuleMeta};
use super::ruleset::{MsgPart, Rule};
use lower::Node;

/// A refusal: the construct and why (kept as the public [`SigmaError`]).
pub(crate) type Refusal = SigmaError;

/// What a compiled rule keeps of its Sigma form: for reports, and for telling which data
/// sources (or which bound columns) it can match.
#[derive(Debug, Clone, PartialEq)]
pub struct SigmaInfo {
    pub logsource: LogSource,
    pub level: Option<String>,
    /// The whole condition with every search identifier substituted.
    condition: Node,
}

impl SigmaInfo {
    /// Whether the rule can match on a data source, and which fields it lacks there.
    pub fn reach(&self, source: DataSource) -> Reach {
        reach::reach(&self.condition, &|field| {
            fields::sources_with(field).contains(&source)
        })
    }

    /// Whether the rule can match rows that carry exactly the row fields `present` accepts
    /// (names as [`fields::slot_name`] gives them).
    pub fn can_match_with(&self, present: &dyn Fn(&str) -> bool) -> bool {
        !matches!(
            reach::reach(&self.condition, &|field| present(fields::slot_name(field))),
            Reach::Cannot(_)
        )
    }

    /// The Sigma fields the rule reads, sorted.
    pub fn fields(&self) -> Vec<String> {
        reach::fields(&self.condition)
    }
}

/// Sigma rules that cannot match some rows, and the fields they need that the rows lack.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unmatchable {
    /// Indices (into [`RuleSet::rules`](super::RuleSet::rules)) of the rules.
    pub rules: Vec<usize>,
    /// Missing Sigma field → how many of those rules need it, most needed first.
    pub fields: Vec<(String, usize)>,
}

impl std::fmt::Display for Unmatchable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let fields: Vec<String> = self
            .fields
            .iter()
            .map(|(name, n)| format!("{name} ({n})"))
            .collect();
        write!(
            f,
            "{} Sigma rule(s) cannot match: they need {}",
            self.rules.len(),
            fields.join(", ")
        )
    }
}

impl super::RuleSet {
    /// The Sigma rules among `indices` that cannot match rows carrying only the Sigma fields
    /// `present` accepts (see [`SigmaInfo::reach`]).
    pub fn sigma_unmatchable(
        &self,
        indices: &[usize],
        present: &dyn Fn(&str) -> bool,
    ) -> Unmatchable {
        let mut out = Unmatchable::default();
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for &i in indices {
            let Some(info) = self.rules.get(i).and_then(|r| r.sigma.as_deref()) else {
                continue;
            };
            if let Reach::Cannot(missing) = reach::reach(&info.condition, present) {
                out.rules.push(i);
                missing
                    .into_iter()
                    .for_each(|m| *counts.entry(m).or_default() += 1);
            }
        }
        out.fields = counts.into_iter().collect();
        out.fields
            .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        out
    }
}

/// The ES risk score of a Sigma `level`, or `None` for no risk. The scores are the middles
/// of the bands contentctl derives notable severity from (0–20 informational, 21–40 low,
/// 41–60 medium, 61–80 high, 81–100 critical), so a Sigma level and the severity ES shows
/// agree. `informational` carries no risk: the specification says such rules are for
/// enrichment and "no case or alerting should be triggered". A rule without `level` scores
/// as medium.
pub fn level_score(level: Option<&str>) -> Option<u32> {
    match level {
        Some("informational") => None,
        Some("low") => Some(30),
        Some("high") => Some(70),
        Some("critical") => Some(90),
        _ => Some(50),
    }
}

/// Annotation metadata: `detection` = title, `detection_id` = id, `detection_type` =
/// `sigma:<level>` (`sigma` without a level), `mitre_attack_id` from `attack.tNNNN[.NNN]`
/// tags, `analytic_story` from `<analytic_story_tag>.<story>` tags when configured, risk
/// objects from the settings with the level's score.
pub fn rule_meta(path: &Path, rule: &SigmaRule, settings: &SigmaSettings) -> RuleMeta {
    let level = rule.level.as_deref();
    let kind = level.map_or("sigma".to_string(), |l| format!("sigma:{l}"));
    let mitre_attack_id = rule
        .tags
        .iter()
        .filter_map(|t| t.strip_prefix("attack."))
        .filter(|t| {
            let mut chars = t.chars();
            matches!(chars.next(), Some('t' | 'T'))
                && chars.next().is_some_and(|c| c.is_ascii_digit())
        })
        .map(|t| t.to_ascii_uppercase())
        .collect();
    let analytic_story = settings
        .analytic_story_tag
        .as_ref()
        .map(|prefix| {
            rule.tags
                .iter()
                .filter_map(|t| t.strip_prefix(prefix.as_str())?.strip_prefix('.'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let risk_objects = match level_score(level) {
        Some(score) => settings
            .risk_objects
            .iter()
            .map(|(field, kind)| RiskObjectSpec {
                field: field.clone(),
                kind: kind.clone(),
                score,
            })
            .collect(),
        None => Vec::new(),
    };
    let risk_message = if risk_objects.is_empty() {
        String::new()
    } else {
        format!("{} ($process_name$ on $dest$ by $user$)", rule.title)
    };
    RuleMeta {
        name: rule.title.clone(),
        id: rule
            .id
            .clone()
            .unwrap_or_else(|| format!("sigma:{}", path.display())),
        kind,
        analytic_story,
        mitre_attack_id,
        risk_message,
        risk_objects,
        threat_objects: Vec::new(),
        legacy: false,
    }
}

/// The logsource text out-of-scope rules are grouped under.
pub fn logsource_key(rule: &SigmaRule) -> String {
    rule.logsource.to_string()
}

/// Compiles one Sigma rule. Returns the rule with *local* slots and its field list.
/// A rule outside `process_creation` is [`RuleError::OutOfScope`].
pub(crate) fn compile_rule(
    path: &Path,
    rule: &SigmaRule,
    settings: &SigmaSettings,
) -> Result<(Rule, Vec<String>), RuleError> {
    if !fields::in_scope(rule) {
        return Err(RuleError::OutOfScope {
            logsource: logsource_key(rule),
            count: 1,
            example: path.to_path_buf(),
        });
    }
    let refused = |source: SigmaError| RuleError::Sigma {
        path: path.to_path_buf(),
        rule: rule.title.clone(),
        source,
    };
    let condition = condition_tree(rule, settings).map_err(refused)?;
    let mut slots = compile::Slots::default();
    let cond = compile::compile(&condition, &mut slots).map_err(refused)?;
    let meta = rule_meta(path, rule, settings);
    let mut field = |name: &str| Some(super::expr::Src::Slot(slots.slot(name)));
    let message = if meta.risk_message.is_empty() {
        Vec::new()
    } else {
        vec![
            MsgPart::Text(format!("{} (", rule.title)),
            MsgPart::Field(field("process_name")),
            MsgPart::Text(" on ".into()),
            MsgPart::Field(field("dest")),
            MsgPart::Text(" by ".into()),
            MsgPart::Field(field("user")),
            MsgPart::Text(")".into()),
        ]
    };
    let risk_srcs = meta.risk_objects.iter().map(|r| field(&r.field)).collect();
    let compiled = Rule {
        meta,
        path: path.to_path_buf(),
        expanded_search: rule.conditions.join(" | "),
        cond,
        message,
        risk_srcs,
        threat_srcs: Vec::new(),
        sigma: Some(Box::new(SigmaInfo {
            logsource: rule.logsource.clone(),
            level: rule.level.clone(),
            condition,
        })),
    };
    Ok((compiled, slots.names))
}

/// The rule's conditions (OR-ed) with each search identifier replaced by its lowered tree.
fn condition_tree(rule: &SigmaRule, settings: &SigmaSettings) -> Result<Node, SigmaError> {
    let names: Vec<String> = rule.searches.iter().map(|(n, _)| n.clone()).collect();
    let searches = rule
        .searches
        .iter()
        .map(|(name, search)| {
            lower::lower_search(search, &settings.placeholders).map_err(|e| SigmaError {
                construct: e.construct,
                detail: format!("{} (search identifier `{name}`)", e.detail),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut trees = Vec::new();
    for text in &rule.conditions {
        let expr = condition::parse(text, &names)
            .map_err(|e| SigmaError::new(format!("condition `{text}`"), e))?;
        trees.push(substitute(&expr, &searches));
    }
    Ok(if trees.len() == 1 {
        trees.remove(0)
    } else {
        Node::Or(trees)
    })
}

fn substitute(expr: &condition::Expr, searches: &[Node]) -> Node {
    use condition::Expr;
    match expr {
        Expr::And(items) => Node::And(items.iter().map(|e| substitute(e, searches)).collect()),
        Expr::Or(items) => Node::Or(items.iter().map(|e| substitute(e, searches)).collect()),
        Expr::Not(inner) => Node::Not(Box::new(substitute(inner, searches))),
        Expr::Search(i) => searches[*i].clone(),
    }
}
