//! Event sources: what `open` starts, and how lines become events in `next_batch`.

pub mod framing;
pub mod lines;
pub mod log_limit;
pub mod redact;
pub mod replay;

use crate::admission::K8sAdmission;
use crate::config::Config;
use crate::guard;
use crate::metrics::{now_ns, Metrics};
use crate::open_params::{self, SourceSpec};
use falco_plugin::anyhow::{self, Error};
use falco_plugin::source::{EventBatch, ProgressInfo, SourcePluginInstance};
use falco_plugin::FailureReason;
use framing::Frame;
use log_limit::LogLimit;
use memchr::memmem;
use replay::{Next, Replay};
use std::sync::Arc;

/// Events handed to Falco in one batch at most.
const BATCH_EVENTS: usize = 512;
/// Payload bytes handed to Falco in one batch at most (one larger event still goes alone).
const BATCH_BYTES: usize = 8 * 1024 * 1024;

/// An open source: the instance Falco reads events from.
#[derive(Debug)]
pub struct AdmissionSource {
    replay: Replay,
    config: Arc<Config>,
    metrics: Arc<Metrics>,
    line: Vec<u8>,
    ended: bool,
    progress: std::ffi::CString,
    warnings: LogLimit,
}

impl AdmissionSource {
    /// Opens what `params` names.
    pub fn open(params: &str, config: Arc<Config>, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        match open_params::parse(params)? {
            SourceSpec::Replay(items) => {
                let max = usize::try_from(config.max_event_size).unwrap_or(usize::MAX);
                let replay = Replay::open(&items, max)?;
                Ok(Self {
                    replay,
                    config,
                    metrics,
                    line: Vec::new(),
                    ended: false,
                    progress: Default::default(),
                    warnings: LogLimit::default(),
                })
            }
            SourceSpec::Follow(_) => {
                anyhow::bail!("file:// (follow) sources are not available in this version yet")
            }
            SourceSpec::Webhook(_) => {
                anyhow::bail!("http(s):// (webhook) sources are not available in this version yet")
            }
        }
    }

    /// Reads lines into `batch` until it is full or the input ends: the events added, and
    /// `false` once the input has ended.
    fn fill(&mut self, batch: &mut EventBatch) -> anyhow::Result<(usize, bool)> {
        let mut events = 0;
        let mut bytes = 0;
        while events < BATCH_EVENTS && bytes < BATCH_BYTES {
            match self.replay.next_line(&mut self.line) {
                Next::End => return Ok((events, false)),
                Next::TooLong(n) => {
                    Metrics::add(&self.metrics.bytes_read, n + 1);
                    Metrics::add(&self.metrics.events_oversize, 1);
                    let (replay, max) = (&self.replay, self.config.max_event_size);
                    self.warnings.warn(|| {
                        let origin = replay.origin();
                        format!("{origin}: line of {n} bytes skipped (maxEventSize is {max})")
                    });
                }
                Next::Line => {
                    Metrics::add(&self.metrics.bytes_read, self.line.len() as u64 + 1);
                    if let Some(len) = self.emit(batch)? {
                        events += 1;
                        bytes += len;
                    }
                }
            }
        }
        Ok((events, true))
    }

    /// Turns the current line into an event; the payload length when one was added.
    fn emit(&mut self, batch: &mut EventBatch) -> anyhow::Result<Option<usize>> {
        let payload = match framing::frame(&self.line) {
            Frame::Blank => return Ok(None),
            Frame::Malformed(why) => {
                Metrics::add(&self.metrics.lines_malformed, 1);
                let replay = &self.replay;
                self.warnings
                    .warn(|| format!("{}: malformed line skipped: {why}", replay.origin()));
                return Ok(None);
            }
            Frame::Event(payload) => payload,
        };
        if self
            .config
            .skip_resources
            .iter()
            .any(|r| names_resource(payload, r))
        {
            Metrics::add(&self.metrics.events_skipped, 1);
            return Ok(None);
        }
        let redacted = if self.config.redact_secrets {
            redact::redact_secret(payload)
        } else {
            None
        };
        let payload = redacted.as_deref().unwrap_or(payload);
        let ts = framing::timestamp_ns(payload).unwrap_or_else(|| now_ns().max(0) as u64);
        let mut event = Self::plugin_event(payload);
        event.metadata.ts = ts;
        batch.add(event)?;
        self.metrics.event_emitted();
        Ok(Some(payload.len()))
    }
}

/// The counters worth a line in the log at the end of a replay.
fn summary(m: &Metrics) -> String {
    m.values()
        .into_iter()
        .filter(|(name, v)| *v > 0 && !name.starts_with("last_"))
        .map(|(name, v)| format!("{name}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `true` when the review's `"resource"` member (of `resource` or `requestResource`) is `name`.
fn names_resource(payload: &[u8], name: &str) -> bool {
    const KEY: &[u8] = b"\"resource\"";
    memmem::find_iter(payload, KEY).any(|at| {
        let rest = payload[at + KEY.len()..].trim_ascii_start();
        let Some(rest) = rest.strip_prefix(b":") else {
            return false;
        };
        rest.trim_ascii_start()
            .strip_prefix(b"\"")
            .and_then(|r| r.strip_prefix(name.as_bytes()))
            .is_some_and(|r| r.starts_with(b"\""))
    })
}

impl SourcePluginInstance for AdmissionSource {
    type Plugin = K8sAdmission;

    fn next_batch(
        &mut self,
        _plugin: &mut K8sAdmission,
        batch: &mut EventBatch,
    ) -> Result<(), Error> {
        let eof = || anyhow::anyhow!("end of the replayed captures").context(FailureReason::Eof);
        if self.ended {
            return Err(eof());
        }
        let metrics = self.metrics.clone();
        match guard::catch(&metrics, "next_batch", || self.fill(batch)) {
            Some(Ok((added, more))) => {
                if !more {
                    self.ended = true;
                    self.warnings.flush();
                    log::info!("replay ended: {}", summary(&metrics));
                }
                // The last events go out now, end of stream on the next call; never an empty Ok.
                if added == 0 {
                    return Err(eof());
                }
                Ok(())
            }
            Some(Err(e)) => Err(e),
            None => {
                Err(anyhow::anyhow!("internal error; see the log").context(FailureReason::Timeout))
            }
        }
    }

    fn get_progress(&mut self) -> ProgressInfo<'_> {
        let value = self.replay.progress() * 100.0;
        self.progress = std::ffi::CString::new(format!("{value:.2}%")).unwrap_or_default();
        ProgressInfo {
            value,
            detail: Some(&self.progress),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    }
}
