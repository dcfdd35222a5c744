//! `k8sadmission-host`: a thin host that loads the k8sadmission Falco plugin
//! (`libk8sadmission.so`) with `libloading` and drives it through the real Falco plugin C ABI
//! the way Falco (libsinsp/libscap) does: `plugin_init` with an owner and a logger,
//! `plugin_open`, `plugin_next_batch` (events copied out of the plugin's batch memory and
//! numbered from 1), `plugin_extract_fields` one field per call, `plugin_event_to_string`,
//! `plugin_get_progress`, `plugin_get_metrics`, `plugin_close` and `plugin_destroy`.
//!
//! ```no_run
//! use k8sadmission_host::{Batch, Plugin};
//! # fn main() -> anyhow::Result<()> {
//! let mut plugin = Plugin::load("target/release/libk8sadmission.so".as_ref())?;
//! plugin.init("{}")?;
//! let mut instance = plugin.open("test_files/some.jsonl")?;
//! loop {
//!     match instance.next_batch()? {
//!         Batch::Events(events) => {
//!             for ev in &events {
//!                 println!("{} {:?}", ev.evtnum, plugin.extract(ev, "kar.verb")?);
//!             }
//!         }
//!         Batch::Timeout => std::thread::sleep(std::time::Duration::from_millis(10)),
//!         Batch::Eof => break,
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod event;
pub mod extract;
pub mod fields;
pub mod instance;
pub mod log;
pub mod metrics;
pub mod plugin;
pub mod report;
mod symbols;

pub use event::{EventHeader, OwnedEvent};
pub use extract::FieldValue;
pub use fields::{FieldArgInfo, FieldInfo, FieldRef};
pub use instance::{Batch, Instance, Progress};
pub use log::{LogLine, Severity};
pub use metrics::MetricValue;
pub use plugin::{OpenParam, Plugin};

/// Environment variable naming the plugin library for the tool (and for tests that want it).
pub const PLUGIN_PATH_ENV: &str = "K8SADMISSION_SO";

/// Default plugin library path, relative to the current directory.
pub const DEFAULT_PLUGIN_PATH: &str = "target/release/libk8sadmission.so";

/// The plugin path to use: `K8SADMISSION_SO` if set, else [`DEFAULT_PLUGIN_PATH`].
pub fn default_plugin_path() -> std::path::PathBuf {
    std::env::var_os(PLUGIN_PATH_ENV)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| DEFAULT_PLUGIN_PATH.into())
}
