//! Which file to read: where a path starts (tailFrom, or a checkpoint), and what follows a
//! finished (rotated) file.
//!
//! The successor of a finished file is the next lumberjack backup after it by name (the file
//! is located among the backups by identity, which is safe as long as its descriptor is
//! held); when it cannot be located, the first backup modified since it; else the file at the
//! path, read from 0. The path is opened before the directory is listed, so that a file
//! rotated in between is listed.

use super::identity::{mtime_ns, FileId, FileKey};
use super::names::BackupNames;
use super::position::Position;
use super::reader::{start_of_last_line, FileReader};
use crate::config::TailFrom;
use crate::metrics::{now_ns, Metrics};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// The followed path and where its rotated files are.
#[derive(Debug)]
pub struct Target {
    path: PathBuf,
    dir: PathBuf,
    names: BackupNames,
    max_line: usize,
}

/// What comes next after a finished file.
#[derive(Debug)]
pub enum After {
    /// A file read to its end. Its descriptor is held so that its inode is not reused while
    /// its successor is looked for.
    File {
        /// Its descriptor.
        file: File,
        /// Its identity and fingerprint.
        key: FileKey,
        /// Its size when finished.
        end: u64,
        /// Its modification time when finished (ns).
        mtime_ns: i64,
    },
    /// No file yet: backups modified since this time (ns), else the path from 0. (Modification
    /// times have the kernel's coarse granularity: a backup of the same tick is read rather
    /// than lost.)
    Since(i64),
}

impl After {
    /// The finished file's modification time, or the time since when a file is awaited.
    fn mtime_ns(&self) -> i64 {
        match self {
            After::File { mtime_ns, .. } => *mtime_ns,
            After::Since(t) => *t,
        }
    }
}

/// Where a path's thread stands.
#[derive(Debug)]
pub enum State {
    /// Reading a file.
    Reading(FileReader),
    /// Waiting for the next file.
    Awaiting(After),
}

impl State {
    /// Where reading resumes from this state.
    pub fn position(&self) -> Position {
        match self {
            State::Reading(r) => r.position(),
            State::Awaiting(After::File {
                key, end, mtime_ns, ..
            }) => Position {
                file: Some(*key),
                offset: *end,
                mtime_ns: *mtime_ns,
                done: true,
            },
            State::Awaiting(After::Since(t)) => Position::awaiting(*t),
        }
    }

    /// For the log.
    pub fn describe(&self) -> String {
        match self {
            State::Reading(r) => format!("at byte {} of {}", r.consumed(), r.name().display()),
            State::Awaiting(_) => "waiting for the file to appear".to_string(),
        }
    }
}

/// Opens `path` when it is a regular file; `None` when it does not exist (or is not a file).
fn open_regular(path: &Path) -> io::Result<Option<File>> {
    match File::open(path) {
        Ok(f) if f.metadata()?.is_file() => Ok(Some(f)),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn id_of(file: &File) -> io::Result<FileId> {
    Ok(FileId::of(&file.metadata()?))
}

impl Target {
    /// The target for `path` (absolute), with lines of at most `max_line` bytes.
    pub fn new(path: PathBuf, max_line: usize) -> Self {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self {
            dir: path.parent().unwrap_or(Path::new("/")).to_path_buf(),
            names: BackupNames::new(&name),
            path,
            max_line,
        }
    }

    /// The followed path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where a first start without checkpoint begins: the existing file at `tailFrom`, or
    /// (no file yet) from byte 0 of the file once it appears.
    pub fn start(&self, tail_from: TailFrom) -> io::Result<State> {
        match open_regular(&self.path)? {
            Some(file) => {
                let offset = match tail_from {
                    TailFrom::Beginning => 0,
                    TailFrom::End => start_of_last_line(&file, self.max_line)?,
                };
                Ok(State::Reading(FileReader::new(
                    file,
                    &self.path,
                    offset,
                    self.max_line,
                )?))
            }
            None => Ok(State::Awaiting(After::Since(now_ns()))),
        }
    }

    /// Where reading resumes from a stored position: in its file if found (at the path or,
    /// rotated, beside it), else after it (a gap, unless it was finished).
    pub fn resume(&self, pos: &Position, metrics: &Metrics) -> io::Result<State> {
        let Some(key) = pos.file else {
            return Ok(State::Awaiting(After::Since(pos.mtime_ns)));
        };
        let Some((file, name)) = self.find(&key)? else {
            if !pos.done {
                Metrics::add(&metrics.tail_gaps, 1);
                log::warn!(
                    "{}: the file being read at the last checkpoint is gone; lines written to it after byte {} are lost",
                    self.path.display(),
                    pos.offset
                );
            }
            return Ok(State::Awaiting(After::Since(pos.mtime_ns)));
        };
        let meta = file.metadata()?;
        if pos.done && name != self.path {
            return Ok(State::Awaiting(After::File {
                key,
                end: meta.len(),
                mtime_ns: mtime_ns(&meta),
                file,
            }));
        }
        let offset = if meta.len() < pos.offset {
            Metrics::add(&metrics.tail_truncations, 1);
            log::info!(
                "{}: truncated since the last checkpoint; reading it from the beginning",
                name.display()
            );
            0
        } else {
            pos.offset
        };
        Ok(State::Reading(FileReader::new(
            file,
            &name,
            offset,
            self.max_line,
        )?))
    }

    /// The file `key` names: at the path, else any file of the directory.
    fn find(&self, key: &FileKey) -> io::Result<Option<(File, PathBuf)>> {
        let is_it = |f: &File| -> bool {
            id_of(f).is_ok_and(|id| id == key.id()) && key.head_matches(f).unwrap_or(false)
        };
        if let Some(f) = open_regular(&self.path)? {
            if is_it(&f) {
                return Ok(Some((f, self.path.clone())));
            }
        }
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(None);
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            let same = entry
                .metadata()
                .is_ok_and(|m| m.is_file() && FileId::of(&m) == key.id());
            if same && path != self.path {
                if let Ok(Some(f)) = open_regular(&path) {
                    if is_it(&f) {
                        return Ok(Some((f, path)));
                    }
                }
            }
        }
        Ok(None)
    }

    /// What follows `after`: the next rotated file, else the file at the path.
    fn successor(&self, after: &After, metrics: &Metrics) -> io::Result<Successor> {
        // After a rotated file found but gone when opened: backups modified since it.
        let mut since = None;
        let mut unreadable = Vec::new();
        loop {
            // Opened before the directory is listed: a file rotated in between is listed.
            let live = open_regular(&self.path)?;
            let live_id = live.as_ref().map(id_of).transpose()?;
            if let (None, After::File { key, .. }) = (since, after) {
                if live_id == Some(key.id()) {
                    return Ok(Successor::Same);
                }
            }
            let mut backups = self.names.list(&self.dir);
            backups.retain(|b| !unreadable.contains(&b.id));
            let located = match (since, after) {
                (None, After::File { key, .. }) => backups.iter().position(|b| b.id == key.id()),
                _ => None,
            };
            let candidate = match located {
                Some(i) => backups.get(i + 1),
                None => {
                    let t = since.unwrap_or(after.mtime_ns());
                    backups.iter().find(|b| b.mtime_ns >= t)
                }
            };
            let Some(b) = candidate else {
                return Ok(match live {
                    Some(file) => Successor::Live(file),
                    None => Successor::Nothing(since),
                });
            };
            match open_regular(&b.path) {
                Ok(Some(file)) if id_of(&file).is_ok_and(|id| id == b.id) => {
                    return Ok(Successor::Backup(file, b.path.clone()));
                }
                _ => {
                    Metrics::add(&metrics.tail_gaps, 1);
                    log::warn!(
                        "{}: the rotated file {} was removed before it was read; its lines are lost",
                        self.path.display(),
                        b.path.display()
                    );
                    unreadable.push(b.id);
                    since = Some(b.mtime_ns);
                }
            }
        }
    }

    /// The state after `after`: reading its successor, or still waiting for one. On an error,
    /// `after` comes back with it.
    pub fn next_after(&self, after: After, metrics: &Metrics) -> Result<State, (After, io::Error)> {
        let successor = match self.successor(&after, metrics) {
            Ok(s) => s,
            Err(e) => return Err((after, e)),
        };
        let since = after.mtime_ns();
        let reader = match successor {
            Successor::Same => {
                let After::File { file, end, .. } = after else {
                    unreachable!("the same file is a finished file")
                };
                FileReader::new(file, &self.path, end, self.max_line)
            }
            Successor::Backup(file, name) => {
                log::info!(
                    "{}: reading the rotated file {}",
                    self.path.display(),
                    name.display()
                );
                FileReader::new(file, &name, 0, self.max_line)
            }
            Successor::Live(file) => {
                log::info!("{}: reading from the beginning", self.path.display());
                FileReader::new(file, &self.path, 0, self.max_line)
            }
            // Past a lost file (not found again, not counted again).
            Successor::Nothing(Some(t)) => return Ok(State::Awaiting(After::Since(t + 1))),
            Successor::Nothing(None) => return Ok(State::Awaiting(after)),
        };
        reader
            .map(State::Reading)
            .map_err(|e| (After::Since(since), e))
    }
}

/// What follows a finished file.
enum Successor {
    /// The finished file itself, moved away and back to the path: it goes on where it ended.
    Same,
    /// A rotated file (opened) and its name.
    Backup(File, PathBuf),
    /// The file at the path (opened), read from 0.
    Live(File),
    /// Nothing yet; with the time past a lost file, if one was met.
    Nothing(Option<i64>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::tail::identity::Head;
    use std::sync::atomic::Ordering;

    const B1: &str = "a-2026-01-02T03-04-05.001.log";
    const B2: &str = "a-2026-01-02T03-04-05.002.log";

    /// A directory with the live file `a.log` and two backups.
    fn dir() -> (tempfile::TempDir, Target) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [(B1, "b1\n"), (B2, "b2\n"), ("a.log", "live\n")] {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let target = Target::new(dir.path().join("a.log"), 100);
        (dir, target)
    }

    fn finished(path: &Path) -> After {
        let file = File::open(path).unwrap();
        let meta = file.metadata().unwrap();
        After::File {
            key: Head::read(&file, 1024).unwrap().key(FileId::of(&meta)),
            end: meta.len(),
            mtime_ns: mtime_ns(&meta),
            file,
        }
    }

    /// The file and offset a state reads, or `None` while it waits.
    fn reading(state: &State) -> Option<(String, u64)> {
        match state {
            State::Reading(r) => Some((
                r.name().file_name().unwrap().to_string_lossy().into_owned(),
                r.pos(),
            )),
            State::Awaiting(_) => None,
        }
    }

    #[test]
    fn the_successor_is_the_next_backup_then_the_file() {
        let (dir, t) = dir();
        let m = Metrics::default();
        let next = |after| reading(&t.next_after(after, &m).unwrap());
        assert_eq!(next(finished(&dir.path().join(B1))), Some((B2.into(), 0)));
        assert_eq!(
            next(finished(&dir.path().join(B2))),
            Some(("a.log".into(), 0))
        );
        // Moved away and back: it goes on where it ended.
        assert_eq!(next(finished(&t.path)), Some(("a.log".into(), 5)));
        // Not located: by modification time.
        assert_eq!(next(After::Since(0)), Some((B1.into(), 0)));
        assert_eq!(next(After::Since(i64::MAX)), Some(("a.log".into(), 0)));
        std::fs::remove_file(&t.path).unwrap();
        assert_eq!(next(After::Since(i64::MAX)), None);
        assert_eq!(m.tail_gaps.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn resumes_in_the_checkpointed_file_wherever_it_is() {
        let (dir, t) = dir();
        let m = Metrics::default();
        let done = State::Awaiting(finished(&dir.path().join(B1))).position();
        assert!(done.done);
        let at = Position {
            offset: 1,
            done: false,
            ..done.clone()
        };
        assert_eq!(reading(&t.resume(&at, &m).unwrap()), Some((B1.into(), 1)));
        // Finished: its successor comes next.
        let State::Awaiting(after) = t.resume(&done, &m).unwrap() else {
            panic!("a finished file is not read again");
        };
        let next = t.next_after(after, &m).unwrap();
        assert_eq!(reading(&next), Some((B2.into(), 0)));
        // Gone: a gap, then the backups modified since.
        std::fs::remove_file(dir.path().join(B1)).unwrap();
        let state = t.resume(&at, &m).unwrap();
        assert!(matches!(state, State::Awaiting(After::Since(_))));
        assert_eq!(m.tail_gaps.load(Ordering::Relaxed), 1);
        // Shorter than the offset: truncated, read from the start.
        let beyond = Position {
            offset: 99,
            done: false,
            ..State::Awaiting(finished(&t.path)).position()
        };
        let state = t.resume(&beyond, &m).unwrap();
        assert_eq!(reading(&state), Some(("a.log".into(), 0)));
        assert_eq!(m.tail_truncations.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn starts_at_tail_from_or_waits_for_the_file() {
        let (_dir, t) = dir();
        let end = t.start(TailFrom::End).unwrap();
        assert_eq!(reading(&end), Some(("a.log".into(), 5)));
        let beginning = t.start(TailFrom::Beginning).unwrap();
        assert_eq!(reading(&beginning), Some(("a.log".into(), 0)));
        std::fs::remove_file(&t.path).unwrap();
        let state = t.start(TailFrom::End).unwrap();
        assert!(matches!(state, State::Awaiting(After::Since(_))));
        assert_eq!(state.position().file, None);
    }
}
