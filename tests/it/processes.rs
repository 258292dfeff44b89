//! Real `ttp` processes stopped by signals: SIGTERM drains running tasks (or hands them
//! back once the grace period is over) and exits 0; SIGKILL loses nothing, because the
//! leases of the dead worker expire and another process runs the tasks again.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::queue::field;
use ttp::testkit::{
    RedisServer, TestApp, TtpProcess, default_keys, default_queue, task_field, wait_stored_state,
    zcard, zscore,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_running_tasks_finish_and_exits_zero() {
    let redis = RedisServer::start();
    let mut serve = start(&redis, "serve", &[("TTP_SHUTDOWN_GRACE_MS", "10000")]);
    let ids = submit_to(&serve, 4, &json!({"kind": "sleep", "payload": {"ms": 1500}})).await;
    wait_stored_state(&redis, &ids, "running", Duration::from_secs(10)).await;

    serve.signal("TERM");
    let (status, took) = exit_within(&mut serve, Duration::from_secs(10));
    assert!(status.success(), "exit status {status} after SIGTERM");
    assert!(took < Duration::from_secs(10), "took {took:?}");

    let mut conn = redis.connection();
    for id in &ids {
        assert_eq!(task_field(&mut conn, id, field::STATE).as_deref(), Some("succeeded"), "{id}");
    }
    assert_eq!(zcard(&redis, &default_keys().leased(&default_queue())), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_after_a_short_grace_hands_tasks_back_for_another_worker() {
    let redis = RedisServer::start();
    let mut serve = start(&redis, "serve", &[("TTP_SHUTDOWN_GRACE_MS", "300")]);
    let ids = submit_to(&serve, 3, &json!({"kind": "sleep", "payload": {"ms": 5000}})).await;
    wait_stored_state(&redis, &ids, "running", Duration::from_secs(10)).await;

    serve.signal("TERM");
    let (status, took) = exit_within(&mut serve, Duration::from_secs(4));
    assert!(status.success(), "exit status {status} after SIGTERM");
    assert!(took < Duration::from_secs(3), "took {took:?} with a 300 ms grace");

    let keys = default_keys();
    let mut conn = redis.connection();
    for id in &ids {
        assert_eq!(task_field(&mut conn, id, field::STATE).as_deref(), Some("queued"), "{id}");
        assert_eq!(task_field(&mut conn, id, field::ATTEMPTS), None, "{id}: no attempt ended");
        let pending = keys.pending(&default_queue());
        assert!(zscore(&redis, &pending, id).is_some(), "{id} not in {pending}");
    }
    assert_eq!(zcard(&redis, &keys.leased(&default_queue())), 0);

    let _worker = start(&redis, "worker", &[]);
    wait_stored_state(&redis, &ids, "succeeded", Duration::from_secs(20)).await;
    for id in &ids {
        assert_eq!(task_field(&mut conn, id, field::ATTEMPTS).as_deref(), Some("1"), "{id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_of_a_sigkilled_worker_are_finished_by_another_after_the_lease_expires() {
    let redis = RedisServer::start();
    let api = TestApp::api_only(&redis).await;
    let worker_env =
        [("TTP_LEASE_MS", "1000"), ("TTP_BACKOFF_BASE_MS", "10"), ("TTP_BACKOFF_MAX_MS", "100")];
    let mut first = start(&redis, "worker", &worker_env);
    let task = json!({"kind": "sleep", "payload": {"ms": 3000}});
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(api.submit_ok(&task).await);
    }
    wait_stored_state(&redis, &ids, "running", Duration::from_secs(10)).await;

    first.signal("KILL");
    let (status, _) = exit_within(&mut first, Duration::from_secs(5));
    assert!(!status.success(), "a SIGKILLed worker cannot exit cleanly: {status}");
    let leased = default_keys().leased(&default_queue());
    assert_eq!(zcard(&redis, &leased), 3, "the dead worker's leases are held");

    let _second = start(&redis, "worker", &worker_env);
    for id in &ids {
        let view = api.wait_for_state(id, "succeeded", Duration::from_secs(20)).await;
        assert_eq!(view["attempts"], 2, "{view}");
    }
    assert_eq!(zcard(&redis, &leased), 0);
    api.shutdown().await;
}

/// Starts `ttp <role>` against `redis` with `TTP_CONCURRENCY=4` and `extra` variables.
fn start(redis: &RedisServer, role: &str, extra: &[(&str, &str)]) -> TtpProcess {
    let mut env = vec![("TTP_REDIS_URL", redis.url()), ("TTP_CONCURRENCY", "4".to_owned())];
    env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    TtpProcess::start(crate::TTP_BIN, &[role], &env)
}

/// Submits `count` copies of `task` to a `ttp serve` child; their ids.
async fn submit_to(process: &TtpProcess, count: usize, task: &Value) -> Vec<String> {
    let http = ttp::testkit::http_client();
    let mut ids = Vec::new();
    for _ in 0..count {
        let response = http.post(process.url("/tasks")).json(task).send().await.unwrap();
        assert_eq!(response.status(), 202);
        let view: Value = response.json().await.unwrap();
        ids.push(view["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// Waits for the process to exit (panics after `within`); its status and how long it took.
fn exit_within(process: &mut TtpProcess, within: Duration) -> (ExitStatus, Duration) {
    let started = Instant::now();
    let status = tokio::task::block_in_place(|| process.wait_exit(within));
    let status = status.unwrap_or_else(|| panic!("still running {within:?} after the signal"));
    (status, started.elapsed())
}
