//! The bounded queue between the live producers (follower, webhook) and `next_batch`:
//! limited in events (queueCapacity) and in bytes (queueMaxBytes), whichever is hit first.

use crate::metrics::Metrics;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Payload bytes one drain hands over at most (a batch is copied once more into Falco's buffer).
pub const DRAIN_BYTES: usize = 8 * 1024 * 1024;

/// One event waiting for Falco.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued<C> {
    /// The payload (AdmissionReview JSON).
    pub payload: Vec<u8>,
    /// Event time, ns since the epoch.
    pub ts: u64,
    /// Where the event came from, for sources that keep a checkpoint.
    pub cursor: Option<C>,
}

#[derive(Debug)]
struct State<C> {
    items: VecDeque<Queued<C>>,
    bytes: usize,
    closed: bool,
}

/// A bounded multi-producer, single-consumer queue.
#[derive(Debug)]
pub struct Queue<C> {
    state: Mutex<State<C>>,
    /// Signalled when an item arrives (the consumer waits on it).
    filled: Condvar,
    /// Signalled when room is made or the queue closes (blocking producers wait on it).
    drained: Condvar,
    capacity: usize,
    max_bytes: usize,
    metrics: Arc<Metrics>,
}

/// What a push did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The event is queued.
    Queued,
    /// The queue was full: the event was dropped and counted.
    Dropped,
    /// The queue is closed: the source is stopping.
    Closed,
}

impl<C> Queue<C> {
    /// A queue of at most `capacity` events and `max_bytes` payload bytes.
    pub fn new(capacity: u64, max_bytes: u64, metrics: Arc<Metrics>) -> Self {
        Self {
            state: Mutex::new(State {
                items: VecDeque::new(),
                bytes: 0,
                closed: false,
            }),
            filled: Condvar::new(),
            drained: Condvar::new(),
            capacity: usize::try_from(capacity).unwrap_or(usize::MAX).max(1),
            max_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX).max(1),
            metrics,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<C>> {
        // A producer that panicked while holding the lock leaves consistent state behind.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `true` when one more event of `len` bytes fits (an event larger than the byte limit
    /// still goes alone into an empty queue).
    fn fits(&self, state: &State<C>, len: usize) -> bool {
        state.items.len() < self.capacity
            && (state.items.is_empty() || state.bytes + len <= self.max_bytes)
    }

    fn push_locked(&self, state: &mut State<C>, item: Queued<C>) {
        state.bytes += item.payload.len();
        state.items.push_back(item);
        self.metrics
            .queue_depth
            .store(state.items.len() as u64, Ordering::Relaxed);
        self.filled.notify_one();
    }

    /// Queues the event, or drops and counts it when the queue is full (the webhook must
    /// answer the apiserver at once).
    pub fn try_push(&self, item: Queued<C>) -> Pushed {
        let mut state = self.lock();
        if state.closed {
            return Pushed::Closed;
        }
        if !self.fits(&state, item.payload.len()) {
            Metrics::add(&self.metrics.events_dropped_queue_full, 1);
            return Pushed::Dropped;
        }
        self.push_locked(&mut state, item);
        Pushed::Queued
    }

    /// Queues the event, waiting while the queue is full (back-pressure for the follower).
    /// Returns `Closed` (and drops the event) when the queue is closed meanwhile.
    pub fn push_wait(&self, item: Queued<C>) -> Pushed {
        let mut state = self.lock();
        loop {
            if state.closed {
                return Pushed::Closed;
            }
            if self.fits(&state, item.payload.len()) {
                self.push_locked(&mut state, item);
                return Pushed::Queued;
            }
            state = self.drained.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Takes up to `max` events and about [`DRAIN_BYTES`] of payload (one larger event still
    /// goes alone); when none is ready, waits at most `wait` for the first.
    pub fn drain(&self, max: usize, wait: Duration) -> Vec<Queued<C>> {
        let deadline = Instant::now() + wait;
        let mut state = self.lock();
        while state.items.is_empty() && !state.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .filled
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let mut n = 0;
        let mut bytes = 0;
        for item in state.items.iter().take(max) {
            if n > 0 && bytes + item.payload.len() > DRAIN_BYTES {
                break;
            }
            n += 1;
            bytes += item.payload.len();
        }
        let out: Vec<_> = state.items.drain(..n).collect();
        state.bytes -= out.iter().map(|i| i.payload.len()).sum::<usize>();
        self.metrics
            .queue_depth
            .store(state.items.len() as u64, Ordering::Relaxed);
        if !out.is_empty() {
            self.drained.notify_all();
        }
        out
    }

    /// Closes the queue: producers stop waiting and further pushes are refused.
    pub fn close(&self) {
        self.lock().closed = true;
        self.drained.notify_all();
        self.filled.notify_all();
    }

    /// `true` once [`close`](Self::close) was called.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    fn item(n: u8, len: usize) -> Queued<()> {
        Queued {
            payload: vec![n; len],
            ts: u64::from(n),
            cursor: None,
        }
    }

    #[test]
    fn limits_events_and_bytes_and_counts_drops() {
        let m = Arc::new(Metrics::default());
        let q = Queue::new(3, 10, m.clone());
        assert_eq!(q.try_push(item(1, 4)), Pushed::Queued);
        assert_eq!(q.try_push(item(2, 4)), Pushed::Queued);
        assert_eq!(q.try_push(item(3, 4)), Pushed::Dropped, "bytes");
        assert_eq!(q.try_push(item(4, 2)), Pushed::Queued);
        assert_eq!(q.try_push(item(5, 0)), Pushed::Dropped, "events");
        assert_eq!(m.events_dropped_queue_full.load(Ordering::Relaxed), 2);
        assert_eq!(m.queue_depth.load(Ordering::Relaxed), 3);
        let got = q.drain(2, Duration::ZERO);
        assert_eq!(got.iter().map(|i| i.ts).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(m.queue_depth.load(Ordering::Relaxed), 1);
        // A single event over the byte limit still passes alone.
        let big = Queue::new(3, 10, m);
        assert_eq!(big.try_push(item(9, 50)), Pushed::Queued);
        assert_eq!(big.try_push(item(8, 1)), Pushed::Dropped);
    }

    #[test]
    fn drain_hands_over_a_bounded_number_of_bytes() {
        let q = Queue::new(10, u64::MAX, Arc::default());
        let big = DRAIN_BYTES / 3 + 1;
        for n in 0..4 {
            assert_eq!(q.try_push(item(n, big)), Pushed::Queued);
        }
        assert_eq!(q.drain(10, Duration::ZERO).len(), 2);
        assert_eq!(q.drain(10, Duration::ZERO).len(), 2);
        assert_eq!(q.try_push(item(9, DRAIN_BYTES * 2)), Pushed::Queued);
        assert_eq!(
            q.drain(10, Duration::ZERO).len(),
            1,
            "one larger event goes alone"
        );
    }

    #[test]
    fn drain_waits_at_most_the_timeout() {
        let q: Queue<()> = Queue::new(10, 100, Arc::default());
        let t = Instant::now();
        assert!(q.drain(10, Duration::from_millis(30)).is_empty());
        let waited = t.elapsed();
        assert!(waited >= Duration::from_millis(30) && waited < Duration::from_secs(2));
    }

    #[test]
    fn blocking_producers_wait_for_room_and_stop_on_close() {
        let q = Arc::new(Queue::new(1, 100, Arc::default()));
        assert_eq!(q.push_wait(item(1, 1)), Pushed::Queued);
        let producer = {
            let q = q.clone();
            thread::spawn(move || q.push_wait(item(2, 1)))
        };
        let first = q.drain(1, Duration::from_secs(1));
        assert_eq!(first[0].ts, 1);
        assert_eq!(producer.join().unwrap(), Pushed::Queued);
        assert_eq!(q.drain(1, Duration::from_secs(1))[0].ts, 2);
        assert_eq!(q.push_wait(item(3, 1)), Pushed::Queued);
        let blocked = {
            let q = q.clone();
            thread::spawn(move || q.push_wait(item(4, 1)))
        };
        thread::sleep(Duration::from_millis(20));
        q.close();
        assert_eq!(blocked.join().unwrap(), Pushed::Closed);
        assert!(q.is_closed());
    }
}
