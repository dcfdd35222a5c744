//! The follower: one thread per followed path (each with notify's watcher thread), the queue
//! they fill, and the checkpoint of what Falco has processed.
//!
//! Checkpoint rule: a position is written only when every event before it has been processed
//! by Falco, i.e. returned by a `next_batch` call that was followed by another call (or by the
//! close). Per path, that is the cursor of the last such event; or, when the thread has pushed
//! nothing since that event, the position the thread last published (past skipped lines, on
//! in the next file after a rotation, or where it started).

use super::checkpoint::Checkpoint;
use super::locate::{State, Target};
use super::position::{Cursor, Position};
use super::watch::DirWatch;
use super::worker::{Output, Shared, Worker};
use crate::config::Config;
use crate::guard;
use crate::metrics::Metrics;
use crate::source::ingest::Ingest;
use crate::source::queue::{Queue, Queued};
use crate::threads::ThreadIds;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Pause before a path's thread starts again after a panic.
const RECOVERY_PAUSE: Duration = Duration::from_secs(1);

/// The thread of one path, as the follower holds it.
#[derive(Debug)]
struct PathThread {
    /// Wakes the thread (dropped at stop, so that its channel can disconnect).
    wake: Option<SyncSender<()>>,
    handle: Option<JoinHandle<()>>,
}

/// Follows files live (`file://`, SPEC §5.2).
#[derive(Debug)]
pub struct Follower {
    paths: Vec<PathBuf>,
    queue: Arc<Queue<Cursor>>,
    shared: Arc<Shared>,
    threads: Vec<PathThread>,
    /// The kernel ids of the follow threads, waited for after they are joined.
    thread_ids: ThreadIds,
    checkpoint: Option<Checkpoint>,
    /// Per path: the last cursor of the batch returned last (not known processed yet).
    returned: Vec<Option<Cursor>>,
    /// Per path: `seq` and position of the last event known processed (0: none yet, the
    /// position is where the path started).
    committed: Vec<(u64, Position)>,
    metrics: Arc<Metrics>,
    /// A failed checkpoint write was logged (logged again after a success).
    save_failed: bool,
    stopped: bool,
}

impl Follower {
    /// Starts following `paths` (absolute; several allowed). Threads start here; the queue is
    /// a [`Queue`] built from queueCapacity and queueMaxBytes.
    pub fn start(
        paths: Vec<PathBuf>,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(!paths.is_empty(), "no file to follow");
        for (i, path) in paths.iter().enumerate() {
            anyhow::ensure!(
                path.is_absolute() && path.file_name().is_some(),
                "{}: follow needs the absolute path of a file",
                path.display()
            );
            anyhow::ensure!(
                !paths[..i].contains(path),
                "{} is listed twice",
                path.display()
            );
            anyhow::ensure!(
                !path.is_dir(),
                "{} is a directory; file:// follows one file (replay reads directories)",
                path.display()
            );
        }
        let max_line = usize::try_from(config.max_event_size).unwrap_or(usize::MAX);
        let mut checkpoint = config
            .checkpoint_file
            .as_deref()
            .map(|f| Checkpoint::load(Path::new(f)));
        let mut starts = Vec::with_capacity(paths.len());
        for path in &paths {
            let target = Target::new(path.clone(), max_line);
            let stored = checkpoint.as_ref().and_then(|c| c.get(path));
            let state = match stored {
                Some(pos) => target.resume(pos, &metrics),
                None => target.start(config.tail_from),
            }
            .with_context(|| format!("cannot follow {}", path.display()))?;
            log::info!(
                "following {} {}{}",
                path.display(),
                state.describe(),
                if stored.is_some() {
                    " (from the checkpoint)"
                } else {
                    ""
                }
            );
            starts.push((target, state));
        }
        let positions: Vec<Position> = starts.iter().map(|(_, s)| s.position()).collect();
        if let Some(ck) = checkpoint.as_mut() {
            for (path, pos) in paths.iter().zip(&positions) {
                ck.set(path, pos);
            }
            ck.save(true)?;
        }
        let queue = Arc::new(Queue::new(
            config.queue_capacity,
            config.queue_max_bytes,
            metrics.clone(),
        ));
        let shared = Arc::new(Shared::new(positions.clone()));
        let mut follower = Self {
            returned: vec![None; paths.len()],
            committed: positions.into_iter().map(|p| (0, p)).collect(),
            paths,
            queue,
            shared,
            threads: Vec::new(),
            thread_ids: ThreadIds::default(),
            checkpoint,
            metrics,
            save_failed: false,
            stopped: false,
        };
        for (index, (target, state)) in starts.into_iter().enumerate() {
            let out = Output::new(
                index,
                Ingest::new(config.clone(), follower.metrics.clone()),
                follower.queue.clone(),
                follower.shared.clone(),
                follower.metrics.clone(),
            );
            let ids = follower.thread_ids.clone();
            match spawn(index, target, state, out, follower.metrics.clone(), ids) {
                Ok(thread) => follower.threads.push(thread),
                Err(e) => {
                    follower.shutdown();
                    return Err(e).context("cannot start a follow thread");
                }
            }
        }
        Ok(follower)
    }

    /// Events ready for Falco (at most `max`), waiting at most `wait` for the first.
    pub fn drain(&self, max: usize, wait: Duration) -> Vec<Queued<Cursor>> {
        self.queue.drain(max, wait)
    }

    /// The cursors of the batch just returned to Falco: committed by the next
    /// [`commit_returned`](Self::commit_returned) (Falco has processed a batch once it asks
    /// for the next one) or by [`stop`](Self::stop).
    pub fn returned(&mut self, cursors: Vec<Cursor>) {
        if self.checkpoint.is_none() {
            return;
        }
        for cursor in cursors {
            if let Some(slot) = self.returned.get_mut(cursor.path) {
                *slot = Some(cursor);
            }
        }
    }

    /// Commits the batch returned last (Falco has processed it) and writes the checkpoint
    /// when a position moved.
    pub fn commit_returned(&mut self) {
        self.commit(false);
    }

    fn commit(&mut self, sync: bool) {
        let Some(ck) = self.checkpoint.as_mut() else {
            return;
        };
        for (slot, committed) in self.returned.iter_mut().zip(&mut self.committed) {
            if let Some(cursor) = slot.take() {
                if cursor.seq > committed.0 {
                    *committed = (cursor.seq, cursor.position);
                }
            }
        }
        for (i, path) in self.paths.iter().enumerate() {
            let published = self.shared.published(i);
            let (seq, position) = &self.committed[i];
            if published.pushed == *seq {
                ck.set(path, &published.position);
            } else {
                ck.set(path, position);
            }
        }
        match ck.save(sync) {
            Ok(()) => self.save_failed = false,
            Err(e) if !self.save_failed => {
                self.save_failed = true;
                log::warn!("{e:#}");
            }
            Err(_) => {}
        }
    }

    /// Stops: closes the queue, ends every thread it started (notify's included), writes the
    /// final checkpoint, and returns once no thread of the follower is left. Dropping the
    /// follower does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.shared.stop.store(true, Ordering::Relaxed);
        self.queue.close();
        for thread in &mut self.threads {
            if let Some(wake) = thread.wake.take() {
                let _ = wake.try_send(());
            }
        }
        for thread in &mut self.threads {
            if let Some(handle) = thread.handle.take() {
                if handle.join().is_err() {
                    log::error!("a follow thread ended with a panic");
                }
            }
        }
        self.threads.clear();
        self.thread_ids.wait_gone("follow");
        self.metrics.tail_lag_bytes.store(0, Ordering::Relaxed);
        self.commit(true);
        log::info!(
            "stopped following {}",
            self.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts the thread of path `index`, which records itself in `ids`.
fn spawn(
    index: usize,
    target: Target,
    state: State,
    out: Output,
    metrics: Arc<Metrics>,
    ids: ThreadIds,
) -> std::io::Result<PathThread> {
    let (wake, wakes) = sync_channel(1);
    let watch_wake = wake.clone();
    let handle = std::thread::Builder::new()
        .name(format!("k8sadm-follow-{index}"))
        .spawn(move || {
            ids.record_current();
            let notify_threads = ThreadIds::default();
            guard::catch(&metrics, "follow", || {
                let watch = DirWatch::new(
                    target.path(),
                    watch_wake,
                    metrics.clone(),
                    notify_threads.clone(),
                );
                let mut worker = Worker::new(target, state, out, watch);
                follow(&mut worker, &wakes, &metrics);
                // Dropping the worker drops the watcher: notify's thread ends and drops its
                // sender.
            });
            // Every sender gone (the follower's, the watch's, notify's handlers): notify's
            // threads are ending; wait until they have.
            while wakes.recv().is_ok() {}
            notify_threads.wait_gone("notify");
        })?;
    Ok(PathThread {
        wake: Some(wake),
        handle: Some(handle),
    })
}

/// Runs the worker until the follower stops; after a panic, starts it again (after a pause)
/// from its last published position.
fn follow(worker: &mut Worker, wakes: &Receiver<()>, metrics: &Metrics) {
    loop {
        if guard::catch(metrics, "follow", || worker.run(wakes)).is_some() || worker.stopping() {
            return;
        }
        let until = Instant::now() + RECOVERY_PAUSE;
        loop {
            if worker.stopping() {
                return;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Err(RecvTimeoutError::Disconnected) = wakes.recv_timeout(left) {
                return;
            }
        }
        worker.recover();
    }
}
