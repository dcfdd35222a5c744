//! The admission webhook (`http(s)://`, SPEC §5.3): a drop-in target for kube-audit-rest's clients.
//!
//! [`WebhookServer`] binds synchronously, then serves HTTP/1.1 and HTTP/2 (plain, or TLS with
//! ALPN) on a small tokio runtime of its own. Every valid AdmissionReview is answered
//! `allowed: true` at once; its body, compacted and stamped with `requestReceivedTimestamp`,
//! becomes an event in the bounded queue that `next_batch` drains.
//!
//! One job per file:
//! - `server`: listener, connection cap, TLS accept, serving, graceful shutdown;
//! - `tls`: the rustls configuration, certificate loading and hot reload, client CAs;
//! - `handler`: routing, authentication, content type, the answers and their counters;
//! - `auth`: the bearer token;
//! - `body`: reading a body under the size limit, the in-flight budget and the read timeout;
//! - `budget`: the in-flight body budget shared by all connections, and its leases;
//! - `review`: validation, the answer, the injected timestamp, the uid scan of oversize bodies;
//! - `pipeline`: from a valid review to the queue (skipResources, redaction, captureFile);
//! - `capture`: the captureFile writer with lumberjack-style rotation;
//! - `throttle`: at most one warning per interval for conditions a client can repeat.

mod auth;
mod body;
mod budget;
mod capture;
mod handler;
mod pipeline;
mod review;
mod server;
mod tls;

pub use server::WebhookServer;
