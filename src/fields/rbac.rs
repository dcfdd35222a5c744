//! RBAC fields: role bindings (subjects, roleRef) and roles (rules).

use super::request::elements;
use crate::json::{self, Json};
use crate::review::{Review, Text};
use std::borrow::Cow;

const RBAC: &str = "rbac.authorization.k8s.io";

/// The object of a RoleBinding or ClusterRoleBinding request.
fn binding<'a>(r: &Review<'a>) -> Option<Json<'a, 'a>> {
    let (group, kind) = r.kind();
    (group == RBAC && matches!(kind, "RoleBinding" | "ClusterRoleBinding"))
        .then(|| r.object())
        .flatten()
}

/// The object of a Role or ClusterRole request.
fn role<'a>(r: &Review<'a>) -> Option<Json<'a, 'a>> {
    let (group, kind) = r.kind();
    (group == RBAC && matches!(kind, "Role" | "ClusterRole"))
        .then(|| r.object())
        .flatten()
}

fn subjects<'a>(r: &Review<'a>) -> Vec<Json<'a, 'a>> {
    binding(r)
        .map(|b| json::array(b, &["subjects"]).collect())
        .unwrap_or_default()
}

/// kar.req.binding.subjects: each subject as JSON text.
pub fn subjects_json<'a>(r: &Review<'a>) -> Vec<Text<'a>> {
    subjects(r)
        .into_iter()
        .filter_map(json::element_text)
        .collect()
}

/// Names of the subjects of one kind (`User`, `Group`, `ServiceAccount`).
pub fn subject_names<'a>(r: &Review<'a>, kind: &str) -> Vec<Text<'a>> {
    subjects(r)
        .into_iter()
        .filter(|s| json::get_str(*s, &["kind"]) == Some(kind))
        .filter_map(|s| json::get_str(s, &["name"]))
        .map(Cow::Borrowed)
        .collect()
}

/// `namespace:name` of the ServiceAccount subjects that name a namespace.
pub fn serviceaccount_ns_names<'a>(r: &Review<'a>) -> Vec<Text<'a>> {
    subjects(r)
        .into_iter()
        .filter(|s| json::get_str(*s, &["kind"]) == Some("ServiceAccount"))
        .filter_map(|s| {
            let ns = json::get_str(s, &["namespace"])?;
            let name = json::get_str(s, &["name"])?;
            Some(Cow::Owned(format!("{ns}:{name}")))
        })
        .collect()
}

/// A member of `roleRef`.
pub fn role_ref<'a>(r: &Review<'a>, key: &str) -> Option<Text<'a>> {
    json::get(binding(r)?, &["roleRef", key]).and_then(json::scalar)
}

/// `kar.req.binding.subject.has_name[key]`.
pub fn has_subject_name<'a>(r: &Review<'a>, key: &str) -> Option<Text<'a>> {
    binding(r)?;
    let found = subjects(r)
        .into_iter()
        .any(|s| json::get_str(s, &["name"]) == Some(key));
    Some(Cow::Borrowed(if found { "true" } else { "false" }))
}

fn rules<'a>(r: &Review<'a>) -> Vec<Json<'a, 'a>> {
    role(r)
        .map(|o| json::array(o, &["rules"]).collect())
        .unwrap_or_default()
}

/// kar.req.role.rules: each rule as JSON text.
pub fn rules_json<'a>(r: &Review<'a>) -> Vec<Text<'a>> {
    rules(r)
        .into_iter()
        .filter_map(json::element_text)
        .collect()
}

/// One list member of the rules, flattened (or of rule `idx`).
pub fn rule_values<'a>(r: &Review<'a>, key: &str, idx: Option<usize>) -> Vec<Text<'a>> {
    let rules = rules(r);
    let selected: Vec<_> = match idx {
        Some(i) => rules.into_iter().skip(i).take(1).collect(),
        None => rules,
    };
    selected
        .into_iter()
        .flat_map(|rule| elements(rule.get(key)))
        .collect()
}
