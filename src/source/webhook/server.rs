//! The server: binding, its own small runtime, the connection cap, TLS handshakes, HTTP/1.1 and
//! HTTP/2 serving, the periodic certificate check, and a graceful shutdown that leaves no thread
//! or task behind (Falco dlcloses the plugin on hot reload).

use super::handler::Handler;
use super::tls::{self, CertReloader};
use crate::config::Config;
use crate::guard;
use crate::metrics::Metrics;
use crate::open_params::WebhookAddr;
use crate::source::log_limit::LogLimit;
use crate::source::queue::Queued;
use anyhow::Context;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as HttpBuilder;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio::time::{timeout, MissedTickBehavior};
use tokio_rustls::TlsAcceptor;

/// Worker threads of the server's runtime.
const WORKERS: usize = 2;
/// Open connections at most; further ones are closed at once.
pub(super) const MAX_CONNECTIONS: usize = 1024;
/// Concurrent HTTP/2 streams per connection.
const MAX_STREAMS: u32 = 32;
/// Time for the first bytes and the TLS handshake of a new connection, and for the header of
/// each HTTP/1 request (idle keep-alive connections included).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 pings on quiet connections, and the time a ping may take.
const H2_KEEPALIVE: Duration = Duration::from_secs(20);
/// Time given to requests in progress when the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Pause after a failed accept (out of file descriptors and the like).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A running admission webhook server; stops on [`stop`](Self::stop) or when dropped.
#[derive(Debug)]
pub struct WebhookServer {
    local_addr: SocketAddr,
    handler: Arc<Handler>,
    stop: watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
    runtime: Option<Runtime>,
}

impl WebhookServer {
    /// Binds synchronously (a bad address, a port in use or unreadable certificates fail here,
    /// before any thread starts), then serves on a runtime of its own (2 worker threads named
    /// `kar-webhook`). An empty host binds all IPv4 interfaces (`0.0.0.0`); `[::]` binds IPv6
    /// (and IPv4-mapped addresses where the system allows it).
    pub fn start(
        addr: WebhookAddr,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let tls = if addr.tls {
            Some(tls::server_config(&config, &metrics)?)
        } else {
            anyhow::ensure!(
                config.tls_client_ca.is_none(),
                "tlsClientCA (client certificates) needs an https:// webhook"
            );
            if config.tls_cert.is_some() || config.tls_key.is_some() {
                log::warn!("tlsCert/tlsKey are set but the webhook is http://: serving in clear");
            }
            None
        };
        let client_cert_required = config.tls_client_ca.is_some();
        let handler = Arc::new(Handler::new(
            &addr.path,
            config,
            metrics.clone(),
            client_cert_required,
        )?);
        let listener = bind(&addr)?;
        let local_addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .thread_name("kar-webhook")
            .enable_io()
            .enable_time()
            .build()
            .context("the webhook runtime cannot start")?;
        let listener = {
            let _context = runtime.enter();
            TcpListener::from_std(listener)?
        };
        let (stop, stopping) = watch::channel(false);
        let acceptor = tls.map(|(server_config, certs)| {
            runtime.spawn(check_certificates(certs, metrics.clone(), stopping.clone()));
            TlsAcceptor::from(server_config)
        });
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let shared = Arc::new(Shared {
            handler: handler.clone(),
            http: http_builder(),
            metrics,
            handshake_warnings: LogLimit::new("failed TLS handshakes"),
        });
        let accept = runtime.spawn(accept_loop(listener, acceptor, shared, stopping));
        log::info!("webhook listening on {scheme}://{local_addr}{}", addr.path);
        Ok(Self {
            local_addr,
            handler,
            stop,
            accept: Some(accept),
            runtime: Some(runtime),
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Takes up to `max` queued events; when none is ready, waits at most `wait` for the first.
    pub fn drain(&self, max: usize, wait: Duration) -> Vec<Queued<()>> {
        self.handler.pipeline().queue().drain(max, wait)
    }

    /// Stops accepting (the port is free at once), gives requests in progress a short grace,
    /// closes the rest, and returns when every thread and task of the server has ended. Also
    /// done on drop.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        let accept = self.accept.take();
        let stop = &self.stop;
        if tokio::runtime::Handle::try_current().is_ok() {
            // Waiting on a runtime from inside another one panics: wait from a plain thread.
            std::thread::scope(|s| {
                s.spawn(move || finish(runtime, accept, stop));
            });
        } else {
            finish(runtime, accept, stop);
        }
        self.handler.pipeline().queue().close();
        log::info!("webhook on {} stopped", self.local_addr);
    }
}

impl Drop for WebhookServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Signals the stop, waits for the accept loop (and so every connection) to end, then drops the
/// runtime, which joins its threads.
fn finish(runtime: Runtime, accept: Option<JoinHandle<()>>, stop: &watch::Sender<bool>) {
    let _ = stop.send(true);
    if let Some(accept) = accept {
        let _ = runtime.block_on(accept);
    }
    drop(runtime);
}

/// Binds the first address the host resolves to that can be bound.
fn bind(addr: &WebhookAddr) -> anyhow::Result<std::net::TcpListener> {
    let host = if addr.host.is_empty() {
        "0.0.0.0"
    } else {
        addr.host.as_str()
    };
    let candidates = (host, addr.port)
        .to_socket_addrs()
        .with_context(|| format!("webhook host {host:?} does not resolve"))?;
    let mut last = None;
    for candidate in candidates {
        match std::net::TcpListener::bind(candidate) {
            Ok(listener) => {
                listener.set_nonblocking(true)?;
                return Ok(listener);
            }
            Err(e) => {
                last = Some(anyhow::Error::new(e).context(format!("cannot bind {candidate}")))
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("webhook host {host:?} has no address")))
}

fn http_builder() -> HttpBuilder<TokioExecutor> {
    let mut http = HttpBuilder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    http.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_KEEPALIVE)
        .keep_alive_timeout(H2_KEEPALIVE)
        .max_concurrent_streams(MAX_STREAMS);
    http
}

/// What every connection task uses.
struct Shared {
    handler: Arc<Handler>,
    http: HttpBuilder<TokioExecutor>,
    metrics: Arc<Metrics>,
    handshake_warnings: LogLimit,
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
    mut stopping: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let over_cap_warnings = LogLimit::new("connections over the cap");
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = stopping.changed() => break,
            Some(done) = connections.join_next() => reap(done, &shared.metrics),
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let Ok(permit) = permits.clone().try_acquire_owned() else {
                        over_cap_warnings.warn(|| format!("webhook connection from {peer} closed: {MAX_CONNECTIONS} are open already"));
                        continue;
                    };
                    let connection = Connection {
                        shared: shared.clone(),
                        stopping: stopping.clone(),
                        _permit: permit,
                    };
                    connections.spawn(connection.run(tcp, peer, tls.clone()));
                }
                Err(e) => {
                    log::debug!("webhook accept failed: {e}");
                    tokio::select! {
                        _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                        _ = stopping.changed() => break,
                    }
                }
            }
        }
    }
    drop(listener);
    let grace = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(grace);
    loop {
        tokio::select! {
            done = connections.join_next() => match done {
                Some(done) => reap(done, &shared.metrics),
                None => break,
            },
            _ = &mut grace => {
                connections.abort_all();
                while let Some(done) = connections.join_next().await {
                    reap(done, &shared.metrics);
                }
                break;
            }
        }
    }
}

/// Counts a connection task that panicked (tokio caught it; the server goes on).
fn reap(done: Result<(), JoinError>, metrics: &Metrics) {
    if let Err(e) = done {
        if e.is_panic() {
            Metrics::add(&metrics.panics, 1);
            log::error!("internal error in a webhook connection (caught, the server goes on)");
        }
    }
}

/// One accepted connection.
struct Connection {
    shared: Arc<Shared>,
    stopping: watch::Receiver<bool>,
    /// Its place under the connection cap, given back when the task ends.
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(mut self, tcp: TcpStream, peer: SocketAddr, tls: Option<TlsAcceptor>) {
        let _ = tcp.set_nodelay(true);
        // A connection closed before its first byte (a TCP probe) is neither served nor a
        // failed handshake; hyper's protocol detection has no timeout of its own.
        let mut byte = [0u8; 1];
        let first = timeout(HEADER_TIMEOUT, tcp.peek(&mut byte));
        tokio::select! {
            got = first => if !matches!(got, Ok(Ok(n)) if n > 0) { return },
            _ = self.stopping.changed() => return,
        }
        let Some(acceptor) = tls else {
            return self.serve(TokioIo::new(tcp), false).await;
        };
        let handshake = timeout(HEADER_TIMEOUT, acceptor.accept(tcp));
        let done = tokio::select! {
            done = handshake => done,
            _ = self.stopping.changed() => return,
        };
        match done {
            Ok(Ok(stream)) => {
                let verified = stream.get_ref().1.peer_certificates().is_some();
                self.serve(TokioIo::new(stream), verified).await;
            }
            Ok(Err(e)) => self.handshake_failed(peer, &e.to_string()),
            Err(_) => self.handshake_failed(peer, "timed out"),
        }
    }

    fn handshake_failed(&self, peer: SocketAddr, why: &str) {
        Metrics::add(&self.shared.metrics.tls_handshake_failures, 1);
        self.shared.handshake_warnings.warn(|| {
            format!("webhook TLS handshake from {peer} failed: {why} (see tls_handshake_failures)")
        });
    }

    /// Serves HTTP/1.1 or HTTP/2 (detected from the first bytes) until the client leaves or the
    /// server stops (requests in progress are finished, then the connection closes).
    async fn serve<I>(self, io: I, client_verified: bool)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let Self {
            shared,
            mut stopping,
            _permit,
        } = self;
        let handler = shared.handler.clone();
        let service = service_fn(move |req| handler.clone().handle(req, client_verified));
        let connection = shared.http.serve_connection(io, service);
        tokio::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => ended,
            _ = stopping.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = ended {
            log::debug!("webhook connection ended: {e}");
        }
    }
}

/// Checks the certificate files and the expiry gauge every second, handshakes or not.
async fn check_certificates(
    certs: Arc<CertReloader>,
    metrics: Arc<Metrics>,
    mut stopping: watch::Receiver<bool>,
) {
    let mut every = tokio::time::interval(tls::CHECK_EVERY);
    every.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => {
                guard::catch(&metrics, "webhook certificate check", || certs.refresh());
            }
            _ = stopping.changed() => break,
        }
    }
}
