//! open_params (SPEC §5): which source to open, parsed into a typed description.

use std::path::PathBuf;

/// The accepted forms, repeated in every error message.
pub const ACCEPTED_FORMS: &str =
    "accepted open_params: a capture file (/path/file.jsonl or .jsonl.gz), \
a directory, a glob (/var/log/kube-audit-rest*.log), a comma-separated list of these; \
file:///abs/path (follow live; several comma-separated); \
http://HOST:PORT/PATH or https://HOST:PORT/PATH (admission webhook; empty HOST = all interfaces)";

/// What `open` starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// Replay capture files, directories or globs once, then end of stream.
    Replay(Vec<String>),
    /// Follow files live as they are written and rotated.
    Follow(Vec<PathBuf>),
    /// Serve the admission webhook.
    Webhook(WebhookAddr),
}

/// Where the webhook listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAddr {
    /// `true` for `https://`.
    pub tls: bool,
    /// Host or address to bind; empty means all interfaces.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// The path reviews are POSTed to (starts with `/`).
    pub path: String,
}

/// Parses open_params.
pub fn parse(params: &str) -> anyhow::Result<SourceSpec> {
    let params = params.trim();
    anyhow::ensure!(!params.is_empty(), "empty open_params; {ACCEPTED_FORMS}");
    let items: Vec<&str> = params
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let Some(&first) = items.first() else {
        anyhow::bail!("open_params {params:?} names no source; {ACCEPTED_FORMS}");
    };
    if let Some(rest) = strip_scheme(first, "http://").or_else(|| strip_scheme(first, "https://")) {
        anyhow::ensure!(
            items.len() == 1,
            "a webhook source stands alone; {ACCEPTED_FORMS}"
        );
        return Ok(SourceSpec::Webhook(webhook(
            rest,
            first[..5].eq_ignore_ascii_case("https"),
        )?));
    }
    if strip_scheme(first, "file://").is_some() {
        let paths = items
            .iter()
            .map(|item| follow_path(item))
            .collect::<anyhow::Result<_>>()?;
        return Ok(SourceSpec::Follow(paths));
    }
    for item in &items {
        if let Some((scheme, _)) = item.split_once("://") {
            anyhow::bail!(
                "{item:?}: scheme {scheme:?} cannot be used here (lists take one kind of source); {ACCEPTED_FORMS}"
            );
        }
    }
    Ok(SourceSpec::Replay(
        items.into_iter().map(str::to_string).collect(),
    ))
}

fn strip_scheme<'a>(s: &'a str, scheme: &str) -> Option<&'a str> {
    let head = s.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| &s[scheme.len()..])
}

fn follow_path(item: &str) -> anyhow::Result<PathBuf> {
    let Some(path) = strip_scheme(item, "file://") else {
        anyhow::bail!("{item:?}: follow lists take only file:// sources; {ACCEPTED_FORMS}");
    };
    anyhow::ensure!(
        path.starts_with('/') && path.len() > 1,
        "{item:?}: file:// needs an absolute path (file:///var/log/audit.log), not a host part; {ACCEPTED_FORMS}"
    );
    Ok(PathBuf::from(path))
}

/// Parses `HOST:PORT/PATH` (HOST may be empty, a name, an IPv4 address or `[IPv6]`).
fn webhook(rest: &str, tls: bool) -> anyhow::Result<WebhookAddr> {
    let bad = |why: &str| anyhow::anyhow!("webhook address {rest:?}: {why}; {ACCEPTED_FORMS}");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = path.split(['?', '#']).next().unwrap_or("/");
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, tail) = v6.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        let port = tail
            .strip_prefix(':')
            .ok_or_else(|| bad("a port is required"))?;
        (host, port)
    } else {
        authority
            .rsplit_once(':')
            .ok_or_else(|| bad("a port is required"))?
    };
    anyhow::ensure!(
        !host.contains(['@', ' ']),
        bad("user info and spaces are not allowed")
    );
    // Port 0 asks the system for a free port (logged at open): for tests and local runs.
    let port: u16 = port
        .parse()
        .map_err(|_| bad("the port must be a number from 0 to 65535"))?;
    Ok(WebhookAddr {
        tls,
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_forms() {
        assert_eq!(
            parse("/var/log/a.jsonl").unwrap(),
            SourceSpec::Replay(vec!["/var/log/a.jsonl".into()])
        );
        assert_eq!(
            parse(" /a.jsonl.gz , /dir,/var/log/kar*.log ").unwrap(),
            SourceSpec::Replay(vec![
                "/a.jsonl.gz".into(),
                "/dir".into(),
                "/var/log/kar*.log".into()
            ])
        );
    }

    #[test]
    fn follow_forms() {
        assert_eq!(
            parse("file:///var/log/kar.log,file:///tmp/b.log").unwrap(),
            SourceSpec::Follow(vec!["/var/log/kar.log".into(), "/tmp/b.log".into()])
        );
        assert!(parse("file://rel/x").is_err());
        assert!(parse("file://").is_err());
        assert!(parse("file:///a,/b").is_err());
    }

    #[test]
    fn webhook_forms() {
        assert_eq!(
            parse("http://:9765/k8s-admission").unwrap(),
            SourceSpec::Webhook(WebhookAddr {
                tls: false,
                host: String::new(),
                port: 9765,
                path: "/k8s-admission".into()
            })
        );
        assert_eq!(
            parse("https://127.0.0.1:8443/validate?timeout=10s").unwrap(),
            SourceSpec::Webhook(WebhookAddr {
                tls: true,
                host: "127.0.0.1".into(),
                port: 8443,
                path: "/validate".into()
            })
        );
        assert_eq!(
            parse("https://[::1]:9443").unwrap(),
            SourceSpec::Webhook(WebhookAddr {
                tls: true,
                host: "::1".into(),
                port: 9443,
                path: "/".into()
            })
        );
        assert!(parse("http://host/x").is_err());
        assert_eq!(
            parse("http://127.0.0.1:0/x").unwrap(),
            SourceSpec::Webhook(WebhookAddr {
                tls: false,
                host: "127.0.0.1".into(),
                port: 0,
                path: "/x".into()
            })
        );
        assert!(parse("http://host:99999/x").is_err());
        assert!(parse("http://:9765/a,/b").is_err());
    }

    #[test]
    fn errors_list_the_accepted_forms() {
        for bad in [
            "",
            "  ",
            ",",
            "ftp://x/y",
            "/a,file:///b",
            "s3://bucket/key",
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains("accepted open_params"), "{bad:?}: {err}");
        }
    }
}
