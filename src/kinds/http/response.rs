//! What a receiver's answer (or the lack of one) means for the task.
//!
//! - 2xx: success; the result is `{"status", "headers", "body"}`. `body` is the parsed
//!   JSON when the answer says it is JSON (`application/json`, `…+json`) and parses, else
//!   the text (`null` when empty). Only the first [`BODY_CAP`] bytes are read: past it
//!   `body` is that much text and `"truncated": true` is added.
//! - 429 and 5xx: retryable, not before the answer's `Retry-After` (seconds or an HTTP
//!   date). 3xx (a redirect not followed) and other 4xx: permanent. The error names the
//!   status and starts with the answer's body.
//! - No answer (connection refused or reset, TLS failure, a timeout): retryable; a
//!   refused redirect or a request that cannot be built: permanent.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use reqwest::header::{CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{Response, StatusCode};
use serde_json::{Map, Value, json};

use crate::task::TaskError;

/// Most bytes of a successful answer's body kept in the result.
pub(super) const BODY_CAP: usize = 64 * 1024;
/// Most bytes of a failed answer's body quoted in the error.
const ERROR_EXCERPT: usize = 200;
/// Longest wait for a failed answer's body: the error matters, the excerpt does not.
const EXCERPT_WAIT: Duration = Duration::from_secs(2);

/// The outcome of an attempt that got an answer.
pub(super) async fn outcome(response: Response) -> Result<Value, TaskError> {
    let status = response.status();
    if status.is_success() {
        return success(response).await;
    }
    let retry_after = retry_after(response.headers(), SystemTime::now());
    let excerpt = tokio::time::timeout(EXCERPT_WAIT, read_capped(response, ERROR_EXCERPT))
        .await
        .ok()
        .and_then(Result::ok)
        .map(|(bytes, _)| text(&bytes).trim().to_owned())
        .unwrap_or_default();
    let mut message = format!("HTTP {status}");
    if !excerpt.is_empty() {
        message = format!("{message}: {excerpt}");
    }
    Err(match (status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error(), retry_after) {
        (true, Some(delay)) => {
            let message = format!("{message} (Retry-After: {} s)", delay.as_secs_f64().ceil());
            TaskError::retry_later(message, delay)
        }
        (true, None) => TaskError::retryable(message),
        (false, _) => TaskError::permanent(message),
    })
}

/// The result of a 2xx answer.
async fn success(response: Response) -> Result<Value, TaskError> {
    let status = response.status().as_u16();
    let headers = header_map(response.headers());
    let json = is_json(response.headers());
    let (bytes, truncated) = read_capped(response, BODY_CAP).await.map_err(|e| {
        TaskError::retryable(format!("HTTP {status}, then the body broke off: {}", chain(&e)))
    })?;
    let mut result =
        json!({"status": status, "headers": headers, "body": body(&bytes, json && !truncated)});
    if truncated {
        result["truncated"] = Value::Bool(true);
    }
    Ok(result)
}

/// The error of an attempt that got no answer.
pub(super) fn failure(error: &reqwest::Error) -> TaskError {
    let message = chain(error);
    if error.is_redirect() || error.is_builder() {
        TaskError::permanent(message)
    } else {
        TaskError::retryable(message)
    }
}

/// An error and its causes, `: `-separated (reqwest's top line alone says little).
fn chain(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// Up to `cap` bytes of the body, and whether there was more.
async fn read_capped(
    mut response: Response,
    cap: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = cap - bytes.len();
        if chunk.len() > room {
            bytes.extend_from_slice(&chunk[..room]);
            return Ok((bytes, true));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok((bytes, false))
}

/// The body as the result shows it: JSON when `json` and it parses, else text; `null`
/// when empty.
fn body(bytes: &[u8], json: bool) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    if json && let Ok(value) = serde_json::from_slice(bytes) {
        return value;
    }
    Value::String(text(bytes))
}

/// `bytes` as text, invalid UTF-8 replaced; a cut may split a character, whose
/// incomplete tail is dropped rather than shown as U+FFFD.
fn text(bytes: &[u8]) -> String {
    let whole = match std::str::from_utf8(bytes) {
        Err(e) if e.error_len().is_none() => &bytes[..e.valid_up_to()],
        _ => bytes,
    };
    String::from_utf8_lossy(whole).into_owned()
}

/// Whether the answer's `Content-Type` is JSON.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(Ok(content_type)) = headers.get(CONTENT_TYPE).map(|v| v.to_str()) else {
        return false;
    };
    let mime = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The headers as a JSON object; repeated names joined with `, `.
fn header_map(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        match map.get_mut(name.as_str()) {
            Some(Value::String(seen)) => {
                seen.push_str(", ");
                seen.push_str(&value);
            }
            _ => {
                map.insert(name.as_str().to_owned(), Value::String(value.into_owned()));
            }
        }
    }
    Value::Object(map)
}

/// The least delay `Retry-After` asks for at `now`: delay-seconds or an HTTP date (a
/// date in the past: none); `None` when absent or unreadable.
pub(super) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn with_retry_after(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let read = |value: &str| retry_after(&with_retry_after(value), now);
        assert_eq!(read("120"), Some(Duration::from_secs(120)));
        assert_eq!(read(" 0 "), Some(Duration::ZERO));
        assert_eq!(read("Sun, 06 Nov 1994 08:50:07 GMT"), Some(Duration::from_secs(30)));
        assert_eq!(read("Sunday, 06-Nov-94 08:49:47 GMT"), Some(Duration::from_secs(10)));
        assert_eq!(read("Sun Nov  6 08:49:38 1994"), Some(Duration::from_secs(1)));
        assert_eq!(read("Sat, 05 Nov 1994 08:49:37 GMT"), Some(Duration::ZERO));
        for bad in ["-1", "1.5", "soon", ""] {
            assert_eq!(read(bad), None, "{bad:?}");
        }
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn bodies_are_json_when_declared_and_valid_else_text() {
        assert_eq!(body(br#"{"ok":true}"#, true), json!({"ok": true}));
        assert_eq!(body(br#"{"ok":true}"#, false), json!(r#"{"ok":true}"#));
        assert_eq!(body(b"{not json", true), json!("{not json"));
        assert_eq!(body(b"", true), Value::Null);
        assert_eq!(body("caf\u{e9}".as_bytes().split_last().unwrap().1, false), json!("caf"));
    }

    #[test]
    fn json_content_types_are_recognised() {
        let typed = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_str(value).unwrap());
            is_json(&headers)
        };
        assert!(typed("application/json"));
        assert!(typed("Application/JSON; charset=utf-8"));
        assert!(typed("application/problem+json"));
        assert!(!typed("text/plain"));
        assert!(!typed("application/jsonx"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn repeated_headers_are_joined() {
        let mut headers = HeaderMap::new();
        headers.append("x-a", HeaderValue::from_static("1"));
        headers.append("x-a", HeaderValue::from_static("2"));
        headers.append("x-b", HeaderValue::from_static("3"));
        assert_eq!(header_map(&headers), json!({"x-a": "1, 2", "x-b": "3"}));
    }
}
