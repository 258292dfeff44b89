//! The fire script's batches as several processes send them: a batch whose first schedule
//! another process has already advanced by the same plan is not tried further (the cheap
//! answer to a lost race), while a batch whose first schedule changed in any other way is
//! tried in full, each schedule by its own compare-and-set.

use ttp::app::Roles;
use ttp::kinds::HandlerRegistry;
use ttp::queue::Queue;
use ttp::queue::schedules::{Firing, FiringState};
use ttp::task::{QueueName, TaskId};
use ttp::testkit::{RedisServer, TestApp, test_config};

use super::{PARKED, every, parked_ticks, put, redis_ms};

/// The API without workers, so no scheduler fires anything behind the test's back.
async fn api_only(redis: &RedisServer) -> TestApp {
    TestApp::spawn_with(
        test_config(&redis.url()),
        Roles { api: true, workers: false },
        HandlerRegistry::with_builtins(),
    )
    .await
}

/// `name`'s firing of its stored next tick, as a scheduler would plan it (interval 100 ms,
/// one tick, due now).
fn firing_of(redis: &RedisServer, name: &str) -> Firing {
    let key = format!("ttp:{{{PARKED}}}:schedule:{name}");
    let (next, sha, last): (String, String, Option<String>) = redis::cmd("HMGET")
        .arg(key)
        .arg(&["next", "sha", "last_task"])
        .query(&mut redis.connection())
        .unwrap();
    let tick: i64 = next.parse().unwrap();
    let queue = QueueName::parse(PARKED).unwrap();
    Firing {
        name: name.to_string(),
        from: FiringState {
            next,
            sha,
            last_task: last.as_deref().map(|id| TaskId::parse(id).unwrap()),
            last_task_text: last.unwrap_or_default(),
        },
        next_ms: Some(tick + 100),
        skip_overlap: false,
        missed: 0,
        ticks: vec![(tick, TaskId::for_tick(&queue, name, tick))],
        behind: false,
    }
}

/// Waits until every schedule of `names` is due by Redis' clock.
async fn until_due(redis: &RedisServer, firings: &[Firing]) {
    let latest = firings.iter().map(|f| f.ticks[0].0).max().unwrap();
    while redis_ms(redis) < latest {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn fire(queue: &Queue, firings: &[Firing]) -> Vec<ttp::queue::schedules::FireResult> {
    queue.fire(&QueueName::parse(PARKED).unwrap(), firings).await.unwrap().1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_first_schedule_was_fired_by_the_same_plan_is_not_tried_further() {
    let redis = RedisServer::start();
    let app = api_only(&redis).await;
    let names = ["b-0", "b-1", "b-2"];
    for name in names {
        assert_eq!(put(&app.http, &app.url(""), name, &every(100, "all")).await.status(), 201);
    }
    let batch: Vec<Firing> = names.iter().map(|n| firing_of(&redis, n)).collect();
    until_due(&redis, &batch).await;
    // Another process applied the first firing of the batch, by the same plan.
    let first = fire(&app.queue, &batch[..1]).await;
    assert!(first[0].done, "{first:?}");
    let rest = fire(&app.queue, &batch).await;
    assert_eq!(rest.len(), 1, "not tried further: {rest:?}");
    assert_eq!(rest[0].moved_to, batch[0].next_ms);
    assert_eq!(parked_ticks(&redis, PARKED).len(), 1, "only the first one fired");

    // The first schedule changed otherwise (here: fired by a different plan, as after a
    // changed spec): the batch is tried in full, and the others fire.
    let mut other = firing_of(&redis, "b-0");
    other.next_ms = other.next_ms.map(|n| n + 50);
    until_due(&redis, std::slice::from_ref(&other)).await;
    assert!(fire(&app.queue, std::slice::from_ref(&other)).await[0].done);
    let full = fire(&app.queue, &batch).await;
    assert_eq!(full.len(), 3, "{full:?}");
    assert!(!full[0].done && full[1].done && full[2].done, "{full:?}");
    assert_eq!(parked_ticks(&redis, PARKED).len(), 4);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planned_tick_after_redis_clock_is_stored_to_run_at_its_tick_not_at_once() {
    let redis = RedisServer::start();
    let app = api_only(&redis).await;
    assert_eq!(put(&app.http, &app.url(""), "ahead", &every(100, "all")).await.status(), 201);
    // A planner whose clock ran ahead of Redis' (a failover, a clock step) can plan a
    // catch-up tick that is not due yet by Redis' clock: its task waits for its tick.
    let mut firing = firing_of(&redis, "ahead");
    until_due(&redis, std::slice::from_ref(&firing)).await;
    let (due, _) = firing.ticks[0];
    let ahead = due + 60_000;
    let queue = QueueName::parse(PARKED).unwrap();
    let later_id = TaskId::for_tick(&queue, "ahead", ahead);
    firing.ticks.push((ahead, later_id.clone()));
    firing.next_ms = Some(ahead + 100);
    let result = fire(&app.queue, std::slice::from_ref(&firing)).await;
    assert_eq!(result[0].fired, [due, ahead], "{result:?}");
    let key = format!("ttp:{{{PARKED}}}:task:{}", later_id.as_str());
    let (state, run_at): (Option<String>, Option<i64>) =
        redis::cmd("HMGET").arg(&key).arg(&["s", "r"]).query(&mut redis.connection()).unwrap();
    assert_eq!((state.as_deref(), run_at), (Some("scheduled"), Some(ahead)));
    assert_eq!(parked_ticks(&redis, PARKED), [due], "only the due tick is waiting to run");
    app.shutdown().await;
}
