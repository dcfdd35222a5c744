//! Cheap checks that turn a line into an event without parsing it (SPEC §2 "Framing"),
//! and the targeted scan for the event time (SPEC §3).

use super::scan;
use chrono::DateTime;
use memchr::memmem;

/// What a line is.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Empty or whitespace only: skipped silently.
    Blank,
    /// A payload that looks like one JSON object.
    Event(&'a [u8]),
    /// Anything else, with the reason (never the content) for the log.
    Malformed(&'static str),
}

/// Frames one line, given without its `\n`; a trailing `\r` is not part of the payload.
pub fn frame(line: &[u8]) -> Frame<'_> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(first) = line.iter().position(|b| !scan::is_ws(*b)) else {
        return Frame::Blank;
    };
    let last = line.iter().rposition(|b| !scan::is_ws(*b)).unwrap_or(first);
    if line[first] != b'{' || line[last] != b'}' {
        return Frame::Malformed("not a JSON object (must start with '{' and end with '}')");
    }
    if simdutf8::basic::from_utf8(line).is_err() {
        return Frame::Malformed("invalid UTF-8");
    }
    Frame::Event(line)
}

const TS_KEY: &[u8] = b"\"requestReceivedTimestamp\"";

/// The text of the top-level `requestReceivedTimestamp`. kube-audit-rest appends it as the last
/// member, so it is looked for from the end first; a producer that puts it elsewhere costs a
/// structural scan of the top-level members. A member of that name nested deeper never counts.
pub fn timestamp_text(payload: &[u8]) -> Option<&str> {
    last_member_timestamp(payload).or_else(|| {
        let raw = scan::member(payload, &["requestReceivedTimestamp"])?;
        let text = raw.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
        (!text.contains(&b'\\'))
            .then(|| std::str::from_utf8(text).ok())
            .flatten()
    })
}

/// The timestamp when it is the last member of the top-level object.
fn last_member_timestamp(payload: &[u8]) -> Option<&str> {
    let at = memmem::rfind(payload, TS_KEY)?;
    let before = payload[..at].iter().rposition(|b| !scan::is_ws(*b));
    if !matches!(before.map(|i| payload[i]), Some(b',' | b'{')) {
        return None;
    }
    let rest = skip_ws(&payload[at + TS_KEY.len()..]);
    let rest = skip_ws(rest.strip_prefix(b":")?);
    let rest = rest.strip_prefix(b"\"")?;
    let end = memchr::memchr2(b'"', b'\\', rest)?;
    if rest[end] != b'"' || skip_ws(&rest[end + 1..]) != b"}" {
        return None;
    }
    std::str::from_utf8(&rest[..end]).ok()
}

/// The event time in nanoseconds since the epoch, from `requestReceivedTimestamp`.
pub fn timestamp_ns(payload: &[u8]) -> Option<u64> {
    let ts = DateTime::parse_from_rfc3339(timestamp_text(payload)?).ok()?;
    u64::try_from(ts.timestamp_nanos_opt()?).ok()
}

fn skip_ws(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| scan::is_ws(**c)).count();
    &b[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_lines() {
        assert_eq!(frame(b""), Frame::Blank);
        assert_eq!(frame(b"  \t\r"), Frame::Blank);
        assert_eq!(frame(b"{\"a\":1}\r"), Frame::Event(b"{\"a\":1}"));
        assert_eq!(frame(b"  {\"a\":1} "), Frame::Event(b"  {\"a\":1} "));
        assert!(matches!(frame(b"[1,2]"), Frame::Malformed(_)));
        assert!(matches!(frame(b"{\"a\":"), Frame::Malformed(_)));
        assert!(matches!(frame(b"not json"), Frame::Malformed(_)));
        // Form feed is not JSON whitespace.
        assert!(matches!(frame(b"\x0c{\"a\":1}"), Frame::Malformed(_)));
        assert_eq!(
            frame(b"{\"a\":\"\xff\xfe\"}"),
            Frame::Malformed("invalid UTF-8")
        );
    }

    #[test]
    fn finds_the_timestamp() {
        let line = br#"{"request":{"uid":"u"},"requestReceivedTimestamp":"2026-11-20T10:15:03.123456789Z"}"#;
        assert_eq!(timestamp_text(line), Some("2026-11-20T10:15:03.123456789Z"));
        assert_eq!(timestamp_ns(line), Some(1_795_169_703_123_456_789));
        let spaced = br#"{ "requestReceivedTimestamp" : "2026-11-20T12:15:03.5+02:00" }"#;
        assert_eq!(timestamp_ns(spaced), Some(1_795_169_703_500_000_000));
        assert_eq!(
            timestamp_ns(br#"{"requestReceivedTimestamp":"yesterday"}"#),
            None
        );
        assert_eq!(timestamp_ns(br#"{"request":{}}"#), None);
        // Not last: found by the structural scan.
        let first = br#"{"requestReceivedTimestamp":"2026-11-20T10:15:03Z","request":{"uid":"u"}}"#;
        assert_eq!(timestamp_ns(first), Some(1_795_169_703_000_000_000));
        // Nested members of that name never count.
        let nested = br#"{"request":{"object":{"data":{"requestReceivedTimestamp":"2000-01-01T00:00:00Z"}}}}"#;
        assert_eq!(timestamp_ns(nested), None);
        let both = br#"{"requestReceivedTimestamp":"2026-11-20T10:15:03Z","request":{"object":{"requestReceivedTimestamp":"2000-01-01T00:00:00Z"}}}"#;
        assert_eq!(timestamp_ns(both), Some(1_795_169_703_000_000_000));
    }
}
