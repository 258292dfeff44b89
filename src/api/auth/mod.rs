//! The guard in front of every route: which key is calling (401 without a valid one when
//! keys are configured), whether it holds the route's scope (403 naming it), and whether
//! it is within its rate (429 with `Retry-After`). The caller is then available to the
//! handlers, which check the queues they touch (403 naming the queue) and list only the
//! queues the key may see.
//!
//! The keys file is read at start-up (a bad file stops it) and again on SIGHUP (a bad
//! file is then logged and the keys in force stay), so keys rotate without a restart:
//! add the new key, reload, move clients over, remove the old key, reload.

mod document;
mod scopes;

pub use document::document_keys;
pub use scopes::{OPEN, scope_of};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::access::{KeyRing, KeyRingError, Principal, RateLimits, Scope};
use crate::config::HttpSettings;
use crate::task::QueueName;

/// Keys and rate limits of one process.
pub struct Guard {
    keys: RwLock<Arc<KeyRing>>,
    file: Option<PathBuf>,
    full_access: Vec<String>,
    limits: RateLimits,
    rate_limited: prometheus::IntCounterVec,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard").field("keys", &self.keys().len()).finish_non_exhaustive()
    }
}

impl Guard {
    /// Reads the keys file (if any); an unusable file is an error naming it.
    pub fn new(
        http: &HttpSettings,
        rate_limited: prometheus::IntCounterVec,
    ) -> Result<Self, KeyRingError> {
        let guard = Self {
            keys: RwLock::new(Arc::new(KeyRing::default())),
            file: http.api_keys_file.clone(),
            full_access: http.api_keys.clone(),
            limits: RateLimits::new(http.rate_limits),
            rate_limited,
        };
        guard.reload()?;
        Ok(guard)
    }

    /// Reads the keys again (SIGHUP); on error the keys in force stay. How many keys are
    /// now accepted.
    pub fn reload(&self) -> Result<usize, KeyRingError> {
        let text = match &self.file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                KeyRingError(format!("TTP_API_KEYS_FILE: cannot read {}: {e}", path.display()))
            })?),
            None => None,
        };
        let ring = KeyRing::new(text.as_deref(), &self.full_access)
            .map_err(|e| KeyRingError(format!("TTP_API_KEYS_FILE: {e}")))?;
        let count = ring.len();
        if let Ok(mut keys) = self.keys.write() {
            *keys = Arc::new(ring);
        }
        Ok(count)
    }

    /// The keys in force.
    pub fn keys(&self) -> Arc<KeyRing> {
        self.keys.read().map(|k| k.clone()).unwrap_or_default()
    }

    /// Charges `cost` requests of `scope` to `caller` (more items of a batch).
    pub fn charge(&self, caller: &Caller, scope: Scope, cost: u32) -> Result<(), ApiError> {
        self.limits.check(scope, &caller.bucket, cost).map_err(|wait| {
            self.rate_limited.with_label_values(&[caller.principal.label()]).inc();
            ApiError::RateLimited(wait)
        })
    }

    /// Drops the rate-limit buckets of callers not seen lately (called every minute).
    pub fn forget_idle(&self) {
        self.limits.forget_idle();
    }

    fn identify(&self, headers: &HeaderMap) -> Result<Arc<Principal>, ApiError> {
        let keys = self.keys();
        if keys.is_empty() {
            return Ok(Arc::new(Principal::open()));
        }
        presented(headers)
            .and_then(|secret| keys.authenticate(secret))
            .ok_or(ApiError::Unauthorized)
    }
}

/// The caller of a request, as the handlers see it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its key (or anyone, on an open API).
    pub principal: Arc<Principal>,
    /// Its rate-limit bucket: the key id, or the client IP without keys.
    bucket: String,
}

impl Caller {
    /// 403 unless the key may touch `queue`.
    pub fn require_queue(&self, queue: &QueueName) -> Result<(), ApiError> {
        if self.principal.may_touch(queue) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "the API key {:?} may not use queue {queue}",
                self.principal.label()
            )))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let open = || Caller { principal: Arc::new(Principal::open()), bucket: "-".into() };
        Ok(parts.extensions.get::<Caller>().cloned().unwrap_or_else(open))
    }
}

/// Middleware: identify, check the scope and the rate, then hand the caller on.
pub async fn guard(State(guard): State<Arc<Guard>>, mut request: Request, next: Next) -> Response {
    let path = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let Some(scope) = path.and_then(|p| scope_of(request.method(), &p)) else {
        return next.run(request).await;
    };
    let principal = match guard.identify(request.headers()) {
        Ok(principal) => principal,
        Err(e) => return e.into_response(),
    };
    if !principal.has(scope) {
        let detail = format!(
            "the API key {:?} lacks the `{scope}` scope this route needs",
            principal.label()
        );
        return ApiError::Forbidden(detail).into_response();
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let bucket =
        principal.key_id.as_deref().map(str::to_owned).or(peer).unwrap_or_else(|| "-".into());
    let caller = Caller { principal, bucket };
    if let Err(e) = guard.charge(&caller, scope, 1) {
        return e.into_response();
    }
    tracing::Span::current().record("key_id", caller.principal.label());
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The secret a request presents: `Authorization: Bearer <secret>` (the scheme is
/// case-insensitive, RFC 9110 §11.1) or `X-API-Key: <secret>`.
fn presented(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| {
        let (scheme, secret) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| secret.trim())
    });
    bearer.or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
}
