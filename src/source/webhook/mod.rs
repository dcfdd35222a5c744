//! The admission webhook (`http(s)://`, SPEC §5.3): a drop-in target for kube-audit-rest's clients.
//!
//! [`WebhookServer`] binds synchronously, then serves HTTP/1.1 and HTTP/2 (plain, or TLS with
//! ALPN) on a small tokio runtime of its own. Every valid AdmissionReview is answered
//! `allowed: true` at once; its body, compacted and stamped with `requestReceivedTimestamp`,
//! becomes an event in the bounded queue that `next_batch` drains.
//!
//! No answer denies a request that might be valid (under `failurePolicy: Fail` a denial blocks
//! the cluster): bodies dropped for their size (webhookMaxBatchSize, maxEventSize), for the
//! memory budget, for nesting too deep to parse, or because of an internal error are answered
//! `allowed` with the uid found by a cheap scan of the body, and refused only when it has none.
//! Of the bodies that arrive whole, only invalid JSON and reviews without `request.uid` are
//! refused (400).
//!
//! Read once, when the server starts: webhookTokenFile and tlsClientCA (a change needs a
//! restart of the source). The server certificate is reloaded when its files change.
//!
//! Metrics: `/healthz` is counted in neither `webhook_requests` nor `webhook_rejected`; every
//! other request in `webhook_requests`, and in `webhook_rejected` too when answered with an error
//! status. `tls_cert_expiry_seconds` is 0 once the server has stopped.
//!
//! One job per file:
//! - `server`: listener (dual-stack for an empty host), connection cap, idle timeout, TLS
//!   accept, serving, graceful shutdown;
//! - `tls`: the rustls configuration, certificate loading and hot reload, client CAs;
//! - `handler`: routing, authentication, content type, the answers and their counters;
//! - `auth`: the bearer token;
//! - `body`: reading a body under the size limit, the in-flight budget and the read timeout;
//! - `budget`: the in-flight body budget shared by all connections, and its leases;
//! - `review`: streaming validation and compaction, the answer, the injected timestamp, the uid
//!   scan of bodies that are not parsed;
//! - `pipeline`: from a body to the queue (maxEventSize, review, skipResources, redaction,
//!   captureFile);
//! - `capture`: the captureFile writer with lumberjack-style rotation.

mod auth;
mod body;
mod budget;
mod capture;
mod handler;
mod pipeline;
mod review;
mod server;
mod tls;

pub use server::{Timeouts, WebhookServer};
