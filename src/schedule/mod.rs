//! Recurring schedules (SPEC §10), free of HTTP and Redis: the name rule, the spec as a
//! client sends it and as ttp stores it, the recurrence (`cron` in an IANA time zone, or
//! `every_ms`) with its daylight-saving rules, and the plan of one firing.
//!
//! Every process that fires schedules must compute the same ticks, the same task ids and
//! the same plan from the same stored spec with no coordination, so everything here is a
//! pure function of the spec and an instant (Redis' clock, handed in by the caller).

mod dst;
mod expr;
mod name;
mod plan;
mod spec;

pub use expr::{ExprError, MIN_EVERY_MS, ScheduleExpr};
pub use name::ScheduleName;
pub use plan::{MAX_CATCHUP_PER_PASS, Plan};
pub use spec::{
    Catchup, MAX_SPEC_BYTES, Overlap, Schedule, ScheduleRequest, ScheduleSpec, TaskTemplate,
};
