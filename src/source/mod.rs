//! Event sources: what `open` starts, and how its events reach Falco in `next_batch`.

pub mod framing;
pub mod ingest;
pub mod lines;
pub mod log_limit;
pub mod queue;
pub mod redact;
pub mod replay;
pub mod scan;
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
use queue::Queued;
use replay::{Next, Replay};
use std::sync::Arc;
use std::time::Duration;
use tail::Follower;
use webhook::WebhookServer;

/// Events handed to Falco in one batch at most.
const BATCH_EVENTS: usize = 512;
/// Payload bytes of a replay batch at most (one larger event still goes alone).
const BATCH_BYTES: usize = 8 * 1024 * 1024;
/// Lines a replay reads in one `next_batch` at most (skipped lines included).
const BATCH_LINES: usize = 16 * 1024;
/// How long `next_batch` waits for a live event before it answers "timeout".
const LIVE_WAIT: Duration = Duration::from_millis(50);

/// What one `next_batch` call produced.
enum Outcome {
    /// Events were added to the batch.
    Events,
    /// Nothing is ready yet (live sources).
    Timeout,
    /// The replay has ended.
    Eof,
}

/// The replay state: files, the ingest pipeline, the line buffer.
#[derive(Debug)]
struct ReplayInput {
    replay: Replay,
    ingest: Ingest,
    line: Vec<u8>,
    ended: bool,
}

/// What an open source reads from.
#[derive(Debug)]
enum Input {
    Replay(ReplayInput),
    Follow(Follower),
    Webhook(WebhookServer),
    /// After `close`: the live producers have stopped.
    Closed,
}

/// An open source: the instance Falco reads events from.
#[derive(Debug)]
pub struct AdmissionSource {
    input: Input,
    metrics: Arc<Metrics>,
    progress: std::ffi::CString,
}

impl AdmissionSource {
    /// Opens what `params` names; live sources start their threads here.
    pub fn open(params: &str, config: Arc<Config>, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let input = match open_params::parse(params)? {
            SourceSpec::Replay(items) => {
                let max = usize::try_from(config.max_event_size).unwrap_or(usize::MAX);
                Input::Replay(ReplayInput {
                    replay: Replay::open(&items, max)?,
                    ingest: Ingest::new(config, metrics.clone()),
                    line: Vec::new(),
                    ended: false,
                })
            }
            SourceSpec::Follow(paths) => {
                Input::Follow(Follower::start(paths, config, metrics.clone())?)
            }
            SourceSpec::Webhook(addr) => {
                Input::Webhook(WebhookServer::start(addr, config, metrics.clone())?)
            }
        };
        metrics.source_opened();
        Ok(Self {
            input,
            metrics,
            progress: Default::default(),
        })
    }

    /// Stops the live producers: returns when none of their threads is left.
    pub fn close(&mut self) {
        self.input = Input::Closed;
    }

    fn fill(&mut self, batch: &mut EventBatch) -> anyhow::Result<Outcome> {
        match &mut self.input {
            Input::Replay(replay) => replay.fill(batch, &self.metrics),
            Input::Follow(follower) => {
                follower.commit_returned();
                let items = follower.drain(BATCH_EVENTS, LIVE_WAIT);
                let cursors = add_queued(items, batch, &self.metrics)?;
                if cursors.is_empty() {
                    return Ok(Outcome::Timeout);
                }
                follower.returned(cursors.into_iter().flatten().collect());
                Ok(Outcome::Events)
            }
            Input::Webhook(server) => {
                let items = server.drain(BATCH_EVENTS, LIVE_WAIT);
                if add_queued(items, batch, &self.metrics)?.is_empty() {
                    return Ok(Outcome::Timeout);
                }
                Ok(Outcome::Events)
            }
            Input::Closed => Ok(Outcome::Eof),
        }
    }
}

/// Adds queued events to the batch: the cursor of each (empty when there were none).
fn add_queued<C>(
    items: Vec<Queued<C>>,
    batch: &mut EventBatch,
    metrics: &Metrics,
) -> anyhow::Result<Vec<Option<C>>> {
    let mut cursors = Vec::with_capacity(items.len());
    for item in items {
        let mut event = AdmissionSource::plugin_event(&item.payload);
        event.metadata.ts = item.ts;
        batch.add(event)?;
        metrics.event_emitted();
        cursors.push(item.cursor);
    }
    Ok(cursors)
}

impl ReplayInput {
    /// Reads lines into `batch` until it is full or the input ends.
    fn fill(&mut self, batch: &mut EventBatch, metrics: &Metrics) -> anyhow::Result<Outcome> {
        if self.ended {
            return Ok(Outcome::Eof);
        }
        let mut events = 0;
        let mut bytes = 0;
        let mut lines = 0;
        while events < BATCH_EVENTS && bytes < BATCH_BYTES && lines < BATCH_LINES {
            lines += 1;
            match self.replay.next_line(&mut self.line) {
                Next::End => {
                    self.ended = true;
                    self.ingest.flush_warnings();
                    log::info!("replay ended: {}", summary(metrics));
                    break;
                }
                Next::TooLong(n) => {
                    let replay = &self.replay;
                    self.ingest.too_long(n, || replay.origin());
                }
                Next::Line => {
                    let replay = &self.replay;
                    if let Some(event) = self.ingest.line(&self.line, || replay.origin()) {
                        let mut falco_event = AdmissionSource::plugin_event(&event.payload);
                        falco_event.metadata.ts = event.ts;
                        batch.add(falco_event)?;
                        metrics.event_emitted();
                        events += 1;
                        bytes += event.payload.len();
                    }
                }
            }
        }
        // The last events go out now and end of stream on the next call: never an empty Ok. A
        // stretch of skipped lines ends a call with a timeout, so Falco is never held long.
        Ok(if events > 0 {
            Outcome::Events
        } else if self.ended {
            Outcome::Eof
        } else {
            Outcome::Timeout
        })
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
        let metrics = self.metrics.clone();
        match guard::catch(&metrics, "next_batch", || self.fill(batch)) {
            Some(Ok(Outcome::Events)) => Ok(()),
            Some(Ok(Outcome::Eof)) => {
                Err(anyhow::anyhow!("end of the replayed captures").context(FailureReason::Eof))
            }
            Some(Ok(Outcome::Timeout)) => {
                Err(anyhow::anyhow!("no event ready").context(FailureReason::Timeout))
            }
            Some(Err(e)) => Err(e),
            None => {
                Err(anyhow::anyhow!("internal error; see the log").context(FailureReason::Timeout))
            }
        }
    }

    fn get_progress(&mut self) -> ProgressInfo<'_> {
        let input = &self.input;
        let value = guard::catch(&self.metrics, "get_progress", || match input {
            Input::Replay(r) => r.replay.progress() * 100.0,
            _ => 0.0,
        })
        .unwrap_or(0.0);
        self.progress = std::ffi::CString::new(format!("{value:.2}%")).unwrap_or_default();
        ProgressInfo {
            value,
            detail: Some(&self.progress),
        }
    }
}
