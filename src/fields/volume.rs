//! Volume fields: hostPath paths (all, writable, by key), flexVolume drivers, volume types.

use super::pod::{spec, Which};
use crate::json::{self, Json};
use crate::review::{PodSpec, Review, Text};
use std::borrow::Cow;

/// The values of `x` over the volumes of a pod spec (or over volume `idx`).
pub fn per_volume<'a>(
    r: &Review<'a>,
    which: Which,
    idx: Option<usize>,
    x: fn(Json<'a, 'a>) -> Option<Text<'a>>,
) -> Vec<Text<'a>> {
    let Some(spec) = spec(r, which) else {
        return Vec::new();
    };
    let volumes = spec.volumes();
    match idx {
        Some(i) => volumes.skip(i).take(1).filter_map(x).collect(),
        None => volumes.filter_map(x).collect(),
    }
}

/// A volume's `hostPath.path`.
pub fn host_path<'a>(v: Json<'a, 'a>) -> Option<Text<'a>> {
    json::get(v, &["hostPath", "path"]).and_then(json::scalar)
}

/// A volume's `flexVolume.driver`.
pub fn flex_driver<'a>(v: Json<'a, 'a>) -> Option<Text<'a>> {
    json::get(v, &["flexVolume", "driver"]).and_then(json::scalar)
}

/// kar.req.pod.volumes.volume_type: each volume's keys other than `name`.
pub fn volume_types<'a>(r: &Review<'a>, idx: Option<usize>) -> Vec<Text<'a>> {
    let Some(spec) = r.pod_spec() else {
        return Vec::new();
    };
    let keys = |v: Json<'a, 'a>| -> Vec<Text<'a>> {
        v.as_object()
            .map(|o| {
                o.keys()
                    .filter(|k| *k != "name")
                    .map(Cow::Borrowed)
                    .collect()
            })
            .unwrap_or_default()
    };
    match idx {
        Some(i) => spec.volumes().skip(i).take(1).flat_map(keys).collect(),
        None => spec.volumes().flat_map(keys).collect(),
    }
}

/// `true` when `path` is `key`, or `key` ends in `*` and `path` starts with the rest.
pub fn path_matches(path: &str, key: &str) -> bool {
    match key.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => path == key,
    }
}

/// `kar.req.volume.hostpath[key]`: `true` if a hostPath matches the key, `false` if none does.
pub fn hostpath_matches<'a>(r: &Review<'a>, key: &str) -> Option<Text<'a>> {
    let spec = r.pod_spec()?;
    let found = spec
        .volumes()
        .filter_map(host_path)
        .any(|p| path_matches(&p, key));
    Some(Cow::Borrowed(if found { "true" } else { "false" }))
}

/// Names of volumes some container of any family mounts without `readOnly: true`.
fn writable_mounts<'a>(spec: &PodSpec<'a>) -> Vec<&'a str> {
    spec.all_containers()
        .flat_map(|c| json::array(c, &["volumeMounts"]))
        .filter(|m| !json::is_true(*m, &["readOnly"]))
        .filter_map(|m| json::get_str(m, &["name"]))
        .collect()
}

/// kar.req.pod.volumes.hostpath_writable: hostPath paths mounted writable, in volume order.
pub fn hostpath_writable<'a>(r: &Review<'a>) -> Vec<Text<'a>> {
    let Some(spec) = r.pod_spec() else {
        return Vec::new();
    };
    let writable = writable_mounts(&spec);
    let mut out: Vec<Text<'a>> = Vec::new();
    for v in spec.volumes() {
        let mounted = json::get_str(v, &["name"]).is_some_and(|n| writable.contains(&n));
        if let Some(path) = host_path(v).filter(|_| mounted) {
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::path_matches;

    #[test]
    fn host_path_keys() {
        assert!(path_matches("/etc", "/etc"));
        assert!(!path_matches("/etc/kubernetes", "/etc"));
        assert!(path_matches("/etc/kubernetes", "/etc*"));
        assert!(path_matches("/var/run/docker.sock", "/var/run/*"));
        assert!(path_matches("/anything", "*"));
        assert!(!path_matches("/var", "/var/run/*"));
    }
}
