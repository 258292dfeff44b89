//! A JSON body extractor whose rejections come out as problem details with the status
//! SPEC §2 asks for (400 malformed or wrongly typed, 413 too large, 415 not JSON) and the
//! offending field named where serde knows it.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// `Json<T>` with problem-details rejections.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(reject(rejection)),
        }
    }
}

fn reject(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::JsonDataError(e) => {
            let (field, detail) = split_path(&e.body_text());
            ApiError::BadRequest { detail, field }
        }
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest {
            detail: format!("malformed JSON: {}", strip_prefix(&e.body_text())),
            field: None,
        },
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
        other => ApiError::BadRequest { detail: other.body_text(), field: None },
    }
}

fn strip_prefix(text: &str) -> &str {
    text.split_once("target type: ")
        .or_else(|| text.split_once("query string: "))
        .or_else(|| text.split_once("JSON: "))
        .map_or(text, |(_, rest)| rest)
}

/// Splits serde_path_to_error's `path: message` and names missing/unknown fields.
fn split_path(text: &str) -> (Option<String>, String) {
    let message = strip_prefix(text);
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_owned);
    if let Some((path, rest)) = message.split_once(": ")
        && !path.contains(' ')
        && path != "."
    {
        return (Some(path.to_owned()), format!("{path}: {rest}"));
    }
    let field = if message.contains("missing field") || message.contains("unknown field") {
        quoted(message)
    } else {
        None
    };
    (field, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_missing_fields_are_named() {
        let typed = "Failed to deserialize the JSON body into the target type: priority: invalid type: string \"x\", expected i64 at line 1 column 20";
        assert_eq!(split_path(typed).0.as_deref(), Some("priority"));
        let missing = "Failed to deserialize the JSON body into the target type: missing field `kind` at line 1 column 2";
        assert_eq!(split_path(missing).0.as_deref(), Some("kind"));
    }
}

/// `Query<T>` with problem-details rejections (400 naming the parameter).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                let text = rejection.body_text();
                let message = text.split_once("string: ").map_or(text.as_str(), |(_, m)| m);
                let field = message.split('`').nth(1).map(str::to_owned);
                Err(ApiError::BadRequest { detail: format!("invalid query: {message}"), field })
            }
        }
    }
}
