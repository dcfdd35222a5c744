//! Rate-limited warnings: bad input that a client or a file can repeat at will must not flood
//! Falco's log. The metrics count every occurrence; the log says why, a few times per window.

use crate::metrics::now_ns;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// Warnings allowed per window before the rest are only counted.
const BURST: u32 = 10;
/// The window, in ns.
const WINDOW_NS: i64 = 10_000_000_000;

/// Lets `BURST` warnings of one kind through per window and reports how many were held back.
/// Shared freely between threads and tasks (`&self`, lock-free).
#[derive(Debug)]
pub struct LogLimit {
    /// What the warnings are about, plural (`"skipped lines"`), for the summary line.
    what: &'static str,
    window_start_ns: AtomicI64,
    in_window: AtomicU32,
    suppressed: AtomicU64,
}

impl LogLimit {
    /// A limiter for warnings about `what` (plural: "skipped lines", "failed TLS handshakes").
    pub const fn new(what: &'static str) -> Self {
        Self {
            what,
            window_start_ns: AtomicI64::new(i64::MIN),
            in_window: AtomicU32::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Logs the message (built only when it is logged) as a warning, or counts it.
    pub fn warn(&self, message: impl FnOnce() -> String) {
        let now = now_ns();
        let start = self.window_start_ns.load(Ordering::Relaxed);
        if now.saturating_sub(start) >= WINDOW_NS
            && self
                .window_start_ns
                .compare_exchange(start, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.flush();
            self.in_window.store(0, Ordering::Relaxed);
        }
        if self.in_window.fetch_add(1, Ordering::Relaxed) < BURST {
            log::warn!("{}", message());
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Says how many warnings were held back, if any.
    pub fn flush(&self) {
        let n = self.suppressed.swap(0, Ordering::Relaxed);
        if n > 0 {
            log::warn!(
                "{n} more {} were not logged (the metrics count them all)",
                self.what
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_back_after_the_burst_and_opens_a_new_window() {
        let limit = LogLimit::new("bad lines");
        for _ in 0..25 {
            limit.warn(|| "bad line".to_string());
        }
        assert_eq!(limit.in_window.load(Ordering::Relaxed), 25);
        assert_eq!(limit.suppressed.load(Ordering::Relaxed), 15);
        limit.window_start_ns.store(i64::MIN, Ordering::Relaxed);
        limit.warn(|| "bad line".to_string());
        assert_eq!(limit.suppressed.load(Ordering::Relaxed), 0);
        assert_eq!(limit.in_window.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn shared_between_threads() {
        let limit = LogLimit::new("events");
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100 {
                        limit.warn(|| "x".into());
                    }
                });
            }
        });
        assert_eq!(
            limit.suppressed.load(Ordering::Relaxed),
            400 - u64::from(BURST)
        );
    }
}
