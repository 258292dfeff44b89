//! A request answered before its body was read (401, 413, 415, 429, the body budget's 503)
//! has its body read to the end and thrown away before the answer goes out. Without this,
//! the connection closes with the client's bytes unread, the kernel answers them with a
//! reset, and a client still sending a large body loses the answer with them: it sees a
//! broken pipe instead of the 503 that says why (one in about a hundred refused 1 MiB
//! bodies, measured). Draining holds no memory beyond hyper's read buffer and is bounded:
//! in bytes, by the body timeout counted from the request's headers (so a body that timed
//! out is not waited for again), and by shutdown; past a bound, or for a client that
//! waits for `100 Continue` and was not asked for the body yet (it has sent nothing, and
//! is told `Connection: close` instead of being asked for a body to throw away), the
//! answer goes out with `Connection: close`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::http::header::EXPECT;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How much of an unread body is drained before the connection is closed instead, as a
/// multiple of the body limit (a declared length far beyond the limit is not waited for).
const DRAIN_BODY_LIMITS: u64 = 2;

/// The bounds of one drain.
#[derive(Debug, Clone, Copy)]
pub struct DrainLimits {
    pub max_bytes: u64,
    pub timeout: Duration,
}

impl DrainLimits {
    /// Drains up to twice the body limit within the body timeout.
    pub fn new(max_body_bytes: usize, body_timeout: Duration) -> Self {
        Self { max_bytes: max_body_bytes as u64 * DRAIN_BODY_LIMITS, timeout: body_timeout }
    }
}

/// A request body that hands itself back, through [`Unread`], when it is dropped before
/// its end.
pub struct Returning {
    inner: Option<Incoming>,
    back: Option<oneshot::Sender<Returned>>,
    /// Some of it was asked for (for a client that waits for `100 Continue`: it was told
    /// to send the body).
    asked: bool,
}

/// A body dropped before its end, and whether any of it had been asked for.
struct Returned {
    body: Incoming,
    asked: bool,
}

/// Receives a body dropped before its end.
pub struct Unread {
    returned: oneshot::Receiver<Returned>,
    /// When the request's headers had arrived: the body timeout runs from then.
    since: Instant,
    /// The client waits for `100 Continue` before it sends the body.
    expects_continue: bool,
}

/// Wraps the body of a request with `headers`; `None` for a body that is empty from the
/// start (nothing to drain).
pub fn track(headers: &HeaderMap, body: Incoming) -> (axum::body::Body, Option<Unread>) {
    if body.is_end_stream() {
        return (axum::body::Body::new(body), None);
    }
    let (back, returned) = oneshot::channel();
    let returning = Returning { inner: Some(body), back: Some(back), asked: false };
    let expects_continue = headers.contains_key(EXPECT);
    let unread = Unread { returned, since: Instant::now(), expects_continue };
    (axum::body::Body::new(returning), Some(unread))
}

impl Body for Returning {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        self.asked = true;
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.back = None; // read to its end (or broken): nothing to hand back
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.as_ref().map(Incoming::size_hint).unwrap_or_default()
    }
}

impl Drop for Returning {
    fn drop(&mut self) {
        if let (Some(back), Some(inner)) = (self.back.take(), self.inner.take())
            && !inner.is_end_stream()
        {
            let _ = back.send(Returned { body: inner, asked: self.asked });
        }
    }
}

impl Unread {
    /// Drains the body if it was dropped before its end; false when it was not drained
    /// (the connection must then close after the answer): the client waits for a
    /// `100 Continue` it was not sent, the body is declared or turns out longer than
    /// `limits` allow, its
    /// time (from the headers) runs out, or the server shuts down.
    pub async fn drain(mut self, limits: DrainLimits, shutdown: &CancellationToken) -> bool {
        let Ok(Returned { body, asked }) = self.returned.try_recv() else {
            return true; // read to its end, or still held by the handler
        };
        if (self.expects_continue && !asked) || body.size_hint().lower() > limits.max_bytes {
            return false;
        }
        let deadline = self.since + limits.timeout;
        tokio::select! {
            drained = tokio::time::timeout_at(deadline, discard(body, limits.max_bytes)) => {
                drained.unwrap_or(false)
            }
            () = shutdown.cancelled() => false,
        }
    }
}

/// Reads `body` to its end, throwing the bytes away; false past `max_bytes` or on error.
async fn discard(mut body: Incoming, max_bytes: u64) -> bool {
    let mut read = 0u64;
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let Ok(frame) = frame else { return false };
        read += frame.data_ref().map_or(0, |d| d.len() as u64);
        if read > max_bytes {
            return false;
        }
    }
    true
}
