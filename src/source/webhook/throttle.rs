//! At most one warning per interval for conditions a client can repeat at will (oversize bodies,
//! failed handshakes, capture write errors): the counters tell how often, the log tells why.

use crate::metrics::now_ns;
use std::sync::atomic::{AtomicI64, Ordering};

/// Time between two warnings of one kind, in ns.
const INTERVAL_NS: i64 = 10_000_000_000;

/// Lets one warning through per interval.
#[derive(Debug, Default)]
pub(super) struct Throttle {
    /// When the next warning may go out, ns since the epoch.
    next_ns: AtomicI64,
}

impl Throttle {
    /// `true` when a warning may be logged now (and then not again for the interval).
    pub(super) fn ready(&self) -> bool {
        let now = now_ns();
        let next = self.next_ns.load(Ordering::Relaxed);
        now >= next
            && self
                .next_ns
                .compare_exchange(
                    next,
                    now + INTERVAL_NS,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval() {
        let t = Throttle::default();
        assert!(t.ready());
        assert!(!t.ready());
        t.next_ns.store(0, Ordering::Relaxed);
        assert!(t.ready());
    }
}
