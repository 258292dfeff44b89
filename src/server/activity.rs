//! What a connection is doing: how many requests are in flight on it (until their
//! response bodies are done or dropped, so a streamed response counts) and when it last
//! became idle. The connection's watchdog closes it when it has been idle too long, and
//! at shutdown closes it at once when nothing is in flight.

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http_body::Frame;
use tokio::time::Instant;

/// The activity of one connection.
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    idle_since: Mutex<Instant>,
}

impl Activity {
    /// A new connection: idle since now.
    pub fn new() -> Arc<Self> {
        Arc::new(Self { in_flight: AtomicUsize::new(0), idle_since: Mutex::new(Instant::now()) })
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Since when the connection has had nothing in flight.
    pub fn idle_since(&self) -> Instant {
        self.idle_since.lock().map_or_else(|_| Instant::now(), |at| *at)
    }

    fn begin(&self) {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
    }

    fn end(&self) {
        if let Ok(mut at) = self.idle_since.lock() {
            *at = Instant::now();
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts `request` in flight until its response body is finished or dropped.
pub async fn track(activity: Arc<Activity>, router: axum::Router, request: Request) -> Response {
    use tower::ServiceExt;
    activity.begin();
    let guard = Guard(activity);
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    response.map(|body| Body::new(Tracked { body, _guard: guard }))
}

/// Ends a request's activity when dropped.
struct Guard(Arc<Activity>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// A response body that holds its request's [`Guard`].
struct Tracked {
    body: Body,
    _guard: Guard,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
