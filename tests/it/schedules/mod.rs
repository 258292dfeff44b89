//! Schedules (SPEC §10) against real Redis and real HTTP: the API and its errors, and
//! firing — on time, exactly one task per tick with several processes, SIGKILLs and
//! Redis stalls whose replies are lost, catch-up, overlap, pause and resume.
//!
//! The tick accounting reads the tasks a schedule stored in a queue no worker serves:
//! their ids carry their ticks, so "exactly once" is checked as "the ticks are exactly
//! the consecutive multiples of the interval", and the schedule's `fired` counter (which a
//! repeated firing would move twice) must equal the number of tasks.

mod api;
mod batches;
mod firing;
mod processes;

use std::time::Duration;

use serde_json::{Value, json};
use ttp::task::{QueueName, TaskId};
use ttp::testkit::RedisServer;

/// The queue the accounting tests' tasks go to; no worker serves it.
pub const PARKED: &str = "parked";

/// `PUT /schedules/{name}` against `base` (`http://host:port`).
pub async fn put(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    body: &Value,
) -> reqwest::Response {
    http.put(format!("{base}/schedules/{name}")).json(body).send().await.unwrap()
}

/// `GET /schedules/{name}` as JSON (asserting 200).
pub async fn view(http: &reqwest::Client, base: &str, name: &str) -> Value {
    let response = http.get(format!("{base}/schedules/{name}")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// An interval schedule into [`PARKED`] with `catchup` and `overlap: allow`.
pub fn every(ms: u64, catchup: &str) -> Value {
    json!({"every_ms": ms, "catchup": catchup, "overlap": "allow",
           "task": {"kind": "noop", "queue": PARKED}})
}

/// The ids of the tasks waiting in `queue`.
pub fn parked_ids(redis: &RedisServer, queue: &str) -> Vec<String> {
    let key = format!("ttp:{{{queue}}}:pending");
    redis::cmd("ZRANGE").arg(key).arg(0).arg(-1).query(&mut redis.connection()).unwrap()
}

/// The ticks of the tasks waiting in `queue`, sorted (a task id's time is its tick).
pub fn parked_ticks(redis: &RedisServer, queue: &str) -> Vec<i64> {
    let ids = parked_ids(redis, queue);
    let queue = QueueName::parse(queue).unwrap();
    let mut ticks: Vec<i64> = ids
        .iter()
        .map(|id| {
            let id = TaskId::parse(id).unwrap();
            assert_eq!(id.queue(), &queue);
            id.time_ms().unwrap()
        })
        .collect();
    ticks.sort_unstable();
    ticks
}

/// Asserts `ticks` are consecutive multiples of `step`, none twice, none missing.
pub fn assert_consecutive(ticks: &[i64], step: i64) {
    assert!(!ticks.is_empty(), "no tick fired");
    for pair in ticks.windows(2) {
        assert_eq!(pair[1] - pair[0], step, "ticks not consecutive: {ticks:?}");
    }
    assert!(ticks.iter().all(|t| t % step == 0), "ticks off the interval: {ticks:?}");
}

/// Redis' clock, ms.
pub fn redis_ms(redis: &RedisServer) -> i64 {
    let (s, us): (i64, i64) = redis::cmd("TIME").query(&mut redis.connection()).unwrap();
    s * 1000 + us / 1000
}

/// Sleeps (bounded) until Redis' clock passes `ms`.
pub async fn sleep_until_redis(redis: &RedisServer, ms: i64) {
    let wait = (ms - redis_ms(redis)).clamp(0, 30_000);
    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
}

/// The ticks of every schedule's tasks waiting in [`PARKED`], by schedule (tasks run on
/// request, whose ids are not their schedule's tick ids, are left out).
fn ticks_by_schedule(redis: &RedisServer) -> std::collections::BTreeMap<String, Vec<i64>> {
    let ids = parked_ids(redis, PARKED);
    let mut pipe = redis::pipe();
    for id in &ids {
        pipe.cmd("HGET").arg(format!("ttp:{{{PARKED}}}:task:{id}")).arg("sched");
    }
    let names: Vec<String> = pipe.query(&mut redis.connection()).unwrap();
    let queue = ttp::task::QueueName::parse(PARKED).unwrap();
    let mut ticks = std::collections::BTreeMap::<String, Vec<i64>>::new();
    for (id, name) in ids.iter().zip(names) {
        let tick = ttp::task::TaskId::parse(id).unwrap().time_ms().unwrap();
        if ttp::task::TaskId::for_tick(&queue, &name, tick).as_str() == id {
            ticks.entry(name).or_default().push(tick);
        }
    }
    ticks.values_mut().for_each(|t| t.sort_unstable());
    ticks
}

/// Checks the tasks of each of `names`' schedules (`every_ms: step`) against the view read
/// when it was paused (`paused`: Redis' clock then, and the view): ticks consecutive,
/// `fired` equal to its tasks, none missed, and firing until the pause — its last tick
/// within `slack` ms of it, none left behind. Returns the ticks in all and the longest
/// time from a schedule's last tick to its pause.
pub fn assert_fired_until_paused(
    redis: &RedisServer,
    names: &[String],
    paused: &[(i64, Value)],
    step: i64,
    slack: i64,
) -> (usize, i64) {
    let ticks = ticks_by_schedule(redis);
    let (mut total, mut behind) = (0, 0);
    for (name, (paused_at, view)) in names.iter().zip(paused) {
        let mine = ticks.get(name).unwrap_or_else(|| panic!("{name} never fired"));
        assert_consecutive(mine, step);
        assert_eq!(view["fired"], mine.len(), "{name}: {view}");
        assert_eq!(view["missed"], 0, "{name}: {view}");
        let last = mine[mine.len() - 1];
        assert!(last + slack >= *paused_at, "{name}: {mine:?}, paused {paused_at}");
        total += mine.len();
        behind = behind.max(paused_at - last);
    }
    (total, behind)
}
