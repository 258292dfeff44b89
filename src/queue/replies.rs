//! The reply codes of the Lua scripts, one enum per script, so that no number from a
//! script is compared bare anywhere else. Each script's header documents the same codes.

use super::QueueError;

/// Per task, what `enqueue.lua` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnqueueCode {
    /// Not stored: the queue is at its length limit.
    Rejected,
    /// Stored, ready.
    Queued,
    /// Stored, waiting for its time.
    Scheduled,
    /// The idempotency key and request match an earlier task (whose id comes along).
    Replayed,
    /// The idempotency key belongs to a task with a different request.
    Conflict,
    /// Stored by an earlier send of the same call (whose reply was lost).
    Stored,
}

impl EnqueueCode {
    /// The code `enqueue.lua` returned.
    pub fn from_reply(code: i64) -> Result<Self, QueueError> {
        Ok(match code {
            0 => Self::Rejected,
            1 => Self::Queued,
            2 => Self::Scheduled,
            3 => Self::Replayed,
            4 => Self::Conflict,
            5 => Self::Stored,
            other => return Err(unknown("enqueue", other)),
        })
    }
}

/// The answer of a transition that only applies in some states (`cancel.lua`,
/// `revive.lua`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Applied.
    Done,
    /// The task is in a state the transition does not apply to.
    WrongState,
    /// No such task (unknown or expired).
    Missing,
    /// Refused: the queue holds `TTP_MAX_QUEUE_LENGTH` waiting tasks.
    Full,
}

impl Transition {
    /// The code the script returned.
    pub fn from_reply(code: i64) -> Result<Self, QueueError> {
        Ok(match code {
            1 => Self::Done,
            0 => Self::WrongState,
            -1 => Self::Missing,
            2 => Self::Full,
            other => return Err(unknown("transition", other)),
        })
    }
}

/// What `remove.lua` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveCode {
    /// Removed a task that had not started (it counts as cancelled).
    Cancelled,
    /// Removed a finished task.
    Finished,
    /// The task is running: nothing changed.
    Running,
    /// No such task (unknown, expired or removed already).
    Missing,
}

impl RemoveCode {
    /// The code `remove.lua` returned.
    pub fn from_reply(code: i64) -> Result<Self, QueueError> {
        Ok(match code {
            2 => Self::Cancelled,
            1 => Self::Finished,
            0 => Self::Running,
            -1 => Self::Missing,
            other => return Err(unknown("remove", other)),
        })
    }
}

/// Per item, what `settle.lua` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettleCode {
    /// The action applied.
    Applied,
    /// The fence did not hold (the lease was lost or already settled): nothing changed.
    Fenced,
}

impl SettleCode {
    /// The code `settle.lua` returned.
    pub fn from_reply(code: i64) -> Result<Self, QueueError> {
        match code {
            1 => Ok(Self::Applied),
            0 => Ok(Self::Fenced),
            other => Err(unknown("settle", other)),
        }
    }
}

fn unknown(script: &str, code: i64) -> QueueError {
    QueueError::Corrupt(format!("{script} script answered with unknown code {code}"))
}
