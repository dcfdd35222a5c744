//! init_config (SPEC §6): keys, defaults, JSON schema, validation and unknown-key warnings.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a follow source starts when it has no checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TailFrom {
    /// Only lines written after the start.
    End,
    /// The whole file.
    Beginning,
}

/// The plugin's init_config. Every key is optional; an empty config (`{}`) means all defaults.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(title = "k8sadmission init_config")]
pub struct Config {
    /// Combined PEM file (certificate and key) of the webhook server (k8saudit's key).
    #[serde(default = "default_ssl_certificate")]
    pub ssl_certificate: String,
    /// Webhook server certificate (PEM); with tlsKey, takes precedence over sslCertificate.
    #[serde(default)]
    pub tls_cert: Option<String>,
    /// Webhook server private key (PEM).
    #[serde(default)]
    pub tls_key: Option<String>,
    /// CA bundle (PEM): when set, the webhook path requires client certificates signed by it.
    #[serde(default, rename = "tlsClientCA")]
    pub tls_client_ca: Option<String>,
    /// File holding the bearer token the webhook requires.
    #[serde(default)]
    pub webhook_token_file: Option<String>,
    /// Longest event in bytes; longer lines and bodies are skipped and counted.
    #[serde(default = "default_max_event_size")]
    #[schemars(range(min = 1))]
    pub max_event_size: u64,
    /// Largest webhook request body in bytes.
    #[serde(default = "default_webhook_max_batch_size")]
    #[schemars(range(min = 1))]
    pub webhook_max_batch_size: u64,
    /// Events buffered between the live producers and Falco.
    #[serde(default = "default_queue_capacity")]
    #[schemars(range(min = 1))]
    pub queue_capacity: u64,
    /// Bytes buffered between the live producers and Falco.
    #[serde(default = "default_queue_max_bytes")]
    #[schemars(range(min = 1))]
    pub queue_max_bytes: u64,
    /// Where a followed file starts on a first start without checkpoint.
    #[serde(default = "default_tail_from")]
    pub tail_from: TailFrom,
    /// File that keeps the follow position across restarts.
    #[serde(default)]
    pub checkpoint_file: Option<String>,
    /// Webhook: append every accepted review to this JSONL file.
    #[serde(default)]
    pub capture_file: Option<String>,
    /// Size in MiB at which captureFile is rotated.
    #[serde(default = "default_capture_max_size")]
    #[schemars(range(min = 1))]
    pub capture_max_size: u64,
    /// Rotated captureFile backups kept.
    #[serde(default = "default_capture_max_backups")]
    pub capture_max_backups: u64,
    /// Resources (e.g. `leases`, `events`) dropped at the source and counted.
    #[serde(default)]
    pub skip_resources: Vec<String>,
    /// Value of kar.cluster.name.
    #[serde(default)]
    pub cluster_name: Option<String>,
    /// Extra kinds carrying a pod spec: `group/Kind` (`Kind` alone for core) → JSON pointer into the object.
    #[serde(default)]
    pub pod_spec_paths: BTreeMap<String, String>,
    /// Replace the data of core Secrets with `REDACTED` before events are emitted.
    #[serde(default = "default_true")]
    pub redact_secrets: bool,
    /// Accepted for k8saudit compatibility; no effect.
    #[serde(default = "default_true")]
    pub use_async: bool,
    /// Keys this version does not know (warned about at init).
    #[serde(flatten)]
    #[schemars(skip)]
    pub unknown: BTreeMap<String, serde_json::Value>,
}

fn default_ssl_certificate() -> String {
    "/etc/falco/falco.pem".to_string()
}
fn default_max_event_size() -> u64 {
    8 * 1024 * 1024
}
fn default_webhook_max_batch_size() -> u64 {
    12 * 1024 * 1024
}
fn default_queue_capacity() -> u64 {
    10_000
}
fn default_queue_max_bytes() -> u64 {
    256 * 1024 * 1024
}
fn default_tail_from() -> TailFrom {
    TailFrom::End
}
fn default_capture_max_size() -> u64 {
    500
}
fn default_capture_max_backups() -> u64 {
    1
}
fn default_true() -> bool {
    true
}

impl Default for Config {
    fn default() -> Self {
        serde_json::from_str("{}").expect("the empty config deserialises")
    }
}

impl Config {
    /// Checks what serde cannot: the limits the schema states (for hosts that do not validate
    /// against it, as Falco does) and the pod spec pointers.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (key, value) in [
            ("maxEventSize", self.max_event_size),
            ("webhookMaxBatchSize", self.webhook_max_batch_size),
            ("queueCapacity", self.queue_capacity),
            ("queueMaxBytes", self.queue_max_bytes),
            ("captureMaxSize", self.capture_max_size),
        ] {
            anyhow::ensure!(value >= 1, "{key} must be at least 1");
        }
        for (kind, ptr) in &self.pod_spec_paths {
            anyhow::ensure!(
                ptr.starts_with('/'),
                "podSpecPaths[{kind}]: {ptr:?} is not a JSON pointer (it must start with '/')"
            );
            anyhow::ensure!(
                !kind.is_empty() && !kind.ends_with('/'),
                "podSpecPaths: {kind:?} is not `group/Kind` or `Kind`"
            );
        }
        Ok(())
    }

    /// The names of keys this version does not know.
    pub fn unknown_keys(&self) -> impl Iterator<Item = &str> {
        self.unknown.keys().map(String::as_str)
    }

    /// The configured pod spec pointer for a kind, if any.
    pub fn pod_spec_path(&self, group: &str, kind: &str) -> Option<&str> {
        let found = if group.is_empty() {
            self.pod_spec_paths.get(kind)
        } else {
            self.pod_spec_paths
                .iter()
                .find(|(k, _)| k.split_once('/') == Some((group, kind)))
                .map(|(_, v)| v)
        };
        found.map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_real_values() {
        let c = Config::default();
        assert_eq!(c.ssl_certificate, "/etc/falco/falco.pem");
        assert_eq!(c.max_event_size, 8_388_608);
        assert_eq!(c.webhook_max_batch_size, 12_582_912);
        assert_eq!(c.queue_capacity, 10_000);
        assert_eq!(c.queue_max_bytes, 268_435_456);
        assert_eq!(c.tail_from, TailFrom::End);
        assert_eq!(c.capture_max_size, 500);
        assert_eq!(c.capture_max_backups, 1);
        assert!(c.redact_secrets);
        assert!(c.use_async);
        assert!(c.unknown.is_empty());
    }

    #[test]
    fn every_key_of_the_spec_is_known() {
        let all = r#"{"sslCertificate":"a","tlsCert":"b","tlsKey":"c","tlsClientCA":"d",
            "webhookTokenFile":"e","maxEventSize":1,"webhookMaxBatchSize":2,"queueCapacity":3,
            "queueMaxBytes":4,"tailFrom":"end","checkpointFile":"f","captureFile":"g",
            "captureMaxSize":5,"captureMaxBackups":6,"skipResources":[],"clusterName":"h",
            "podSpecPaths":{},"redactSecrets":true,"useAsync":true}"#;
        let c: Config = serde_json::from_str(all).unwrap();
        assert!(c.unknown.is_empty(), "{:?}", c.unknown);
        assert_eq!(c.tls_client_ca.as_deref(), Some("d"));
        let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
        let props = schema["properties"].as_object().unwrap();
        let all: serde_json::Value = serde_json::from_str(all).unwrap();
        for key in all.as_object().unwrap().keys() {
            assert!(props.contains_key(key), "{key} missing from the schema");
        }
        assert_eq!(props.len(), 19);
    }

    #[test]
    fn unknown_keys_are_kept_for_the_warning() {
        let c: Config =
            serde_json::from_str(r#"{"maxEventSize": 10, "sslCert": "x", "foo": 1}"#).unwrap();
        assert_eq!(c.max_event_size, 10);
        assert_eq!(c.unknown_keys().collect::<Vec<_>>(), ["foo", "sslCert"]);
    }

    #[test]
    fn wrong_types_and_enum_values_are_rejected() {
        assert!(serde_json::from_str::<Config>(r#"{"maxEventSize": "big"}"#).is_err());
        assert!(serde_json::from_str::<Config>(r#"{"tailFrom": "middle"}"#).is_err());
        let c: Config = serde_json::from_str(r#"{"tailFrom": "beginning"}"#).unwrap();
        assert_eq!(c.tail_from, TailFrom::Beginning);
    }

    #[test]
    fn pod_spec_paths_match_group_and_kind() {
        let c: Config = serde_json::from_str(
            r#"{"podSpecPaths": {"argoproj.io/Rollout": "/spec/template/spec", "MyPodHolder": "/spec"}}"#,
        )
        .unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.pod_spec_path("argoproj.io", "Rollout"),
            Some("/spec/template/spec")
        );
        assert_eq!(c.pod_spec_path("", "MyPodHolder"), Some("/spec"));
        assert_eq!(c.pod_spec_path("apps", "Rollout"), None);
        let bad: Config = serde_json::from_str(r#"{"podSpecPaths": {"x.io/K": "spec"}}"#).unwrap();
        assert!(bad.validate().is_err());
    }

    #[test]
    fn schema_states_types_enums_and_defaults() {
        let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
        let props = &schema["properties"];
        assert_eq!(props["maxEventSize"]["type"], "integer");
        assert_eq!(props["maxEventSize"]["default"], 8_388_608);
        assert_eq!(props["redactSecrets"]["default"], true);
        assert_eq!(props["skipResources"]["type"], "array");
        assert!(props.get("unknown").is_none());
        let text = schema.to_string();
        assert!(text.contains("beginning") && text.contains("end"), "{text}");
    }
}
