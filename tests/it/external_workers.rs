//! External workers as real processes: `examples/worker.py` (Python, standard library)
//! SIGKILLed mid-task and in a crowd of ten, and the race between a late holder's
//! `complete` and the reap and reclaim of its task. Each proves one guarantee of the
//! lease API: a task is never lost with its worker, and exactly one result stands.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::kinds::HandlerRegistry;
use ttp::queue::field;
use ttp::testkit::{
    PyWorker, RedisServer, TestApp, connect, task_fields, test_config, wait_terminal,
};

/// The API only: external workers run every task of these tests.
async fn api(redis: &RedisServer) -> TestApp {
    let roles = Roles { api: true, workers: false };
    TestApp::spawn_with(test_config(&redis.url()), roles, HandlerRegistry::with_builtins()).await
}

/// Starts `examples/worker.py --declare` on queue `py` and waits until its kinds exist.
async fn declaring_worker(app: &TestApp, args: &[&str]) -> PyWorker {
    let mut all = vec!["--queue", "py", "--declare"];
    all.extend_from_slice(args);
    let worker = PyWorker::start(&app.url(""), &all);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let kinds = app.http.get(app.url("/kinds")).send().await.unwrap().text().await.unwrap();
        if kinds.contains("\"py.sleep\"") {
            return worker;
        }
        assert!(Instant::now() < deadline, "worker.py never declared its kinds: {}", worker.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_worker_sigkilled_mid_task_loses_it_to_another_that_runs_it_once_more() {
    let redis = RedisServer::start();
    let app = api(&redis).await;
    let lease = ["--lease-ms", "1000", "--wait-ms", "1000"];
    let mut first = declaring_worker(&app, &lease).await;
    let id = app.submit_ok(&json!({"kind": "py.sleep", "payload": {"ms": 2500}})).await;
    app.wait_for_state(&id, "running", Duration::from_secs(10)).await;

    first.kill();
    let second = PyWorker::start(&app.url(""), &[&["--queue", "py"][..], &lease[..]].concat());
    let done = app.wait_for_state(&id, "succeeded", Duration::from_secs(30)).await;
    assert_eq!(done["attempts"], 2, "{done}");
    assert_eq!(done["result"]["attempt"], 2, "the result is the second attempt's: {done}");
    assert!(first.completed().is_empty(), "the killed worker finished nothing");
    let reported = second.wait_completed(1, Duration::from_secs(5));
    assert_eq!(reported, vec![id.clone()], "{}", second.log());
    println!(
        "SIGKILL mid-task: {id} succeeded on attempt {}: {}",
        done["attempts"], done["result"]
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_python_workers_one_sigkilled_finish_two_thousand_tasks_each_result_once() {
    let redis = RedisServer::start();
    let app = api(&redis).await;
    // Leases and attempts generous enough that a worker starved of CPU on a loaded
    // machine does not exhaust a task's attempts: the point is the SIGKILL.
    let args = ["--batch", "50", "--lease-ms", "5000", "--wait-ms", "1000"];
    let mut workers = vec![declaring_worker(&app, &args).await];
    for _ in 1..10 {
        workers.push(PyWorker::start(&app.url(""), &[&["--queue", "py"][..], &args[..]].concat()));
    }
    let task = json!({"kind": "py.sleep", "payload": {"ms": 2}, "max_attempts": 10});
    let ids = submit_batches(&app, 2000, &task).await;
    let mut conn = connect(&redis).await;
    wait_some_terminal(&mut conn, &ids, ids.len() / 4).await;
    workers[3].kill();
    wait_terminal(&mut conn, &ids, Duration::from_secs(180), |done, all| {
        println!("{done} of {all} terminal");
    })
    .await;

    let rows = task_fields(&mut conn, &ids, &[field::STATE, field::ATTEMPTS, field::RESULT]).await;
    for (id, row) in ids.iter().zip(&rows) {
        assert_eq!(row[0].as_deref(), Some("succeeded"), "{id}: {row:?}");
        // The result that stands is the last attempt's: no earlier holder overwrote it.
        let result: Value = serde_json::from_str(row[2].as_deref().unwrap_or("null")).unwrap();
        assert_eq!(result["attempt"].to_string(), row[1].clone().unwrap_or_default(), "{id}");
    }
    let mut seen = HashSet::new();
    let reported: Vec<String> = workers.iter().flat_map(PyWorker::completed).collect();
    for id in &reported {
        assert!(seen.insert(id.clone()), "{id} was completed twice");
    }
    // Completes whose answer a worker did not see as 200 (lost to a timeout, then 409),
    // and the killed worker's last one, are settled but not reported.
    let unsure = 1 + workers.iter().map(|w| w.log().matches("complete ").count()).sum::<usize>();
    assert!(reported.len() + unsure >= ids.len(), "{} completions reported", reported.len());
    let settled = succeeded_metric(&app, ids.len()).await;
    assert!(settled <= ids.len() && settled + unsure >= ids.len(), "{settled} settlements");
    let again = rows.iter().filter(|row| row[1].as_deref() != Some("1")).count();
    println!(
        "10 workers, one SIGKILLed: {} succeeded, {again} ran more than once, each result written once ({settled} settlements counted)",
        ids.len()
    );
    app.shutdown().await;
}

/// The API's count of succeeded settlements of `py.sleep`, once it reaches `expected`
/// or 10 s passed (a handler counts after Redis answered, a moment after the state shows).
async fn succeeded_metric(app: &TestApp, expected: usize) -> usize {
    let prefix = r#"ttp_tasks_finished_total{kind="py.sleep",outcome="succeeded",queue="py"} "#;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = app.metrics_text().await;
        let value = metrics
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        if value >= expected || Instant::now() > deadline {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Submits `count` copies of `task` through `POST /tasks/batch`; their ids.
async fn submit_batches(app: &TestApp, count: usize, task: &Value) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for _ in 0..count / 100 {
        let batch = json!({"tasks": vec![task.clone(); 100]});
        let answer: Value = app
            .http
            .post(app.url("/tasks/batch"))
            .json(&batch)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in answer["results"].as_array().unwrap() {
            ids.push(item["id"].as_str().unwrap_or_else(|| panic!("{item}")).to_owned());
        }
    }
    ids
}

/// Waits (up to 60 s) until at least `enough` of `ids` are terminal.
async fn wait_some_terminal(
    conn: &mut redis::aio::MultiplexedConnection,
    ids: &[String],
    enough: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = task_fields(conn, ids, &[field::STATE]).await;
        let done = rows.iter().filter(|row| ttp::testkit::is_terminal(row[0].as_deref())).count();
        if done >= enough {
            return;
        }
        assert!(Instant::now() < deadline, "only {done} terminal");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Who ended one task of the race: the first holder (its lease expired around the time
/// it completed) or the worker that claimed it after the reap.
#[derive(Debug, Default, Clone)]
struct Race {
    old: Option<u16>,
    new: Option<u16>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_late_completes_racing_the_reap_and_reclaim_leave_exactly_one_result_each() {
    let redis = RedisServer::start();
    let app = Arc::new(api(&redis).await);
    let spec = json!({"queue": "race", "payload_schema": {"type": "object"}});
    app.http.put(app.url("/kinds/race.job")).json(&spec).send().await.unwrap();
    for _ in 0..30 {
        app.submit_ok(&json!({"kind": "race.job", "payload": {}})).await;
    }
    let claimed_at = Instant::now();
    let held = claim(&app, json!({"max": 30, "lease_ms": 1000})).await;
    assert_eq!(held.len(), 30);

    // The old holder completes task i at 700 + 24·i ms: from well inside its lease to
    // well after the reaper returned the task (leases end at 1000 ms).
    let mut late = Vec::new();
    for (i, task) in held.iter().enumerate() {
        let (app, task) = (app.clone(), task.clone());
        let at = claimed_at + Duration::from_millis(700 + 24 * i as u64);
        late.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            (task["id"].as_str().unwrap().to_owned(), complete(&app, &task, "old").await)
        }));
    }
    let reclaimer = tokio::spawn(reclaim_and_complete(app.clone()));
    let mut races: std::collections::HashMap<String, Race> = Default::default();
    for handle in late {
        let (id, status) = handle.await.unwrap();
        races.entry(id).or_default().old = Some(status);
    }
    for (id, status) in reclaimer.await.unwrap() {
        races.entry(id).or_default().new = Some(status);
    }
    let (mut old_won, mut new_won) = (0, 0);
    for (id, race) in &races {
        let view = app.get(id).await;
        let winner = match (race.old, race.new) {
            (Some(200), None | Some(409)) => "old",
            (Some(409), Some(200)) => "new",
            other => panic!("{id}: not exactly one result: {other:?} {view}"),
        };
        assert_eq!(view["state"], "succeeded", "{view}");
        assert_eq!(view["result"]["by"], winner, "the stored result is the winner's: {view}");
        if winner == "old" { old_won += 1 } else { new_won += 1 }
    }
    println!(
        "stale-token race ×30: the late holder won {old_won}, the reclaimer {new_won}, never both"
    );
    assert!(old_won > 0 && new_won > 0, "both sides of the race ran: {old_won} / {new_won}");
}

async fn claim(app: &TestApp, body: Value) -> Vec<Value> {
    let answer: Value = app
        .http
        .post(app.url("/queues/race/claim"))
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["tasks"].as_array().cloned().unwrap_or_else(|| panic!("{answer}"))
}

async fn complete(app: &TestApp, task: &Value, by: &str) -> u16 {
    let body = json!({"lease_token": task["lease_token"], "result": {"by": by}});
    let path = format!("/tasks/{}/complete", task["id"].as_str().unwrap());
    app.http.post(app.url(&path)).json(&body).send().await.unwrap().status().as_u16()
}

/// Claims the reaped tasks as they come back (for 3 s) and completes each at once.
async fn reclaim_and_complete(app: Arc<TestApp>) -> Vec<(String, u16)> {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut ended = Vec::new();
    while Instant::now() < deadline {
        for task in claim(&app, json!({"max": 30, "wait_ms": 200, "lease_ms": 5000})).await {
            assert_eq!(task["attempt"], 2, "a reclaimed task's second attempt: {task}");
            let status = complete(&app, &task, "new").await;
            ended.push((task["id"].as_str().unwrap().to_owned(), status));
        }
    }
    ended
}
