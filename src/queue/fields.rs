//! Field names of a task hash and the conversion between the hash and `TaskRecord`.
//!
//! Short names keep every task hash small (Redis stores a small hash as a listpack, so
//! names count towards the memory of every kept task).

use std::collections::HashMap;

use crate::task::{Priority, State, TaskId, TaskRecord};

use super::QueueError;

/// Every field of a task hash, in the order `HMGET` asks for them.
pub const ALL: [&str; 14] = [
    "kind", "payload", "prio", "state", "att", "max", "timeout", "ttl", "created", "run_at",
    "started", "finished", "result", "error",
];

fn corrupt(id: &TaskId, field: &str) -> QueueError {
    QueueError::Corrupt(format!("task {id}: field {field} is missing or malformed"))
}

/// Builds the record of `id` from its `HMGET` of [`ALL`]; `None` when the hash is gone.
pub fn record_from_values(
    id: &TaskId,
    values: Vec<Option<String>>,
) -> Result<Option<TaskRecord>, QueueError> {
    let map: HashMap<&str, String> =
        ALL.iter().zip(values).filter_map(|(name, value)| value.map(|v| (*name, v))).collect();
    if map.is_empty() {
        return Ok(None);
    }
    let text = |f: &str| map.get(f).cloned().ok_or_else(|| corrupt(id, f));
    let int = |f: &str| map.get(f).and_then(|v| v.parse::<i64>().ok());
    let need = |f: &str| int(f).ok_or_else(|| corrupt(id, f));
    let json = |f: &str| {
        map.get(f).map(|v| serde_json::from_str(v).map_err(|_| corrupt(id, f))).transpose()
    };
    let state: State = text("state")?.parse().map_err(|_| corrupt(id, "state"))?;
    Ok(Some(TaskRecord {
        id: id.clone(),
        kind: text("kind")?,
        state,
        priority: Priority::new(need("prio")?).map_err(|_| corrupt(id, "prio"))?,
        attempts: need("att")? as u32,
        max_attempts: need("max")? as u32,
        timeout_ms: need("timeout")? as u64,
        result_ttl_s: need("ttl")? as u64,
        created_at_ms: need("created")?,
        run_at_ms: int("run_at"),
        started_at_ms: int("started"),
        finished_at_ms: int("finished"),
        result: json("result")?,
        error: map.get("error").cloned(),
        payload: json("payload")?.unwrap_or(serde_json::Value::Null),
    }))
}
