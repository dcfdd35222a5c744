//! The panic guard: no panic crosses the FFI boundary (falco_plugin 0.5 does not catch them).

use crate::metrics::Metrics;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic is logged, counted in `panics`, and becomes `None`.
pub fn catch<R>(metrics: &Metrics, what: &str, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(payload) => {
            Metrics::add(&metrics.panics, 1);
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            log::error!("internal error in {what} (caught, the stream goes on): {msg}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_panic_becomes_none_and_is_counted() {
        let m = Metrics::default();
        assert_eq!(catch(&m, "test", || 7), Some(7));
        let r: Option<u8> = catch(&m, "test", || panic!("boom"));
        assert_eq!(r, None);
        assert_eq!(m.panics.load(Ordering::Relaxed), 1);
    }
}
