//! Cancel versus DELETE (SPEC §2): `POST /tasks/{id}/cancel` cancels a task that has not
//! started and keeps its record; `DELETE /tasks/{id}` removes a task that is not running
//! (cancelling it first if it had not started, taking it off the dead-letter sets if it
//! failed), after which the task answers 404, a second DELETE included; 409 while it runs.

use std::time::{Duration, Instant};

use serde_json::json;
use ttp::app::{App, Roles};
use ttp::kinds::HandlerRegistry;
use ttp::queue::{Action, ClaimRequest, Settlement};
use ttp::testkit::{
    RedisServer, TestApp, assert_problem, default_keys, default_queue, test_config, zcard, zscore,
};

use crate::metrics::Exposition;

async fn delete(app: &TestApp, id: &str) -> reqwest::Response {
    app.http.delete(app.url(&format!("/tasks/{id}"))).send().await.unwrap()
}

async fn cancel(app: &TestApp, id: &str) -> reqwest::Response {
    app.http.post(app.url(&format!("/tasks/{id}/cancel"))).send().await.unwrap()
}

async fn read(app: &TestApp, id: &str) -> reqwest::Response {
    app.http.get(app.url(&format!("/tasks/{id}"))).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_keeps_the_record_and_delete_then_removes_it_for_good() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let id = app.submit_ok(&json!({"kind": "noop", "delay_ms": 60_000})).await;

    let cancelled = cancel(&app, &id).await;
    assert_eq!(cancelled.status(), 200);
    let view: serde_json::Value = cancelled.json().await.unwrap();
    assert_eq!(view["state"], "cancelled", "{view}");
    assert_eq!(app.get(&id).await["state"], "cancelled", "the record is kept");
    assert_problem(cancel(&app, &id).await, 409, None).await;

    let removed = delete(&app, &id).await;
    assert_eq!(removed.status(), 204);
    assert!(removed.text().await.unwrap().is_empty(), "204 has no body");
    assert_problem(read(&app, &id).await, 404, None).await;
    assert_problem(delete(&app, &id).await, 404, None).await;
    assert_problem(cancel(&app, &id).await, 404, None).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_task_that_has_not_started_cancels_it_removes_it_and_counts_it_cancelled() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let queued = app.submit_ok(&json!({"kind": "noop"})).await;
    let scheduled = app.submit_ok(&json!({"kind": "noop", "delay_ms": 60_000})).await;

    for id in [&queued, &scheduled] {
        assert_eq!(delete(&app, id).await.status(), 204);
        assert_problem(read(&app, id).await, 404, None).await;
    }
    let (keys, queue) = (default_keys(), default_queue());
    assert_eq!(zcard(&redis, &keys.pending(&queue)), 0, "no worker can claim it");
    assert_eq!(zcard(&redis, &keys.scheduled(&queue)), 0);
    let metrics = Exposition::parse(&app.metrics_text().await).unwrap();
    let labels = [("queue", "default"), ("kind", "noop"), ("outcome", "cancelled")];
    assert_eq!(metrics.value("ttp_tasks_finished_total", &labels), Some(2.0));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_running_task_is_a_409_that_changes_nothing() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let id = app.submit_ok(&json!({"kind": "echo", "payload": 1})).await;
    let request = ClaimRequest::new(1, Duration::from_secs(30)).unwrap();
    let mut claimed = app.queue.claim(&default_queue(), &request).await.unwrap();
    let task = claimed.pop().unwrap();

    let conflict = assert_problem(delete(&app, &id).await, 409, None).await;
    assert!(conflict["detail"].as_str().unwrap().contains("running"), "{conflict}");
    assert_problem(cancel(&app, &id).await, 409, None).await;
    assert_eq!(app.get(&id).await["state"], "running");

    let done = Settlement {
        id: task.id.clone(),
        holder: task.holder(),
        lease_expired: false,
        action: Action::Succeed(json!(1)),
    };
    assert_eq!(app.queue.settle(&default_queue(), &[done]).await.unwrap(), [true]);
    assert_eq!(delete(&app, &id).await.status(), 204, "a finished task can be deleted");
    assert_problem(read(&app, &id).await, 404, None).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_of_a_failed_task_takes_it_off_every_dead_letter_list() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let id = app.submit_ok(&json!({"kind": "fail", "max_attempts": 1})).await;
    app.wait_for_state(&id, "failed", Duration::from_secs(10)).await;
    let (keys, queue) = (default_keys(), default_queue());
    let dead_lists = [keys.dead(&queue), keys.dead_of_kind(&queue, "fail")];
    for key in &dead_lists {
        assert!(zscore(&redis, key, &id).is_some(), "{id} not in {key}");
    }

    assert_eq!(delete(&app, &id).await.status(), 204);
    for key in &dead_lists {
        assert_eq!(zscore(&redis, key, &id), None, "{id} still in {key}");
    }
    for query in ["", "?kind=fail"] {
        let url = app.url(&format!("/queues/default/dead{query}"));
        let page: serde_json::Value = app.http.get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(page["tasks"], json!([]), "{query}: {page}");
    }
    assert_problem(read(&app, &id).await, 404, None).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_wakes_a_long_poll_on_the_task_which_then_answers_404() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let id = app.submit_ok(&json!({"kind": "noop", "delay_ms": 60_000})).await;
    let started = Instant::now();
    let poll = app.http.get(app.url(&format!("/tasks/{id}?wait_ms=20000"))).send();
    let remove = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        delete(&app, &id).await
    };
    let (poll, removed) = tokio::join!(poll, remove);
    assert_eq!(removed.status(), 204);
    assert_problem(poll.unwrap(), 404, None).await;
    assert!(started.elapsed() < Duration::from_secs(10), "woken, not timed out");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_that_would_share_an_openapi_component_name_stop_the_app_from_building() {
    let redis = RedisServer::start();
    let echo = HandlerRegistry::with_builtins().get("echo").unwrap();
    let mut registry = HandlerRegistry::with_builtins();
    registry.register("a.b", SharedHandler(echo.clone()));
    registry.register("a-b", SharedHandler(echo));
    let roles = Roles { api: true, workers: false };
    let error = App::build(test_config(&redis.url()), roles, registry).await.err().unwrap();
    let message = format!("{error:#}");
    assert!(message.contains("\"a-b\"") && message.contains("ABPayload"), "{message}");
}

/// Registers an existing handler under another kind.
struct SharedHandler(std::sync::Arc<dyn ttp::kinds::Handler>);

impl ttp::kinds::Handler for SharedHandler {
    fn run<'a>(&'a self, ctx: &'a ttp::kinds::TaskContext) -> ttp::kinds::HandlerFuture<'a> {
        self.0.run(ctx)
    }
}
