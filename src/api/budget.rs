//! The in-flight body budget (`TTP_MAX_INFLIGHT_BODY_BYTES`): the memory all requests may
//! hold at once for their bodies and what is made of them (the payload's copies on the
//! way to Redis, and the tree a kind's validation builds). A request that would go past
//! it gets a 503 with `Retry-After` before it reads its body, so a burst of large
//! submissions cannot drive the process out of memory; nothing of it was stored.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::ApiError;

/// How many bytes a body holds in flight per byte received: the body itself, the
/// payload kept from it, and the command that carries it to Redis (its arguments, then
/// the packed bytes written to the socket).
const COPIES_PER_BODY_BYTE: u64 = 4;

/// Budget units are KiB, so a 64 MiB budget fits the semaphore comfortably.
const UNIT: u64 = 1024;

/// The budget shared by every request of the process.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    units: Arc<Semaphore>,
    total_units: u32,
}

/// Memory reserved in the budget; returned when dropped.
#[derive(Debug)]
pub struct Reserved {
    _units: Option<OwnedSemaphorePermit>,
}

impl BodyBudget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Self {
        let total_units = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX >> 4);
        Self { units: Arc::new(Semaphore::new(total_units as usize)), total_units }
    }

    /// Reserves `bytes` (at most the whole budget), or 503 when the budget cannot hold
    /// them now.
    pub fn reserve(&self, bytes: u64) -> Result<Reserved, ApiError> {
        let units = u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX).min(self.total_units);
        if units == 0 {
            return Ok(Reserved { _units: None });
        }
        match self.units.clone().try_acquire_many_owned(units) {
            Ok(permit) => Ok(Reserved { _units: Some(permit) }),
            Err(_) => Err(ApiError::Busy),
        }
    }
}

/// Memory a payload's tree takes while a kind validates it: each JSON value is a node
/// of 32 bytes or more, counted by its separators (an upper bound; strings with commas
/// only make it larger).
pub fn tree_bytes(json: &str) -> u64 {
    let nodes = json.bytes().filter(|b| matches!(b, b',' | b':' | b'[' | b'{')).count() as u64;
    json.len() as u64 + 48 * (nodes + 1)
}

/// Middleware: reserves the body's share of the budget (by `Content-Length`; a body
/// without one is bounded by `max_body_bytes`) for the whole request.
pub async fn reserve_body(
    State((budget, max_body_bytes)): State<(BodyBudget, u64)>,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let has_body = declared.is_some_and(|n| n > 0)
        || request.headers().contains_key(header::TRANSFER_ENCODING);
    if !has_body {
        return next.run(request).await;
    }
    let bytes = declared.unwrap_or(max_body_bytes).min(max_body_bytes) * COPIES_PER_BODY_BYTE;
    match budget.reserve(bytes) {
        Ok(reserved) => {
            let response = next.run(request).await;
            drop(reserved);
            response
        }
        Err(e) => e.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_beyond_the_budget_are_refused_until_returned() {
        let budget = BodyBudget::new(10 * 1024);
        let first = budget.reserve(6 * 1024).unwrap();
        assert!(budget.reserve(6 * 1024).is_err());
        drop(first);
        assert!(budget.reserve(6 * 1024).is_ok());
        // A single request larger than the whole budget takes all of it, not forever none.
        assert!(budget.reserve(1 << 30).is_ok());
    }

    #[test]
    fn tree_estimates_grow_with_the_values() {
        assert!(tree_bytes("[1,2,3,4]") > tree_bytes("[1234]"));
        assert!(tree_bytes(&"1,".repeat(1000)) >= 48_000);
    }
}
