//! Reading a request body under webhookMaxBatchSize and the body timeout: at most the limit is
//! held in memory; past it only the first 64 KiB are kept and the rest is read and dropped.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body as HttpBody;
use std::time::Duration;
use tokio::time::{timeout_at, Instant};

/// What is kept of a body over the limit: enough for its uid.
pub(super) const HEAD_KEPT: usize = 64 * 1024;

/// A body as read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Body {
    /// The whole body, within the limit.
    Whole(Vec<u8>),
    /// A body over the limit (declared or seen): its first bytes and its length.
    Oversize {
        /// The first [`HEAD_KEPT`] bytes.
        head: Vec<u8>,
        /// Bytes received.
        len: u64,
        /// `false` when the client was too slow or went away before the end.
        complete: bool,
    },
    /// A body within the limit that did not arrive whole in time (or whose stream failed).
    Incomplete {
        /// Bytes received.
        len: u64,
    },
}

/// Reads `body`, holding at most `limit` bytes, for at most `time`.
pub(super) async fn read<B>(mut body: B, limit: usize, time: Duration) -> Body
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    let deadline = Instant::now() + time;
    let declared = body.size_hint().exact();
    let mut oversize = declared.is_some_and(|n| n > limit as u64);
    let first = declared.map_or(8 * 1024, |n| usize::try_from(n).unwrap_or(limit));
    let mut buf = Vec::with_capacity(first.min(if oversize { HEAD_KEPT } else { limit }));
    let mut len = 0u64;
    let complete = loop {
        let data = match timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => match frame.into_data() {
                Ok(data) => data,
                Err(_trailers) => continue,
            },
            Ok(None) => break true,
            Ok(Some(Err(_))) | Err(_) => break false,
        };
        len += data.len() as u64;
        if !oversize && len > limit as u64 {
            oversize = true;
            buf.truncate(HEAD_KEPT);
            buf.shrink_to(HEAD_KEPT);
        }
        let keep = if oversize { HEAD_KEPT } else { limit };
        let room = keep.saturating_sub(buf.len()).min(data.len());
        buf.extend_from_slice(&data[..room]);
    };
    match (oversize, complete) {
        (true, _) => Body::Oversize {
            head: buf,
            len,
            complete,
        },
        (false, true) => Body::Whole(buf),
        (false, false) => Body::Incomplete { len },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Frame;
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// `n` chunks of `size` bytes, with no declared length; then stalls forever when `stall`.
    struct Chunks {
        n: usize,
        size: usize,
        stall: bool,
    }

    impl HttpBody for Chunks {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            if self.n == 0 {
                return if self.stall {
                    Poll::Pending
                } else {
                    Poll::Ready(None)
                };
            }
            self.n -= 1;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; self.size])))))
        }
    }

    #[test]
    fn whole_bodies_within_the_limit() {
        let got = run(read(
            Full::new(Bytes::from_static(b"{}")),
            10,
            Duration::from_secs(1),
        ));
        assert_eq!(got, Body::Whole(b"{}".to_vec()));
        let chunked = Chunks {
            n: 3,
            size: 4,
            stall: false,
        };
        assert_eq!(
            run(read(chunked, 12, Duration::from_secs(1))),
            Body::Whole(vec![b'x'; 12])
        );
    }

    #[test]
    fn oversize_bodies_keep_only_their_head() {
        let declared = Full::new(Bytes::from(vec![b'y'; 200_000]));
        let Body::Oversize {
            head,
            len,
            complete,
        } = run(read(declared, 100_000, Duration::from_secs(1)))
        else {
            panic!("not oversize")
        };
        assert_eq!((head.len(), len, complete), (HEAD_KEPT, 200_000, true));
        let streamed = Chunks {
            n: 100,
            size: 10_000,
            stall: false,
        };
        let Body::Oversize { head, len, .. } = run(read(streamed, 150_000, Duration::from_secs(1)))
        else {
            panic!("not oversize")
        };
        assert_eq!((head.len(), len), (HEAD_KEPT, 1_000_000));
        assert!(head.capacity() <= 2 * HEAD_KEPT);
    }

    #[test]
    fn slow_bodies_stop_at_the_timeout() {
        let slow = Chunks {
            n: 1,
            size: 5,
            stall: true,
        };
        assert_eq!(
            run(read(slow, 100, Duration::from_millis(50))),
            Body::Incomplete { len: 5 }
        );
    }
}
