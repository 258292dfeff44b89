//! Real `ttp` processes: three schedulers with two of them SIGKILLed and restarted while
//! an `every_ms: 200` schedule runs, and concurrent identical `PUT`s from all three.

use std::time::Duration;

use serde_json::Value;
use ttp::testkit::{RedisServer, TtpProcess, http_client};

use super::{PARKED, assert_consecutive, every, parked_ticks, put, view};

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
    let paused_at = super::redis_ms(&redis);
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
