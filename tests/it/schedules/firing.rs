//! Firing inside the test process: on time, one task per tick with two schedulers,
//! through Redis stalls whose replies are lost, catch-up after downtime, overlap, pause
//! and resume.

use std::time::Duration;

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, test_config};

use super::{
    PARKED, assert_consecutive, assert_fired_until_paused, every, parked_ticks, put, redis_ms,
    sleep_until_redis, view,
};

/// An app with workers (and so a scheduler) and a short Redis deadline.
async fn scheduler_app(redis: &RedisServer) -> TestApp {
    let config = ttp::config::Config { redis_timeout_ms: 300, ..test_config(&redis.url()) };
    TestApp::spawn_with(
        config,
        Roles { api: true, workers: true },
        HandlerRegistry::with_builtins(),
    )
    .await
}

/// Gives [`super::PARKED`] a far-off schedule and waits until the schedulers know the
/// queue: they learn of a queue with schedules within a second, and from then on are
/// woken by every change of its schedules.
async fn warm_up(app: &TestApp) {
    let far = every(3_600_000, "skip");
    assert_eq!(put(&app.http, &app.url(""), "warm-up", &far).await.status(), 201);
    tokio::time::sleep(Duration::from_millis(1_300)).await;
}

/// Pauses `name` and returns its view once nothing can fire any more.
async fn stop(app: &TestApp, name: &str) -> Value {
    let paused = app.http.post(app.url(&format!("/schedules/{name}/pause"))).send().await.unwrap();
    assert_eq!(paused.status(), 200);
    view(&app.http, &app.url(""), name).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interval_schedule_fires_each_tick_once_and_on_time() {
    let redis = RedisServer::start();
    let app = scheduler_app(&redis).await;
    warm_up(&app).await;
    let created = put(&app.http, &app.url(""), "fast", &every(200, "all")).await;
    assert_eq!(created.status(), 201);
    let started = redis_ms(&redis);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let done = stop(&app, "fast").await;
    let ticks = parked_ticks(&redis, PARKED);
    assert_consecutive(&ticks, 200);
    assert!(ticks.len() >= 8, "{} ticks in 2 s: {ticks:?}", ticks.len());
    assert!(ticks[0] <= started + 200, "first tick {} started {started}", ticks[0]);
    assert_eq!(done["fired"], ticks.len(), "{done}");
    assert_eq!(done["missed"], 0, "{done}");
    let task = app.get(done["recent_runs"][0]["task_id"].as_str().unwrap()).await;
    assert_eq!(task["schedule"], "fast");
    // The fire script writes only `last_tick`; the view's last run is read from it.
    assert_eq!(done["last_run_at"], done["recent_runs"][0]["tick_at"], "{done}");
    let metrics = app.metrics_text().await;
    let line = format!("ttp_schedule_ticks_total{{outcome=\"fired\",queue=\"{PARKED}\"}}");
    let ours: Vec<&str> = metrics.lines().filter(|l| l.starts_with("ttp_schedule")).collect();
    assert!(metrics.contains(&line), "{ours:#?}");
    let lag = metrics.lines().find(|l| l.starts_with("ttp_schedule_lag_seconds_sum")).unwrap();
    let lag_s: f64 = lag.rsplit(' ').next().unwrap().parse().unwrap();
    // Mean lag well under a tick: the loop sleeps until the tick rather than polling.
    assert!(lag_s / (ticks.len() as f64) < 0.1, "{lag} over {} ticks", ticks.len());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_fire_each_tick_exactly_once() {
    let redis = RedisServer::start();
    let (a, b) = (scheduler_app(&redis).await, scheduler_app(&redis).await);
    assert_eq!(put(&a.http, &a.url(""), "shared", &every(100, "all")).await.status(), 201);
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    let done = stop(&b, "shared").await;
    let ticks = parked_ticks(&redis, PARKED);
    assert_consecutive(&ticks, 100);
    assert!(ticks.len() >= 15, "{ticks:?}");
    assert_eq!(done["fired"], ticks.len(), "{done}");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fires_whose_replies_are_lost_in_a_stall_neither_repeat_nor_skip_a_tick() {
    let redis = RedisServer::start();
    let (a, b) = (scheduler_app(&redis).await, scheduler_app(&redis).await);
    assert_eq!(put(&a.http, &a.url(""), "stalled", &every(100, "all")).await.status(), 201);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(350)).await;
        // Longer than the 300 ms deadline: calls in flight give up, and run when it ends.
        let _: () = redis::cmd("CLIENT")
            .arg("PAUSE")
            .arg(700)
            .arg("ALL")
            .query(&mut redis.connection())
            .unwrap();
        tokio::time::sleep(Duration::from_millis(700)).await;
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let done = stop(&a, "stalled").await;
    let ticks = parked_ticks(&redis, PARKED);
    assert_consecutive(&ticks, 100);
    assert!(ticks.len() >= 25, "{ticks:?}");
    assert_eq!(done["fired"], ticks.len(), "{done}");
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_downtime_latest_fires_once_and_all_fires_every_missed_tick() {
    let redis = RedisServer::start();
    let api = TestApp::api_only(&redis).await;
    let base = api.url("");
    let first = |view: &Value| {
        let at = view["next_runs"][0].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(at).unwrap().timestamp_millis()
    };
    let latest: Value =
        put(&api.http, &base, "latest", &every(300, "latest")).await.json().await.unwrap();
    let body = json!({"every_ms": 300, "catchup": "all", "overlap": "allow",
                      "task": {"kind": "noop", "queue": "parked-all"}});
    let all: Value = put(&api.http, &base, "all", &body).await.json().await.unwrap();
    let (first_latest, first_all) = (first(&latest), first(&all));
    // No scheduler runs: at least three ticks of each pass unfired.
    sleep_until_redis(&redis, first_latest.max(first_all) + 2 * 300 + 100).await;
    let app = scheduler_app(&redis).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (latest, all) = (stop(&api, "latest").await, stop(&api, "all").await);
    let late = parked_ticks(&redis, PARKED);
    let caught = parked_ticks(&redis, "parked-all");
    assert!(late[0] >= first_latest + 600, "latest fires the last missed tick: {late:?}");
    let skipped = (late[0] - first_latest) / 300;
    assert_eq!(latest["missed"], skipped, "the older missed ticks count as missed: {latest}");
    assert_consecutive(&late, 300);
    assert_eq!(caught[0], first_all, "all fires every missed tick: {caught:?}");
    assert!(caught.len() >= 3, "{caught:?}");
    assert_consecutive(&caught, 300);
    assert_eq!(all["missed"], 0, "{all}");
    let metrics = app.metrics_text().await;
    assert!(metrics.contains("outcome=\"caught_up\""), "{metrics}");
    app.shutdown().await;
    api.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_firing_and_resume_restarts_from_now() {
    let redis = RedisServer::start();
    let app = scheduler_app(&redis).await;
    warm_up(&app).await;
    assert_eq!(put(&app.http, &app.url(""), "pausable", &every(100, "all")).await.status(), 201);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let paused = stop(&app, "pausable").await;
    assert_eq!(
        (paused["state"].as_str(), paused["next_runs"].as_array().map(Vec::len)),
        (Some("paused"), Some(0))
    );
    let before = parked_ticks(&redis, PARKED);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(parked_ticks(&redis, PARKED), before, "a paused schedule fired");
    let resumed_at = redis_ms(&redis);
    let resumed = app.http.post(app.url("/schedules/pausable/resume")).send().await.unwrap();
    assert_eq!(resumed.status(), 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop(&app, "pausable").await;
    let after = parked_ticks(&redis, PARKED);
    let new: Vec<i64> = after.iter().copied().filter(|t| !before.contains(t)).collect();
    assert!(new.len() >= 3, "{new:?}");
    assert!(new[0] > resumed_at, "ticks of the pause were caught up: {new:?} resumed {resumed_at}");
    assert_consecutive(&new, 100);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlap_skip_fires_no_task_while_the_previous_one_runs() {
    let redis = RedisServer::start();
    let app = scheduler_app(&redis).await;
    let body = json!({"every_ms": 200, "catchup": "all", "task": {"kind": "sleep", "payload": {"ms": 500}}});
    assert_eq!(put(&app.http, &app.url(""), "slow", &body).await.status(), 201);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let done = stop(&app, "slow").await;
    let (fired, missed) = (done["fired"].as_u64().unwrap(), done["missed"].as_u64().unwrap());
    // Each 500 ms task spans at least two further ticks, which are skipped.
    assert!((2..=5).contains(&fired), "{done}");
    assert!(missed >= 2 * fired - 2, "{done}");
    let runs = done["recent_runs"].as_array().unwrap();
    let ticks: Vec<i64> = runs
        .iter()
        .map(|r| {
            chrono::DateTime::parse_from_rfc3339(r["tick_at"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    assert!(ticks.windows(2).all(|w| w[0] - w[1] >= 600), "runs overlap: {ticks:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_stops_at_end_at_and_says_so() {
    let redis = RedisServer::start();
    let app = scheduler_app(&redis).await;
    warm_up(&app).await;
    let end = redis_ms(&redis) + 450;
    let end_at = chrono::DateTime::from_timestamp_millis(end).unwrap().to_rfc3339();
    let body = json!({"every_ms": 100, "catchup": "all", "overlap": "allow", "end_at": end_at,
                      "task": {"kind": "noop", "queue": PARKED}});
    assert_eq!(put(&app.http, &app.url(""), "ending", &body).await.status(), 201);
    sleep_until_redis(&redis, end + 400).await;
    let ended = view(&app.http, &app.url(""), "ending").await;
    assert_eq!(ended["state"], "ended", "{ended}");
    assert_eq!(ended["next_runs"], json!([]));
    let ticks = parked_ticks(&redis, PARKED);
    assert_consecutive(&ticks, 100);
    assert!(ticks.iter().all(|t| *t <= end), "{ticks:?} past {end}");
    assert!(ticks.len() >= 3, "{ticks:?}");
    assert_eq!(ended["fired"], ticks.len());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_schedules_split_between_two_schedulers_fire_every_tick_once_when_guesses_fail() {
    let redis = RedisServer::start();
    let (a, b) = (scheduler_app(&redis).await, scheduler_app(&redis).await);
    // 120 schedules on the same ticks: three fire calls a tick, which the two schedulers'
    // walks split between them (each guesses the state of the ones the other fired).
    let names: Vec<String> = (0..120).map(|i| format!("many-{i:03}")).collect();
    for name in &names {
        assert_eq!(put(&a.http, &a.url(""), name, &every(200, "all")).await.status(), 201);
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    // A run on request moves a schedule's last task under the schedulers' feet: their
    // guessed state is wrong, the fire script refuses it, and it is read again at once.
    for name in names.iter().step_by(7) {
        let run = a.http.post(a.url(&format!("/schedules/{name}/run"))).send().await.unwrap();
        assert!(run.status().is_success(), "{}", run.status());
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let mut views = Vec::new();
    for name in &names {
        let paused_at = redis_ms(&redis);
        views.push((paused_at, stop(&b, name).await));
    }
    // Every schedule fired until it was paused: none was left behind.
    assert_fired_until_paused(&redis, &names, &views, 200, 400);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_at_or_before_the_last_fired_one_is_refused_as_after_a_clock_gone_back() {
    let redis = RedisServer::start();
    let app = scheduler_app(&redis).await;
    warm_up(&app).await;
    assert_eq!(put(&app.http, &app.url(""), "rewound", &every(200, "all")).await.status(), 201);
    // As if the schedule had already fired the next ~600 ms, on a Redis whose clock was
    // ahead of this one: those ticks come round again and must not store a task twice.
    let fired_until = redis_ms(&redis) + 600;
    let _: () = redis::cmd("HSET")
        .arg(format!("ttp:{{{PARKED}}}:schedule:rewound"))
        .arg("last_tick")
        .arg(fired_until)
        .query(&mut redis.connection())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1_400)).await;
    let done = stop(&app, "rewound").await;
    let ticks = parked_ticks(&redis, PARKED);
    assert_consecutive(&ticks, 200);
    assert!(ticks[0] > fired_until, "{ticks:?} at or before {fired_until}");
    assert!(done["missed"].as_u64().unwrap() >= 2, "{done}");
    assert_eq!(done["fired"], ticks.len(), "{done}");
    app.shutdown().await;
}
