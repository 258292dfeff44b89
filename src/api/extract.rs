//! Extractors whose rejections come out as problem details with the status SPEC §2 asks
//! for (400 malformed or wrongly typed, 413 too large, 415 not JSON), and the one mapper
//! from a serde error to the offending field, used for bodies, batch items and queries.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, StatusCode, header, request::Parts};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::unique_keys;

/// The longest a request body may take to arrive (`TTP_HTTP_BODY_TIMEOUT_MS`), carried
/// to the extractor as a request extension.
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// The body timeout when the router sets none (tests of single routes).
const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// `Json<T>` with problem-details rejections naming the offending field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let limit = request.extensions().get::<BodyTimeout>().map_or(DEFAULT_BODY_TIMEOUT, |t| t.0);
        let read = tokio::time::timeout(limit, Bytes::from_request(request, state));
        let bytes = read.await.map_err(|_| ApiError::BodyTimeout)?.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::TooLarge
            } else {
                ApiError::BadRequest { detail: rejection.body_text(), field: None }
            }
        })?;
        parse_json(&bytes, "").map(Self)
    }
}

/// `application/json` or any `application/*+json` media type.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json"
        || essence.strip_prefix("application/").is_some_and(|sub| sub.ends_with("+json"))
}

/// Parses JSON text as `T` (a JSON object with no key given twice anywhere inside);
/// errors name the offending field below `prefix`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], prefix: &str) -> Result<T, ApiError> {
    let field = prefix.trim_end_matches('.');
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        let what = if field.is_empty() { "the body" } else { field };
        return Err(ApiError::BadRequest {
            detail: format!("{what} must be a JSON object"),
            field: (!field.is_empty()).then(|| field.to_owned()),
        });
    }
    unique_keys::check(bytes).map_err(|e| bad_request(e, prefix))?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value =
        serde_path_to_error::deserialize(&mut deserializer).map_err(|e| bad_request(e, prefix))?;
    deserializer.end().map_err(|e| ApiError::BadRequest {
        detail: format!("malformed JSON: {e}"),
        field: None,
    })?;
    Ok(value)
}

/// A JSON body error: malformed text, or a value that does not fit (naming the field).
fn bad_request(error: serde_path_to_error::Error<serde_json::Error>, prefix: &str) -> ApiError {
    let inner = error.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::BadRequest { detail: format!("malformed JSON: {inner}"), field: None };
    }
    field_error(error.path(), inner.to_string(), prefix, "")
}

/// The one mapper from a serde error to a 400 naming the field: the error's path, or
/// for a missing or unknown field at the top the field serde names in its message.
fn field_error(
    path: &serde_path_to_error::Path,
    message: String,
    prefix: &str,
    context: &str,
) -> ApiError {
    let named = message.split('`').nth(1).filter(|_| message.contains(" field `"));
    let field = match (path.to_string().as_str(), named) {
        (".", Some(name)) => Some(format!("{prefix}{name}")),
        (".", None) => None,
        (path, _) => Some(format!("{prefix}{path}")),
    };
    let detail = match &field {
        Some(field) => format!("{context}{field}: {message}"),
        None => format!("{context}{message}"),
    };
    ApiError::BadRequest { detail, field }
}

/// `Query<T>` with problem-details rejections (400 naming the parameter).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Self)
            .map_err(|e| field_error(e.path(), e.inner().to_string(), "", "invalid query: "))
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        kind: String,
        priority: Option<i64>,
    }

    fn field_of(text: &str, prefix: &str) -> Option<String> {
        match parse_json::<Body>(text.as_bytes(), prefix) {
            Err(ApiError::BadRequest { field, .. }) => field,
            other => panic!("expected a 400 for {text}, got {other:?}"),
        }
    }

    #[test]
    fn paths_and_missing_or_unknown_fields_are_named() {
        assert_eq!(field_of(r#"{"kind":"x","priority":"high"}"#, "").as_deref(), Some("priority"));
        assert_eq!(field_of(r#"{"priority":1}"#, "").as_deref(), Some("kind"));
        assert_eq!(
            field_of(r#"{"kind":"x","nope":1}"#, "tasks[2].").as_deref(),
            Some("tasks[2].nope")
        );
        assert_eq!(field_of(r#"{"kind":"x""#, ""), None);
        assert_eq!(field_of(r#"{"kind":"x"} trailing"#, ""), None);
        assert_eq!(field_of(r#"["x", 1]"#, ""), None);
        assert_eq!(field_of(r#"{"kind":"x","kind":"y"}"#, ""), None);
        let nested = r#"{"kind":"x","payload":{"a":[{"b":1,"b":2}]}}"#;
        assert_eq!(field_of(nested, "").as_deref(), Some("payload.a[0]"));
    }

    #[test]
    fn json_media_types_are_recognised() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                value.parse().unwrap_or(header::HeaderValue::from_static("x")),
            );
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/problem+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/jsonx"));
    }
}
