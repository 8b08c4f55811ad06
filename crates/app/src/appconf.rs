//! `default/app.conf` and `app.manifest`, rendered from Cargo's package version so the three
//! version strings (`[launcher]`, `[id]`, `info.id.version`) can never disagree with Cargo.

use crate::{AppError, APP_ID};

/// The app's version: the `netdiscover` crate's version (semver, as AppInspect requires), the
/// one its binaries print.
pub const VERSION: &str = netdiscover::VERSION;

const LABEL: &str = "netdiscover detections";
const DESCRIPTION: &str = "ESCU detection YAML compiled to native matchers: the | netdiscover search command, a modular input, and ES risk-based alerting searches.";

/// Minimum Splunk_SA_CIM version: the Endpoint.Processes fields the ESCU 5.x searches group by
/// (`process_exec`, `parent_process_exec`, `process_integrity_level`, ...) are in CIM 5.x,
/// which is what ESCU's own test environment installs (contentctl.yml: CIM 5.2.0).
pub const SA_CIM_MIN_VERSION: &str = "5.0.0";

/// `[install] build`: a positive integer that grows with the version (AppInspect requires one).
pub fn build_number(version: &str) -> Result<u64, AppError> {
    let core = version.split(['-', '+']).next().unwrap_or(version);
    let parts: Vec<u64> = core
        .split('.')
        .map(|p| p.parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|e| AppError::Invalid(format!("version {version:?} is not semver: {e}")))?;
    let [major, minor, patch] = parts[..] else {
        return Err(AppError::Invalid(format!(
            "version {version:?} is not MAJOR.MINOR.PATCH"
        )));
    };
    let build = major * 1_000_000 + minor * 1_000 + patch;
    if build == 0 {
        return Err(AppError::Invalid(
            "version 0.0.0 gives no positive build number".into(),
        ));
    }
    Ok(build)
}

/// The whole `default/app.conf`.
pub fn render_app_conf(header: &str) -> Result<String, AppError> {
    let build = build_number(VERSION)?;
    Ok(format!(
        "{header}\n\
[install]\n\
is_configured = false\n\
state = enabled\n\
build = {build}\n\
\n\
[launcher]\n\
author = netdiscover\n\
version = {VERSION}\n\
description = {DESCRIPTION}\n\
\n\
[ui]\n\
is_visible = false\n\
label = {LABEL}\n\
\n\
[package]\n\
id = {APP_ID}\n\
check_for_updates = false\n\
\n\
[id]\n\
name = {APP_ID}\n\
version = {VERSION}\n"
    ))
}

/// The whole `app.manifest` (schema 2.0.0), declaring the Splunk_SA_CIM dependency.
pub fn render_manifest() -> String {
    let manifest = serde_json::json!({
        "schemaVersion": "2.0.0",
        "info": {
            "title": LABEL,
            "id": {"group": null, "name": APP_ID, "version": VERSION},
            "author": [{"name": "netdiscover", "email": null, "company": null}],
            "releaseDate": null,
            "description": DESCRIPTION,
            "classification": {
                "intendedAudience": "Security",
                "categories": ["Security, Fraud & Compliance"],
                "developmentStatus": "Production/Stable"
            },
            "commonInformationModels": {"Endpoint": ">=5.0.0"},
            "license": {"name": "Apache-2.0", "text": null, "uri": null},
            "privacyPolicy": {"name": null, "text": null, "uri": null},
            "releaseNotes": {"name": null, "text": null, "uri": null}
        },
        "dependencies": {
            "Splunk_SA_CIM": {"version": format!(">={SA_CIM_MIN_VERSION}"), "optional": false}
        },
        "tasks": null,
        "inputGroups": null,
        "incompatibleApps": null,
        "platformRequirements": null,
        "supportedDeployments": ["_standalone", "_distributed", "_search_head_clustering"],
        "targetWorkloads": ["_search_heads", "_forwarders"]
    });
    let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_number_grows_with_the_version_and_rejects_non_semver() {
        assert_eq!(build_number("0.1.0").unwrap(), 1_000);
        assert!(build_number("1.2.3").unwrap() > build_number("1.2.2").unwrap());
        assert!(build_number("1.2").is_err());
        assert!(build_number("0.0.0").is_err());
    }
}
