//! Schedules in Redis. A schedule's record and its queue's due index live in the slot of
//! the queue its tasks go to, so one script fires a batch of them and stores their tasks
//! atomically; the deployment's index of names (name → queue) lives under `{:global}` and
//! is written in a separate step, ordered so that a crash between the two can leave a name
//! held without a schedule (invisible, and taken up again by the next PUT), never a
//! schedule that fires unseen or twice.
//!
//! | key | type | contents | written by | read by | TTL |
//! |---|---|---|---|---|---|
//! | `P:{q}:schedule:<name>` | hash | spec (canonical JSON), sha, state, next, template `t_head`, `t_tail` (its tasks' body around their creation time), `t_delay`, fired, missed, last_run, last_task, created, updated | put, fire, pause, resume, run | API, schedulers | none |
//! | `P:{q}:schedule:<name>:runs` | list | `<tick> <task id> <fired>`, newest first (the API shows 20) | fire, run | API | none (cut to 20 once over 40) |
//! | `P:{q}:schedules:due` | zset | active schedules of the queue, score = next tick ms | put, fire, pause, resume, delete | schedulers | none (≤ 10,000 schedules, the API's `MAX_SCHEDULES`) |
//! | `P:{q}:schedules:wake` | list | ≤ 2 tokens: a schedule was created or changed | put, resume | schedulers (BLPOP) | none |
//! | `P:G:schedules` | hash | name → queue | PUT (claim), DELETE (forget) | API, schedulers | none (≤ 10,000 schedules, the API's `MAX_SCHEDULES`) |
//! | `P:G:schedules:version` | string | counter moved by every change of the index | claim, forget | schedulers, each second | none |

mod fire;
mod index;
mod records;

pub use fire::{DueSchedules, FireResult, Firing, FiringState};
pub use index::NameClaim;
pub use records::{
    PutOutcome, RecentRun, ResumeOutcome, RunOutcome, SchedulePut, ScheduleRecord, task_template,
};
