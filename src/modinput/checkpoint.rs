//! Per-stanza progress on disk, written so that a crash at any instruction leaves either the
//! old state or the new one.
//!
//! A batch is recorded in two steps around its delivery: [`Store::prepare`] writes and syncs
//! the state that covers it to a temporary file *before* the batch is written to stdout, so a
//! full or failing disk stops the input before it emits a batch it could not record;
//! [`Store::publish`] renames it into place once splunkd has read the batch. A crash can
//! therefore only repeat the last batch (at-least-once), never lose one. The state before
//! the last one is kept as `state.json.prev`, read when `state.json` is missing or damaged.

mod v1;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fingerprint::Fingerprint;
use super::log::Level;
use crate::ingest::Position;

pub const STATE_VERSION: u32 = 2;
const STATE_FILE: &str = "state.json";
const PREVIOUS_FILE: &str = "state.json.prev";
const TEMP_FILE: &str = "state.json.tmp";
const LOCK_FILE: &str = "lock";

/// What is known about one followed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// Path the file last had (informational; identity is the fingerprint).
    pub path: String,
    pub fingerprint: Fingerprint,
    /// Just after the last record delivered.
    pub position: Position,
    /// Id of the last record delivered (record number or byte offset, as the reader gives it).
    pub last_record_id: Option<String>,
    /// Set when everything complete in the file had been read: while the file keeps this
    /// length and modification time it needs no reading and is not even opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drained: Option<Snapshot>,
    /// Unix seconds when the file was last seen; entries unseen for long are dropped.
    pub last_seen: u64,
}

/// A file's length and modification time (ns since the epoch) at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub len: u64,
    pub mtime_ns: u64,
}

/// Everything saved for one stanza.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    pub stanza: String,
    pub files: Vec<FileState>,
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

fn io_error(file: &Path) -> impl FnOnce(io::Error) -> CheckpointError {
    let file = file.display().to_string();
    move |source| CheckpointError::Io { file, source }
}

/// The checkpoint of one stanza: `<checkpoint_dir>/<stanza key>/state.json`.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
    stanza: String,
}

/// A state written and synced beside the current one, not in force until published.
#[derive(Debug)]
#[must_use = "a prepared state is only recorded once published"]
pub struct Prepared(());

/// Holds the stanza's lock file; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct StanzaLock {
    _file: File,
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

/// Why a state file could not be used.
enum Unusable {
    Missing,
    Unreadable(String),
    Version(u32),
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

    fn fresh(&self) -> State {
        State {
            version: STATE_VERSION,
            stanza: self.stanza.clone(),
            files: Vec::new(),
        }
    }

    /// Takes the stanza's lock without waiting: `Ok(None)` while another process holds it
    /// (the same stanza running twice would otherwise read everything twice and overwrite
    /// each other's state). Where the filesystem cannot lock (`flock` unsupported, an NFS
    /// mount without a lock daemon) the lock is not taken, and the note says so.
    pub fn try_lock(&self) -> Result<Option<(StanzaLock, Option<String>)>, CheckpointError> {
        let path = self.dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error(&path))?;
        match lock_exclusive(&file) {
            Ok(true) => Ok(Some((StanzaLock { _file: file }, None))),
            Ok(false) => Ok(None),
            Err(e) => Ok(Some((
                StanzaLock { _file: file },
                Some(format!(
                    "checkpoint lock {}: {e}; running without it (do not run this stanza twice)",
                    path.display()
                )),
            ))),
        }
    }

    /// Loads the saved state, and notes to log about what was not usable. No file means a
    /// fresh start. A damaged `state.json` (only possible if something else wrote it) is
    /// set aside and the previous state is used, which repeats at most a batch; with neither,
    /// reading starts over: duplicates are preferable to silently skipping data.
    pub fn load(&self) -> Result<(State, Vec<(Level, String)>), CheckpointError> {
        let path = self.state_path();
        let mut notes = Vec::new();
        let why = match self.read(&path)? {
            Ok(state) => return Ok((state, notes)),
            Err(why) => why,
        };
        match &why {
            Unusable::Missing => {}
            Unusable::Version(version) => {
                notes.push((
                    Level::Error,
                    format!(
                        "checkpoint {} has version {version}, newer than this input's \
                         {STATE_VERSION}; starting over",
                        path.display()
                    ),
                ));
                return Ok((self.fresh(), notes));
            }
            Unusable::Unreadable(reason) => {
                let aside = self.dir.join(format!(
                    "state.json.unreadable-{}",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S")
                ));
                let _ = fs::rename(&path, &aside);
                notes.push((
                    Level::Error,
                    format!(
                        "checkpoint {} is unreadable ({reason}); moved to {}",
                        path.display(),
                        aside.display()
                    ),
                ));
            }
        }
        let previous = self.dir.join(PREVIOUS_FILE);
        match self.read(&previous)? {
            Ok(state) => {
                notes.push((
                    Level::Warn,
                    format!(
                        "resuming from the previous checkpoint {} (the last batch may be sent \
                         again)",
                        previous.display()
                    ),
                ));
                Ok((state, notes))
            }
            Err(Unusable::Missing) if matches!(why, Unusable::Missing) => Ok((self.fresh(), notes)),
            Err(_) => {
                notes.push((
                    Level::Error,
                    "no usable earlier checkpoint: reading every file from the start".into(),
                ));
                Ok((self.fresh(), notes))
            }
        }
    }

    /// One state file, version 1 or 2.
    fn read(&self, path: &Path) -> Result<Result<State, Unusable>, CheckpointError> {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Err(Unusable::Missing)),
            Err(source) => return Err(io_error(path)(source)),
        };
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let unreadable = |e: serde_json::Error| Unusable::Unreadable(e.to_string());
        let state = match serde_json::from_slice::<Version>(&bytes) {
            Err(e) => Err(unreadable(e)),
            Ok(Version { version: 1 }) => serde_json::from_slice::<v1::StateV1>(&bytes)
                .map(|old| State {
                    version: STATE_VERSION,
                    stanza: old.stanza,
                    files: old.files.into_iter().map(FileState::from).collect(),
                })
                .map_err(unreadable),
            Ok(Version {
                version: STATE_VERSION,
            }) => serde_json::from_slice::<State>(&bytes).map_err(unreadable),
            Ok(Version { version }) => Err(Unusable::Version(version)),
        };
        Ok(state)
    }

    /// Writes `state` beside the current state and syncs it, so that publishing it later
    /// needs no more space. An error here (disk full) comes before anything is emitted.
    pub fn prepare(&self, state: &State) -> Result<Prepared, CheckpointError> {
        let temp = self.dir.join(TEMP_FILE);
        let json = serde_json::to_vec(state).map_err(|e| io_error(&temp)(io::Error::other(e)))?;
        let written = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)
            .and_then(|mut f| {
                f.write_all(&json)?;
                f.sync_all()
            });
        if let Err(e) = written {
            // Whatever part was written holds space the full disk needs.
            let _ = fs::remove_file(&temp);
            return Err(io_error(&temp)(e));
        }
        Ok(Prepared(()))
    }

    /// Puts a prepared state in force: the current state becomes the previous one, the
    /// prepared one the current one, and the directory is synced so both renames last.
    pub fn publish(&self, prepared: Prepared) -> Result<(), CheckpointError> {
        let Prepared(()) = prepared;
        let target = self.state_path();
        match fs::rename(&target, self.dir.join(PREVIOUS_FILE)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&target)(e)),
        }
        fs::rename(self.dir.join(TEMP_FILE), &target).map_err(io_error(&target))?;
        sync_dir(&self.dir).map_err(io_error(&self.dir))
    }

    /// Replaces the saved state atomically and durably.
    pub fn save(&self, state: &State) -> Result<(), CheckpointError> {
        let prepared = self.prepare(state)?;
        self.publish(prepared)
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

/// An exclusive advisory lock on `file` without waiting; false if another process has it.
#[cfg(unix)]
fn lock_exclusive(file: &File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    // SAFETY: flock(2) on a descriptor we own, valid for the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let error = io::Error::last_os_error();
    if error.kind() == io::ErrorKind::WouldBlock {
        Ok(false)
    } else {
        Err(error)
    }
}

/// Without flock (Windows): no lock; splunkd runs one process per stanza.
#[cfg(not(unix))]
fn lock_exclusive(_file: &File) -> io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modinput::fingerprint::{FileId, Head};

    fn entry(offset: u64) -> FileState {
        FileState {
            path: "/x".into(),
            fingerprint: Fingerprint {
                id: Some(FileId { dev: 1, ino: 2 }),
                head: Head { len: 3, crc: 4 },
            },
            position: Position::Offset(offset),
            last_record_id: Some("7".into()),
            drained: Some(Snapshot {
                len: 9,
                mtime_ns: 10,
            }),
            last_seen: 8,
        }
    }

    #[test]
    fn save_then_load_round_trips_and_stanzas_are_separate() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(dir.path(), "netdiscover_input://a").unwrap();
        let b = Store::open(dir.path(), "netdiscover_input://a/").unwrap();
        assert_ne!(a.state_path(), b.state_path());
        let (mut state, notes) = a.load().unwrap();
        assert!(notes.is_empty() && state.files.is_empty());
        state.files.push(entry(5));
        a.save(&state).unwrap();
        assert_eq!(a.load().unwrap().0, state);
        assert!(b.load().unwrap().0.files.is_empty());
        let json = fs::read_to_string(a.state_path()).unwrap();
        assert!(json.contains(r#""position":{"offset":5}"#), "{json}");
    }

    #[test]
    fn a_damaged_state_is_set_aside_and_the_previous_one_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "s").unwrap();
        let mut state = store.load().unwrap().0;
        state.files.push(entry(5));
        store.save(&state).unwrap();
        state.files[0].position = Position::Offset(6);
        store.save(&state).unwrap();
        fs::write(store.state_path(), b"{not json").unwrap();
        let (loaded, notes) = store.load().unwrap();
        assert_eq!(loaded.files[0].position, Position::Offset(5));
        assert!(notes[0].1.contains("unreadable") && notes[1].1.contains("previous"));
        assert!(!store.state_path().exists());
        // Neither usable: start over.
        fs::write(dir.path().join(stanza_key("s")).join(PREVIOUS_FILE), b"").unwrap();
        let (loaded, notes) = store.load().unwrap();
        assert!(loaded.files.is_empty());
        assert!(
            notes.last().unwrap().1.contains("from the start"),
            "{notes:?}"
        );
    }

    #[test]
    fn a_failed_prepare_leaves_the_state_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "s").unwrap();
        let mut state = store.load().unwrap().0;
        state.files.push(entry(5));
        store.save(&state).unwrap();
        let prepared = store.prepare(&State {
            files: vec![entry(6)],
            ..state.clone()
        });
        drop(prepared);
        // Not published: what is loaded is still the old state.
        assert_eq!(store.load().unwrap().0, state);
    }

    #[test]
    fn the_lock_is_held_by_one_store_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let a = Store::open(dir.path(), "s").unwrap();
        let b = Store::open(dir.path(), "s").unwrap();
        let (held, note) = a.try_lock().unwrap().expect("first lock");
        assert!(note.is_none(), "{note:?}");
        assert!(b.try_lock().unwrap().is_none(), "second lock while held");
        drop(held);
        assert!(b.try_lock().unwrap().is_some(), "lock after release");
    }
}
