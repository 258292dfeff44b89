//! The Lua scripts, one per transition, loaded once per process.
//!
//! Each file under `lua/` starts with a header naming its KEYS, ARGV and reply.
//! `prelude.lua` is prepended to each so shared helpers are written once; the redis crate
//! sends `EVALSHA` and falls back to loading the script when Redis does not know it yet
//! (after a restart, for instance).

use redis::Script;

const PRELUDE: &str = include_str!("lua/prelude.lua");

const SCHEDULE_LIB: &str = include_str!("lua/schedule_lib.lua");

fn load(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

/// A schedule script: the prelude, the schedule helpers, the body.
fn load_schedule(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{SCHEDULE_LIB}\n{body}"))
}

/// Every script ttp runs.
#[derive(Debug)]
pub struct Scripts {
    /// New tasks into pending or scheduled.
    pub enqueue: Script,
    /// Pending tasks into the lease set (running).
    pub claim: Script,
    /// Attempts ended: succeed, retry, fail, release, forget.
    pub settle: Script,
    /// Due scheduled tasks into pending.
    pub promote: Script,
    /// Leases of held claims extended.
    pub renew: Script,
    /// A queued or scheduled task cancelled.
    pub cancel: Script,
    /// A failed or cancelled task re-enqueued.
    pub revive: Script,
    /// A task that is not running deleted.
    pub remove: Script,
    /// A paused queue restarted.
    pub resume: Script,
    /// A queue added to the deployment's set, within its limit.
    pub register: Script,
    /// Task hashes of the previous layout converted (`upgrade.rs`).
    pub upgrade_tasks: Script,
    /// A schedule template of the previous layout converted.
    pub upgrade_schedule: Script,
    /// The schedules' scripts.
    pub schedule: ScheduleScripts,
}

/// The scripts of schedules (`schedule_*.lua`).
#[derive(Debug)]
pub struct ScheduleScripts {
    /// A name held in the deployment's index.
    pub claim: Script,
    /// A name released from the index.
    pub forget: Script,
    /// A schedule created or changed.
    pub put: Script,
    /// A schedule removed.
    pub delete: Script,
    /// A schedule paused.
    pub pause: Script,
    /// A schedule resumed.
    pub resume: Script,
    /// The due schedules of a queue, by Redis' clock.
    pub due: Script,
    /// Due schedules fired.
    pub fire: Script,
    /// One task of a schedule now.
    pub run: Script,
}

impl Scripts {
    /// Compiles the scripts (hashing only; Redis loads them on first use).
    pub fn new() -> Self {
        Self {
            enqueue: load(include_str!("lua/enqueue.lua")),
            claim: load(include_str!("lua/claim.lua")),
            settle: load(include_str!("lua/settle.lua")),
            promote: load(include_str!("lua/promote.lua")),
            renew: load(include_str!("lua/renew.lua")),
            cancel: load(include_str!("lua/cancel.lua")),
            revive: load(include_str!("lua/revive.lua")),
            remove: load(include_str!("lua/remove.lua")),
            resume: load(include_str!("lua/resume.lua")),
            register: load(include_str!("lua/register.lua")),
            upgrade_tasks: load(include_str!("lua/upgrade_tasks.lua")),
            upgrade_schedule: load(include_str!("lua/upgrade_schedule.lua")),
            schedule: ScheduleScripts {
                claim: load(include_str!("lua/schedule_claim.lua")),
                forget: load(include_str!("lua/schedule_forget.lua")),
                put: load(include_str!("lua/schedule_put.lua")),
                delete: load(include_str!("lua/schedule_delete.lua")),
                pause: load(include_str!("lua/schedule_pause.lua")),
                resume: load(include_str!("lua/schedule_resume.lua")),
                due: load(include_str!("lua/schedule_due.lua")),
                fire: load_schedule(include_str!("lua/schedule_fire.lua")),
                run: load_schedule(include_str!("lua/schedule_run.lua")),
            },
        }
    }
}

impl Default for Scripts {
    fn default() -> Self {
        Self::new()
    }
}
