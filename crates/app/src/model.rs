//! The detection, macro and deployment YAML (ESCU's current `rba:` schema), read the way
//! contentctl 5.x reads it for rendering. Fields the renderer does not use are ignored; fields
//! that would change the rendering but that we do not render (throttling, embedded
//! deployments) are refused with a clear error rather than silently dropped.

use crate::AppError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Deserialize)]
pub struct Detection {
    pub name: String,
    pub id: String,
    pub version: u32,
    /// `YYYY-MM-DD` (quoted in ESCU's YAML; serde_yaml keeps it a string either way).
    pub date: String,
    pub status: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    #[serde(default)]
    pub data_source: Vec<String>,
    pub search: String,
    pub how_to_implement: String,
    pub known_false_positives: String,
    #[serde(default)]
    pub drilldown_searches: Vec<Drilldown>,
    #[serde(default)]
    pub rba: Option<Rba>,
    pub tags: Tags,
    #[serde(default)]
    pub enabled_by_default: bool,
    #[serde(default)]
    pub deployment: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Drilldown {
    pub name: String,
    pub search: String,
    #[serde(default)]
    pub earliest_offset: Option<String>,
    #[serde(default)]
    pub latest_offset: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Rba {
    pub message: String,
    pub risk_objects: Vec<RiskObject>,
    #[serde(default)]
    pub threat_objects: Vec<ThreatObject>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RiskObject {
    pub field: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub score: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ThreatObject {
    pub field: String,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Tags {
    pub analytic_story: Vec<String>,
    #[serde(default)]
    pub atomic_guid: Vec<String>,
    #[serde(default)]
    pub mitre_attack_id: Vec<String>,
    #[serde(default)]
    pub product: Vec<String>,
    #[serde(default)]
    pub security_domain: Option<String>,
    #[serde(default)]
    pub cve: Vec<String>,
    #[serde(default)]
    pub throttling: Option<serde_yaml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Macro {
    pub name: String,
    pub definition: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub arguments: Vec<String>,
}

/// ESCU's per-type default deployment (`deployments/escu_default_configuration_<type>.yml`).
#[derive(Debug, Clone, Deserialize)]
pub struct Deployment {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub scheduling: Scheduling,
    #[serde(default)]
    pub alert_action: AlertAction,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Scheduling {
    pub cron_schedule: String,
    pub earliest_time: String,
    pub latest_time: String,
    pub schedule_window: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AlertAction {
    #[serde(default)]
    pub rba: Option<RbaAction>,
    #[serde(default)]
    pub notable: Option<NotableAction>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RbaAction {
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct NotableAction {
    pub rule_description: String,
    pub rule_title: String,
    #[serde(default)]
    pub nes_fields: Vec<String>,
}

/// A parsed YAML file with the path it came from (for error messages and ordering).
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub path: PathBuf,
    pub item: T,
}

/// Every `*.yml` under `dir` (recursively), sorted by path components as contentctl sorts
/// them (`sorted(Path.glob("**/*.yml"))`).
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, AppError> {
    let mut files = Vec::new();
    collect_yaml(dir, &mut files)?;
    files.sort_by(|a, b| a.components().cmp(b.components()));
    Ok(files)
}

fn collect_yaml(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), AppError> {
    let entries = std::fs::read_dir(dir).map_err(|e| AppError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| AppError::io(dir, e))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| AppError::io(&path, e))?;
        if file_type.is_dir() {
            collect_yaml(&path, files)?;
        } else if path.extension().is_some_and(|ext| ext == "yml") {
            files.push(path);
        }
    }
    Ok(())
}

/// Reads and parses every YAML file under `dir` as `T`.
pub fn load_dir<T: serde::de::DeserializeOwned>(dir: &Path) -> Result<Vec<Loaded<T>>, AppError> {
    yaml_files(dir)?
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| AppError::io(&path, e))?;
            let item = serde_yaml::from_str(&text).map_err(|error| AppError::Yaml {
                path: path.clone(),
                error,
            })?;
            Ok(Loaded { path, item })
        })
        .collect()
}

/// The detections, macros and deployments the app is rendered from.
#[derive(Debug, Clone)]
pub struct Content {
    /// The `app/` directory the content was loaded from.
    pub app_dir: PathBuf,
    pub detections: Vec<Loaded<Detection>>,
    pub macros: Vec<Loaded<Macro>>,
    pub deployments: Vec<Loaded<Deployment>>,
}

impl Content {
    /// Loads `<app>/detections`, `<app>/macros` and `<app>/deployments`.
    pub fn load(app_dir: &Path) -> Result<Self, AppError> {
        Ok(Content {
            app_dir: app_dir.to_path_buf(),
            detections: load_dir(&app_dir.join("detections"))?,
            macros: load_dir(&app_dir.join("macros"))?,
            deployments: load_dir(&app_dir.join("deployments"))?,
        })
    }

    /// The default deployment for a detection type, as contentctl picks it.
    pub fn deployment_for(&self, detection: &Loaded<Detection>) -> Result<&Deployment, AppError> {
        if detection.item.deployment.is_some() {
            return Err(AppError::content(
                &detection.path,
                "an embedded `deployment:` block is not supported by our renderer",
            ));
        }
        self.deployments
            .iter()
            .map(|d| &d.item)
            .find(|d| d.kind == detection.item.kind)
            .ok_or_else(|| {
                AppError::content(
                    &detection.path,
                    format!(
                        "no deployment of type {:?} in app/deployments",
                        detection.item.kind
                    ),
                )
            })
    }
}
