//! The built shared library, driven through its exported C symbols (testing/host).

#![allow(dead_code)]

use k8sadmission_host::{Batch, MetricValue, OwnedEvent, Plugin, PLUGIN_PATH_ENV};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A file of test_files/.
pub fn test_file(name: &str) -> String {
    root().join("test_files").join(name).display().to_string()
}

/// The plugin's logger is process-global: tests that load the library take turns.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Loads the release library (`make test` builds it first; K8SADMISSION_SO overrides).
pub fn load() -> Plugin {
    let path = std::env::var_os(PLUGIN_PATH_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/release/libk8sadmission.so"));
    assert!(
        Path::new(&path).exists(),
        "{} is missing: run `make test` (it builds the release library first)",
        path.display()
    );
    Plugin::load(&path).expect("load the shared library")
}

/// A loaded and initialised plugin.
pub fn init(config: &str) -> Plugin {
    let mut p = load();
    p.init(config).expect("init");
    p
}

/// Every event of a replay, read until end of stream.
pub fn replay(plugin: &mut Plugin, params: &str) -> Vec<OwnedEvent> {
    let mut instance = plugin.open(params).expect("open");
    let mut events = Vec::new();
    loop {
        match instance.next_batch().expect("next_batch") {
            Batch::Events(batch) => {
                assert!(!batch.is_empty(), "a successful batch is never empty");
                events.extend(batch);
            }
            Batch::Timeout => std::thread::sleep(std::time::Duration::from_millis(5)),
            Batch::Eof => break,
        }
    }
    if let Some(progress) = instance.progress() {
        assert_eq!(progress.percent(), 100.0, "progress at the end");
    }
    plugin.close(instance);
    events
}

/// A u64 metric.
pub fn metric(plugin: &mut Plugin, name: &str) -> u64 {
    match plugin.metric(name) {
        Some(MetricValue::U64(v)) => v,
        other => panic!("metric {name}: {other:?}"),
    }
}

/// One string field (asserting it has at most one value).
pub fn one(plugin: &mut Plugin, ev: &OwnedEvent, field: &str) -> Option<String> {
    plugin
        .extract(ev, field)
        .unwrap_or_else(|e| panic!("{field}: {e:#}"))
        .map(|mut v| {
            assert_eq!(v.len(), 1, "{field}: {v:?}");
            v.remove(0)
        })
}

/// A list field.
pub fn list(plugin: &mut Plugin, ev: &OwnedEvent, field: &str) -> Option<Vec<String>> {
    plugin
        .extract(ev, field)
        .unwrap_or_else(|e| panic!("{field}: {e:#}"))
}
