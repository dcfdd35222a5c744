//! Pod spec fields: pod-level settings and the per-container fields of the three families.

use super::request::elements;
use crate::json::{self, Json};
use crate::review::{PodSpec, Review, Text};
use simd_json::prelude::*;
use std::borrow::Cow;

/// The pod spec of the object (`Old::No`) or of the old object (`Old::Yes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// `request.object`.
    Object,
    /// `request.oldObject`.
    OldObject,
}

/// The pod spec of one side of the request.
pub fn spec<'a>(r: &Review<'a>, which: Which) -> Option<PodSpec<'a>> {
    match which {
        Which::Object => r.pod_spec(),
        Which::OldObject => r.old_pod_spec(),
    }
}

/// A pod-level scalar at `path` of the pod spec.
pub fn pod_value<'a>(r: &Review<'a>, which: Which, path: &[&str]) -> Option<Text<'a>> {
    json::get(spec(r, which)?.spec, path).and_then(json::scalar)
}

/// kar.req.pod.spec_path: the JSON pointer of the pod spec in the document.
pub fn spec_path<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    r.pod_spec()
        .map(|s| Cow::Owned(format!("/request/object{}", s.pointer)))
}

/// kar.req.pod.supplemental_groups.
pub fn supplemental_groups<'a>(r: &Review<'a>) -> Vec<Text<'a>> {
    elements(
        r.pod_spec()
            .and_then(|s| json::get(s.spec, &["securityContext", "supplementalGroups"])),
    )
}

/// The values of one per-container field over a family (or over container `idx` of it).
pub fn per_container<'a>(
    r: &Review<'a>,
    which: Which,
    family: &str,
    idx: Option<usize>,
    x: fn(&PodSpec<'a>, Json<'a, 'a>) -> Vec<Text<'a>>,
) -> Vec<Text<'a>> {
    let Some(spec) = spec(r, which) else {
        return Vec::new();
    };
    let containers = spec.family(family);
    match idx {
        Some(i) => containers
            .skip(i)
            .take(1)
            .flat_map(|c| x(&spec, c))
            .collect(),
        None => containers.flat_map(|c| x(&spec, c)).collect(),
    }
}

fn one<'a>(v: Option<Json<'a, 'a>>) -> Vec<Text<'a>> {
    v.and_then(json::scalar).into_iter().collect()
}

fn sc<'a>(c: Json<'a, 'a>, key: &str) -> Vec<Text<'a>> {
    one(json::get(c, &["securityContext", key]))
}

/// Container `name`.
pub fn name<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    one(c.get("name"))
}

/// Container `image`.
pub fn image<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    one(c.get("image"))
}

/// The image without `@digest` and without `:tag` (a tag colon comes after the last `/`; of an
/// invalid `app:tag:extra`, which no runtime pulls, only the last part is cut, so that it never
/// matches a trusted `app`).
pub fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(colon) => &image[..name_start + colon],
        None => image,
    }
}

/// Container image repository.
pub fn image_repository<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    json::get_str(c, &["image"])
        .map(|i| Cow::Borrowed(repository(i)))
        .into_iter()
        .collect()
}

fn joined<'a>(c: Json<'a, 'a>, key: &str) -> Vec<Text<'a>> {
    let parts = elements(c.get(key));
    if parts.is_empty() {
        Vec::new()
    } else {
        vec![Cow::Owned(parts.join(" "))]
    }
}

/// Container `command`, joined by spaces.
pub fn command<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    joined(c, "command")
}

/// Container `args`, joined by spaces.
pub fn args<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    joined(c, "args")
}

/// Host ports: each port's `hostPort`, or its `containerPort` under `hostNetwork`.
pub fn host_port<'a>(spec: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    let host_network = json::is_true(spec.spec, &["hostNetwork"]);
    json::array(c, &["ports"])
        .filter_map(|p| {
            let host_port = p
                .get("hostPort")
                .filter(|v| v.as_u64() != Some(0))
                .and_then(json::scalar);
            host_port.or_else(|| {
                host_network
                    .then(|| p.get("containerPort").and_then(json::scalar))
                    .flatten()
            })
        })
        .collect()
}

/// `securityContext.privileged`.
pub fn privileged<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    sc(c, "privileged")
}

/// `securityContext.allowPrivilegeEscalation`.
pub fn allow_privilege_escalation<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    sc(c, "allowPrivilegeEscalation")
}

/// `securityContext.readOnlyRootFilesystem`.
pub fn read_only_fs<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    sc(c, "readOnlyRootFilesystem")
}

/// `securityContext.runAsUser`.
pub fn run_as_user<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    sc(c, "runAsUser")
}

/// `securityContext.runAsGroup`.
pub fn run_as_group<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    sc(c, "runAsGroup")
}

/// `securityContext.procMount`.
pub fn proc_mount<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    sc(c, "procMount")
}

fn effective<'a>(spec: &PodSpec<'a>, c: Json<'a, 'a>, key: &str) -> Vec<Text<'a>> {
    if !c.is_object() {
        return Vec::new();
    }
    let own = json::get(c, &["securityContext", key]).and_then(json::scalar);
    let pod = || json::get(spec.spec, &["securityContext", key]).and_then(json::scalar);
    vec![own.or_else(pod).unwrap_or(Cow::Borrowed("0"))]
}

/// The user a container runs as: its own, else the pod's, else 0.
pub fn eff_run_as_user<'a>(spec: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    effective(spec, c, "runAsUser")
}

/// The group a container runs as: its own, else the pod's, else 0.
pub fn eff_run_as_group<'a>(spec: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    effective(spec, c, "runAsGroup")
}

/// Every capability in `securityContext.capabilities.add`.
pub fn add_capabilities<'a>(_: &PodSpec<'a>, c: Json<'a, 'a>) -> Vec<Text<'a>> {
    elements(json::get(c, &["securityContext", "capabilities", "add"]))
}

/// kar.req.container.image / image.repository: of the first container (deprecated).
pub fn first_container<'a>(
    r: &Review<'a>,
    x: fn(&PodSpec<'a>, Json<'a, 'a>) -> Vec<Text<'a>>,
) -> Option<Text<'a>> {
    per_container(r, Which::Object, "containers", Some(0), x)
        .into_iter()
        .next()
}

/// kar.req.container.privileged: `true` if any container is privileged (deprecated).
pub fn any_privileged<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    let spec = r.pod_spec()?;
    let any = spec
        .family("containers")
        .any(|c| json::is_true(c, &["securityContext", "privileged"]));
    Some(Cow::Borrowed(if any { "true" } else { "false" }))
}

/// kar.req.pod.ephemeralContainers.added: ephemeral containers the old object lacks.
pub fn ephemeral_added<'a>(r: &Review<'a>) -> Vec<Text<'a>> {
    let Some(spec) = r.pod_spec() else {
        return Vec::new();
    };
    let old: Vec<&str> = r
        .old_pod_spec()
        .map(|s| {
            s.family("ephemeralContainers")
                .filter_map(|c| json::get_str(c, &["name"]))
                .collect()
        })
        .unwrap_or_default();
    spec.family("ephemeralContainers")
        .filter_map(|c| json::get_str(c, &["name"]))
        .filter(|n| !old.contains(n))
        .map(Cow::Borrowed)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::repository;

    #[test]
    fn repository_drops_tag_and_digest() {
        assert_eq!(repository("nginx"), "nginx");
        assert_eq!(repository("nginx:1.25"), "nginx");
        assert_eq!(repository("registry:5000/app:1"), "registry:5000/app");
        assert_eq!(repository("registry:5000/app"), "registry:5000/app");
        assert_eq!(repository("app:tag:extra"), "app:tag");
        assert_eq!(
            repository("ghcr.io/org/tool@sha256:0123abcd"),
            "ghcr.io/org/tool"
        );
        assert_eq!(
            repository("registry.example.com:5000/team/app:1.2.3@sha256:ff"),
            "registry.example.com:5000/team/app"
        );
    }
}
