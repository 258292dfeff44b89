//! The `/schedules` routes: create, idempotent upsert, read, list, delete, run, and a
//! 422 naming the field for every bad input.

use serde_json::{Value, json};
use ttp::testkit::{RedisServer, TestApp, assert_problem};

use super::{PARKED, every, put, view};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_upsert_read_list_run_and_delete() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let base = app.url("");
    let body = json!({"cron": "0 9 * * 1-5", "timezone": "America/New_York",
                      "task": {"kind": "noop", "queue": PARKED}});
    let created = put(&app.http, &base, "weekdays", &body).await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["state"], "active");
    assert_eq!(created["spec"]["catchup"], "latest");
    assert_eq!(created["spec"]["overlap"], "skip");
    let runs = created["next_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 5);
    // 09:00 in New York is 13:00 or 14:00 UTC, depending on daylight saving.
    assert!(
        runs.iter().all(|r| r.as_str().unwrap().contains("T13:00:00.000Z")
            || r.as_str().unwrap().contains("T14:00:00.000Z")),
        "{runs:?}"
    );
    // The same spec again (written differently) changes nothing, not even the next tick.
    let again = json!({"task": {"queue": PARKED, "kind": "noop"}, "timezone": "America/New_York",
                       "cron": "0 9 * * 1-5", "catchup": "latest"});
    let unchanged = put(&app.http, &base, "weekdays", &again).await;
    assert_eq!(unchanged.status(), 200);
    let unchanged: Value = unchanged.json().await.unwrap();
    assert_eq!(unchanged["next_runs"], created["next_runs"]);
    assert_eq!(unchanged["updated_at"], created["updated_at"]);
    let changed = put(&app.http, &base, "weekdays", &every(60_000, "skip")).await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["spec"]["every_ms"], 60_000);
    assert!(changed["next_runs"][0].as_str().unwrap().ends_with(":00.000Z"), "{changed}");
    assert_eq!(put(&app.http, &base, "other", &every(1000, "all")).await.status(), 201);
    let list: Value =
        app.http.get(app.url("/schedules")).send().await.unwrap().json().await.unwrap();
    let names: Vec<&str> =
        list["schedules"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["other", "weekdays"]);

    // Run now: a task of the schedule, without moving the next tick.
    let before = view(&app.http, &base, "weekdays").await;
    let ran = app.http.post(app.url("/schedules/weekdays/run")).send().await.unwrap();
    assert_eq!(ran.status(), 202);
    let task: Value = ran.json().await.unwrap();
    assert_eq!(
        (task["schedule"].as_str(), task["queue"].as_str()),
        (Some("weekdays"), Some(PARKED))
    );
    let after = view(&app.http, &base, "weekdays").await;
    assert_eq!(after["next_runs"], before["next_runs"]);
    assert_eq!(after["recent_runs"][0]["task_id"], task["id"]);
    assert_eq!(before["last_run_at"], Value::Null);
    assert_eq!(after["last_run_at"], after["recent_runs"][0]["tick_at"], "{after}");
    assert_eq!(app.get(task["id"].as_str().unwrap()).await["schedule"], "weekdays");

    let delete = || app.http.delete(app.url("/schedules/weekdays")).send();
    assert_eq!(delete().await.unwrap().status(), 204);
    assert_problem(delete().await.unwrap(), 404, None).await;
    let gone = app.http.get(app.url("/schedules/weekdays")).send().await.unwrap();
    assert_problem(gone, 404, None).await;
    // The task it submitted stays.
    assert_eq!(app.get(task["id"].as_str().unwrap()).await["state"], "queued");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_a_422_naming_its_field() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let base = app.url("");
    let task = json!({"kind": "noop", "queue": PARKED});
    let cases = [
        (json!({"cron": "61 * * * *", "task": task}), "cron"),
        (json!({"cron": "* * *", "task": task}), "cron"),
        (json!({"cron": "@often", "task": task}), "cron"),
        (json!({"cron": "0 0 30 2 *", "task": task}), "cron"),
        (json!({"task": task}), "cron"),
        (json!({"cron": "@daily", "every_ms": 1000, "task": task}), "cron"),
        (json!({"every_ms": 99, "task": task}), "every_ms"),
        (json!({"cron": "@daily", "timezone": "Mars/Olympus", "task": task}), "timezone"),
        (
            json!({"every_ms": 1000, "task": task, "start_at": "2027-01-02T00:00:00Z",
                "end_at": "2027-01-01T00:00:00Z"}),
            "end_at",
        ),
        (json!({"every_ms": 1000, "task": task, "catchup": "sometimes"}), "catchup"),
        (json!({"every_ms": 1000, "task": task, "overlap": "never"}), "overlap"),
        (json!({"every_ms": 1000, "task": task, "catchup_window_s": 0}), "catchup_window_s"),
        (
            json!({"every_ms": 1000, "task": {"kind": "noop", "idempotency_key": "k"}}),
            "task.idempotency_key",
        ),
        (json!({"every_ms": 1000, "task": {"kind": "no-such-kind"}}), "task.kind"),
        (
            json!({"every_ms": 1000, "task": {"kind": "sleep", "payload": {"ms": -1}}}),
            "task.payload.ms",
        ),
        (json!({"every_ms": 1000, "task": {"kind": "noop", "priority": 12}}), "task.priority"),
        (json!({"every_ms": 1000, "task": {"kind": "noop", "queue": "Bad Queue"}}), "task.queue"),
    ];
    for (body, field) in cases {
        let response = put(&app.http, &base, "bad", &body).await;
        assert_problem(response, 422, Some(field)).await;
    }
    assert_problem(
        put(&app.http, &base, "Bad:Name", &super::every(1000, "all")).await,
        422,
        Some("name"),
    )
    .await;
    let list: Value =
        app.http.get(app.url("/schedules")).send().await.unwrap().json().await.unwrap();
    assert_eq!(list["schedules"], json!([]), "a refused PUT stored nothing");
    // The queue is fixed at creation.
    assert_eq!(put(&app.http, &base, "fixed", &every(1000, "all")).await.status(), 201);
    let moved = json!({"every_ms": 1000, "task": {"kind": "noop", "queue": "elsewhere"}});
    assert_problem(put(&app.http, &base, "fixed", &moved).await, 409, None).await;
    for action in ["pause", "resume", "run"] {
        let response =
            app.http.post(app.url(&format!("/schedules/nope/{action}"))).send().await.unwrap();
        assert_problem(response, 404, None).await;
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_of_the_configuration_file_are_upserted_at_start_up() {
    let redis = RedisServer::start();
    let config = ttp::config::Config {
        schedules: vec![
            json!({"name": "from-file", "every_ms": 60_000, "task": {"kind": "noop", "queue": PARKED}}),
            json!({"name": "broken", "cron": "61 * * * *", "task": {"kind": "noop"}}),
        ],
        ..ttp::testkit::test_config(&redis.url())
    };
    let roles = ttp::app::Roles { api: true, workers: false };
    let registry = ttp::kinds::HandlerRegistry::with_builtins();
    let first = TestApp::spawn_with(config.clone(), roles, registry.clone()).await;
    let found = async |app: &TestApp| {
        for _ in 0..100 {
            let response = app.http.get(app.url("/schedules/from-file")).send().await.unwrap();
            if response.status() == 200 {
                return response.json::<Value>().await.unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the schedule of the configuration file was not applied");
    };
    let applied = found(&first).await;
    // A second process applying the same file changes nothing.
    let second = TestApp::spawn_with(config, roles, registry).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let again = found(&second).await;
    assert_eq!(again["updated_at"], applied["updated_at"]);
    assert_eq!(again["next_runs"], applied["next_runs"]);
    let broken = first.http.get(first.url("/schedules/broken")).send().await.unwrap();
    assert_problem(broken, 404, None).await;
    first.shutdown().await;
    second.shutdown().await;
}
