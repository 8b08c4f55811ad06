//! ESCU 6 (`finding` / `intermediate_findings` / `threat_objects`) against the v5 `rba:`
//! schema, over every rule of `../shared/escu/corpus` (v5.13.0) and
//! `../shared/escu6_corpus` (the same 443 detections ported by contentctl-ng 1.1.1's porter):
//! one rule model, the same annotations on every row, and ESCU 6's search layout (`|-` blocks,
//! upper-case `FROM`/`WHERE`/`BY`) compiled exactly like the one-line v5 search.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::support::rules::*;
use crate::support::shared;
use netdiscover::rules::{
    parse_doc, rule_meta, Annotation, EscuSchema, Matcher, OwnedRow, Place, RuleMeta, RuleSet,
    Selected, Selection,
};

/// `(v5 corpus, ESCU 6 corpus)`: detections and macros of each.
fn corpora() -> Option<([PathBuf; 2], [PathBuf; 2])> {
    let v5 = [
        shared("escu/corpus/detections")?,
        shared("escu/corpus/macros")?,
    ];
    let v6 = [
        shared("escu6_corpus/detections")?,
        shared("escu6_corpus/macros")?,
    ];
    Some((v5, v6))
}

fn yaml_files(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .expect("detections dir")
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(e.path()).expect("read"))
        })
        .collect()
}

fn meta_of(text: &str, file: &str) -> RuleMeta {
    let (meta, ignored) = rule_meta(&parse_doc(text).expect("yaml")).expect("meta");
    assert!(ignored.is_empty(), "{file}: {ignored:?}");
    meta
}

#[test]
fn every_v5_rule_and_its_escu6_port_read_into_the_same_model() {
    let Some(([v5, _], [v6, _])) = corpora() else {
        return;
    };
    let (old, new) = (yaml_files(&v5), yaml_files(&v6));
    assert_eq!(old.len(), 443);
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        new.keys().collect::<Vec<_>>()
    );
    let mut by_type: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for (file, text) in &old {
        let mut a = meta_of(text, file);
        let b = meta_of(&new[file], file);
        assert_eq!(a.escu_schema(), Some(EscuSchema::V5), "{file}");
        assert_eq!(b.escu_schema(), Some(EscuSchema::V6), "{file}");
        a.origin = b.origin;
        assert_eq!(a, b, "{file}");
        let counts = by_type.entry(b.kind.clone()).or_default();
        counts[0] += 1;
        counts[1] += usize::from(b.finding.is_some());
        counts[2] += b.intermediate_findings.len();
    }
    println!("type: rules, with a finding, intermediate findings: {by_type:?}");
    assert_eq!(by_type["TTP"][..2], [250, 250], "every TTP has a finding");
    assert_eq!(by_type["Anomaly"][..2], [135, 0], "no Anomaly has one");
    assert_eq!(by_type["Hunting"], [58, 0, 0], "Hunting carries no risk");
}

/// A row holding a distinct value in every field the rules read; with `multi`, two values
/// in each; with `sparse`, only every other field.
fn synthetic_row(set: &RuleSet, multi: bool, sparse: bool) -> OwnedRow {
    let mut r = OwnedRow::with_slots(set.fields().len());
    for (slot, name) in set.fields().iter().enumerate() {
        if sparse && slot % 2 == 1 {
            continue;
        }
        let mut values = vec![format!("{name}-value").into_bytes()];
        if multi {
            values.push(format!("second {name}").into_bytes());
        }
        r.set(slot, values);
    }
    r
}

/// A row built from a rule's required literals (each in its slot): often enough to fire it.
fn literal_row(set: &RuleSet, rule: usize) -> Option<OwnedRow> {
    let selection = Selection {
        rules: vec![set.rules()[rule].meta.id.clone()],
        ..Default::default()
    };
    let selected = set.select(&selection).ok()?;
    let literals = set.required_literals(&selected)?;
    let mut by_slot: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
    for l in literals {
        let values = by_slot.entry(l.slot).or_default();
        if l.place == Place::Whole || values.is_empty() {
            values.push(l.bytes.clone());
        } else {
            // Several substrings of one field: all of them in one value, too.
            values[0].extend_from_slice(b" ");
            values[0].extend_from_slice(&l.bytes);
        }
    }
    let mut r = OwnedRow::with_slots(set.fields().len());
    for (slot, values) in by_slot {
        r.set(slot, values);
    }
    Some(r)
}

fn both_annotate_alike(v5: &RuleSet, v6: &RuleSet, matched: &[usize], r: &OwnedRow) {
    let (a, b): (Annotation, Annotation) = (v5.annotate(matched, r), v6.annotate(matched, r));
    assert_eq!(a, b, "{:?}", matched.first().map(|&i| &v5.rules()[i].path));
    assert_eq!(v5.risk_events(matched, r), v6.risk_events(matched, r));
}

#[test]
fn every_v5_rule_and_its_escu6_port_annotate_every_row_alike() {
    let Some(([d5, m5], [d6, m6])) = corpora() else {
        return;
    };
    let (v5, w5) = RuleSet::load(&[m5, d5]);
    let (v6, w6) = RuleSet::load(&[m6, d6]);
    assert_eq!(w5.iter().filter(|w| !w.skips_rule()).count(), 0, "{w5:?}");
    assert_eq!(w6.iter().filter(|w| !w.skips_rule()).count(), 0, "{w6:?}");
    assert_eq!(v5.len(), 399);
    assert_eq!(v5.len(), v6.len());
    assert_eq!(
        v5.fields(),
        v6.fields(),
        "the same searches read the same fields"
    );
    let ids = |s: &RuleSet| {
        s.rules()
            .iter()
            .map(|r| r.meta.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&v5), ids(&v6));

    // Every compiled rule on common synthetic rows, alone and all together.
    let rows: Vec<OwnedRow> = [(false, false), (true, false), (false, true)]
        .iter()
        .map(|&(multi, sparse)| synthetic_row(&v5, multi, sparse))
        .collect();
    let all: Vec<usize> = (0..v5.len()).collect();
    let mut annotated = 0;
    for r in &rows {
        for i in 0..v5.len() {
            both_annotate_alike(&v5, &v6, &[i], r);
            annotated += 1;
        }
        both_annotate_alike(&v5, &v6, &all, r);
    }

    // Rows that make rules fire: each rule's required literals, and every real process event
    // of ../shared/datasets (XML and bulk).
    let (mut m5, mut m6) = (Matcher::new(&v5), Matcher::new(&v6));
    let (sel5, sel6) = (Selected::all(&v5), Selected::all(&v6));
    let mut fired = std::collections::BTreeSet::new();
    let mut check = |r: &OwnedRow, fired: &mut std::collections::BTreeSet<usize>| {
        let a = m5.match_row(&v5, &sel5, r).to_vec();
        let b = m6.match_row(&v6, &sel6, r).to_vec();
        assert_eq!(a, b, "the same rules fire");
        if !a.is_empty() {
            both_annotate_alike(&v5, &v6, &a, r);
            fired.extend(a);
        }
    };
    for i in 0..v5.len() {
        if let Some(r) = literal_row(&v5, i) {
            check(&r, &mut fired);
        }
    }
    let literal_fired = fired.len();
    let mut real_rows = 0;
    if let Some(datasets) = shared("datasets") {
        for file in xml_dataset_files(&datasets) {
            for e in process_events(&read_text(&file)) {
                check(&e.to_row(&v5), &mut fired);
                real_rows += 1;
            }
        }
    }
    println!(
        "{} rules × {} synthetic rows annotated alike ({annotated} annotations); \
         {literal_fired} rules fired on rows built from their literals, {} after \
         {real_rows} real process rows, every firing annotated alike",
        v5.len(),
        rows.len(),
        fired.len()
    );
    // Floors, not exact counts. Since the search language reads OR before AND
    // (docs/spl-fidelity.md), a rule such as `parent=w3wp.exe `process_cmd` OR ...` no longer
    // fires on its anchor literal alone, nor on every PowerShell row: 48 and 195 here.
    assert!(literal_fired >= 45, "{literal_fired}");
    assert!(real_rows == 0 || fired.len() >= 190, "{}", fired.len());
}

/// A search in ESCU 6's layout (docs/escu6-and-es8.md §0.5, SC6 `windows_proxy_via_netsh.yml`):
/// every pipe on a new line, the `tstats` keywords upper-case on lines of their own, the
/// by-clause wrapped. Only text outside quotes, backticks and brackets changes.
fn escu6_layout(search: &str) -> String {
    let mut out = String::new();
    let (mut quote, mut tick, mut depth) = (false, false, 0usize);
    let (mut stage, mut by_fields) = (0usize, None::<usize>);
    let chars: Vec<char> = search.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let plain = !quote && !tick && depth == 0;
        if plain && c == '|' && i > 0 {
            out.truncate(out.trim_end().len());
            out.push('\n');
            stage += 1;
            by_fields = None;
        }
        if plain && stage == 0 && (i == 0 || chars[i - 1].is_whitespace()) {
            let word: String = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .collect();
            let next = chars.get(i + word.len()).copied().unwrap_or(' ');
            let keyword = ["from", "where", "by"].contains(&word.to_ascii_lowercase().as_str());
            if keyword && next.is_whitespace() {
                if word.eq_ignore_ascii_case("where") || word.eq_ignore_ascii_case("by") {
                    out.truncate(out.trim_end().len());
                    out.push_str("\n  ");
                }
                out.push_str(&word.to_ascii_uppercase());
                by_fields = word.eq_ignore_ascii_case("by").then_some(0);
                i += word.len();
                continue;
            }
            if let Some(n) = by_fields.as_mut() {
                if *n > 0 && *n % 4 == 0 {
                    out.truncate(out.trim_end().len());
                    out.push_str("\n     ");
                }
                *n += 1;
            }
        }
        match c {
            '"' if !tick && (i == 0 || chars[i - 1] != '\\') => quote = !quote,
            '`' if !quote => tick = !tick,
            '[' if !quote && !tick => depth += 1,
            ']' if !quote && !tick => depth = depth.saturating_sub(1),
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The rule file with its search as an ESCU 6 `|-` block (4-space indentation).
fn with_block_search(text: &str, search: &str) -> String {
    let mut doc: serde_yaml::Mapping = serde_yaml::from_str(text).expect("yaml");
    doc.remove("search");
    let mut out = serde_yaml::to_string(&doc).expect("yaml");
    out.push_str("search: |-\n");
    for line in search.lines() {
        out.push_str("    ");
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[test]
fn escu6_search_layout_compiles_like_the_one_line_v5_search() {
    assert_eq!(
        escu6_layout("| tstats count from datamodel=Endpoint.Processes where Processes.process=\"a | b where by\" `m(x)` by Processes.dest Processes.user | `f`"),
        "| tstats count FROM datamodel=Endpoint.Processes\n  WHERE Processes.process=\"a | b where by\" `m(x)`\n  BY Processes.dest Processes.user\n| `f`"
    );
    let Some(([d5, m5], _)) = corpora() else {
        return;
    };
    let files = yaml_files(&d5);
    let tmp = tempfile::tempdir().expect("tempdir");
    for (file, text) in &files {
        let search = parse_doc(text).expect("yaml").search.expect("search");
        let layout = escu6_layout(search.trim());
        assert!(layout.contains('\n'), "{file}");
        let rewritten = with_block_search(text, &layout);
        assert_eq!(
            parse_doc(&rewritten).expect("yaml").search.as_deref(),
            Some(layout.as_str()),
            "{file}: the |- block reads back"
        );
        std::fs::write(tmp.path().join(file), rewritten).expect("write");
    }
    let (v5, w5) = RuleSet::load(&[m5.clone(), d5]);
    let (v6, w6) = RuleSet::load(&[m5, tmp.path().to_path_buf()]);
    let ids = |s: &RuleSet| {
        s.rules()
            .iter()
            .map(|r| r.meta.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&v5), ids(&v6), "the same rules compile");
    assert_eq!(w5.len(), w6.len(), "and the same are skipped");
    assert_eq!(v5.len(), v6.len());
    assert_eq!(v5.fields(), v6.fields());
    let rows: Vec<OwnedRow> = [(false, false), (true, false), (false, true)]
        .iter()
        .map(|&(multi, sparse)| synthetic_row(&v5, multi, sparse))
        .collect();
    let (mut a, mut b) = (Matcher::new(&v5), Matcher::new(&v6));
    let all = Selected::all(&v5);
    for i in 0..v5.len() {
        let mut rows = rows.clone();
        rows.extend(literal_row(&v5, i));
        for r in &rows {
            assert_eq!(a.match_row(&v5, &all, r), b.match_row(&v6, &all, r));
            both_annotate_alike(&v5, &v6, &[i], r);
        }
    }
    println!(
        "{} searches rewritten to the ESCU 6 layout: {} compile, matching and annotating alike",
        files.len(),
        v6.len()
    );
}

const V6_TTP: &str = "name: Certutil Decode
id: 7d1c5d7e-0c7a-4c1e-9a51-0b6c0d3f4e21
creation_date: '2026-05-13'
modification_date: '2026-05-13'
type: TTP
search: |-
    | tstats count FROM datamodel=Endpoint.Processes
      WHERE Processes.process_name=certutil.exe Processes.process=\"*-decode*\"
      BY Processes.dest Processes.user Processes.process
    | `drop_dm_object_name(Processes)`
finding:
    title: certutil decoded $process$ on $dest$
    entity: {field: user, type: user, score: 50}
intermediate_findings:
    entities:
        - {field: dest, type: system, score: 50, message: certutil decoded $process$ on $dest$}
analytic_story: [My Story]
mitre_attack_id: [T1140]
";

#[test]
fn unknown_keys_and_unusable_blocks_load_with_a_warning_naming_file_rule_and_key() {
    let typo = V6_TTP
        .replace("intermediate_findings:", "intermediate_finding:")
        .replace("score: 50}\nint", "score: 50, scor: 9}\nint");
    let hunting = "name: Hunt\nid: 5\ntype: Hunting\nsearch: '| tstats count from datamodel=Endpoint.Processes where Processes.process_name=x.exe by Processes.dest'\nrba:\n  message: m\n  risk_objects: [{field: dest, type: system, score: 5}]\ntags:\n  analytic_story: [S]\n";
    let dir = rule_dir(&[("typo.yml", typo.as_str()), ("hunt.yml", hunting)]);
    let (set, warnings) = RuleSet::load(&[dir.path().to_path_buf()]);
    assert_eq!(set.len(), 2, "both rules still load: {warnings:?}");
    let lines: Vec<String> = warnings.iter().map(ToString::to_string).collect();
    for line in &lines {
        println!("{line}");
    }
    assert!(warnings.iter().all(|w| !w.skips_rule()));
    let expect = [
        ("hunt.yml", "Hunt", "`rba`"),
        ("typo.yml", "Certutil Decode", "`intermediate_finding`"),
        ("typo.yml", "Certutil Decode", "`finding.entity.scor`"),
    ];
    assert_eq!(lines.len(), expect.len(), "{lines:?}");
    for (file, rule, key) in expect {
        assert!(
            lines.iter().any(|l| l.starts_with("ignored: ")
                && l.contains(file)
                && l.contains(&format!("rule `{rule}`"))
                && l.contains(key)),
            "{file} {rule} {key}: {lines:?}"
        );
    }
    // The intermediate finding was lost to the typo, and nothing else.
    let meta = &set
        .rules()
        .iter()
        .find(|r| r.meta.name == "Certutil Decode")
        .unwrap()
        .meta;
    assert!(meta.intermediate_findings.is_empty() && meta.finding.is_some());

    // `coverage --strict` makes them errors.
    let report = netdiscover::rules::coverage_with(dir.path(), &[], true);
    assert_eq!(report.ignored(), 3);
    assert_eq!(report.compiled(), 0, "{report}");
    let lenient = netdiscover::rules::coverage_with(dir.path(), &[], false);
    assert_eq!(lenient.compiled(), 2);
    let run = |args: &[&str]| {
        crate::support::command(crate::support::netdiscover_exe())
            .arg("coverage")
            .args(args)
            .arg(dir.path())
            .output()
            .expect("run netdiscover")
    };
    let strict = run(&["--strict"]);
    assert_eq!(strict.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&strict.stdout);
    assert!(
        stdout.contains("`intermediate_finding`: not a key of any ESCU detection schema"),
        "{stdout}"
    );
    assert_eq!(run(&[]).status.code(), Some(0));
}

#[test]
fn a_v6_rule_annotates_its_finding_and_intermediate_findings() {
    let dir = rule_dir(&[("r.yml", V6_TTP)]);
    let (set, warnings) = RuleSet::load(&[dir.path().to_path_buf()]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let r = row(
        &set,
        &[
            ("process_name", &["certutil.exe"]),
            ("process", &["certutil -decode a b"]),
            ("dest", &["ws1"]),
            ("user", &["bob"]),
        ],
    );
    let matched = Matcher::new(&set)
        .match_row(&set, &Selected::all(&set), &r)
        .to_vec();
    assert_eq!(matched, [0]);
    let a = set.annotate(&matched, &r);
    let msg = "certutil decoded certutil -decode a b on ws1";
    assert_eq!(a.mitre_attack_id, ["T1140"]);
    assert_eq!(a.analytic_story, ["My Story"]);
    assert_eq!(a.risk_object, ["ws1", "bob"]);
    assert_eq!(a.risk_object_type, ["system", "user"]);
    assert_eq!(a.risk_score, ["50", "50"]);
    assert_eq!(a.risk_message, [msg, msg]);
    assert_eq!(a.finding_title, [msg]);
    let events = set.risk_events(&matched, &r);
    assert_eq!(events.len(), 2);
    assert!(
        events[0].finding_title.is_empty(),
        "dest: an intermediate finding"
    );
    assert_eq!(events[1].finding_title, [msg], "user: the finding");
}

/// The README's rule in each schema ("Adding your own rule"): all three load without a warning,
/// compile, and the v5 one is the ESCU 6 one (the v4 one too, apart from its computed score).
#[test]
fn the_readme_rule_in_each_schema_is_one_rule() {
    let readme = std::fs::read_to_string(crate::support::repo("README.md")).expect("README");
    let section = &readme[readme.find("#### Adding your own rule").expect("section")..];
    let mut blocks = section
        .split("```yaml\n")
        .skip(1)
        .map(|b| &b[..b.find("```").expect("end")]);
    let v6 = blocks.next().expect("ESCU 6 block").to_string();
    let older = blocks.next().expect("v5 and v4 block");
    let (v5_risk, v4_risk) = older.split_once("---\n").expect("two documents");
    let head = &v6[..v6.find("finding:").expect("finding")];
    let files = [
        ("v6.yml", v6.clone()),
        ("v5.yml", format!("{head}{v5_risk}")),
        ("v4.yml", format!("{head}{v4_risk}")),
    ];
    let metas: Vec<RuleMeta> = files
        .iter()
        .map(|(name, text)| {
            let dir = rule_dir(&[(name, text.as_str())]);
            let (set, warnings) = RuleSet::load(&[dir.path().to_path_buf()]);
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            assert_eq!(set.len(), 1, "{name} compiles");
            set.rules()[0].meta.clone()
        })
        .collect();
    let [v6, mut v5, mut v4] = <[RuleMeta; 3]>::try_from(metas).expect("three");
    assert_eq!(v4.escu_schema(), Some(EscuSchema::V4));
    v5.origin = v6.origin;
    assert_eq!(v5, v6, "the v5 rule is the ESCU 6 rule");
    let finding = v4.finding.as_mut().expect("v4 finding");
    assert_eq!(finding.entity.score.get(), 49);
    finding.entity.score = v6.finding.as_ref().expect("finding").entity.score;
    v4.intermediate_findings[0].entity.score = v6.intermediate_findings[0].entity.score;
    v4.origin = v6.origin;
    assert_eq!(
        v4, v6,
        "the v4 rule too, apart from round(70 * 70 / 100) = 49"
    );
}
