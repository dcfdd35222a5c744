//! Fields of the request itself: identity, user, verb, target, uri, options, raw values.

use crate::json::{self, Json};
use crate::review::{Review, Text};
use simd_json::prelude::*;
use std::borrow::Cow;

/// A field that admission requests can never supply (kept for k8saudit compatibility).
pub fn never(_: &Review<'_>) -> Option<Text<'static>> {
    None
}

/// A list field that admission requests can never supply.
pub fn never_list(_: &Review<'_>) -> Vec<Text<'static>> {
    Vec::new()
}

/// A string of the request at `path`.
pub fn req<'a>(r: &Review<'a>, path: &[&str]) -> Option<Text<'a>> {
    json::get(r.request, path).and_then(json::scalar)
}

/// The elements of the list at `path` of the request.
pub fn req_list<'a>(r: &Review<'a>, path: &[&str]) -> Vec<Text<'a>> {
    elements(json::get(r.request, path))
}

/// The elements of a list value as text (`""` kept, `null` and containers skipped).
pub fn elements<'a>(list: Option<Json<'a, 'a>>) -> Vec<Text<'a>> {
    list.and_then(|l| l.as_array())
        .map(|a| a.iter().filter_map(json::element).collect())
        .unwrap_or_default()
}

/// kar.auditid: a producer's `auditID`, else the request uid.
pub fn audit_id<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    json::get(r.root, &["auditID"])
        .and_then(json::scalar)
        .or_else(|| req(r, &["uid"]))
}

/// kar.timestamp: `requestReceivedTimestamp`.
pub fn timestamp<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    json::get(r.root, &["requestReceivedTimestamp"]).and_then(json::scalar)
}

/// kar.auth.decision: a webhook only sees authorized requests.
pub fn auth_decision(_: &Review<'_>) -> Option<Text<'static>> {
    Some(Cow::Borrowed("allow"))
}

/// `kar.user.extra[key]`.
pub fn user_extra<'a>(r: &Review<'a>, key: &str) -> Vec<Text<'a>> {
    elements(json::get(r.request, &["userInfo", "extra"]).and_then(|e| e.get(key)))
}

/// `metadata.name` of an object.
fn meta_name<'a>(o: Option<Json<'a, 'a>>) -> Option<Text<'a>> {
    o.and_then(|o| json::get(o, &["metadata", "name"]))
        .and_then(json::scalar)
}

/// kar.target.name: `request.name`, else the object's name (CREATE with a generated name).
pub fn target_name<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    req(r, &["name"]).or_else(|| meta_name(r.object()))
}

/// kar.target.pod.name: the pod a request on core `pods` is about.
pub fn target_pod_name<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    if r.resource() != "pods" || !r.resource_group().is_empty() {
        return None;
    }
    let own = if r.subresource().is_empty() {
        meta_name(r.object())
    } else {
        None
    };
    own.or_else(|| meta_name(r.old_object()))
        .or_else(|| req(r, &["name"]))
}

/// kar.resp.name: the object's name, else the old object's.
pub fn resp_name<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    meta_name(r.object()).or_else(|| meta_name(r.old_object()))
}

/// kar.uri: the request path, reconstructed (no query string).
pub fn uri(r: &Review<'_>) -> Option<Text<'static>> {
    let complete = |v: &Json<'_, '_>| {
        json::get_str(*v, &["resource"]).is_some() && json::get_str(*v, &["version"]).is_some()
    };
    let res = r
        .request
        .get("requestResource")
        .filter(complete)
        .or_else(|| r.request.get("resource").filter(complete))?;
    let part = |k: &str| json::get_str(res, &[k]);
    let resource = part("resource")?;
    let version = part("version")?;
    let mut out = match part("group") {
        Some(group) => format!("/apis/{group}/{version}"),
        None => format!("/api/{version}"),
    };
    let core_namespaces = part("group").is_none() && resource == "namespaces";
    if let Some(ns) = r.req_str(&["namespace"]) {
        if !core_namespaces {
            out.push_str("/namespaces/");
            out.push_str(ns);
        }
    }
    out.push('/');
    out.push_str(resource);
    let subresource = r.req_str(&["subResource"]);
    if let Some(name) = r.req_str(&["name"]) {
        if r.operation() != "CREATE" || subresource.is_some() {
            out.push('/');
            out.push_str(name);
        }
    }
    if let Some(sub) = subresource {
        out.push('/');
        out.push_str(sub);
    }
    Some(Cow::Owned(out))
}

/// `kar.uri.param[key]`: a CONNECT option (`command` of an exec), else a request option.
pub fn uri_param<'a>(r: &Review<'a>, key: &str) -> Option<Text<'a>> {
    let source = if r.operation() == "CONNECT" {
        r.object()
    } else {
        r.request.get("options").filter(|o| o.is_object())
    }?;
    let value = source.get(key)?;
    match value.as_array() {
        Some(a) => a.get(0).and_then(json::text),
        None => json::text(value),
    }
}

/// kar.req.field_manager: the options' fieldManager, else the last manager of managedFields.
pub fn field_manager<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    req(r, &["options", "fieldManager"]).or_else(|| {
        let object = r.object()?;
        json::array(object, &["metadata", "managedFields"])
            .filter_map(|m| json::get_str(m, &["manager"]))
            .last()
            .map(Cow::Borrowed)
    })
}

/// kar.cluster.name: from init_config.
pub fn cluster_name<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    r.config
        .cluster_name
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(Cow::Borrowed)
}

/// kar.value[/json/pointer]: any value of the payload.
pub fn value<'a>(r: &Review<'a>, pointer: &str) -> Option<Text<'a>> {
    json::pointer(r.root, pointer).and_then(json::text)
}

/// kar.obj: the whole payload.
pub fn obj<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    Some(String::from_utf8_lossy(r.payload))
}

/// evt.plugininfo: `CREATE pods default/nginx by alice` (parts that are missing are left out).
pub fn summary(r: &Review<'_>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !r.operation().is_empty() {
        parts.push(r.operation().to_string());
    }
    match (r.resource(), r.subresource()) {
        ("", _) => {}
        (resource, "") => parts.push(resource.to_string()),
        (resource, sub) => parts.push(format!("{resource}/{sub}")),
    }
    let name = target_name(r);
    let namespace = r
        .req_str(&["namespace"])
        .filter(|_| !(r.resource() == "namespaces" && r.resource_group().is_empty()));
    match (namespace, name) {
        (Some(ns), Some(name)) => parts.push(format!("{ns}/{name}")),
        (Some(ns), None) => parts.push(format!("{ns}/")),
        (None, Some(name)) => parts.push(name.into_owned()),
        (None, None) => {}
    }
    if let Some(user) = r.req_str(&["userInfo", "username"]) {
        parts.push(format!("by {user}"));
    }
    if r.request.get("dryRun").and_then(|v| v.as_bool()) == Some(true) {
        parts.push("(dry run)".to_string());
    }
    parts.join(" ")
}
