//! Real `ttp` processes: three schedulers with two of them SIGKILLed and restarted while
//! an `every_ms: 200` schedule runs, the same with 300 schedules whose walks the kills
//! cut in the middle, and concurrent identical `PUT`s from all three.

use std::time::Duration;

use serde_json::Value;
use ttp::testkit::{RedisServer, TtpProcess, http_client};

use super::{
    PARKED, assert_consecutive, assert_fired_until_paused, every, parked_ticks, put, redis_ms,
    sleep_until_redis, view,
};

fn start(redis: &RedisServer) -> TtpProcess {
    let env = [("TTP_REDIS_URL", redis.url()), ("TTP_REDIS_TIMEOUT_MS", "300".to_owned())];
    TtpProcess::start(crate::TTP_BIN, &["serve"], &env)
}

fn base(process: &TtpProcess) -> String {
    process.url("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_with_sigkills_fire_every_tick_exactly_once() {
    let redis = RedisServer::start();
    let http = http_client();
    let mut processes = [start(&redis), start(&redis), start(&redis)];
    let created = put(&http, &base(&processes[0]), "kills", &every(200, "all")).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let first = created["next_runs"][0].as_str().unwrap();
    let first = chrono::DateTime::parse_from_rfc3339(first).unwrap().timestamp_millis();
    // About 10 s in all: a kill every ~3.5 s, each victim back 300 ms later.
    for victim in [1, 2] {
        tokio::time::sleep(Duration::from_millis(3_200)).await;
        processes[victim].signal("KILL");
        processes[victim].wait_exit(Duration::from_secs(5)).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        processes[victim] = start(&redis);
    }
    tokio::time::sleep(Duration::from_millis(3_200)).await;
    let paused_at = redis_ms(&redis);
    let paused = http.post(processes[0].url("/schedules/kills/pause")).send().await.unwrap();
    assert_eq!(paused.status(), 200);
    let done = view(&http, &base(&processes[0]), "kills").await;
    let ticks = parked_ticks(&redis, PARKED);
    assert_consecutive(&ticks, 200);
    let span = ticks[ticks.len() - 1] - ticks[0];
    eprintln!(
        "tick accounting: {} ticks over {span} ms, first {} last {}, fired {}, missed {}",
        ticks.len(),
        ticks[0],
        ticks[ticks.len() - 1],
        done["fired"],
        done["missed"]
    );
    assert!(ticks.len() >= 45, "{ticks:?}");
    // None missing at the start (the first tick after the PUT), and the schedulers were
    // still firing in the last second before the pause.
    assert_eq!(ticks[0], first, "{ticks:?}");
    assert!(ticks[ticks.len() - 1] > paused_at - 1_000, "{ticks:?} paused at {paused_at}");
    assert_eq!(done["fired"], ticks.len(), "{done}");
    assert_eq!(done["missed"], 0, "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_puts_leave_one_schedule_and_its_next_tick() {
    let redis = RedisServer::start();
    let http = http_client();
    let processes = [start(&redis), start(&redis), start(&redis)];
    let body = every(3_600_000, "latest");
    let first: Value =
        put(&http, &base(&processes[0]), "hourly", &body).await.json().await.unwrap();
    let puts = (0..20).map(|i| {
        let (http, url, body) = (http.clone(), base(&processes[i % 3]), body.clone());
        async move { put(&http, &url, "hourly", &body).await.status().as_u16() }
    });
    let statuses = futures_util::future::join_all(puts).await;
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let after = view(&http, &base(&processes[1]), "hourly").await;
    assert_eq!(after["next_runs"], first["next_runs"]);
    assert_eq!(after["updated_at"], first["updated_at"]);
    let list: Value =
        http.get(processes[2].url("/schedules")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["schedules"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_schedules_fire_every_tick_once_while_processes_are_killed_in_their_walks() {
    let redis = RedisServer::start();
    let http = http_client();
    let mut processes = [start(&redis), start(&redis), start(&redis)];
    // 300 schedules on the same ticks: six fire calls a tick, more than one walk's first
    // calls, split between the walks of the three processes (forward from random starts,
    // then back from them), each guessing the states the others leave.
    let names: Vec<String> = (0..300).map(|i| format!("walk-{i:03}")).collect();
    for (i, name) in names.iter().enumerate() {
        let created = put(&http, &base(&processes[i % 3]), name, &every(400, "all")).await;
        assert_eq!(created.status(), 201);
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Six kills, each 2 ms after a tick (by Redis' clock): in the middle of the victim's
    // walk, its calls sent or not, its replies lost; each victim is back 200 ms later.
    for round in 0..6 {
        let tick = (redis_ms(&redis) / 400 + 2) * 400;
        sleep_until_redis(&redis, tick + 2).await;
        let victim = round % 3;
        processes[victim].signal("KILL");
        processes[victim].wait_exit(Duration::from_secs(5)).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        processes[victim] = start(&redis);
    }
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut views = Vec::new();
    for name in &names {
        let paused_at = redis_ms(&redis);
        let url = processes[0].url(&format!("/schedules/{name}/pause"));
        assert_eq!(http.post(url).send().await.unwrap().status(), 200);
        views.push((paused_at, view(&http, &base(&processes[0]), name).await));
    }
    // Fired until it was paused: none was left behind by a killed walk (the last tick is
    // at most one interval before the pause, plus the lag of a loaded host).
    let (total, behind) = assert_fired_until_paused(&redis, &names, &views, 400, 800);
    eprintln!(
        "walk kills: {} schedules, {total} ticks fired, none twice, none missing; \
         at most {behind} ms from a schedule's last tick to its pause",
        names.len()
    );
}
