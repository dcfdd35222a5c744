//! The in-flight body budget: one per server, shared by all its connections, so that many
//! concurrent clients cannot make the plugin hold more than a fixed amount of request bodies
//! (1024 connections each sending just under webhookMaxBatchSize would otherwise be ~12 GiB).
//!
//! Bytes are taken as they arrive (the capacity of each body's buffer) and given back when the
//! request ends, its review queued or dropped, on every path: a [`Lease`] releases what it holds
//! when dropped (an error, a timeout, a client gone, a cancelled request). Taking never waits:
//! a body refused is shed (the handler keeps its head for the uid and drops the event).
//!
//! The first [`HEAD_KEPT`] bytes of every body have an allowance of their own on top of the
//! budget ([`MAX_CONNECTIONS`] heads), so that a shed body still has its uid and is answered
//! `allowed`; the rest of a body may only be taken while everything held stays within the
//! budget.
//!
//! The compact copy that validation writes (at most maxEventSize) is not taken from the
//! budget: copies in progress are bounded by the threads that make them (the server's blocking
//! threads for bodies over 64 KiB, its async workers for smaller ones), and a finished copy is
//! counted by the queue (queueMaxBytes). So the memory held at once for requests stays within
//! the budget, the heads' allowance, and about 4 × maxEventSize.

use super::body::HEAD_KEPT;
use super::server::MAX_CONNECTIONS;
use crate::config::Config;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Bytes of request bodies that one server may hold at once.
#[derive(Debug)]
pub(super) struct Budget {
    /// Bytes held by all leases.
    held: AtomicUsize,
    /// What the bodies past their heads may bring `held` up to.
    limit: usize,
    /// What heads may bring `held` up to: the limit plus the heads' allowance.
    head_limit: usize,
}

impl Budget {
    /// The budget of `config`: queueMaxBytes, but never below 2 × webhookMaxBatchSize (two
    /// bodies of the largest size accepted always fit), plus [`MAX_CONNECTIONS`] ×
    /// [`HEAD_KEPT`] for heads.
    pub(super) fn of(config: &Config) -> Self {
        let bytes = config
            .queue_max_bytes
            .max(config.webhook_max_batch_size.saturating_mul(2));
        Self::new(
            usize::try_from(bytes).unwrap_or(usize::MAX),
            MAX_CONNECTIONS * HEAD_KEPT,
        )
    }

    /// A budget of `limit` bytes, plus `heads` bytes that only heads may use.
    pub(super) fn new(limit: usize, heads: usize) -> Self {
        Self {
            held: AtomicUsize::new(0),
            limit,
            head_limit: limit.saturating_add(heads),
        }
    }

    /// The budget proper (without the heads' allowance), in bytes.
    pub(super) fn limit(&self) -> usize {
        self.limit
    }

    /// A new lease holding nothing yet (it owns a handle on the budget, so that it can go
    /// with the body to the thread that parses it).
    pub(super) fn lease(self: &Arc<Self>) -> Lease {
        Lease {
            budget: self.clone(),
            held: 0,
        }
    }

    /// Takes `n` bytes if `held` stays within `ceiling`; never waits.
    fn take(&self, n: usize, ceiling: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                held.checked_add(n).filter(|&after| after <= ceiling)
            })
            .is_ok()
    }

    /// Gives back `n` bytes.
    fn give(&self, n: usize) {
        self.held.fetch_sub(n, Ordering::AcqRel);
    }
}

/// The bytes one request holds of the [`Budget`]; all given back on drop.
#[derive(Debug)]
pub(super) struct Lease {
    budget: Arc<Budget>,
    held: usize,
}

impl Lease {
    /// Bytes held.
    #[cfg(test)]
    pub(super) fn held(&self) -> usize {
        self.held
    }

    /// Grows the lease to `total` bytes (nothing to do when it holds that much already). The
    /// part below [`HEAD_KEPT`] comes from the heads' allowance when the budget is used up; the
    /// rest only from the budget. `false` when refused: the lease then holds what it held
    /// before, or [`HEAD_KEPT`] when the head part alone was granted.
    pub(super) fn grow_to(&mut self, total: usize) -> bool {
        if total <= self.held {
            return true;
        }
        let head = total.min(HEAD_KEPT).saturating_sub(self.held);
        if head > 0 {
            if !self.budget.take(head, self.budget.head_limit) {
                return false;
            }
            self.held += head;
        }
        let rest = total - self.held;
        if rest > 0 {
            if !self.budget.take(rest, self.budget.limit) {
                return false;
            }
            self.held += rest;
        }
        true
    }

    /// Gives back what is held past `total` bytes.
    pub(super) fn shrink_to(&mut self, total: usize) {
        if total < self.held {
            self.budget.give(self.held - total);
            self.held = total;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.shrink_to(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(budget: &Budget) -> usize {
        budget.held.load(Ordering::Relaxed)
    }

    #[test]
    fn the_budget_follows_the_config() {
        let of = |json: &str| Budget::of(&serde_json::from_str(json).unwrap());
        let defaults = of("{}");
        assert_eq!(defaults.limit(), 256 << 20);
        assert_eq!(defaults.head_limit, (256 << 20) + 1024 * 64 * 1024);
        // Never below two bodies of the largest size.
        let small = of(r#"{"queueMaxBytes":1000,"webhookMaxBatchSize":3000}"#);
        assert_eq!(small.limit(), 6000);
        let huge = of(r#"{"queueMaxBytes":18446744073709551615}"#);
        assert_eq!((huge.limit(), huge.head_limit), (usize::MAX, usize::MAX));
    }

    #[test]
    fn leases_take_within_the_limit_and_give_back_on_drop() {
        let budget = Arc::new(Budget::new(3 * HEAD_KEPT, 0));
        let mut a = budget.lease();
        assert!(a.grow_to(2 * HEAD_KEPT));
        assert!(a.grow_to(HEAD_KEPT), "already held");
        assert_eq!(a.held(), 2 * HEAD_KEPT);
        let mut b = budget.lease();
        assert!(b.grow_to(HEAD_KEPT));
        assert!(!b.grow_to(HEAD_KEPT + 1), "over the limit");
        assert_eq!((b.held(), held(&budget)), (HEAD_KEPT, 3 * HEAD_KEPT));
        a.shrink_to(10);
        assert_eq!(held(&budget), HEAD_KEPT + 10);
        assert!(b.grow_to(2 * HEAD_KEPT));
        drop(a);
        drop(b);
        assert_eq!(held(&budget), 0);
    }

    #[test]
    fn heads_have_an_allowance_of_their_own() {
        let budget = Arc::new(Budget::new(HEAD_KEPT, 2 * HEAD_KEPT));
        let mut big = budget.lease();
        assert!(big.grow_to(HEAD_KEPT));
        // The budget is used up, yet two more heads fit, not a third.
        let mut heads: Vec<_> = (0..3).map(|_| budget.lease()).collect();
        assert!(heads[0].grow_to(100));
        assert!(heads[0].grow_to(HEAD_KEPT));
        assert!(heads[1].grow_to(HEAD_KEPT));
        assert!(!heads[2].grow_to(1));
        assert_eq!(heads[2].held(), 0);
        // Past its head a body needs the budget proper: refused, it keeps its head.
        assert!(!heads[1].grow_to(HEAD_KEPT + 1));
        assert_eq!(heads[1].held(), HEAD_KEPT);
        heads.clear();
        let mut fresh = budget.lease();
        assert!(!fresh.grow_to(2 * HEAD_KEPT));
        assert_eq!(fresh.held(), HEAD_KEPT, "the head part alone was granted");
        drop(fresh);
        big.shrink_to(0);
        assert_eq!(held(&budget), 0);
        let mut whole = budget.lease();
        assert!(whole.grow_to(HEAD_KEPT));
        drop(whole);
        drop(big);
        assert_eq!(held(&budget), 0);
    }

    #[test]
    fn concurrent_leases_never_exceed_the_budget_and_give_everything_back() {
        let budget = Arc::new(Budget::new(10 * HEAD_KEPT, 4 * HEAD_KEPT));
        let peak = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (budget, peak) = (&budget, &peak);
                s.spawn(move || {
                    for i in 0..2000 {
                        let mut lease = budget.lease();
                        let mut total = 0;
                        while lease.grow_to(total + 1000 * (t + 1)) && total < 4 * HEAD_KEPT {
                            total = lease.held();
                            peak.fetch_max(held(budget), Ordering::Relaxed);
                        }
                        if i % 3 == 0 {
                            lease.shrink_to(HEAD_KEPT / 2);
                        }
                    }
                });
            }
        });
        assert!(peak.load(Ordering::Relaxed) <= 14 * HEAD_KEPT);
        assert_eq!(held(&budget), 0);
    }
}
