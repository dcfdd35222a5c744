//! Field extraction as Falco does it (one field per `extract_fields` call, many calls per event,
//! one parse per event), against the floor of one simd-json parse of the same bytes.
//!
//! The plugin is driven through its real plugin API by falco_plugin_runner, set up the way
//! tests/common/mod.rs does it: the API table with the source capability left out, events built
//! with falco_plugin's `Event<PluginEvent<&[u8]>>` and `EventToBytes::write`.
//!
//! Event: line 2 of test_files/kube_audit_rest_sample.jsonl (a privileged pod CREATE).
//!
//! Run: `cargo bench --bench extract`

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use falco_plugin::api::{plugin_api, plugin_api__bindgen_ty_1};
use falco_plugin::event::events::{Event as FalcoEvent, EventMetadata, EventToBytes};
use falco_plugin::source::PluginEvent;
use falco_plugin_runner::{CapturingPluginRunner, Event, ExtractedField, PluginRunner};
use std::cell::Cell;
use std::ffi::CString;
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
fn pod_event_line() -> Vec<u8> {
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
    line.as_bytes().to_vec()
}

/// The plugin's API table without the source capability (as in tests/common/mod.rs).
fn extract_only_api() -> &'static plugin_api {
    let mut api = k8sadmission::PLUGIN_API;
    api.__bindgen_anon_1 = plugin_api__bindgen_ty_1 {
        next_batch: None,
        get_progress: None,
        get_id: None,
        get_event_source: None,
        list_open_params: None,
        open: None,
        close: None,
        event_to_string: None,
    };
    Box::leak(Box::new(api))
}

/// The plugin loaded in a runner, with a capture started.
struct Host {
    runner: CapturingPluginRunner,
}

/// Builds Falco events, each with a new event number.
struct Events {
    source: CString,
    next_evtnum: Cell<u64>,
}

/// An event owning its bytes (`event.buf` points into `_bytes`).
struct Built {
    _bytes: Vec<u8>,
    event: Event,
}

impl Host {
    fn new() -> Self {
        let mut runner = PluginRunner::new();
        runner
            .register_plugin(extract_only_api(), c"{}")
            .expect("plugin init");
        Self {
            runner: runner.start_capture().expect("capture start"),
        }
    }

    /// One `extract_fields` call for one field.
    fn extract(&mut self, built: &Built, field: &str) -> ExtractedField {
        self.runner
            .extract_field(&built.event, field)
            .unwrap_or_else(|| panic!("{field} is not a field"))
            .unwrap_or_else(|rc| panic!("{field}: extraction failed with rc {rc}"))
    }
}

impl Events {
    fn new() -> Self {
        Self {
            source: CString::new("k8s_admission").unwrap(),
            next_evtnum: Cell::new(1),
        }
    }

    /// A new Falco event (new event number, own buffer) carrying `payload`.
    fn event(&self, payload: &[u8]) -> Built {
        let event = FalcoEvent {
            metadata: EventMetadata { ts: 1, tid: -1 },
            params: PluginEvent {
                plugin_id: 999,
                event_data: payload,
            },
        };
        let mut bytes = Vec::new();
        event.write(&mut bytes).unwrap();
        let evt_num = self.next_evtnum.get();
        self.next_evtnum.set(evt_num + 1);
        let event = Event {
            source: self.source.as_ptr(),
            source_plugin: std::ptr::null_mut(),
            to_string: None,
            buf: bytes.as_mut_ptr().cast(),
            evt_num: Some(evt_num),
        };
        Built {
            _bytes: bytes,
            event,
        }
    }
}

/// Checks once, outside the measurements, that the event parses and the fields are not ∅.
fn sanity_check(host: &mut Host, events: &Events, line: &[u8]) {
    let built = events.event(line);
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
    let mut host = Host::new();
    let events = Events::new();
    sanity_check(&mut host, &events, &line);

    let mut group = c.benchmark_group("pod_event");

    // The same event every iteration: the parse is cached, one field is a cache hit.
    let built = events.event(&line);
    group.bench_function("one_field_cached", |b| {
        b.iter(|| black_box(host.extract(&built, ONE_FIELD)))
    });

    // The benchmarks below each handle the whole line once per iteration.
    group.throughput(Throughput::Bytes(line.len() as u64));

    // The floor: copy the bytes (simd-json unescapes in place, as the plugin's parse does) and
    // build the tape once.
    group.bench_function("simd_json_tape_parse", |b| {
        b.iter(|| {
            let mut bytes = black_box(line.as_slice()).to_vec();
            let tape = simd_json::to_tape(&mut bytes).expect("valid JSON");
            black_box(&tape);
        })
    });

    // A new event per iteration: one parse, then the rule fields, one extract call each.
    group.bench_function("typical_rule_fields", |b| {
        b.iter_batched_ref(
            || events.event(&line),
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
    let mut host = Host::new();
    let events = Events::new();
    sanity_check(&mut host, &events, &line);

    let mut group = c.benchmark_group("parse_once");
    group.throughput(Throughput::Bytes(line.len() as u64));

    // A new event per iteration: parse + one field.
    group.bench_function("first_field_new_event", |b| {
        b.iter_batched_ref(
            || events.event(&line),
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
