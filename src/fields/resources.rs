//! Fields gated on one resource: ConfigMaps, Services, and the options of CONNECT requests.

use super::request::elements;
use crate::json::{self, Json};
use crate::review::{Review, Text};

fn configmap<'a>(r: &Review<'a>) -> bool {
    r.is_kind("", "ConfigMap")
}

/// kar.req.configmap.name: the request's name, else the object's, else the old object's.
pub fn configmap_name<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    if !configmap(r) {
        return None;
    }
    let meta = |o: Option<Json<'a, 'a>>| o.and_then(|o| json::get(o, &["metadata", "name"]));
    json::get(r.request, &["name"])
        .and_then(json::scalar)
        .or_else(|| meta(r.object()).and_then(json::scalar))
        .or_else(|| meta(r.old_object()).and_then(json::scalar))
}

/// A member of a ConfigMap object as JSON text (never of a Secret).
pub fn configmap_member<'a>(r: &Review<'a>, key: &str) -> Option<Text<'a>> {
    if !configmap(r) {
        return None;
    }
    r.object()?.get(key).and_then(json::text)
}

fn service<'a>(r: &Review<'a>) -> Option<Json<'a, 'a>> {
    r.is_kind("", "Service").then(|| r.object()).flatten()
}

/// kar.req.service.type.
pub fn service_type<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    json::get(service(r)?, &["spec", "type"]).and_then(json::scalar)
}

/// kar.req.service.ports: each port as JSON text (or port `idx`).
pub fn service_ports<'a>(r: &Review<'a>, idx: Option<usize>) -> Vec<Text<'a>> {
    let Some(svc) = service(r) else {
        return Vec::new();
    };
    let ports = json::array(svc, &["spec", "ports"]);
    match idx {
        Some(i) => ports
            .skip(i)
            .take(1)
            .filter_map(json::element_text)
            .collect(),
        None => ports.filter_map(json::element_text).collect(),
    }
}

/// The options object of a CONNECT on core `pods/<subresource>`.
fn connect_options<'a>(r: &Review<'a>, subresource: &str) -> Option<Json<'a, 'a>> {
    r.is_connect("pods", subresource)
        .then(|| r.object())
        .flatten()
}

/// A scalar of the PodExecOptions of a CONNECT pods/exec.
pub fn exec_value<'a>(r: &Review<'a>, key: &str) -> Option<Text<'a>> {
    connect_options(r, "exec")?.get(key).and_then(json::scalar)
}

/// kar.req.exec.command: the command of a CONNECT pods/exec.
pub fn exec_command<'a>(r: &Review<'a>) -> Vec<Text<'a>> {
    elements(connect_options(r, "exec").and_then(|o| o.get("command")))
}

/// kar.req.portforward.ports: the ports of a CONNECT pods/portforward.
pub fn portforward_ports<'a>(r: &Review<'a>) -> Vec<Text<'a>> {
    elements(connect_options(r, "portforward").and_then(|o| o.get("ports")))
}

/// kar.req.proxy.path: the path of a CONNECT on any `*/proxy` subresource.
pub fn proxy_path<'a>(r: &Review<'a>) -> Option<Text<'a>> {
    if r.operation() != "CONNECT" || r.subresource() != "proxy" {
        return None;
    }
    r.object()?.get("path").and_then(json::scalar)
}
