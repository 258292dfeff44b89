//! Priority order: higher priority runs first, FIFO among equal priority in one queue.
//!
//! Tasks are submitted to an API-only app (nothing runs them yet), then a single worker
//! with concurrency 1 drains the queue, so the run order is exactly the claim order. A
//! custom handler records that order, since `started_at` has only millisecond precision.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::kinds::{Handler, HandlerFuture, HandlerRegistry, TaskContext};
use ttp::task::TaskError;
use ttp::testkit::{RedisServer, TestApp, test_config};

/// Appends each task's `payload.label` to a shared list, in run order.
#[derive(Clone, Default)]
struct Recorder {
    order: Arc<Mutex<Vec<String>>>,
}

fn label_of(payload: &Value) -> Result<&str, TaskError> {
    payload["label"].as_str().ok_or_else(|| TaskError::invalid("label", "must be a string"))
}

impl Handler for Recorder {
    fn validate(&self, payload: &Value) -> Result<(), TaskError> {
        label_of(payload).map(drop)
    }

    fn run<'a>(&'a self, ctx: &'a TaskContext) -> HandlerFuture<'a> {
        Box::pin(async move {
            let label = label_of(&ctx.payload)?.to_owned();
            self.order.lock().unwrap().push(label.clone());
            Ok(json!(label))
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_worker_runs_higher_priority_first_and_fifo_within_a_priority() {
    let redis = RedisServer::start();
    let recorder = Recorder::default();
    let registry = HandlerRegistry::with_builtins().with("record", recorder.clone());
    let api_only = Roles { api: true, workers: false };
    let producer = TestApp::spawn_with(test_config(&redis.url()), api_only, registry.clone()).await;

    let priorities = [1, 9, 5, 9, 1, 5, 0, 9, 5, 1, 0, 5];
    let mut submitted = Vec::new(); // (priority, submission index, label, id)
    for (n, priority) in priorities.into_iter().enumerate() {
        let label = format!("p{priority}-n{n}");
        let body = json!({"kind": "record", "priority": priority, "payload": {"label": label}});
        let id = producer.submit_ok(&body).await;
        submitted.push((priority, n, label, id));
    }
    for (_, _, _, id) in &submitted {
        assert_eq!(producer.get(id).await["state"], "queued");
    }
    assert!(recorder.order.lock().unwrap().is_empty());

    let config = ttp::config::Config { concurrency: 1, ..test_config(&redis.url()) };
    let both = Roles { api: true, workers: true };
    let worker = TestApp::spawn_with(config, both, registry).await;
    let mut started_at = Vec::new();
    // Expected order: priority descending, then submission order.
    submitted.sort_by_key(|(priority, n, _, _)| (std::cmp::Reverse(*priority), *n));
    for (_, _, label, id) in &submitted {
        let view = worker.wait_for_state(id, "succeeded", Duration::from_secs(10)).await;
        assert_eq!(view["result"], json!(label));
        started_at.push((view["started_at"].as_str().unwrap().to_owned(), label));
    }

    let expected: Vec<&String> = submitted.iter().map(|(_, _, label, _)| label).collect();
    let ran = recorder.order.lock().unwrap().clone();
    assert_eq!(ran.iter().collect::<Vec<_>>(), expected, "run order");
    // RFC 3339 UTC with fixed millisecond precision sorts as text; ties are allowed.
    for pair in started_at.windows(2) {
        assert!(pair[0].0 <= pair[1].0, "started_at goes backwards: {pair:?}");
    }
    worker.shutdown().await;
    producer.shutdown().await;
}
