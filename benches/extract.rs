//! Field extraction as Falco does it (one field per `extract_fields` call, many calls per event,
//! one parse per event), against the floor of one simd-json parse of the same bytes.
//!
//! The plugin is driven through its real plugin API by falco_plugin_runner, with the tests' host
//! (tests/common/mod.rs): the API table with the source capability left out, each built event
//! with a new event number.
//!
//! Event: line 2 of test_files/kube_audit_rest_sample.jsonl (a privileged pod CREATE).
//!
//! Run: `cargo bench --bench extract`

#[path = "../tests/common/mod.rs"]
mod common;

use common::Host;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use std::time::Duration;

/// The fields typical k8saudit-style rules read on a pod event.
const TYPICAL_RULE_FIELDS: &[&str] = &[
    "kar.verb",
    "kar.target.resource",
    "kar.target.subresource",
    "kar.target.namespace",
    "kar.target.name",
    "kar.user.name",
    "kar.user.groups",
    "kar.dry_run",
    "kar.req.pod.host_network",
    "kar.req.pod.host_pid",
    "kar.req.pod.host_ipc",
    "kar.req.pod.containers.privileged",
    "kar.req.pod.initContainers.privileged",
    "kar.req.pod.ephemeralContainers.privileged",
    "kar.req.pod.containers.add_capabilities",
    "kar.req.pod.volumes.hostpath",
    "kar.req.pod.volumes.hostpath_writable",
    "kar.req.pod.containers.image.repository",
    "kar.req.pod.containers.eff_run_as_user",
    "kar.req.volume.hostpath[/var/run/docker.sock]",
];

/// The single field of the one-field benchmarks.
const ONE_FIELD: &str = "kar.req.pod.containers.privileged";

/// Line 2 of the kube-audit-rest sample: the privileged pod event.
fn pod_event_line() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/test_files/kube_audit_rest_sample.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let line = text.lines().nth(1).expect("the sample has a second line");
    assert!(
        line.contains(r#""privileged":true"#),
        "line 2 is not the privileged pod event"
    );
    line.to_string()
}

/// Checks once, outside the measurements, that the event parses and the fields are not ∅.
fn sanity_check(host: &mut Host, line: &str) {
    let built = host.event(line);
    let privileged = host.extract(&built, ONE_FIELD).to_string();
    assert!(privileged.contains("true"), "{ONE_FIELD} = {privileged}");
    let docker_sock = host
        .extract(&built, "kar.req.volume.hostpath[/var/run/docker.sock]")
        .to_string();
    assert_eq!(docker_sock, "true");
    for field in TYPICAL_RULE_FIELDS {
        black_box(host.extract(&built, field));
    }
}

fn pod_event(c: &mut Criterion) {
    let line = pod_event_line();
    let mut host = Host::new("{}");
    sanity_check(&mut host, &line);

    let mut group = c.benchmark_group("pod_event");

    // The same event every iteration: the parse is cached, one field is a cache hit.
    let built = host.event(&line);
    group.bench_function("one_field_cached", |b| {
        b.iter(|| black_box(host.extract(&built, ONE_FIELD)))
    });

    // The benchmarks below each handle the whole line once per iteration.
    group.throughput(Throughput::Bytes(line.len() as u64));

    // The floor: copy the bytes (simd-json unescapes in place, as the plugin's parse does) and
    // build the tape once.
    group.bench_function("simd_json_tape_parse", |b| {
        b.iter(|| {
            let mut bytes = black_box(line.as_bytes()).to_vec();
            let tape = simd_json::to_tape(&mut bytes).expect("valid JSON");
            black_box(&tape);
        })
    });

    // A new event per iteration: one parse, then the rule fields, one extract call each.
    group.bench_function("typical_rule_fields", |b| {
        b.iter_batched_ref(
            || common::build_event(line.as_bytes()),
            |built| {
                for field in TYPICAL_RULE_FIELDS {
                    black_box(host.extract(built, field));
                }
            },
            BatchSize::SmallInput,
        )
    });

    group.finish();
}

fn parse_once(c: &mut Criterion) {
    let line = pod_event_line();
    let mut host = Host::new("{}");
    sanity_check(&mut host, &line);

    let mut group = c.benchmark_group("parse_once");
    group.throughput(Throughput::Bytes(line.len() as u64));

    // A new event per iteration: parse + one field.
    group.bench_function("first_field_new_event", |b| {
        b.iter_batched_ref(
            || common::build_event(line.as_bytes()),
            |built| black_box(host.extract(built, ONE_FIELD)),
            BatchSize::SmallInput,
        )
    });

    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = pod_event, parse_once
}
criterion_main!(benches);
