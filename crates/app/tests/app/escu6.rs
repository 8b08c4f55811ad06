//! ESCU 6 rendering against contentctl-ng 1.1.1's own output: every stanza of
//! `fixtures/contentctl-ng-1.1.1/expected.conf` (recorded once with contentctl-ng's renderer;
//! its README has the command) equals ours byte for byte, for the two shipped seeds, two
//! ESCU 6 corpus rules (read in place from ../shared) and two hand-written ones.

use netdiscover_app::model::{Content, Detection, Loaded, MitreTactics};
use netdiscover_app::savedsearches::{detection_entries, stanza_name};
use std::path::{Path, PathBuf};

use crate::support::{shared, workspace_root};

fn fixture(rel: &str) -> PathBuf {
    workspace_root()
        .join("crates/app/tests/app/fixtures/contentctl-ng-1.1.1")
        .join(rel)
}

/// The app's content with the fixture's ATT&CK tactics (for the techniques of all six rules).
fn content() -> Content {
    let mut content = Content::load(&workspace_root().join("app")).expect("app content");
    let tactics = std::fs::read_to_string(fixture("tactics.json")).expect("tactics.json");
    content.mitre_tactics = serde_json::from_str::<MitreTactics>(&tactics).expect("tactics");
    content
}

fn load(path: &Path) -> Loaded<Detection> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Loaded {
        path: path.to_path_buf(),
        item: Detection::parse(path, &text).unwrap_or_else(|e| panic!("{e}")),
    }
}

/// Our stanza, serialised as contentctl-ng's `ConfStanza.serialize_to_stanza` does.
fn ours(content: &Content, path: &Path) -> String {
    let loaded = load(path);
    let entries = detection_entries(content, &loaded).unwrap_or_else(|e| panic!("{e}"));
    let mut out = format!("[{}]\n", stanza_name(&loaded.item.meta.name));
    for (k, v) in entries {
        out.push_str(&format!("{k} = {v}\n"));
    }
    out
}

/// contentctl-ng's stanza `[name]` from the recording (it ends with one newline).
fn theirs(name: &str) -> String {
    let text = std::fs::read_to_string(fixture("expected.conf")).expect("expected.conf");
    let start = text
        .find(&format!("[{name}]\n"))
        .unwrap_or_else(|| panic!("[{name}] is not in expected.conf"));
    let end = text[start..]
        .find("\n\n")
        .map_or(text.len(), |e| start + e + 1);
    text[start..end].to_string()
}

fn assert_same(content: &Content, path: &Path) {
    let ours = ours(content, path);
    let name = ours[1..ours.find(']').expect("stanza header")].to_string();
    let theirs = theirs(&name);
    for (o, t) in ours.lines().zip(theirs.lines()) {
        assert_eq!(o, t, "[{name}] differs from contentctl-ng");
    }
    assert_eq!(ours, theirs, "[{name}] differs from contentctl-ng");
}

#[test]
fn shipped_seeds_render_as_contentctl_ng_renders_them() {
    let content = content();
    for seed in [
        "network_connection_discovery_with_netstat.yml",
        "windows_proxy_via_netsh.yml",
    ] {
        assert_same(
            &content,
            &workspace_root().join("app/detections/endpoint").join(seed),
        );
    }
}

#[test]
fn hand_written_ttp_and_correlation_render_as_contentctl_ng_renders_them() {
    let content = content();
    for file in [
        "certutil_decode_experimental.yml",
        "lateral_movement_correlation.yml",
    ] {
        assert_same(&content, &fixture(file));
    }
}

#[test]
fn escu6_corpus_ttps_render_as_contentctl_ng_renders_them() {
    let content = content();
    for file in ["bits_job_persistence.yml", "spoolsv_spawning_rundll32.yml"] {
        let Some(path) = shared(&format!("escu6_corpus/detections/{file}")) else {
            return;
        };
        assert_same(&content, &path);
    }
}

#[test]
fn the_shipped_savedsearches_conf_holds_the_seed_stanzas_contentctl_ng_writes() {
    let shipped = std::fs::read_to_string(workspace_root().join("default/savedsearches.conf"))
        .expect("savedsearches.conf");
    for name in [
        "Network Connection Discovery With Netstat",
        "Windows Proxy Via Netsh",
    ] {
        let stanza = theirs(&stanza_name(name));
        assert!(
            shipped.contains(&stanza),
            "[{name}] is not shipped as contentctl-ng writes it"
        );
    }
}
