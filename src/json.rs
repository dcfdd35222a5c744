//! Reading the parsed AdmissionReview: path lookups, JSON pointers, and the text forms of
//! values (SPEC §4): scalars as text, containers as compact JSON in document order.

use simd_json::prelude::*;
use simd_json::tape::Value;
use std::borrow::Cow;
use std::ffi::CString;

/// A value of the parsed document (a view into the simd-json tape).
pub type Json<'t, 'i> = Value<'t, 'i>;

/// The value at `path` (object keys only), or `None` when any step is missing or not an object.
pub fn get<'t, 'i>(value: Json<'t, 'i>, path: &[&str]) -> Option<Json<'t, 'i>> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

/// The non-null value at `path`.
pub fn get_present<'t, 'i>(value: Json<'t, 'i>, path: &[&str]) -> Option<Json<'t, 'i>> {
    get(value, path).filter(|v| !v.is_null())
}

/// The string at `path`, when it is a non-empty string.
pub fn get_str<'i>(value: Json<'_, 'i>, path: &[&str]) -> Option<&'i str> {
    get(value, path)?.into_string().filter(|s| !s.is_empty())
}

/// `true` when the value at `path` is the JSON literal `true`.
pub fn is_true(value: Json<'_, '_>, path: &[&str]) -> bool {
    get(value, path).and_then(|v| v.as_bool()) == Some(true)
}

/// The elements of the array at `path` (nothing when absent or not an array).
pub fn array<'t, 'i>(value: Json<'t, 'i>, path: &[&str]) -> impl Iterator<Item = Json<'t, 'i>> {
    get(value, path)
        .and_then(|v| v.as_array())
        .into_iter()
        .flat_map(|a| a.iter())
}

/// The text of a scalar in a scalar position: `null`, `""` and containers give `None`.
pub fn scalar<'i>(value: Json<'_, 'i>) -> Option<Cow<'i, str>> {
    match value.into_string() {
        Some("") => None,
        Some(s) => Some(Cow::Borrowed(s)),
        None => static_text(value).map(Cow::Owned),
    }
}

/// The text of a list element: `""` is kept, `null` and containers are skipped.
pub fn element<'i>(value: Json<'_, 'i>) -> Option<Cow<'i, str>> {
    match value.into_string() {
        Some(s) => Some(Cow::Borrowed(s)),
        None => static_text(value).map(Cow::Owned),
    }
}

/// Any value as text: scalars as in [`scalar`], objects and arrays as compact JSON.
pub fn text<'i>(value: Json<'_, 'i>) -> Option<Cow<'i, str>> {
    if value.is_array() || value.is_object() {
        compact(value).map(Cow::Owned)
    } else {
        scalar(value)
    }
}

/// A list element as text: as [`element`] for scalars, objects and arrays as compact JSON.
pub fn element_text<'i>(value: Json<'_, 'i>) -> Option<Cow<'i, str>> {
    if value.is_array() || value.is_object() {
        compact(value).map(Cow::Owned)
    } else {
        element(value)
    }
}

/// Booleans as `true`/`false`, integers as written, floats in shortest round-trip form.
fn static_text(value: Json<'_, '_>) -> Option<String> {
    if let Some(b) = value.as_bool() {
        return Some(if b { "true" } else { "false" }.to_string());
    }
    match value.value_type() {
        ValueType::I64 => value
            .as_i64()
            .map(|n| itoa::Buffer::new().format(n).to_string()),
        ValueType::U64 => value
            .as_u64()
            .map(|n| itoa::Buffer::new().format(n).to_string()),
        // Integers beyond 64 bits (simd-json's `128bit`), written by simd-json itself.
        ValueType::I128 | ValueType::U128 => Some(value.encode()),
        ValueType::F64 => value.as_f64().map(float_text),
        _ => None,
    }
}

fn float_text(f: f64) -> String {
    if f.is_finite() {
        ryu::Buffer::new().format_finite(f).to_string()
    } else {
        "null".to_string()
    }
}

/// Deepest nesting written as JSON text; deeper values give no text (∅) rather than
/// exhausting the stack (Kubernetes decodes up to 10,000 levels).
pub const MAX_DEPTH: usize = 512;

/// The compact JSON text of a value (SPEC §4: document order, minimal escaping); `None` when
/// it nests deeper than [`MAX_DEPTH`].
pub fn compact(value: Json<'_, '_>) -> Option<String> {
    let mut out = String::new();
    write_compact(value, &mut out, 0).then_some(out)
}

fn write_compact(value: Json<'_, '_>, out: &mut String, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    if let Some(obj) = value.as_object() {
        out.push('{');
        for (i, (k, v)) in obj.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(k, out);
            out.push(':');
            if !write_compact(v, out, depth + 1) {
                return false;
            }
        }
        out.push('}');
    } else if let Some(arr) = value.as_array() {
        out.push('[');
        for (i, v) in arr.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if !write_compact(v, out, depth + 1) {
                return false;
            }
        }
        out.push(']');
    } else if let Some(s) = value.into_string() {
        write_string(s, out);
    } else if value.is_null() {
        out.push_str("null");
    } else {
        out.push_str(&static_text(value).unwrap_or_else(|| "null".to_string()));
    }
    true
}

/// A JSON string literal with the minimal standard escaping.
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x08 => Some("\\b"),
            0x0c => Some("\\f"),
            0..=0x1f => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match esc {
            Some(e) => out.push_str(e),
            None => {
                out.push_str("\\u00");
                out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                out.push(char::from(b"0123456789abcdef"[usize::from(b & 0xf)]));
            }
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Resolves an RFC 6901 JSON pointer (`""` is the whole document); a bad pointer gives `None`.
pub fn pointer<'t, 'i>(root: Json<'t, 'i>, ptr: &str) -> Option<Json<'t, 'i>> {
    if ptr.is_empty() {
        return Some(root);
    }
    let rest = ptr.strip_prefix('/')?;
    rest.split('/').try_fold(root, |v, token| {
        let token = unescape_token(token)?;
        if let Some(arr) = v.as_array() {
            arr.get(array_index(&token)?)
        } else {
            v.get(token.as_ref())
        }
    })
}

fn unescape_token(token: &str) -> Option<Cow<'_, str>> {
    if !token.contains('~') {
        return Some(Cow::Borrowed(token));
    }
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next()? {
                '0' => out.push('~'),
                '1' => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(Cow::Owned(out))
}

fn array_index(token: &str) -> Option<usize> {
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    valid.then(|| token.parse().ok()).flatten()
}

/// `text` with `e0` after each negative integer below `i128::MIN`, so that simd-json reads it
/// as a float; `None` when there is none. With `128bit` and `big-int-as-float`, simd-json keeps
/// integers within 128 bits exact and turns larger ones into floats, except the negative ones
/// just below `i128::MIN` (39 digits), which it refuses: that would make a valid event invalid.
pub fn widen_negative_integers(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() + 8);
    let (mut in_string, mut escaped, mut widened) = (false, false, false);
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if in_string {
            out.push(b);
            i += 1;
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if b == b'"' {
            in_string = true;
        } else if b == b'-' {
            let digits = text[i + 1..]
                .iter()
                .take_while(|d| d.is_ascii_digit())
                .count();
            let end = i + 1 + digits;
            let integer = !matches!(text.get(end), Some(b'.' | b'e' | b'E'));
            if integer && below_i128(&text[i + 1..end]) {
                out.extend_from_slice(&text[i..end]);
                out.extend_from_slice(b"e0");
                widened = true;
                i = end;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    widened.then_some(out)
}

/// `true` when the magnitude `digits` (no sign, no leading zero) is beyond `-i128::MIN`.
fn below_i128(digits: &[u8]) -> bool {
    const I128_MIN_MAGNITUDE: &[u8] = b"170141183460469231731687303715884105728";
    digits.len() > I128_MIN_MAGNITUDE.len()
        || (digits.len() == I128_MIN_MAGNITUDE.len() && digits > I128_MIN_MAGNITUDE)
}

/// A C string for Falco: a NUL inside the value becomes U+FFFD.
pub fn c_string(s: &str) -> CString {
    CString::new(s).unwrap_or_else(|_| {
        CString::new(s.replace('\0', "\u{FFFD}")).expect("NUL bytes were replaced")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_doc<R>(json: &str, f: impl FnOnce(Json<'_, '_>) -> R) -> R {
        let mut bytes = json.as_bytes().to_vec();
        let tape = simd_json::to_tape(&mut bytes).expect("valid JSON");
        f(tape.as_value())
    }

    #[test]
    fn scalars_render_as_text() {
        with_doc(
            r#"{"s":"x","e":"","n":null,"t":true,"f":false,"i":-3,"u":18446744073709551615,"d":1.5,"g":1e300}"#,
            |v| {
                let s = |k: &str| scalar(v.get(k).unwrap()).map(|c| c.into_owned());
                assert_eq!(s("s").as_deref(), Some("x"));
                assert_eq!(s("e"), None);
                assert_eq!(s("n"), None);
                assert_eq!(s("t").as_deref(), Some("true"));
                assert_eq!(s("f").as_deref(), Some("false"));
                assert_eq!(s("i").as_deref(), Some("-3"));
                assert_eq!(s("u").as_deref(), Some("18446744073709551615"));
                assert_eq!(s("d").as_deref(), Some("1.5"));
                assert_eq!(s("g").as_deref(), Some("1e300"));
            },
        );
    }

    #[test]
    fn compact_keeps_document_order_and_minimal_escapes() {
        let src = r#"{ "z": 1, "a": [ "x\"y", "\\", "\n\r\t\b\f\u0001", "/<>&é" ], "m": {}, "l": [], "n": null }"#;
        with_doc(src, |v| {
            assert_eq!(
                compact(v).unwrap(),
                r#"{"z":1,"a":["x\"y","\\","\n\r\t\b\f\u0001","/<>&é"],"m":{},"l":[],"n":null}"#
            );
        });
    }

    #[test]
    fn compact_keeps_order_of_large_objects() {
        let keys: Vec<String> = (0..50).rev().map(|i| format!("k{i}")).collect();
        let src = format!(
            "{{{}}}",
            keys.iter()
                .map(|k| format!("\"{k}\":0"))
                .collect::<Vec<_>>()
                .join(",")
        );
        with_doc(&src, |v| assert_eq!(compact(v).unwrap(), src));
    }

    #[test]
    fn deep_nesting_gives_no_text_instead_of_a_crash() {
        let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
        with_doc(&deep, |v| assert_eq!(text(v), None));
        let ok = format!("{}1{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        with_doc(&ok, |v| {
            assert_eq!(text(v).map(|t| t.len()), Some(ok.len()))
        });
    }

    #[test]
    fn big_integers_are_numbers_not_errors() {
        // Integers within 128 bits as written; beyond, floats (simd-json's big-int-as-float;
        // those just below i128::MIN are widened first, see `widen_negative_integers`).
        let beyond = format!("1{}", "0".repeat(40));
        let src = format!(
            r#"{{"big":100000000000000000000,"huge":18446744073709551616,"neg":-100000000000000000000,"floor":-9223372036854775809,"beyond":{beyond},"minus":-{beyond}}}"#
        );
        with_doc(&src, |v| {
            let s = |k: &str| scalar(v.get(k).unwrap()).map(|c| c.into_owned());
            assert_eq!(s("big").as_deref(), Some("100000000000000000000"));
            assert_eq!(s("huge").as_deref(), Some("18446744073709551616"));
            assert_eq!(s("neg").as_deref(), Some("-100000000000000000000"));
            assert_eq!(s("floor").as_deref(), Some("-9223372036854775809"));
            assert_eq!(s("beyond").as_deref(), Some("1e40"));
            assert_eq!(s("minus").as_deref(), Some("-1e40"));
            assert_eq!(
                compact(v.get("big").unwrap()).as_deref(),
                Some("100000000000000000000")
            );
        });
    }

    #[test]
    fn pointers_follow_rfc6901() {
        let src = r#"{"a/b":{"m~n":[10,{"":"empty"}]},"0":"zero"}"#;
        with_doc(src, |v| {
            let p = |ptr: &str| pointer(v, ptr).and_then(text).map(|c| c.into_owned());
            assert_eq!(p("/a~1b/m~0n/0").as_deref(), Some("10"));
            assert_eq!(p("/a~1b/m~0n/1/").as_deref(), Some("empty"));
            assert_eq!(p("/0").as_deref(), Some("zero"));
            assert_eq!(p("/a~1b/m~0n/01"), None);
            assert_eq!(p("/a~1b/m~0n/2"), None);
            assert_eq!(p("/a~2b"), None);
            assert_eq!(p("a"), None);
            assert_eq!(p("/a~1b/m~0n").as_deref(), Some(r#"[10,{"":"empty"}]"#));
        });
    }

    #[test]
    fn nul_becomes_replacement_character() {
        assert_eq!(c_string("a\0b").to_str().unwrap(), "a\u{FFFD}b");
        assert_eq!(c_string("plain").to_str().unwrap(), "plain");
    }

    #[test]
    fn negative_integers_below_i128_are_widened_outside_strings_only() {
        let below = "-170141183460469231731687303715884105729";
        let min = "-170141183460469231731687303715884105728";
        let src = format!(
            r#"{{"a":{below},"s":"{below}\"{below}","b":[-{u128_max}],"c":-1.5e300,"d":{min},"e":{below}.5,"f":-9223372036854775809}}"#,
            u128_max = u128::MAX
        );
        let widened = String::from_utf8(widen_negative_integers(src.as_bytes()).unwrap()).unwrap();
        assert_eq!(
            widened,
            format!(
                r#"{{"a":{below}e0,"s":"{below}\"{below}","b":[-{u128_max}e0],"c":-1.5e300,"d":{min},"e":{below}.5,"f":-9223372036854775809}}"#,
                u128_max = u128::MAX
            )
        );
        assert_eq!(widen_negative_integers(min.as_bytes()), None);
    }
}
