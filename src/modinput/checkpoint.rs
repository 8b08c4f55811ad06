//! Per-stanza progress on disk, written so that a crash at any instruction leaves either the
//! old state or the new one: temp file, fsync, rename over the old file, fsync the directory.
//!
//! The caller writes and flushes a batch of events before it saves the state that covers
//! them, so a crash can only repeat the last batch (at-least-once), never lose one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::source::Position;

pub const STATE_VERSION: u32 = 1;
const STATE_FILE: &str = "state.json";
const TEMP_FILE: &str = "state.json.tmp";

/// What is known about one followed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Path the file last had (informational; identity is `dev`/`ino` plus the head CRC).
    pub path: String,
    pub dev: u64,
    pub ino: u64,
    /// How many leading bytes `head_crc` covers.
    pub head_len: u64,
    /// CRC-32 of the first `head_len` bytes.
    pub head_crc: u32,
    /// Just after the last complete record delivered.
    pub position: Position,
    /// Whether `position.offset` is a byte offset (false: the reader resumes by record count,
    /// as for EVTX and gzip), so a file shorter than it is known to be truncated.
    #[serde(default = "yes")]
    pub resumes_by_offset: bool,
    /// Id of the last record delivered (record number or byte offset, as the reader gives it).
    pub last_record_id: Option<String>,
    /// The file's length when it was last read to its end (0: unknown or still being read).
    /// While the file keeps this length it needs no reading and is not even opened.
    #[serde(default)]
    pub size: u64,
    /// The file's modification time (ns since the epoch) when `size` was recorded; a file
    /// rewritten in place to the same length is told apart by it.
    #[serde(default)]
    pub mtime_ns: u64,
    /// Unix seconds when the file was last seen; entries unseen for long are dropped.
    pub last_seen: u64,
}

/// Everything saved for one stanza.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub stanza: String,
    pub files: Vec<FileState>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint directory {dir}: {source}")]
    Dir {
        dir: String,
        #[source]
        source: io::Error,
    },
    #[error("checkpoint {file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
}

/// The checkpoint of one stanza: `<checkpoint_dir>/<stanza key>/state.json`.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    stanza: String,
}

/// A directory name for a stanza: its name made filesystem-safe plus a CRC of the exact name,
/// so `a/b` and `a_b` do not share state. All stanzas of the scheme share `checkpoint_dir`.
pub fn stanza_key(stanza: &str) -> String {
    let readable: String = stanza
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    format!("{readable}-{:08x}", crc32fast::hash(stanza.as_bytes()))
}

impl Store {
    /// Creates the stanza's directory if needed.
    pub fn open(checkpoint_dir: &Path, stanza: &str) -> Result<Store, CheckpointError> {
        let dir = checkpoint_dir.join(stanza_key(stanza));
        fs::create_dir_all(&dir).map_err(|source| CheckpointError::Dir {
            dir: dir.display().to_string(),
            source,
        })?;
        Ok(Store {
            dir,
            stanza: stanza.to_string(),
        })
    }

    pub fn stanza(&self) -> &str {
        &self.stanza
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// Loads the saved state; no file means a fresh start. A file that cannot be parsed (only
    /// possible if something else wrote it) is set aside and reported, and reading starts
    /// over: duplicates are preferable to silently skipping data.
    pub fn load(&self) -> Result<(State, Option<String>), CheckpointError> {
        let path = self.state_path();
        let fresh = State {
            version: STATE_VERSION,
            stanza: self.stanza.clone(),
            files: Vec::new(),
        };
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((fresh, None)),
            Err(source) => {
                return Err(CheckpointError::Io {
                    file: path.display().to_string(),
                    source,
                })
            }
        };
        match serde_json::from_slice::<State>(&bytes) {
            Ok(state) if state.version == STATE_VERSION => Ok((state, None)),
            Ok(state) => Ok((
                fresh,
                Some(format!(
                    "checkpoint {} has version {}, expected {STATE_VERSION}; starting over",
                    path.display(),
                    state.version
                )),
            )),
            Err(e) => {
                let aside = self.dir.join(format!(
                    "state.json.unreadable-{}",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S")
                ));
                let _ = fs::rename(&path, &aside);
                Ok((
                    fresh,
                    Some(format!(
                        "checkpoint {} is unreadable ({e}); moved to {} and starting over",
                        path.display(),
                        aside.display()
                    )),
                ))
            }
        }
    }

    /// Replaces the saved state atomically and durably.
    pub fn save(&self, state: &State) -> Result<(), CheckpointError> {
        let temp = self.dir.join(TEMP_FILE);
        let target = self.state_path();
        let io_err = |file: &Path| {
            let file = file.display().to_string();
            move |source| CheckpointError::Io { file, source }
        };
        let json = serde_json::to_vec(state).map_err(|e| CheckpointError::Io {
            file: temp.display().to_string(),
            source: io::Error::other(e),
        })?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .map_err(io_err(&temp))?;
        f.write_all(&json).map_err(io_err(&temp))?;
        f.sync_all().map_err(io_err(&temp))?;
        drop(f);
        fs::rename(&temp, &target).map_err(io_err(&target))?;
        sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        Ok(())
    }
}

/// Makes a rename in `dir` durable. Directories cannot be opened for syncing on Windows,
/// where rename is already durable once it returns.
fn sync_dir(dir: &Path) -> io::Result<()> {
    if cfg!(unix) {
        File::open(dir)?.sync_all()
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load_round_trips_and_stanzas_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(dir.path(), "netdiscover_input://a").unwrap();
        let b = Store::open(dir.path(), "netdiscover_input://a/").unwrap();
        assert_ne!(a.state_path(), b.state_path());
        let (mut state, note) = a.load().unwrap();
        assert!(note.is_none() && state.files.is_empty());
        state.files.push(FileState {
            path: "/x".into(),
            dev: 1,
            ino: 2,
            head_len: 3,
            head_crc: 4,
            position: Position {
                offset: 5,
                records: 6,
            },
            resumes_by_offset: true,
            last_record_id: Some("7".into()),
            size: 9,
            mtime_ns: 10,
            last_seen: 8,
        });
        a.save(&state).unwrap();
        assert_eq!(a.load().unwrap().0, state);
        assert!(b.load().unwrap().0.files.is_empty());
    }

    #[test]
    fn unreadable_state_is_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "s").unwrap();
        fs::write(store.state_path(), b"{not json").unwrap();
        let (state, note) = store.load().unwrap();
        assert!(state.files.is_empty());
        assert!(note.unwrap().contains("unreadable"));
        assert!(!store.state_path().exists());
    }
}
