//! The dashboard (SPEC §11) without a browser: the page's security headers and ETags,
//! the live stream's content, rates and per-key filtering, 401/403 with keys, and a
//! stream that ends promptly at shutdown. `make ui-test` drives the page itself.

use std::time::{Duration, Instant};

use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::testkit::{
    Event, EventStream, RedisServer, TestApp, assert_problem, queue_row, test_config,
};

use crate::scopes::{entry, keys_file};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_self_contained_with_a_strict_csp_and_revalidates_by_etag() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let page = app.http.get(app.url("/ui")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    for rule in
        ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"]
    {
        assert!(csp.contains(rule), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers[CACHE_CONTROL], "no-cache");
    let html = page.text().await.unwrap();
    // Nothing from elsewhere, no inline script or style.
    assert!(!html.contains("http://") && !html.contains("https://"), "{html}");
    assert!(!html.contains("style="), "inline style");
    for script in html.split("<script").skip(1) {
        assert!(script.trim_start().starts_with("type=\"module\" src=\"ui/assets/"), "{script}");
    }

    let etag = headers[ETAG].to_str().unwrap().to_owned();
    let again = app.http.get(app.url("/ui")).header(IF_NONE_MATCH, &etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()[ETAG].to_str().unwrap(), etag);
    let script = app.http.get(app.url("/ui/assets/app.js")).send().await.unwrap();
    assert_eq!(script.headers()[CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_ne!(script.headers()[ETAG].to_str().unwrap(), etag);
    let missing = app.http.get(app.url("/ui/assets/nope.js")).send().await.unwrap();
    assert_problem(missing, 404, None).await;
    let slash = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build();
    let slash = slash.unwrap().get(app.url("/ui/")).send().await.unwrap();
    assert_eq!(
        (slash.status().as_u16(), slash.headers()["location"].to_str().unwrap()),
        (308, "../ui")
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_sends_each_second_a_snapshot_with_counts_rates_and_latency() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let url = app.url("/ui/events");
    let request = app.http.get(&url).header(ACCEPT_ENCODING, "gzip").send().await.unwrap();
    assert_eq!(request.headers()[CONTENT_TYPE], "text/event-stream");
    assert!(request.headers().get(CONTENT_ENCODING).is_none(), "a stream is never gzipped");
    drop(request);
    let mut stream = EventStream::open(&app.http, &url, None).await;
    let first = stream.snapshot(3 * SECOND).await;
    assert_eq!(first["interval_ms"], 1000);
    assert_eq!(
        first["viewer"],
        json!({"key_id": null, "scopes": ["submit", "read", "work", "admin"]})
    );
    assert_eq!(first["process"]["concurrency"], 4);
    let row = queue_row(&first, "default").expect("the served queue is listed while empty");
    assert_eq!(row["queued"], 0);

    for _ in 0..20 {
        app.submit_ok(&json!({"kind": "noop"})).await;
    }
    let started = Instant::now();
    let mut fastest_in = 0.0f64;
    let done = loop {
        let snapshot = stream.snapshot(3 * SECOND).await;
        let row = queue_row(&snapshot, "default").unwrap().clone();
        fastest_in = fastest_in.max(row["in_per_s"].as_f64().unwrap_or(0.0));
        if row["tasks_out"] == 20 {
            break row;
        }
        assert!(started.elapsed() < 10 * SECOND, "not all finished: {row}");
    };
    assert_eq!(done["tasks_in"], 20, "{done}");
    assert!(done["p99_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{done}");
    assert!(started.elapsed() < 3 * SECOND, "counts are live");
    // Rates are the counters' deltas between snapshots.
    assert!(fastest_in > 0.0);
    let after = stream.snapshot(2 * SECOND).await;
    assert_eq!(queue_row(&after, "default").unwrap()["in_per_s"], 0.0, "nothing came in since");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_counters_count_each_task_in_and_out_once() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let mut stream = EventStream::open(&app.http, &app.url("/ui/events"), None).await;
    let ok = json!({"kind": "noop", "idempotency_key": "once"});
    app.submit_ok(&ok).await;
    assert_eq!(app.submit(&ok).await.status(), 200, "a replay stores nothing");
    let dead = app
        .submit_ok(&json!({"kind": "fail", "payload": {"retryable": false}, "max_attempts": 1}))
        .await;
    let delayed = app.submit_ok(&json!({"kind": "noop", "delay_ms": 60_000})).await;
    app.wait_for_state(&dead, "failed", 5 * SECOND).await;
    let cancel = app.http.post(app.url(&format!("/tasks/{delayed}/cancel"))).send().await.unwrap();
    assert_eq!(cancel.status(), 200);
    let retry = app.http.post(app.url(&format!("/tasks/{dead}/retry"))).send().await.unwrap();
    assert_eq!(retry.status(), 202);
    app.wait_for_state(&dead, "failed", 5 * SECOND).await;
    // In: noop, fail, delayed, the replay of fail. Out: noop, fail twice, the cancel.
    let settled = stream
        .until(5 * SECOND, |s| queue_row(s, "default").is_some_and(|q| q["tasks_out"] == 4))
        .await;
    let row = queue_row(&settled, "default").unwrap();
    assert_eq!((row["tasks_in"].clone(), row["dead"].clone()), (json!(4), json!(1)), "{row}");
    app.shutdown().await;
}

const READER: &str = "reader-secret-000000001";
const ADMIN: &str = "admin-secret-000000002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_keys_the_stream_needs_read_and_shows_only_the_keys_queues() {
    let redis = RedisServer::start();
    let dir = std::env::temp_dir().join(format!("ttp-ui-{}-{}", std::process::id(), redis.port()));
    let text = entry("reader", READER, &["read"], &["emails"])
        + &entry("admin", ADMIN, &["submit", "admin"], &["*"]);
    let config = Config {
        api_keys_file: keys_file(&dir, &text),
        queues: "default,emails".into(),
        ..test_config(&redis.url())
    };
    let roles = Roles { api: true, workers: false };
    let app = TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await;
    let url = app.url("/ui/events");
    let none = app.http.get(&url).send().await.unwrap();
    assert_eq!(none.headers()["www-authenticate"], "Bearer");
    assert_problem(none, 401, None).await;
    let admin = app.http.get(&url).bearer_auth(ADMIN).send().await.unwrap();
    let problem = assert_problem(admin, 403, None).await;
    assert!(problem["detail"].as_str().unwrap().contains("`read`"), "{problem}");
    // The page, its files and its configuration are open; the configuration says a key
    // is needed.
    for open in ["/ui", "/ui/assets/app.js", "/ui/config"] {
        assert_eq!(app.http.get(app.url(open)).send().await.unwrap().status(), 200, "{open}");
    }
    let config: Value =
        app.http.get(app.url("/ui/config")).send().await.unwrap().json().await.unwrap();
    assert_eq!(config["keys_required"], true);

    let mut stream = EventStream::open(&app.http, &url, Some(READER)).await;
    let snapshot = stream.snapshot(3 * SECOND).await;
    let names: Vec<&str> = snapshot["queues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["emails"], "{snapshot}");
    assert_eq!(snapshot["viewer"], json!({"key_id": "reader", "scopes": ["read"]}));
    let _ = std::fs::remove_dir_all(dir);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_when_the_keys_are_reread_so_a_revoked_key_loses_it() {
    let redis = RedisServer::start();
    let dir =
        std::env::temp_dir().join(format!("ttp-ui-hup-{}-{}", std::process::id(), redis.port()));
    let path = keys_file(&dir, &entry("reader", READER, &["read"], &["*"]));
    let serve = ttp::testkit::TtpProcess::start(
        crate::TTP_BIN,
        &["serve", "--no-workers"],
        &[("TTP_REDIS_URL", redis.url()), ("TTP_API_KEYS_FILE", path.clone())],
    );
    let http = ttp::testkit::http_client();
    let mut stream = EventStream::open(&http, &serve.url("/ui/events"), Some(READER)).await;
    stream.snapshot(3 * SECOND).await;
    std::fs::write(&path, entry("other", ADMIN, &["read"], &["*"])).unwrap();
    serve.signal("HUP");
    let bye = loop {
        match stream.next(5 * SECOND).await {
            Some(Event::Snapshot(_)) => continue,
            other => break other,
        }
    };
    assert_eq!(bye, Some(Event::Bye("keys-reloaded".into())));
    assert_eq!(stream.next(SECOND).await, None, "the stream ends after its bye");
    let again = http.get(serve.url("/ui/events")).bearer_auth(READER).send().await.unwrap();
    assert_eq!(again.status(), 401, "the revoked key cannot reconnect");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_an_open_stream_with_a_bye_at_once() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let mut stream = EventStream::open(&app.http, &app.url("/ui/events"), None).await;
    stream.snapshot(3 * SECOND).await;
    let started = Instant::now();
    let stopping = tokio::spawn(app.shutdown());
    let bye = loop {
        match stream.next(3 * SECOND).await {
            Some(Event::Snapshot(_)) => continue,
            other => break other,
        }
    };
    assert_eq!(bye, Some(Event::Bye("shutdown".into())));
    assert_eq!(stream.next(SECOND).await, None);
    stopping.await.unwrap();
    // The grace period is 5 s: a stream holding its connection open would take that long.
    assert!(started.elapsed() < 2 * SECOND, "shutdown took {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_snapshots_say_so_and_keep_the_last_counts() {
    let mut redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    app.submit_ok(&json!({"kind": "noop", "queue": "reports"})).await;
    let mut stream = EventStream::open(&app.http, &app.url("/ui/events"), None).await;
    stream.until(3 * SECOND, |s| queue_row(s, "reports").is_some_and(|q| q["queued"] == 1)).await;
    redis.kill();
    let down = stream.until(10 * SECOND, |s| s["redis_error"].is_string()).await;
    let row = queue_row(&down, "reports").expect("the last rows read stay");
    assert_eq!((row["queued"].clone(), row["in_per_s"].clone()), (json!(1), Value::Null), "{row}");
    redis.restart();
    let up = stream.until(15 * SECOND, |s| s["redis_error"].is_null()).await;
    // The restarted Redis is empty (no persistence): the queue is gone, and so are its
    // counters, which never yields a negative rate.
    assert!(queue_row(&up, "reports").is_none(), "{up}");
    app.shutdown().await;
}
