//! Event sources: what `open` starts, and how lines become events in `next_batch`.

pub mod framing;
pub mod ingest;
pub mod lines;
pub mod log_limit;
pub mod queue;
pub mod redact;
pub mod replay;
pub mod tail;
pub mod webhook;

use crate::admission::K8sAdmission;
use crate::config::Config;
use crate::guard;
use crate::metrics::Metrics;
use crate::open_params::{self, SourceSpec};
use falco_plugin::anyhow::{self, Error};
use falco_plugin::source::{EventBatch, ProgressInfo, SourcePluginInstance};
use falco_plugin::FailureReason;
use ingest::Ingest;
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
    ingest: Ingest,
    metrics: Arc<Metrics>,
    line: Vec<u8>,
    ended: bool,
    progress: std::ffi::CString,
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
                    ingest: Ingest::new(config, metrics.clone()),
                    metrics,
                    line: Vec::new(),
                    ended: false,
                    progress: Default::default(),
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
                    let replay = &self.replay;
                    self.ingest.too_long(n, || replay.origin());
                }
                Next::Line => {
                    let replay = &self.replay;
                    if let Some(event) = self.ingest.line(&self.line, || replay.origin()) {
                        let mut falco_event = Self::plugin_event(&event.payload);
                        falco_event.metadata.ts = event.ts;
                        batch.add(falco_event)?;
                        self.metrics.event_emitted();
                        events += 1;
                        bytes += event.payload.len();
                    }
                }
            }
        }
        Ok((events, true))
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
                    self.ingest.flush_warnings();
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
