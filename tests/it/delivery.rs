//! Delivery promises checked one by one: retry backoff stays within its jittered
//! ceiling, a delayed task starts shortly after its time and never before, idempotency
//! keys replay or conflict (and concurrent submissions with one key create one task),
//! and a pause holds across every process on the Redis.
//! Timings are checked with generous margins: the machine is shared and noisy.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::DateTime;
use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::kinds::HandlerRegistry;
use ttp::task::TaskId;
use ttp::testkit::{RedisServer, TestApp, assert_problem, default_keys, queue_row, test_config};

/// The API and the workers in one process.
const BOTH: Roles = Roles { api: true, workers: true };

/// `view[field]` as milliseconds since the epoch.
fn ms_of(view: &Value, field: &str) -> Option<i64> {
    let text = view[field].as_str()?;
    Some(DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_wait_a_jittered_backoff_below_the_doubling_ceiling() {
    let redis = RedisServer::start();
    let mut config = test_config(&redis.url());
    (config.backoff_base_ms, config.backoff_max_ms) = (200, 400);
    let app = TestApp::spawn_with(config, BOTH, HandlerRegistry::with_builtins()).await;
    let id = app
        .submit_ok(&json!({"kind": "fail", "payload": {"fail_first": 3}, "max_attempts": 5}))
        .await;

    // Each attempt's start, and the run_at set when it failed, as seen by polling.
    let (mut started, mut run_at) = (BTreeMap::new(), BTreeMap::new());
    let deadline = Instant::now() + Duration::from_secs(15);
    let done = loop {
        let view = app.get(&id).await;
        let attempt = view["attempts"].as_u64().unwrap();
        if let Some(ms) = ms_of(&view, "started_at") {
            started.insert(attempt, ms);
        }
        if view["state"] == "scheduled" {
            run_at.insert(attempt, ms_of(&view, "run_at").unwrap());
        }
        if view["state"] == "succeeded" {
            break view;
        }
        assert!(Instant::now() < deadline, "not succeeded after 15 s: {view}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    assert_eq!((&done["attempts"], &done["result"]), (&json!(4), &json!({"attempts": 4})));
    let first = started.get(&1).copied().unwrap_or_default();
    let relative = |m: &BTreeMap<u64, i64>| -> Vec<(u64, i64)> {
        m.iter().map(|(a, ms)| (*a, ms - first)).collect()
    };
    println!(
        "backoff: attempts started at {:?} ms, retries due at {:?} ms (attempt, ms after the first start)",
        relative(&started),
        relative(&run_at)
    );

    const TOLERANCE_MS: i64 = 500;
    let ceiling = |attempt: u64| (200 << (attempt - 1)).min(400);
    for (&attempt, &due) in &run_at {
        let start = started[&attempt];
        let backoff = due - start;
        assert!(
            (0..=ceiling(attempt) + TOLERANCE_MS).contains(&backoff),
            "attempt {attempt} started at {start}, retry due {backoff} ms later (ceiling {})",
            ceiling(attempt)
        );
        if let Some(next) = started.get(&(attempt + 1)) {
            assert!(*next >= due, "attempt {} started before its run_at {due}", attempt + 1);
            assert!(next - due < 1000, "attempt {} started {} ms late", attempt + 1, next - due);
        }
    }
    let gaps: Vec<i64> =
        started.iter().filter_map(|(a, s)| Some(started.get(&(a + 1))? - s)).collect();
    for (gap, attempt) in gaps.iter().zip(1..) {
        assert!(*gap <= ceiling(attempt) + 2 * TOLERANCE_MS, "gap {gap} after attempt {attempt}");
    }
    assert!(!run_at.is_empty() && !gaps.is_empty(), "saw no retry: {started:?} {run_at:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_task_starts_shortly_after_its_run_at_and_never_before() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let mut lateness = Vec::new();
    for _ in 0..3 {
        let id = app.submit_ok(&json!({"kind": "noop", "delay_ms": 300})).await;
        let done = app.wait_for_state(&id, "succeeded", Duration::from_secs(10)).await;
        let run_at = ms_of(&done, "run_at").unwrap();
        assert!(run_at - ms_of(&done, "created_at").unwrap() >= 300, "{done}");
        let late = ms_of(&done, "started_at").unwrap() - run_at;
        assert!((0..1000).contains(&late), "started {late} ms after run_at: {done}");
        lateness.push(late);
    }
    println!("delayed start: started {lateness:?} ms after run_at");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_idempotency_key_replays_the_same_request_and_refuses_another() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let body = json!({"kind": "echo", "payload": {"n": 1}});
    let post = |key: &str, body: &Value| {
        app.http.post(app.url("/tasks")).header("Idempotency-Key", key).json(body).send()
    };

    let first = post("k-1", &body).await.unwrap();
    assert_eq!(first.status(), 202);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let id = first.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    app.wait_for_state(&id, "succeeded", Duration::from_secs(10)).await;

    let again = post("k-1", &body).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["location"], format!("/tasks/{id}").as_str());
    let view: Value = again.json().await.unwrap();
    assert_eq!((&view["id"], &view["state"]), (&json!(id), &json!("succeeded")), "{view}");

    let other = json!({"kind": "echo", "payload": {"n": 2}});
    let problem = assert_problem(post("k-1", &other).await.unwrap(), 409, None).await;
    assert!(problem["detail"].as_str().unwrap().contains(&id), "{problem}");
    let fresh = post("k-2", &other).await.unwrap();
    assert_eq!(fresh.status(), 202, "another key is another task");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idempotency_header_and_body_field_are_one_key() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let body = json!({"kind": "noop", "priority": 7});
    let mut with_field = body.clone();
    with_field["idempotency_key"] = json!("shared");

    let id = app.submit_ok(&with_field).await;
    let by_header =
        app.http.post(app.url("/tasks")).header("Idempotency-Key", "shared").json(&body);
    let by_header = by_header.send().await.unwrap();
    assert_eq!(by_header.status(), 200, "the header names the key the field set");
    assert_eq!(by_header.json::<Value>().await.unwrap()["id"], id);
    let both = app.http.post(app.url("/tasks")).header("Idempotency-Key", "shared");
    let both = both.json(&with_field).send().await.unwrap();
    assert_eq!(both.status(), 200, "header and field agreeing");

    let differ = app.http.post(app.url("/tasks")).header("Idempotency-Key", "other");
    assert_problem(differ.json(&with_field).send().await.unwrap(), 409, None).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_with_one_idempotency_key_create_exactly_one_task() {
    let redis = RedisServer::start();
    // No workers: the tasks stay, so their hashes can be counted.
    let app = TestApp::api_only(&redis).await;
    const SUBMITTERS: usize = 20;
    let rounds = 5;
    let mut ids = Vec::new();
    for round in 0..rounds {
        let key = format!("race-{round}");
        let body = json!({"kind": "echo", "payload": {"round": round}});
        let mut requests = Vec::new();
        for n in 0..SUBMITTERS {
            // Half give the key as the header, half as the body field: one key either way.
            let request = if n % 2 == 0 {
                app.http.post(app.url("/tasks")).header("Idempotency-Key", &key).json(&body)
            } else {
                let mut with_field = body.clone();
                with_field["idempotency_key"] = json!(key);
                app.http.post(app.url("/tasks")).json(&with_field)
            };
            requests.push(tokio::spawn(request.send()));
        }
        let mut answers = Vec::new();
        for request in requests {
            let response = request.await.unwrap().unwrap();
            let status = response.status().as_u16();
            let replayed = response.headers().get("idempotent-replayed").cloned();
            let view: Value = response.json().await.unwrap();
            answers.push((status, replayed, view["id"].as_str().unwrap().to_owned()));
        }
        let created: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 202).collect();
        assert_eq!(created.len(), 1, "round {round}: {answers:?}");
        let id = &created[0].2;
        for (status, replayed, other) in &answers {
            assert_eq!(other, id, "round {round}: {answers:?}");
            if *status != 202 {
                assert_eq!(*status, 200, "{answers:?}");
                assert_eq!(replayed.as_ref().map(|v| v.as_bytes()), Some(&b"true"[..]));
            }
        }
        ids.push(id.clone());
    }
    // Every task hash of the queue: the key of one, with its id replaced by a wildcard.
    let sample = default_keys().task(&TaskId::parse(&ids[0]).unwrap());
    let pattern = format!("{}*", &sample[..sample.len() - ids[0].len()]);
    let hashes: Vec<String> =
        redis::cmd("KEYS").arg(pattern).query(&mut redis.connection()).unwrap();
    assert_eq!(hashes.len(), rounds, "one task hash per key: {hashes:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_in_one_process_stops_claiming_in_another_until_resumed() {
    let redis = RedisServer::start();
    let one = TestApp::spawn(&redis).await;
    let other = TestApp::spawn(&redis).await;
    let paused = one.http.post(one.url("/queues/default/pause")).send().await.unwrap();
    assert_eq!(paused.status(), 200);
    assert_eq!(paused.json::<Value>().await.unwrap()["paused"], true);

    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(other.submit_ok(&json!({"kind": "echo", "payload": {"n": n}})).await);
    }
    // For about a second, neither process's workers may claim them.
    for _ in 0..10 {
        for id in &ids {
            let view = other.get(id).await;
            assert_eq!(view["state"], "queued", "claimed while paused: {view}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let queues: Value =
        other.http.get(other.url("/queues")).send().await.unwrap().json().await.unwrap();
    let default = queue_row(&queues, "default");
    let default = default.unwrap_or_else(|| panic!("{queues}"));
    assert_eq!((&default["paused"], &default["queued"]), (&json!(true), &json!(5)), "{queues}");

    let resumed = other.http.post(other.url("/queues/default/resume")).send().await.unwrap();
    assert_eq!(resumed.status(), 200);
    for id in &ids {
        one.wait_for_state(id, "succeeded", Duration::from_secs(10)).await;
    }
    one.shutdown().await;
    other.shutdown().await;
}
