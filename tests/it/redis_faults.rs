//! Redis failing under a running ttp: a restart in the middle of a run (AOF with
//! `appendfsync always`) loses no accepted task, and a Redis at `maxmemory` refuses
//! submissions with a clear 503 while reads go on, until memory is available again.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::queue::field;
use ttp::testkit::{self, RedisServer, TestApp, assert_problem, test_config};

const RESTART_TASKS: usize = 5000;
const RESTART_BATCH: usize = 100;

/// The `n`-th task of the restart run, keyed so that a resubmitted batch (its answer was
/// lost with Redis) replays instead of duplicating.
fn restart_task(n: usize) -> Value {
    let mut body = match n % 4 {
        0 => json!({"kind": "noop"}),
        1 => json!({"kind": "echo", "payload": {"n": n}}),
        2 => json!({"kind": "sleep", "payload": {"ms": n % 20}}),
        _ => json!({"kind": "fail", "payload": {"fail_first": 1}, "max_attempts": 5}),
    };
    body["idempotency_key"] = json!(format!("restart-{n}"));
    body
}

/// Submits every batch, retrying a batch (up to ~30 s) while the answer is a 503, an
/// item's is a 503 or a 504 (outcome unknown: the idempotency keys make the retry safe),
/// or the connection fails; the ids that got 202 or 200, counted in `accepted` as they
/// come.
async fn submit_through_outage(
    http: reqwest::Client,
    url: String,
    accepted: Arc<AtomicUsize>,
) -> (Vec<String>, usize) {
    let mut ids = Vec::with_capacity(RESTART_TASKS);
    let mut retried = 0;
    for start in (0..RESTART_TASKS).step_by(RESTART_BATCH) {
        let tasks: Vec<Value> = (start..start + RESTART_BATCH).map(restart_task).collect();
        let body = json!({"tasks": tasks});
        let mut tries = 0;
        let answer: Value = loop {
            tries += 1;
            assert!(tries <= 300, "batch at {start} still refused after {tries} tries");
            match http.post(&url).json(&body).send().await {
                Ok(r) if r.status() == 200 => {
                    let answer: Value = r.json().await.unwrap();
                    let settled = |item: &Value| item["status"] == 202 || item["status"] == 200;
                    if answer["results"].as_array().unwrap().iter().all(settled) {
                        break answer;
                    }
                }
                Ok(r) => assert_eq!(r.status(), 503, "batch at {start}: {:?}", r.text().await),
                Err(e) => assert!(!e.is_status(), "{e}"),
            }
            retried += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        for result in answer["results"].as_array().unwrap() {
            assert!(result["status"] == 202 || result["status"] == 200, "{result}");
            ids.push(result["id"].as_str().unwrap().to_owned());
        }
        accepted.store(ids.len(), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (ids, retried)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_task_ends_terminal_across_a_redis_restart() {
    let mut redis = RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"]);
    let config = Config { concurrency: 16, ..test_config(&redis.url()) };
    let roles = Roles { api: true, workers: true };
    let app = TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await;

    let accepted = Arc::new(AtomicUsize::new(0));
    let submitter = tokio::spawn(submit_through_outage(
        app.http.clone(),
        app.url("/tasks/batch"),
        accepted.clone(),
    ));
    let deadline = Instant::now() + Duration::from_secs(60);
    while accepted.load(Ordering::Relaxed) < RESTART_TASKS / 2 {
        assert!(Instant::now() < deadline, "half the tasks not accepted within 60 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let at = accepted.load(Ordering::Relaxed);
    tokio::task::block_in_place(|| redis.restart());
    let (ids, retried) = submitter.await.unwrap();

    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), RESTART_TASKS, "each keyed task accepted once");
    let mut conn = testkit::connect(&redis).await;
    testkit::wait_terminal(&mut conn, &ids, Duration::from_secs(90), |done, total| {
        println!("restart: {done}/{total} terminal");
    })
    .await;
    let states = testkit::task_fields(&mut conn, &ids, &[field::STATE]).await;
    let succeeded = states.iter().filter(|row| row[0].as_deref() == Some("succeeded")).count();
    assert_eq!(succeeded, RESTART_TASKS, "every task here is meant to succeed");
    testkit::assert_nothing_held(&mut conn).await;
    println!(
        "restart: Redis restarted after {at} accepted; {retried} batch submissions retried; \
         all {RESTART_TASKS} succeeded"
    );
    app.shutdown().await;
}

/// Submits echo tasks carrying `blob` until one is refused (at most 500); the accepted
/// ids and the refusal.
async fn fill(app: &TestApp, blob: &str) -> (Vec<String>, reqwest::Response) {
    let mut kept = Vec::new();
    for n in 0..500 {
        let response =
            app.submit(&json!({"kind": "echo", "payload": {"n": n, "blob": blob}})).await;
        if response.status() != 202 {
            return (kept, response);
        }
        kept.push(response.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    panic!("500 tasks of {} bytes fit in a 2 MB Redis", blob.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_out_of_memory_refuses_submissions_with_503_while_reads_go_on() {
    let redis =
        RedisServer::start_with(&["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"]);
    let app = TestApp::api_only(&redis).await;
    let blob = "x".repeat(64 * 1024);
    let (kept, refused) = fill(&app, &blob).await;
    let problem = assert_problem(refused, 503, None).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("out of memory"), "the 503 must say why: {problem}");
    assert!(!kept.is_empty(), "nothing fit before the limit");
    // Memory use hovers at the limit (client buffers come and go), so a small write may
    // still pass now; a lower limit puts Redis firmly past it, as growing data would.
    let mut conn = redis.connection();
    let set_maxmemory = |conn: &mut redis::Connection, value: &str| {
        redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(value).query::<()>(conn).unwrap();
    };
    set_maxmemory(&mut conn, "1mb");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    let problem = assert_problem(ready, 503, None).await;
    assert!(problem["detail"].as_str().unwrap().contains("out of memory"), "{problem}");
    let noop = app.submit(&json!({"kind": "noop"})).await;
    let problem = assert_problem(noop, 503, None).await;
    assert!(problem["detail"].as_str().unwrap().contains("out of memory"), "{problem}");
    let batch = json!({"tasks": [{"kind": "noop"}]});
    let batch = app.http.post(app.url("/tasks/batch")).json(&batch).send().await.unwrap();
    assert_problem(batch, 503, None).await;
    for id in &kept {
        let view = app.get(id).await;
        assert_eq!(view["state"], "queued", "{view}");
        assert_eq!(view["payload"]["blob"].as_str().map(str::len), Some(blob.len()));
    }
    // A refused submission wrote nothing: one task hash per accepted task.
    let hashes: Vec<String> =
        redis::cmd("KEYS").arg("ttp:{default}:task:*").query(&mut conn).unwrap();
    assert_eq!(hashes.len(), kept.len(), "a refused submission left a task behind");

    set_maxmemory(&mut conn, "64mb");
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    app.submit_ok(&json!({"kind": "echo", "payload": {"blob": blob}})).await;
    app.shutdown().await;
}
