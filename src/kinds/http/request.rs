//! The `http` payload: its rules (checked at submission and before each attempt) and
//! its JSON Schema, which says the same.
//!
//! The body is sent as JSON, except a JSON string, which is sent as its text
//! (`text/plain; charset=utf-8`): that is how a receiver gets a body that is not JSON (a
//! form, XML, a pre-serialised document) byte for byte, and the signature covers exactly
//! those bytes. `null` or absent: no body. A `Content-Type` among the headers wins.
//!
//! Headers ttp sets itself (the three `webhook-*`) or that belong to the connection
//! (`Host`, `Content-Length`, …) are refused, so a payload cannot forge a signature or
//! smuggle a second request.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use super::super::PayloadSchema;
use super::super::samples::{Object, object, opt_str, required};
use crate::config::AllowedHosts;
use crate::task::TaskError;

/// The methods a payload may ask for.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];
/// Header names a payload may not set (compared without case).
const RESERVED_HEADERS: [&str; 12] = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];
/// An RFC 9110 token: what a header name is made of.
const TOKEN: &str = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
/// What a header value may hold here: visible ASCII, spaces and tabs.
const VALUE: &str = "^[\t -~]*$";

/// A checked payload, ready to send.
#[derive(Debug)]
pub(super) struct Delivery<'a> {
    /// Where to.
    pub url: Url,
    /// The method, POST by default.
    pub method: Method,
    /// The payload's headers.
    pub headers: HeaderMap,
    /// The body, when not `null`.
    pub body: Option<&'a Value>,
}

impl Delivery<'_> {
    /// The body's content type and bytes (see the module doc).
    pub fn body_bytes(&self) -> (Option<HeaderValue>, Vec<u8>) {
        match self.body {
            None => (None, Vec::new()),
            Some(Value::String(text)) => (
                Some(HeaderValue::from_static("text/plain; charset=utf-8")),
                text.as_bytes().to_vec(),
            ),
            Some(value) => {
                (Some(HeaderValue::from_static("application/json")), value.to_string().into_bytes())
            }
        }
    }
}

/// The delivery `payload` asks for, if `hosts` allows its URL.
pub(super) fn parse<'a>(
    payload: &'a Value,
    hosts: &AllowedHosts,
) -> Result<Delivery<'a>, TaskError> {
    let obj = object(payload)?;
    let url = url(required(opt_str(obj, "url")?, "url")?, hosts)?;
    let method = match opt_str(obj, "method")? {
        None => Method::POST,
        Some(name) if METHODS.contains(&name) => Method::from_bytes(name.as_bytes())
            .map_err(|_| TaskError::invalid("method", "is not a method"))?,
        Some(_) => {
            return Err(TaskError::invalid(
                "method",
                format!("must be one of {}", METHODS.join(", ")),
            ));
        }
    };
    Ok(Delivery {
        url,
        method,
        headers: headers(obj)?,
        body: obj.get("body").filter(|b| !b.is_null()),
    })
}

/// The URL, if it is http(s) and its host is allowed.
fn url(text: &str, hosts: &AllowedHosts) -> Result<Url, TaskError> {
    let url = Url::parse(text)
        .ok()
        .filter(|url| matches!(url.scheme(), "http" | "https"))
        .ok_or_else(|| TaskError::invalid("url", "must be an absolute http:// or https:// URL"))?;
    let host = url.host_str().unwrap_or_default();
    if hosts.is_empty() {
        return Err(TaskError::invalid(
            "url",
            "no host is allowed: the http kind calls only hosts listed in TTP_HTTP_ALLOWED_HOSTS, which is empty",
        ));
    }
    if !hosts.allows(host) {
        return Err(TaskError::invalid(
            "url",
            format!("host {host:?} is not allowed: add it to TTP_HTTP_ALLOWED_HOSTS"),
        ));
    }
    Ok(url)
}

/// The payload's headers, each name a token ttp does not reserve, each value visible
/// ASCII.
fn headers(obj: &Object) -> Result<HeaderMap, TaskError> {
    let mut map = HeaderMap::new();
    let Some(given) = obj.get("headers").filter(|h| !h.is_null()) else { return Ok(map) };
    let given = given
        .as_object()
        .ok_or_else(|| TaskError::invalid("headers", "must be an object of strings"))?;
    for (name, value) in given {
        let field = || format!("headers.{name}");
        let header = HeaderName::from_bytes(name.as_bytes())
            .ok()
            .filter(|_| is_token(name))
            .ok_or_else(|| TaskError::invalid(field(), "is not a header name"))?;
        if RESERVED_HEADERS.contains(&header.as_str()) {
            return Err(TaskError::invalid(field(), "is set by ttp and may not be given"));
        }
        let value = value
            .as_str()
            .filter(|v| v.chars().all(|c| c == '\t' || (' '..='~').contains(&c)))
            .and_then(|v| HeaderValue::from_str(v).ok())
            .ok_or_else(|| {
                TaskError::invalid(field(), "must be a string of visible ASCII, spaces and tabs")
            })?;
        map.append(header, value);
    }
    Ok(map)
}

/// Whether `name` is an RFC 9110 token (what [`TOKEN`] says).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+.^_`|~-".contains(&b))
}

/// A pattern matching any of `words` whatever their case, e.g. `[Hh][Oo][Ss][Tt]`.
fn any_case(words: &[&str]) -> String {
    let word = |w: &&str| -> String {
        w.chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_uppercase(), c)
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    format!("^(?:{})$", words.iter().map(word).collect::<Vec<_>>().join("|"))
}

/// The payload schema. With no host allowed, no URL is valid, and the schema says so.
pub(super) fn schema(hosts_allowed: bool) -> PayloadSchema {
    let url = if hosts_allowed {
        json!({
            "type": "string",
            "description": "An absolute http:// or https:// URL whose host TTP_HTTP_ALLOWED_HOSTS allows.",
            "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://"
        })
    } else {
        json!({
            "type": "string",
            "description": "An absolute http:// or https:// URL whose host TTP_HTTP_ALLOWED_HOSTS allows; that list is empty here, so no URL is accepted.",
            "not": {}
        })
    };
    let mut methods: Vec<Value> = METHODS.iter().map(|m| json!(m)).collect();
    methods.push(Value::Null);
    PayloadSchema::required(json!({
        "type": "object",
        "description": "Push delivery: sends the request to `url` (a host TTP_HTTP_ALLOWED_HOSTS allows), signed with Standard Webhooks headers (`webhook-id` = the task id); succeeds on 2xx with `{status, headers, body}`; 429, 5xx, timeouts and connection errors are retried (not before `Retry-After`), other answers fail the task.",
        "required": ["url"],
        "properties": {
            "url": url,
            "method": {"enum": methods, "description": "Default POST."},
            "headers": {
                "type": ["object", "null"],
                "description": "Request headers; the webhook-* headers and connection headers (Host, Content-Length, …) are ttp's.",
                "propertyNames": {"pattern": TOKEN, "not": {"pattern": any_case(&RESERVED_HEADERS)}},
                "additionalProperties": {"type": "string", "pattern": VALUE}
            },
            "body": {"description": "Any JSON, sent as JSON (application/json); a string is sent as its text (text/plain); null or absent: no body."}
        }
    }))
}
