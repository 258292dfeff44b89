//! Redis Cluster mode against real six-node clusters: every feature with queues spread
//! over the three masters, and replication safety (`TTP_REDIS_MIN_REPLICAS`) with and
//! without the replicas it needs. The start-up check of the mode and replication on a
//! standalone Redis are in `replication.rs`; the failover soak in `chaos_cluster.rs`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{EventStream, RedisCluster, TestApp, assert_problem, cluster_config, queue_row};

/// An app on `cluster` serving `queues` (none: the API only), changed by `change`.
async fn app_on(
    cluster: &RedisCluster,
    queues: &[String],
    change: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = cluster_config(cluster);
    if !queues.is_empty() {
        config.queues = queues.iter().map(|q| format!("{q}=1")).collect::<Vec<_>>().join(",");
    }
    change(&mut config);
    let roles = Roles { api: true, workers: !queues.is_empty() };
    TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await
}

/// One queue name per master, so that the queues of a test live on all three.
pub fn queue_per_master(cluster: &RedisCluster, count_each: usize) -> Vec<String> {
    let masters = cluster.masters();
    let mut picked: Vec<(u16, String)> = Vec::new();
    for n in 0..1000 {
        let name = format!("q{n}");
        let master = cluster.master_of(&format!("ttp:{{{name}}}:pending"));
        if picked.iter().filter(|(m, _)| *m == master).count() < count_each {
            picked.push((master, name));
        }
        if picked.len() == masters.len() * count_each {
            break;
        }
    }
    picked.sort();
    picked.into_iter().map(|(_, name)| name).collect()
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.http.post(app.url(path)).json(&body).send().await.unwrap()
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    app.http.get(app.url(path)).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_feature_works_with_queues_spread_over_a_redis_cluster() {
    let cluster = RedisCluster::start();
    let queues = queue_per_master(&cluster, 1);
    assert_eq!(queues.len(), 3, "{queues:?}");
    let app = app_on(&cluster, &queues, |_| {}).await;
    runs_retries_dead_letters_and_long_polls(&app, &queues).await;
    batches_replays_and_delays(&app, &queues).await;
    pauses_resumes_and_cancels(&app, &queues[1]).await;
    counts_every_queue(&app, &queues).await;
    schedules_fire_on_every_master(&app, &queues).await;
    the_dashboard_stream_shows_every_queue(&app, &queues).await;
    // A queue the embedded workers do not serve: they would race the waiting claim for
    // the queue's wake-up token.
    external_workers_claim_long_poll_and_are_reaped(&app, "external").await;
    app.shutdown().await;
}

async fn runs_retries_dead_letters_and_long_polls(app: &TestApp, queues: &[String]) {
    for queue in queues {
        let id =
            app.submit_ok(&json!({"kind": "sleep", "payload": {"ms": 200}, "queue": queue})).await;
        let started = Instant::now();
        let view = get_json(app, &format!("/tasks/{id}?wait_ms=10000")).await;
        assert_eq!(view["state"], "succeeded", "long-poll on {queue}: {view}");
        assert!(started.elapsed() < Duration::from_secs(8), "woken by its queue's channel");
        let retried = app
            .submit_ok(&json!({"kind": "fail", "payload": {"fail_first": 1}, "queue": queue}))
            .await;
        let view = app.wait_for_state(&retried, "succeeded", Duration::from_secs(20)).await;
        assert_eq!(view["attempts"], 2, "{view}");
        let dead = app
            .submit_ok(&json!({"kind": "fail", "payload": {}, "queue": queue, "max_attempts": 1}))
            .await;
        app.wait_for_state(&dead, "failed", Duration::from_secs(20)).await;
        let page = get_json(app, &format!("/queues/{queue}/dead")).await;
        assert_eq!(page["tasks"][0]["id"], dead.as_str(), "{page}");
    }
}

/// A schedule per queue (so per master) fires, and its tasks run; the schedule index lives
/// in the one global slot.
async fn schedules_fire_on_every_master(app: &TestApp, queues: &[String]) {
    for queue in queues {
        let body = json!({"every_ms": 300, "task": {"kind": "noop", "queue": queue}});
        let put = app.http.put(app.url(&format!("/schedules/s-{queue}"))).json(&body);
        assert_eq!(put.send().await.unwrap().status(), 201, "{queue}");
    }
    let listed = get_json(app, "/schedules").await;
    assert_eq!(listed["schedules"].as_array().map(Vec::len), Some(queues.len()), "{listed}");
    let deadline = Instant::now() + Duration::from_secs(20);
    for queue in queues {
        let view = loop {
            let view = get_json(app, &format!("/schedules/s-{queue}")).await;
            if view["fired"].as_u64().unwrap_or(0) >= 2 || Instant::now() > deadline {
                break view;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(view["fired"].as_u64().unwrap_or(0) >= 2, "{queue}: {view}");
        let task = view["recent_runs"][0]["task_id"].as_str().unwrap_or_default().to_owned();
        app.wait_for_state(&task, "succeeded", Duration::from_secs(20)).await;
        let removed = app.http.delete(app.url(&format!("/schedules/s-{queue}"))).send().await;
        assert_eq!(removed.unwrap().status(), 204, "{queue}");
    }
}

/// The dashboard's snapshot reads every queue's counts and flow, whichever master has it.
async fn the_dashboard_stream_shows_every_queue(app: &TestApp, queues: &[String]) {
    let mut stream = EventStream::open(&app.http, &app.url("/ui/events"), None).await;
    let complete = |s: &Value| {
        queues.iter().all(|q| queue_row(s, q).is_some_and(|r| r["tasks_out"].as_u64() > Some(0)))
    };
    let snapshot = stream.until(Duration::from_secs(10), complete).await;
    assert!(snapshot["redis_error"].is_null(), "{snapshot}");
    for queue in queues {
        let row = queue_row(&snapshot, queue).unwrap_or_else(|| panic!("{queue}: {snapshot}"));
        assert!(row["tasks_in"].as_u64().unwrap_or(0) > 0, "{queue}: {row}");
        assert!(row["tasks_out"].as_u64().unwrap_or(0) > 0, "{queue}: {row}");
    }
}

async fn batches_replays_and_delays(app: &TestApp, queues: &[String]) {
    let items: Vec<Value> =
        queues.iter().map(|q| json!({"kind": "echo", "payload": q, "queue": q})).collect();
    let answer: Value =
        post(app, "/tasks/batch", json!({"tasks": items})).await.json().await.unwrap();
    for result in answer["results"].as_array().unwrap() {
        assert_eq!(result["status"], 202, "{answer}");
        app.wait_for_state(result["id"].as_str().unwrap(), "succeeded", Duration::from_secs(20))
            .await;
    }
    let body = json!({"kind": "noop", "queue": queues[0], "idempotency_key": "once"});
    let first = app.submit_ok(&body).await;
    let again = app.submit(&body).await;
    assert_eq!(again.status(), 200, "an idempotent replay");
    let replayed: Value = again.json().await.unwrap();
    assert_eq!(replayed["id"], first.as_str());
    let other = json!({"kind": "echo", "queue": queues[0], "idempotency_key": "once"});
    assert_problem(app.submit(&other).await, 409, None).await;
    let delayed =
        app.submit_ok(&json!({"kind": "noop", "queue": queues[2], "delay_ms": 500})).await;
    assert_eq!(app.get(&delayed).await["state"], "scheduled");
    app.wait_for_state(&delayed, "succeeded", Duration::from_secs(20)).await;
}

async fn pauses_resumes_and_cancels(app: &TestApp, queue: &str) {
    let paused = post(app, &format!("/queues/{queue}/pause"), json!({})).await;
    assert_eq!(paused.status(), 200, "{:?}", paused.text().await);
    let waiting = app.submit_ok(&json!({"kind": "noop", "queue": queue})).await;
    let cancelled = app.submit_ok(&json!({"kind": "noop", "queue": queue})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.get(&waiting).await["state"], "queued", "paused: nothing runs");
    let view: Value = app
        .http
        .post(app.url(&format!("/tasks/{cancelled}/cancel")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["state"], "cancelled", "{view}");
    let long_poll = get_json(app, &format!("/tasks/{cancelled}?wait_ms=100")).await;
    assert_eq!(long_poll["state"], "cancelled");
    let removed = app.http.delete(app.url(&format!("/tasks/{cancelled}"))).send().await.unwrap();
    assert_eq!(removed.status(), 204, "DELETE removes");
    let gone = app.http.get(app.url(&format!("/tasks/{cancelled}"))).send().await.unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(post(app, &format!("/queues/{queue}/resume"), json!({})).await.status(), 200);
    app.wait_for_state(&waiting, "succeeded", Duration::from_secs(20)).await;
}

async fn counts_every_queue(app: &TestApp, queues: &[String]) {
    let listed = get_json(app, "/queues").await;
    for queue in queues {
        let entry =
            queue_row(&listed, queue).unwrap_or_else(|| panic!("{queue} missing: {listed}"));
        assert_eq!(entry["failed"], 1, "{entry}");
    }
    let metrics = app.metrics_text().await;
    for queue in queues {
        let series = format!("ttp_queue_depth{{queue=\"{queue}\",state=\"failed\"}} 1");
        assert!(metrics.contains(&series), "{series} in:\n{metrics}");
    }
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

async fn external_workers_claim_long_poll_and_are_reaped(app: &TestApp, queue: &str) {
    let spec = json!({"queue": queue, "description": "d", "payload_schema": {"type": "object"}});
    let declared = app.http.put(app.url("/kinds/ext.job")).json(&spec).send().await.unwrap();
    assert_eq!(declared.status(), 201);
    let url = app.url(&format!("/queues/{queue}/claim"));
    let claim = |wait_ms: u64| {
        let request = app.http.post(&url).json(&json!({"wait_ms": wait_ms, "lease_ms": 1000}));
        async move { request.send().await.unwrap() }
    };
    let pending = tokio::spawn(claim(5000));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = app.submit_ok(&json!({"kind": "ext.job", "payload": {}})).await;
    let answer: Value = pending.await.unwrap().json().await.unwrap();
    assert_eq!(answer["tasks"][0]["id"], id.as_str(), "a waiting claim got it: {answer}");
    // Not completed: the lease expires, the reaper hands it back, the attempt counts.
    let again: Value = claim(10_000).await.json().await.unwrap();
    assert_eq!(again["tasks"][0]["attempt"], 2, "{again}");
    let token = again["tasks"][0]["lease_token"].as_str().unwrap();
    let done = post(app, &format!("/tasks/{id}/complete"), json!({"lease_token": token})).await;
    assert_eq!(done.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submissions_wait_for_a_replica_and_answer_504_when_none_confirms() {
    let mut cluster = RedisCluster::start();
    let queues = queue_per_master(&cluster, 1);
    let app = app_on(&cluster, &[], |c| c.redis_min_replicas = 1).await;
    let id = app.submit_ok(&json!({"kind": "noop", "queue": queues[0]})).await;
    assert_eq!(app.get(&id).await["state"], "queued");

    let master = cluster.master_of(&format!("ttp:{{{}}}:pending", queues[0]));
    cluster.kill(cluster.replica_of(master));
    let response = app.submit(&json!({"kind": "noop", "queue": queues[0]})).await;
    assert!(response.headers().contains_key("location"), "504 names the task");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["status"], 504, "{problem}");
    assert_eq!(problem["type"], "urn:ttp:problem:outcome-unknown");
    let unknown = problem["task_id"].as_str().unwrap();
    assert_eq!(app.get(unknown).await["state"], "queued", "stored on the master all the same");

    let items: Vec<Value> = queues.iter().map(|q| json!({"kind": "noop", "queue": q})).collect();
    let answer: Value =
        post(&app, "/tasks/batch", json!({"tasks": items})).await.json().await.unwrap();
    let statuses: Vec<u64> = answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, vec![504, 202, 202], "only the queue whose replica is gone: {answer}");
    app.shutdown().await;
}
