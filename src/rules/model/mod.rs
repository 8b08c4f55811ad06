//! The rule model: what a detection means for Enterprise Security, whatever file it came from.
//!
//! [`doc`] reads ESCU YAML as written (three schemas plus macros); [`escu`] turns a detection
//! document into one [`RuleMeta`]: identity, stories and MITRE ids, an optional **finding**
//! (the notable, ES 8's successor of the notable event: a title and one scored entity), the
//! **intermediate findings** (scored entities with their own messages, ES 8's successor of
//! standalone risk events) and threat objects. v4 and v5 rules are read the way ESCU's own
//! porter (contentctl-ng `port_yml_file.py`) turns them into ESCU 6, so an old rule and its
//! ESCU 6 rendering are the same rule. Another front door (e.g. Sigma) builds the same
//! [`RuleMeta`] with its own [`Origin`].

mod doc;
mod escu;
mod yaml;

use std::fmt;

pub use doc::{
    parse_doc, parse_doc_full, Prose, RawDoc, RawDrilldown, RawFinding, RawIntermediateFindings,
    RawObservable, RawRba, RawRiskObject, RawSchedule, RawTags, RawThreatObject, KNOWN_KEYS,
};
pub use escu::{rule_meta, Ignored};
pub use yaml::parse_block_yaml;

/// A risk score: an integer from 0 to 100 (contentctl-ng `RiskScoredEntity.score`; contentctl 5
/// allowed 1 to 100).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Score(u8);

impl Score {
    pub const MAX: u8 = 100;

    /// `None` outside 0..=100.
    pub fn new(value: u8) -> Option<Score> {
        (value <= Self::MAX).then_some(Score(value))
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

impl fmt::Display for Score {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A scored entity (ES 8) / risk object (ES 7): the output field holding the value, its type
/// (`system`, `user`, `other`), its score.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskObjectSpec {
    pub field: String,
    pub kind: String,
    pub score: Score,
}

/// An intermediate finding: a scored entity with its own risk message (`$field$` tokens).
#[derive(Debug, Clone, PartialEq)]
pub struct IntermediateFinding {
    pub entity: RiskObjectSpec,
    pub message: String,
}

/// A finding (notable): its title (`$field$` tokens) and the one entity it is about, which ES
/// scores through the notable action.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub title: String,
    pub entity: RiskObjectSpec,
}

/// A threat object declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreatObjectSpec {
    pub field: String,
    pub kind: String,
}

/// The ESCU schema a detection was written in (docs/escu6-and-es8.md §0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscuSchema {
    /// contentctl 4: `tags.impact` / `confidence` / `observable` / `message`.
    V4,
    /// contentctl 5: `rba:` with `message`, `risk_objects`, `threat_objects`.
    V5,
    /// ESCU 6 (contentctl-ng): top-level `finding`, `intermediate_findings`, `threat_objects`.
    V6,
}

/// Where a rule came from. A new rule format adds a variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Escu(EscuSchema),
    /// A Sigma rule (`rules::sigma`).
    Sigma,
}

/// One scored entity of a rule as the annotation lists it: the finding's entity (with the
/// finding's title as its message) or an intermediate finding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskEntity<'a> {
    pub object: &'a RiskObjectSpec,
    pub message: &'a str,
    pub is_finding: bool,
}

/// Everything about a detection except its compiled search.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMeta {
    pub name: String,
    pub id: String,
    /// `Hunting`, `Anomaly`, `TTP`, `Correlation`, ...
    pub kind: String,
    pub analytic_story: Vec<String>,
    pub mitre_attack_id: Vec<String>,
    pub finding: Option<Finding>,
    pub intermediate_findings: Vec<IntermediateFinding>,
    /// In field order, as ESCU 6 stores them.
    pub threat_objects: Vec<ThreatObjectSpec>,
    pub origin: Origin,
}

impl RuleMeta {
    /// The finding's entity and every intermediate finding, sorted by (field, type, score):
    /// the order contentctl-ng writes `action.risk.param._risk` in, and one that does not
    /// depend on the schema the rule was written in.
    pub fn risk_entities(&self) -> Vec<RiskEntity<'_>> {
        let finding = self.finding.iter().map(|f| RiskEntity {
            object: &f.entity,
            message: &f.title,
            is_finding: true,
        });
        let intermediate = self.intermediate_findings.iter().map(|i| RiskEntity {
            object: &i.entity,
            message: &i.message,
            is_finding: false,
        });
        let mut all: Vec<RiskEntity<'_>> = finding.chain(intermediate).collect();
        all.sort_by(|a, b| {
            (&a.object.field, &a.object.kind, a.object.score).cmp(&(
                &b.object.field,
                &b.object.kind,
                b.object.score,
            ))
        });
        all
    }

    /// Whether a matching row writes any risk (a finding or intermediate findings).
    pub fn carries_risk(&self) -> bool {
        self.finding.is_some() || !self.intermediate_findings.is_empty()
    }

    /// The ESCU schema the rule was read from, if it is an ESCU rule.
    pub fn escu_schema(&self) -> Option<EscuSchema> {
        match self.origin {
            Origin::Escu(schema) => Some(schema),
            Origin::Sigma => None,
        }
    }
}

/// What a YAML document is.
pub enum DocKind {
    Detection,
    Macro,
    Other,
}

pub fn classify(doc: &RawDoc) -> DocKind {
    if doc.search.is_some() {
        DocKind::Detection
    } else if doc.definition.is_some() {
        DocKind::Macro
    } else {
        DocKind::Other
    }
}
