//! `sigma_settings`: the options a site gives its Sigma rules, in a YAML document among the
//! rule files (any `*.yml` whose top-level key is `sigma_settings`). Later places override
//! earlier ones key by key, like rules and macros.
//!
//! ```yaml
//! sigma_settings:
//!   analytic_story_tag: story          # tags `story.<name>` become analytic_story <name>
//!   risk_objects:                      # default: dest (system) and user (user)
//!     - {field: dest, type: system}
//!     - {field: user, type: user}
//!   placeholders:                      # values for `|expand` placeholders
//!     Administrators: ['*\Administrator', 'CORP\adm-*']
//! ```

use std::collections::HashMap;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::Deserialize;

/// The options, with their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SigmaSettings {
    /// A tag namespace whose values are analytic stories (`None`: rules carry no story).
    pub analytic_story_tag: Option<String>,
    /// Risk objects (row field, ES type) every Sigma rule with risk writes.
    pub risk_objects: Vec<(String, String)>,
    /// `%name%` → the values it expands to.
    pub placeholders: HashMap<String, Vec<String>>,
}

impl Default for SigmaSettings {
    fn default() -> Self {
        SigmaSettings {
            analytic_story_tag: None,
            risk_objects: vec![
                ("dest".to_string(), "system".to_string()),
                ("user".to_string(), "user".to_string()),
            ],
            placeholders: HashMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    #[serde(default)]
    analytic_story_tag: Option<String>,
    #[serde(default)]
    risk_objects: Option<Vec<RawRiskObject>>,
    #[serde(default)]
    placeholders: Option<HashMap<String, OneOrMany>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRiskObject {
    field: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
struct Document {
    sigma_settings: RawSettings,
}

/// True when a YAML text is a settings document.
pub fn looks_like_settings(text: &str) -> bool {
    static KEY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("sigma_settings"));
    super::document::has_top_level_key(text, &KEY)
}

impl SigmaSettings {
    /// Reads a settings document over these settings (keys it gives replace ours).
    pub fn merge_text(&mut self, text: &str) -> Result<(), String> {
        let doc: Document = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
        let raw = doc.sigma_settings;
        if let Some(tag) = raw.analytic_story_tag {
            let tag = tag.trim().trim_end_matches('.').to_string();
            self.analytic_story_tag = (!tag.is_empty()).then_some(tag);
        }
        if let Some(objects) = raw.risk_objects {
            for o in &objects {
                if !["system", "user", "other"].contains(&o.kind.as_str()) {
                    return Err(format!(
                        "risk object `{}`: type `{}` is not system, user or other",
                        o.field, o.kind
                    ));
                }
            }
            self.risk_objects = objects.into_iter().map(|o| (o.field, o.kind)).collect();
        }
        for (name, values) in raw.placeholders.unwrap_or_default() {
            let values = match values {
                OneOrMany::One(v) => vec![v],
                OneOrMany::Many(v) => v,
            };
            self.placeholders.insert(name, values);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_overrides() {
        let mut s = SigmaSettings::default();
        let text = "sigma_settings:\n  analytic_story_tag: story.\n  placeholders:\n    Admins: 'adm*'\n    Servers: [a, b]\n";
        assert!(looks_like_settings(text));
        s.merge_text(text).unwrap();
        assert_eq!(s.analytic_story_tag.as_deref(), Some("story"));
        assert_eq!(s.placeholders["Admins"], vec!["adm*".to_string()]);
        assert_eq!(s.risk_objects.len(), 2);
        let err = s
            .merge_text("sigma_settings:\n  risk_objects: [{field: dest, type: host}]\n")
            .unwrap_err();
        assert!(err.contains("host"), "{err}");
        assert!(s.merge_text("sigma_settings:\n  typo: 1\n").is_err());
    }
}
