//! webhookTokenFile: the bearer token every review must carry, compared in constant time. The
//! file is read once, when the server starts: a new token needs a restart of the source.

use anyhow::Context;
use hyper::header::HeaderValue;

/// The required token (read once, at start).
pub(super) struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

impl Token {
    /// Reads the token from `path` (surrounding whitespace, such as the final newline, dropped).
    pub(super) fn load(path: &str) -> anyhow::Result<Self> {
        let text = std::fs::read(path).with_context(|| {
            format!("webhookTokenFile {path:?} cannot be read (it is read once, at start)")
        })?;
        let token = text.trim_ascii();
        anyhow::ensure!(!token.is_empty(), "webhookTokenFile {path:?} is empty");
        Ok(Self(token.to_vec()))
    }

    /// `true` when the `Authorization` header is `Bearer <token>` (scheme in any case).
    pub(super) fn admits(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some(value) = authorization.map(HeaderValue::as_bytes) else {
            return false;
        };
        let Some(space) = value.iter().position(|&b| b == b' ') else {
            return false;
        };
        let (scheme, rest) = value.split_at(space);
        scheme.eq_ignore_ascii_case(b"bearer") && constant_time_eq(rest.trim_ascii(), &self.0)
    }
}

/// Compares without an early exit, so the time taken does not tell how much of a guess matched
/// (only whether the lengths differ).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(!x);
    }
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_bytes_exactly() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    #[test]
    fn reads_the_file_and_checks_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\n").unwrap();
        let token = Token::load(path.to_str().unwrap()).unwrap();
        let h = |v: &'static str| Some(HeaderValue::from_static(v));
        assert!(token.admits(h("Bearer s3cret").as_ref()));
        assert!(token.admits(h("bearer  s3cret ").as_ref()));
        assert!(!token.admits(h("Bearer s3cre").as_ref()));
        assert!(!token.admits(h("Basic s3cret").as_ref()));
        assert!(!token.admits(h("s3cret").as_ref()));
        assert!(!token.admits(None));
        assert_eq!(format!("{token:?}"), "Token(..)");
        std::fs::write(&path, " \n").unwrap();
        assert!(Token::load(path.to_str().unwrap()).is_err());
        assert!(Token::load("/nonexistent/token").is_err());
    }
}
