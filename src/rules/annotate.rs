//! Annotation of matching rows with detection and Enterprise Security risk fields.
//!
//! * `detection`, `detection_id`, `detection_type`: one entry per matched rule (aligned).
//! * `mitre_attack_id`, `analytic_story`: union over matched rules, first-seen order.
//! * `risk_object`, `risk_object_type`, `risk_score`: aligned, one entry per risk object
//!   *value* (a multivalue risk field gives one risk object per value, as ES writes one risk
//!   event per value); absent values give no risk object. Hunting rules carry no risk.
//! * `risk_message`: one per matched rule with risk, `$field$` tokens filled from the row; a
//!   multivalue field fills its token with its values joined by `\n`, which is how the field
//!   reads in the search results an alert action receives (the plain column of Splunk's
//!   results CSV joins multivalues with newlines; see docs/scp-v2.md §8); an absent field
//!   fills it with nothing.
//! * `threat_object`, `threat_object_type`: aligned, one entry per value.

use std::borrow::Cow;

use super::expr::{eval, Src};
use super::row::Row;
use super::ruleset::{MsgPart, Rule, RuleSet};

/// Fields added to a matching row; every one may be multivalue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Annotation {
    pub detection: Vec<String>,
    pub detection_id: Vec<String>,
    pub detection_type: Vec<String>,
    pub mitre_attack_id: Vec<String>,
    pub analytic_story: Vec<String>,
    pub risk_score: Vec<String>,
    pub risk_object: Vec<String>,
    pub risk_object_type: Vec<String>,
    pub risk_message: Vec<String>,
    pub threat_object: Vec<String>,
    pub threat_object_type: Vec<String>,
}

impl Annotation {
    /// The field names, in output order.
    pub const FIELDS: [&'static str; 11] = [
        "detection",
        "detection_id",
        "detection_type",
        "mitre_attack_id",
        "analytic_story",
        "risk_score",
        "risk_object",
        "risk_object_type",
        "risk_message",
        "threat_object",
        "threat_object_type",
    ];

    /// `(name, values)` pairs in [`Annotation::FIELDS`] order.
    pub fn fields(&self) -> [(&'static str, &[String]); 11] {
        [
            ("detection", &self.detection),
            ("detection_id", &self.detection_id),
            ("detection_type", &self.detection_type),
            ("mitre_attack_id", &self.mitre_attack_id),
            ("analytic_story", &self.analytic_story),
            ("risk_score", &self.risk_score),
            ("risk_object", &self.risk_object),
            ("risk_object_type", &self.risk_object_type),
            ("risk_message", &self.risk_message),
            ("threat_object", &self.threat_object),
            ("threat_object_type", &self.threat_object_type),
        ]
    }

    fn add_rule_identity(&mut self, rule: &Rule) {
        let m = &rule.meta;
        self.detection.push(m.name.clone());
        self.detection_id.push(m.id.clone());
        self.detection_type.push(m.kind.clone());
        for t in &m.mitre_attack_id {
            push_unique(&mut self.mitre_attack_id, t);
        }
        for s in &m.analytic_story {
            push_unique(&mut self.analytic_story, s);
        }
    }
}

fn push_unique(list: &mut Vec<String>, v: &str) {
    if !list.iter().any(|x| x == v) {
        list.push(v.to_string());
    }
}

/// Values of an output field for a row (empty values dropped).
fn src_values<'r>(src: &Option<Src>, row: &'r dyn Row) -> Vec<Cow<'r, [u8]>> {
    match src {
        None => Vec::new(),
        Some(Src::Slot(slot)) => (0..row.value_count(*slot))
            .map(|i| Cow::Borrowed(row.value(*slot, i)))
            .filter(|v| !v.is_empty())
            .collect(),
        Some(Src::Expr(ex)) => {
            let v = eval(ex, row);
            match v {
                super::expr::Val::Null => Vec::new(),
                super::expr::Val::Str(s) => vec![s],
                super::expr::Val::Multi(vs) => vs,
                super::expr::Val::Num(n) => vec![Cow::Owned(super::expr::fmt_num(n).into_bytes())],
                super::expr::Val::Bool(b) => vec![Cow::Owned(b.to_string().into_bytes())],
            }
        }
    }
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// The rule's risk message with `$field$` tokens filled from the row.
pub fn render_message(rule: &Rule, row: &dyn Row) -> String {
    let mut out = String::new();
    for part in &rule.message {
        match part {
            MsgPart::Text(t) => out.push_str(t),
            MsgPart::Field(src) => {
                let vals = src_values(src, row);
                let joined: Vec<String> = vals.iter().map(|v| text(v)).collect();
                out.push_str(&joined.join("\n"));
            }
        }
    }
    out
}

fn carries_risk(rule: &Rule) -> bool {
    !rule.meta.kind.eq_ignore_ascii_case("Hunting") && !rule.meta.risk_objects.is_empty()
}

fn add_threats(a: &mut Annotation, rule: &Rule, row: &dyn Row) {
    for (spec, src) in rule.meta.threat_objects.iter().zip(&rule.threat_srcs) {
        for v in src_values(src, row) {
            a.threat_object.push(text(&v));
            a.threat_object_type.push(spec.kind.clone());
        }
    }
}

impl RuleSet {
    /// The annotation for a row matched by the rules at `matched` (annotate / filter modes).
    pub fn annotate(&self, matched: &[usize], row: &dyn Row) -> Annotation {
        let mut a = Annotation::default();
        for &i in matched {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            a.add_rule_identity(rule);
            if !carries_risk(rule) {
                continue;
            }
            for (spec, src) in rule.meta.risk_objects.iter().zip(&rule.risk_srcs) {
                for v in src_values(src, row) {
                    a.risk_object.push(text(&v));
                    a.risk_object_type.push(spec.kind.clone());
                    a.risk_score.push(spec.score.to_string());
                }
            }
            a.risk_message.push(render_message(rule, row));
            add_threats(&mut a, rule, row);
        }
        a
    }

    /// Risk mode: one annotation per (matched rule × risk object value), as ES writes risk
    /// events. A rule without risk objects (Hunting) gives one annotation with empty risk fields.
    pub fn risk_events(&self, matched: &[usize], row: &dyn Row) -> Vec<Annotation> {
        let mut out = Vec::new();
        for &i in matched {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            let mut base = Annotation::default();
            base.add_rule_identity(rule);
            if !carries_risk(rule) {
                out.push(base);
                continue;
            }
            base.risk_message.push(render_message(rule, row));
            add_threats(&mut base, rule, row);
            let mut any = false;
            for (spec, src) in rule.meta.risk_objects.iter().zip(&rule.risk_srcs) {
                for v in src_values(src, row) {
                    let mut ev = base.clone();
                    ev.risk_object.push(text(&v));
                    ev.risk_object_type.push(spec.kind.clone());
                    ev.risk_score.push(spec.score.to_string());
                    out.push(ev);
                    any = true;
                }
            }
            if !any {
                out.push(base);
            }
        }
        out
    }
}
