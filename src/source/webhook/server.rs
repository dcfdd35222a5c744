//! The server: binding, its own small runtime, the connection cap, TLS handshakes, HTTP/1.1 and
//! HTTP/2 serving, idle connections, the periodic certificate check, and a graceful shutdown
//! that leaves no thread or task behind (Falco dlcloses the plugin on hot reload).
//!
//! Timeouts against clients that hold a connection: the first byte and the TLS handshake must
//! come within [`Timeouts::header`], and so must each HTTP/1 request header (hyper's header read
//! timeout starts when the connection waits for a request, so an idle HTTP/1 keep-alive
//! connection is closed after it too); a body within the handler's body timeout; and a
//! connection with no request in progress for [`Timeouts::idle`] is shut down gracefully
//! (HTTP/2: GOAWAY, then close), whatever its keep-alive pings say. Connections beyond
//! [`MAX_CONNECTIONS`] are closed at once.

use super::handler::Handler;
use super::tls::{self, CertReloader};
use crate::config::Config;
use crate::guard;
use crate::metrics::Metrics;
use crate::open_params::WebhookAddr;
use crate::source::log_limit::LogLimit;
use crate::source::queue::Queued;
use crate::threads::ThreadIds;
use anyhow::Context;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder as HttpBuilder;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::task::{JoinError, JoinHandle, JoinSet};
use tokio::time::{timeout, MissedTickBehavior};
use tokio_rustls::TlsAcceptor;

/// Worker threads of the server's runtime.
const WORKERS: usize = 2;
/// Threads that validate and compact large bodies at most (further bodies wait their turn).
const BLOCKING_THREADS: usize = 4;
/// Open connections at most; further ones are closed at once.
pub(super) const MAX_CONNECTIONS: usize = 1024;
/// Concurrent HTTP/2 streams per connection.
const MAX_STREAMS: u32 = 32;
/// HTTP/2 pings on quiet connections, and the time a ping may take.
const H2_KEEPALIVE: Duration = Duration::from_secs(20);
/// Time given to requests in progress when the server stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Pause after a failed accept (out of file descriptors and the like).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The connection timeouts of a server. The defaults are the server's; tests shorten them.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Time for the first bytes and the TLS handshake of a new connection, and for the header
    /// of each HTTP/1 request (idle keep-alive connections included).
    pub header: Duration,
    /// A connection with no request in progress for this long is shut down gracefully
    /// (HTTP/2: GOAWAY, then close): keep-alive pings alone do not keep it open.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header: Duration::from_secs(10),
            idle: Duration::from_secs(60),
        }
    }
}

/// A running admission webhook server; stops on [`stop`](Self::stop) or when dropped.
#[derive(Debug)]
pub struct WebhookServer {
    local_addr: SocketAddr,
    handler: Arc<Handler>,
    metrics: Arc<Metrics>,
    tls: bool,
    stop: watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
    runtime: Option<Runtime>,
    /// The runtime's threads, waited for until they have left the process.
    threads: ThreadIds,
}

impl WebhookServer {
    /// Binds synchronously (a bad address, a port in use or unreadable certificates fail here,
    /// before any thread starts), then serves on a runtime of its own (2 worker threads named
    /// `kar-webhook`, and up to 4 blocking threads for large bodies). An empty host binds all
    /// interfaces, IPv4 and IPv6 (`[::]` with IPV6_V6ONLY off; `0.0.0.0` when the system has
    /// no IPv6); `[::]` binds what the system's default says (IPv6, and IPv4-mapped addresses
    /// where it allows them).
    ///
    /// The token file (webhookTokenFile) and the client CA (tlsClientCA) are read once, here:
    /// a change needs a restart of the source. The server certificate is reloaded when its
    /// files change.
    pub fn start(
        addr: WebhookAddr,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        Self::start_with(addr, config, metrics, Timeouts::default())
    }

    /// [`start`](Self::start) with other connection timeouts (for tests).
    #[doc(hidden)]
    pub fn start_with(
        addr: WebhookAddr,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        timeouts: Timeouts,
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
        let (listener, bound) = bind(&addr)?;
        let local_addr = listener.local_addr()?;
        let threads = ThreadIds::default();
        let recorder = threads.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKERS)
            .max_blocking_threads(BLOCKING_THREADS)
            .thread_name("kar-webhook")
            .on_thread_start(move || recorder.record_current())
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
        let tls = acceptor.is_some();
        let shared = Arc::new(Shared {
            handler: handler.clone(),
            http: http_builder(timeouts.header),
            timeouts,
            metrics: metrics.clone(),
            handshake_warnings: LogLimit::new("failed TLS handshakes"),
        });
        let accept = runtime.spawn(accept_loop(listener, acceptor, shared, stopping));
        log::info!(
            "webhook listening on {scheme}://{local_addr}{} ({bound})",
            addr.path
        );
        Ok(Self {
            local_addr,
            handler,
            metrics,
            tls,
            stop,
            accept: Some(accept),
            runtime: Some(runtime),
            threads,
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
        let (stop, threads) = (&self.stop, &self.threads);
        if tokio::runtime::Handle::try_current().is_ok() {
            // Waiting on a runtime from inside another one panics: wait from a plain thread.
            std::thread::scope(|s| {
                s.spawn(move || finish(runtime, accept, stop, threads));
            });
        } else {
            finish(runtime, accept, stop, threads);
        }
        self.handler.pipeline().queue().close();
        if self.tls {
            // No certificate is served any more.
            self.metrics
                .tls_cert_expiry_seconds
                .store(0, Ordering::Relaxed);
        }
        log::info!("webhook on {} stopped", self.local_addr);
    }
}

impl Drop for WebhookServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Signals the stop, waits for the accept loop (and so every connection) to end, then drops the
/// runtime, which joins its threads, and waits until they have left the process.
fn finish(
    runtime: Runtime,
    accept: Option<JoinHandle<()>>,
    stop: &watch::Sender<bool>,
    threads: &ThreadIds,
) {
    let _ = stop.send(true);
    if let Some(accept) = accept {
        let _ = runtime.block_on(accept);
    }
    drop(runtime);
    threads.wait_gone("webhook");
}

/// Binds all interfaces for an empty host (see [`bind_all`]), else the first address the host
/// resolves to that can be bound. Returns the listener and what was bound, for the log.
fn bind(addr: &WebhookAddr) -> anyhow::Result<(std::net::TcpListener, &'static str)> {
    if addr.host.is_empty() {
        return bind_all(addr.port);
    }
    let host = addr.host.as_str();
    let candidates = (host, addr.port)
        .to_socket_addrs()
        .with_context(|| format!("webhook host {host:?} does not resolve"))?;
    let mut last = None;
    for candidate in candidates {
        match std::net::TcpListener::bind(candidate) {
            Ok(listener) => {
                listener.set_nonblocking(true)?;
                return Ok((listener, "the address asked for"));
            }
            Err(e) => {
                last = Some(anyhow::Error::new(e).context(format!("cannot bind {candidate}")))
            }
        }
    }
    Err(last.unwrap_or_else(|| anyhow::anyhow!("webhook host {host:?} has no address")))
}

/// All interfaces: `[::]` with IPV6_V6ONLY off, so that IPv4 clients (as IPv4-mapped
/// addresses) and IPv6 clients both connect; `0.0.0.0` when IPv6 is not available.
fn bind_all(port: u16) -> anyhow::Result<(std::net::TcpListener, &'static str)> {
    let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    let error = match dual_stack(v6) {
        Ok(listener) => return Ok((listener, "all interfaces, IPv4 and IPv6")),
        // The port is taken: IPv4 alone would not help.
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            return Err(anyhow::Error::new(e).context(format!("cannot bind {v6}")))
        }
        Err(e) => e,
    };
    let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let listener = std::net::TcpListener::bind(v4)
        .with_context(|| format!("cannot bind {v4} (nor {v6}: {error})"))?;
    listener.set_nonblocking(true)?;
    log::info!("webhook: IPv6 is not available ({error}): listening on IPv4 only");
    Ok((listener, "all IPv4 interfaces"))
}

/// A listener on `addr` (an IPv6 address) that accepts IPv4 clients too.
fn dual_stack(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_only_v6(false)?;
    // As std does: a restarted server binds again at once, whatever TIME_WAIT holds.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn http_builder(header: Duration) -> HttpBuilder<TokioExecutor> {
    let mut http = HttpBuilder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header);
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
    timeouts: Timeouts,
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
                        Metrics::add(&shared.metrics.webhook_connections_refused, 1);
                        over_cap_warnings.warn(|| format!("webhook connection from {peer} closed: {MAX_CONNECTIONS} are open already"));
                        drop(tcp);
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
        let header = self.shared.timeouts.header;
        let first = timeout(header, tcp.peek(&mut byte));
        tokio::select! {
            got = first => if !matches!(got, Ok(Ok(n)) if n > 0) { return },
            _ = self.stopping.changed() => return,
        }
        let Some(acceptor) = tls else {
            return self.serve(TokioIo::new(tcp), false).await;
        };
        let handshake = timeout(header, acceptor.accept(tcp));
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

    /// Serves HTTP/1.1 or HTTP/2 (detected from the first bytes) until the client leaves, the
    /// connection is idle for [`Timeouts::idle`], or the server stops (requests in progress are
    /// finished, then the connection closes).
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
        let activity = Arc::new(Activity::new());
        let requests = activity.clone();
        let service = service_fn(move |req| {
            let in_flight = requests.begin();
            let handler = handler.clone();
            async move {
                let _in_flight = in_flight;
                handler.handle(req, client_verified).await
            }
        });
        let connection = shared.http.serve_connection(io, service);
        tokio::pin!(connection);
        let ended = tokio::select! {
            ended = connection.as_mut() => ended,
            _ = stopping.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
            _ = activity.idle(shared.timeouts.idle) => {
                log::debug!("webhook connection idle for {:?}: closed", shared.timeouts.idle);
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(e) = ended {
            log::debug!("webhook connection ended: {e}");
        }
    }
}

/// The requests in progress on one connection, and when the last one began or ended.
struct Activity {
    open: AtomicUsize,
    start: Instant,
    /// Milliseconds from `start` to the last change.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Self {
        Self {
            open: AtomicUsize::new(0),
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::SeqCst);
    }

    /// When the connection is idle for `limit`, if nothing happens meanwhile.
    fn deadline(&self, limit: Duration) -> Instant {
        self.start + Duration::from_millis(self.last_ms.load(Ordering::SeqCst)) + limit
    }

    /// A request begins; it ends when the guard is dropped (answered or cancelled).
    fn begin(self: &Arc<Self>) -> InFlight {
        self.open.fetch_add(1, Ordering::SeqCst);
        self.touch();
        InFlight(self.clone())
    }

    /// Completes once no request has been in progress for `limit`.
    async fn idle(&self, limit: Duration) {
        loop {
            let deadline = self.deadline(limit);
            if Instant::now() < deadline {
                tokio::time::sleep_until(deadline.into()).await;
            } else if self.open.load(Ordering::SeqCst) > 0 {
                // Busy now: look again after a while (its end moves the deadline).
                tokio::time::sleep(limit).await;
            } else if Instant::now() >= self.deadline(limit) {
                // (Read again: a request that has just ended moved it.)
                return;
            }
        }
    }
}

/// One request in progress.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.open.fetch_sub(1, Ordering::SeqCst);
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
