//! The fast YAML reader (`parse_block_yaml`, what rule loading parses rule files with) against
//! `serde_yaml` on every YAML file of `../shared`: where it reads a file it gives the same
//! value, and it reads nearly all of them (the rest fall back to `serde_yaml`).

use std::path::PathBuf;

use netdiscover::rules::parse_block_yaml;

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
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |bound: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % bound.max(1) as u64) as usize
    };
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
