//! One HTTP request: routing, authentication, method and content type, the body under its
//! limits and the in-flight budget, and the answer.
//!
//! Counting: `GET`/`HEAD /healthz` (kubelet probes, every few seconds) is counted in neither
//! `webhook_requests` nor `webhook_rejected`, and neither is any other method on /healthz (405);
//! every other request is counted in `webhook_requests`, and each of them answered with a
//! non-2xx status in `webhook_rejected` too.
//!
//! Bodies larger than [`INLINE_BODY`] are validated and compacted on the runtime's blocking
//! threads, so that the async workers keep answering (/healthz included) meanwhile.

use super::auth::Token;
use super::body::{self, Body};
use super::budget::Budget;
use super::pipeline::{Outcome, Pipeline};
use super::review;
use crate::config::Config;
use crate::guard;
use crate::metrics::Metrics;
use crate::source::log_limit::LogLimit;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::json;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

/// The probe path; needs no token and no client certificate.
const HEALTHZ: &str = "/healthz";
/// Time allowed for a whole request body (oversize ones included) to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the body of a request refused before its body (see [`Handler::handle`]).
const DISCARD_TIME: Duration = Duration::from_secs(1);
/// Bodies up to this size are taken in on the async worker (well under a millisecond); larger
/// ones on a blocking thread.
const INLINE_BODY: usize = 64 * 1024;

/// What an answer is made of.
type Answer = Response<Full<Bytes>>;

/// The request handler of one webhook server.
#[derive(Debug)]
pub(super) struct Handler {
    path: String,
    token: Option<Token>,
    /// `true` when tlsClientCA is set: the webhook path needs a verified client certificate.
    client_cert_required: bool,
    max_body: usize,
    /// Bytes of bodies held at once by all the server's requests.
    budget: Arc<Budget>,
    metrics: Arc<Metrics>,
    pipeline: Pipeline,
    oversize_warnings: LogLimit,
    shed_warnings: LogLimit,
}

impl Handler {
    /// The handler for reviews POSTed to `path`.
    pub(super) fn new(
        path: &str,
        config: Arc<Config>,
        metrics: Arc<Metrics>,
        client_cert_required: bool,
    ) -> anyhow::Result<Self> {
        let token = config
            .webhook_token_file
            .as_deref()
            .map(Token::load)
            .transpose()?;
        Ok(Self {
            path: path.to_string(),
            token,
            client_cert_required,
            max_body: usize::try_from(config.webhook_max_batch_size).unwrap_or(usize::MAX),
            budget: Arc::new(Budget::of(&config)),
            pipeline: Pipeline::new(config, metrics.clone())?,
            metrics,
            oversize_warnings: LogLimit::new("oversize webhook bodies"),
            shed_warnings: LogLimit::new("shed webhook bodies"),
        })
    }

    /// The pipeline behind the handler (its queue is what `next_batch` drains).
    pub(super) fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Answers one request; `client_verified` tells whether the connection presented a client
    /// certificate that the client CA verified. In order: `/healthz` (counted nowhere: 200 for
    /// `GET` and `HEAD`, else 405), unknown path 404, client certificate then token 401 (before
    /// the method, so that unauthenticated clients learn nothing more), method 405, content
    /// type 415 (these read at most 64 KiB of the body, for 1 s, before answering), then the
    /// body: too slow 408; oversize, shed (no budget left), longer than
    /// maxEventSize, nested too deep to parse, or an internal error: 200 for the uid found in
    /// the body, else 413 (400 when too deep); invalid 400; valid 200. The body's share of the
    /// budget is held until its review is queued or dropped, and given back on every path
    /// (cancelled requests included).
    pub(super) async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        client_verified: bool,
    ) -> Result<Answer, Infallible> {
        if let Some(refusal) = self.refusal(&req, client_verified) {
            // Answered before the body is read: an HTTP/2 stream would then be reset, and
            // clients such as curl lose the answer. A bounded part of the body is read first.
            body::discard(req.into_body(), body::DISCARDED_AT_MOST, DISCARD_TIME).await;
            return Ok(refusal);
        }
        // Held until the review is queued or dropped: the end of this function.
        let mut lease = self.budget.lease();
        let read = body::read(req.into_body(), self.max_body, BODY_TIMEOUT, &mut lease).await;
        Ok(match read {
            Body::Whole(bytes) => {
                Metrics::add(&self.metrics.bytes_read, bytes.len() as u64);
                if bytes.len() <= INLINE_BODY {
                    self.admit(&bytes)
                } else {
                    // The lease goes with the body: it is held until the review is dealt with,
                    // even when the client goes away meanwhile.
                    let handler = self.clone();
                    let task = tokio::task::spawn_blocking(move || {
                        let _lease = lease;
                        handler.admit(&bytes)
                    });
                    match task.await {
                        Ok(answer) => answer,
                        Err(e) => {
                            // Only when the runtime stops before the task runs: admit catches
                            // panics itself.
                            if e.is_panic() {
                                Metrics::add(&self.metrics.panics, 1);
                            }
                            self.error(StatusCode::SERVICE_UNAVAILABLE, "the webhook is stopping")
                        }
                    }
                }
            }
            Body::Oversize {
                head,
                len,
                complete,
            } => self.oversize(&head, len, complete),
            Body::Shed { head, len } => self.shed(&head, len),
            Body::Incomplete { len } => {
                Metrics::add(&self.metrics.bytes_read, len);
                self.error(
                    StatusCode::REQUEST_TIMEOUT,
                    "the body did not arrive in time",
                )
            }
        })
    }

    /// The answer to a request that is not a review for the path, given before its body:
    /// `/healthz`, unknown path, authentication, method, content type (in that order, see
    /// [`Self::handle`]); `None` for a POST of JSON to the path.
    fn refusal(&self, req: &Request<Incoming>, client_verified: bool) -> Option<Answer> {
        let path = req.uri().path();
        if path != self.path && path == HEALTHZ {
            return Some(match *req.method() {
                Method::GET => {
                    self.reply(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#))
                }
                // No body: HTTP/2 refuses DATA frames on a HEAD answer (a stream error).
                Method::HEAD => self.reply(StatusCode::OK, Bytes::new()),
                _ => {
                    let mut answer = self.answer(
                        StatusCode::METHOD_NOT_ALLOWED,
                        json!({ "error": "method not allowed" }).to_string().into(),
                    );
                    answer
                        .headers_mut()
                        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                    answer
                }
            });
        }
        Metrics::add(&self.metrics.webhook_requests, 1);
        if path != self.path {
            return Some(self.error(StatusCode::NOT_FOUND, "unknown path"));
        }
        if self.client_cert_required && !client_verified {
            Metrics::add(&self.metrics.webhook_auth_failures, 1);
            return Some(self.error(StatusCode::UNAUTHORIZED, "a client certificate is required"));
        }
        if let Some(token) = &self.token {
            if !token.admits(req.headers().get(AUTHORIZATION)) {
                Metrics::add(&self.metrics.webhook_auth_failures, 1);
                let mut answer =
                    self.error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
                answer
                    .headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                return Some(answer);
            }
        }
        if req.method() != Method::POST {
            return Some(self.method_not_allowed("POST"));
        }
        if !is_json(req.headers().get(CONTENT_TYPE)) {
            return Some(self.error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
            ));
        }
        None
    }

    /// A whole body through the pipeline, under the panic guard. A panic is counted (in
    /// `panics`, by the guard) and answered like a dropped body: `allowed` for the uid the head
    /// scan finds (a 500 would deny the request under `failurePolicy: Fail`), else 413.
    fn admit(&self, body: &[u8]) -> Answer {
        let outcome = guard::catch(&self.metrics, "webhook request", || {
            self.pipeline.admit(body)
        });
        match outcome {
            Some(Outcome::Answer(answer)) => self.reply(StatusCode::OK, answer.into()),
            Some(Outcome::Invalid(reason)) => self.error(StatusCode::BAD_REQUEST, reason),
            Some(Outcome::ByHead { status, reason }) => {
                self.by_head(review::scan_head(body), status, reason)
            }
            None => self.by_head(
                review::scan_head(body),
                StatusCode::PAYLOAD_TOO_LARGE,
                "internal error, and no request.uid found in the body",
            ),
        }
    }

    /// A body over webhookMaxBatchSize: dropped and counted, allowed when its uid is known
    /// (a denial would block the request under `failurePolicy: Fail`).
    fn oversize(&self, head: &[u8], len: u64, complete: bool) -> Answer {
        Metrics::add(&self.metrics.bytes_read, len);
        Metrics::add(&self.metrics.events_oversize, 1);
        let scanned = review::scan_head(head);
        self.oversize_warnings.warn(|| format!("webhook body of {len} bytes{} dropped: larger than webhookMaxBatchSize ({}); uid {}; see events_oversize",
                if complete { "" } else { " (cut short)" },
                self.max_body,
                scanned.uid.as_deref().unwrap_or("not found"),));
        self.by_head(
            scanned,
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than webhookMaxBatchSize and has no request.uid in its first 64 KiB",
        )
    }

    /// A body the in-flight budget could not hold (other requests hold it all): dropped and
    /// counted in `webhook_bodies_shed`, answered like an oversize body, at once.
    fn shed(&self, head: &[u8], len: u64) -> Answer {
        Metrics::add(&self.metrics.bytes_read, len);
        Metrics::add(&self.metrics.webhook_bodies_shed, 1);
        let scanned = review::scan_head(head);
        self.shed_warnings.warn(|| format!("webhook body of {len} bytes dropped: the bodies in flight already hold the memory budget ({} bytes: queueMaxBytes, at least 2 x webhookMaxBatchSize); uid {}; see webhook_bodies_shed",
                self.budget.limit(),
                scanned.uid.as_deref().unwrap_or("not found"),));
        self.by_head(
            scanned,
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body could not be held (webhook memory budget used up) and has no request.uid in its first 64 KiB",
        )
    }

    /// 200 `allowed: true` for the uid of a dropped body, else `status` with `reason`.
    fn by_head(&self, scanned: review::Head, status: StatusCode, reason: &str) -> Answer {
        match scanned.uid {
            Some(uid) => {
                let answer = review::answer(scanned.api_version.as_deref(), &uid);
                self.reply(StatusCode::OK, answer.into())
            }
            None => self.error(status, reason),
        }
    }

    fn method_not_allowed(&self, allowed: &'static str) -> Answer {
        let mut answer = self.error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        answer
            .headers_mut()
            .insert(ALLOW, HeaderValue::from_static(allowed));
        answer
    }

    fn error(&self, status: StatusCode, reason: &str) -> Answer {
        log::debug!("webhook request answered {status}: {reason}");
        self.reply(status, json!({ "error": reason }).to_string().into())
    }

    /// An answer counted in `webhook_rejected` when it is not a success.
    fn reply(&self, status: StatusCode, body: Bytes) -> Answer {
        if !status.is_success() {
            Metrics::add(&self.metrics.webhook_rejected, 1);
        }
        self.answer(status, body)
    }

    /// An answer, counted nowhere.
    fn answer(&self, status: StatusCode, body: Bytes) -> Answer {
        let mut answer = Response::new(Full::new(body));
        *answer.status_mut() = status;
        answer
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        answer
    }
}

/// `true` for `application/json`, in any case, with or without parameters.
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::Ordering;

    fn body_of(answer: Answer) -> String {
        let collect = answer.into_body().collect();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let bytes = rt.block_on(collect).unwrap().to_bytes();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn a_panic_is_answered_allowed_by_the_uid_in_the_body() {
        let metrics = Arc::new(Metrics::default());
        let handler = Handler::new("/p", Arc::default(), metrics.clone(), false).unwrap();
        let answer = handler.admit(
            br#"{"test-panic":1,"apiVersion":"admission.k8s.io/v1beta1","request":{"uid":"p-1"}}"#,
        );
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(
            body_of(answer),
            r#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","response":{"uid":"p-1","allowed":true}}"#
        );
        let answer = handler.admit(br#"{"test-panic":1}"#);
        assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(metrics.panics.load(Ordering::Relaxed), 2);
        assert_eq!(metrics.webhook_rejected.load(Ordering::Relaxed), 1);
        assert!(handler
            .pipeline()
            .queue()
            .drain(10, Duration::ZERO)
            .is_empty());
    }

    #[test]
    fn content_types() {
        let is = |v: &'static str| is_json(Some(&HeaderValue::from_static(v)));
        assert!(is("application/json"));
        assert!(is("Application/JSON; charset=utf-8"));
        assert!(is(" application/json ;charset=UTF-8"));
        assert!(!is("application/jsonl"));
        assert!(!is("text/plain"));
        assert!(!is("application/x-json"));
        assert!(!is(""));
        assert!(!is_json(None));
        assert!(!is_json(Some(
            &HeaderValue::from_bytes(b"application/json\xff").unwrap()
        )));
    }
}
