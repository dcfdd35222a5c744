//! Counters and gauges (SPEC §7), shared as atomics between the plugin and its sources.

use falco_plugin::base::{Metric, MetricLabel, MetricType, MetricValue};
use std::ffi::CStr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

macro_rules! counters {
    ($( $(#[$doc:meta])* $name:ident, )*) => {
        /// The plugin's counters and gauges.
        #[derive(Debug, Default)]
        pub struct Metrics {
            $( $(#[$doc])* pub $name: AtomicU64, )*
            /// Time of the last emitted event (or of the first open), ns since the epoch (0: neither).
            pub last_event_ns: AtomicI64,
        }

        impl Metrics {
            fn counters(&self) -> impl Iterator<Item = (&'static CStr, u64)> + '_ {
                [$( (
                    CStr::from_bytes_with_nul(concat!(stringify!($name), "\0").as_bytes())
                        .expect("a counter name ends with its only NUL"),
                    self.$name.load(Ordering::Relaxed),
                ), )*]
                .into_iter()
            }
        }
    };
}

counters! {
    /// Events handed to Falco.
    events_emitted,
    /// Bytes read from files or request bodies.
    bytes_read,
    /// Lines skipped by framing (not JSON-object shaped, invalid UTF-8); too long ones are
    /// counted in `events_oversize`.
    lines_malformed,
    /// Events whose payload is not a valid AdmissionReview (every field ∅).
    events_unparsable,
    /// Lines or bodies longer than maxEventSize / webhookMaxBatchSize.
    events_oversize,
    /// Events dropped by skipResources.
    events_skipped,
    /// Events dropped because the queue was full.
    events_dropped_queue_full,
    /// Panics caught at the FFI boundary.
    panics,
    /// Events waiting between the producers and Falco (gauge).
    queue_depth,
    /// Webhook requests received.
    webhook_requests,
    /// Webhook requests answered with an error status.
    webhook_rejected,
    /// Webhook requests with a missing or wrong token or client certificate.
    webhook_auth_failures,
    /// Webhook connections closed at once because the connection cap (1024 open) was reached.
    webhook_connections_refused,
    /// Webhook bodies dropped because the in-flight body budget was used up by other requests
    /// (answered allowed; the event is lost).
    webhook_bodies_shed,
    /// Failed TLS handshakes.
    tls_handshake_failures,
    /// Seconds until the webhook certificate expires (gauge).
    tls_cert_expiry_seconds,
    /// Rotations seen by the follower.
    tail_rotations,
    /// Truncations seen by the follower.
    tail_truncations,
    /// Times the follower lost data (a rotated or checkpointed file removed before it was read,
    /// a file truncated before it was read).
    tail_gaps,
    /// Bytes written but not yet read by the follower (gauge).
    tail_lag_bytes,
}

const GAUGES: [&str; 4] = [
    "queue_depth",
    "tls_cert_expiry_seconds",
    "tail_lag_bytes",
    "last_event_age_seconds",
];

impl Metrics {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Records that an event was emitted now.
    pub fn event_emitted(&self) {
        Self::add(&self.events_emitted, 1);
        self.last_event_ns.store(now_ns(), Ordering::Relaxed);
    }

    /// Starts the clock of `last_event_age_seconds` when a source opens and no event was seen
    /// yet: a webhook nobody calls (its configuration deleted) shows a growing age, not 0.
    pub fn source_opened(&self) {
        let _ =
            self.last_event_ns
                .compare_exchange(0, now_ns(), Ordering::Relaxed, Ordering::Relaxed);
    }

    /// Seconds since the last emitted event, or since the first source opened when none was
    /// emitted yet (0 before either).
    pub fn last_event_age_seconds(&self) -> u64 {
        match self.last_event_ns.load(Ordering::Relaxed) {
            0 => 0,
            t => u64::try_from((now_ns() - t) / 1_000_000_000).unwrap_or(0),
        }
    }

    /// Every metric in the form Falco reads.
    pub fn snapshot(&self) -> Vec<Metric> {
        self.counters()
            .chain([(c"last_event_age_seconds", self.last_event_age_seconds())])
            .map(|(name, value)| {
                let kind = if GAUGES.iter().any(|g| g.as_bytes() == name.to_bytes()) {
                    MetricType::NonMonotonic
                } else {
                    MetricType::Monotonic
                };
                MetricLabel::new(name, kind).with_value(MetricValue::U64(value))
            })
            .collect()
    }

    /// Every metric as (name, value), for logs and tests.
    pub fn values(&self) -> Vec<(&'static str, u64)> {
        self.counters()
            .map(|(n, v)| (n.to_str().unwrap_or_default(), v))
            .chain([("last_event_age_seconds", self.last_event_age_seconds())])
            .collect()
    }
}

/// Now, in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_of_the_spec_is_exported() {
        let m = Metrics::default();
        Metrics::add(&m.lines_malformed, 2);
        m.event_emitted();
        let values = m.values();
        let names: Vec<_> = values.iter().map(|(n, _)| *n).collect();
        for want in [
            "events_emitted",
            "bytes_read",
            "lines_malformed",
            "events_unparsable",
            "events_oversize",
            "events_skipped",
            "events_dropped_queue_full",
            "panics",
            "queue_depth",
            "last_event_age_seconds",
            "webhook_requests",
            "webhook_rejected",
            "webhook_auth_failures",
            "webhook_connections_refused",
            "webhook_bodies_shed",
            "tls_handshake_failures",
            "tls_cert_expiry_seconds",
            "tail_rotations",
            "tail_truncations",
            "tail_gaps",
            "tail_lag_bytes",
        ] {
            assert!(names.contains(&want), "{want} missing");
        }
        assert!(values.contains(&("lines_malformed", 2)));
        assert!(values.contains(&("events_emitted", 1)));
        assert_eq!(m.snapshot().len(), values.len());
    }
}
