//! The shipped configurations hold together: every falco.yaml in examples/ (the three files and
//! those embedded in the Kubernetes manifests) loads only this plugin on the nodriver engine,
//! passes its init_config through the plugin's JSON schema (as Falco does before init) and
//! its config, opens a source the plugin accepts and loads the shipped rules; the webhook
//! manifests point the ValidatingWebhookConfiguration at the path and port the plugin serves,
//! never block the apiserver, and see every operation on every resource and subresource.

use k8sadmission::config::Config;
use k8sadmission::open_params::{self, SourceSpec};
use serde_json::Value;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documents of a YAML file.
fn documents(path: &Path) -> Vec<Yaml> {
    let text = std::fs::read_to_string(path).unwrap();
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A YAML value as JSON (what Falco hands the plugin as init_config).
fn json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(r) => serde_json::from_str(r).unwrap(),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.as_str()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| (k.as_str().expect("string keys").to_string(), json(v)))
                .collect(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML value {other:?}"),
    }
}

/// The plugin's init_config schema, as `plugin_get_init_schema` gives it to Falco.
fn schema() -> jsonschema::Validator {
    let schema = serde_json::to_value(schemars::schema_for!(Config)).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON schema")
}

/// Every falco.yaml shipped: (where, the parsed configuration).
fn falco_configs() -> Vec<(String, Yaml)> {
    let mut found = Vec::new();
    for name in [
        "falco-replay.yaml",
        "falco-follow.yaml",
        "falco-webhook.yaml",
    ] {
        let doc = documents(&root().join("examples").join(name)).remove(0);
        found.push((format!("examples/{name}"), doc));
    }
    for doc in k8s_documents() {
        if doc.1["kind"].as_str() == Some("ConfigMap") {
            if let Some(text) = doc.1["data"]["falco.yaml"].as_str() {
                let config = YamlLoader::load_from_str(text).unwrap().remove(0);
                found.push((format!("{} (ConfigMap)", doc.0), config));
            }
        }
    }
    assert_eq!(found.len(), 5, "three examples and two ConfigMaps");
    found
}

/// Every document of examples/k8s/*.yaml, with its file name.
fn k8s_documents() -> Vec<(String, Yaml)> {
    let dir = root().join("examples/k8s");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|f| {
            let name = format!("examples/k8s/{}", f.file_name().unwrap().to_string_lossy());
            documents(f).into_iter().map(move |d| (name.clone(), d))
        })
        .collect()
}

#[test]
fn every_falco_yaml_loads_the_plugin_its_rules_and_a_source_it_accepts() {
    let validator = schema();
    for (place, config) in falco_configs() {
        assert_eq!(
            config["engine"]["kind"].as_str(),
            Some("nodriver"),
            "{place}"
        );
        assert_eq!(
            json(&config["load_plugins"]),
            serde_json::json!(["k8sadmission"]),
            "{place}"
        );
        let plugins = config["plugins"].as_vec().unwrap();
        assert_eq!(plugins.len(), 1, "{place}: only this plugin");
        let plugin = &plugins[0];
        assert_eq!(plugin["name"].as_str(), Some("k8sadmission"), "{place}");
        assert!(plugin["library_path"]
            .as_str()
            .unwrap()
            .ends_with("/libk8sadmission.so"));

        let init_config = json(&plugin["init_config"]);
        let errors: Vec<String> = validator
            .iter_errors(&init_config)
            .map(|e| e.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "{place}: init_config refused by the schema: {errors:?}"
        );
        let parsed: Config = serde_json::from_value(init_config).unwrap();
        assert_eq!(parsed.unknown_keys().count(), 0, "{place}: unknown keys");
        parsed.validate().unwrap();

        let params = plugin["open_params"].as_str().unwrap();
        let spec = open_params::parse(params).unwrap_or_else(|e| panic!("{place}: {e:#}"));
        let expected = if place.contains("replay") {
            matches!(spec, SourceSpec::Replay(_))
        } else if place.contains("follow") {
            matches!(spec, SourceSpec::Follow(_))
        } else {
            matches!(&spec, SourceSpec::Webhook(a) if a.tls && a.host.is_empty())
        };
        assert!(expected, "{place}: {params} gives {spec:?}");

        let rules = config["rules_files"].as_vec().unwrap();
        assert!(
            rules
                .iter()
                .any(|r| r.as_str().unwrap().ends_with("/k8s_admission_rules.yaml")),
            "{place}: the shipped rules are not loaded"
        );
    }
}

#[test]
fn the_schema_refuses_what_falco_would_stop_on() {
    let validator = schema();
    // Falco turns an empty init_config into {}.
    assert!(validator.is_valid(&serde_json::json!({})));
    for bad in [
        serde_json::json!({"maxEventSize": "8MiB"}),
        serde_json::json!({"maxEventSize": 0}),
        serde_json::json!({"tailFrom": "middle"}),
        serde_json::json!({"skipResources": "leases"}),
        serde_json::json!({"podSpecPaths": {"argoproj.io/Rollout": 3}}),
        serde_json::json!({"redactSecrets": "yes"}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad} was accepted");
        let config = serde_json::from_value::<Config>(bad.clone());
        assert!(
            config.is_err() || config.unwrap().validate().is_err(),
            "{bad} was accepted by the config"
        );
    }
}

#[test]
fn webhook_manifests_point_at_what_the_plugin_serves_and_never_block_the_apiserver() {
    let documents = k8s_documents();
    let configs = falco_configs();
    let mut checked = 0;
    for (file, doc) in &documents {
        if doc["kind"].as_str() != Some("ValidatingWebhookConfiguration") {
            continue;
        }
        let webhooks = doc["webhooks"].as_vec().unwrap();
        for hook in webhooks {
            assert_eq!(hook["failurePolicy"].as_str(), Some("Ignore"), "{file}");
            assert_eq!(hook["sideEffects"].as_str(), Some("None"), "{file}");
            let timeout = hook["timeoutSeconds"].as_i64().unwrap();
            assert!(
                (1..=10).contains(&timeout),
                "{file}: timeoutSeconds {timeout}"
            );
            let rules = json(&hook["rules"]);
            assert_eq!(
                rules,
                serde_json::json!([{"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*/*"], "scope": "*"}]),
                "{file}: every operation on every resource and subresource"
            );
            let service = &hook["clientConfig"]["service"];
            let (name, path) = (
                service["name"].as_str().unwrap(),
                service["path"].as_str().unwrap(),
            );
            // The Service the webhook calls, in the same file.
            let svc = documents
                .iter()
                .find(|(f, d)| {
                    f == file
                        && d["kind"].as_str() == Some("Service")
                        && d["metadata"]["name"].as_str() == Some(name)
                })
                .unwrap_or_else(|| panic!("{file}: no Service {name}"));
            let port = svc.1["spec"]["ports"]
                .as_vec()
                .unwrap()
                .iter()
                .find(|p| p["port"].as_i64() == service["port"].as_i64())
                .unwrap_or_else(|| {
                    panic!("{file}: Service {name} has no port {:?}", service["port"])
                });
            let target = port["targetPort"].as_str().unwrap();
            // Whoever serves the webhook in this file (Falco's plugin, or kube-audit-rest beside
            // it) listens there: a container port of that name.
            let served = documents
                .iter()
                .filter(|(f, d)| f == file && d["kind"].as_str() == Some("Deployment"))
                .any(|(_, d)| {
                    d["spec"]["template"]["spec"]["containers"]
                        .as_vec()
                        .unwrap()
                        .iter()
                        .any(|c| {
                            c["ports"].as_vec().is_some_and(|ports| {
                                ports.iter().any(|p| p["name"].as_str() == Some(target))
                            })
                        })
                });
            assert!(served, "{file}: no container port named {target}");
            // When Falco's plugin is the webhook, its open_params serve that path.
            for (place, config) in configs.iter().filter(|(p, _)| p.starts_with(file.as_str())) {
                let params = config["plugins"][0]["open_params"].as_str().unwrap();
                if let Ok(SourceSpec::Webhook(addr)) = open_params::parse(params) {
                    assert_eq!(addr.path, path, "{place}: the webhook path");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked, 2,
        "both manifests have a ValidatingWebhookConfiguration"
    );
}
