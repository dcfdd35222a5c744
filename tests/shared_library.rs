//! The real libk8sadmission.so, loaded and called the way Falco calls it: init, open with real
//! open_params, next_batch until end of stream, extract_fields with index and key arguments.

#[path = "common/so.rs"]
mod so;

use flate2::write::GzEncoder;
use so::{init, list, load, metric, one, replay, serial, test_file};
use std::io::Write;

fn strings(items: &[&str]) -> Option<Vec<String>> {
    Some(items.iter().map(|s| s.to_string()).collect())
}

#[test]
fn identity_schema_and_field_table() {
    let _g = serial();
    let p = load();
    assert_eq!(p.name(), "k8sadmission");
    assert_eq!(p.version(), env!("CARGO_PKG_VERSION"));
    assert_eq!(p.id(), 999);
    assert_eq!(p.event_source(), "k8s_admission");
    assert_eq!(p.extract_event_sources(), ["k8s_admission"]);
    assert!(
        p.required_api_version().starts_with("3."),
        "{}",
        p.required_api_version()
    );
    let schema: serde_json::Value =
        serde_json::from_str(p.init_schema().expect("a schema")).unwrap();
    assert_eq!(schema["properties"]["maxEventSize"]["default"], 8_388_608);
    assert_eq!(schema["properties"]["tailFrom"]["default"], "end");
    let names: Vec<&str> = p.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names.len(), k8sadmission::fields::FIELDS.len());
    assert!(names.iter().all(|n| n.starts_with("kar.")));
    let value = p.field("kar.value").unwrap();
    assert!(value.requires_arg() && !value.arg_is_index());
    let image = p.field("kar.req.pod.containers.image").unwrap();
    assert!(image.is_list && image.arg_is_index() && !image.requires_arg());
    assert!(p.fields().iter().all(|f| f.field_type == "string"));
}

#[test]
fn init_validates_the_config_and_warns_about_unknown_keys() {
    let _g = serial();
    let mut bad = load();
    let err = bad
        .init(r#"{"maxEventSize":"big"}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("maxEventSize") || err.contains("invalid type"),
        "{err}"
    );
    let mut bad_ptr = load();
    let err = bad_ptr
        .init(r#"{"podSpecPaths":{"x.io/K":"spec"}}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("podSpecPaths"), "{err}");
    let mut p = load();
    p.init(r#"{"clusterName":"c1","sslCert":"x"}"#)
        .expect("unknown keys are not fatal");
    let logs = p.take_logs();
    assert!(
        logs.iter()
            .any(|l| l.message.contains("unknown key \"sslCert\"")),
        "{logs:?}"
    );
}

#[test]
fn open_refuses_what_it_cannot_open_with_the_accepted_forms() {
    let _g = serial();
    let mut p = init("{}");
    for bad in [
        "",
        "file://rel/x",
        "ftp://x/y",
        "/nonexistent/dir/x.jsonl",
        "/nonexistent/*.jsonl",
    ] {
        let err = p
            .open(bad)
            .err()
            .unwrap_or_else(|| panic!("{bad:?} opened"));
        let text = format!("{err:#}");
        if bad.is_empty() || bad.contains("://") {
            assert!(text.contains("accepted open_params"), "{bad:?}: {text}");
        }
    }
}

#[test]
fn replays_the_sample_capture_with_real_values() {
    let _g = serial();
    let mut p = init("{}");
    let events = replay(&mut p, &test_file("kube_audit_rest_sample.jsonl"));
    assert_eq!(events.len(), 37);
    // Event time = requestReceivedTimestamp.
    assert_eq!(events[0].ts(), 1_795_169_703_123_456_789);
    assert_eq!(
        one(&mut p, &events[0], "kar.timestamp").as_deref(),
        Some("2026-11-20T10:15:03.123456789Z")
    );
    assert_eq!(
        p.event_to_string(&events[0]).as_deref(),
        Some("CREATE pods default/nginx by alice")
    );
    assert_eq!(
        one(&mut p, &events[0], "kar.req.pod.containers.privileged"),
        None
    );
    let privileged = &events[1];
    assert_eq!(
        one(&mut p, privileged, "kar.target.name").as_deref(),
        Some("priv-debug")
    );
    assert_eq!(
        list(&mut p, privileged, "kar.req.pod.containers.privileged"),
        strings(&["true"])
    );
    assert_eq!(
        list(
            &mut p,
            privileged,
            "kar.req.pod.containers.add_capabilities"
        ),
        strings(&["NET_ADMIN", "SYS_ADMIN"])
    );
    assert_eq!(
        list(&mut p, privileged, "kar.req.pod.volumes.hostpath_writable"),
        strings(&["/var/run/docker.sock"])
    );
    assert_eq!(
        list(&mut p, privileged, "kar.req.pod.volumes.hostpath[1]"),
        strings(&["/var/run/docker.sock"])
    );
    assert_eq!(
        one(&mut p, privileged, "kar.req.volume.hostpath[/var/run/*]").as_deref(),
        Some("true")
    );
    assert_eq!(
        one(
            &mut p,
            privileged,
            "kar.value[/request/object/metadata/name]"
        )
        .as_deref(),
        Some("priv-debug")
    );
    let init_pod = &events[2];
    assert_eq!(
        list(
            &mut p,
            init_pod,
            "kar.req.pod.initContainers.eff_run_as_user"
        ),
        strings(&["2000", "1000"])
    );
    assert_eq!(
        list(&mut p, init_pod, "kar.req.pod.containers.eff_run_as_user"),
        strings(&["1001", "2000", "2000"])
    );
    assert_eq!(
        list(&mut p, init_pod, "kar.req.pod.containers.image.repository"),
        strings(&[
            "registry.example.com:5000/team/app",
            "busybox",
            "ghcr.io/org/tool"
        ])
    );
    let cronjob = &events[7];
    assert_eq!(
        one(&mut p, cronjob, "kar.req.pod.spec_path").as_deref(),
        Some("/request/object/spec/jobTemplate/spec/template/spec")
    );
    let exec = &events[13];
    assert_eq!(
        list(&mut p, exec, "kar.req.exec.command"),
        strings(&["/bin/sh", "-c", "id; cat /etc/shadow"])
    );
    assert_eq!(
        one(&mut p, exec, "kar.uri.param[command]").as_deref(),
        Some("/bin/sh")
    );
    assert_eq!(
        p.event_to_string(exec).as_deref(),
        Some("CONNECT pods/exec default/nginx by alice")
    );
    let crb = &events[17];
    assert_eq!(
        one(&mut p, crb, "kar.req.binding.subject.has_name[mallory]").as_deref(),
        Some("true")
    );
    assert_eq!(metric(&mut p, "events_emitted"), 37);
    assert_eq!(metric(&mut p, "lines_malformed"), 0);
}

#[test]
fn secrets_are_redacted_before_they_reach_falco() {
    let _g = serial();
    let mut p = init("{}");
    let events = replay(&mut p, &test_file("kube_audit_rest_sample.jsonl"));
    let secret = &events[25];
    assert_eq!(
        one(&mut p, secret, "kar.req.kind").as_deref(),
        Some("Secret")
    );
    let obj = one(&mut p, secret, "kar.obj").unwrap();
    assert!(obj.contains(r#""data":{"#), "{obj}");
    let data = one(&mut p, secret, "kar.value[/request/object/data]").unwrap();
    let data: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&data).unwrap();
    assert!(!data.is_empty());
    assert!(data.values().all(|v| v == "REDACTED"), "{data:?}");
    let raw = std::fs::read_to_string(test_file("kube_audit_rest_sample.jsonl")).unwrap();
    let raw_line = raw.lines().nth(25).unwrap();
    let raw_review: serde_json::Value = serde_json::from_str(raw_line).unwrap();
    for value in raw_review["request"]["object"]["data"]
        .as_object()
        .unwrap()
        .values()
    {
        assert!(
            !obj.contains(value.as_str().unwrap()),
            "secret value leaked"
        );
    }
    let mut plain = init(r#"{"redactSecrets":false}"#);
    let events = replay(&mut plain, &test_file("kube_audit_rest_sample.jsonl"));
    assert_eq!(
        one(&mut plain, &events[25], "kar.obj").as_deref(),
        Some(raw_line)
    );
}

#[test]
fn malformed_lines_are_skipped_counted_and_logged_with_their_origin() {
    let _g = serial();
    let mut p = init("{}");
    let file = test_file("malformed_lines.jsonl");
    let events = replay(&mut p, &file);
    let names: Vec<_> = events
        .iter()
        .map(|e| one(&mut p, e, "kar.target.name").unwrap())
        .collect();
    assert_eq!(names, ["m-ok-1", "m-ok-2", "m-ok-3"]);
    assert_eq!(metric(&mut p, "lines_malformed"), 4);
    assert_eq!(metric(&mut p, "events_emitted"), 3);
    let logs = p.take_logs();
    for line in [2, 4, 5, 6] {
        let origin = format!("malformed_lines.jsonl:{line}:");
        assert!(
            logs.iter().any(|l| l.message.contains(&origin)),
            "{origin} not logged: {logs:?}"
        );
    }
}

#[test]
fn edge_cases_invalid_events_and_oversize_lines() {
    let _g = serial();
    let mut p = init(r#"{"podSpecPaths":{"argoproj.io/Rollout":"/spec/template/spec"}}"#);
    let events = replay(&mut p, &test_file("edge_cases.jsonl"));
    assert_eq!(
        events.len(),
        10,
        "12 lines less a blank and a whitespace-only one"
    );
    let uids: Vec<_> = events.iter().map(|e| one(&mut p, e, "kar.uid")).collect();
    assert_eq!(uids.iter().filter(|u| u.is_none()).count(), 2, "{uids:?}");
    assert_eq!(metric(&mut p, "events_unparsable"), 2);
    // CRLF: the payload has no trailing \r.
    let crlf = one(&mut p, &events[1], "kar.obj").unwrap();
    assert!(crlf.ends_with('}'));
    let rollout = &events[4];
    assert_eq!(
        one(&mut p, rollout, "kar.req.pod.host_pid").as_deref(),
        Some("true")
    );
    // No timestamp: the read time stands in.
    assert!(rollout.ts() > 1_795_169_703_000_000_000);
    let offset = &events[5];
    assert_eq!(offset.ts(), 1_795_168_800_500_000_000);

    let mut small = init(r#"{"maxEventSize":4096}"#);
    let events = replay(&mut small, &test_file("kube_audit_rest_sample.jsonl"));
    let oversize = metric(&mut small, "events_oversize");
    assert!(oversize > 0);
    assert_eq!(events.len() as u64 + oversize, 37);
    assert!(small
        .take_logs()
        .iter()
        .any(|l| l.message.contains("maxEventSize is 4096")));
}

#[test]
fn gzip_directories_globs_lists_and_skipped_resources() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read(test_file("kube_audit_rest_sample.jsonl")).unwrap();
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&sample).unwrap();
    let gz_path = dir.path().join("capture.jsonl.gz");
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    let mut p = init(r#"{"skipResources":["leases"]}"#);
    let events = replay(&mut p, gz_path.to_str().unwrap());
    assert_eq!(events.len(), 36);
    assert_eq!(metric(&mut p, "events_skipped"), 1);
    assert_eq!(
        one(&mut p, &events[0], "kar.target.name").as_deref(),
        Some("nginx")
    );

    let mut p = init("{}");
    let list = format!(
        "{},{}",
        test_file("malformed_lines.jsonl"),
        dir.path().display()
    );
    assert_eq!(replay(&mut p, &list).len(), 3 + 37);
    let glob = format!("{}/test_files/*_lines.jsonl", so::root().display());
    assert_eq!(replay(&mut p, &glob).len(), 3);
}

#[test]
fn warnings_about_bad_lines_are_rate_limited() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noisy.jsonl");
    let sample = std::fs::read_to_string(test_file("kube_audit_rest_sample.jsonl")).unwrap();
    let good = sample.lines().next().unwrap();
    let mut text = "not json\n".repeat(50);
    text.push_str(good);
    std::fs::write(&path, text).unwrap();
    let mut p = init("{}");
    p.take_logs();
    assert_eq!(replay(&mut p, path.to_str().unwrap()).len(), 1);
    assert_eq!(metric(&mut p, "lines_malformed"), 50);
    let logs = p.take_logs();
    let per_line = logs
        .iter()
        .filter(|l| l.message.contains("malformed line skipped"))
        .count();
    assert_eq!(per_line, 10, "{logs:?}");
    assert!(
        logs.iter()
            .any(|l| l.message.contains("40 more skipped lines were not logged")),
        "{logs:?}"
    );
}

#[test]
fn skip_resources_cannot_be_fooled_and_unredactable_secrets_are_dropped() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tricky.jsonl");
    let disguised = r#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u-1","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"name":"evil","namespace":"default","operation":"CREATE","userInfo":{"username":"mallory"},"object":{"metadata":{"name":"evil","annotations":{"resource":"leases"}},"spec":{"containers":[{"name":"c","image":"x","securityContext":{"privileged":true}}]}},"oldObject":null}}"#;
    let lease = r#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u-2","kind":{"group":"coordination.k8s.io","version":"v1","kind":"Lease"},"resource":{"group":"coordination.k8s.io","version":"v1","resource":"leases"},"name":"n1","namespace":"kube-node-lease","operation":"UPDATE","userInfo":{"username":"system:node:n1"},"object":{},"oldObject":{}}}"#;
    let broken_secret = r#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u-3","kind":{"group":"","version":"v1","kind":"Secret"},"resource":{"group":"","version":"v1","resource":"secrets"},"name":"s","namespace":"default","operation":"CREATE","userInfo":{"username":"mallory"},"object":{"data":{"password":"aHVudGVyMg==","x":"\ud800"}},"oldObject":null}}"#;
    std::fs::write(&path, format!("{disguised}\n{lease}\n{broken_secret}\n")).unwrap();
    let mut p = init(r#"{"skipResources":["leases"]}"#);
    let events = replay(&mut p, path.to_str().unwrap());
    assert_eq!(events.len(), 1);
    assert_eq!(one(&mut p, &events[0], "kar.uid").as_deref(), Some("u-1"));
    assert_eq!(metric(&mut p, "events_skipped"), 1);
    assert_eq!(metric(&mut p, "events_unparsable"), 1);
}

#[test]
fn long_stretches_of_skipped_lines_do_not_hold_next_batch() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noise.jsonl");
    let sample = std::fs::read_to_string(test_file("kube_audit_rest_sample.jsonl")).unwrap();
    let mut text = "[not, an, object]\n".repeat(40_000);
    text.push_str(sample.lines().next().unwrap());
    std::fs::write(&path, text).unwrap();
    let mut p = init("{}");
    let mut instance = p.open(path.to_str().unwrap()).unwrap();
    let mut timeouts = 0;
    let mut events = 0;
    loop {
        match instance.next_batch().unwrap() {
            k8sadmission_host::Batch::Events(b) => events += b.len(),
            k8sadmission_host::Batch::Timeout => timeouts += 1,
            k8sadmission_host::Batch::Eof => break,
        }
    }
    p.close(instance);
    assert_eq!(events, 1);
    assert!(
        timeouts >= 2,
        "40,000 skipped lines take several calls ({timeouts} timeouts)"
    );
    assert_eq!(metric(&mut p, "lines_malformed"), 40_000);
}
