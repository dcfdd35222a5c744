//! The plugin: identity (SPEC §1), init, the source and extractor capabilities, metrics.

use crate::config::Config;
use crate::fields;
use crate::guard;
use crate::json::c_string;
use crate::metrics::Metrics;
use crate::review::{Review, ReviewCache};
use crate::source::AdmissionSource;
use falco_plugin::anyhow::Error;
use falco_plugin::base::{Json, Metric, Plugin};
use falco_plugin::event::events::Event;
use falco_plugin::event::fields::{FromBytes, FromBytesError, ToBytes};
use falco_plugin::event::EventSource;
use falco_plugin::extract::{EventInput, ExtractFieldInfo, ExtractPlugin, ExtractRequest};
use falco_plugin::source::{PluginEvent, SourcePlugin};
use falco_plugin::tables::TablesInput;
use std::ffi::{CStr, CString};
use std::io::Write;
use std::sync::Arc;

/// The plugin id: 999 is the registry's id for plugins not yet registered.
pub const PLUGIN_ID: u32 = 999;
/// The event source name.
pub const EVENT_SOURCE: &str = "k8s_admission";

/// The payload of a `k8s_admission` event: the AdmissionReview JSON bytes.
#[derive(Debug, Clone, Copy)]
pub struct AdmissionPayload<'a>(pub &'a [u8]);

impl EventSource for AdmissionPayload<'_> {
    const SOURCE: Option<&'static str> = Some(EVENT_SOURCE);
}

impl<'a> FromBytes<'a> for AdmissionPayload<'a> {
    fn from_bytes(buf: &mut &'a [u8]) -> Result<Self, FromBytesError> {
        Ok(Self(std::mem::take(buf)))
    }
}

impl ToBytes for AdmissionPayload<'_> {
    fn binary_size(&self) -> usize {
        self.0.len()
    }

    fn write<W: Write>(&self, mut writer: W) -> std::io::Result<()> {
        writer.write_all(self.0)
    }

    fn default_repr() -> impl ToBytes {
        AdmissionPayload(&[])
    }
}

/// The k8sadmission plugin.
pub struct K8sAdmission {
    /// init_config.
    pub config: Arc<Config>,
    /// Counters shared with the sources.
    pub metrics: Arc<Metrics>,
    cache: ReviewCache,
}

impl std::fmt::Debug for K8sAdmission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K8sAdmission")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl K8sAdmission {
    /// A plugin with this configuration (validated; unknown keys are logged).
    pub fn with_config(config: Config) -> anyhow::Result<Self> {
        Ok(Self {
            config: checked(config)?,
            metrics: Arc::default(),
            cache: ReviewCache::default(),
        })
    }

    /// Runs `f` on the review of the event being extracted (parsed once per event), under the
    /// panic guard. Invalid events and panics give `T::default()` (∅).
    pub fn with_review<T: Default>(
        &mut self,
        req: &ExtractRequest<'_, '_, '_, '_, Self>,
        f: impl FnOnce(&Review<'_>) -> T,
    ) -> T {
        let Ok(event) = req.event.event() else {
            return T::default();
        };
        let payload = event.params.event_data.0;
        let evtnum = req.event.event_number() as u64;
        let (config, metrics) = (&self.config, &self.metrics);
        let cache = &mut self.cache;
        guard::catch(metrics, "extract_fields", || {
            let parsed = cache.get(evtnum, payload, metrics)?;
            parsed.review(payload, config).map(|r| f(&r))
        })
        .flatten()
        .unwrap_or_default()
    }
}

/// Validates a configuration and warns about the keys this version does not know.
fn checked(config: Config) -> anyhow::Result<Arc<Config>> {
    config.validate()?;
    for key in config.unknown_keys() {
        log::warn!("init_config: unknown key {key:?} ignored");
    }
    Ok(Arc::new(config))
}

impl Plugin for K8sAdmission {
    const NAME: &'static CStr = c"k8sadmission";
    const PLUGIN_VERSION: &'static CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => panic!("the crate version has no NUL"),
        };
    const DESCRIPTION: &'static CStr = c"Kubernetes AdmissionReview requests (kube-audit-rest captures, live files, admission webhook) with kar.* fields";
    const CONTACT: &'static CStr = c"https://github.com/k8sadmission/k8sadmission";
    type ConfigType = Json<Config>;

    fn new(_input: Option<&TablesInput>, Json(config): Self::ConfigType) -> Result<Self, Error> {
        // No plugin exists yet whose `panics` counter could record it.
        guard::catch(&Metrics::default(), "init", || Self::with_config(config))
            .unwrap_or_else(|| Err(anyhow::anyhow!("internal error during init; see the log")))
    }

    fn set_config(&mut self, Json(config): Self::ConfigType) -> Result<(), Error> {
        self.config = guard::catch(&self.metrics, "set_config", || checked(config))
            .unwrap_or_else(|| Err(anyhow::anyhow!("internal error in set_config; see the log")))?;
        self.cache = ReviewCache::default();
        Ok(())
    }

    fn get_metrics(&mut self) -> impl IntoIterator<Item = Metric> {
        guard::catch(&self.metrics, "get_metrics", || self.metrics.snapshot()).unwrap_or_default()
    }
}

impl SourcePlugin for K8sAdmission {
    type Instance = AdmissionSource;
    const EVENT_SOURCE: &'static CStr = c"k8s_admission";
    const PLUGIN_ID: u32 = PLUGIN_ID;
    type Event<'a> = Event<PluginEvent<AdmissionPayload<'a>>>;

    fn open(&mut self, params: Option<&str>) -> Result<Self::Instance, Error> {
        let params = params.unwrap_or_default();
        let (config, metrics) = (self.config.clone(), self.metrics.clone());
        guard::catch(&self.metrics, "open", || {
            AdmissionSource::open(params, config, metrics)
        })
        .unwrap_or_else(|| Err(anyhow::anyhow!("internal error while opening; see the log")))
    }

    fn close(&mut self, instance: &mut Self::Instance) {
        guard::catch(&self.metrics, "close", || instance.close());
    }

    fn event_to_string(&mut self, event: &EventInput<Self::Event<'_>>) -> Result<CString, Error> {
        let payload = event.event()?.params.event_data.0;
        let evtnum = event.event_number() as u64;
        let (config, metrics) = (&self.config, &self.metrics);
        let cache = &mut self.cache;
        let line = guard::catch(metrics, "event_to_string", || {
            let parsed = cache.get(evtnum, payload, metrics)?;
            parsed.review(payload, config).map(|r| fields::summary(&r))
        })
        .flatten()
        .unwrap_or_else(|| format!("invalid AdmissionReview ({} bytes)", payload.len()));
        Ok(c_string(&line))
    }
}

impl ExtractPlugin for K8sAdmission {
    type Event<'a> = Event<PluginEvent<AdmissionPayload<'a>>>;
    type ExtractContext = ();
    const EXTRACT_FIELDS: &'static [ExtractFieldInfo<Self>] = fields::FIELDS;
}
