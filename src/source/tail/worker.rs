//! The thread of one followed path: reads the file as it grows, detects rotation and
//! truncation, and pushes events into the queue (waiting while it is full).
//!
//! The file is read through its descriptor. Before reading, a file shorter than what was
//! read, or whose first bytes changed, was truncated: it is read again from 0. At the end of
//! the data, the path is looked up: when it names another file (or none), the file was
//! rotated; it is drained to its end, and its successor (see [`super::locate`]) comes next.

use super::identity::{FileId, FileKey};
use super::locate::{After, State, Target};
use super::position::{Cursor, Position};
use super::reader::FileReader;
use super::split::Piece;
use super::watch::{DirWatch, POLL};
use crate::metrics::Metrics;
use crate::source::ingest::Ingest;
use crate::source::queue::{Pushed, Queue, Queued};
use std::io;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Bytes read from a file at a time.
const CHUNK: usize = 64 * 1024;

/// State shared between the follower and its threads.
#[derive(Debug)]
pub struct Shared {
    /// Set when the follower stops.
    pub stop: AtomicBool,
    /// One entry per followed path.
    pub paths: Vec<PathShared>,
}

/// What the thread of one path shares.
#[derive(Debug)]
pub struct PathShared {
    /// Events pushed so far (the last cursor's `seq`).
    pub seq: AtomicU64,
    /// The last position published by the thread.
    pub published: Mutex<Published>,
    /// Bytes written to the path's files but not read yet.
    pub lag: AtomicU64,
}

/// A position where all events before it were pushed.
#[derive(Debug, Clone)]
pub struct Published {
    /// Events pushed when it was published: once these are committed, the position is.
    pub pushed: u64,
    /// Where reading stood.
    pub position: Position,
}

impl Shared {
    /// Shared state for paths starting at `positions`.
    pub fn new(positions: Vec<Position>) -> Self {
        Self {
            stop: AtomicBool::new(false),
            paths: positions
                .into_iter()
                .map(|position| PathShared {
                    seq: AtomicU64::new(0),
                    published: Mutex::new(Published {
                        pushed: 0,
                        position,
                    }),
                    lag: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// The last position published for path `i`.
    pub fn published(&self, i: usize) -> Published {
        self.paths[i]
            .published
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What a step of the thread leads to.
enum Step {
    /// Look again at once (the state changed).
    Again,
    /// Wait for a wake-up or the poll.
    Idle,
    /// The follower is stopping.
    Stop,
}

/// The event side of a path's thread: ingest, queue, counters.
pub struct Output {
    index: usize,
    ingest: Ingest,
    queue: Arc<Queue<Cursor>>,
    shared: Arc<Shared>,
    metrics: Arc<Metrics>,
    buf: Vec<u8>,
}

impl Output {
    /// The output of path `index`.
    pub fn new(
        index: usize,
        ingest: Ingest,
        queue: Arc<Queue<Cursor>>,
        shared: Arc<Shared>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            index,
            ingest,
            queue,
            shared,
            metrics,
            buf: vec![0; CHUNK],
        }
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// Reads `r` to its current end, pushing its events; `extra` is the size of files still
    /// to be read after it (for the lag). Breaks when the follower stops.
    fn read_to_end(&mut self, r: &mut FileReader, extra: u64) -> io::Result<ControlFlow<()>> {
        loop {
            if self.stopping() {
                return Ok(ControlFlow::Break(()));
            }
            let n = r.read(&mut self.buf)?;
            r.refresh()?;
            self.set_lag(r.unread() + extra);
            if n == 0 {
                return Ok(ControlFlow::Continue(()));
            }
            let key = r.key();
            let buf = std::mem::take(&mut self.buf);
            let flow = r.feed(&buf[..n], self.sink(&key, r.mtime_ns()));
            self.buf = buf;
            if flow.is_break() {
                return Ok(flow);
            }
        }
    }

    /// `r` is finished: its unterminated last line goes out.
    fn finish(&mut self, r: &mut FileReader) -> ControlFlow<()> {
        let key = r.key();
        r.finish(self.sink(&key, r.mtime_ns()))
    }

    /// Where the pieces of file `key` go: through the ingest pipeline into the queue.
    fn sink<'s>(
        &'s mut self,
        key: &'s FileKey,
        mtime_ns: i64,
    ) -> impl FnMut(Piece<'_>, u64, &dyn Fn() -> String) -> ControlFlow<()> + 's {
        let index = self.index;
        let seq = &self.shared.paths[index].seq;
        let (ingest, queue) = (&mut self.ingest, &self.queue);
        move |piece, end, origin| emit(ingest, queue, seq, index, piece, key, end, mtime_ns, origin)
    }

    fn set_lag(&self, lag: u64) {
        self.shared.paths[self.index]
            .lag
            .store(lag, Ordering::Relaxed);
        let total = self
            .shared
            .paths
            .iter()
            .map(|p| p.lag.load(Ordering::Relaxed))
            .sum();
        self.metrics.tail_lag_bytes.store(total, Ordering::Relaxed);
    }
}

/// One piece of a file: counted and dropped, or queued as an event with its cursor.
// The piece, its place and the pipeline it goes through; grouping them would only move them.
#[allow(clippy::too_many_arguments)]
fn emit(
    ingest: &mut Ingest,
    queue: &Queue<Cursor>,
    seq: &AtomicU64,
    index: usize,
    piece: Piece<'_>,
    key: &FileKey,
    end: u64,
    mtime_ns: i64,
    origin: &dyn Fn() -> String,
) -> ControlFlow<()> {
    match piece {
        Piece::TooLong(n) => ingest.too_long(n, origin),
        Piece::Line(line) => {
            let Some(event) = ingest.line(line, origin) else {
                return ControlFlow::Continue(());
            };
            let cursor = Cursor {
                path: index,
                seq: seq.fetch_add(1, Ordering::Relaxed) + 1,
                position: Position {
                    file: Some(*key),
                    offset: end,
                    mtime_ns,
                    done: false,
                },
            };
            let item = Queued {
                payload: event.payload.into_owned(),
                ts: event.ts,
                cursor: Some(cursor),
            };
            if queue.push_wait(item) == Pushed::Closed {
                return ControlFlow::Break(());
            }
        }
    }
    ControlFlow::Continue(())
}

/// The thread of one followed path.
pub struct Worker {
    target: Target,
    state: Option<State>,
    out: Output,
    watch: DirWatch,
    /// The last I/O problem logged (logged again only when it changes).
    last_error: Option<String>,
}

impl Worker {
    /// The worker of `target`, starting in `state`, emitting into `out`; wake-ups arrive
    /// through `watch`.
    pub fn new(target: Target, state: State, out: Output, watch: DirWatch) -> Self {
        Self {
            target,
            state: Some(state),
            out,
            watch,
            last_error: None,
        }
    }

    /// Follows until the follower stops: reads whatever there is, publishes the position,
    /// then waits for a wake-up or the poll.
    pub fn run(&mut self, wake: &Receiver<()>) {
        let mut refreshed = Instant::now();
        loop {
            if self.pump().is_break() {
                return;
            }
            self.publish();
            match wake.recv_timeout(POLL) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            if refreshed.elapsed() >= POLL {
                refreshed = Instant::now();
                self.watch.refresh();
            }
        }
    }

    /// After a panic: starts again from the last published position.
    pub fn recover(&mut self) {
        let pos = self.out.shared.published(self.out.index).position;
        let state = self
            .target
            .resume(&pos, &self.out.metrics)
            .unwrap_or_else(|e| {
                log::warn!(
                    "{}: {e}; waiting for the file",
                    self.target.path().display()
                );
                State::Awaiting(After::Since(pos.mtime_ns))
            });
        self.out.ingest.flush_warnings();
        self.state = Some(state);
    }

    /// `true` once the follower stops.
    pub fn stopping(&self) -> bool {
        self.out.stopping()
    }

    /// Does everything there is to do now.
    fn pump(&mut self) -> ControlFlow<()> {
        loop {
            if self.stopping() {
                return ControlFlow::Break(());
            }
            let Some(state) = self.state.take() else {
                // Lost to a panic in a step.
                self.recover();
                continue;
            };
            let (state, step) = self.step(state);
            self.state = Some(state);
            match step {
                Step::Again => {}
                Step::Idle => return ControlFlow::Continue(()),
                Step::Stop => return ControlFlow::Break(()),
            }
        }
    }

    fn step(&mut self, state: State) -> (State, Step) {
        let mut r = match state {
            State::Reading(r) => r,
            State::Awaiting(after) => {
                let rotated = matches!(after, After::File { .. });
                return match self.target.next_after(after, &self.out.metrics) {
                    Ok(State::Reading(r)) => {
                        if rotated {
                            // Counted once the successor is chosen: the finished file is not
                            // needed any more.
                            Metrics::add(&self.out.metrics.tail_rotations, 1);
                        }
                        (State::Reading(r), Step::Again)
                    }
                    Ok(waiting) => (waiting, Step::Idle),
                    Err((after, e)) => {
                        self.problem(format!("{}: {e}", self.target.path().display()));
                        (State::Awaiting(after), Step::Idle)
                    }
                };
            }
        };
        match r.truncated() {
            Ok(None) => {}
            Ok(Some(lost)) => {
                Metrics::add(&self.out.metrics.tail_truncations, 1);
                log::info!(
                    "{}: truncated; reading it again from the beginning",
                    r.name().display()
                );
                if lost > 0 {
                    Metrics::add(&self.out.metrics.tail_gaps, 1);
                    log::warn!(
                        "{}: truncated before {lost} bytes written to it were read; they are lost",
                        r.name().display()
                    );
                }
                if let Err(e) = r.rewind() {
                    self.problem(format!("{}: {e}", r.name().display()));
                    return (State::Reading(r), Step::Idle);
                }
            }
            Err(e) => {
                self.problem(format!("{}: {e}", r.name().display()));
                return (State::Reading(r), Step::Idle);
            }
        }
        let live = std::fs::metadata(self.target.path());
        let extra = match &live {
            Ok(m) if FileId::of(m) != r.id() => m.len(),
            _ => 0,
        };
        match self.out.read_to_end(&mut r, extra) {
            Ok(ControlFlow::Continue(())) => {}
            Ok(ControlFlow::Break(())) => return (State::Reading(r), Step::Stop),
            Err(e) => {
                self.problem(format!("{}: {e}", r.name().display()));
                return (State::Reading(r), Step::Idle);
            }
        }
        // Does the path still name this file?
        match std::fs::metadata(self.target.path()) {
            Ok(m) if FileId::of(&m) == r.id() => {
                self.last_error = None;
                return (State::Reading(r), Step::Idle);
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                self.problem(format!("{}: {e}", self.target.path().display()));
                return (State::Reading(r), Step::Idle);
            }
            _ => {}
        }
        // Rotated away (or removed): drain the descriptor to its end, then the successor.
        if let Err(e) = self.out.read_to_end(&mut r, 0) {
            self.problem(format!("{}: {e}", r.name().display()));
        }
        if self.out.finish(&mut r).is_break() {
            return (State::Reading(r), Step::Stop);
        }
        log::info!(
            "{}: rotated; finished {} at byte {}",
            self.target.path().display(),
            r.name().display(),
            r.pos()
        );
        let after = After::File {
            key: r.key(),
            end: r.pos(),
            mtime_ns: r.mtime_ns(),
            file: r.into_file(),
        };
        (State::Awaiting(after), Step::Again)
    }

    /// Publishes the position: every event before it was pushed.
    fn publish(&self) {
        let Some(state) = &self.state else { return };
        let shared = &self.out.shared.paths[self.out.index];
        let pushed = shared.seq.load(Ordering::Relaxed);
        let position = state.position();
        *shared.published.lock().unwrap_or_else(|e| e.into_inner()) =
            Published { pushed, position };
    }

    /// Logs an I/O problem, once until it changes or reading succeeds.
    fn problem(&mut self, message: String) {
        if self.last_error.as_ref() != Some(&message) {
            log::warn!("follow: {message}");
            self.last_error = Some(message);
        }
    }
}
