//! redactSecrets (SPEC §6): the values of core Secrets never reach Falco.

use memchr::memmem;
use serde_json::Value;

/// The annotation kubectl fills with the whole applied object, data included.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// What redacted values become.
const REDACTED: &str = "REDACTED";

/// When `payload` is a review of a core Secret, the payload with every value of `data` and
/// `stringData` and the last-applied annotation replaced by `REDACTED` (in `object` and
/// `oldObject`), re-serialised compactly in document order. `None` when it is not a Secret.
pub fn redact_secret(payload: &[u8]) -> Option<Vec<u8>> {
    // Cheap pre-filter: a Secret review names its kind; an escaped name needs a `\u`.
    if memmem::find(payload, b"Secret").is_none() && memmem::find(payload, b"\\u").is_none() {
        return None;
    }
    let mut review: Value = serde_json::from_slice(payload).ok()?;
    let request = review.get_mut("request")?.as_object_mut()?;
    let kind = request.get("kind")?;
    let is_secret = kind.get("group").and_then(Value::as_str) == Some("")
        && kind.get("kind").and_then(Value::as_str) == Some("Secret");
    if !is_secret {
        return None;
    }
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
        let out = String::from_utf8(redact_secret(line).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Secret"},"object":{"metadata":{"name":"s","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"REDACTED","z":"keep"}},"data":{"password":"REDACTED","user":"REDACTED"},"stringData":{"token":"REDACTED"},"type":"Opaque"},"oldObject":{"data":{"password":"REDACTED"}}},"requestReceivedTimestamp":"2026-11-20T10:00:00Z"}"#
        );
    }

    #[test]
    fn leaves_other_kinds_alone() {
        let cm = br#"{"request":{"uid":"u","kind":{"group":"","version":"v1","kind":"ConfigMap"},"object":{"data":{"Secret":"x"}}}}"#;
        assert_eq!(redact_secret(cm), None);
        let sealed = br#"{"request":{"uid":"u","kind":{"group":"bitnami.com","version":"v1alpha1","kind":"SealedSecret"},"object":{"data":{"a":"b"}}}}"#;
        assert_eq!(redact_secret(sealed), None);
        let escaped = br#"{"request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Secr\u0065t"},"object":{"data":{"a":"b"}}}}"#;
        assert!(String::from_utf8(redact_secret(escaped).unwrap())
            .unwrap()
            .contains(r#""data":{"a":"REDACTED"}"#));
    }
}
