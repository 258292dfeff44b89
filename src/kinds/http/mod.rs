//! `http`: push delivery. Sends the request its payload describes to an allowed host,
//! signed the Standard Webhooks way, and succeeds on a 2xx with the response as result.
//!
//! It is the other way round from the lease API: instead of a worker fetching tasks, ttp
//! calls a receiver, so any HTTP service can take work without speaking ttp's API.
//! What can go wrong is split as a receiver would expect from a webhook sender:
//! - the URL must name a host `TTP_HTTP_ALLOWED_HOSTS` allows (none by default), checked
//!   at submission (422) and again before sending (the list may have changed);
//!   redirects are followed only within the same host, and only 307/308 (`client.rs`);
//! - 429, 5xx, timeouts and connection errors are retried, no sooner than the answer's
//!   `Retry-After`; other answers fail at once (`response.rs`);
//! - every attempt carries `webhook-id` = the task id, so a receiver can drop a second
//!   delivery of the same task, and a fresh `webhook-timestamp` and signature
//!   (`signature.rs`).
//!
//! The payload's rules and schema are in `request.rs`. One pooled client serves every
//! attempt; the task's timeout bounds an attempt (the worker drops the future).

mod client;
mod request;
mod response;
mod signature;

pub use client::PushError;

use ring::hmac;
use serde_json::Value;

use super::{Handler, HandlerFuture, PayloadSchema, TaskContext};
use crate::config::{AllowedHosts, PushSettings};
use crate::task::{TaskError, now_ms};

/// The built-in `http` kind, built from the push settings. Payload `{"url", "method",
/// "headers", "body"}`; see the README's "Push delivery" section.
pub struct Http {
    /// Where requests may go.
    hosts: AllowedHosts,
    /// The client and the signing key; `None` when push delivery is not configured.
    sender: Option<Sender>,
}

/// What sends a request: one pooled client and the signing key.
struct Sender {
    client: reqwest::Client,
    key: hmac::Key,
}

impl Http {
    /// The kind as `settings` configure it (the client is built here: a TLS set-up
    /// failure stops start-up rather than every task).
    pub fn new(settings: &PushSettings) -> Result<Self, PushError> {
        let sender = match &settings.signing_key {
            Some(key) => Some(Sender {
                client: client::build(settings.allowed_hosts.clone())?,
                key: key.clone(),
            }),
            None => None,
        };
        Ok(Self { hosts: settings.allowed_hosts.clone(), sender })
    }

    /// The kind with no host allowed: it refuses every URL (what `ttp` does until
    /// `TTP_HTTP_ALLOWED_HOSTS` names hosts).
    pub fn disabled() -> Self {
        Self { hosts: AllowedHosts::default(), sender: None }
    }

    /// One attempt: checks the payload again, sends the signed request, reads the answer.
    async fn deliver(&self, ctx: &TaskContext) -> Result<Value, TaskError> {
        let delivery = request::parse(&ctx.payload, &self.hosts)?;
        let Some(sender) = &self.sender else {
            return Err(TaskError::permanent(
                "push delivery is not configured in this worker (TTP_HTTP_SIGNING_SECRET)",
            ));
        };
        let (content_type, body) = delivery.body_bytes();
        let mut headers = delivery.headers;
        if let Some(content_type) = content_type
            && !headers.contains_key(reqwest::header::CONTENT_TYPE)
        {
            headers.insert(reqwest::header::CONTENT_TYPE, content_type);
        }
        let id = ctx.id.to_string();
        let signed = signature::headers(&sender.key, &id, now_ms() / 1000, &body)
            .ok_or_else(|| TaskError::permanent(format!("task id {id:?} is no header value")))?;
        headers.extend(signed);
        let sent = sender
            .client
            .request(delivery.method, delivery.url)
            .headers(headers)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(answer) => response::outcome(answer).await,
            Err(error) => Err(response::failure(&error)),
        }
    }
}

impl Handler for Http {
    fn validate(&self, payload: &Value) -> Result<(), TaskError> {
        request::parse(payload, &self.hosts).map(drop)
    }

    fn payload_schema(&self) -> PayloadSchema {
        request::schema(!self.hosts.is_empty())
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(self.deliver(ctx))
    }
}
