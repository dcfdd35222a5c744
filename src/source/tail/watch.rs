//! Wake-ups of a follower thread: notify watches the directory of the followed file (a rename
//! or a new file is a directory event; so is a write to a file in it), and the thread also
//! polls slowly in case events are missed (network file systems, a directory that appears
//! later, a watch limit reached).
//!
//! Wake-ups go through a channel of capacity one: a full channel already holds a wake-up, so
//! none is lost and none piles up. When the watcher is dropped, notify's thread ends and drops
//! its sender; the follower thread waits for that (the channel disconnects) before it ends.
//!
//! notify does not join its thread, and a thread still running the library's code when Falco
//! unloads it (hot reload) would crash Falco. So each handler records, when notify's thread
//! drops it, the id of that thread, and the follower thread waits until the kernel has let
//! every such thread go ([`ThreadIds::wait_gone`]).

use super::identity::FileId;
use super::names::BackupNames;
use crate::guard;
use crate::metrics::Metrics;
use crate::threads::ThreadIds;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::Arc;

/// How often a follower thread looks at its file without being woken.
pub const POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// notify's event handler: wakes the follower thread on events about the followed file or
/// its backups (or on a failure: the thread then looks for itself).
struct WakeOnEvent {
    file_name: String,
    names: BackupNames,
    wake: SyncSender<()>,
    metrics: Arc<Metrics>,
    threads: ThreadIds,
}

impl notify::EventHandler for WakeOnEvent {
    fn handle_event(&mut self, event: notify::Result<notify::Event>) {
        guard::catch(&self.metrics, "follow watch", || {
            let relevant = match &event {
                Ok(e) => {
                    e.need_rescan()
                        || e.paths.is_empty()
                        || e.paths.iter().any(|p| {
                            p.file_name().is_some_and(|n| {
                                self.names.related(&n.to_string_lossy(), &self.file_name)
                            })
                        })
                }
                Err(_) => true,
            };
            if relevant {
                // Full: a wake-up is pending already.
                let _ = self.wake.try_send(());
            }
        });
    }
}

impl Drop for WakeOnEvent {
    /// Runs in notify's thread as it ends, before the sender (a field) is dropped: the thread
    /// is recorded before the follower thread can see the channel disconnect.
    fn drop(&mut self) {
        self.threads.record_current();
    }
}

/// The directory watch of one followed path.
pub struct DirWatch {
    dir: PathBuf,
    file_name: String,
    names: BackupNames,
    wake: SyncSender<()>,
    metrics: Arc<Metrics>,
    threads: ThreadIds,
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
    /// Watches the directory of `path` (when it exists), sending wake-ups to `wake`; notify's
    /// threads are recorded in `threads` as they end.
    pub fn new(
        path: &Path,
        wake: SyncSender<()>,
        metrics: Arc<Metrics>,
        threads: ThreadIds,
    ) -> Self {
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
            threads,
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
        let mut watcher = notify::recommended_watcher(WakeOnEvent {
            file_name: self.file_name.clone(),
            names: self.names.clone(),
            wake: self.wake.clone(),
            metrics: self.metrics.clone(),
            threads: self.threads.clone(),
        })?;
        watcher.watch(&self.dir, RecursiveMode::NonRecursive)?;
        Ok(watcher)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifys_thread_is_recorded_as_it_drops_its_handler() {
        let dir = tempfile::tempdir().unwrap();
        let (wake, wakes) = std::sync::mpsc::sync_channel(1);
        let threads = ThreadIds::default();
        let watch = DirWatch::new(
            &dir.path().join("audit.log"),
            wake,
            Arc::default(),
            threads.clone(),
        );
        assert!(watch.watcher.is_some());
        drop(watch);
        // Every sender gone: notify's thread has dropped its handler and recorded itself.
        while wakes.recv().is_ok() {}
        let recorded = threads.recorded();
        assert_eq!(recorded.len(), 1);
        threads.wait_gone("notify");
        assert!(
            !crate::threads::alive(recorded[0]),
            "notify's thread is gone"
        );
    }
}
