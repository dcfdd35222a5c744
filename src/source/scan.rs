//! A structural scan of a review without parsing it: find a member by its path, skipping the
//! values before it (strings and nesting respected). The members the sources need
//! (`request.kind`, `request.resource`) come first in what the apiserver writes, so finding
//! them costs a few hundred bytes of scanning, not a parse. Duplicate keys: the first wins, as
//! in the extraction parse.

/// The value of the member at `path` (object keys from the top level), as a raw JSON slice.
pub fn member<'a>(payload: &'a [u8], path: &[&str]) -> Option<&'a [u8]> {
    let mut value = &payload[ws(payload, 0)..];
    for key in path {
        value = find(value, key)?;
    }
    let end = skip_value(value, 0)?;
    Some(&value[..end])
}

/// The string at `path`, unescaped; `None` when absent or not a string.
pub fn string(payload: &[u8], path: &[&str]) -> Option<String> {
    let raw = member(payload, path)?;
    let (text, _) = read_string(raw, 0)?;
    Some(text)
}

/// The value of member `key` of the object that `obj` starts with.
fn find<'a>(obj: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut i = ws(obj, 0);
    if obj.get(i) != Some(&b'{') {
        return None;
    }
    i = ws(obj, i + 1);
    if obj.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        let (name, after) = read_string(obj, i)?;
        i = ws(obj, after);
        if obj.get(i) != Some(&b':') {
            return None;
        }
        i = ws(obj, i + 1);
        if name == key {
            return Some(&obj[i..]);
        }
        i = ws(obj, skip_value(obj, i)?);
        match obj.get(i)? {
            b',' => i = ws(obj, i + 1),
            _ => return None,
        }
    }
}

/// JSON whitespace (not form feed or vertical tab).
pub fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn ws(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(|c| is_ws(*c)) {
        i += 1;
    }
    i
}

/// The end (exclusive) of the value starting at `i`.
fn skip_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let len = b[i..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b']') || is_ws(*c))
                .unwrap_or(b.len() - i);
            (len > 0).then_some(i + len)
        }
    }
}

/// The end (exclusive) of the string starting at `i` (its opening quote).
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let at = j + memchr::memchr2(b'"', b'\\', b.get(j..)?)?;
        if b[at] == b'"' {
            return Some(at + 1);
        }
        j = at + 2;
    }
}

/// The unescaped string starting at `i`, and the index after it.
fn read_string(b: &[u8], i: usize) -> Option<(String, usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let end = string_end(b, i)?;
    let raw = std::str::from_utf8(&b[i + 1..end - 1]).ok()?;
    if !raw.contains('\\') {
        return Some((raw.to_string(), end));
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let unit = u32::from_str_radix(&hex, 16).ok()?;
                out.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
            }
            other => out.push(other),
        }
    }
    Some((out, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const REVIEW: &[u8] = br#" {"kind":"AdmissionReview","apiVersion":"admission.k8s.io/v1","request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Secr\u0065t"},"resource":{"group":"coordination.k8s.io","version":"v1","resource":"leases"},"object":{"metadata":{"annotations":{"resource":"pods","x":"a \"quoted\" {[ brace"}}},"n":[1,2.5e3,true,null,{"a":[]}]}}"#;

    #[test]
    fn finds_members_by_path() {
        assert_eq!(string(REVIEW, &["request", "uid"]).as_deref(), Some("u1"));
        assert_eq!(
            string(REVIEW, &["request", "kind", "kind"]).as_deref(),
            Some("Secret")
        );
        assert_eq!(
            string(REVIEW, &["request", "kind", "group"]).as_deref(),
            Some("")
        );
        assert_eq!(
            string(REVIEW, &["request", "resource", "resource"]).as_deref(),
            Some("leases")
        );
        assert_eq!(
            member(REVIEW, &["request", "n"]),
            Some(&br#"[1,2.5e3,true,null,{"a":[]}]"#[..])
        );
        assert_eq!(
            string(
                REVIEW,
                &["request", "object", "metadata", "annotations", "resource"]
            )
            .as_deref(),
            Some("pods")
        );
        assert_eq!(string(REVIEW, &["request", "missing"]), None);
        assert_eq!(string(REVIEW, &["request", "n"]), None);
    }

    #[test]
    fn nested_look_alikes_are_not_members() {
        let tricky = br#"{"request":{"object":{"resource":{"resource":"leases"}},"resource":{"resource":"pods"}}}"#;
        assert_eq!(
            string(tricky, &["request", "resource", "resource"]).as_deref(),
            Some("pods")
        );
        let dup = br#"{"request":{"kind":{"kind":"Secret"},"kind":{"kind":"ConfigMap"}}}"#;
        assert_eq!(
            string(dup, &["request", "kind", "kind"]).as_deref(),
            Some("Secret")
        );
    }

    #[test]
    fn broken_input_gives_none() {
        for bad in [
            &b""[..],
            b"[1]",
            b"{",
            br#"{"request":"#,
            br#"{"request":{"uid":"u1"#,
            b"{\"a\" 1}",
        ] {
            assert_eq!(
                string(bad, &["request", "uid"]),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
