//! The dashboard (SPEC §11): `GET /ui`, one page whose HTML, CSS and JavaScript are
//! compiled into the binary, and `GET /ui/events`, its live stream.
//!
//! The page and its files are open (they hold no data; see `auth::scopes`); every piece
//! of data comes from the API with the viewer's key, so the API's scopes apply to the
//! page as to any client: `read` to watch, `admin` for pause, resume, retry and cancel.
//! The key stays in the tab's `sessionStorage` and travels as a bearer header; there
//! are no cookies, so there is nothing for another site to forge a request with.
//!
//! The page's URLs are relative (`ui/assets/app.js`, `queues`), so it also works when a
//! proxy serves ttp under a path prefix.

mod assets;
pub mod events;

pub use assets::CONTENT_SECURITY_POLICY;

use std::sync::Arc;

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use serde::Serialize;

use super::ApiError;
use super::auth::Guard;
use assets::Assets;

/// What the page needs to know before it calls the API (`GET /ui/config`, open): whether
/// to ask for a key first (so an open page never starts with a 401), and which optional
/// APIs this server has.
#[derive(Debug, Serialize)]
struct PageConfig {
    keys_required: bool,
    schedules: bool,
    version: &'static str,
}

/// The page's routes: its HTML, its files and its configuration. They are not in the
/// API document: they hold no data. `schedules`: whether the API has `/schedules`.
pub fn pages<S: Clone + Send + Sync + 'static>(guard: Arc<Guard>, schedules: bool) -> Router<S> {
    let files = Arc::new(Assets::new());
    let page = files.clone();
    let config = move || {
        let keys_required = !guard.keys().is_empty();
        let body = PageConfig { keys_required, schedules, version: env!("CARGO_PKG_VERSION") };
        let mut response = Json(body).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        assets::secure(response.headers_mut());
        response
    };
    Router::new()
        .route(
            "/ui",
            get(move |headers: HeaderMap| async move { serve(&page, "index.html", &headers) }),
        )
        .route(
            "/ui/assets/{file}",
            get(move |Path(file): Path<String>, headers: HeaderMap| async move {
                serve(&files, &file, &headers)
            }),
        )
        .route("/ui/config", get(move || std::future::ready(config())))
        .route("/ui/", get(|| async { redirect_to_page() }))
}

fn serve(files: &Assets, name: &str, headers: &HeaderMap) -> Response {
    files.respond(name, headers).unwrap_or_else(|| {
        ApiError::NotFound(format!("no dashboard file {name:?}")).into_response()
    })
}

/// `/ui/` → `/ui` (relative, so it holds under a path prefix too).
fn redirect_to_page() -> Response {
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    response.headers_mut().insert(header::LOCATION, HeaderValue::from_static("../ui"));
    response
}
