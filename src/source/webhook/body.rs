//! Reading a request body under webhookMaxBatchSize, the in-flight budget and the body timeout.
//! The buffer grows as bytes arrive (never by the declared length), each growth taken from the
//! request's [`Lease`] first. Past the limit, or when the budget refuses, only the first 64 KiB
//! are kept and the rest is read and dropped.

use super::budget::Lease;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Body as HttpBody;
use std::time::Duration;
use tokio::time::{timeout_at, Instant};

/// What is kept of a body over the limit or shed: enough for its uid.
pub(super) const HEAD_KEPT: usize = 64 * 1024;

/// The most of a refused request's body that is read (and dropped) before the answer.
pub(super) const DISCARDED_AT_MOST: u64 = 64 * 1024;

/// A body as read.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Body {
    /// The whole body, within the limit and the budget.
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
    /// A body within the limit that arrived whole but could not be held: the budget shared by
    /// all requests was used up by others.
    Shed {
        /// The first [`HEAD_KEPT`] bytes (fewer only when the heads' allowance was used up too).
        head: Vec<u8>,
        /// Bytes received.
        len: u64,
    },
    /// A body within the limit that did not arrive whole in time (or whose stream failed).
    Incomplete {
        /// Bytes received.
        len: u64,
    },
}

/// Reads and drops `body` until its end, `limit` bytes or `time`, whichever comes first.
pub(super) async fn discard<B>(mut body: B, limit: u64, time: Duration)
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    let deadline = Instant::now() + time;
    let mut len = 0u64;
    while len < limit {
        match timeout_at(deadline, body.frame()).await {
            Ok(Some(Ok(frame))) => len += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => return,
        }
    }
}

/// Reads `body`, holding at most `limit` bytes and only what `lease` grants, for at most
/// `time`. The declared length is never reserved up front: a client that declares 12 MiB and
/// sends nothing holds nothing. When this returns the lease covers the body's buffer: the
/// caller keeps it until the body is dealt with (queued or dropped).
pub(super) async fn read<B>(mut body: B, limit: usize, time: Duration, lease: &mut Lease) -> Body
where
    B: HttpBody<Data = Bytes> + Unpin,
{
    let deadline = Instant::now() + time;
    let declared = body.size_hint().exact();
    let oversize_declared = declared.is_some_and(|n| n > limit as u64);
    let mut kept = Kept {
        buf: Vec::new(),
        keep: if oversize_declared { HEAD_KEPT } else { limit },
    };
    let mut oversize = oversize_declared;
    let mut shed = false;
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
            kept.cut(HEAD_KEPT, lease);
        }
        if !kept.append(&data, lease) {
            // Refused: keep the head only (from the heads' allowance), or stop keeping when
            // even that is refused, so that the head stays contiguous.
            shed |= !oversize;
            kept.cut(HEAD_KEPT, lease);
            if !kept.append(&data, lease) {
                let held = kept.buf.len();
                kept.cut(held, lease);
            }
        }
    };
    match (oversize, shed, complete) {
        (true, _, _) => Body::Oversize {
            head: kept.buf,
            len,
            complete,
        },
        (false, _, false) => Body::Incomplete { len },
        (false, true, true) => Body::Shed {
            head: kept.buf,
            len,
        },
        (false, false, true) => Body::Whole(kept.buf),
    }
}

/// The bytes kept of a body, and how many may be.
struct Kept {
    buf: Vec<u8>,
    /// Bytes that may be kept: the limit; [`HEAD_KEPT`] or fewer once cut.
    keep: usize,
}

impl Kept {
    /// Appends what may be kept of `data`, growing the buffer only when the lease grants the
    /// new capacity; `false` (nothing appended) when it does not.
    fn append(&mut self, data: &[u8], lease: &mut Lease) -> bool {
        let room = self.keep.saturating_sub(self.buf.len()).min(data.len());
        let needed = self.buf.len() + room;
        if needed > self.buf.capacity() {
            // Amortised doubling (so at most twice what arrived), or exactly what is needed
            // when the budget cannot grant more.
            let ample = needed.max(self.buf.capacity().saturating_mul(2).min(self.keep));
            let Some(capacity) = [ample, needed].into_iter().find(|&c| lease.grow_to(c)) else {
                return false;
            };
            self.buf.reserve_exact(capacity - self.buf.len());
        }
        self.buf.extend_from_slice(&data[..room]);
        true
    }

    /// Keeps at most `keep` bytes from now on, and gives back the capacity no longer used.
    fn cut(&mut self, keep: usize, lease: &mut Lease) {
        self.keep = self.keep.min(keep);
        if self.buf.len() > self.keep {
            self.buf.truncate(self.keep);
        }
        self.buf.shrink_to(self.keep);
        lease.shrink_to(self.buf.capacity());
    }
}

#[cfg(test)]
mod tests {
    use super::super::budget::Budget;
    use super::*;
    use http_body_util::Full;
    use hyper::body::{Frame, SizeHint};
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    fn run<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Reads under a budget that never refuses.
    fn read_freely<B>(body: B, limit: usize, time: Duration) -> Body
    where
        B: HttpBody<Data = Bytes> + Unpin,
    {
        let budget = Arc::new(Budget::new(usize::MAX, 0));
        let mut lease = budget.lease();
        run(read(body, limit, time, &mut lease))
    }

    /// `n` chunks of `size` bytes, with a declared length when `declared` is set; then stalls
    /// forever when `stall`.
    struct Chunks {
        n: usize,
        size: usize,
        stall: bool,
        declared: Option<u64>,
    }

    impl Chunks {
        fn new(n: usize, size: usize, stall: bool) -> Self {
            Self {
                n,
                size,
                stall,
                declared: None,
            }
        }
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
        fn size_hint(&self) -> SizeHint {
            self.declared
                .map_or_else(SizeHint::default, SizeHint::with_exact)
        }
    }

    #[test]
    fn whole_bodies_within_the_limit() {
        let got = read_freely(
            Full::new(Bytes::from_static(b"{}")),
            10,
            Duration::from_secs(1),
        );
        assert_eq!(got, Body::Whole(b"{}".to_vec()));
        assert_eq!(
            read_freely(Chunks::new(3, 4, false), 12, Duration::from_secs(1)),
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
        } = read_freely(declared, 100_000, Duration::from_secs(1))
        else {
            panic!("not oversize")
        };
        assert_eq!((head.len(), len, complete), (HEAD_KEPT, 200_000, true));
        let streamed = Chunks::new(100, 10_000, false);
        let Body::Oversize { head, len, .. } =
            read_freely(streamed, 150_000, Duration::from_secs(1))
        else {
            panic!("not oversize")
        };
        assert_eq!((head.len(), len), (HEAD_KEPT, 1_000_000));
        assert!(head.capacity() <= 2 * HEAD_KEPT);
    }

    #[test]
    fn slow_bodies_stop_at_the_timeout() {
        let slow = Chunks::new(1, 5, true);
        assert_eq!(
            read_freely(slow, 100, Duration::from_millis(50)),
            Body::Incomplete { len: 5 }
        );
    }

    #[test]
    fn the_lease_covers_the_buffer_and_never_the_declared_length() {
        let budget = Arc::new(Budget::new(usize::MAX, 0));
        let mut lease = budget.lease();
        let mut absent = Chunks::new(0, 0, true);
        absent.declared = Some(12 << 20);
        let got = run(read(
            absent,
            12 << 20,
            Duration::from_millis(50),
            &mut lease,
        ));
        assert_eq!((got, lease.held()), (Body::Incomplete { len: 0 }, 0));
        let Body::Whole(buf) = run(read(
            Chunks::new(40, 10_000, false),
            1 << 20,
            Duration::from_secs(1),
            &mut lease,
        )) else {
            panic!("not whole")
        };
        assert_eq!(buf.len(), 400_000);
        assert_eq!(lease.held(), buf.capacity());
        assert!(buf.capacity() < 2 * buf.len());
    }

    #[test]
    fn bodies_the_budget_refuses_are_shed_down_to_their_head() {
        let budget = Arc::new(Budget::new(300_000, HEAD_KEPT));
        let other = {
            let mut lease = budget.lease();
            assert!(lease.grow_to(200_000));
            lease
        };
        let mut lease = budget.lease();
        let got = run(read(
            Chunks::new(40, 10_000, false),
            1 << 20,
            Duration::from_secs(1),
            &mut lease,
        ));
        let Body::Shed { head, len } = got else {
            panic!("not shed: {got:?}")
        };
        assert_eq!((head.len(), len), (HEAD_KEPT, 400_000));
        assert_eq!(lease.held(), head.capacity());
        drop(lease);
        // The same body fits once the other request is done.
        drop(other);
        let mut lease = budget.lease();
        let got = run(read(
            Chunks::new(20, 10_000, false),
            1 << 20,
            Duration::from_secs(1),
            &mut lease,
        ));
        assert_eq!(got, Body::Whole(vec![b'x'; 200_000]));
    }

    #[test]
    fn a_head_is_cut_short_when_even_the_heads_allowance_is_used_up() {
        let budget = Arc::new(Budget::new(0, 25_000));
        let mut lease = budget.lease();
        let got = run(read(
            Chunks::new(5, 10_000, false),
            1 << 20,
            Duration::from_secs(1),
            &mut lease,
        ));
        // 10 000 then 20 000 bytes are granted; the third chunk is refused.
        assert_eq!(
            got,
            Body::Shed {
                head: vec![b'x'; 20_000],
                len: 50_000
            }
        );
        let oversize = run(read(
            Chunks::new(5, 10_000, false),
            20_000,
            Duration::from_secs(1),
            &mut budget.lease(),
        ));
        assert!(
            matches!(oversize, Body::Oversize { ref head, len: 50_000, complete: true } if head.len() <= 5_000),
            "{oversize:?}"
        );
    }

    #[test]
    fn discard_reads_to_the_end_the_limit_or_the_time() {
        let mut endless = Chunks::new(usize::MAX, 1_000, false);
        run(discard(&mut endless, 64_000, Duration::from_secs(5)));
        assert_eq!(usize::MAX - endless.n, 64, "stopped at the limit");
        let mut short = Chunks::new(3, 1_000, false);
        run(discard(&mut short, 64_000, Duration::from_secs(5)));
        assert_eq!(short.n, 0, "read to its end");
        let started = std::time::Instant::now();
        run(discard(
            Chunks::new(1, 10, true),
            64_000,
            Duration::from_millis(100),
        ));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "a stalled body is given up"
        );
    }
}
