//! The schema of a task's data in Redis: the field names of a task hash, the typed
//! projections the Rust side reads (each with its `HMGET` field list and its decoder),
//! and the claim entry of a running attempt. The Lua scripts write the same names; a test
//! below holds them to this list.
//!
//! What never changes is packed into one field, the body (`body.rs`), written once at
//! submission; the fields that change as a task moves (state, attempts, times, result)
//! stay apart so that a transition writes only them. One-letter names keep every task
//! hash small (Redis stores a small hash as a listpack, so names count towards the memory
//! of every kept task).

use crate::task::{State, TaskId, TaskRecord};

use super::body::Body;
use super::{LeaseToken, QueueError};

/// Field names of a task hash.
pub mod name {
    /// The immutable part: priority, limits, creation, kind and payload (`body.rs`).
    pub const BODY: &str = "b";
    /// The stored state (`queued` also while running: see [`super::ClaimEntry`]).
    pub const STATE: &str = "s";
    /// Attempts that have ended (absent: none).
    pub const ATTEMPTS: &str = "a";
    /// Earliest start (delay or retry backoff), ms.
    pub const RUN_AT_MS: &str = "r";
    /// Start of the latest ended attempt, ms after the creation (small numbers take a
    /// byte or two in a listpack; a time since the epoch takes nine).
    pub const STARTED_MS: &str = "t";
    /// When it became terminal, ms after the creation.
    pub const FINISHED_MS: &str = "f";
    /// The result (JSON text), once succeeded; absent when it is `null`.
    pub const RESULT: &str = "o";
    /// The last failure's message.
    pub const ERROR: &str = "e";
    /// The schedule that submitted it (absent for a direct submission).
    pub const SCHEDULE: &str = "sched";
}

use name::*;

/// The values of one `HMGET`, by field name, for decoding with named lookups (a linear
/// search: a row has at most nine fields, and a hash map per decoded task cost more).
struct Row<'a> {
    id: &'a TaskId,
    fields: Vec<(&'static str, String)>,
}

impl<'a> Row<'a> {
    fn new(id: &'a TaskId, names: &[&'static str], values: Vec<Option<String>>) -> Self {
        let fields = names.iter().zip(values).filter_map(|(n, v)| v.map(|v| (*n, v))).collect();
        Self { id, fields }
    }

    fn get(&self, field: &str) -> Option<&String> {
        self.fields.iter().find(|(name, _)| *name == field).map(|(_, value)| value)
    }

    fn corrupt(&self, field: &str) -> QueueError {
        QueueError::Corrupt(format!("task {}: field {field} is missing or malformed", self.id))
    }

    fn int(&self, field: &str) -> Option<i64> {
        self.get(field).and_then(|v| v.parse().ok())
    }

    /// Attempts ended: absent until the first one ends.
    fn attempts(&self) -> Result<u32, QueueError> {
        match self.get(ATTEMPTS) {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| self.corrupt(ATTEMPTS)),
        }
    }

    fn json(&self, field: &str) -> Result<Option<serde_json::Value>, QueueError> {
        let parse = |v: &String| serde_json::from_str(v).map_err(|_| self.corrupt(field));
        self.get(field).map(parse).transpose()
    }

    fn state(&self) -> Result<State, QueueError> {
        let state = self.get(STATE).ok_or_else(|| self.corrupt(STATE))?;
        state.parse().map_err(|_| self.corrupt(STATE))
    }

    fn body(&self) -> Result<Body, QueueError> {
        self.get(BODY).and_then(|b| Body::decode(b)).ok_or_else(|| self.corrupt(BODY))
    }
}

/// Everything `GET /tasks/{id}` shows: the whole hash.
pub struct RecordFields;

impl RecordFields {
    /// Every field, in `HMGET` order.
    pub const NAMES: [&'static str; 9] =
        [BODY, STATE, ATTEMPTS, RUN_AT_MS, STARTED_MS, FINISHED_MS, RESULT, ERROR, SCHEDULE];

    /// The record of `id` from its `HMGET` of [`Self::NAMES`]; `None` when the hash is gone.
    pub fn decode(
        id: &TaskId,
        values: Vec<Option<String>>,
    ) -> Result<Option<TaskRecord>, QueueError> {
        let row = Row::new(id, &Self::NAMES, values);
        if row.fields.is_empty() {
            return Ok(None);
        }
        let body = row.body()?;
        Ok(Some(TaskRecord {
            id: id.clone(),
            state: row.state()?,
            priority: body.priority,
            attempts: row.attempts()?,
            max_attempts: body.max_attempts,
            timeout_ms: body.timeout_ms,
            result_ttl_s: body.result_ttl_s,
            created_at_ms: body.created_at_ms,
            run_at_ms: row.int(RUN_AT_MS),
            started_at_ms: row.int(STARTED_MS).map(|t| body.created_at_ms + t),
            finished_at_ms: row.int(FINISHED_MS).map(|t| body.created_at_ms + t),
            result: row.json(RESULT)?,
            error: row.get(ERROR).cloned(),
            payload: body.payload().ok_or_else(|| row.corrupt(BODY))?,
            kind: body.kind,
            schedule: row.get(SCHEDULE).cloned(),
            worker_id: None,
        }))
    }
}

/// What a worker needs of a task it just claimed: `claim.lua` reads these fields of every
/// task it takes, in this order, and answers them after the id.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimFields {
    /// The stored state (a claimable task is `queued`).
    pub state: State,
    /// Attempts that have ended before this one.
    pub attempts: u32,
    /// Its delay or retry time, if any.
    pub run_at_ms: Option<i64>,
    /// The immutable part.
    pub body: Body,
}

impl ClaimFields {
    /// The fields a claim reads, in `HMGET` order (`claim.lua` holds the same list; a
    /// test below compares them).
    pub const NAMES: [&'static str; 4] = [BODY, STATE, ATTEMPTS, RUN_AT_MS];

    /// Decodes a claim's answer for one task; `None` when the hash is gone or malformed.
    pub fn decode(id: &TaskId, values: Vec<Option<String>>) -> Option<Self> {
        let row = Row::new(id, &Self::NAMES, values);
        Some(Self {
            state: row.state().ok()?,
            attempts: row.attempts().ok()?,
            run_at_ms: row.int(RUN_AT_MS),
            body: row.body().ok()?,
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
    pub const NAMES: [&'static str; 3] = [BODY, STATE, ATTEMPTS];

    /// Decodes an `HMGET` of [`Self::NAMES`]; `None` when the hash is gone or malformed.
    pub fn decode(id: &TaskId, values: Vec<Option<String>>) -> Option<Self> {
        let row = Row::new(id, &Self::NAMES, values);
        let body = row.body().ok()?;
        Some(Self {
            state: row.state().ok()?,
            attempts: row.attempts().ok()?,
            max_attempts: body.max_attempts,
            kind: body.kind,
            created_at_ms: body.created_at_ms,
            timeout_ms: body.timeout_ms,
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

    /// The quoted names in `text` that look like task fields.
    fn quoted(text: &str) -> Vec<&str> {
        text.split('\'').skip(1).step_by(2).collect()
    }

    #[test]
    fn the_scripts_write_and_read_only_names_of_the_schema() {
        // Every HSET/HMGET/HGET/HDEL of a task hash in the task scripts names schema fields.
        let scripts = [
            include_str!("lua/enqueue.lua"),
            include_str!("lua/settle.lua"),
            include_str!("lua/promote.lua"),
            include_str!("lua/revive.lua"),
            include_str!("lua/cancel.lua"),
            include_str!("lua/remove.lua"),
            include_str!("lua/schedule_lib.lua"),
        ];
        let mut seen = 0;
        for script in scripts {
            for line in script.lines().filter(|l| l.contains("hash") || l.contains("KEYS[")) {
                let Some(call) = ["'HSET'", "'HMGET'", "'HGET'", "'HDEL'"]
                    .iter()
                    .find_map(|c| line.split(c).nth(1))
                else {
                    continue;
                };
                if line.contains("record") || line.contains("KEYS[5], unpack") {
                    continue; // a schedule's record, or the started hash
                }
                // Quoted states are values written, not names.
                for name in quoted(call).into_iter().filter(|q| q.parse::<State>().is_err()) {
                    seen += 1;
                    assert!(RecordFields::NAMES.contains(&name), "{name} in {line:?}");
                }
            }
        }
        assert!(seen >= 20, "found only {seen} field names in the scripts");
    }

    #[test]
    fn the_claim_script_reads_the_claim_fields_in_order() {
        let claim = include_str!("lua/claim.lua");
        let fields = claim.split("local FIELDS = {").nth(1).and_then(|t| t.split('}').next());
        assert_eq!(quoted(fields.unwrap_or_default()), ClaimFields::NAMES.to_vec());
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
