//! The dashboard's stream holds nothing unbounded: at most `TTP_UI_MAX_STREAMS` streams
//! per process (one more is a 503 with `Retry-After`, and a viewer that leaves frees its
//! place), and a client that stops reading is cut off after `TTP_HTTP_IDLE_TIMEOUT_MS`
//! (its snapshots are never queued for it: the kernel's and hyper's buffers fill, then
//! the write times out).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{EventStream, RedisServer, TestApp, assert_problem, test_config};

const SECOND: Duration = Duration::from_secs(1);

async fn app_with(redis: &RedisServer, change: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(&redis.url());
    change(&mut config);
    let roles = Roles { api: true, workers: false };
    TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await
}

/// Opens streams until one answers 200, for at most `within`; returns how long it took.
async fn until_admitted(app: &TestApp, within: Duration) -> Duration {
    let started = Instant::now();
    for _ in 0..200 {
        let response = app.http.get(app.url("/ui/events")).send().await.unwrap();
        if response.status() == 200 {
            return started.elapsed();
        }
        assert_eq!(response.status(), 503);
        assert!(started.elapsed() < within, "no stream admitted within {within:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("no stream admitted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stream_past_the_limit_is_a_503_and_a_leaving_viewer_frees_its_place() {
    let redis = RedisServer::start();
    let app = app_with(&redis, |c| c.ui_max_streams = 2).await;
    let url = app.url("/ui/events");
    let mut first = EventStream::open(&app.http, &url, None).await;
    let second = EventStream::open(&app.http, &url, None).await;
    let refused = app.http.get(&url).send().await.unwrap();
    assert_eq!(refused.headers()["retry-after"], "5");
    let problem = assert_problem(refused, 503, None).await;
    assert_eq!(problem["type"], "urn:ttp:problem:too-many-streams");
    assert!(problem["detail"].as_str().unwrap().contains("TTP_UI_MAX_STREAMS = 2"), "{problem}");
    // The other API calls are not limited by it.
    assert_eq!(app.http.get(app.url("/queues")).send().await.unwrap().status(), 200);

    drop(second);
    // hyper notices the closed connection at the next snapshot it writes.
    let took = until_admitted(&app, 5 * SECOND).await;
    eprintln!("a left stream's place was free again after {took:?}");
    first.snapshot(3 * SECOND).await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off_after_the_idle_timeout() {
    let redis = RedisServer::start();
    let app = app_with(&redis, |c| {
        c.ui_max_streams = 1;
        c.http_idle_timeout_ms = 1000;
    })
    .await;
    // 1,000 queues with long names make each snapshot about 200 KB, so unread snapshots
    // fill the socket buffers (up to 4 MB on Linux) within seconds.
    let tasks: Vec<Value> = (0..1000)
        .map(|i| json!({"kind": "noop", "queue": format!("{}-{i:04}", "q".repeat(59))}))
        .collect();
    let batch = app.http.post(app.url("/tasks/batch")).json(&json!({"tasks": tasks}));
    assert_eq!(batch.send().await.unwrap().status(), 200);

    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let address = app.url("").trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut frozen = socket.connect(address.parse().unwrap()).await.unwrap();
    frozen.write_all(b"GET /ui/events HTTP/1.1\r\nhost: ttp\r\n\r\n").await.unwrap();
    tokio::time::sleep(SECOND).await;
    let refused = app.http.get(app.url("/ui/events")).send().await.unwrap();
    assert_problem(refused, 503, None).await;

    // Never read: the frozen client's stream ends, and its place frees.
    let took = until_admitted(&app, 45 * SECOND).await;
    eprintln!("a client that stopped reading lost its stream after {took:?}");
    drop(frozen);
    app.shutdown().await;
}
