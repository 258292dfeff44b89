//! Every built-in kind end to end: submitted over HTTP, run by the embedded workers,
//! result read back with `GET /tasks/{id}` and checked against hand-computed values.

use std::time::Duration;

use serde_json::{Value, json};
use ttp::testkit::{RedisServer, TestApp};

/// How long any task in this module may take to settle.
const SETTLE: Duration = Duration::from_secs(10);

/// Submits `body`, waits until the task reaches `state` and returns its view.
async fn run_until(app: &TestApp, body: Value, state: &str) -> Value {
    let id = app.submit_ok(&body).await;
    app.wait_for_state(&id, state, SETTLE).await
}

/// `value[key]` as a float, within 1e-9 of `want`.
fn assert_close(value: &Value, key: &str, want: f64) {
    let got = value[key].as_f64().unwrap_or_else(|| panic!("{key} is not a number in {value}"));
    assert!((got - want).abs() < 1e-9, "{key}: got {got}, want {want}");
}

/// The `[[t, v]…]` points of a downsample result.
fn points_of(result: &Value) -> Vec<(i64, f64)> {
    result["points"]
        .as_array()
        .unwrap_or_else(|| panic!("no points in {result}"))
        .iter()
        .map(|p| (p[0].as_i64().unwrap(), p[1].as_f64().unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noop_task_succeeds_with_a_null_result() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let view = run_until(&app, json!({"kind": "noop"}), "succeeded").await;
    assert_eq!(view["result"], Value::Null, "{view}");
    assert_eq!(view["attempts"], 1);
    assert_eq!(view["error"], Value::Null);
    assert!(view["started_at"].is_string() && view["finished_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_task_returns_its_payload_unchanged() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let payload = json!({"text": "héllo", "n": [1, 2.5, -3], "nested": {"ok": true, "none": null}});
    let body = json!({"kind": "echo", "payload": payload});
    let view = run_until(&app, body, "succeeded").await;
    assert_eq!(view["result"], payload);
    assert_eq!(view["payload"], payload);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_task_reports_how_long_it_slept() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let body = json!({"kind": "sleep", "payload": {"ms": 50}});
    let view = run_until(&app, body, "succeeded").await;
    assert_eq!(view["result"], json!({"slept_ms": 50}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_first_task_succeeds_on_its_second_attempt_and_clears_the_first_error() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let body = json!({
        "kind": "fail",
        "payload": {"fail_first": 1, "message": "flaky dependency"},
        "max_attempts": 3,
    });
    let view = run_until(&app, body, "succeeded").await;
    assert_eq!(view["attempts"], 2, "{view}");
    // The retry's error and backoff time are gone once an attempt succeeded (SPEC §2).
    assert_eq!(view["error"], Value::Null, "{view}");
    assert_eq!(view["run_at"], Value::Null, "{view}");
    assert_eq!(view["result"], json!({"attempts": 2}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_retryable_fail_task_fails_after_one_attempt_with_its_message() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let body = json!({
        "kind": "fail",
        "payload": {"message": "permanent boom", "retryable": false},
        "max_attempts": 3,
    });
    let view = run_until(&app, body, "failed").await;
    assert_eq!(view["attempts"], 1, "{view}");
    assert_eq!(view["error"], "permanent boom");
    assert_eq!(view["result"], Value::Null);
    assert!(view["finished_at"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aggregate_of_one_to_ten_matches_hand_computed_statistics() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    // Shuffled on purpose: the handler sorts.
    let samples = json!([4, 9, 1, 10, 7, 3, 6, 2, 8, 5]);
    let body = json!({"kind": "telemetry.aggregate", "payload": {"samples": samples}});
    let view = run_until(&app, body, "succeeded").await;
    let result = &view["result"];
    assert_eq!(result["count"], 10, "{result}");
    let expected = [
        ("min", 1.0),
        ("max", 10.0),
        ("mean", 5.5),
        // sqrt(sum((x - 5.5)^2) / 10) = sqrt(82.5 / 10)
        ("stddev", 2.872_281_323_269_014_3),
        ("p50", 5.5),
        ("p90", 9.1),
        ("p95", 9.55),
        ("p99", 9.91),
    ];
    for (key, want) in expected {
        assert_close(result, key, want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anomalies_reports_only_the_clear_outlier_with_its_z_score() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    // 19 ones and one 50: mean 1 + 49/20, population stddev 49·sqrt(19)/20, and the
    // outlier's z-score is exactly sqrt(n - 1) = sqrt(19) ≈ 4.36 > 3; the ones score -0.23.
    let mut samples = vec![1.0; 20];
    samples[12] = 50.0;
    let body = json!({"kind": "telemetry.anomalies", "payload": {"samples": samples, "z": 3.0}});
    let view = run_until(&app, body, "succeeded").await;
    let result = &view["result"];
    assert_eq!(result["count"], 20, "{result}");
    assert_close(result, "mean", 3.45);
    assert_close(result, "stddev", 49.0 * 19f64.sqrt() / 20.0);
    let found = result["anomalies"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{result}");
    assert_eq!(found[0]["index"], 12);
    assert_close(&found[0], "value", 50.0);
    assert_close(&found[0], "z", 19f64.sqrt());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downsample_buckets_unsorted_points_with_each_aggregation() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let points = json!([[250, 4], [0, 1], [120, 5], [99, 3], [130, 6], [-1, 8]]);
    // Buckets of 100 ms aligned to the epoch: [-100, 0) holds -1; [0, 100) holds 0 and 99.
    let cases: [(Option<&str>, [f64; 4]); 5] = [
        (None, [8.0, 2.0, 5.5, 4.0]),
        (Some("mean"), [8.0, 2.0, 5.5, 4.0]),
        (Some("min"), [8.0, 1.0, 5.0, 4.0]),
        (Some("max"), [8.0, 3.0, 6.0, 4.0]),
        (Some("sum"), [8.0, 4.0, 11.0, 4.0]),
    ];
    let mut ids = Vec::new();
    for (agg, _) in &cases {
        let mut payload = json!({"points": points, "bucket_ms": 100});
        if let Some(agg) = agg {
            payload["agg"] = json!(agg);
        }
        let body = json!({"kind": "telemetry.downsample", "payload": payload});
        ids.push(app.submit_ok(&body).await);
    }
    for ((agg, values), id) in cases.iter().zip(&ids) {
        let view = app.wait_for_state(id, "succeeded", SETTLE).await;
        let result = &view["result"];
        assert_eq!(result["agg"], agg.unwrap_or("mean"), "{result}");
        assert_eq!(result["bucket_ms"], 100);
        let want: Vec<(i64, f64)> = [-100, 0, 100, 200].into_iter().zip(*values).collect();
        assert_eq!(points_of(result), want, "agg {agg:?}");
    }
}
