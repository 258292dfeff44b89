//! HTTP layers around every route: request ids, CORS (off unless origins are
//! configured), gzip for large responses, and a deadline on the whole request that
//! answers problem details rather than hanging.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestId, RequestId};

use super::ApiError;

/// The request id header: propagated when the client sends one, else generated.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Responses smaller than this are not worth compressing.
pub const COMPRESS_ABOVE_BYTES: u16 = 1024;

/// Request ids are ULIDs: unique and time-ordered, like task ids.
#[derive(Clone, Copy, Default)]
pub struct UlidRequestId;

impl MakeRequestId for UlidRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        ulid::Ulid::new().to_string().parse().ok().map(RequestId::new)
    }
}

/// gzip when the client accepts it and the body is at least [`COMPRESS_ABOVE_BYTES`].
pub fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .compress_when(DefaultPredicate::new().and(SizeAbove::new(COMPRESS_ABOVE_BYTES)))
}

/// CORS for `origins` (`TTP_CORS_ORIGINS`, comma-separated, `*` for any); `None` (no
/// CORS headers at all, so browsers keep the same-origin policy) when empty.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    let exposed = [header::LOCATION, header::RETRY_AFTER, REQUEST_ID];
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                HeaderName::from_static("x-api-key"),
                HeaderName::from_static("idempotency-key"),
                REQUEST_ID,
            ])
            .expose_headers(
                exposed
                    .into_iter()
                    .chain([HeaderName::from_static("idempotent-replayed")])
                    .collect::<Vec<_>>(),
            )
            .max_age(Duration::from_secs(3600)),
    )
}

/// Ends a request that takes longer than `limit` with a 503 problem (and `Retry-After`)
/// instead of letting it hang; the handler's future is dropped.
pub async fn deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let ms = limit.as_millis();
            tracing::warn!(timeout_ms = ms, "request timed out");
            ApiError::RequestDeadline(ms).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn a_request_past_its_deadline_is_a_503_problem_with_retry_after() {
        let slow = || async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        };
        let app = Router::new()
            .route("/slow", get(slow))
            .layer(axum::middleware::from_fn_with_state(Duration::from_millis(20), deadline));
        let request = axum::http::Request::get("/slow").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/problem+json");
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(problem["status"], 503, "{problem}");
    }

    #[test]
    fn cors_is_off_without_origins() {
        assert!(cors(&[]).is_none());
        assert!(cors(&["https://a.example".to_owned()]).is_some());
    }
}
