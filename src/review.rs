//! The AdmissionReview view: one simd-json parse per event, cached by event number, and typed
//! accessors over it (request, object, old object, the pod spec found by kind).

use crate::config::Config;
use crate::json::{self, Json};
use crate::metrics::Metrics;
use simd_json::prelude::*;
use simd_json::tape::Tape;
use std::borrow::Cow;

/// A value as text: borrowed from the parse where possible.
pub type Text<'a> = Cow<'a, str>;

/// One parsed payload: the bytes (unescaped in place by simd-json) and the tape over them.
#[ouroboros::self_referencing]
pub struct Parsed {
    bytes: Vec<u8>,
    #[borrows(mut bytes)]
    #[covariant]
    tape: Tape<'this>,
}

impl Parsed {
    /// The review view of this parse.
    pub fn review<'a>(&'a self, payload: &'a [u8], config: &'a Config) -> Option<Review<'a>> {
        Review::new(self.borrow_tape(), payload, config)
    }
}

/// Which event the cache holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key {
    evtnum: u64,
    len: usize,
    ptr: usize,
}

/// The last parsed event (Falco asks for one field per call, many calls per event).
#[derive(Default)]
pub struct ReviewCache {
    key: Option<Key>,
    parsed: Option<Parsed>,
    buffers: Option<simd_json::Buffers>,
}

impl std::fmt::Debug for ReviewCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReviewCache")
            .field("key", &self.key)
            .field("valid", &self.parsed.is_some())
            .finish()
    }
}

impl ReviewCache {
    /// The parse of `payload` (event `evtnum`), parsing it when it is not the cached one.
    /// `None` for an invalid event (counted once in `events_unparsable`).
    pub fn get(&mut self, evtnum: u64, payload: &[u8], metrics: &Metrics) -> Option<&Parsed> {
        let key = Key {
            evtnum,
            len: payload.len(),
            ptr: payload.as_ptr() as usize,
        };
        if self.key != Some(key) {
            // Forget the previous event first: if the parse panics, nothing stale is served.
            self.key = None;
            self.parsed = None;
            let buffers = self
                .buffers
                .get_or_insert_with(|| simd_json::Buffers::new(payload.len()));
            self.parsed = parse(payload, buffers);
            self.key = Some(key);
            if self.parsed.is_none() {
                Metrics::add(&metrics.events_unparsable, 1);
                log::debug!("event {evtnum}: not a valid AdmissionReview; its fields are empty");
            }
        }
        self.parsed.as_ref()
    }
}

/// Parses a payload; `None` unless it is an object whose `request` is an object with a
/// non-empty string `uid` (SPEC §2 "Validity").
pub fn parse(payload: &[u8], buffers: &mut simd_json::Buffers) -> Option<Parsed> {
    let mut tape = |bytes: Vec<u8>| {
        Parsed::try_new(bytes, |bytes| {
            simd_json::to_tape_with_buffers(bytes, buffers)
        })
    };
    let parsed = match tape(payload.to_vec()) {
        Ok(parsed) => parsed,
        // An integer just below i64::MIN: read as a float, like every integer beyond 64 bits.
        Err(e) if *e.error() == simd_json::ErrorType::InvalidNumber => {
            tape(json::widen_negative_integers(payload)?).ok()?
        }
        Err(_) => return None,
    };
    let root = parsed.borrow_tape().as_value();
    let valid = root.is_object() && json::get_str(root, &["request", "uid"]).is_some();
    valid.then_some(parsed)
}

/// The pod spec a request carries, and its JSON pointer from the document root.
#[derive(Debug, Clone, Copy)]
pub struct PodSpec<'a> {
    /// The `PodSpec` object.
    pub spec: Json<'a, 'a>,
    /// Pointer of the spec inside the object (`/spec/template/spec`).
    pub pointer: &'a str,
}

/// The three container families of a pod spec.
pub const FAMILIES: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

impl<'a> PodSpec<'a> {
    /// The elements of one container family (`containers`, `initContainers`, `ephemeralContainers`).
    pub fn family(&self, family: &str) -> impl Iterator<Item = Json<'a, 'a>> {
        json::array(self.spec, &[family])
    }

    /// Every container of every family.
    pub fn all_containers(&self) -> impl Iterator<Item = Json<'a, 'a>> + '_ {
        FAMILIES.iter().flat_map(|f| self.family(f))
    }

    /// The elements of `spec.volumes`.
    pub fn volumes(&self) -> impl Iterator<Item = Json<'a, 'a>> {
        json::array(self.spec, &["volumes"])
    }
}

/// A valid AdmissionReview and the configuration it is read with.
#[derive(Clone, Copy)]
pub struct Review<'a> {
    /// The whole document.
    pub root: Json<'a, 'a>,
    /// `request`.
    pub request: Json<'a, 'a>,
    /// The payload bytes as received (for kar.obj).
    pub payload: &'a [u8],
    /// init_config.
    pub config: &'a Config,
}

impl<'a> Review<'a> {
    /// The view over a valid parse.
    pub fn new(tape: &'a Tape<'a>, payload: &'a [u8], config: &'a Config) -> Option<Self> {
        let root = tape.as_value();
        Some(Self {
            root,
            request: root.get("request")?,
            payload,
            config,
        })
    }

    /// A string of the request at `path`, when non-empty.
    pub fn req_str(&self, path: &[&str]) -> Option<&'a str> {
        json::get_str(self.request, path)
    }

    /// A string of the request at `path`, `""` included (for group names).
    fn req_raw_str(&self, path: &[&str]) -> &'a str {
        json::get(self.request, path)
            .and_then(|v| v.into_string())
            .unwrap_or("")
    }

    /// `request.operation`.
    pub fn operation(&self) -> &'a str {
        self.req_raw_str(&["operation"])
    }

    /// Group and kind of `request.kind`.
    pub fn kind(&self) -> (&'a str, &'a str) {
        (
            self.req_raw_str(&["kind", "group"]),
            self.req_raw_str(&["kind", "kind"]),
        )
    }

    /// `true` when `request.kind` is this group and kind.
    pub fn is_kind(&self, group: &str, kind: &str) -> bool {
        self.kind() == (group, kind)
    }

    /// `request.resource.resource`.
    pub fn resource(&self) -> &'a str {
        self.req_raw_str(&["resource", "resource"])
    }

    /// `request.resource.group` (`""` for the core group).
    pub fn resource_group(&self) -> &'a str {
        self.req_raw_str(&["resource", "group"])
    }

    /// `request.subResource`.
    pub fn subresource(&self) -> &'a str {
        self.req_raw_str(&["subResource"])
    }

    /// `true` for a CONNECT on this core resource and subresource (`pods`, `exec`).
    pub fn is_connect(&self, resource: &str, subresource: &str) -> bool {
        self.operation() == "CONNECT"
            && self.resource_group().is_empty()
            && self.resource() == resource
            && self.subresource() == subresource
    }

    /// `request.object` when it is an object (null on DELETE).
    pub fn object(&self) -> Option<Json<'a, 'a>> {
        self.request.get("object").filter(|o| o.is_object())
    }

    /// `request.oldObject` when it is an object.
    pub fn old_object(&self) -> Option<Json<'a, 'a>> {
        self.request.get("oldObject").filter(|o| o.is_object())
    }

    /// The pointer of the pod spec inside objects of this request's kind.
    pub fn pod_spec_pointer(&self) -> Option<&'a str> {
        let (group, kind) = self.kind();
        let builtin = match (group, kind) {
            ("", "Pod") => Some("/spec"),
            ("", "PodTemplate") => Some("/template/spec"),
            ("", "ReplicationController")
            | ("apps", "ReplicaSet" | "Deployment" | "StatefulSet" | "DaemonSet")
            | ("extensions", "ReplicaSet" | "Deployment" | "DaemonSet")
            | ("batch", "Job") => Some("/spec/template/spec"),
            ("batch", "CronJob") => Some("/spec/jobTemplate/spec/template/spec"),
            _ => None,
        };
        builtin.or_else(|| self.config.pod_spec_path(group, kind))
    }

    /// The pod spec of `request.object`.
    pub fn pod_spec(&self) -> Option<PodSpec<'a>> {
        self.pod_spec_in(self.object()?)
    }

    /// The pod spec of `request.oldObject`.
    pub fn old_pod_spec(&self) -> Option<PodSpec<'a>> {
        self.pod_spec_in(self.old_object()?)
    }

    fn pod_spec_in(&self, object: Json<'a, 'a>) -> Option<PodSpec<'a>> {
        let pointer = self.pod_spec_pointer()?;
        let spec = json::pointer(object, pointer).filter(|s| s.is_object())?;
        Some(PodSpec { spec, pointer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(json: &str) -> Option<Parsed> {
        parse(json.as_bytes(), &mut simd_json::Buffers::default())
    }

    #[test]
    fn validity_needs_a_request_with_a_uid() {
        assert!(parsed(r#"{"request":{"uid":"u1"}}"#).is_some());
        for bad in [
            r#"{"request":{"uid":""}}"#,
            r#"{"request":{"uid":7}}"#,
            r#"{"request":"x"}"#,
            r#"{"not":"a review"}"#,
            r#"[1]"#,
            r#"{"request":{"uid":"u1"}"#,
        ] {
            assert!(parsed(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn the_cache_parses_once_per_event() {
        let m = Metrics::default();
        let mut cache = ReviewCache::default();
        let a = br#"{"request":{"uid":"a"}}"#.to_vec();
        let bad = br#"{"x":1}"#.to_vec();
        assert!(cache.get(1, &a, &m).is_some());
        assert!(cache.get(1, &a, &m).is_some());
        assert!(cache.get(2, &bad, &m).is_none());
        assert!(cache.get(2, &bad, &m).is_none());
        assert_eq!(
            m.events_unparsable
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }

    #[test]
    fn the_pod_spec_is_found_by_group_and_kind() {
        let config: Config = serde_json::from_str(
            r#"{"podSpecPaths":{"argoproj.io/Rollout":"/spec/template/spec"}}"#,
        )
        .unwrap();
        let cases = [
            ("", "Pod", r#"{"spec":{"hostPID":true}}"#, Some("/spec")),
            (
                "",
                "PodTemplate",
                r#"{"template":{"spec":{"hostPID":true}}}"#,
                Some("/template/spec"),
            ),
            (
                "apps",
                "Deployment",
                r#"{"spec":{"template":{"spec":{"hostPID":true}}}}"#,
                Some("/spec/template/spec"),
            ),
            (
                "extensions",
                "DaemonSet",
                r#"{"spec":{"template":{"spec":{"hostPID":true}}}}"#,
                Some("/spec/template/spec"),
            ),
            (
                "batch",
                "CronJob",
                r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"hostPID":true}}}}}}"#,
                Some("/spec/jobTemplate/spec/template/spec"),
            ),
            (
                "argoproj.io",
                "Rollout",
                r#"{"spec":{"template":{"spec":{"hostPID":true}}}}"#,
                Some("/spec/template/spec"),
            ),
            (
                "example.com",
                "Deployment",
                r#"{"spec":{"template":{"spec":{"hostPID":true}}}}"#,
                None,
            ),
            ("", "Pod", r#"{"spec":"wrong shape"}"#, None),
        ];
        for (group, kind, object, want) in cases {
            let doc = format!(
                r#"{{"request":{{"uid":"u","kind":{{"group":"{group}","version":"v1","kind":"{kind}"}},"object":{object}}}}}"#
            );
            let p = parsed(&doc).unwrap();
            let r = p.review(doc.as_bytes(), &config).unwrap();
            let spec = r.pod_spec();
            assert_eq!(spec.map(|s| s.pointer), want, "{group}/{kind}");
            if let Some(s) = spec {
                assert!(json::is_true(s.spec, &["hostPID"]));
            }
        }
    }
}
