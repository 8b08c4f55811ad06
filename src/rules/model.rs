//! ESCU YAML documents: detections (current `rba:` schema and legacy v4 `tags.*` schema)
//! and macros, normalised into one [`RuleMeta`] shape.

use serde::Deserialize;

/// One YAML document of ESCU content. Detections and macros share the file layout, so a
/// single permissive shape reads both; [`classify`] tells them apart.
#[derive(Debug, Deserialize, Default)]
pub struct RawDoc {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub search: Option<String>,
    #[serde(default)]
    pub definition: Option<String>,
    #[serde(default)]
    pub arguments: Option<Vec<String>>,
    #[serde(default)]
    pub tags: Option<RawTags>,
    #[serde(default)]
    pub rba: Option<RawRba>,
}

#[derive(Debug, Deserialize, Default)]
pub struct RawTags {
    #[serde(default)]
    pub analytic_story: Vec<String>,
    #[serde(default)]
    pub mitre_attack_id: Vec<String>,
    #[serde(default)]
    pub impact: Option<f64>,
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub observable: Vec<RawObservable>,
}

#[derive(Debug, Deserialize)]
pub struct RawObservable {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub role: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct RawRba {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub risk_objects: Vec<RawRiskObject>,
    #[serde(default)]
    pub threat_objects: Vec<RawThreatObject>,
}

#[derive(Debug, Deserialize)]
pub struct RawRiskObject {
    pub field: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub score: f64,
}

#[derive(Debug, Deserialize)]
pub struct RawThreatObject {
    pub field: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// A risk object declaration: the output field holding the value, its ES type, its score.
#[derive(Debug, Clone, PartialEq)]
pub struct RiskObjectSpec {
    pub field: String,
    pub kind: String,
    pub score: u32,
}

/// A threat object declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct ThreatObjectSpec {
    pub field: String,
    pub kind: String,
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
    /// ES risk message with `$field$` tokens; empty when the rule carries no risk.
    pub risk_message: String,
    pub risk_objects: Vec<RiskObjectSpec>,
    pub threat_objects: Vec<ThreatObjectSpec>,
    /// `true` if read from the legacy v4 schema.
    pub legacy: bool,
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

/// Types whose deployments write risk: Hunting (and others without an `rba:` block) carry none.
fn type_carries_risk(kind: &str) -> bool {
    kind.eq_ignore_ascii_case("TTP")
        || kind.eq_ignore_ascii_case("Anomaly")
        || kind.eq_ignore_ascii_case("Correlation")
}

/// Normalises a detection document. Errors are human-readable reasons.
pub fn rule_meta(doc: &RawDoc) -> Result<RuleMeta, String> {
    let name = doc.name.clone().ok_or("missing `name`")?;
    let id = doc.id.clone().ok_or("missing `id`")?;
    let kind = doc.kind.clone().ok_or("missing `type`")?;
    let tags = doc.tags.as_ref();
    let mut meta = RuleMeta {
        name,
        id,
        kind: kind.clone(),
        analytic_story: tags.map(|t| t.analytic_story.clone()).unwrap_or_default(),
        mitre_attack_id: tags.map(|t| t.mitre_attack_id.clone()).unwrap_or_default(),
        risk_message: String::new(),
        risk_objects: Vec::new(),
        threat_objects: Vec::new(),
        legacy: false,
    };
    let hunting = kind.eq_ignore_ascii_case("Hunting");
    if let Some(rba) = &doc.rba {
        if !hunting {
            meta.risk_message = rba.message.trim().to_string();
            for r in &rba.risk_objects {
                if !(1.0..=100.0).contains(&r.score) {
                    return Err(format!(
                        "rba risk object `{}` has score {} outside 1..100",
                        r.field, r.score
                    ));
                }
                meta.risk_objects.push(RiskObjectSpec {
                    field: r.field.clone(),
                    kind: r.kind.clone(),
                    score: r.score as u32,
                });
            }
            meta.threat_objects = rba
                .threat_objects
                .iter()
                .map(|t| ThreatObjectSpec {
                    field: t.field.clone(),
                    kind: t.kind.clone(),
                })
                .collect();
        }
    } else if let Some(t) =
        tags.filter(|t| t.impact.is_some() || t.confidence.is_some() || !t.observable.is_empty())
    {
        meta.legacy = true;
        if type_carries_risk(&kind) {
            legacy_risk(t, &mut meta)?;
        }
    }
    Ok(meta)
}

/// Legacy v4: score = round(impact × confidence / 100); Victim observables become risk
/// objects (user-like → `user`, host-like → `system`, else `other`); Attacker observables
/// become threat objects (contentctl 4.4.7 `detection_tags.py` / `detection_abstract.py`).
fn legacy_risk(t: &RawTags, meta: &mut RuleMeta) -> Result<(), String> {
    let (Some(impact), Some(confidence)) = (t.impact, t.confidence) else {
        return Err("legacy tags need both `impact` and `confidence`".into());
    };
    let score = (impact * confidence / 100.0).round().clamp(0.0, 100.0) as u32;
    meta.risk_message = t.message.clone().unwrap_or_default().trim().to_string();
    for o in &t.observable {
        let kind = o.kind.to_ascii_lowercase();
        let victim = o.role.iter().any(|r| r.eq_ignore_ascii_case("Victim"));
        let attacker = o.role.iter().any(|r| r.eq_ignore_ascii_case("Attacker"));
        if victim {
            let ty = match kind.as_str() {
                "user" | "username" | "user name" | "email address" => "user",
                "device" | "endpoint" | "hostname" | "ip address" => "system",
                _ => "other",
            };
            meta.risk_objects.push(RiskObjectSpec {
                field: o.name.clone(),
                kind: ty.into(),
                score,
            });
        } else if attacker {
            let ty = match kind.as_str() {
                "process" => "process",
                "process name" => "process_name",
                "file" | "file name" => "file_name",
                "file hash" => "file_hash",
                "file path" => "file_path",
                "ip address" => "ip_address",
                "url" | "url string" => "url",
                "domain" => "domain",
                "registry key" => "registry_path",
                "email address" => "email_address",
                _ => "other",
            };
            meta.threat_objects.push(ThreatObjectSpec {
                field: o.name.clone(),
                kind: ty.into(),
            });
        }
    }
    Ok(())
}

/// Top-level keys the rules module reads; everything else in an ESCU file (description,
/// how_to_implement, references, drilldown_searches, tests, ...) is prose it never uses.
const USED_KEYS: &[&str] = &[
    "name",
    "id",
    "type",
    "status",
    "search",
    "definition",
    "arguments",
    "tags",
    "rba",
];

/// Parses one YAML document. Parsing dominates rule loading (serde_yaml is most of the
/// profile), so a copy holding only the used top-level blocks is parsed first; if that copy
/// cannot be made safely or does not parse, the whole text is parsed, so errors are always
/// reported against the real file.
pub fn parse_doc(text: &str) -> Result<RawDoc, serde_yaml::Error> {
    if let Some(slim) = slim_top_level(text) {
        if let Ok(doc) = serde_yaml::from_str(&slim) {
            return Ok(doc);
        }
    }
    serde_yaml::from_str(text)
}

/// Keeps the blocks of used top-level keys of a block-mapping document. `None` when the
/// document is not a plain block mapping at column 0 (flow style, several documents, tags,
/// anchors...), where cutting lines could change the meaning.
fn slim_top_level(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() / 2);
    let mut keep = false;
    for line in text.split_inclusive('\n') {
        match line.as_bytes().first().copied() {
            None | Some(b' ' | b'\t' | b'\n' | b'\r') => {}
            Some(b'#') => continue,
            Some(b'-') if line.starts_with("---") => return None,
            // A block sequence may sit at the key's own indentation: it continues the block.
            Some(b'-') if line.starts_with("- ") || line.trim_end() == "-" => {}
            Some(
                b'.' | b'{' | b'[' | b'"' | b'\'' | b'?' | b'%' | b'&' | b'*' | b'!' | b'|' | b'>'
                | b'@' | b'`' | b'-',
            ) => return None,
            Some(_) => {
                let (key, _) = line.split_once(':')?;
                if key.contains(['"', '\'', '{', '[', '#']) {
                    return None;
                }
                keep = USED_KEYS.contains(&key.trim_end());
            }
        }
        if keep {
            out.push_str(line);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slim_copy_keeps_used_blocks_only() {
        let text = "# c\nname: A\ndescription: long\n  text: with colon\ndata_source:\n- x\ntags:\n  analytic_story:\n  - S\nsearch: '| tstats\n  count'\n";
        let slim = slim_top_level(text).expect("plain mapping");
        assert_eq!(
            slim,
            "name: A\ntags:\n  analytic_story:\n  - S\nsearch: '| tstats\n  count'\n"
        );
        assert!(slim_top_level("---\nname: a\n").is_none());
        assert!(slim_top_level("{name: a}\n").is_none());
        let doc = parse_doc(text).expect("parses");
        assert_eq!(doc.search.as_deref(), Some("| tstats count"));
    }
}
