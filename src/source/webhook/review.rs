//! The AdmissionReview itself: validation, the answer, the injected `requestReceivedTimestamp`,
//! and the cheap scan for the uid of a body that is not parsed.
//!
//! A body is validated and compacted in one streaming pass (serde_json's deserializer driving a
//! visitor that writes compact JSON as it goes): no tree is built, so a body of millions of
//! tiny values costs its compact copy and nothing more. The pass keeps member order and
//! duplicate keys, writes strings with minimal escaping (as serde_json does), and leaves out
//! every top-level `requestReceivedTimestamp`; the new one is then appended as the last member.
//! `request.uid` and `apiVersion` are read from the compact output with the structural scanner
//! ([`scan`]: the first of duplicate keys wins, as in the extraction parse).

use crate::source::scan;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::json;
use std::fmt;
use std::io::{self, Write};

/// The member kube-audit-rest adds to every review.
const TS_KEY: &str = "requestReceivedTimestamp";
/// The answer's apiVersion when the request names none.
const DEFAULT_API_VERSION: &str = "admission.k8s.io/v1";
/// Deepest nesting taken in: the apiserver's own limit (it refuses deeper JSON), so that a
/// review it admitted is never dropped for its depth (a custom resource may nest unknown fields
/// deeply; dropping it would hide the rest of the object). The parse runs on a stack grown as
/// needed (serde_stacker), whatever the depth.
const MAX_DEPTH: usize = 10_000;
/// `,"requestReceivedTimestamp":"2026-11-20T10:15:03.123456789Z"`: what the stamp adds.
const TS_MEMBER_LEN: usize = 1 + (TS_KEY.len() + 2) + 1 + 32;

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

/// What came of a body.
#[derive(Debug)]
pub(super) enum Verdict {
    /// A review, compacted and stamped.
    Valid(Review),
    /// Not JSON, not an object, or no non-empty string `request.uid`: the reason of a 400.
    Invalid(&'static str),
    /// Nests deeper than [`MAX_DEPTH`] before any syntax error (the apiserver never sends
    /// that): not taken in, but not refused either (a 400 would deny the request under
    /// `failurePolicy: Fail`). The rest of the body was not read, so it may not be valid JSON.
    TooDeep,
    /// The compact, stamped form would be longer than the limit.
    TooLarge,
}

/// Checks `body` (a JSON object whose `request.uid` is a non-empty string) and stamps it with
/// `now`: every top-level `requestReceivedTimestamp` is left out and the new one appended, so
/// that it is always the last member. The compact form is at most `limit` bytes (the body
/// itself is the caller's to limit: its length is what the compact copy usually takes).
pub(super) fn review(body: &[u8], now: DateTime<Utc>, limit: usize) -> Verdict {
    let mut sink = Sink {
        // The compact form of a compact body is the body and its stamp.
        buf: Vec::with_capacity(body.len().saturating_add(TS_MEMBER_LEN).min(limit)),
        limit,
        too_large: false,
        too_deep: false,
    };
    let mut parser = serde_json::Deserializer::from_slice(body);
    // serde_json's own limit (128 levels) would drop what the apiserver admits; the depth is
    // bounded by MAX_DEPTH instead, and the stack grows with it.
    parser.disable_recursion_limit();
    let parsed = Top { out: &mut sink }
        .deserialize(serde_stacker::Deserializer::new(&mut parser))
        .and_then(|()| parser.end());
    if parsed.is_err() {
        return if sink.too_large {
            Verdict::TooLarge
        } else if sink.too_deep {
            Verdict::TooDeep
        } else {
            Verdict::Invalid("the body is not a JSON object")
        };
    }
    let Some(uid) = scan::string(&sink.buf, &["request", "uid"]).filter(|uid| !uid.is_empty())
    else {
        return Verdict::Invalid("request.uid is missing or empty");
    };
    let api_version = scan::string(&sink.buf, &["apiVersion"]);
    // Splice the stamp in before the final `}`.
    sink.buf.pop();
    let comma = if sink.buf.len() > 1 { "," } else { "" };
    let stamp = format!(r#"{comma}"{TS_KEY}":"{}"}}"#, timestamp(now));
    if sink.write_all(stamp.as_bytes()).is_err() {
        return Verdict::TooLarge;
    }
    // A pretty-printed body leaves room unused: not worth keeping in the queue.
    if sink.buf.capacity() - sink.buf.len() > sink.buf.len() / 4 {
        sink.buf.shrink_to_fit();
    }
    let ts = now
        .timestamp_nanos_opt()
        .and_then(|ns| u64::try_from(ns).ok())
        .unwrap_or(0);
    Verdict::Valid(Review {
        answer: answer(api_version.as_deref(), &uid),
        payload: sink.buf,
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

/// The compact output, at most `limit` bytes.
struct Sink {
    buf: Vec<u8>,
    limit: usize,
    /// Set when a write would have gone past the limit.
    too_large: bool,
    /// Set when a value nests deeper than [`MAX_DEPTH`].
    too_deep: bool,
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_all(data).map(|()| data.len())
    }

    fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        if self.buf.len() + data.len() > self.limit {
            self.too_large = true;
            return Err(io::Error::other("longer than the limit"));
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes one scalar as serde_json writes it (minimal escaping, shortest float form).
fn put<T: Serialize + ?Sized, E: de::Error>(out: &mut Sink, value: &T) -> Result<(), E> {
    value
        .serialize(&mut serde_json::Serializer::new(out))
        .map_err(E::custom)
}

fn raw<E: de::Error>(out: &mut Sink, bytes: &[u8]) -> Result<(), E> {
    out.write_all(bytes).map_err(E::custom)
}

/// The top level: an object, written without its `requestReceivedTimestamp` members.
struct Top<'s> {
    out: &'s mut Sink,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        raw(self.out, b"{")?;
        let mut first = true;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.as_str() == TS_KEY {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if !first {
                raw(self.out, b",")?;
            }
            first = false;
            put(self.out, key.as_str())?;
            raw(self.out, b":")?;
            map.next_value_seed(Emit {
                out: &mut *self.out,
                comma: false,
                depth: 1,
            })?;
        }
        raw(self.out, b"}")
    }
}

/// A key, borrowed from the body when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_string()))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// Any value (or key), written compact as it is read; `comma` puts a `,` before it (the next
/// element or member: a seed is only used when there is one); `depth` counts the containers
/// around it.
struct Emit<'s> {
    out: &'s mut Sink,
    comma: bool,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for Emit<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Emit<'_> {
    fn scalar<T: Serialize + ?Sized, E: de::Error>(self, value: &T) -> Result<(), E> {
        if self.comma {
            raw(self.out, b",")?;
        }
        put(self.out, value)
    }

    /// Opens a container (`[` or `{`) one level deeper, or fails past [`MAX_DEPTH`].
    fn open<E: de::Error>(&mut self, bracket: &[u8; 2]) -> Result<usize, E> {
        if self.depth + 1 > MAX_DEPTH {
            self.out.too_deep = true;
            return Err(E::custom("nested deeper than the apiserver allows"));
        }
        raw(self.out, if self.comma { bracket } else { &bracket[1..] })?;
        Ok(self.depth + 1)
    }
}

impl<'de> Visitor<'de> for Emit<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.scalar(&v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.scalar(&v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.scalar(&v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.scalar(&v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.scalar(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.scalar(&())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.open(b",[")?;
        let mut comma = false;
        while seq
            .next_element_seed(Emit {
                out: &mut *self.out,
                comma,
                depth,
            })?
            .is_some()
        {
            comma = true;
        }
        raw(self.out, b"]")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let depth = self.open(b",{")?;
        let mut comma = false;
        while map
            .next_key_seed(Emit {
                out: &mut *self.out,
                comma,
                depth,
            })?
            .is_some()
        {
            raw(self.out, b":")?;
            map.next_value_seed(Emit {
                out: &mut *self.out,
                comma: false,
                depth,
            })?;
            comma = true;
        }
        raw(self.out, b"}")
    }
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

    /// [`review`] with no limit.
    fn review(body: &[u8], now: DateTime<Utc>) -> Result<Review, String> {
        match super::review(body, now, usize::MAX) {
            Verdict::Valid(review) => Ok(review),
            other => Err(format!("{other:?}")),
        }
    }

    fn payload(body: &[u8]) -> String {
        String::from_utf8(review(body, at(0)).unwrap().payload).unwrap()
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
            b"{\"request\":{\"uid\":\"u\"}} x",
            b"{\"request\":{\"uid\":\"\\ud800\"}}",
            b"{\"request\":[],\"request\":{\"uid\":\"u\"}}",
            b"{\"request\":{\"uid\":\"u\",\"n\":01}}",
            b"{\"request\":{\"uid\":\"u\",\"n\":1e999}}",
        ] {
            let got = review(bad, at(0));
            assert!(
                got.as_ref().is_err_and(|e| e.starts_with("Invalid")),
                "{:?}: {got:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn compacts_as_serde_json_writes() {
        // Whitespace gone, escapes minimal, numbers as serde_json prints them, order kept.
        assert_eq!(
            payload(b" {\"z\" : [ 1 , -2 , 3.50 , 1e3, -0, 18446744073709551615, 18446744073709551616 ] ,\n\"request\":{\"uid\":\"\\u0075\\/\\n\\u00e9\\ud83d\\ude00\\u001f\"}, \"t\": [true,false,null,{},[],\"\"]}\n"),
            "{\"z\":[1,-2,3.5,1000.0,-0.0,18446744073709551615,1.8446744073709552e+19],\"request\":{\"uid\":\"u/\\né\u{1F600}\\u001f\"},\"t\":[true,false,null,{},[],\"\"],\"requestReceivedTimestamp\":\"1970-01-01T00:00:00.000000000Z\"}"
        );
        // Duplicate keys are kept; the first uid is the answer's (as the extraction parse).
        let dup = review(
            br#"{"request":{"uid":"a","uid":"b"},"request":{"uid":"c"}}"#,
            at(0),
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(dup.payload).unwrap(),
            r#"{"request":{"uid":"a","uid":"b"},"request":{"uid":"c"},"requestReceivedTimestamp":"1970-01-01T00:00:00.000000000Z"}"#
        );
        assert!(String::from_utf8(dup.answer)
            .unwrap()
            .contains(r#""uid":"a""#));
        // Every top-level stamp goes, whatever its escapes; nested ones stay.
        assert_eq!(
            payload(br#"{"requestReceivedTimestamp":1,"request":{"uid":"u","requestReceivedTimestamp":2},"request\u0052eceivedTimestamp":{"a":[3]}}"#),
            r#"{"request":{"uid":"u","requestReceivedTimestamp":2},"requestReceivedTimestamp":"1970-01-01T00:00:00.000000000Z"}"#
        );
        // The answer's apiVersion comes from the top level only.
        let nested = review(br#"{"request":{"uid":"u","apiVersion":"x"}}"#, at(0)).unwrap();
        assert!(String::from_utf8(nested.answer)
            .unwrap()
            .starts_with(r#"{"apiVersion":"admission.k8s.io/v1","#));
    }

    #[test]
    fn too_deep_and_too_large() {
        let deep = |n: usize| {
            format!(
                r#"{{"request":{{"uid":"u","x":{}{}}}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        // As deep as the apiserver allows: the top object, request, then 9,998 arrays.
        let verdict = |body: &[u8], limit| super::review(body, at(0), limit);
        match verdict(deep(MAX_DEPTH - 2).as_bytes(), usize::MAX) {
            Verdict::Valid(review) => assert!(
                review.payload.ends_with(b"]]]}}")
                    || review.payload.windows(5).any(|w| w == b"]]]]}")
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            verdict(deep(MAX_DEPTH - 1).as_bytes(), usize::MAX),
            Verdict::TooDeep
        ));
        assert!(matches!(
            verdict(deep(100_000).as_bytes(), usize::MAX),
            Verdict::TooDeep
        ));
        // Broken before the limit is reached: invalid.
        assert!(matches!(
            verdict(br#"{"request":{"uid":"u","x":[[[}"#, usize::MAX),
            Verdict::Invalid(_)
        ));
        // The limit counts the stamp; numbers may grow when compacted (1e15 is 18 bytes).
        let body = br#"{"request":{"uid":"u"}}"#;
        assert!(matches!(verdict(body, 23 + 60), Verdict::Valid(_)));
        assert!(matches!(verdict(body, 23 + 59), Verdict::TooLarge));
        let grows = format!(
            r#"{{"request":{{"uid":"u"}},"n":[{}1]}}"#,
            "1e15,".repeat(1000)
        );
        assert!(matches!(
            verdict(grows.as_bytes(), 2 * grows.len()),
            Verdict::TooLarge
        ));
        assert!(matches!(
            verdict(grows.as_bytes(), 5 * grows.len()),
            Verdict::Valid(_)
        ));
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
