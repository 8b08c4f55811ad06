//! The fast YAML reader (`parse_block_yaml`, what rule loading parses rule files with) against
//! `serde_yaml` on every YAML file of `../shared`: where it reads a file it gives the same
//! value, and it reads nearly all of them (the rest fall back to `serde_yaml`).

use std::path::PathBuf;

use netdiscover::rules::parse_block_yaml;

use crate::support::rules::Rng;
use crate::support::shared;

fn yaml_files(dir: PathBuf, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(&dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            yaml_files(path, out);
        } else if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            out.push(path);
        }
    }
}

#[test]
fn reads_every_shared_yaml_file_as_serde_yaml_does() {
    let Some(root) = shared("") else { return };
    let mut files = Vec::new();
    yaml_files(root, &mut files);
    files.sort();
    assert!(files.len() > 3000, "{} YAML files", files.len());
    let (mut taken, mut both_fail) = (0, 0);
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        let slow = serde_yaml::from_str::<serde_yaml::Value>(&text).ok();
        match parse_block_yaml(&text) {
            Some(fast) => {
                assert_eq!(Some(&fast), slow.as_ref(), "{}", file.display());
                taken += 1;
            }
            None => both_fail += usize::from(slow.is_none()),
        }
    }
    let declined = files.len() - taken;
    eprintln!(
        "{taken} of {} YAML files read fast; {declined} left to serde_yaml ({both_fail} it refuses too)",
        files.len()
    );
    assert!(
        taken * 100 >= files.len() * 99,
        "only {taken} of {}",
        files.len()
    );
}

/// Damaged copies of real rule files (a character deleted, doubled or replaced by one that
/// matters to YAML, a line's indentation changed): whatever the fast reader takes, it reads
/// as `serde_yaml` does; what `serde_yaml` refuses, it never takes.
#[test]
fn damaged_rule_files_are_read_as_serde_yaml_reads_them_or_left_to_it() {
    let (Some(escu), Some(sigma)) = (
        shared("escu/corpus/detections"),
        shared("sigma_corpus/rules/windows/process_creation"),
    ) else {
        return;
    };
    let mut files = Vec::new();
    yaml_files(escu, &mut files);
    yaml_files(sigma, &mut files);
    files.sort();
    let seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rng = Rng(seed);
    let mut next = |bound: usize| rng.next(bound.max(1));
    let (mut checked, mut refused) = (0, 0);
    for file in files.iter().step_by(7) {
        let text = std::fs::read_to_string(file).expect("read");
        for _ in 0..40 {
            let mut bytes = text.clone().into_bytes();
            let at = next(bytes.len());
            match next(4) {
                0 => {
                    bytes.remove(at);
                }
                1 => bytes.insert(at, bytes[at]),
                2 => {
                    let special = b"'\":-# |>[{&*!\n";
                    bytes[at] = special[next(special.len())];
                }
                _ => {
                    let line = text.as_bytes()[..at]
                        .iter()
                        .rposition(|&b| b == b'\n')
                        .map_or(0, |n| n + 1);
                    bytes.insert(line, b' ');
                }
            }
            let Ok(damaged) = String::from_utf8(bytes) else {
                continue;
            };
            let slow = serde_yaml::from_str::<serde_yaml::Value>(&damaged).ok();
            refused += usize::from(slow.is_none());
            if let Some(fast) = parse_block_yaml(&damaged) {
                assert_eq!(Some(&fast), slow.as_ref(), "{}:\n{damaged}", file.display());
            }
            checked += 1;
        }
    }
    assert!(checked > 8_000 && refused > 1_000, "{checked} {refused}");
}

/// Scalars as they may follow `key: ` or `- `: the pieces YAML reads differently (` #`,
/// `: `, quotes and their escapes, words that resolve to numbers, booleans or null).
const SCALARS: [&str; 36] = [
    "plain",
    "two words",
    "a#b",
    "x #c",
    "'q''s'",
    "''",
    "\"d\\\"e\"",
    "\"\\x41\\u00e9\"",
    "\"a\\\\b\"",
    "\"tab\\tx\"",
    "[]",
    "{}",
    "[a]",
    "1",
    "012",
    "1.5e3",
    "true",
    "Null",
    "~",
    "-x",
    ":x",
    "C:\\Win\\",
    "a: b",
    "x:",
    "http://h:80/p",
    "sp  ",
    "'a' #c",
    "'a'b",
    "-",
    "?x",
    "%x",
    "@x",
    "a\\b",
    "'open",
    "\"open",
    "'it''s' ",
];

/// Appends a random block node (a mapping or a sequence) at column `indent`.
fn block_node(dice: &mut Rng, indent: usize, depth: usize, out: &mut String) {
    let sequence = dice.next(3) == 0;
    for _ in 0..1 + dice.next(4) {
        noise(dice, indent, out);
        out.push_str(&" ".repeat(indent));
        out.push_str(if sequence {
            "- "
        } else {
            dice.pick(&["key", "k2", "a b", "k-3", "x.y"])
        });
        if !sequence {
            out.push_str(dice.pick(&[": ", ":", ":  "]));
        }
        entry_value(dice, indent, depth, out);
    }
}

/// The rest of an entry's line and the lines its value goes on.
fn entry_value(dice: &mut Rng, indent: usize, depth: usize, out: &mut String) {
    let deeper = indent + 1 + dice.next(4);
    match dice.next(8) {
        0 | 1 if depth < 3 => {
            out.push_str(dice.pick(&["", " # c", ""]));
            out.push('\n');
            block_node(dice, deeper, depth + 1, out);
        }
        2 => {
            out.push_str(dice.pick(&["|", "|-", ">", ">-", "|+", "|2", "| #c"]));
            out.push('\n');
            for _ in 0..1 + dice.next(3) {
                let extra = dice.next(3) / 2 * 2;
                out.push_str(&" ".repeat(deeper + extra));
                out.push_str(dice.pick(&["text", "more  words", "# not a comment", "a: b"]));
                out.push_str(dice.pick(&["\n", "\n", "\n\n"]));
            }
        }
        3 => {
            out.push_str(dice.pick(&["first", "'first", "\"first", "\"first\\"]));
            out.push('\n');
            out.push_str(&" ".repeat(deeper));
            out.push_str(dice.pick(&["goes on", "end'", "end\"", "x # c", "- y", "k: v"]));
            out.push('\n');
        }
        _ => {
            out.push_str(dice.pick(&SCALARS));
            out.push('\n');
        }
    }
}

/// Now and then a blank or comment line, at any column.
fn noise(dice: &mut Rng, indent: usize, out: &mut String) {
    match dice.next(10) {
        0 => out.push('\n'),
        1 => out.push_str(&format!("{}# note\n", " ".repeat(dice.next(indent + 3)))),
        _ => {}
    }
}

/// Documents put together at random from block mappings and sequences at random columns,
/// with the scalars and headers YAML reads differently, then at times one line's column
/// moved: whatever the fast reader takes, it reads as `serde_yaml` does. Unlike damaged rule
/// files these reach shapes no rule file in `../shared` has.
#[test]
fn generated_documents_are_read_as_serde_yaml_reads_them_or_left_to_it() {
    let mut dice = Rng(0x2545_f491_4f6c_dd1d);
    let (mut taken, mut refused) = (0, 0);
    for _ in 0..60_000 {
        let mut doc = String::from(dice.pick(&["", "", "---\n", "--- # c\n"]));
        block_node(&mut dice, 0, 0, &mut doc);
        if dice.next(3) == 0 {
            let lines: Vec<&str> = doc.lines().collect();
            let moved = dice.next(lines.len());
            let shift = dice.pick(&["", " ", "  "]);
            doc = lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    if i == moved {
                        format!("{shift}{}\n", l.trim_start())
                    } else {
                        format!("{l}\n")
                    }
                })
                .collect();
        }
        let slow = serde_yaml::from_str::<serde_yaml::Value>(&doc).ok();
        refused += usize::from(slow.is_none());
        if let Some(fast) = parse_block_yaml(&doc) {
            assert_eq!(Some(&fast), slow.as_ref(), "{doc}");
            taken += 1;
        }
    }
    eprintln!("{taken} generated documents read fast, {refused} refused by serde_yaml");
    assert!(taken > 5_000 && refused > 5_000, "{taken} {refused}");
}
