//! The app's content: detections and macros read with the rules engine's own model
//! (`netdiscover::rules`: [`RawDoc`] for the YAML as written, [`RuleMeta`] for what a rule
//! means), so the engine and the renderer read every ESCU file the same way; plus what only
//! rendering needs: ESCU 6 schedules (`schedules/*.yml`), contentctl 5's per-type deployments
//! (`deployments/*.yml`, for v5 rules) and the ATT&CK tactics of the techniques the rules name.
//!
//! Keys or blocks the engine would read past are refused here: a rendered stanza must not
//! silently lose what the YAML says.

use crate::AppError;
use netdiscover::rules::{parse_doc_full, rule_meta, EscuSchema, RawDoc, RuleMeta};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One detection: the document as written and the rule model built from it.
#[derive(Debug, Clone)]
pub struct Detection {
    pub doc: RawDoc,
    pub meta: RuleMeta,
}

impl Detection {
    /// Parses a detection file; a key or block the rules engine reads past is an error here.
    pub fn parse(path: &Path, text: &str) -> Result<Detection, AppError> {
        let doc = parse_doc_full(text).map_err(|error| AppError::Yaml {
            path: path.to_path_buf(),
            error,
        })?;
        Detection::from_doc(path, doc)
    }

    /// The rule model of `doc` (for instance after a test changed its `type`).
    pub fn from_doc(path: &Path, doc: RawDoc) -> Result<Detection, AppError> {
        let (meta, ignored) = rule_meta(&doc).map_err(|m| AppError::content(path, m))?;
        if let Some(first) = ignored.first() {
            return Err(AppError::content(
                path,
                format!(
                    "`{}`: {} (the renderer does not drop it)",
                    first.key, first.why
                ),
            ));
        }
        Ok(Detection { doc, meta })
    }

    pub fn schema(&self) -> EscuSchema {
        self.meta.escu_schema().unwrap_or(EscuSchema::V6)
    }

    /// The fields every stanza needs, checked present.
    pub fn common(&self, path: &Path) -> Result<Common<'_>, AppError> {
        let p = &self.doc.prose;
        Ok(Common {
            version: p
                .version
                .ok_or_else(|| AppError::content(path, "missing `version`"))?,
            status: Detection::required(path, "status", &self.doc.status)?,
            description: Detection::required(path, "description", &p.description)?,
            search: Detection::required(path, "search", &self.doc.search)?,
        })
    }

    /// A field the renderer needs, or an error naming it.
    pub fn required<'a>(
        path: &Path,
        key: &str,
        value: &'a Option<String>,
    ) -> Result<&'a str, AppError> {
        value
            .as_deref()
            .ok_or_else(|| AppError::content(path, format!("missing `{key}`")))
    }
}

/// What every rendered stanza reads from a detection.
#[derive(Debug, Clone, Copy)]
pub struct Common<'a> {
    pub version: u32,
    pub status: &'a str,
    pub description: &'a str,
    pub search: &'a str,
}

/// A macro, as `macros.conf` writes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Macro {
    pub name: String,
    pub definition: String,
    pub description: String,
    pub arguments: Vec<String>,
}

impl Macro {
    fn parse(path: &Path, text: &str) -> Result<Macro, AppError> {
        let doc = parse_doc_full(text).map_err(|error| AppError::Yaml {
            path: path.to_path_buf(),
            error,
        })?;
        Ok(Macro {
            name: Detection::required(path, "name", &doc.name)?.to_string(),
            definition: Detection::required(path, "definition", &doc.definition)?.to_string(),
            description: doc.prose.description.unwrap_or_default(),
            arguments: doc.arguments.unwrap_or_default(),
        })
    }
}

/// An ESCU 6 schedule (`schedules/*.yml`, docs/escu6-and-es8.md §1.5), or the inline
/// `custom_schedule` of a detection.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Schedule {
    #[serde(default)]
    pub name: String,
    pub cron_schedule: String,
    pub earliest_time: String,
    pub latest_time: String,
    pub schedule_window: String,
}

/// contentctl-ng's schedule for detections without `schedule` or `custom_schedule`: named
/// `Default {ClassName}` (`Search.model_post_init`).
pub const DEFAULT_SCHEDULE: &str = "Default EventBasedDetection";

/// ESCU's per-type default deployment (`deployments/escu_default_configuration_<type>.yml`),
/// how contentctl 5 schedules v5 rules.
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

/// ATT&CK technique id → its tactics' short names (`command-and-control`, ...), from
/// `app/mitre_tactics.yml`. contentctl-ng reads them from ATT&CK's STIX data and maps them to
/// ES kill-chain phases.
pub type MitreTactics = BTreeMap<String, Vec<String>>;

/// A parsed YAML file with the path it came from (for error messages and ordering).
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    pub path: PathBuf,
    pub item: T,
}

/// Every `*.yml` under `dir` (recursively), sorted by path components as contentctl sorts
/// them (`sorted(Path.glob("**/*.yml"))`). A missing directory has none.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, AppError> {
    let mut files = Vec::new();
    if dir.is_dir() {
        collect_yaml(dir, &mut files)?;
    }
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

/// Reads and parses every YAML file under `dir` with `parse`.
fn load_with<T>(
    dir: &Path,
    parse: impl Fn(&Path, &str) -> Result<T, AppError>,
) -> Result<Vec<Loaded<T>>, AppError> {
    yaml_files(dir)?
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| AppError::io(&path, e))?;
            let item = parse(&path, &text)?;
            Ok(Loaded { path, item })
        })
        .collect()
}

fn serde_parse<T: serde::de::DeserializeOwned>(path: &Path, text: &str) -> Result<T, AppError> {
    serde_yaml::from_str(text).map_err(|error| AppError::Yaml {
        path: path.to_path_buf(),
        error,
    })
}

/// Everything the app is rendered from.
#[derive(Debug, Clone)]
pub struct Content {
    /// The `app/` directory the content was loaded from.
    pub app_dir: PathBuf,
    pub detections: Vec<Loaded<Detection>>,
    pub macros: Vec<Loaded<Macro>>,
    pub schedules: Vec<Loaded<Schedule>>,
    pub deployments: Vec<Loaded<Deployment>>,
    pub mitre_tactics: MitreTactics,
}

impl Content {
    /// Loads `<app>/detections`, `<app>/macros`, `<app>/schedules`, `<app>/deployments` (the
    /// last two may be absent) and `<app>/mitre_tactics.yml` (may be absent).
    pub fn load(app_dir: &Path) -> Result<Self, AppError> {
        let tactics = app_dir.join("mitre_tactics.yml");
        let mitre_tactics = match std::fs::read_to_string(&tactics) {
            Ok(text) => serde_parse(&tactics, &text)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => MitreTactics::new(),
            Err(e) => return Err(AppError::io(&tactics, e)),
        };
        Ok(Content {
            app_dir: app_dir.to_path_buf(),
            detections: load_with(&app_dir.join("detections"), Detection::parse)?,
            macros: load_with(&app_dir.join("macros"), Macro::parse)?,
            schedules: load_with(&app_dir.join("schedules"), serde_parse)?,
            deployments: load_with(&app_dir.join("deployments"), serde_parse)?,
            mitre_tactics,
        })
    }

    /// The default deployment for a v5 detection's type, as contentctl 5 picks it.
    pub fn deployment_for(&self, detection: &Loaded<Detection>) -> Result<&Deployment, AppError> {
        if detection.item.doc.prose.deployment.is_some() {
            return Err(AppError::content(
                &detection.path,
                "an embedded `deployment:` block is not supported by our renderer",
            ));
        }
        let kind = &detection.item.meta.kind;
        self.deployments
            .iter()
            .map(|d| &d.item)
            .find(|d| &d.kind == kind)
            .ok_or_else(|| {
                AppError::content(
                    &detection.path,
                    format!("no deployment of type {kind:?} in app/deployments"),
                )
            })
    }

    /// An ESCU 6 detection's schedule: its `custom_schedule`, the schedule its `schedule`
    /// names, or [`DEFAULT_SCHEDULE`] (contentctl-ng `Search.model_post_init`).
    pub fn schedule_for(&self, detection: &Loaded<Detection>) -> Result<Schedule, AppError> {
        let prose = &detection.item.doc.prose;
        if let Some(custom) = &prose.custom_schedule {
            if prose.schedule.is_some() {
                return Err(AppError::content(
                    &detection.path,
                    "exactly one of `schedule` or `custom_schedule` may be set",
                ));
            }
            return Ok(Schedule {
                name: String::new(),
                cron_schedule: custom.cron_schedule.clone(),
                earliest_time: custom.earliest_time.clone(),
                latest_time: custom.latest_time.clone(),
                schedule_window: custom.schedule_window.clone(),
            });
        }
        let name = prose.schedule.as_deref().unwrap_or(DEFAULT_SCHEDULE);
        self.schedule_named(name).cloned().ok_or_else(|| {
            AppError::content(
                &detection.path,
                format!("no schedule named {name:?} in app/schedules"),
            )
        })
    }

    /// The schedule of `schedules/` with this name.
    pub fn schedule_named(&self, name: &str) -> Option<&Schedule> {
        self.schedules
            .iter()
            .map(|s| &s.item)
            .find(|s| s.name == name)
    }
}
