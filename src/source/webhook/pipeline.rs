//! From a body to an event: maxEventSize, validation and compaction with the timestamp,
//! skipResources, Secret redaction, captureFile, then the queue. Never blocks on the queue: the
//! answer must reach the apiserver in time whatever Falco does.

use super::capture::Capture;
use super::review::{self, Verdict};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::source::ingest::Ingest;
use crate::source::log_limit::LogLimit;
use crate::source::queue::{Pushed, Queue, Queued};
use crate::source::redact::Redaction;
use anyhow::Context;
use chrono::Utc;
use hyper::StatusCode;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// What became of a body.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// The answer for the apiserver: the review was queued, or skipped, or dropped.
    Answer(Vec<u8>),
    /// Not a review: the reason of a 400.
    Invalid(&'static str),
    /// Not taken in (too large, too deep, no memory for it), and not parsed far enough for an
    /// answer: answered `allowed` with the uid the head scan finds, else with this status.
    ByHead {
        status: StatusCode,
        reason: &'static str,
    },
}

/// The stages after the body is read, shared by every connection.
#[derive(Debug)]
pub(super) struct Pipeline {
    ingest: Ingest,
    queue: Queue<()>,
    capture: Option<Mutex<Capture>>,
    max_event_size: usize,
    metrics: Arc<Metrics>,
    too_large_warnings: LogLimit,
    too_deep_warnings: LogLimit,
    capture_warnings: LogLimit,
    queue_full_warnings: LogLimit,
}

impl Pipeline {
    /// The pipeline of `config`; opens captureFile when one is set.
    pub(super) fn new(config: Arc<Config>, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let capture = match &config.capture_file {
            Some(path) => {
                let max = config.capture_max_size.saturating_mul(1024 * 1024);
                let capture = Capture::open(Path::new(path), max, config.capture_max_backups)
                    .with_context(|| format!("captureFile {path:?} cannot be opened"))?;
                Some(Mutex::new(capture))
            }
            None => None,
        };
        Ok(Self {
            queue: Queue::new(
                config.queue_capacity,
                config.queue_max_bytes,
                metrics.clone(),
            ),
            max_event_size: usize::try_from(config.max_event_size).unwrap_or(usize::MAX),
            ingest: Ingest::new(config, metrics.clone()),
            capture,
            metrics,
            too_large_warnings: LogLimit::new("oversize reviews"),
            too_deep_warnings: LogLimit::new("reviews nested too deep"),
            capture_warnings: LogLimit::new("captureFile write failures"),
            queue_full_warnings: LogLimit::new("reviews dropped on a full queue"),
        })
    }

    /// The queue `next_batch` drains.
    pub(super) fn queue(&self) -> &Queue<()> {
        &self.queue
    }

    /// Takes in one whole request body. Skipped, too large or dropped (queue full) reviews are
    /// still answered `allowed`. CPU-heavy for large bodies: the caller runs it off the async
    /// workers.
    pub(super) fn admit(&self, body: &[u8]) -> Outcome {
        #[cfg(test)]
        if body.starts_with(br#"{"test-panic""#) {
            panic!("a test asked for a panic");
        }
        if body.len() > self.max_event_size {
            // Never parsed: the event would be dropped anyway.
            return self.too_large(body.len());
        }
        let now = Utc::now();
        let review = match review::review(body, now, self.max_event_size) {
            Verdict::Valid(review) => review,
            Verdict::Invalid(reason) => return Outcome::Invalid(reason),
            Verdict::TooLarge => return self.too_large(body.len()),
            Verdict::TooDeep => {
                Metrics::add(&self.metrics.events_unparsable, 1);
                self.too_deep_warnings.warn(|| "webhook review dropped: it nests deeper than the apiserver allows (10,000 levels); answered allowed; see events_unparsable".to_string());
                return Outcome::ByHead {
                    status: StatusCode::BAD_REQUEST,
                    reason: "request.uid is missing or empty",
                };
            }
        };
        if self.ingest.skips(&review.payload) {
            Metrics::add(&self.metrics.events_skipped, 1);
            return Outcome::Answer(review.answer);
        }
        let payload = match self.ingest.redact(&review.payload) {
            Redaction::NotSecret => review.payload,
            Redaction::Redacted(redacted) => redacted,
            Redaction::Failed => {
                Metrics::add(&self.metrics.events_unparsable, 1);
                return Outcome::Answer(review.answer);
            }
        };
        if payload.len() > self.max_event_size {
            self.too_large(payload.len());
            return Outcome::Answer(review.answer);
        }
        if let Some(capture) = &self.capture {
            let mut capture = capture.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = capture.append(&payload, now) {
                self.capture_warnings
                    .warn(|| format!("captureFile write failed: {e}"));
            }
        }
        let pushed = self.queue.try_push(Queued {
            payload,
            ts: review.ts,
            cursor: None,
        });
        if pushed == Pushed::Dropped {
            self.queue_full_warnings.warn(|| {
                "webhook queue full: reviews are answered but dropped (Falco is not keeping up); see events_dropped_queue_full".to_string()
            });
        }
        Outcome::Answer(review.answer)
    }

    /// A review longer than maxEventSize: dropped and counted, answered from its head.
    fn too_large(&self, len: usize) -> Outcome {
        Metrics::add(&self.metrics.events_oversize, 1);
        self.too_large_warnings.warn(|| {
            format!(
                "webhook review of {len} bytes or more dropped: longer than maxEventSize ({}); see events_oversize",
                self.max_event_size
            )
        });
        Outcome::ByHead {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            reason: "the body is longer than maxEventSize and has no request.uid",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    fn pipeline(config: &str) -> (Pipeline, Arc<Metrics>) {
        let config: Config = serde_json::from_str(config).unwrap();
        let metrics = Arc::new(Metrics::default());
        (
            Pipeline::new(Arc::new(config), metrics.clone()).unwrap(),
            metrics,
        )
    }

    fn admit(p: &Pipeline, body: &[u8]) -> Outcome {
        p.admit(body)
    }

    fn is_answer(o: &Outcome) -> bool {
        matches!(o, Outcome::Answer(_))
    }

    #[test]
    fn queues_redacts_skips_and_captures() {
        let dir = tempfile::tempdir().unwrap();
        let cap = dir.path().join("cap.jsonl");
        let config = format!(
            r#"{{"skipResources":["leases"],"captureFile":{:?},"maxEventSize":300}}"#,
            cap.to_str().unwrap()
        );
        let (p, m) = pipeline(&config);
        let secret = br#"{"request":{"uid":"s","kind":{"group":"","version":"v1","kind":"Secret"},"object":{"data":{"k":"c2VjcmV0"}}}}"#;
        assert!(is_answer(&admit(&p, secret)));
        let lease = br#"{"request":{"uid":"l","resource":{"resource":"leases"}}}"#;
        assert!(is_answer(&admit(&p, lease)));
        // Longer than maxEventSize: never parsed, answered from its head.
        let big = format!(r#"{{"request":{{"uid":"b","x":"{}"}}}}"#, "x".repeat(400));
        assert!(matches!(
            admit(&p, big.as_bytes()),
            Outcome::ByHead {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                ..
            }
        ));
        // Within maxEventSize as sent, over it once stamped: parsed, then dropped.
        let near = format!(r#"{{"request":{{"uid":"n","x":"{}"}}}}"#, "x".repeat(260));
        assert!(near.len() <= 300);
        assert!(matches!(admit(&p, near.as_bytes()), Outcome::ByHead { .. }));
        assert_eq!(
            admit(&p, b"{}"),
            Outcome::Invalid("request.uid is missing or empty")
        );
        let got = p.queue().drain(10, Duration::ZERO);
        assert_eq!(got.len(), 1);
        let text = String::from_utf8(got[0].payload.clone()).unwrap();
        assert!(text.contains(r#""data":{"k":"REDACTED"}"#), "{text}");
        assert!(!text.contains("c2VjcmV0"));
        assert_eq!(std::fs::read_to_string(&cap).unwrap(), text + "\n");
        assert_eq!(m.events_skipped.load(Ordering::Relaxed), 1);
        assert_eq!(m.events_oversize.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn deep_reviews_are_taken_in_and_deeper_than_the_apiserver_allows_dropped_not_refused() {
        let (p, m) = pipeline("{}");
        let nested = |n: usize| {
            format!(
                r#"{{"request":{{"uid":"d","x":{}{}}}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        // 200 levels: past serde_json's own limit (128), well within the apiserver's.
        assert!(matches!(
            admit(&p, nested(200).as_bytes()),
            Outcome::Answer(_)
        ));
        assert_eq!(p.queue().drain(10, Duration::ZERO).len(), 1);
        assert_eq!(
            admit(&p, nested(20_000).as_bytes()),
            Outcome::ByHead {
                status: StatusCode::BAD_REQUEST,
                reason: "request.uid is missing or empty"
            }
        );
        assert_eq!(m.events_unparsable.load(Ordering::Relaxed), 1);
        assert!(p.queue().drain(10, Duration::ZERO).is_empty());
    }

    #[test]
    fn a_full_queue_still_answers() {
        let (p, m) = pipeline(r#"{"queueCapacity":1}"#);
        let body = br#"{"request":{"uid":"u"}}"#;
        for _ in 0..3 {
            assert!(is_answer(&admit(&p, body)));
        }
        assert_eq!(m.events_dropped_queue_full.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn an_unwritable_capture_file_is_an_error_at_start() {
        let config = Config {
            capture_file: Some("/nonexistent-dir/cap.jsonl".into()),
            ..Config::default()
        };
        let err = Pipeline::new(Arc::new(config), Arc::default()).unwrap_err();
        assert!(format!("{err:#}").contains("captureFile"), "{err:#}");
    }
}
