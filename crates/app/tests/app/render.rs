//! The rendered app confs: v5 rules (the seeds' v5.13.0 files, kept as fixtures of the older
//! schema in tests/fixtures/escu_v5) with parity to contentctl 5.6.2's own output (key by key),
//! no drift between the checked-in files and the YAML, versions equal to Cargo's, and the
//! combined search wired to `| netdiscover mode=risk` and ES's risk action. The ESCU 6
//! rendering against contentctl-ng is in `escu6.rs`.

use netdiscover_app::conf::{parse, Stanza};
use netdiscover_app::model::{Content, Detection, Loaded};
use netdiscover_app::{fields, render, savedsearches, APP_LABEL};
use std::path::{Path, PathBuf};

use crate::support::{shared, workspace_root};

fn read_conf(path: &Path) -> Vec<Stanza> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stanza<'a>(stanzas: &'a [Stanza], name: &str) -> &'a Stanza {
    stanzas
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no stanza [{name}]"))
}

/// Our label prefix replaced by contentctl's, as the only allowed difference.
fn as_escu(value: &str) -> String {
    value.replace(&format!("{APP_LABEL} - "), "ESCU - ")
}

fn assert_same_keys_and_values(ours: &Stanza, theirs: &Stanza) {
    let ours_entries: Vec<(String, String)> = ours
        .entries
        .iter()
        .map(|(k, v)| (k.clone(), as_escu(v)))
        .collect();
    for (i, ((ok, ov), (tk, tv))) in ours_entries.iter().zip(&theirs.entries).enumerate() {
        assert_eq!(ok, tk, "[{}] key #{i} differs", theirs.name);
        assert_eq!(ov, tv, "[{}] value of {tk} differs", theirs.name);
    }
    assert_eq!(
        ours_entries.len(),
        theirs.entries.len(),
        "[{}] has a different number of keys",
        theirs.name
    );
}

const SEEDS: &[&str] = &[
    "Network Connection Discovery With Netstat",
    "Windows Proxy Via Netsh",
];

/// The v5 fixture app (the seeds as ESCU v5.13.0 ships them, with contentctl 5's deployments).
fn v5_fixture() -> Content {
    Content::load(&workspace_root().join("tests/fixtures/escu_v5")).expect("v5 fixture")
}

/// `savedsearches.conf` rendered from the v5 fixture.
fn v5_rendered() -> String {
    savedsearches::render(&v5_fixture(), "").expect("render v5")
}

#[test]
fn v5_seed_stanzas_match_contentctl_5_6_2_key_by_key() {
    let Some(dir) = shared("escu/rendered_contentctl_5.6.2") else {
        return;
    };
    let theirs = read_conf(&dir.join("savedsearches.conf"));
    let ours = parse(&v5_rendered()).expect("our conf parses");
    for seed in SEEDS {
        let ours_stanza = stanza(&ours, &format!("{APP_LABEL} - {seed} - Rule"));
        let theirs_stanza = stanza(&theirs, &format!("ESCU - {seed} - Rule"));
        assert_same_keys_and_values(ours_stanza, theirs_stanza);
    }
    assert_same_keys_and_values(stanza(&ours, "default"), stanza(&theirs, "default"));
}

#[test]
fn v5_seed_stanzas_match_contentctl_byte_for_byte_apart_from_the_label() {
    let Some(dir) = shared("escu/rendered_contentctl_5.6.2") else {
        return;
    };
    let theirs = std::fs::read_to_string(dir.join("savedsearches.conf")).unwrap();
    let ours = v5_rendered();
    for seed in SEEDS {
        let block = |text: &str, label: &str| -> String {
            let start = text
                .find(&format!("[{label} - {seed} - Rule]"))
                .unwrap_or_else(|| panic!("{seed} missing"));
            let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
            text[start..end].to_string()
        };
        assert_eq!(as_escu(&block(&ours, APP_LABEL)), block(&theirs, "ESCU"));
    }
}

#[test]
fn ttp_variant_renders_the_notable_keys_contentctl_adds() {
    let Some(dir) = shared("escu/rendered_contentctl_5.6.2_ttp_variant") else {
        return;
    };
    let content = v5_fixture();
    let netsh = content
        .detections
        .iter()
        .find(|d| d.item.meta.name == "Windows Proxy Via Netsh")
        .unwrap();
    let mut doc = netsh.item.doc.clone();
    doc.kind = Some("TTP".into());
    let netsh = Loaded {
        path: netsh.path.clone(),
        item: Detection::from_doc(&netsh.path, doc).unwrap(),
    };
    let entries = savedsearches::detection_entries(&content, &netsh).unwrap();
    let ours = Stanza {
        name: "x".into(),
        entries: entries
            .into_iter()
            .map(|(k, v)| (k, v.trim().to_string()))
            .collect(),
    };
    let theirs = read_conf(&dir.join("savedsearches.conf"));
    assert_same_keys_and_values(
        &ours,
        stanza(&theirs, "ESCU - Windows Proxy Via Netsh - Rule"),
    );
}

#[test]
fn macros_match_contentctl_and_leave_drop_dm_object_name_to_splunk_sa_cim() {
    let ours = read_conf(&workspace_root().join("default/macros.conf"));
    assert!(
        ours.iter()
            .all(|s| !s.name.starts_with("drop_dm_object_name")),
        "drop_dm_object_name belongs to Splunk_SA_CIM and must not ship"
    );
    let Some(dir) = shared("escu/rendered_contentctl_5.6.2") else {
        return;
    };
    let theirs = read_conf(&dir.join("macros.conf"));
    for (i, t) in theirs.iter().enumerate() {
        assert_eq!(ours[i].name, t.name, "macro #{i} out of order");
        assert_same_keys_and_values(&ours[i], t);
    }
    let extra: Vec<&str> = ours[theirs.len()..]
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(
        extra,
        [
            "netdiscover_combined_detections_filter",
            "netdiscover_risk_object_fields"
        ]
    );
}

#[test]
fn checked_in_rendered_files_do_not_drift_from_the_yaml() {
    let drifted = render::drifted(workspace_root()).unwrap();
    assert!(
        drifted.is_empty(),
        "these files differ from what the YAML renders (run `cargo xtask render`): {drifted:?}"
    );
}

#[test]
fn drift_is_detected_when_the_yaml_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let copy = |rel: &str| {
        let (src, dst) = (&workspace_root().join(rel), tmp.path().join(rel));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(src, dst).unwrap();
    };
    for rel in render::render_all(workspace_root())
        .unwrap()
        .iter()
        .map(|r| r.path.clone())
    {
        copy(rel.to_str().unwrap());
    }
    let content = Content::load(&workspace_root().join("app")).unwrap();
    for path in content
        .detections
        .iter()
        .map(|d| &d.path)
        .chain(content.macros.iter().map(|m| &m.path))
        .chain(content.schedules.iter().map(|d| &d.path))
        .chain([&workspace_root().join("app/mitre_tactics.yml")])
    {
        copy(
            path.strip_prefix(workspace_root())
                .unwrap()
                .to_str()
                .unwrap(),
        );
    }
    assert!(render::drifted(tmp.path()).unwrap().is_empty());
    let netsh = tmp
        .path()
        .join("app/detections/endpoint/windows_proxy_via_netsh.yml");
    let text = std::fs::read_to_string(&netsh).unwrap();
    std::fs::write(&netsh, text.replacen("score: 20", "score: 50", 1)).unwrap();
    assert_eq!(
        render::drifted(tmp.path()).unwrap(),
        [PathBuf::from("default/savedsearches.conf")]
    );
}

#[test]
fn app_conf_and_manifest_carry_cargos_version_and_the_cim_dependency() {
    let version = env!("CARGO_PKG_VERSION");
    let app = read_conf(&workspace_root().join("default/app.conf"));
    assert_eq!(stanza(&app, "id").get("version"), Some(version));
    assert_eq!(stanza(&app, "launcher").get("version"), Some(version));
    assert_eq!(stanza(&app, "id").get("name"), Some("netdiscover"));
    assert_eq!(stanza(&app, "package").get("id"), Some("netdiscover"));
    assert_eq!(
        stanza(&app, "package").get("check_for_updates"),
        Some("false")
    );
    assert_eq!(stanza(&app, "install").get("is_configured"), Some("false"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(workspace_root().join("app/app.manifest")).unwrap())
            .unwrap();
    assert_eq!(manifest["info"]["id"]["version"], version);
    assert_eq!(manifest["info"]["id"]["name"], "netdiscover");
    assert!(manifest["dependencies"]["Splunk_SA_CIM"]["version"]
        .as_str()
        .unwrap()
        .starts_with(">="));
}

#[test]
fn combined_search_is_one_tstats_pass_over_every_rule_field_piped_to_netdiscover_risk() {
    let content = Content::load(&workspace_root().join("app")).unwrap();
    let needed = fields::rule_fields(&content);
    for field in [
        "process_name",
        "original_file_name",
        "process",
        "dest",
        "user",
    ] {
        assert!(needed.contains(field), "{field} missing from {needed:?}");
    }
    assert!(
        !needed.contains("firstTime"),
        "computed fields are not data-model fields"
    );
    let ours = read_conf(&workspace_root().join("default/savedsearches.conf"));
    let combined = stanza(&ours, &savedsearches::combined_stanza_name());
    let search = combined.get("search").unwrap();
    assert_eq!(search.matches("| tstats").count(), 1);
    let by_clause = search
        .split(" by ")
        .nth(1)
        .unwrap()
        .split(" | ")
        .next()
        .unwrap();
    let by: std::collections::BTreeSet<String> = by_clause
        .split_whitespace()
        .map(|f| f.strip_prefix("Processes.").unwrap().to_string())
        .collect();
    assert_eq!(by, needed);
    assert!(search.contains("| netdiscover mode=risk |"));
    assert_eq!(combined.get("disabled"), Some("1"));
    assert_eq!(combined.get("action.risk"), Some("1"));
    assert_eq!(combined.get("action.risk.param._risk_score"), Some("0"));
    assert_eq!(
        combined.get("action.risk.param._risk_message"),
        Some("$risk_message$")
    );
    let risk: serde_json::Value =
        serde_json::from_str(combined.get("action.risk.param._risk").unwrap()).unwrap();
    let macros = read_conf(&workspace_root().join("default/macros.conf"));
    let router = stanza(&macros, "netdiscover_risk_object_fields")
        .get("definition")
        .unwrap();
    for entry in risk.as_array().unwrap() {
        let field = entry["risk_object_field"].as_str().unwrap();
        let kind = entry["risk_object_type"].as_str().unwrap();
        assert_eq!(field, format!("risk_object_{kind}"));
        assert!(router.contains(&format!("{field}=if(risk_object_type==\"{kind}\"")));
        assert_eq!(entry["risk_score"], 0);
        assert_eq!(
            entry["risk_message"], "$risk_message$",
            "ES 8 reads the message per entity"
        );
    }
    assert_eq!(combined.get("dispatch.earliest_time"), Some("-70m@m"));
}

#[test]
fn commands_searchbnf_and_meta_are_wired_for_the_chunked_command() {
    let commands = read_conf(&workspace_root().join("default/commands.conf"));
    let cmd = stanza(&commands, "netdiscover");
    assert_eq!(cmd.get("chunked"), Some("true"));
    assert_eq!(cmd.get("filename"), Some("netdiscover"));
    assert_eq!(
        cmd.get("local"),
        None,
        "local would be ignored under chunked = true"
    );
    let bnf = read_conf(&workspace_root().join("default/searchbnf.conf"));
    let command = stanza(&bnf, "netdiscover-command");
    assert_eq!(command.get("usage"), Some("public"));
    let description = command.get("description").unwrap();
    for option in [
        "mode=annotate",
        "mode=filter",
        "mode=risk",
        "rule=",
        "type=",
        "story=",
    ] {
        assert!(
            description.contains(option),
            "searchbnf does not document {option}"
        );
    }
    let examples: Vec<&str> = command
        .entries
        .iter()
        .filter(|(k, _)| k.starts_with("example"))
        .map(|(_, v)| v.as_str())
        .collect();
    for option in ["mode=filter", "mode=risk", "rule=", "type=", "story="] {
        assert!(
            examples.iter().any(|e| e.contains(option)),
            "no searchbnf example uses {option}"
        );
    }
    let options = stanza(&bnf, "netdiscover-options").get("syntax").unwrap();
    assert!(command
        .get("syntax")
        .unwrap()
        .contains("<netdiscover-options>"));
    for option in netdiscover::cli::command::VALID_OPTIONS.split(", ") {
        let key = option.split('=').next().unwrap();
        assert!(
            options.contains(&format!("{key}=")),
            "searchbnf syntax lacks {key}="
        );
    }
    assert!(options.contains("mode=(annotate|filter|risk)"));
    let meta = read_conf(&workspace_root().join("app/metadata/default.meta"));
    let global = stanza(&meta, "");
    assert_eq!(global.get("export"), Some("system"));
    assert_eq!(
        global.get("access"),
        Some("read : [ * ], write : [ admin, sc_admin ]")
    );
}

#[test]
fn icons_are_pngs_of_the_sizes_splunk_expects() {
    for (file, size) in [("appIcon.png", 36u32), ("appIcon_2x.png", 72)] {
        let bytes = std::fs::read(workspace_root().join("app/static").join(file)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[12..16], b"IHDR");
        assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), size);
        assert_eq!(u32::from_be_bytes(bytes[20..24].try_into().unwrap()), size);
    }
}

/// A scratch `app/` tree holding the shipped YAML, for tests that break one file.
fn scratch_app() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    for dir in ["detections/endpoint", "macros", "schedules"] {
        let src = workspace_root().join("app").join(dir);
        let dst = tmp.path().join("app").join(dir);
        std::fs::create_dir_all(&dst).unwrap();
        for entry in std::fs::read_dir(src).unwrap() {
            let entry = entry.unwrap();
            if entry.path().is_file() {
                std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
            }
        }
    }
    let tactics = "app/mitre_tactics.yml";
    std::fs::copy(workspace_root().join(tactics), tmp.path().join(tactics)).unwrap();
    tmp
}

#[test]
fn bad_yaml_is_reported_with_its_file_and_what_is_wrong() {
    let tmp = scratch_app();
    let netsh = tmp
        .path()
        .join("app/detections/endpoint/windows_proxy_via_netsh.yml");
    let text = std::fs::read_to_string(&netsh).unwrap();

    // A block the renderer would lose is refused, naming it.
    std::fs::write(
        &netsh,
        text.replace("\nintermediate_findings:", "\nintermediate_finding:"),
    )
    .unwrap();
    let err = render::render_all(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("windows_proxy_via_netsh.yml"), "{err}");
    assert!(err.contains("`intermediate_finding`"), "{err}");

    std::fs::write(
        &netsh,
        text.replace(
            "modification_date: '2026-05-13'",
            "modification_date: 'May 2nd'",
        ),
    )
    .unwrap();
    let err = render::render_all(tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains("windows_proxy_via_netsh.yml") && err.contains("YYYY-MM-DD"),
        "{err}"
    );

    std::fs::write(&netsh, text.replace("T1090.001", "T9999")).unwrap();
    let err = render::render_all(tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains("no ATT&CK tactics for T9999 in app/mitre_tactics.yml"),
        "{err}"
    );

    std::fs::write(&netsh, "name: [unclosed").unwrap();
    let err = render::render_all(tmp.path()).unwrap_err().to_string();
    assert!(
        err.contains("windows_proxy_via_netsh.yml") && err.contains("invalid YAML"),
        "{err}"
    );

    std::fs::write(&netsh, text.replace("type: Anomaly", "type: Baseline")).unwrap();
    let err = render::render_all(tmp.path()).unwrap_err().to_string();
    assert!(err.contains("type \"Baseline\" is not"), "{err}");
}
