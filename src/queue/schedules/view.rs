//! Reading schedules back: a schedule's record (spec, state, counters, next tick) and its
//! recent runs, for the API. Written by the scripts of records.rs and the fire script.

use super::super::{Queue, QueueError};
use crate::task::QueueName;

/// One recent run of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentRun {
    /// Its tick (for a run on request, when it was asked for), ms.
    pub tick_ms: i64,
    /// The task it submitted.
    pub task_id: String,
    /// When it was fired (Redis' clock), ms.
    pub fired_ms: i64,
}

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRecord {
    /// Its name.
    pub name: String,
    /// Its queue.
    pub queue: QueueName,
    /// Its canonical spec (JSON).
    pub spec: String,
    /// `active`, `paused` or `ended`.
    pub state: String,
    /// Its next tick, ms.
    pub next_ms: Option<i64>,
    /// Ticks that submitted a task.
    pub fired: u64,
    /// Ticks that did not (catch-up policy, overlap, a full queue).
    pub missed: u64,
    /// Tick of the latest run: the later of the last tick fired and the last run on demand.
    pub last_run_ms: Option<i64>,
    /// Creation and last change, ms.
    pub created_ms: i64,
    /// Last change of spec or state, ms.
    pub updated_ms: i64,
    /// The last 20 runs, newest first.
    pub recent: Vec<RecentRun>,
}

/// The record fields read, in `HMGET` order (then `runs` and the ring of recent runs). The
/// last run is the later of `last_run` (a run on demand) and `last_tick` (the fire script
/// writes only that one: one field fewer per firing).
const FIELDS: [&str; 9] =
    ["spec", "state", "next", "fired", "missed", "last_run", "created", "updated", "last_tick"];

/// The recent runs a schedule keeps: the ring `run:0` … `run:19` in its hash that the
/// scripts write (`RUNS_KEPT` in schedule_lib.lua; a test holds them equal).
const RECENT_RUNS: usize = 20;

/// Every field a record read asks for: [`FIELDS`], the count of runs, the ring.
fn read_fields() -> Vec<String> {
    let ring = (0..RECENT_RUNS).map(|k| format!("run:{k}"));
    FIELDS.iter().map(|f| (*f).to_owned()).chain(["runs".to_owned()]).chain(ring).collect()
}

/// The recent runs, newest first: the ring from the newest slot back, then (for a
/// schedule that ran before the ring) the list its runs were kept in, up to 20 in all.
fn recent_runs(fields: &[Option<String>], legacy: Vec<String>) -> Vec<RecentRun> {
    let count = fields.get(FIELDS.len()).cloned().flatten().and_then(|n| n.parse::<usize>().ok());
    let ring = &fields[(FIELDS.len() + 1).min(fields.len())..];
    let count = count.unwrap_or(0);
    let newest_first = (1..=count.min(RECENT_RUNS)).map(|back| (count - back) % RECENT_RUNS);
    let from_ring = newest_first.filter_map(|slot| ring.get(slot).cloned().flatten());
    from_ring
        .chain(legacy)
        .take(RECENT_RUNS)
        .filter_map(|run| {
            let mut parts = run.split(' ');
            let tick_ms = parts.next()?.parse().ok()?;
            let task_id = parts.next()?.to_owned();
            let fired_ms = parts.next()?.parse().ok()?;
            Some(RecentRun { tick_ms, task_id, fired_ms })
        })
        .collect()
}

fn decode(
    name: &str,
    queue: &QueueName,
    fields: Vec<Option<String>>,
    legacy_runs: Vec<String>,
) -> Option<ScheduleRecord> {
    let int = |i: usize| fields.get(i).cloned().flatten().and_then(|v| v.parse::<i64>().ok());
    let text = |i: usize| fields.get(i).cloned().flatten();
    Some(ScheduleRecord {
        name: name.to_owned(),
        queue: queue.clone(),
        spec: text(0)?,
        state: text(1)?,
        next_ms: int(2),
        fired: int(3).unwrap_or(0).max(0) as u64,
        missed: int(4).unwrap_or(0).max(0) as u64,
        last_run_ms: int(5).max(int(8)),
        created_ms: int(6).unwrap_or(0),
        updated_ms: int(7).unwrap_or(0),
        recent: recent_runs(&fields, legacy_runs),
    })
}

impl Queue {
    /// The records of `schedules` (name, queue), in order, in one pipelined read per node;
    /// `None` for one that does not exist.
    pub async fn schedule_records(
        &self,
        schedules: &[(String, QueueName)],
    ) -> Result<Vec<Option<ScheduleRecord>>, QueueError> {
        if schedules.is_empty() {
            return Ok(Vec::new());
        }
        // Grouped by node: a cluster refuses one pipeline across the slots of several queues.
        let keys: Vec<String> =
            schedules.iter().map(|(name, queue)| self.keys.schedule(queue, name)).collect();
        let fields = read_fields();
        let flat = self
            .redis
            .read_grouped(&keys, 2, |pipe, i| {
                let (name, queue) = &schedules[i];
                pipe.cmd("HMGET").arg(&keys[i]).arg(&fields);
                pipe.cmd("LRANGE").arg(self.keys.schedule_runs(queue, name)).arg(0).arg(19);
            })
            .await?;
        schedules
            .iter()
            .zip(flat.chunks(2))
            .map(|((name, queue), reply)| {
                let fields: Vec<Option<String>> = redis::from_redis_value_ref(&reply[0])?;
                let runs: Vec<String> = redis::from_redis_value_ref(&reply[1])?;
                Ok(decode(name, queue, fields, runs))
            })
            .collect::<Result<_, redis::RedisError>>()
            .map_err(QueueError::from)
    }

    /// The record of one schedule.
    pub async fn schedule_record(
        &self,
        queue: &QueueName,
        name: &str,
    ) -> Result<Option<ScheduleRecord>, QueueError> {
        let mut records = self.schedule_records(&[(name.to_owned(), queue.clone())]).await?;
        Ok(records.pop().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_of_recent_runs_is_as_long_as_the_scripts_keep_it() {
        let lib = include_str!("../lua/schedule_lib.lua");
        assert!(lib.contains(&format!("local RUNS_KEPT = {RECENT_RUNS}\n")), "RUNS_KEPT");
    }

    #[test]
    fn recent_runs_are_read_newest_first_from_the_ring_then_the_old_list() {
        let run = |n: i64| Some(format!("{n} id{n} {}", n + 1));
        let mut fields: Vec<Option<String>> = vec![None; FIELDS.len()];
        // 23 runs recorded: the ring holds runs 3..=22, run 22 in slot 2.
        fields.push(Some("23".into()));
        fields.extend(
            (0..RECENT_RUNS as i64).map(|slot| run(if slot < 3 { slot + 20 } else { slot })),
        );
        let recent = recent_runs(&fields, vec!["1 old 2".into()]);
        let ticks: Vec<i64> = recent.iter().map(|r| r.tick_ms).collect();
        assert_eq!(ticks, (3..=22).rev().collect::<Vec<_>>());
        assert_eq!(recent[0], RecentRun { tick_ms: 22, task_id: "id22".into(), fired_ms: 23 });
        // Two runs in the ring, then the list of a schedule that ran before the ring.
        let mut fields: Vec<Option<String>> = vec![None; FIELDS.len()];
        fields.push(Some("2".into()));
        fields.extend(
            (0..RECENT_RUNS as i64).map(|slot| if slot < 2 { run(slot + 100) } else { None }),
        );
        let legacy = vec!["50 a 51".to_owned(), "40 b 41".to_owned()];
        let ticks: Vec<i64> = recent_runs(&fields, legacy).iter().map(|r| r.tick_ms).collect();
        assert_eq!(ticks, vec![101, 100, 50, 40]);
        // Nothing recorded: the old list alone.
        let ticks: Vec<i64> =
            recent_runs(&[], vec!["7 c 8".into()]).iter().map(|r| r.tick_ms).collect();
        assert_eq!(ticks, vec![7]);
    }
}
