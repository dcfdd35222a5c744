//! In-process host for tests: falco_plugin_runner drives the plugin through the plugin API.
//! The runner opens sources without open_params (which the plugin refuses), so it is given the
//! plugin's API table with the source capability left out; events are built here and handed to
//! the real `extract_fields`, one field per call (as Falco does).

#![allow(dead_code)]

use falco_plugin::api::{plugin_api, plugin_api__bindgen_ty_1};
use falco_plugin::event::events::{Event as FalcoEvent, EventMetadata, EventToBytes};
use falco_plugin::source::PluginEvent;
use falco_plugin_runner::{
    CapturingPluginRunner, Event, ExtractedField, MetricValue, PluginRunner,
};
use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

static EVTNUM: AtomicU64 = AtomicU64::new(1);

/// The plugin loaded in a runner, with a capture started.
pub struct Host {
    runner: CapturingPluginRunner,
}

/// An event built from a payload, owning its bytes.
pub struct Built {
    _bytes: Vec<u8>,
    event: Event,
}

impl Host {
    /// Loads the plugin with this init_config.
    pub fn new(config: &str) -> Self {
        let mut runner = PluginRunner::new();
        runner
            .register_plugin(extract_only_api(), &CString::new(config).unwrap())
            .expect("plugin init");
        Self {
            runner: runner.start_capture().expect("capture start"),
        }
    }

    /// An event whose payload is `json`.
    pub fn event(&self, json: &str) -> Built {
        build_event(json.as_bytes())
    }

    /// An event whose payload is any bytes (as a Falco capture may hold).
    pub fn event_bytes(&self, payload: &[u8]) -> Built {
        build_event(payload)
    }

    /// One `extract_fields` call for one field, as the runner returns it.
    pub fn extract(&mut self, event: &Built, field: &str) -> ExtractedField {
        self.runner
            .extract_field(&event.event, field)
            .unwrap_or_else(|| panic!("{field} is not a field"))
            .unwrap_or_else(|rc| panic!("{field}: extraction failed with rc {rc}"))
    }

    /// One field of an event: `None` for ∅, else its values (one for a string field).
    pub fn get(&mut self, event: &Built, field: &str) -> Option<Vec<String>> {
        flatten(self.extract(event, field))
    }

    /// One string field.
    pub fn one(&mut self, event: &Built, field: &str) -> Option<String> {
        self.get(event, field).map(|mut v| {
            assert_eq!(v.len(), 1, "{field} gave {v:?}");
            v.remove(0)
        })
    }

    /// The value of one plugin metric.
    pub fn metric(&mut self, name: &str) -> u64 {
        let metric = self
            .runner
            .get_metrics()
            .into_iter()
            .find(|m| m.name == name || m.name.ends_with(&format!(".{name}")))
            .unwrap_or_else(|| panic!("no metric {name}"));
        match metric.value {
            MetricValue::U64(v) => v,
            _ => panic!("{name} is not a u64"),
        }
    }
}

/// A `k8s_admission` event with this payload, with a new event number.
pub fn build_event(payload: &[u8]) -> Built {
    let event = FalcoEvent {
        metadata: EventMetadata { ts: 1, tid: -1 },
        params: PluginEvent {
            plugin_id: 999,
            event_data: payload,
        },
    };
    let mut bytes = Vec::new();
    event.write(&mut bytes).unwrap();
    let built = Event {
        source: c"k8s_admission".as_ptr(),
        source_plugin: std::ptr::null_mut(),
        to_string: None,
        buf: bytes.as_mut_ptr().cast(),
        evt_num: Some(EVTNUM.fetch_add(1, Ordering::Relaxed)),
    };
    Built {
        _bytes: bytes,
        event: built,
    }
}

/// The plugin's API table without the source capability.
fn extract_only_api() -> &'static plugin_api {
    static API: OnceLock<plugin_api> = OnceLock::new();
    API.get_or_init(|| {
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
        api
    })
}

fn flatten(value: ExtractedField) -> Option<Vec<String>> {
    match value {
        ExtractedField::None => None,
        ExtractedField::String(s) => Some(vec![s.to_string_lossy().into_owned()]),
        ExtractedField::Vec(v) => {
            let all: Vec<String> = v.into_iter().filter_map(flatten).flatten().collect();
            Some(all)
        }
        other => Some(vec![other.to_string()]),
    }
}

/// A v1 AdmissionReview around a request body (JSON members without braces).
pub fn review(request_members: &str) -> String {
    format!(
        r#"{{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{{"uid":"705ab4f5-6393-11e8-b7cc-42010a800002",{request_members}}},"requestReceivedTimestamp":"2026-11-20T10:15:03.123456789Z"}}"#
    )
}

/// A request on an object, as the apiserver sends it; name only what differs from the
/// defaults (a CREATE of core/v1, no namespace, no name, `object` and `oldObject` null).
#[derive(Clone, Copy)]
pub struct Req<'a> {
    pub op: &'a str,
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
    pub resource: &'a str,
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub object: &'a str,
    pub old_object: &'a str,
}

impl Default for Req<'_> {
    fn default() -> Self {
        Self {
            op: "CREATE",
            group: "",
            version: "v1",
            kind: "",
            resource: "",
            namespace: None,
            name: "",
            object: "null",
            old_object: "null",
        }
    }
}

impl Req<'_> {
    /// The whole AdmissionReview.
    pub fn json(&self) -> String {
        let Req {
            op,
            group,
            version,
            kind,
            resource,
            namespace,
            name,
            object,
            old_object,
        } = *self;
        let ns = namespace
            .map(|n| format!(r#""namespace":"{n}","#))
            .unwrap_or_default();
        review(&format!(
            r#""kind":{{"group":"{group}","version":"{version}","kind":"{kind}"}},"resource":{{"group":"{group}","version":"{version}","resource":"{resource}"}},"requestKind":{{"group":"{group}","version":"{version}","kind":"{kind}"}},"requestResource":{{"group":"{group}","version":"{version}","resource":"{resource}"}},"name":"{name}",{ns}"operation":"{op}","userInfo":{{"username":"alice","uid":"u-1","groups":["system:authenticated","dev"],"extra":{{"authentication.kubernetes.io/credential-id":["X509SHA256=abc"]}}}},"object":{object},"oldObject":{old_object},"dryRun":false,"options":{{"kind":"CreateOptions","apiVersion":"meta.k8s.io/v1","fieldManager":"kubectl-client-side-apply"}}"#
        ))
    }
}

/// A core Pod CREATE with this spec.
pub fn pod(spec: &str) -> String {
    Req {kind: "Pod", resource: "pods", namespace: Some("default"), name: "web", object: &format!(
            r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"name":"web","namespace":"default"}},"spec":{spec}}}"#
        ), ..Req::default() }.json()
}
