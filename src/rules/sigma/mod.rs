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
mod facts;
pub mod fields;
mod lower;
mod reach;
mod settings;
mod value;

use std::path::Path;

pub use document::{looks_like_sigma, parse_rule, Item, LogSource, Search, SigmaRule, SigmaValue};
pub use facts::{rule_facts, source_of, RuleFacts};
pub use fields::DataSource;
pub use reach::Reach;
pub use settings::{looks_like_settings, SigmaSettings};

use super::error::{RuleError, SigmaError};
use super::model::{Finding, IntermediateFinding, Origin, RiskObjectSpec, RuleMeta, Score};
use super::ruleset::{EntityOut, MsgPart, Rule};
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
pub fn level_score(level: Option<&str>) -> Option<Score> {
    let score = match level {
        Some("informational") => return None,
        Some("low") => 30,
        Some("high") => 70,
        Some("critical") => 90,
        _ => 50,
    };
    Score::new(score)
}

/// Whether a level asks for a finding (a notable): `high` "should trigger an internal alert",
/// `critical` should "be reviewed immediately" (specification, "Level"). Lower levels only
/// write risk, as ESCU's Anomaly rules do.
fn level_has_finding(level: Option<&str>) -> bool {
    matches!(level, Some("high" | "critical"))
}

/// The risk message and finding title: `<title> ($process_name$ on $dest$ by $user$)`.
fn message_text(title: &str) -> String {
    format!("{title} ($process_name$ on $dest$ by $user$)")
}

/// Annotation metadata: `detection` = title, `detection_id` = id, `detection_type` =
/// `sigma:<level>` (`sigma` without a level), `mitre_attack_id` from `attack.tNNNN[.NNN]`
/// tags, `analytic_story` from `<analytic_story_tag>.<story>` tags when configured. The risk
/// objects of the settings (dest and user by default), scored from the level, are
/// intermediate findings; a `high` or `critical` rule also has a finding, on its first `user`
/// object (else its first), the way ESCU's porter turns a TTP's risk objects into ESCU 6.
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
    let mut meta = RuleMeta {
        name: rule.title.clone(),
        id: rule
            .id
            .clone()
            .unwrap_or_else(|| format!("sigma:{}", path.display())),
        kind,
        analytic_story,
        mitre_attack_id,
        finding: None,
        intermediate_findings: Vec::new(),
        threat_objects: Vec::new(),
        origin: Origin::Sigma,
    };
    let Some(score) = level_score(level) else {
        return meta;
    };
    let message = message_text(&rule.title);
    let mut objects: Vec<RiskObjectSpec> = settings
        .risk_objects
        .iter()
        .map(|(field, kind)| RiskObjectSpec {
            field: field.clone(),
            kind: kind.clone(),
            score,
        })
        .collect();
    if level_has_finding(level) && !objects.is_empty() {
        let at = objects.iter().position(|o| o.kind == "user").unwrap_or(0);
        meta.finding = Some(Finding {
            title: message.clone(),
            entity: objects.remove(at),
        });
    }
    meta.intermediate_findings = objects
        .into_iter()
        .map(|entity| IntermediateFinding {
            entity,
            message: message.clone(),
        })
        .collect();
    meta
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
    let finding_title = meta
        .finding
        .as_ref()
        .map(|_| message_parts(&rule.title, &mut slots));
    let entities = meta
        .risk_entities()
        .iter()
        .map(|e| EntityOut {
            kind: e.object.kind.clone(),
            score: e.object.score,
            src: Some(super::expr::Src::Slot(slots.slot(&e.object.field))),
            message: message_parts(&rule.title, &mut slots),
            is_finding: e.is_finding,
        })
        .collect();
    let compiled = Rule {
        meta,
        path: path.to_path_buf(),
        expanded_search: rule.conditions.join(" | "),
        cond,
        entities,
        finding_title,
        threat_srcs: Vec::new(),
        sigma: Some(Box::new(SigmaInfo {
            logsource: rule.logsource.clone(),
            level: rule.level.clone(),
            condition,
        })),
    };
    Ok((compiled, slots.names))
}

/// The message of [`message_text`] as parts, built directly (a `$` in a title is text).
fn message_parts(title: &str, slots: &mut compile::Slots) -> Vec<MsgPart> {
    let mut field = |name: &str| MsgPart::Field(Some(super::expr::Src::Slot(slots.slot(name))));
    vec![
        MsgPart::Text(format!("{title} (")),
        field("process_name"),
        MsgPart::Text(" on ".into()),
        field("dest"),
        MsgPart::Text(" by ".into()),
        field("user"),
        MsgPart::Text(")".into()),
    ]
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
