//! One HTTP/1.1 connection: hyper serves its requests with a header-read timeout and a
//! small buffer limit, while a watchdog closes it when it has been idle too long, or at
//! shutdown (at once when nothing is in flight, else after its requests within the
//! grace period). A response the client stops reading fails after the idle timeout
//! (`stall.rs`).

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::CONNECTION;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::sync::CancellationToken;

use super::activity::{self, Activity};
use super::drain::{self, DrainLimits};
use super::stall::StallGuard;
use crate::config::HttpSettings;

/// Largest buffer hyper keeps per connection for headers (the smallest it allows is
/// 8 KiB); bounds what a slow or partial request can make a connection hold.
const MAX_BUF_BYTES: usize = 64 * 1024;

/// The timeouts of every connection.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    header_timeout: Duration,
    idle_timeout: Duration,
    drain: DrainLimits,
}

impl Limits {
    /// How long a client may take to send its headers (also its TLS handshake).
    pub fn header_timeout(&self) -> Duration {
        self.header_timeout
    }
}

impl From<&HttpSettings> for Limits {
    fn from(http: &HttpSettings) -> Self {
        Self {
            header_timeout: http.header_timeout,
            idle_timeout: http.idle_timeout,
            drain: DrainLimits::new(http.max_body_bytes, http.body_timeout),
        }
    }
}

/// Serves one connection until it closes, idles out, or shutdown ends it.
pub async fn serve<S>(
    stream: S,
    peer: std::net::SocketAddr,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
    grace: Duration,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let activity = Activity::new();
    let (tracked, stopping) = (activity.clone(), shutdown.clone());
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let (activity, router, shutdown) = (tracked.clone(), router.clone(), stopping.clone());
        async move {
            let (parts, body) = request.into_parts();
            let (body, unread) = drain::track(&parts.headers, body);
            let mut request = Request::from_parts(parts, body);
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            let mut response = activity::track(activity, router, request).await;
            if let Some(unread) = unread
                && !unread.drain(limits.drain, &shutdown).await
            {
                response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_BUF_BYTES)
        .keep_alive(true);
    let stream = StallGuard::new(stream, limits.idle_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    loop {
        // While a request is in flight the connection is not idle: look again later.
        let idle_deadline = match activity.in_flight() {
            0 => activity.idle_since() + limits.idle_timeout,
            _ => tokio::time::Instant::now() + limits.idle_timeout,
        };
        tokio::select! {
            _ = connection.as_mut() => return,
            () = tokio::time::sleep_until(idle_deadline) => {
                if activity.in_flight() == 0 && activity.idle_since() + limits.idle_timeout <= tokio::time::Instant::now() {
                    return; // idle too long: dropping the connection closes it
                }
            }
            () = shutdown.cancelled() => break,
        }
    }
    if activity.in_flight() == 0 {
        return; // idle or half-way through its headers: close at once
    }
    connection.as_mut().graceful_shutdown();
    let _ = tokio::time::timeout(grace, connection).await;
}
