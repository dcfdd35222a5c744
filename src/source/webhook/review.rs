//! The AdmissionReview itself: validation, the answer, the injected `requestReceivedTimestamp`,
//! and the cheap scan for the uid of a body too large to parse.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

/// The member kube-audit-rest adds to every review.
const TS_KEY: &str = "requestReceivedTimestamp";
/// The answer's apiVersion when the request names none.
const DEFAULT_API_VERSION: &str = "admission.k8s.io/v1";

/// A valid review, ready for the pipeline.
#[derive(Debug)]
pub(super) struct Review {
    /// The answer for the apiserver.
    pub(super) answer: Vec<u8>,
    /// The body, compact, in document order, with the timestamp as its last member.
    pub(super) payload: Vec<u8>,
    /// The injected timestamp, ns since the epoch.
    pub(super) ts: u64,
}

/// Checks `body` (a JSON object whose `request.uid` is a non-empty string) and stamps it with
/// `now`: an existing top-level `requestReceivedTimestamp` is removed and the new one appended,
/// so that it is always the last member. Errors are the short reason of a 400.
pub(super) fn review(body: &[u8], now: DateTime<Utc>) -> Result<Review, &'static str> {
    let mut doc: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| "the body is not a JSON object")?;
    let uid = doc
        .get("request")
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
        .filter(|uid| !uid.is_empty())
        .ok_or("request.uid is missing or empty")?;
    let api_version = doc.get("apiVersion").and_then(Value::as_str);
    let answer = answer(api_version, uid);
    doc.shift_remove(TS_KEY);
    doc.insert(TS_KEY.to_string(), Value::String(timestamp(now)));
    let payload = serde_json::to_vec(&doc).map_err(|_| "the body cannot be re-serialised")?;
    let ts = now
        .timestamp_nanos_opt()
        .and_then(|ns| u64::try_from(ns).ok())
        .unwrap_or(0);
    Ok(Review {
        answer,
        payload,
        ts,
    })
}

/// `{"apiVersion":…,"kind":"AdmissionReview","response":{"uid":…,"allowed":true}}`.
pub(super) fn answer(api_version: Option<&str>, uid: &str) -> Vec<u8> {
    let answer = json!({
        "apiVersion": api_version.unwrap_or(DEFAULT_API_VERSION),
        "kind": "AdmissionReview",
        "response": {"uid": uid, "allowed": true},
    });
    answer.to_string().into_bytes()
}

/// RFC 3339, UTC, nine fraction digits: `2026-11-20T10:15:03.123456789Z`.
fn timestamp(now: DateTime<Utc>) -> String {
    now.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// What the first bytes of a body too large to parse tell.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Head {
    /// Top-level `apiVersion`, when it comes before `request` (the apiserver's order).
    pub(super) api_version: Option<String>,
    /// `request.uid`.
    pub(super) uid: Option<String>,
}

/// Walks the members of the top-level object and of `request` (skipping every other value
/// without building it) until `request.uid` is found or the prefix ends.
pub(super) fn scan_head(prefix: &[u8]) -> Head {
    let mut head = Head::default();
    let mut scan = Scan { b: prefix, i: 0 };
    let _ = scan.object(|scan, key| match key {
        b"apiVersion" => {
            head.api_version = Some(scan.text()?);
            Some(false)
        }
        b"request" => {
            scan.object(|scan, key| {
                if key == b"uid" {
                    head.uid = scan.text().filter(|uid| !uid.is_empty());
                    Some(true)
                } else {
                    scan.skip_value().map(|()| false)
                }
            })?;
            Some(true)
        }
        _ => scan.skip_value().map(|()| false),
    });
    head
}

/// A cursor over possibly truncated JSON; every method returns `None` at the end of the input
/// or on a syntax error.
struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    /// The next byte that is not whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while matches!(self.b.get(self.i)?, b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    /// A string's raw bytes between its quotes (escapes left as they are).
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match *self.b.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(&self.b[start..self.i - 1]);
                }
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        }
    }

    /// A string value, unescaped.
    fn text(&mut self) -> Option<String> {
        let raw = self.string()?;
        let mut quoted = Vec::with_capacity(raw.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(raw);
        quoted.push(b'"');
        serde_json::from_slice(&quoted).ok()
    }

    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match *self.b.get(self.i)? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while !matches!(
                    self.b.get(self.i)?,
                    b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'
                ) {
                    self.i += 1;
                }
                Some(())
            }
        }
    }

    /// Calls `member` with each key of an object, the cursor on its value; `member` consumes the
    /// value and returns `true` to stop there.
    fn object(
        &mut self,
        mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<bool>,
    ) -> Option<()> {
        self.eat(b'{')?;
        if self.peek()? == b'}' {
            return Some(());
        }
        loop {
            let key = self.string()?;
            self.eat(b':')?;
            if member(self, key)? {
                return Some(());
            }
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => return Some(()),
                _ => return None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(ns: i64) -> DateTime<Utc> {
        Utc.timestamp_nanos(ns)
    }

    #[test]
    fn stamps_the_review_as_its_last_member() {
        let body = br#"{
            "kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1beta1",
            "request": {"uid": "u-1", "object": {"b": 1, "a": [1.5, "x\u00e9"]}}
        }"#;
        let r = review(body, at(1_795_169_703_000_000_050)).unwrap();
        assert_eq!(
            String::from_utf8(r.payload).unwrap(),
            r#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1beta1","request":{"uid":"u-1","object":{"b":1,"a":[1.5,"xé"]}},"requestReceivedTimestamp":"2026-11-20T10:15:03.000000050Z"}"#
        );
        assert_eq!(r.ts, 1_795_169_703_000_000_050);
        assert_eq!(
            String::from_utf8(r.answer).unwrap(),
            r#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","response":{"uid":"u-1","allowed":true}}"#
        );
    }

    #[test]
    fn replaces_an_existing_timestamp() {
        let body =
            br#"{"requestReceivedTimestamp":"2020-01-01T00:00:00Z","request":{"uid":"u"},"z":0}"#;
        let r = review(body, at(0)).unwrap();
        assert_eq!(
            String::from_utf8(r.payload).unwrap(),
            r#"{"request":{"uid":"u"},"z":0,"requestReceivedTimestamp":"1970-01-01T00:00:00.000000000Z"}"#
        );
        assert!(String::from_utf8(r.answer)
            .unwrap()
            .starts_with(r#"{"apiVersion":"admission.k8s.io/v1","#));
    }

    #[test]
    fn refuses_what_is_not_a_review() {
        for bad in [
            &b"not json"[..],
            b"[1]",
            b"{\"request\":{\"uid\":\"u\"}",
            b"{}",
            b"{\"request\":[]}",
            b"{\"request\":{}}",
            b"{\"request\":{\"uid\":\"\"}}",
            b"{\"request\":{\"uid\":7}}",
            b"{\"request\":{\"uid\":\"\xff\"}}",
        ] {
            assert!(
                review(bad, at(0)).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn scans_the_uid_of_a_truncated_body() {
        let body = br#"{"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"kind":{"group":"","kind":"Pod"},"uid":"u-\u0031","object":{"data":"xxxx"#;
        assert_eq!(
            scan_head(body),
            Head {
                api_version: Some("admission.k8s.io/v1".into()),
                uid: Some("u-1".into())
            }
        );
        // A uid elsewhere (the object's) is not the request's.
        let nested = br#"{"request":{"object":{"metadata":{"uid":"obj"}},"uid":"req"}}"#;
        assert_eq!(scan_head(nested).uid.as_deref(), Some("req"));
        let in_string = br#"{"x":"\"request\":{\"uid\":\"no\"}","request":{"uid":"yes"}}"#;
        assert_eq!(scan_head(in_string).uid.as_deref(), Some("yes"));
        let spaced = b"{ \"request\" : { \"a\" : [1, {\"uid\": \"no\"}], \"n\": -1.5e3 , \"uid\" : \"ok\" } }";
        assert_eq!(scan_head(spaced).uid.as_deref(), Some("ok"));
        // Cut before the uid, or no uid at all.
        assert_eq!(
            scan_head(br#"{"request":{"object":{"data":"xx"#),
            Head::default()
        );
        assert_eq!(scan_head(br#"{"request":{"uid":""}}"#).uid, None);
        assert_eq!(scan_head(br#"{"request":{"uid":"abc"#).uid, None);
        assert_eq!(scan_head(b"garbage"), Head::default());
        assert_eq!(scan_head(b""), Head::default());
    }
}
