//! `[[schedules]]` in the TOML file: each table is a `name` plus the body of
//! `PUT /schedules/{name}`, upserted at start-up by every process that serves the API.
//! Every process doing so is harmless: an unchanged spec changes nothing, not even the
//! next tick. An entry that breaks a rule is logged with the field it names and skipped.

use serde_json::Value;

use super::super::AppState;
use super::put::upsert;
use crate::schedule::ScheduleRequest;

/// Upserts every entry of `entries` (the `[[schedules]]` tables).
pub async fn apply(state: &AppState, entries: &[Value]) {
    for (index, entry) in entries.iter().enumerate() {
        let mut entry = entry.clone();
        let name = entry.as_object_mut().and_then(|o| o.remove("name"));
        let Some(name) = name.as_ref().and_then(Value::as_str).map(str::to_owned) else {
            tracing::error!(index, "[[schedules]] entry without a `name`; skipped");
            continue;
        };
        let request: ScheduleRequest = match serde_json::from_value(entry) {
            Ok(request) => request,
            Err(e) => {
                tracing::error!(schedule = %name, error = %e, "[[schedules]] entry unreadable; skipped");
                continue;
            }
        };
        match upsert(state, None, &name, &request).await {
            Ok((status, _)) => {
                tracing::info!(schedule = %name, status = status.as_u16(), "schedule from the configuration file applied")
            }
            Err(e) => {
                tracing::error!(schedule = %name, error = %e, "schedule from the configuration file refused")
            }
        }
    }
}
