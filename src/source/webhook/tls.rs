//! TLS for `https://` webhooks: the server certificate (tlsCert + tlsKey, else the combined
//! sslCertificate PEM), reloaded when its files change, the `tls_cert_expiry_seconds` gauge, and
//! the optional client CA (tlsClientCA).
//!
//! The client CA is read once, when the server starts (a change needs a restart of the
//! source); only the server certificate is reloaded.
//!
//! Kubernetes updates a mounted Secret by swapping a `..data` symlink: the resolved files get a
//! new inode. The resolver stats the files at most once per [`CHECK_EVERY`] (on handshakes and
//! from the server's periodic check) and loads a new pair when their identity changed; a pair
//! that does not load (a half-written update) keeps the old certificate in service.

use crate::config::Config;
use crate::metrics::{now_ns, Metrics};
use anyhow::Context;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{RootCertStore, ServerConfig};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the certificate files are checked for a change, at most.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The rustls configuration of an `https://` webhook, and the certificate it serves.
pub(super) fn server_config(
    config: &Config,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<(Arc<ServerConfig>, Arc<CertReloader>)> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (cert, key) = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => (PathBuf::from(cert), PathBuf::from(key)),
        (None, None) => {
            let pem = PathBuf::from(&config.ssl_certificate);
            (pem.clone(), pem)
        }
        _ => anyhow::bail!("tlsCert and tlsKey go together: set both, or neither (sslCertificate)"),
    };
    let certs = Arc::new(CertReloader::open(
        cert,
        key,
        provider.clone(),
        metrics.clone(),
    )?);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS setup")?;
    let mut server = match &config.tls_client_ca {
        Some(ca) => {
            let roots = client_roots(ca)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .with_context(|| format!("tlsClientCA {ca:?} cannot verify clients"))?;
            builder
                .with_client_cert_verifier(verifier)
                .with_cert_resolver(certs.clone())
        }
        None => builder
            .with_no_client_auth()
            .with_cert_resolver(certs.clone()),
    };
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((Arc::new(server), certs))
}

/// The CA certificates client certificates must chain to.
fn client_roots(ca: &str) -> anyhow::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)
        .with_context(|| format!("tlsClientCA {ca:?} cannot be read (it is read once, at start)"))?
    {
        let cert = cert.with_context(|| format!("tlsClientCA {ca:?} is not valid PEM"))?;
        roots
            .add(cert)
            .with_context(|| format!("tlsClientCA {ca:?} holds an unusable certificate"))?;
    }
    anyhow::ensure!(!roots.is_empty(), "tlsClientCA {ca:?} holds no certificate");
    Ok(roots)
}

/// What identifies a file's content without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
    mtime_ns: i64,
    len: u64,
}

fn file_id(path: &Path) -> std::io::Result<FileId> {
    let m = std::fs::metadata(path)?;
    Ok(FileId {
        dev: m.dev(),
        ino: m.ino(),
        mtime_ns: m.mtime().saturating_mul(1_000_000_000) + m.mtime_nsec(),
        len: m.len(),
    })
}

#[derive(Debug)]
struct Loaded {
    key: Arc<CertifiedKey>,
    /// The leaf's notAfter, seconds since the epoch.
    not_after: i64,
    /// The files this key was loaded from.
    files: [FileId; 2],
    /// Files that failed to load (not tried again until they change).
    failed: Option<[FileId; 2]>,
    checked: Instant,
}

/// The server certificate, reloaded from its files when they change.
#[derive(Debug)]
pub(super) struct CertReloader {
    cert: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    metrics: Arc<Metrics>,
    state: Mutex<Loaded>,
}

impl CertReloader {
    /// Loads the certificate chain from `cert` and the private key from `key` (one file may
    /// hold both).
    fn open(
        cert: PathBuf,
        key: PathBuf,
        provider: Arc<CryptoProvider>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        // Identified before reading, so that a change while loading is seen on the next check.
        let id = |p: &Path| {
            file_id(p).with_context(|| format!("TLS file {} cannot be read", p.display()))
        };
        let files = [id(&cert)?, id(&key)?];
        let (certified, not_after) = load(&cert, &key, &provider)?;
        let reloader = Self {
            cert,
            key,
            provider,
            metrics,
            state: Mutex::new(Loaded {
                key: Arc::new(certified),
                not_after,
                files,
                failed: None,
                checked: Instant::now(),
            }),
        };
        reloader.set_expiry(not_after);
        Ok(reloader)
    }

    fn set_expiry(&self, not_after: i64) {
        let left = not_after.saturating_sub(now_ns() / 1_000_000_000).max(0);
        self.metrics
            .tls_cert_expiry_seconds
            .store(left as u64, Ordering::Relaxed);
    }

    /// Reloads the pair when its files changed, if the last check is [`CHECK_EVERY`] old, and
    /// updates the expiry gauge. Returns the key to serve.
    pub(super) fn refresh(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.checked.elapsed() >= CHECK_EVERY {
            state.checked = Instant::now();
            // A file missing for a moment (a swap in progress) keeps the old pair.
            if let (Ok(c), Ok(k)) = (file_id(&self.cert), file_id(&self.key)) {
                let files = [c, k];
                if files != state.files && state.failed != Some(files) {
                    match load(&self.cert, &self.key, &self.provider) {
                        Ok((certified, not_after)) => {
                            log::info!(
                                "webhook certificate reloaded from {} (expires in {} days)",
                                self.cert.display(),
                                (not_after - now_ns() / 1_000_000_000) / 86_400
                            );
                            *state = Loaded {
                                key: Arc::new(certified),
                                not_after,
                                files,
                                failed: None,
                                checked: state.checked,
                            };
                        }
                        Err(e) => {
                            log::warn!(
                                "webhook certificate not reloaded, the old one stays in use: {e:#}"
                            );
                            state.failed = Some(files);
                        }
                    }
                }
            }
            self.set_expiry(state.not_after);
        }
        state.key.clone()
    }
}

impl ResolvesServerCert for CertReloader {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.refresh())
    }
}

/// Reads a certificate chain and its private key, checks that they match, and returns them
/// with the leaf's notAfter.
fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> anyhow::Result<(CertifiedKey, i64)> {
    let show = cert.display();
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("TLS certificate {show} cannot be read"))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("TLS certificate {show} is not valid PEM"))?;
    let leaf = chain
        .first()
        .with_context(|| format!("TLS certificate {show} holds no certificate"))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf)
        .map_err(|e| anyhow::anyhow!("TLS certificate {show} cannot be parsed: {e}"))?;
    let not_after = parsed.validity().not_after.timestamp();
    let private = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("TLS private key {} cannot be read", key.display()))?;
    let certified = CertifiedKey::from_der(chain, private, provider).with_context(|| {
        format!(
            "TLS private key {} does not fit certificate {show}",
            key.display()
        )
    })?;
    Ok((certified, not_after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, KeyPair};

    fn write_pair(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".into()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        let cert = params.self_signed(&key).unwrap();
        let (c, k) = (dir.join(format!("{cn}.crt")), dir.join(format!("{cn}.key")));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        (c, k)
    }

    fn served_cn(r: &CertReloader) -> String {
        let key = r.state.lock().unwrap().key.clone();
        let (_, cert) = x509_parser::parse_x509_certificate(&key.cert[0]).unwrap();
        let cn = cert.subject().iter_common_name().next().unwrap();
        cn.as_str().unwrap().to_string()
    }

    #[test]
    fn loads_reloads_and_keeps_the_old_pair_on_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (c1, k1) = write_pair(dir.path(), "one");
        let (c2, k2) = write_pair(dir.path(), "two");
        let live_c = dir.path().join("tls.crt");
        let live_k = dir.path().join("tls.key");
        std::fs::copy(&c1, &live_c).unwrap();
        std::fs::copy(&k1, &live_k).unwrap();
        let metrics = Arc::new(Metrics::default());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let r =
            CertReloader::open(live_c.clone(), live_k.clone(), provider, metrics.clone()).unwrap();
        assert_eq!(served_cn(&r), "one");
        let expiry = metrics.tls_cert_expiry_seconds.load(Ordering::Relaxed);
        assert!(expiry > 86_400 * 365, "{expiry}");
        let force_check = || r.state.lock().unwrap().checked -= CHECK_EVERY;
        // A half-written update (new certificate, old key) keeps the old pair.
        std::fs::rename(&c2, &live_c).unwrap();
        force_check();
        r.refresh();
        assert_eq!(served_cn(&r), "one");
        // The key arrives: the new pair is served.
        std::fs::rename(&k2, &live_k).unwrap();
        force_check();
        r.refresh();
        assert_eq!(served_cn(&r), "two");
        // Not checked again within the interval.
        std::fs::copy(&c1, &live_c).unwrap();
        std::fs::copy(&k1, &live_k).unwrap();
        r.refresh();
        assert_eq!(served_cn(&r), "two");
    }

    #[test]
    fn bad_files_fail_at_start_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let (c, _) = write_pair(dir.path(), "one");
        let (_, other_key) = write_pair(dir.path(), "two");
        let provider = || Arc::new(rustls::crypto::ring::default_provider());
        let open = |c: &Path, k: &Path| {
            CertReloader::open(c.into(), k.into(), provider(), Arc::default())
                .map(drop)
                .unwrap_err()
                .to_string()
        };
        assert!(open(&c, &other_key).contains("does not fit"));
        assert!(open(Path::new("/nonexistent.pem"), &other_key).contains("/nonexistent.pem"));
        assert!(open(&other_key, &other_key).contains("holds no certificate"));
        let config = Config {
            tls_cert: Some(c.to_str().unwrap().into()),
            ..Config::default()
        };
        let err = server_config(&config, &Arc::default())
            .map(drop)
            .unwrap_err();
        assert!(err.to_string().contains("tlsCert and tlsKey"), "{err}");
    }
}
