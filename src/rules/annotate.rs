//! Annotation of matching rows with detection and Enterprise Security risk fields.
//!
//! * `detection`, `detection_id`, `detection_type`: one entry per matched rule (aligned).
//! * `mitre_attack_id`, `analytic_story`: union over matched rules, first-seen order.
//! * `risk_object`, `risk_object_type`, `risk_score`, `risk_message`: aligned, one entry per
//!   scored entity *value* (the finding's entity and every intermediate finding, in
//!   [`RuleMeta::risk_entities`](super::RuleMeta::risk_entities) order; a multivalue field
//!   gives one entry per value, as ES writes one risk event per value); absent values give no
//!   entry. Hunting rules carry no risk. The message is the entity's own (ESCU 6), the one
//!   `rba.message` (v5) or the finding's title (the finding's entity), with `$field$` tokens
//!   filled from the row; a multivalue field fills its token with its values joined by `\n`,
//!   which is how the field reads in the search results an alert action receives (the plain
//!   column of Splunk's results CSV joins multivalues with newlines; see docs/scp-v2.md §8);
//!   an absent field fills it with nothing.
//! * `threat_object`, `threat_object_type`: aligned, one entry per value.
//! * `finding_title`: one per matched rule with a finding (a notable in ES), tokens filled.

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
    pub finding_title: Vec<String>,
}

impl Annotation {
    /// The field names, in output order.
    pub const FIELDS: [&'static str; 12] = [
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
        "finding_title",
    ];

    /// How many of the first [`Annotation::FIELDS`] (detection, its id and type, ATT&CK ids,
    /// analytic stories) depend only on which rules matched.
    pub const IDENTITY_FIELDS: usize = 5;

    /// `(name, values)` pairs in [`Annotation::FIELDS`] order.
    pub fn fields(&self) -> [(&'static str, &[String]); 12] {
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
            ("finding_title", &self.finding_title),
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

/// Calls `each` with every non-empty value of an output field for a row.
fn for_each_src_value(src: &Option<Src>, row: &dyn Row, mut each: impl FnMut(&[u8])) {
    match src {
        None => {}
        Some(Src::Slot(slot)) => {
            for i in 0..row.value_count(*slot) {
                let v = row.value(*slot, i);
                if !v.is_empty() {
                    each(v);
                }
            }
        }
        Some(Src::Expr(_)) => {
            for v in src_values(src, row) {
                each(&v);
            }
        }
    }
}

/// Values of an output field for a row (empty values dropped).
fn src_values<'r>(src: &'r Option<Src>, row: &'r dyn Row) -> Vec<Cow<'r, [u8]>> {
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

/// `n` in decimal, written into `digits` (no allocation).
fn decimal(mut n: u32, digits: &mut [u8; 10]) -> &[u8] {
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[start..];
        }
    }
}

fn text(v: &[u8]) -> String {
    String::from_utf8_lossy(v).into_owned()
}

/// Appends `v` to `out` as text: unchanged when it is UTF-8, else with U+FFFD for each
/// invalid sequence (what [`String::from_utf8_lossy`] gives).
fn push_text(out: &mut Vec<u8>, v: &[u8]) {
    match std::str::from_utf8(v) {
        Ok(_) => out.extend_from_slice(v),
        Err(_) => out.extend_from_slice(String::from_utf8_lossy(v).as_bytes()),
    }
}

/// A message or title with its `$field$` tokens filled from the row.
fn render(parts: &[MsgPart], row: &dyn Row) -> String {
    let mut out = Vec::new();
    render_into(parts, row, &mut out);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The risk message of each of the rule's scored entities, in
/// [`RuleMeta::risk_entities`](super::RuleMeta::risk_entities) order, tokens filled from the row.
pub fn render_messages(rule: &Rule, row: &dyn Row) -> Vec<String> {
    rule.entities
        .iter()
        .map(|e| render(&e.message, row))
        .collect()
}

/// The rule's finding title with its tokens filled from the row (`None` without a finding).
pub fn render_finding_title(rule: &Rule, row: &dyn Row) -> Option<String> {
    rule.finding_title
        .as_deref()
        .map(|parts| render(parts, row))
}

/// [`render`] appended to `out`.
fn render_into(parts: &[MsgPart], row: &dyn Row, out: &mut Vec<u8>) {
    for part in parts {
        match part {
            MsgPart::Text(t) => out.extend_from_slice(t.as_bytes()),
            MsgPart::Field(src) => {
                let mut first = true;
                for_each_src_value(src, row, |v| {
                    if !first {
                        out.push(b'\n');
                    }
                    first = false;
                    push_text(out, v);
                });
            }
        }
    }
}

fn add_threats(a: &mut Annotation, rule: &Rule, row: &dyn Row) {
    for (spec, src) in rule.meta.threat_objects.iter().zip(&rule.threat_srcs) {
        for v in src_values(src, row) {
            a.threat_object.push(text(&v));
            a.threat_object_type.push(spec.kind.clone());
        }
    }
}

/// Index of each annotation field in [`Annotation::FIELDS`].
mod field {
    pub const DETECTION: usize = 0;
    pub const DETECTION_ID: usize = 1;
    pub const DETECTION_TYPE: usize = 2;
    pub const MITRE_ATTACK_ID: usize = 3;
    pub const ANALYTIC_STORY: usize = 4;
    pub const RISK_SCORE: usize = 5;
    pub const RISK_OBJECT: usize = 6;
    pub const RISK_OBJECT_TYPE: usize = 7;
    pub const RISK_MESSAGE: usize = 8;
    pub const THREAT_OBJECT: usize = 9;
    pub const THREAT_OBJECT_TYPE: usize = 10;
    pub const FINDING_TITLE: usize = 11;
}

impl RuleSet {
    /// The annotation for a row matched by the rules at `matched` (annotate / filter modes).
    pub fn annotate(&self, matched: &[usize], row: &dyn Row) -> Annotation {
        let mut a = Annotation::default();
        let mut scratch = Vec::new();
        self.annotate_into(matched, row, &mut scratch, &mut |column, value| {
            let value = String::from_utf8_lossy(value).into_owned();
            let list = match column {
                field::DETECTION => &mut a.detection,
                field::DETECTION_ID => &mut a.detection_id,
                field::DETECTION_TYPE => &mut a.detection_type,
                field::MITRE_ATTACK_ID => &mut a.mitre_attack_id,
                field::ANALYTIC_STORY => &mut a.analytic_story,
                field::RISK_SCORE => &mut a.risk_score,
                field::RISK_OBJECT => &mut a.risk_object,
                field::RISK_OBJECT_TYPE => &mut a.risk_object_type,
                field::RISK_MESSAGE => &mut a.risk_message,
                field::THREAT_OBJECT => &mut a.threat_object,
                field::THREAT_OBJECT_TYPE => &mut a.threat_object_type,
                _ => &mut a.finding_title,
            };
            list.push(value);
        });
        a
    }

    /// [`annotate`](Self::annotate) without building an [`Annotation`]: calls `sink` with
    /// `(index into Annotation::FIELDS, value)` for every value, in each field's order, as
    /// UTF-8 text. `scratch` is reused for rendered values. This is the row path of
    /// `| netdiscover`: apart from expression-valued fields it allocates nothing once
    /// `scratch` has grown.
    pub fn annotate_into(
        &self,
        matched: &[usize],
        row: &dyn Row,
        scratch: &mut Vec<u8>,
        sink: &mut dyn FnMut(usize, &[u8]),
    ) {
        self.annotate_identity_into(matched, sink);
        self.annotate_findings_into(matched, row, scratch, sink);
    }

    /// The values of the first [`Annotation::IDENTITY_FIELDS`] fields, which depend only on
    /// which rules matched (not on the row): what [`annotate_into`](Self::annotate_into) gives
    /// for them, so a caller may render them once per set of matched rules.
    pub fn annotate_identity_into(&self, matched: &[usize], sink: &mut dyn FnMut(usize, &[u8])) {
        let rules = || matched.iter().filter_map(|&i| self.rules.get(i));
        for (n, rule) in rules().enumerate() {
            let m = &rule.meta;
            sink(field::DETECTION, m.name.as_bytes());
            sink(field::DETECTION_ID, m.id.as_bytes());
            sink(field::DETECTION_TYPE, m.kind.as_bytes());
            // Union over the matched rules, first-seen order: a value is new unless an earlier
            // matched rule, or this rule earlier in its list, already gave it.
            let earlier = || rules().take(n);
            for (k, t) in m.mitre_attack_id.iter().enumerate() {
                let seen = m.mitre_attack_id[..k].contains(t)
                    || earlier().any(|r| r.meta.mitre_attack_id.contains(t));
                if !seen {
                    sink(field::MITRE_ATTACK_ID, t.as_bytes());
                }
            }
            for (k, story) in m.analytic_story.iter().enumerate() {
                let seen = m.analytic_story[..k].contains(story)
                    || earlier().any(|r| r.meta.analytic_story.contains(story));
                if !seen {
                    sink(field::ANALYTIC_STORY, story.as_bytes());
                }
            }
        }
    }

    /// The values of the fields after the identity ones (risk, threat, finding title), which
    /// are filled from the row: the rest of [`annotate_into`](Self::annotate_into).
    pub fn annotate_findings_into(
        &self,
        matched: &[usize],
        row: &dyn Row,
        scratch: &mut Vec<u8>,
        sink: &mut dyn FnMut(usize, &[u8]),
    ) {
        for rule in matched.iter().filter_map(|&i| self.rules.get(i)) {
            let m = &rule.meta;
            for e in &rule.entities {
                let mut digits = [0u8; 10];
                let score = decimal(u32::from(e.score.get()), &mut digits);
                // `scratch` holds the entity's message, then each value after it.
                let mut message_len = None;
                for_each_src_value(&e.src, row, |v| {
                    let len = *message_len.get_or_insert_with(|| {
                        scratch.clear();
                        render_into(&e.message, row, scratch);
                        scratch.len()
                    });
                    scratch.truncate(len);
                    push_text(scratch, v);
                    sink(field::RISK_OBJECT, &scratch[len..]);
                    sink(field::RISK_OBJECT_TYPE, e.kind.as_bytes());
                    sink(field::RISK_SCORE, score);
                    sink(field::RISK_MESSAGE, &scratch[..len]);
                });
            }
            for (spec, src) in m.threat_objects.iter().zip(&rule.threat_srcs) {
                for_each_src_value(src, row, |v| {
                    scratch.clear();
                    push_text(scratch, v);
                    sink(field::THREAT_OBJECT, scratch);
                    sink(field::THREAT_OBJECT_TYPE, spec.kind.as_bytes());
                });
            }
            if let Some(title) = &rule.finding_title {
                scratch.clear();
                render_into(title, row, scratch);
                sink(field::FINDING_TITLE, scratch);
            }
        }
    }

    /// Risk mode: one annotation per (matched rule × scored entity value), as ES writes risk
    /// events; the rows of a finding's entity carry `finding_title`. A rule with a finding
    /// whose entity has no value in the row still gives its finding row (with empty risk
    /// fields); a rule with nothing to score (Hunting) gives one row with empty risk fields.
    pub fn risk_events(&self, matched: &[usize], row: &dyn Row) -> Vec<Annotation> {
        let mut out = Vec::new();
        for &i in matched {
            let Some(rule) = self.rules.get(i) else {
                continue;
            };
            let mut base = Annotation::default();
            base.add_rule_identity(rule);
            add_threats(&mut base, rule, row);
            let title = render_finding_title(rule, row);
            let mut finding_written = false;
            let mut any = false;
            for e in &rule.entities {
                let values = src_values(&e.src, row);
                if values.is_empty() {
                    continue;
                }
                let message = render(&e.message, row);
                for v in values {
                    let mut ev = base.clone();
                    ev.risk_object.push(text(&v));
                    ev.risk_object_type.push(e.kind.clone());
                    ev.risk_score.push(e.score.to_string());
                    ev.risk_message.push(message.clone());
                    if e.is_finding {
                        ev.finding_title.extend(title.clone());
                        finding_written = true;
                    }
                    out.push(ev);
                    any = true;
                }
            }
            if let (Some(title), false) = (title, finding_written) {
                let mut ev = base.clone();
                ev.finding_title.push(title);
                out.push(ev);
                any = true;
            }
            if !any {
                out.push(base);
            }
        }
        out
    }
}
