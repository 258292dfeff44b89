//! Schedules in Redis. A schedule's record and its queue's due index live in the slot of
//! the queue its tasks go to, so one script fires a batch of them and stores their tasks
//! atomically; the deployment's index of names (name → queue) lives under `{:global}` and
//! is written in a separate step, ordered so that a crash between the two can leave a name
//! held without a schedule (invisible, and taken up again by the next PUT), never a
//! schedule that fires unseen or twice.
//!
//! | key | type | contents | written by | read by | TTL |
//! |---|---|---|---|---|---|
//! | `P:{q}:schedule:<name>` | hash | spec (canonical JSON), sha, state, next, template `t_head`, `t_tail` (its tasks' body around their creation time), `t_delay`, fired, missed, last_run (the latest run on demand), last_task, last_tick (the latest tick fired; the view's last run is the later of the two), created, updated, and the recent runs: `runs` (how many were recorded) and the ring `run:0`…`run:19` (`<tick> <task id> <fired>`, run n in `run:<n mod 20>`) | put, fire, pause, resume, run | API, schedulers | none |
//! | `P:{q}:schedule:<name>:runs` | list | recent runs as earlier versions kept them (`<tick> <task id> <fired>`, newest first); no longer written, shown after the ring's | earlier versions | API | none (deleted with the schedule) |
//! | `P:{q}:schedules:due` | zset | active schedules of the queue, score = next tick ms | put, fire, pause, resume, delete | schedulers | none (≤ 10,000 schedules, the API's `MAX_SCHEDULES`) |
//! | `P:{q}:schedules:wake` | list | ≤ 2 tokens: a schedule was created or changed | put, resume | schedulers (BLPOP) | none |
//! | `P:G:schedules` | hash | name → queue | PUT (claim), DELETE (forget) | API, schedulers | none (≤ 10,000 schedules, the API's `MAX_SCHEDULES`) |
//! | `P:G:schedules:version` | string | counter moved by every change of the index | claim, forget | schedulers, each second | none |

mod fire;
mod index;
mod records;
mod view;

pub use fire::{DueSchedules, FireResult, Firing, FiringState};
pub use index::NameClaim;
pub use records::{PutOutcome, ResumeOutcome, RunOutcome, SchedulePut, task_template};
pub use view::{RecentRun, ScheduleRecord};
