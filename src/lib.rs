//! k8sadmission: a Falco plugin whose events are Kubernetes AdmissionReview requests
//! (event source `k8s_admission`, fields `kar.*`).
//!
//! This file registers the plugin with the Falco plugin API; the work lives in the modules.

pub mod admission;
pub mod config;
pub mod fields;
pub mod guard;
pub mod json;
pub mod metrics;
pub mod open_params;
pub mod review;
pub mod source;
pub mod threads;

pub use admission::K8sAdmission;
use falco_plugin::{extract_plugin, plugin, source_plugin};

plugin!(K8sAdmission);
source_plugin!(K8sAdmission);
extract_plugin!(K8sAdmission);

/// The plugin's API table, for in-process hosts such as `falco_plugin_runner`
/// (Falco itself loads the exported `plugin_*` symbols of the shared library).
pub static PLUGIN_API: falco_plugin::api::plugin_api = __plugin_base_api();
