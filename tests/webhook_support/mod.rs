//! Helpers of tests/webhook.rs: certificates made with rcgen, servers on 127.0.0.1 port 0, and a
//! small hyper client (HTTP/1.1 or HTTP/2, plain or TLS, optionally with a client certificate).

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Frame};
use hyper::client::conn::{http1, http2};
use hyper::{HeaderMap, Request, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use k8sadmission::config::Config;
use k8sadmission::metrics::Metrics;
use k8sadmission::open_params::WebhookAddr;
use k8sadmission::source::webhook::WebhookServer;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::net::TcpStream;

/// The webhook path of every test server.
pub const PATH: &str = "/k8s-admission";

/// A certificate authority made for one test.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pub pem: String,
}

/// A certificate and its key, in PEM.
pub struct Pair {
    pub cert: String,
    pub key: String,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            issuer: Issuer::new(params, key),
            pem,
        }
    }

    /// A server certificate for 127.0.0.1 and localhost, valid until `year`-01-01.
    pub fn server(&self, cn: &str, year: i32) -> Pair {
        let mut params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.not_after = rcgen::date_time_ymd(year, 1, 1);
        self.sign(params)
    }

    /// A client certificate.
    pub fn client(&self, cn: &str) -> Pair {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Pair {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        Pair {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// Writes `text` to `dir/name`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A server on 127.0.0.1, port 0, with this init_config.
pub fn start(tls: bool, config: &str) -> (WebhookServer, Arc<Metrics>) {
    let config: Config = serde_json::from_str(config).unwrap();
    let metrics = Arc::new(Metrics::default());
    let server = WebhookServer::start(addr(tls, 0), Arc::new(config), metrics.clone()).unwrap();
    (server, metrics)
}

/// 127.0.0.1:`port`, path [`PATH`].
pub fn addr(tls: bool, port: u16) -> WebhookAddr {
    WebhookAddr {
        tls,
        host: "127.0.0.1".into(),
        port,
        path: PATH.into(),
    }
}

/// A TLS configuration for a server that writes `pair` into `dir`: `tlsCert`/`tlsKey` JSON
/// members (to splice into an init_config).
pub fn tls_members(dir: &Path, pair: &Pair) -> String {
    let cert = write(dir, "tls.crt", &pair.cert);
    let key = write(dir, "tls.key", &pair.key);
    format!(r#""tlsCert":{:?},"tlsKey":{:?}"#, cert, key)
}

/// A client configuration trusting `ca`, offering `alpn`, with an optional client certificate.
pub fn client_tls(ca: &Ca, client: Option<&Pair>, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.pem.as_bytes()).unwrap())
        .unwrap();
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
    let mut config = match client {
        Some(pair) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(pair.cert.as_bytes()).unwrap()],
                PrivateKeyDer::from_pem_slice(pair.key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// The request body type of the client.
pub type ReqBody = BoxBody<Bytes, Infallible>;

/// A whole body.
pub fn full(body: impl Into<Bytes>) -> ReqBody {
    Full::new(body.into()).boxed()
}

/// A body of `total` bytes made on the fly (`prefix`, then `x`s) in 64 KiB chunks, never held
/// whole.
pub fn streamed(prefix: &[u8], total: usize) -> ReqBody {
    Streamed {
        prefix: Bytes::copy_from_slice(prefix),
        left: total,
    }
    .boxed()
}

struct Streamed {
    prefix: Bytes,
    left: usize,
}

impl Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let chunk = if self.prefix.is_empty() {
            Bytes::from(vec![b'x'; self.left.min(64 * 1024)])
        } else {
            std::mem::take(&mut self.prefix)
        };
        self.left -= chunk.len().min(self.left);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }
}

/// `data` in chunks of `chunk` bytes, one every `pause` (a slow client).
pub fn paced(data: Bytes, chunk: usize, pause: std::time::Duration) -> ReqBody {
    Paced {
        data,
        chunk,
        pause,
        sleep: None,
    }
    .boxed()
}

struct Paced {
    data: Bytes,
    chunk: usize,
    pause: std::time::Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for Paced {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.data.is_empty() {
            return Poll::Ready(None);
        }
        if let Some(sleep) = &mut self.sleep {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
        }
        let pause = self.pause;
        self.sleep = Some(Box::pin(tokio::time::sleep(pause)));
        let n = self.chunk.min(self.data.len());
        let chunk = self.data.split_to(n);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }
}

/// One client connection.
pub enum Conn {
    H1(http1::SendRequest<ReqBody>),
    H2(http2::SendRequest<ReqBody>),
}

/// What came back.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

/// Connects (TLS when `tls` is set; HTTP/2 when ALPN says h2 or `h2c` asks for it in clear).
pub async fn connect(
    addr: SocketAddr,
    tls: Option<Arc<ClientConfig>>,
    h2c: bool,
) -> std::io::Result<Conn> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    match tls {
        None => handshake(TokioIo::new(tcp), h2c).await,
        Some(config) => {
            let name = ServerName::try_from("localhost").unwrap();
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await?;
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            handshake(TokioIo::new(stream), h2).await
        }
    }
}

async fn handshake<I>(io: TokioIo<I>, h2: bool) -> std::io::Result<Conn>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let err = |e: hyper::Error| std::io::Error::other(e);
    if h2 {
        let (send, conn) = http2::handshake(TokioExecutor::new(), io)
            .await
            .map_err(err)?;
        tokio::spawn(conn);
        Ok(Conn::H2(send))
    } else {
        let (send, conn) = http1::handshake(io).await.map_err(err)?;
        tokio::spawn(conn);
        Ok(Conn::H1(send))
    }
}

impl Conn {
    /// Sends one request and reads the whole answer.
    pub async fn send(&mut self, req: Request<ReqBody>) -> Result<Reply, hyper::Error> {
        let res = match self {
            Conn::H1(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
            Conn::H2(s) => {
                s.ready().await?;
                s.send_request(req).await?
            }
        };
        let status = res.status();
        let version = res.version();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await?.to_bytes();
        Ok(Reply {
            status,
            version,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        })
    }
}

/// A request to `path` with a JSON content type (HTTP/2 requests need a full URI).
pub fn post(path: &str, body: ReqBody) -> Request<ReqBody> {
    Request::post(format!("https://localhost{path}"))
        .header("content-type", "application/json")
        .header("host", "localhost")
        .body(body)
        .unwrap()
}

/// `GET path`.
pub fn get(path: &str) -> Request<ReqBody> {
    Request::get(format!("https://localhost{path}"))
        .header("host", "localhost")
        .body(full(""))
        .unwrap()
}

/// One request on a new connection.
pub async fn once(
    addr: SocketAddr,
    tls: Option<Arc<ClientConfig>>,
    req: Request<ReqBody>,
) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>> {
    let mut conn = connect(addr, tls, false).await?;
    Ok(conn.send(req).await?)
}

/// A current-thread runtime for the client side (servers are started and stopped outside it).
pub fn client_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A CREATE review of a pod, as the apiserver sends it (pretty-printed).
pub fn review(api_version: &str, uid: &str) -> String {
    let review = serde_json::json!({
        "kind": "AdmissionReview",
        "apiVersion": api_version,
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "nginx",
            "namespace": "default",
            "operation": "CREATE",
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "nginx", "namespace": "default"},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}
            },
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    });
    serde_json::to_string_pretty(&review).unwrap()
}

/// [`review`] of a ConfigMap whose `data.blob` is `blob` bytes long, compact: about
/// `blob` + 700 bytes, with `request.uid` in its first KiB.
pub fn review_with_blob(uid: &str, blob: usize) -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(&review("admission.k8s.io/v1", uid)).unwrap();
    doc["request"]["object"] = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big", "namespace": "default"},
        "data": {"blob": "x".repeat(blob)},
    });
    doc.to_string()
}

/// Waits (at most 5 s) until `f` holds.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
