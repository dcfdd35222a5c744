//! From a line read to an event payload: framing, skipResources, Secret redaction and the event
//! time, with the counters and rate-limited warnings. Shared by replay and follow.

use super::framing::{self, Frame};
use super::log_limit::LogLimit;
use super::redact::{self, Redaction};
use super::scan;
use crate::config::Config;
use crate::metrics::{now_ns, Metrics};
use std::borrow::Cow;
use std::sync::Arc;

/// An event ready for Falco.
#[derive(Debug, PartialEq, Eq)]
pub struct Admitted<'a> {
    /// The payload: the line, or its redacted re-serialisation.
    pub payload: Cow<'a, [u8]>,
    /// Event time, ns since the epoch.
    pub ts: u64,
}

/// Turns lines into events for one source.
#[derive(Debug)]
pub struct Ingest {
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    warnings: LogLimit,
}

impl Ingest {
    /// The pipeline of one source.
    pub fn new(config: Arc<Config>, metrics: Arc<Metrics>) -> Self {
        Self {
            config,
            metrics,
            warnings: LogLimit::new("skipped lines"),
        }
    }

    /// A line read (without its `\n`) from `origin` (`file:line`, built only when logged):
    /// the event, or `None` when it is blank, malformed (counted, logged) or skipped (counted).
    pub fn line<'a>(
        &mut self,
        line: &'a [u8],
        origin: impl FnOnce() -> String,
    ) -> Option<Admitted<'a>> {
        Metrics::add(&self.metrics.bytes_read, line.len() as u64 + 1);
        let payload = match framing::frame(line) {
            Frame::Blank => return None,
            Frame::Malformed(why) => {
                Metrics::add(&self.metrics.lines_malformed, 1);
                self.warnings
                    .warn(|| format!("{}: malformed line skipped: {why}", origin()));
                return None;
            }
            Frame::Event(payload) => payload,
        };
        if self.skips(payload) {
            Metrics::add(&self.metrics.events_skipped, 1);
            return None;
        }
        let payload = match self.redact(payload) {
            Redaction::NotSecret => Cow::Borrowed(payload),
            Redaction::Redacted(redacted) => Cow::Owned(redacted),
            Redaction::Failed => {
                Metrics::add(&self.metrics.events_unparsable, 1);
                self.warnings.warn(|| {
                    format!(
                        "{}: Secret review that cannot be redacted dropped (invalid JSON)",
                        origin()
                    )
                });
                return None;
            }
        };
        let ts = framing::timestamp_ns(&payload).unwrap_or_else(|| now_ns().max(0) as u64);
        Some(Admitted { payload, ts })
    }

    /// A line of `n` bytes over maxEventSize was skipped at `origin`.
    pub fn too_long(&mut self, n: u64, origin: impl FnOnce() -> String) {
        Metrics::add(&self.metrics.bytes_read, n + 1);
        Metrics::add(&self.metrics.events_oversize, 1);
        let max = self.config.max_event_size;
        self.warnings.warn(|| {
            format!(
                "{}: line of {n} bytes skipped (maxEventSize is {max})",
                origin()
            )
        });
    }

    /// Logs how many warnings the rate limit held back.
    pub fn flush_warnings(&self) {
        self.warnings.flush();
    }

    /// `true` when the payload's resource is one of skipResources.
    pub fn skips(&self, payload: &[u8]) -> bool {
        self.config
            .skip_resources
            .iter()
            .any(|r| names_resource(payload, r))
    }

    /// What redactSecrets makes of a payload.
    pub fn redact(&self, payload: &[u8]) -> Redaction {
        if self.config.redact_secrets {
            redact::redact_secret(payload)
        } else {
            Redaction::NotSecret
        }
    }
}

/// `true` when the review's `request.resource.resource` is `name` (a structural scan: a
/// look-alike member elsewhere, e.g. an annotation, does not count).
pub fn names_resource(payload: &[u8], name: &str) -> bool {
    scan::string(payload, &["request", "resource", "resource"]).is_some_and(|r| r == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn finds_the_resource_without_parsing() {
        let lease = br#"{"request":{"resource":{"group":"coordination.k8s.io","version":"v1","resource":"leases"}}}"#;
        assert!(names_resource(lease, "leases"));
        assert!(!names_resource(lease, "lease"));
        assert!(!names_resource(lease, "pods"));
        let spaced = br#"{"request":{"resource": { "resource" : "events" }}}"#;
        assert!(names_resource(spaced, "events"));
        let escaped = br#"{"a":"\"resource\":\"leases\""}"#;
        assert!(!names_resource(escaped, "leases"));
        // A privileged pod must not be hidden by an annotation that looks like the member.
        let disguised = br#"{"request":{"uid":"u","kind":{"group":"","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"object":{"metadata":{"annotations":{"resource":"leases"}}}}}"#;
        assert!(!names_resource(disguised, "leases"));
        assert!(names_resource(disguised, "pods"));
    }

    #[test]
    fn admits_counts_and_skips() {
        let config: Config = serde_json::from_str(r#"{"skipResources":["leases"]}"#).unwrap();
        let metrics = Arc::new(Metrics::default());
        let mut ingest = Ingest::new(Arc::new(config), metrics.clone());
        let line = br#"{"request":{"uid":"u"},"requestReceivedTimestamp":"2026-11-20T10:15:03Z"}"#;
        let got = ingest.line(line, || "f:1".into()).unwrap();
        assert_eq!(got.payload, Cow::Borrowed(&line[..]));
        assert_eq!(got.ts, 1_795_169_703_000_000_000);
        assert_eq!(ingest.line(b"  ", || "f:2".into()), None);
        assert_eq!(ingest.line(b"nope", || "f:3".into()), None);
        let lease = br#"{"request":{"resource":{"resource":"leases"}}}"#;
        assert_eq!(ingest.line(lease, || "f:4".into()), None);
        ingest.too_long(100, || "f:5".into());
        assert_eq!(metrics.lines_malformed.load(Ordering::Relaxed), 1);
        assert_eq!(metrics.events_skipped.load(Ordering::Relaxed), 1);
        assert_eq!(metrics.events_oversize.load(Ordering::Relaxed), 1);
        let read = line.len() + 1 + 3 + 5 + lease.len() + 1 + 101;
        assert_eq!(metrics.bytes_read.load(Ordering::Relaxed), read as u64);
    }
}
