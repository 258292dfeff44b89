//! `GET /ui/events`: the dashboard's live stream (server-sent events). Every viewer reads
//! the process's shared snapshot (`dashboard`), so a viewer costs no Redis call; each
//! event is that snapshot limited to the queues the viewer's key may read.
//!
//! The stream sends a snapshot each second, which also keeps proxies from closing it as
//! idle. It ends with an `event: bye` at shutdown (`reason: shutdown`) and when the API
//! keys are re-read (`reason: keys-reloaded`), so a revoked key loses the stream at once:
//! the page reconnects by itself and presents its key again. The page reads it with
//! `fetch`, which can send the key as a bearer header (`EventSource` cannot, and a key in
//! a URL would end up in logs).

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio_util::sync::CancellationToken;

use super::assets::secure;
use crate::access::{KeyRing, Principal};
use crate::api::auth::{Caller, Guard};
use crate::api::{ApiError, AppState, openapi};
use crate::dashboard::{INTERVAL, Snapshot, SnapshotView};

/// Dashboard stream
///
/// Server-sent events (`text/event-stream`): an `event: snapshot` each second whose
/// `data` is a `SnapshotView`: every queue the key may read with its queued, scheduled,
/// running and dead counts, paused flag, rates in and out per second (from Redis: the
/// whole deployment), and this process's p99 end-to-end latency and busy workers. One
/// snapshot per process is shared by all viewers, so viewers add no Redis load. The
/// stream ends with `event: bye` (`data: {"reason": "shutdown" | "keys-reloaded"}`);
/// reconnect then. Send the key as a header, never in the URL.
#[utoipa::path(
    get,
    path = "/ui/events",
    operation_id = "dashboardEvents",
    tag = "dashboard",
    responses(
        (status = 200, description = "An endless stream of `event: snapshot` messages, one per second; each `data` line is a SnapshotView.",
         content_type = "text/event-stream", body = SnapshotView,
         example = json!(openapi::examples::snapshot_view())),
        (status = 503, response = openapi::Unavailable),
    )
)]
pub async fn events(State(state): State<AppState>, caller: Caller) -> Response {
    let Some(permit) = state.dashboard.admit() else {
        return ApiError::TooManyStreams(state.dashboard.max_streams()).into_response();
    };
    let snapshots = state.dashboard.subscribe();
    let watch = Watch {
        _permit: permit,
        snapshots,
        principal: caller.principal,
        guard: state.guard.clone(),
        keys: state.guard.keys(),
        shutdown: state.shutdown.clone(),
        first: true,
    };
    let mut response = Body::from_stream(stream(watch)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Proxies (nginx) must pass each event on at once rather than buffer the stream.
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    secure(headers);
    response
}

/// One viewer's place in the stream.
struct Watch {
    /// Its place among `TTP_UI_MAX_STREAMS`, given back when the stream ends or the
    /// client goes away (hyper drops the body).
    _permit: OwnedSemaphorePermit,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    principal: Arc<Principal>,
    guard: Arc<Guard>,
    keys: Arc<KeyRing>,
    shutdown: CancellationToken,
    first: bool,
}

/// How the stream goes on.
enum Next {
    Send(Arc<Snapshot>),
    Bye(&'static str),
    End,
}

impl Watch {
    /// The next snapshot to send (the latest at once, the first time), or why to stop.
    async fn next(&mut self) -> Next {
        if std::mem::take(&mut self.first) {
            let latest = self.snapshots.borrow_and_update().clone();
            if latest.seq > 0 {
                return Next::Send(latest);
            }
        }
        loop {
            tokio::select! {
                changed = self.snapshots.changed() => {
                    if changed.is_err() {
                        return Next::End;
                    }
                }
                () = self.shutdown.cancelled() => return Next::Bye("shutdown"),
            }
            if !Arc::ptr_eq(&self.keys, &self.guard.keys()) {
                return Next::Bye("keys-reloaded");
            }
            let latest = self.snapshots.borrow_and_update().clone();
            // seq 0: the sampler restarted and has no snapshot yet.
            if latest.seq > 0 {
                return Next::Send(latest);
            }
        }
    }
}

/// The events of one viewer.
fn stream(watch: Watch) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    let interval_ms = INTERVAL.as_millis() as u64;
    stream::unfold(Some(watch), move |watch| async move {
        let mut watch = watch?;
        let event = match watch.next().await {
            Next::Send(snapshot) => {
                let view = snapshot.view_for(&watch.principal, interval_ms);
                let data = serde_json::to_string(&view).unwrap_or_else(|_| "{}".into());
                format!("event: snapshot\nid: {}\ndata: {data}\n\n", view.seq)
            }
            Next::Bye(reason) => {
                let event = format!("event: bye\ndata: {{\"reason\":\"{reason}\"}}\n\n");
                return Some((Ok(Bytes::from(event)), None));
            }
            Next::End => return None,
        };
        Some((Ok(Bytes::from(event)), Some(watch)))
    })
}
