//! Expands the PATH arguments (files, directories, globs) into the list of files to read.

use std::path::{Path, PathBuf};

/// The files named by the arguments, in argument order; directories are walked
/// recursively in sorted order. Inside directories, hidden entries and documentation
/// (`*.md`, `*.txt`) are passed over, so a directory of exports with a README scans
/// cleanly; a file named explicitly is always read. Problems (a path that does not exist,
/// a bad glob, an unreadable directory) are returned alongside.
pub(super) fn expand(args: &[PathBuf]) -> (Vec<PathBuf>, Vec<String>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for arg in args {
        let text = arg.to_string_lossy();
        if !arg.exists() && text.contains(['*', '?', '[']) {
            match glob::glob(&text) {
                Ok(matches) => {
                    let mut any = false;
                    for entry in matches {
                        any = true;
                        match entry {
                            Ok(path) => add(&path, true, &mut files, &mut problems),
                            Err(e) => {
                                problems.push(format!("{}: {}", e.path().display(), e.error()))
                            }
                        }
                    }
                    if !any {
                        problems.push(format!("{text}: no file matches this pattern"));
                    }
                }
                Err(e) => problems.push(format!("{text}: bad pattern: {e}")),
            }
        } else {
            add(arg, true, &mut files, &mut problems);
        }
    }
    (files, problems)
}

fn add(path: &Path, explicit: bool, files: &mut Vec<PathBuf>, problems: &mut Vec<String>) {
    if path.is_dir() {
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) => {
                problems.push(format!("{}: cannot list directory: {e}", path.display()));
                return;
            }
        };
        let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        children.sort();
        for child in children {
            if !is_ignored(&child) {
                add(&child, false, files, problems);
            }
        }
    } else if path.is_file() || (explicit && path.exists()) {
        files.push(path.to_path_buf());
    } else if explicit {
        problems.push(format!("{}: no such file or directory", path.display()));
    }
}

/// Entries a directory walk passes over.
fn is_ignored(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    if name.starts_with('.') {
        return true;
    }
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".md") || lower.ends_with(".txt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_directories_and_globs_skipping_docs_and_hidden_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("sub")).unwrap();
        for name in [
            "a.xml",
            "README.md",
            ".hidden.json",
            "sub/b.evtx",
            "sub/notes.txt",
        ] {
            std::fs::write(root.join(name), b"x").unwrap();
        }
        let (files, problems) = expand(&[root.to_path_buf()]);
        assert_eq!(files, vec![root.join("a.xml"), root.join("sub/b.evtx")]);
        assert!(problems.is_empty());
        let (files, _) = expand(&[root.join("*.md")]);
        assert_eq!(files, vec![root.join("README.md")]);
        let (files, problems) = expand(&[root.join("missing.xml"), root.join("*.nothing")]);
        assert!(files.is_empty());
        assert_eq!(problems.len(), 2);
    }
}
