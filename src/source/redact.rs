//! redactSecrets (SPEC §6): the values of core Secrets never reach Falco.

use super::scan;
use serde_json::Value;

/// The annotation kubectl fills with the whole applied object, data included.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// What redacted values become.
const REDACTED: &str = "REDACTED";

/// What redaction made of a payload.
#[derive(Debug, PartialEq, Eq)]
pub enum Redaction {
    /// Not a review of a core Secret: the payload goes on unchanged.
    NotSecret,
    /// A Secret review, rewritten compactly with its values replaced by `REDACTED`.
    Redacted(Vec<u8>),
    /// A Secret review that could not be rewritten (e.g. invalid JSON): it must be dropped.
    Failed,
}

/// Redacts a review of a core Secret (`request.kind` group `""` or absent, kind `Secret`):
/// every value of `data` and `stringData` and the last-applied annotation become `REDACTED`
/// (in `object` and `oldObject`), re-serialised compactly in document order. The kind is found
/// by a structural scan (first key wins, as in extraction), so only Secrets are parsed here.
pub fn redact_secret(payload: &[u8]) -> Redaction {
    if scan::string(payload, &["request", "kind", "kind"]).as_deref() != Some("Secret") {
        return Redaction::NotSecret;
    }
    let group = scan::string(payload, &["request", "kind", "group"]);
    if group.is_some_and(|g| !g.is_empty()) {
        return Redaction::NotSecret;
    }
    rewrite(payload).map_or(Redaction::Failed, Redaction::Redacted)
}

/// The payload with the Secret's values replaced; `None` when it cannot be parsed.
fn rewrite(payload: &[u8]) -> Option<Vec<u8>> {
    let mut review: Value = serde_json::from_slice(payload).ok()?;
    let request = review.get_mut("request")?.as_object_mut()?;
    for key in ["object", "oldObject"] {
        if let Some(obj) = request.get_mut(key).and_then(Value::as_object_mut) {
            for field in ["data", "stringData"] {
                if let Some(map) = obj.get_mut(field).and_then(Value::as_object_mut) {
                    map.values_mut()
                        .for_each(|v| *v = Value::String(REDACTED.into()));
                }
            }
            if let Some(v) = obj
                .get_mut("metadata")
                .and_then(|m| m.get_mut("annotations"))
                .and_then(|a| a.get_mut(LAST_APPLIED))
            {
                *v = Value::String(REDACTED.into());
            }
        }
    }
    serde_json::to_vec(&review).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_values_and_keeps_keys_and_order() {
        let line = br#"{"kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Secret"},"object":{"metadata":{"name":"s","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"password\":\"aHVudGVyMg==\"}}","z":"keep"}},"data":{"password":"aHVudGVyMg==","user":"YWRtaW4="},"stringData":{"token":"plain"},"type":"Opaque"},"oldObject":{"data":{"password":"b2xk"}}},"requestReceivedTimestamp":"2026-11-20T10:00:00Z"}"#;
        let Redaction::Redacted(out) = redact_secret(line) else {
            panic!("not redacted")
        };
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            r#"{"kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Secret"},"object":{"metadata":{"name":"s","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"REDACTED","z":"keep"}},"data":{"password":"REDACTED","user":"REDACTED"},"stringData":{"token":"REDACTED"},"type":"Opaque"},"oldObject":{"data":{"password":"REDACTED"}}},"requestReceivedTimestamp":"2026-11-20T10:00:00Z"}"#
        );
    }

    #[test]
    fn leaves_other_kinds_alone() {
        let cm = br#"{"request":{"uid":"u","kind":{"group":"","version":"v1","kind":"ConfigMap"},"object":{"data":{"Secret":"x"}}}}"#;
        assert_eq!(redact_secret(cm), Redaction::NotSecret);
        let sealed = br#"{"request":{"uid":"u","kind":{"group":"bitnami.com","version":"v1alpha1","kind":"SealedSecret"},"object":{"data":{"a":"b"}}}}"#;
        assert_eq!(redact_secret(sealed), Redaction::NotSecret);
        let escaped = br#"{"request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Secr\u0065t"},"object":{"data":{"a":"b"}}}}"#;
        let Redaction::Redacted(out) = redact_secret(escaped) else {
            panic!("an escaped kind is still a Secret")
        };
        assert!(String::from_utf8(out)
            .unwrap()
            .contains(r#""data":{"a":"REDACTED"}"#));
        let no_group = br#"{"request":{"uid":"u","kind":{"version":"v1","kind":"Secret"},"object":{"data":{"a":"b"}}}}"#;
        assert!(matches!(redact_secret(no_group), Redaction::Redacted(_)));
        let dup = br#"{"request":{"uid":"u","kind":{"group":"","kind":"Secret"},"kind":{"group":"","kind":"ConfigMap"},"object":{"data":{"a":"b"}}}}"#;
        assert!(matches!(redact_secret(dup), Redaction::Redacted(_)));
        let lone_surrogate = br#"{"request":{"uid":"u","kind":{"group":"","kind":"Secret"},"object":{"data":{"a":"\ud800"}}}}"#;
        assert_eq!(redact_secret(lone_surrogate), Redaction::Failed);
    }
}
