//! The checkpoint file (`checkpointFile`): one resumable [`Position`] per followed path, as
//! JSON, replaced atomically (written beside it, then renamed over it) so that a kill at any
//! moment leaves either the previous or the new checkpoint.

use super::position::Position;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Format version written and accepted.
const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    version: u32,
    files: BTreeMap<String, Position>,
}

/// The checkpoint of a follower: loaded at start, replaced when positions move.
#[derive(Debug)]
pub struct Checkpoint {
    path: PathBuf,
    tmp: PathBuf,
    /// Every path's position, those of paths this follower does not follow included (kept).
    files: BTreeMap<String, Position>,
    /// `files` differs from what is on disk.
    dirty: bool,
    /// The last write was not synced to stable storage.
    unsynced: bool,
}

/// The key of a followed path in the file.
fn key(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

impl Checkpoint {
    /// Loads the checkpoint at `path`. A missing file is an empty checkpoint; an unreadable or
    /// invalid one is logged and treated as empty (it is replaced at the next write).
    pub fn load(path: &Path) -> Self {
        let files = match std::fs::read(path) {
            Ok(bytes) => match serde_json::from_slice::<Stored>(&bytes) {
                Ok(stored) if stored.version == VERSION => stored.files,
                Ok(stored) => {
                    log::warn!(
                        "checkpointFile {}: version {} is not {VERSION}; ignored",
                        path.display(),
                        stored.version
                    );
                    BTreeMap::new()
                }
                Err(e) => {
                    log::warn!(
                        "checkpointFile {} is not a valid checkpoint ({e}); ignored",
                        path.display()
                    );
                    BTreeMap::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                log::warn!("checkpointFile {}: {e}; ignored", path.display());
                BTreeMap::new()
            }
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        Self {
            path: path.to_path_buf(),
            tmp: PathBuf::from(tmp),
            files,
            dirty: false,
            unsynced: false,
        }
    }

    /// The stored position of a followed path.
    pub fn get(&self, path: &Path) -> Option<&Position> {
        self.files.get(&key(path))
    }

    /// Records a path's position (written by the next [`save`](Self::save)).
    pub fn set(&mut self, path: &Path, position: &Position) {
        let key = key(path);
        if self.files.get(&key) != Some(position) {
            self.files.insert(key, position.clone());
            self.dirty = true;
        }
    }

    /// Writes the positions when they changed since the last write; with `sync`, to stable
    /// storage (a rename alone survives a killed process, not a power loss).
    pub fn save(&mut self, sync: bool) -> anyhow::Result<()> {
        let needed = self.dirty || (sync && self.unsynced);
        if !needed {
            return Ok(());
        }
        let stored = Stored {
            version: VERSION,
            files: std::mem::take(&mut self.files),
        };
        let written = self.write(&stored, sync);
        self.files = stored.files;
        written.with_context(|| format!("cannot write checkpointFile {}", self.path.display()))?;
        self.dirty = false;
        self.unsynced = !sync;
        Ok(())
    }

    fn write(&self, stored: &Stored, sync: bool) -> anyhow::Result<()> {
        let mut bytes = serde_json::to_vec(stored)?;
        bytes.push(b'\n');
        let mut file = File::create(&self.tmp)?;
        file.write_all(&bytes)?;
        if sync {
            file.sync_all()?;
        }
        drop(file);
        std::fs::rename(&self.tmp, &self.path)?;
        if sync {
            let dir = self.path.parent().filter(|d| !d.as_os_str().is_empty());
            if let Ok(dir) = File::open(dir.unwrap_or(Path::new("."))) {
                // Best effort: some file systems refuse fsync on directories.
                let _ = dir.sync_all();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tail::identity::FileKey;

    fn pos(offset: u64) -> Position {
        Position {
            file: Some(FileKey {
                dev: 1,
                ino: 2,
                head_len: 3,
                head_hash: u64::MAX,
            }),
            offset,
            mtime_ns: 5,
            done: false,
        }
    }

    #[test]
    fn round_trips_and_keeps_other_paths() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ck.json");
        let mut ck = Checkpoint::load(&file);
        assert!(ck.get(Path::new("/a")).is_none());
        ck.set(Path::new("/a"), &pos(10));
        ck.set(Path::new("/b"), &Position::awaiting(7));
        ck.save(true).unwrap();
        assert!(!dir.path().join("ck.json.tmp").exists());

        let mut again = Checkpoint::load(&file);
        assert_eq!(again.get(Path::new("/a")), Some(&pos(10)));
        assert_eq!(again.get(Path::new("/b")), Some(&Position::awaiting(7)));
        // Unchanged: nothing written.
        again.set(Path::new("/a"), &pos(10));
        assert!(!again.dirty);
        again.set(Path::new("/a"), &pos(11));
        again.save(false).unwrap();
        assert!(again.unsynced);
        // Unchanged but not synced yet: a sync writes it again.
        again.save(true).unwrap();
        assert!(!again.unsynced);
        let last = Checkpoint::load(&file);
        assert_eq!(last.get(Path::new("/a")), Some(&pos(11)));
        assert_eq!(last.get(Path::new("/b")), Some(&Position::awaiting(7)));
    }

    #[test]
    fn a_broken_file_is_ignored_and_an_unwritable_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ck.json");
        std::fs::write(&file, "{not json").unwrap();
        assert!(Checkpoint::load(&file).get(Path::new("/a")).is_none());
        std::fs::write(&file, r#"{"version":99,"files":{}}"#).unwrap();
        assert!(Checkpoint::load(&file).files.is_empty());

        let mut nowhere = Checkpoint::load(&dir.path().join("missing/ck.json"));
        nowhere.set(Path::new("/a"), &pos(1));
        let err = nowhere.save(false).unwrap_err().to_string();
        assert!(err.contains("cannot write checkpointFile"), "{err}");
    }
}
