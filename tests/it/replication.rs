//! Replication safety on a standalone Redis (`TTP_REDIS_MIN_REPLICAS`), and the start-up
//! check that Redis is the kind `TTP_REDIS_MODE` says.

use std::time::Duration;

use serde_json::{Value, json};
use ttp::app::{App, Roles};
use ttp::config::RedisMode;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{RedisServer, TestApp, test_config, wait_until};

async fn api(redis: &RedisServer, min_replicas: u64) -> TestApp {
    let config =
        ttp::config::Config { redis_min_replicas: min_replicas, ..test_config(&redis.url()) };
    TestApp::spawn_with(
        config,
        Roles { api: true, workers: false },
        HandlerRegistry::with_builtins(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_no_replica_confirms_is_answered_504_with_its_task() {
    let redis = RedisServer::start();
    let app = api(&redis, 1).await;
    let response = app.submit(&json!({"kind": "noop"})).await;
    assert_eq!(response.status(), 504);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "urn:ttp:problem:outcome-unknown", "{problem}");
    let id = problem["task_id"].as_str().unwrap();
    assert_eq!(location, format!("/tasks/{id}"));
    assert_eq!(app.get(id).await["state"], "queued", "the master stored it");

    let batch: Value = app
        .http
        .post(app.url("/tasks/batch"))
        .json(&json!({"tasks": [{"kind": "noop"}, {"kind": "nope"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(batch["results"][0]["status"], 504, "{batch}");
    assert_eq!(batch["results"][1]["status"], 422, "{batch}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_is_acknowledged_once_a_replica_holds_it() {
    let master = RedisServer::start();
    let port = master.port().to_string();
    let replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]);
    let mut conn = replica.connection();
    wait_until(Duration::from_secs(20), || {
        let info: String = redis::cmd("INFO").arg("replication").query(&mut conn).unwrap();
        info.contains("master_link_status:up")
    });
    let app = api(&master, 1).await;
    let id = app.submit_ok(&json!({"kind": "noop"})).await;
    let key = ttp::testkit::default_keys().task(&ttp::task::TaskId::parse(&id).unwrap());
    let on_replica: bool = redis::cmd("EXISTS").arg(key).query(&mut conn).unwrap();
    assert!(on_replica, "acknowledged only once the replica holds it");
    app.shutdown().await;
}

fn config_for(url: &str, mode: RedisMode) -> ttp::config::Config {
    ttp::config::Config { redis_mode: mode, ..test_config(url) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_refuses_a_redis_of_the_other_mode() {
    let standalone = RedisServer::start();
    let roles = Roles { api: false, workers: true };
    let built = App::build(
        config_for(&standalone.url(), RedisMode::Cluster),
        roles,
        HandlerRegistry::with_builtins(),
    )
    .await;
    let error = format!("{:#}", built.err().expect("cluster mode on a standalone Redis"));
    assert!(error.contains("TTP_REDIS_MODE=cluster"), "{error}");

    let node = RedisServer::start_with(&["--cluster-enabled", "yes"]);
    let built = App::build(
        config_for(&node.url(), RedisMode::Standalone),
        roles,
        HandlerRegistry::with_builtins(),
    )
    .await;
    let error = format!("{:#}", built.err().expect("standalone mode on a cluster node"));
    assert!(error.contains("TTP_REDIS_MODE=standalone"), "{error}");
}
