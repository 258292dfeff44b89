//! The ranges of the lease API's numbers, one owner for each: a claim and a heartbeat ask
//! for a lease by the same rule (1,000 ms ..= `TTP_LEASE_MAX_MS`, `TTP_LEASE_MS` when
//! absent), and every out-of-range value is the same 422 naming its field.

use std::time::Duration;

use super::super::{ApiError, AppState};
use crate::config::MIN_LEASE_MS;
use crate::task::FieldError;

/// `value` (or `default` when absent) if it lies in `min..=max`, else a 422 naming `field`.
pub fn in_range(
    field: &str,
    value: Option<i64>,
    min: i64,
    max: i64,
    default: i64,
) -> Result<i64, ApiError> {
    let value = value.unwrap_or(default);
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(field, format!("must be {min}..={max}, got {value}")).into())
    }
}

/// The lease a claim or heartbeat asks for with `lease_ms`.
pub fn lease(state: &AppState, lease_ms: Option<i64>) -> Result<Duration, ApiError> {
    let max = state.lease_max.as_millis() as i64;
    let default = state.lease.as_millis() as i64;
    let ms = in_range("lease_ms", lease_ms, MIN_LEASE_MS as i64, max, default)?;
    Ok(Duration::from_millis(ms as u64))
}
