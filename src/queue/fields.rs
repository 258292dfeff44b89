//! The schema of a task's data in Redis: the field names of a task hash, the typed
//! projections the Rust side reads (each with its `HMGET` field list and its decoder),
//! and the claim entry of a running attempt. The Lua scripts write the same names; a test
//! below holds `enqueue.lua` to this list.
//!
//! Short names keep every task hash small (Redis stores a small hash as a listpack, so
//! names count towards the memory of every kept task).

use std::collections::HashMap;

use crate::task::{Payload, Priority, State, TaskId, TaskRecord};

use super::{LeaseToken, QueueError};

/// Field names of a task hash.
pub mod name {
    /// The kind (string).
    pub const KIND: &str = "kind";
    /// The payload (JSON text).
    pub const PAYLOAD: &str = "payload";
    /// The priority, 0..=9.
    pub const PRIORITY: &str = "prio";
    /// The stored state (`queued` also while running: see [`super::ClaimEntry`]).
    pub const STATE: &str = "state";
    /// Attempts that have ended.
    pub const ATTEMPTS: &str = "att";
    /// Attempts allowed.
    pub const MAX_ATTEMPTS: &str = "max";
    /// Per-attempt timeout, ms.
    pub const TIMEOUT_MS: &str = "timeout";
    /// Result retention, s.
    pub const RESULT_TTL_S: &str = "ttl";
    /// Submission time, ms since the epoch.
    pub const CREATED_MS: &str = "created";
    /// Earliest start (delay or retry backoff), ms.
    pub const RUN_AT_MS: &str = "run_at";
    /// Start of the latest ended attempt, ms.
    pub const STARTED_MS: &str = "started";
    /// When it became terminal, ms.
    pub const FINISHED_MS: &str = "finished";
    /// The result (JSON text), once succeeded.
    pub const RESULT: &str = "result";
    /// The last failure's message.
    pub const ERROR: &str = "error";
    /// The schedule that submitted it (absent for a direct submission).
    pub const SCHEDULE: &str = "sched";
}

use name::*;

/// The values of one `HMGET`, by field name, for decoding with named lookups.
struct Row<'a> {
    id: &'a TaskId,
    map: HashMap<&'static str, String>,
}

impl<'a> Row<'a> {
    fn new(id: &'a TaskId, names: &[&'static str], values: Vec<Option<String>>) -> Self {
        let map = names.iter().zip(values).filter_map(|(n, v)| v.map(|v| (*n, v))).collect();
        Self { id, map }
    }

    fn corrupt(&self, field: &str) -> QueueError {
        QueueError::Corrupt(format!("task {}: field {field} is missing or malformed", self.id))
    }

    fn text(&self, field: &str) -> Result<String, QueueError> {
        self.map.get(field).cloned().ok_or_else(|| self.corrupt(field))
    }

    fn int(&self, field: &str) -> Option<i64> {
        self.map.get(field).and_then(|v| v.parse().ok())
    }

    fn need<T: TryFrom<i64>>(&self, field: &str) -> Result<T, QueueError> {
        self.int(field).and_then(|v| T::try_from(v).ok()).ok_or_else(|| self.corrupt(field))
    }

    fn json(&self, field: &str) -> Result<Option<serde_json::Value>, QueueError> {
        let parse = |v: &String| serde_json::from_str(v).map_err(|_| self.corrupt(field));
        self.map.get(field).map(parse).transpose()
    }

    fn state(&self) -> Result<State, QueueError> {
        self.text(STATE)?.parse().map_err(|_| self.corrupt(STATE))
    }
}

/// Everything `GET /tasks/{id}` shows: the whole hash.
pub struct RecordFields;

impl RecordFields {
    /// Every field, in `HMGET` order.
    pub const NAMES: [&'static str; 15] = [
        KIND,
        PAYLOAD,
        PRIORITY,
        STATE,
        ATTEMPTS,
        MAX_ATTEMPTS,
        TIMEOUT_MS,
        RESULT_TTL_S,
        CREATED_MS,
        RUN_AT_MS,
        STARTED_MS,
        FINISHED_MS,
        RESULT,
        ERROR,
        SCHEDULE,
    ];

    /// The record of `id` from its `HMGET` of [`Self::NAMES`]; `None` when the hash is gone.
    pub fn decode(
        id: &TaskId,
        values: Vec<Option<String>>,
    ) -> Result<Option<TaskRecord>, QueueError> {
        let row = Row::new(id, &Self::NAMES, values);
        if row.map.is_empty() {
            return Ok(None);
        }
        Ok(Some(TaskRecord {
            id: id.clone(),
            kind: row.text(KIND)?,
            state: row.state()?,
            priority: Priority::new(row.need(PRIORITY)?).map_err(|_| row.corrupt(PRIORITY))?,
            attempts: row.need(ATTEMPTS)?,
            max_attempts: row.need(MAX_ATTEMPTS)?,
            timeout_ms: row.need(TIMEOUT_MS)?,
            result_ttl_s: row.need(RESULT_TTL_S)?,
            created_at_ms: row.need(CREATED_MS)?,
            run_at_ms: row.int(RUN_AT_MS),
            started_at_ms: row.int(STARTED_MS),
            finished_at_ms: row.int(FINISHED_MS),
            result: row.json(RESULT)?,
            error: row.map.get(ERROR).cloned(),
            payload: match row.map.get(PAYLOAD) {
                Some(text) => {
                    Payload::from_stored(text.clone()).ok_or_else(|| row.corrupt(PAYLOAD))?
                }
                None => Payload::null(),
            },
            schedule: row.map.get(SCHEDULE).cloned(),
            worker_id: None,
        }))
    }
}

/// What a worker needs of a task it just claimed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimFields {
    /// The stored state (a claimable task is `queued`).
    pub state: State,
    /// Attempts that have ended before this one.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Its kind.
    pub kind: String,
    /// Its payload (JSON text).
    pub payload: Option<String>,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Submission time.
    pub created_at_ms: i64,
    /// Its delay or retry time, if any.
    pub run_at_ms: Option<i64>,
    /// Its priority.
    pub priority: u8,
    /// Its result retention.
    pub result_ttl_s: u64,
}

impl ClaimFields {
    /// The fields a claim reads, in `HMGET` order.
    pub const NAMES: [&'static str; 10] = [
        STATE,
        ATTEMPTS,
        MAX_ATTEMPTS,
        KIND,
        PAYLOAD,
        TIMEOUT_MS,
        CREATED_MS,
        RUN_AT_MS,
        PRIORITY,
        RESULT_TTL_S,
    ];

    /// Decodes an `HMGET` of [`Self::NAMES`]; `None` when the hash is gone or malformed.
    pub fn decode(id: &TaskId, values: Vec<Option<String>>) -> Option<Self> {
        let row = Row::new(id, &Self::NAMES, values);
        Some(Self {
            state: row.state().ok()?,
            attempts: row.need(ATTEMPTS).ok()?,
            max_attempts: row.need(MAX_ATTEMPTS).ok()?,
            kind: row.text(KIND).ok()?,
            payload: row.map.get(PAYLOAD).cloned(),
            timeout_ms: row.need(TIMEOUT_MS).ok()?,
            created_at_ms: row.need(CREATED_MS).ok()?,
            run_at_ms: row.int(RUN_AT_MS),
            priority: row.need(PRIORITY).ok()?,
            result_ttl_s: row.need(RESULT_TTL_S).ok()?,
        })
    }
}

/// What the reaper needs of a task whose lease expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseFields {
    /// The stored state (a running task is `queued` in its hash).
    pub state: State,
    /// Attempts that have ended before the expired one.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Its kind.
    pub kind: String,
    /// Submission time.
    pub created_at_ms: i64,
    /// Per-attempt timeout: an attempt held longer failed by timing out.
    pub timeout_ms: u64,
}

impl LeaseFields {
    /// The fields the reaper reads, in `HMGET` order.
    pub const NAMES: [&'static str; 6] =
        [STATE, ATTEMPTS, MAX_ATTEMPTS, KIND, CREATED_MS, TIMEOUT_MS];

    /// Decodes an `HMGET` of [`Self::NAMES`]; `None` when the hash is gone or malformed.
    pub fn decode(id: &TaskId, values: Vec<Option<String>>) -> Option<Self> {
        let row = Row::new(id, &Self::NAMES, values);
        Some(Self {
            state: row.state().ok()?,
            attempts: row.need(ATTEMPTS).ok()?,
            max_attempts: row.need(MAX_ATTEMPTS).ok()?,
            kind: row.text(KIND).ok()?,
            created_at_ms: row.need(CREATED_MS).ok()?,
            timeout_ms: row.need(TIMEOUT_MS).ok()?,
        })
    }
}

/// The entry of a running attempt in the queue's started hash:
/// `<token> <start ms> <worker id or ->`, written by `claim.lua` and checked by
/// `renew.lua` and `settle.lua` (the token is the lease's fencing token, so the scripts
/// compare an entry's prefix `<token> `).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimEntry {
    /// The claim's fencing token.
    pub token: LeaseToken,
    /// When the attempt started, ms (Redis' clock).
    pub started_at_ms: i64,
    /// The external worker that claimed it, if it said.
    pub worker_id: Option<String>,
}

impl ClaimEntry {
    /// Parses an entry; `None` when it is not one.
    pub fn parse(entry: &str) -> Option<Self> {
        let mut parts = entry.split(' ');
        let token = LeaseToken::parse(parts.next()?)?;
        let started_at_ms = parts.next()?.parse().ok()?;
        let worker_id = parts.next().filter(|w| *w != "-").map(str::to_owned);
        Some(Self { token, started_at_ms, worker_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names the scripts write into a new task's hash: the prelude's `task_fields`
    /// table, and what `enqueue.lua` and the schedules' helper append to it.
    fn written_by_enqueue() -> Vec<String> {
        let prelude = include_str!("lua/prelude.lua");
        let body = prelude.split("local function task_fields").nth(1).unwrap_or_default();
        let table = body.split("return {").nth(1).and_then(|t| t.split('}').next());
        let quoted = table.unwrap_or_default().split('\'').skip(1).step_by(2);
        let mut names: Vec<String> = quoted.map(str::to_owned).collect();
        let scripts = [include_str!("lua/enqueue.lua"), include_str!("lua/schedule_lib.lua")];
        for script in scripts {
            assert!(script.contains("task_fields("), "a script stores tasks another way");
            // A delayed task also gets its run_at, a schedule's its schedule (appended).
            for appended in script.split("fields[#fields + 1] = '").skip(1) {
                names.extend(appended.split('\'').next().map(str::to_owned));
            }
        }
        names
    }

    #[test]
    fn fields_read_at_claim_and_reap_are_written_at_enqueue() {
        let written = written_by_enqueue();
        assert!(written.len() >= 9, "{written:?}");
        for name in ClaimFields::NAMES.iter().chain(&LeaseFields::NAMES) {
            assert!(written.iter().any(|w| w == name), "{name} is read but never written");
        }
        for name in &written {
            assert!(RecordFields::NAMES.contains(&name.as_str()), "{name} is not in the schema");
        }
    }

    #[test]
    fn claim_entries_parse() {
        let token = "0123456789abcdef0123456789abcdef";
        assert_eq!(
            ClaimEntry::parse(&format!("{token} 1764590000000")),
            Some(ClaimEntry {
                token: LeaseToken::parse(token).unwrap(),
                started_at_ms: 1_764_590_000_000,
                worker_id: None
            })
        );
        let named = ClaimEntry::parse(&format!("{token} 1 worker-7")).unwrap();
        assert_eq!(named.worker_id.as_deref(), Some("worker-7"));
        assert_eq!(ClaimEntry::parse(token), None);
        assert_eq!(ClaimEntry::parse("42 1"), None);
    }
}
