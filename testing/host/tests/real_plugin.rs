//! Drives the real libk8sadmission.so through the C ABI when it has been built
//! (`cargo build --release`, or K8SADMISSION_SO=/path/to/lib). Skipped otherwise.

use std::path::{Path, PathBuf};

use k8sadmission_host::{Batch, Plugin, PLUGIN_PATH_ENV};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn plugin_path() -> Option<PathBuf> {
    let path = std::env::var_os(PLUGIN_PATH_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/release/libk8sadmission.so"));
    path.exists().then_some(path)
}

/// One test function only: the plugin's logger is process-global, so parallel tests loading
/// the same library would see each other's log lines.
#[test]
fn real_plugin_replays_test_files() {
    let Some(path) = plugin_path() else {
        eprintln!("skipped: libk8sadmission.so not built (cargo build --release)");
        return;
    };
    eprintln!("using {}", path.display());
    let mut plugin = Plugin::load(&path).expect("load");
    assert_eq!(plugin.name(), "k8sadmission");
    assert_eq!(plugin.id(), 999);
    assert_eq!(plugin.event_source(), "k8s_admission");
    assert!(!plugin.fields().is_empty());
    for f in plugin.fields() {
        assert!(
            f.type_code().is_some(),
            "field {} has type {}",
            f.name,
            f.field_type
        );
        assert!(!f.desc.is_empty(), "field {} has no description", f.name);
    }
    plugin.init("{}").expect("init with {}");
    let plain: Vec<String> = plugin
        .fields()
        .iter()
        .filter(|f| !f.requires_arg())
        .map(|f| f.name.clone())
        .collect();

    let mut files: Vec<PathBuf> = std::fs::read_dir(workspace_root().join("test_files"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "jsonl"));
    files.sort();

    let mut last_evtnum = 0;
    for file in &files {
        let mut instance = plugin
            .open(file.to_str().expect("utf-8 path"))
            .unwrap_or_else(|e| panic!("open {}: {e:#}", file.display()));
        loop {
            match instance.next_batch().expect("next_batch") {
                Batch::Events(events) => {
                    for ev in &events {
                        assert_eq!(ev.evtnum, last_evtnum + 1, "event numbers are consecutive");
                        last_evtnum = ev.evtnum;
                        assert!(plugin.event_to_string(ev).is_some());
                        for field in &plain {
                            plugin.extract(ev, field).unwrap_or_else(|e| {
                                panic!("{} event {}: {field}: {e:#}", file.display(), ev.evtnum)
                            });
                        }
                    }
                }
                Batch::Timeout => std::thread::sleep(std::time::Duration::from_millis(10)),
                Batch::Eof => break,
            }
        }
    }
    eprintln!("{last_evtnum} events from {} files", files.len());
    let _ = plugin.metrics();
}
