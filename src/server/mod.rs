//! The HTTP server: our own accept loop over hyper instead of `axum::serve`, because
//! every resource a client can make ttp hold needs a bound and a timeout, and
//! `axum::serve` has none of these:
//! - at most `TTP_HTTP_MAX_CONNECTIONS` open connections (further ones wait in the
//!   listen backlog; a failing `accept`, e.g. out of file descriptors, pauses the loop
//!   instead of spinning);
//! - `TTP_HTTP_HEADER_TIMEOUT_MS` to send a request's headers (slowloris);
//! - `TTP_HTTP_IDLE_TIMEOUT_MS` for a kept-alive connection with no request in flight,
//!   and for a response the client reads nothing of (a frozen tab on an endless stream);
//! - the body timeout is enforced where bodies are read (`api::extract`);
//! - at shutdown, connections with no request in flight — idle, or stuck half-way
//!   through their headers — close at once; the others finish within the grace period.
//!
//! Each connection is served by `connection.rs`; TLS can wrap the stream before it.

mod activity;
mod connection;
mod drain;
mod stall;
mod tls;

pub use tls::acceptor;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::HttpSettings;

/// File descriptors kept out of the connection limit for Redis connections, the
/// listener, logs and the runtime, so clients can never take the ones workers need.
const RESERVED_FDS: usize = 64;

/// `TTP_HTTP_MAX_CONNECTIONS`, lowered to fit the process's open-file limit when that is
/// smaller (idle clients must not take the descriptors Redis connections need).
fn connection_limit(configured: usize) -> usize {
    let Some(files) = open_file_limit() else { return configured };
    let fits = files.saturating_sub(RESERVED_FDS).max(1);
    if fits < configured {
        tracing::warn!(
            configured,
            open_file_limit = files,
            limit = fits,
            "TTP_HTTP_MAX_CONNECTIONS lowered to fit the open-file limit"
        );
        return fits;
    }
    configured
}

/// The soft limit on open files, from `/proc/self/limits` (Linux); `None` elsewhere or
/// when unlimited.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// How long the accept loop pauses after `accept` failed (e.g. no file descriptors).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Serves `router` on `listener` (over TLS with `tls`) until `shutdown`, then drains
/// connections for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    http: &HttpSettings,
    tls: Option<TlsAcceptor>,
    grace: Duration,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(connection_limit(http.max_connections)));
    let connections = TaskTracker::new();
    let limits = connection::Limits::from(http);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot,
            () = shutdown.cancelled() => break,
        };
        let Ok(slot) = slot else { break };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                let (router, stop, tls) = (router.clone(), shutdown.clone(), tls.clone());
                connections.spawn(async move {
                    match tls {
                        None => connection::serve(stream, peer, router, limits, stop, grace).await,
                        Some(tls) => {
                            let handshake =
                                tokio::time::timeout(limits.header_timeout(), tls.accept(stream));
                            if let Ok(Ok(stream)) = handshake.await {
                                connection::serve(stream, peer, router, limits, stop, grace).await;
                            }
                        }
                    }
                    drop(slot);
                });
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot accept a connection; pausing");
                tokio::time::sleep(ACCEPT_PAUSE).await;
            }
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}
