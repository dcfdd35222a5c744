//! From a valid review to an event: the timestamp, skipResources, Secret redaction,
//! maxEventSize, captureFile, then the queue. Never blocks on the queue: the answer must
//! reach the apiserver in time whatever Falco does.

use super::capture::Capture;
use super::review;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::source::ingest::Ingest;
use crate::source::log_limit::LogLimit;
use crate::source::queue::{Pushed, Queue, Queued};
use anyhow::Context;
use chrono::Utc;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The stages after validation, shared by every connection.
#[derive(Debug)]
pub(super) struct Pipeline {
    ingest: Ingest,
    queue: Queue<()>,
    capture: Option<Mutex<Capture>>,
    max_event_size: usize,
    metrics: Arc<Metrics>,
    too_large_warnings: LogLimit,
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
            capture_warnings: LogLimit::new("captureFile write failures"),
            queue_full_warnings: LogLimit::new("reviews dropped on a full queue"),
        })
    }

    /// The queue `next_batch` drains.
    pub(super) fn queue(&self) -> &Queue<()> {
        &self.queue
    }

    /// Takes in one request body: the answer for the apiserver, or the reason of a 400.
    /// Skipped, too large or dropped (queue full) reviews are still answered `allowed`.
    pub(super) fn admit(&self, body: &[u8]) -> Result<Vec<u8>, &'static str> {
        let now = Utc::now();
        let review = review::review(body, now)?;
        if self.ingest.skips(&review.payload) {
            Metrics::add(&self.metrics.events_skipped, 1);
            return Ok(review.answer);
        }
        let payload = self
            .ingest
            .redact(&review.payload)
            .unwrap_or(review.payload);
        if payload.len() > self.max_event_size {
            Metrics::add(&self.metrics.events_oversize, 1);
            self.too_large_warnings.warn(|| format!("webhook review of {} bytes dropped: longer than maxEventSize ({}); see events_oversize",
                    payload.len(),
                    self.max_event_size));
            return Ok(review.answer);
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
        Ok(review.answer)
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
        assert!(p.admit(secret).is_ok());
        let lease = br#"{"request":{"uid":"l","resource":{"resource":"leases"}}}"#;
        assert!(p.admit(lease).is_ok());
        let big = format!(r#"{{"request":{{"uid":"b","x":"{}"}}}}"#, "x".repeat(400));
        assert!(p.admit(big.as_bytes()).is_ok());
        assert_eq!(p.admit(b"{}"), Err("request.uid is missing or empty"));
        let got = p.queue().drain(10, Duration::ZERO);
        assert_eq!(got.len(), 1);
        let text = String::from_utf8(got[0].payload.clone()).unwrap();
        assert!(text.contains(r#""data":{"k":"REDACTED"}"#), "{text}");
        assert!(!text.contains("c2VjcmV0"));
        assert_eq!(std::fs::read_to_string(&cap).unwrap(), text + "\n");
        assert_eq!(m.events_skipped.load(Ordering::Relaxed), 1);
        assert_eq!(m.events_oversize.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_full_queue_still_answers() {
        let (p, m) = pipeline(r#"{"queueCapacity":1}"#);
        let body = br#"{"request":{"uid":"u"}}"#;
        for _ in 0..3 {
            assert!(p.admit(body).is_ok());
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
