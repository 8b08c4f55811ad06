//! One YAML document of ESCU content as written: every top-level key of the three detection
//! schemas (v4 `tags.observable`, v5 `rba:`, ESCU 6 `finding` / `intermediate_findings`) and
//! of macros, so the rules engine and the app renderer read the same shape.
//!
//! The rules engine parses only the blocks it uses ([`parse_doc`], fast); the renderer parses
//! everything ([`parse_doc_full`]). Both record every top-level key the document has
//! ([`RawDoc::keys`]), so a key nobody knows can be reported instead of dropped.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;
use serde::Deserialize;

/// One YAML document of ESCU content. Detections and macros share the file layout, so a
/// single permissive shape reads both; `model::classify` tells them apart. Blocks the fast
/// path does not parse stay `None` there.
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub struct RawDoc {
    pub name: Option<String>,
    pub id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub status: Option<String>,
    pub search: Option<String>,
    /// Macros.
    pub definition: Option<String>,
    pub arguments: Option<Vec<String>>,
    /// v4 / v5: stories, MITRE ids and (v4) the risk observables.
    pub tags: Option<RawTags>,
    /// v5 risk.
    pub rba: Option<RawRba>,
    /// ESCU 6 risk and metadata (top level).
    pub finding: Option<RawFinding>,
    pub intermediate_findings: Option<RawIntermediateFindings>,
    pub threat_objects: Option<Vec<RawThreatObject>>,
    pub analytic_story: Option<Vec<String>>,
    pub mitre_attack_id: Option<Vec<String>>,
    /// What only the app renderer reads ([`parse_doc_full`]).
    #[serde(flatten)]
    pub prose: Prose,
    /// Every top-level key of the document, in file order (filled by the parse functions).
    #[serde(skip)]
    pub keys: Vec<String>,
}

/// The top-level keys of a detection or macro that the rules engine never reads: prose,
/// dates, rendering and test metadata. Present only after [`parse_doc_full`].
#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
pub struct Prose {
    /// An integer, or a quoted one (`version: '4'`, which contentctl accepts too).
    #[serde(default, deserialize_with = "lenient_u32")]
    pub version: Option<u32>,
    /// v4 / v5 `YYYY-MM-DD`.
    pub date: Option<String>,
    /// ESCU 6 `YYYY-MM-DD` dates.
    pub creation_date: Option<String>,
    pub modification_date: Option<String>,
    pub author: Option<String>,
    pub description: Option<String>,
    pub data_source: Option<Vec<String>>,
    pub how_to_implement: Option<String>,
    pub known_false_positives: Option<String>,
    pub references: Option<Vec<String>>,
    pub drilldown_searches: Option<Vec<RawDrilldown>>,
    /// ESCU 6 top-level metadata (v5 keeps these in `tags`).
    pub threat_group: Option<Vec<String>>,
    pub asset_type: Option<String>,
    pub cve: Option<Vec<String>>,
    pub atomic_guid: Option<Vec<String>>,
    pub product: Option<Vec<String>>,
    pub category: Option<String>,
    pub security_domain: Option<String>,
    /// ESCU 6 scheduling: a named `schedules/*.yml` or an inline one.
    pub schedule: Option<String>,
    pub custom_schedule: Option<RawSchedule>,
    /// contentctl 5: `enabled_by_default`, an embedded `deployment`.
    pub enabled_by_default: Option<bool>,
    pub deployment: Option<serde_yaml::Value>,
    /// Set on deprecated content (contentctl 5 and ESCU 6).
    pub deprecation_info: Option<serde_yaml::Value>,
}

/// An optional `u32` written as a number or as a quoted number.
fn lenient_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumberOrText {
        Number(u32),
        Text(String),
    }
    match Option::<NumberOrText>::deserialize(d)? {
        None => Ok(None),
        Some(NumberOrText::Number(n)) => Ok(Some(n)),
        Some(NumberOrText::Text(t)) => t
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom(format!("version {t:?} is not an integer"))),
    }
}

#[derive(Debug, Clone, Deserialize, Default, PartialEq)]
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
    #[serde(default)]
    pub atomic_guid: Vec<String>,
    #[serde(default)]
    pub product: Vec<String>,
    #[serde(default)]
    pub security_domain: Option<String>,
    #[serde(default)]
    pub cve: Vec<String>,
    #[serde(default)]
    pub throttling: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RawObservable {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub role: Vec<String>,
}

/// Keys of a risk block that we do not know, kept so they can be reported.
pub type Extra = BTreeMap<String, IgnoredAny>;

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RawRba {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub risk_objects: Vec<RawRiskObject>,
    #[serde(default)]
    pub threat_objects: Vec<RawThreatObject>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A v5 risk object or an ESCU 6 entity (`message` only on intermediate findings).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RawRiskObject {
    pub field: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub score: f64,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RawThreatObject {
    pub field: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RawFinding {
    pub title: String,
    pub entity: RawRiskObject,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RawIntermediateFindings {
    #[serde(default)]
    pub entities: Vec<RawRiskObject>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RawDrilldown {
    pub name: String,
    pub search: String,
    #[serde(default)]
    pub earliest_offset: Option<String>,
    #[serde(default)]
    pub latest_offset: Option<String>,
}

/// An inline ESCU 6 schedule (`custom_schedule`), the shape of `schedules/*.yml`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct RawSchedule {
    pub cron_schedule: String,
    pub earliest_time: String,
    pub latest_time: String,
    pub schedule_window: String,
}

/// Every top-level key a detection (any of the three schemas) or a macro may have. The
/// sources: contentctl 5 `SecurityContentObject_Abstract` / `Detection_Abstract` fields
/// (v4 and v5), contentctl-ng 1.1.1 `EventBasedDetection` (ESCU 6, which forbids any other
/// key), `Macro` (`definition`, `arguments`). See docs/escu6-and-es8.md §1.1.
pub const KNOWN_KEYS: &[&str] = &[
    // shared
    "name",
    "id",
    "version",
    "author",
    "status",
    "type",
    "description",
    "data_source",
    "search",
    "how_to_implement",
    "known_false_positives",
    "references",
    "drilldown_searches",
    "tests",
    "deprecation_info",
    // v4 / v5
    "date",
    "tags",
    "rba",
    "enabled_by_default",
    "deployment",
    "explanation",
    // ESCU 6
    "creation_date",
    "modification_date",
    "finding",
    "intermediate_findings",
    "threat_objects",
    "analytic_story",
    "threat_group",
    "asset_type",
    "cve",
    "atomic_guid",
    "mitre_attack_id",
    "product",
    "category",
    "security_domain",
    "baselines",
    "schedule",
    "custom_schedule",
    // macros
    "definition",
    "arguments",
];

/// Top-level keys the rules engine reads; everything else in an ESCU file (description,
/// how_to_implement, references, drilldown_searches, tests, ...) is prose it never uses. The
/// scan asks [`is_used_key`]; this list is what a test checks it against.
#[cfg(test)]
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
    "finding",
    "intermediate_findings",
    "threat_objects",
    "analytic_story",
    "mitre_attack_id",
];

/// Whether `key` is one of [`USED_KEYS`] (a `match` on the text: one length test and at most
/// a few comparisons per key line, where the list took up to fourteen).
fn is_used_key(key: &str) -> bool {
    matches!(
        key,
        "name"
            | "id"
            | "type"
            | "status"
            | "search"
            | "definition"
            | "arguments"
            | "tags"
            | "rba"
            | "finding"
            | "intermediate_findings"
            | "threat_objects"
            | "analytic_story"
            | "mitre_attack_id"
    )
}

impl RawDoc {
    /// Top-level keys that are in none of the schemas ([`KNOWN_KEYS`]), in file order.
    pub fn unknown_keys(&self) -> impl Iterator<Item = &str> {
        self.keys
            .iter()
            .map(String::as_str)
            .filter(|k| !KNOWN_KEYS.contains(k))
    }

    /// Whether the document has this top-level key (whatever its value).
    pub fn has_key(&self, key: &str) -> bool {
        self.keys.iter().any(|k| k == key)
    }
}

/// Parses one YAML document for the rules engine. Parsing dominates rule loading (serde_yaml
/// is most of the profile), so a copy holding only the used top-level blocks is parsed first;
/// if that copy cannot be made safely or does not parse, the whole text is parsed, so errors
/// are always reported against the real file.
pub fn parse_doc(text: &str) -> Result<RawDoc, serde_yaml::Error> {
    if let Some(scan) = scan_top_level(text, true) {
        let fast = super::parse_block_yaml(&scan.slim).map(serde_yaml::from_value::<RawDoc>);
        let slim = match fast {
            Some(Ok(doc)) => Ok(doc),
            _ => serde_yaml::from_str::<RawDoc>(&scan.slim),
        };
        if let Ok(mut doc) = slim {
            doc.prose = Prose::default();
            doc.keys = scan.keys;
            return Ok(doc);
        }
    }
    let mut doc = parse_doc_full(text)?;
    doc.prose = Prose::default();
    Ok(doc)
}

/// Parses every block of one YAML document (what the app renderer reads).
pub fn parse_doc_full(text: &str) -> Result<RawDoc, serde_yaml::Error> {
    let mut doc: RawDoc = serde_yaml::from_str(text)?;
    doc.keys = match scan_top_level(text, false) {
        Some(scan) => scan.keys,
        // Flow style or anchors: ask the YAML parser (a mapping with non-string keys has
        // nothing the loader could know anyway).
        None => serde_yaml::from_str::<indexless::Keys>(text)
            .map(|keys| keys.0)
            .unwrap_or_default(),
    };
    Ok(doc)
}

/// Reading a mapping's keys in order without an ordered-map dependency.
mod indexless {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    /// The keys of a mapping, in order.
    pub struct Keys(pub Vec<String>);

    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a mapping")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                        keys.push(key);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }
}

/// The result of scanning a document's top level line by line.
struct TopLevel {
    /// The blocks of the used keys (only when asked for).
    slim: String,
    /// Every top-level key, in order.
    keys: Vec<String>,
}

/// Lists the top-level keys of a block-mapping document and, if `slim`, keeps the blocks of
/// the used keys. `None` when the document is not a plain block mapping at column 0 (flow
/// style, several documents, tags, anchors...), where cutting lines could change the meaning.
fn scan_top_level(text: &str, slim: bool) -> Option<TopLevel> {
    let mut out = TopLevel {
        slim: String::with_capacity(if slim { text.len() / 2 } else { 0 }),
        keys: Vec::with_capacity(32),
    };
    // The kept blocks are copied a run of lines at a time: from where a kept run starts to
    // the next comment or key line at column 0.
    let mut kept_from = None;
    let copy_to = |out: &mut TopLevel, from: &mut Option<usize>, to: usize| {
        if let Some(from) = from.take() {
            out.slim.push_str(&text[from..to]);
        }
    };
    let mut keep = false;
    let mut start = 0;
    while start < text.len() {
        let end = memchr::memchr(b'\n', &text.as_bytes()[start..])
            .map_or(text.len(), |at| start + at + 1);
        let line = &text[start..end];
        match line.as_bytes()[0] {
            b' ' | b'\t' | b'\n' | b'\r' => {}
            b'#' => {
                copy_to(&mut out, &mut kept_from, start);
                start = end;
                continue;
            }
            b'-' if line.starts_with("---") => return None,
            // A block sequence may sit at the key's own indentation: it continues the block.
            b'-' if line.starts_with("- ") || line.trim_end() == "-" => {}
            b'.' | b'{' | b'[' | b'"' | b'\'' | b'?' | b'%' | b'&' | b'*' | b'!' | b'|' | b'>'
            | b'@' | b'`' | b'-' => return None,
            _ => {
                let key = &line[..memchr::memchr(b':', line.as_bytes())?];
                if key.contains(['"', '\'', '{', '[', '#']) {
                    return None;
                }
                let key = key.trim_end();
                copy_to(&mut out, &mut kept_from, start);
                keep = slim && is_used_key(key);
                out.keys.push(key.to_string());
            }
        }
        if keep && kept_from.is_none() {
            kept_from = Some(start);
        }
        start = end;
    }
    copy_to(&mut out, &mut kept_from, text.len());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slim_copy_keeps_used_blocks_only() {
        let text = "# c\nname: A\ndescription: long\n  text with colon\ndata_source:\n- x\ntags:\n  analytic_story:\n  - S\nsearch: '| tstats\n  count'\n";
        let scan = scan_top_level(text, true).expect("plain mapping");
        assert_eq!(
            scan.slim,
            "name: A\ntags:\n  analytic_story:\n  - S\nsearch: '| tstats\n  count'\n"
        );
        assert_eq!(
            scan.keys,
            ["name", "description", "data_source", "tags", "search"]
        );
        let commented = "search: a\n# c\n  b\nname: x\n#\nid: 1\n- y\nother: 2\n  z\ntags:\n  - t";
        let scan = scan_top_level(commented, true).expect("plain mapping");
        assert_eq!(
            scan.slim,
            "search: a\n  b\nname: x\nid: 1\n- y\ntags:\n  - t"
        );
        assert_eq!(scan.keys, ["search", "name", "id", "other", "tags"]);
        assert!(scan_top_level("---\nname: a\n", true).is_none());
        assert!(scan_top_level("{name: a}\n", true).is_none());
        let doc = parse_doc(text).expect("parses");
        assert_eq!(doc.search.as_deref(), Some("| tstats count"));
        assert_eq!(doc.prose, Prose::default(), "the fast path skips prose");
        let full = parse_doc_full(text).expect("parses");
        assert_eq!(full.prose.data_source, Some(vec!["x".to_string()]));
        assert_eq!(full.keys, doc.keys);
    }

    #[test]
    fn is_used_key_is_the_list() {
        for key in KNOWN_KEYS
            .iter()
            .chain(&["", "Name", "names", "tag", "rba2"])
        {
            assert_eq!(is_used_key(key), USED_KEYS.contains(key), "{key}");
        }
    }

    #[test]
    fn unknown_keys_are_listed_in_both_paths() {
        let text = "name: A\nsearch: x\nfindings:\n  title: t\nMANUAL_REVIEW: check\n";
        for doc in [parse_doc(text).unwrap(), parse_doc_full(text).unwrap()] {
            assert_eq!(
                doc.unknown_keys().collect::<Vec<_>>(),
                ["findings", "MANUAL_REVIEW"]
            );
        }
        let flow = parse_doc("{name: A, search: x, extra_key: 1}").unwrap();
        assert_eq!(flow.unknown_keys().collect::<Vec<_>>(), ["extra_key"]);
    }
}
