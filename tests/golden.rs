//! Golden test: every field of every event of every test_files/*.jsonl, extracted through the
//! real shared library, equals test_files/expected/<file>.json (one JSON object per event, with
//! the fields that have a value). `make golden` rewrites the expected files; review the diff.

#[path = "common/so.rs"]
mod so;

use serde_json::{Map, Value};
use so::{init, replay, root, serial};

/// Keyed fields worth pinning on every event, besides every field that takes no argument.
const KEYED: &[&str] = &[
    "kar.user.extra[authentication.kubernetes.io/credential-id]",
    "kar.uri.param[command]",
    "kar.uri.param[fieldManager]",
    "kar.req.binding.subject.has_name[mallory]",
    "kar.req.volume.hostpath[/var/run/docker.sock]",
    "kar.req.volume.hostpath[/etc*]",
    "kar.value[/request/object/metadata/labels]",
    "kar.value[/request/options/dryRun/0]",
];

/// The same config for every file: the Rollout of edge_cases needs its pod spec path.
const CONFIG: &str =
    r#"{"clusterName":"golden","podSpecPaths":{"argoproj.io/Rollout":"/spec/template/spec"}}"#;

#[test]
fn every_field_of_every_fixture_matches_the_expected_file() {
    let _g = serial();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut files: Vec<_> = std::fs::read_dir(root().join("test_files"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let mut mismatches = Vec::new();
    for file in files {
        let mut plugin = init(CONFIG);
        let mut fields: Vec<String> = plugin
            .fields()
            .iter()
            .filter(|f| !f.requires_arg() && f.name != "kar.obj")
            .map(|f| f.name.clone())
            .collect();
        fields.extend(KEYED.iter().map(|s| s.to_string()));
        let events = replay(&mut plugin, file.to_str().unwrap());
        let mut out = String::new();
        for ev in &events {
            let mut values = Map::new();
            for field in &fields {
                let got = plugin.extract(ev, field).unwrap();
                let is_list = plugin
                    .field(field.split('[').next().unwrap())
                    .unwrap()
                    .is_list;
                match got {
                    None => {}
                    Some(v) if is_list => {
                        values.insert(field.clone(), v.into());
                    }
                    Some(mut v) => {
                        values.insert(field.clone(), v.remove(0).into());
                    }
                }
            }
            let has_ts = values.contains_key("kar.timestamp");
            let mut line = Map::new();
            line.insert("evtnum".into(), ev.evtnum.into());
            line.insert(
                "ts".into(),
                if has_ts { ev.ts().into() } else { Value::Null },
            );
            line.insert("plugininfo".into(), plugin.event_to_string(ev).into());
            line.insert("fields".into(), Value::Object(values));
            out.push_str(&serde_json::to_string(&line).unwrap());
            out.push('\n');
        }
        let stem = file.file_stem().unwrap().to_str().unwrap().to_string();
        let expected_path = root()
            .join("test_files/expected")
            .join(format!("{stem}.json"));
        if update {
            std::fs::create_dir_all(expected_path.parent().unwrap()).unwrap();
            std::fs::write(&expected_path, &out).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!("{} is missing: run `make golden`", expected_path.display())
        });
        for (i, (got, want)) in out.lines().zip(expected.lines()).enumerate() {
            if got != want {
                mismatches.push(format!(
                    "{stem} event {}:\n  got  {got}\n  want {want}",
                    i + 1
                ));
            }
        }
        if out.lines().count() != expected.lines().count() {
            mismatches.push(format!(
                "{stem}: {} events, expected {}",
                out.lines().count(),
                expected.lines().count()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}
