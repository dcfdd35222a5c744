//! Renderings of an event used by the `k8sadmission-host` tool: the readable summary line,
//! the `--fields` line and the `--json` object (the form golden tests can compare).

use std::fmt::Write as _;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;

use crate::event::OwnedEvent;
use crate::fields::FieldRef;
use crate::plugin::Plugin;

/// Formats nanoseconds since the epoch as RFC 3339 UTC with as many fraction digits as needed.
pub fn format_ts_ns(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let nanos = (ns % 1_000_000_000) as u32;
    match DateTime::<Utc>::from_timestamp(secs, nanos) {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => ns.to_string(),
    }
}

/// True when `field` (`name` or `name[arg]`) names a list field of the plugin.
pub fn is_list_field(plugin: &Plugin, field: &str) -> bool {
    FieldRef::parse(field)
        .ok()
        .and_then(|r| plugin.field(&r.name).map(|f| f.is_list))
        .unwrap_or(false)
}

/// Renders extracted values for `--fields`: `<NA>` for no value, `[x,y]` for list fields,
/// the value itself for scalar fields (`[x,y]` too should a scalar yield several values).
pub fn format_values(values: Option<&[String]>, is_list: bool) -> String {
    match values {
        None => "<NA>".to_owned(),
        Some([one]) if !is_list => one.clone(),
        Some(vals) => format!("[{}]", vals.join(",")),
    }
}

/// The JSON form of extracted values: `null`, an array for list fields, else a string
/// (an array should a scalar field yield several values).
pub fn json_values(values: Option<Vec<String>>, is_list: bool) -> Value {
    match values {
        None => Value::Null,
        Some(mut vals) if !is_list && vals.len() == 1 => Value::String(vals.remove(0)),
        Some(vals) => Value::Array(vals.into_iter().map(Value::String).collect()),
    }
}

/// Every field of the plugin's table that needs no argument, in table order.
pub fn default_json_fields(plugin: &Plugin) -> Vec<String> {
    plugin
        .fields()
        .iter()
        .filter(|f| !f.requires_arg())
        .map(|f| f.name.clone())
        .collect()
}

/// One JSON object (one line) for an event:
/// `{"evtnum":N,"ts":NS,"fields":{"name":value-or-list-or-null,…}}`, fields in the given order.
/// An extraction error is an error (golden tests should see it).
pub fn event_json(plugin: &mut Plugin, event: &OwnedEvent, fields: &[String]) -> Result<String> {
    let mut out = format!(
        "{{\"evtnum\":{},\"ts\":{},\"fields\":{{",
        event.evtnum,
        event.ts()
    );
    for (i, field) in fields.iter().enumerate() {
        let values = plugin
            .extract(event, field)
            .with_context(|| format!("event {}", event.evtnum))?;
        let value = json_values(values, is_list_field(plugin, field));
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(field)?);
        out.push(':');
        out.push_str(&serde_json::to_string(&value)?);
    }
    out.push_str("}}");
    Ok(out)
}

/// The `--fields` line: `evtnum field=value …`; an extraction error shows as `<ERR: …>`.
pub fn fields_line(plugin: &mut Plugin, event: &OwnedEvent, fields: &[String]) -> String {
    let mut line = event.evtnum.to_string();
    for field in fields {
        let shown = match plugin.extract(event, field) {
            Ok(values) => format_values(values.as_deref(), is_list_field(plugin, field)),
            Err(e) => format!("<ERR: {e:#}>"),
        };
        let _ = write!(line, " {field}={shown}");
    }
    line
}

/// Values of `field`, treating unknown fields and errors as no value.
fn get(plugin: &mut Plugin, event: &OwnedEvent, field: &str) -> Option<Vec<String>> {
    let name = FieldRef::parse(field).ok()?.name;
    plugin.field(&name)?;
    plugin.extract(event, field).ok().flatten()
}

/// First value of `field`.
fn get1(plugin: &mut Plugin, event: &OwnedEvent, field: &str) -> Option<String> {
    get(plugin, event, field).and_then(|v| v.into_iter().next())
}

/// Names of the privileged containers of the three container families (`init:` and
/// `ephemeral:` prefixes for the latter two), read per container index.
fn privileged_containers(plugin: &mut Plugin, event: &OwnedEvent) -> Vec<String> {
    let mut out = Vec::new();
    for (family, prefix) in [
        ("containers", ""),
        ("initContainers", "init:"),
        ("ephemeralContainers", "ephemeral:"),
    ] {
        // eff_run_as_user has exactly one value per container: it gives the count.
        let count = get(
            plugin,
            event,
            &format!("kar.req.pod.{family}.eff_run_as_user"),
        )
        .or_else(|| get(plugin, event, &format!("kar.req.pod.{family}.name")))
        .map_or(0, |v| v.len());
        for n in 0..count {
            let privileged = get1(
                plugin,
                event,
                &format!("kar.req.pod.{family}.privileged[{n}]"),
            );
            if privileged.as_deref() == Some("true") {
                let name = get1(plugin, event, &format!("kar.req.pod.{family}.name[{n}]"))
                    .unwrap_or_else(|| format!("#{n}"));
                out.push(format!("{prefix}{name}"));
            }
        }
    }
    out
}

/// The readable default line:
/// `<timestamp>  <user>  <verb>  <resource>[/<subresource>]  <namespace>/<name>  <settings>`,
/// where settings lists the risky pod settings that are set, e.g.
/// `hostNetwork hostPID privileged=[app] caps=[NET_ADMIN] hostPath=[/var/run/docker.sock] runAsUser=0`,
/// and `exec=[<command>]` for CONNECT pods/exec. Missing values show as `-` or are skipped.
pub fn summary_line(plugin: &mut Plugin, event: &OwnedEvent) -> String {
    let ts = get1(plugin, event, "kar.timestamp").unwrap_or_else(|| format_ts_ns(event.ts()));
    let user = get1(plugin, event, "kar.user.name").unwrap_or_else(|| "-".into());
    let verb = get1(plugin, event, "kar.verb");
    let resource = get1(plugin, event, "kar.target.resource");
    let subresource = get1(plugin, event, "kar.target.subresource");
    let namespace = get1(plugin, event, "kar.target.namespace");
    let name = get1(plugin, event, "kar.target.name");

    let res = match (&resource, &subresource) {
        (Some(r), Some(s)) => format!("{r}/{s}"),
        (Some(r), None) => r.clone(),
        (None, Some(s)) => format!("-/{s}"),
        (None, None) => "-".into(),
    };
    let target = match (&namespace, &name) {
        (Some(ns), Some(n)) => format!("{ns}/{n}"),
        (Some(ns), None) => format!("{ns}/-"),
        (None, Some(n)) => n.clone(),
        (None, None) => "-".into(),
    };
    let mut line = format!(
        "{ts}  {user}  {}  {res}  {target}",
        verb.as_deref().unwrap_or("-")
    );

    let mut settings: Vec<String> = Vec::new();
    for (field, label) in [
        ("kar.req.pod.host_network", "hostNetwork"),
        ("kar.req.pod.host_pid", "hostPID"),
        ("kar.req.pod.host_ipc", "hostIPC"),
    ] {
        if get1(plugin, event, field).as_deref() == Some("true") {
            settings.push(label.into());
        }
    }
    let privileged = privileged_containers(plugin, event);
    if !privileged.is_empty() {
        settings.push(format!("privileged=[{}]", privileged.join(",")));
    }
    let mut caps: Vec<String> = Vec::new();
    for family in ["containers", "initContainers", "ephemeralContainers"] {
        let field = format!("kar.req.pod.{family}.add_capabilities");
        for cap in get(plugin, event, &field).unwrap_or_default() {
            if !caps.contains(&cap) {
                caps.push(cap);
            }
        }
    }
    if !caps.is_empty() {
        settings.push(format!("caps=[{}]", caps.join(",")));
    }
    if let Some(paths) = get(plugin, event, "kar.req.pod.volumes.hostpath") {
        settings.push(format!("hostPath=[{}]", paths.join(",")));
    }
    if let Some(uid) = get1(plugin, event, "kar.req.pod.run_as_user") {
        settings.push(format!("runAsUser={uid}"));
    }
    if verb.as_deref() == Some("CONNECT")
        && resource.as_deref() == Some("pods")
        && subresource.as_deref() == Some("exec")
    {
        if let Some(cmd) = get(plugin, event, "kar.req.exec.command") {
            settings.push(format!("exec=[{}]", cmd.join(" ")));
        }
    }
    if !settings.is_empty() {
        line.push_str("  ");
        line.push_str(&settings.join(" "));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(format_ts_ns(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_ts_ns(1_700_000_000_123_000_000),
            "2023-11-14T22:13:20.123Z"
        );
        assert_eq!(
            format_ts_ns(1_700_000_000_000_000_001),
            "2023-11-14T22:13:20.000000001Z"
        );
    }

    #[test]
    fn value_rendering() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(format_values(None, false), "<NA>");
        assert_eq!(format_values(Some(v(&["a"]).as_slice()), false), "a");
        assert_eq!(format_values(Some(v(&["a"]).as_slice()), true), "[a]");
        assert_eq!(
            format_values(Some(v(&["a", "b"]).as_slice()), true),
            "[a,b]"
        );
        assert_eq!(json_values(None, true), Value::Null);
        assert_eq!(json_values(Some(v(&["a"])), false), Value::from("a"));
        assert_eq!(json_values(Some(v(&["a"])), true), serde_json::json!(["a"]));
    }
}
