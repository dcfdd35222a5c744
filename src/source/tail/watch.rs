//! Wake-ups of a follower thread: notify watches the directory of the followed file (a rename
//! or a new file is a directory event; so is a write to a file in it), and the thread also
//! polls slowly in case events are missed (network file systems, a directory that appears
//! later, a watch limit reached).
//!
//! Wake-ups go through a channel of capacity one: a full channel already holds a wake-up, so
//! none is lost and none piles up. When the watcher is dropped, notify's thread ends and drops
//! its sender; the follower thread waits for that (the channel disconnects) before it ends.

use super::identity::FileId;
use super::names::BackupNames;
use crate::guard;
use crate::metrics::Metrics;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

/// How often a follower thread looks at its file without being woken.
pub const POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// The directory watch of one followed path.
pub struct DirWatch {
    dir: PathBuf,
    file_name: String,
    names: BackupNames,
    wake: SyncSender<()>,
    metrics: Arc<Metrics>,
    watcher: Option<RecommendedWatcher>,
    /// Identity of the directory when the watch was set (a recreated one needs a new watch).
    watched: Option<FileId>,
    /// A failure was logged already.
    warned: bool,
}

impl std::fmt::Debug for DirWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirWatch")
            .field("dir", &self.dir)
            .field("watching", &self.watched.is_some())
            .finish_non_exhaustive()
    }
}

impl DirWatch {
    /// Watches the directory of `path` (when it exists), sending wake-ups to `wake`.
    pub fn new(path: &Path, wake: SyncSender<()>, metrics: Arc<Metrics>) -> Self {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut watch = Self {
            dir: path.parent().unwrap_or(Path::new("/")).to_path_buf(),
            names: BackupNames::new(&file_name),
            file_name,
            wake,
            metrics,
            watcher: None,
            watched: None,
            warned: false,
        };
        watch.refresh();
        watch
    }

    /// (Re)sets the watch when there is none or the directory was replaced; called on every
    /// poll tick. Without a watch, the poll alone wakes the thread.
    pub fn refresh(&mut self) {
        let now = std::fs::metadata(&self.dir).ok().map(|m| FileId::of(&m));
        if now.is_some() && now == self.watched {
            return;
        }
        self.watcher = None;
        self.watched = None;
        let Some(dir_id) = now else { return };
        match self.watch() {
            Ok(w) => {
                self.watcher = Some(w);
                self.watched = Some(dir_id);
                // Whatever happened before the watch was set is looked at now.
                let _ = self.wake.try_send(());
            }
            Err(e) if !self.warned => {
                self.warned = true;
                log::warn!(
                    "cannot watch {} ({e}); polling it every {} ms instead",
                    self.dir.display(),
                    POLL.as_millis()
                );
            }
            Err(_) => {}
        }
    }

    fn watch(&self) -> notify::Result<RecommendedWatcher> {
        let wake = self.wake.clone();
        let metrics = self.metrics.clone();
        let names = self.names.clone();
        let file_name = self.file_name.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                guard::catch(&metrics, "follow watch", || {
                    let relevant = match &event {
                        Ok(e) => {
                            e.need_rescan()
                                || e.paths.is_empty()
                                || e.paths.iter().any(|p| {
                                    p.file_name().is_some_and(|n| {
                                        names.related(&n.to_string_lossy(), &file_name)
                                    })
                                })
                        }
                        Err(_) => true,
                    };
                    if relevant {
                        // Full: a wake-up is pending already.
                        let _ = wake.try_send(());
                    }
                });
            })?;
        watcher.watch(&self.dir, RecursiveMode::NonRecursive)?;
        Ok(watcher)
    }
}
