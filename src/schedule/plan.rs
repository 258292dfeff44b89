//! What one firing of a due schedule does: which ticks get a task, how many count as
//! missed, and the next tick to store. A pure function of the stored spec, the stored
//! next tick and Redis' clock, so every process that looks at the same schedule at the
//! same moment plans the same thing — which is what lets the fire script's
//! compare-and-set settle any race between them.

use super::{Catchup, Schedule};

/// The most ticks `catchup: all` fires for one schedule in one pass; the rest stay due
/// and are fired by the next pass.
pub const MAX_CATCHUP_PER_PASS: usize = 100;

/// Ticks counted at most when many were missed (a cron schedule's are counted one by
/// one).
const COUNT_CAP: u64 = 100_000;

/// One firing of a due schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The ticks that get a task, oldest first.
    pub fire: Vec<i64>,
    /// Due ticks that get none (the catch-up policy, or past its window).
    pub missed: u64,
    /// The tick to store next; `None` once past `end_at`.
    pub next: Option<i64>,
    /// Whether more than one tick was due (the fired ones are a catch-up).
    pub behind: bool,
}

impl Schedule {
    /// The plan for a schedule whose stored next tick `due` is at or before `now_ms`
    /// (Redis' clock). The next tick is always after `due`, whatever the clock says.
    pub fn plan(&self, due: i64, now_ms: i64) -> Plan {
        let now_ms = now_ms.max(due);
        let until = self.end_ms.map_or(now_ms, |end| end.min(now_ms));
        let after_now =
            || self.expr.next_after(now_ms).filter(|t| self.end_ms.is_none_or(|e| *t <= e));
        if self.spec().catchup == Catchup::All {
            let mut ticks = vec![due];
            ticks.extend(self.expr.ticks_between(due, until, MAX_CATCHUP_PER_PASS));
            let behind = ticks.len() > 1;
            if ticks.len() > MAX_CATCHUP_PER_PASS {
                let rest = ticks.split_off(MAX_CATCHUP_PER_PASS);
                return Plan { fire: ticks, missed: 0, next: rest.first().copied(), behind };
            }
            return Plan { fire: ticks, missed: 0, next: after_now(), behind };
        }
        let latest = self.expr.latest_at_or_before(until).filter(|l| *l >= due).unwrap_or(due);
        let count = self.expr.count_in(due, latest, COUNT_CAP).max(1);
        let behind = count > 1;
        let fires = match self.spec().catchup {
            Catchup::Skip => !behind,
            _ => now_ms - latest <= self.spec().catchup_window_s as i64 * 1000,
        };
        let (fire, missed) = if fires { (vec![latest], count - 1) } else { (Vec::new(), count) };
        Plan { fire, missed, next: after_now(), behind }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::ScheduleSpec;
    use crate::task::{NewTask, TaskDefaults};

    fn every_200(catchup: &str, extra: serde_json::Value) -> Schedule {
        let mut json = serde_json::json!({"every_ms": 200, "task": {"kind": "noop"}, "catchup": catchup, "catchup_window_s": 1});
        if let (Some(json), Some(extra)) = (json.as_object_mut(), extra.as_object()) {
            json.extend(extra.clone());
        }
        let request: crate::schedule::ScheduleRequest = serde_json::from_value(json).unwrap();
        let defaults = TaskDefaults { max_attempts: 3, timeout_ms: 1000, result_ttl_s: 60 };
        let task = NewTask::from_request(request.task.clone(), defaults, 0).unwrap();
        Schedule::new(ScheduleSpec::from_request(&request, &task).unwrap()).unwrap()
    }

    fn plan(fire: &[i64], missed: u64, next: Option<i64>, behind: bool) -> Plan {
        Plan { fire: fire.to_vec(), missed, next, behind }
    }

    #[test]
    fn a_tick_on_time_fires_alone_under_every_policy() {
        for catchup in ["latest", "skip", "all"] {
            let schedule = every_200(catchup, serde_json::json!({}));
            assert_eq!(schedule.plan(1000, 1000), plan(&[1000], 0, Some(1200), false), "{catchup}");
            assert_eq!(schedule.plan(1000, 1199), plan(&[1000], 0, Some(1200), false), "{catchup}");
            // A clock behind the tick (a stale read) never makes the next tick repeat it.
            assert_eq!(schedule.plan(1000, 900), plan(&[1000], 0, Some(1200), false), "{catchup}");
        }
    }

    #[test]
    fn missed_ticks_follow_the_catchup_policy() {
        let latest = every_200("latest", serde_json::json!({}));
        assert_eq!(latest.plan(1000, 1650), plan(&[1600], 3, Some(1800), true));
        assert_eq!(latest.plan(1000, 3000), plan(&[3000], 10, Some(3200), true));
        // Past the window (1 s here) the latest tick is missed too.
        let slow = every_200("latest", serde_json::json!({"every_ms": 5000}));
        assert_eq!(slow.plan(0, 7000), plan(&[], 2, Some(10_000), true));
        assert_eq!(slow.plan(5000, 5900), plan(&[5000], 0, Some(10_000), false));
        let skip = every_200("skip", serde_json::json!({}));
        assert_eq!(skip.plan(1000, 1650), plan(&[], 4, Some(1800), true));
        let all = every_200("all", serde_json::json!({}));
        assert_eq!(all.plan(1000, 1650), plan(&[1000, 1200, 1400, 1600], 0, Some(1800), true));
    }

    #[test]
    fn a_long_catchup_is_capped_per_pass() {
        let all = every_200("all", serde_json::json!({}));
        let capped = all.plan(0, 200 * 150);
        assert_eq!(capped.fire.len(), MAX_CATCHUP_PER_PASS);
        assert_eq!(capped.next, Some(200 * MAX_CATCHUP_PER_PASS as i64));
        assert_eq!(all.plan(capped.next.unwrap(), 200 * 150).fire.len(), 51);
    }

    #[test]
    fn no_tick_past_end_at() {
        let ending = every_200("all", serde_json::json!({"end_at": "1970-01-01T00:00:01.500Z"}));
        assert_eq!(ending.plan(1000, 1650), plan(&[1000, 1200, 1400], 0, None, true));
        let latest = every_200("latest", serde_json::json!({"end_at": "1970-01-01T00:00:01.500Z"}));
        assert_eq!(latest.plan(1000, 1650), plan(&[1400], 2, None, true));
    }
}
