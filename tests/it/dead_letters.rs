//! The dead-letter list: newest first, cursor pages without duplicates or gaps, a kind
//! filter, and its caps in size (`dead_max`) and age (`dead_ttl_s`), applied on the
//! next failure.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::app::Roles;
use ttp::config::Config;
use ttp::kinds::HandlerRegistry;
use ttp::task::now_ms;
use ttp::testkit::{
    RedisServer, TestApp, default_keys, default_queue, test_config, wait_stored_state, zcard,
};

/// A task that fails on its first and only attempt.
fn doomed(n: usize) -> Value {
    json!({"kind": "fail", "payload": {"message": format!("doomed {n}")}, "max_attempts": 1})
}

async fn spawn_with(config: Config) -> TestApp {
    let roles = Roles { api: true, workers: true };
    TestApp::spawn_with(config, roles, HandlerRegistry::with_builtins()).await
}

/// Pages through `GET /queues/default/dead` (with `query`, e.g. `&kind=fail`); the
/// pages' task views.
async fn pages(app: &TestApp, limit: usize, query: &str) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor = String::new();
    for _ in 0..100 {
        let url = app.url(&format!("/queues/default/dead?limit={limit}{query}{cursor}"));
        let response = app.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let page: Value = response.json().await.unwrap();
        pages.push(page["tasks"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return pages,
        }
    }
    panic!("more than 100 pages");
}

/// The pages' ids in order, asserting no id repeats and failure times never increase.
fn ids_newest_first(pages: &[Vec<Value>]) -> Vec<String> {
    let tasks: Vec<&Value> = pages.iter().flatten().collect();
    let mut seen = HashSet::new();
    for task in &tasks {
        assert_eq!(task["state"], "failed", "{task}");
        assert!(seen.insert(task["id"].as_str().unwrap()), "listed twice: {task}");
    }
    for pair in tasks.windows(2) {
        let (newer, older) = (pair[0]["finished_at"].as_str(), pair[1]["finished_at"].as_str());
        assert!(newer >= older, "not newest first: {} then {}", pair[0], pair[1]);
    }
    tasks.iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_page_newest_first_without_duplicates_and_filter_by_kind() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let mut failing = Vec::new();
    for n in 0..25 {
        failing.push(app.submit_ok(&doomed(n)).await);
    }
    let mut timed_out = Vec::new();
    for _ in 0..5 {
        let body =
            json!({"kind": "sleep", "payload": {"ms": 2000}, "timeout_ms": 20, "max_attempts": 1});
        timed_out.push(app.submit_ok(&body).await);
    }
    let all: Vec<String> = failing.iter().chain(&timed_out).cloned().collect();
    wait_stored_state(&redis, &all, "failed", Duration::from_secs(20)).await;

    let by_kind = pages(&app, 10, "&kind=fail").await;
    let sizes: Vec<usize> = by_kind.iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 5], "pages of the 25 fail tasks");
    let listed = ids_newest_first(&by_kind);
    assert_eq!(listed.iter().collect::<HashSet<_>>(), failing.iter().collect::<HashSet<_>>());

    let sleeps = ids_newest_first(&pages(&app, 10, "&kind=sleep").await);
    assert_eq!(sleeps.iter().collect::<HashSet<_>>(), timed_out.iter().collect::<HashSet<_>>());

    let everything = pages(&app, 10, "").await;
    let sizes: Vec<usize> = everything.iter().map(Vec::len).filter(|n| *n > 0).collect();
    assert_eq!(sizes, [10, 10, 10]);
    assert_eq!(ids_newest_first(&everything).len(), 30);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dead_letter_list_keeps_only_the_newest_dead_max_entries() {
    let redis = RedisServer::start();
    let app = spawn_with(Config { dead_max: 5, ..test_config(&redis.url()) }).await;
    let mut ids = Vec::new();
    for n in 0..8 {
        // One at a time, so each fails in its own millisecond and the order is known.
        let id = app.submit_ok(&doomed(n)).await;
        app.wait_for_state(&id, "failed", Duration::from_secs(10)).await;
        ids.push(id);
        let since = now_ms();
        while now_ms() <= since {
            tokio::task::yield_now().await;
        }
    }
    assert_eq!(zcard(&redis, &default_keys().dead(&default_queue())), 5);
    let listed = ids_newest_first(&pages(&app, 50, "").await);
    let newest: Vec<String> = ids.iter().rev().take(5).cloned().collect();
    assert_eq!(listed, newest, "the 5 newest, newest first");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_older_than_dead_ttl_are_trimmed_on_the_next_failure() {
    let redis = RedisServer::start();
    let app = spawn_with(Config { dead_ttl_s: 1, ..test_config(&redis.url()) }).await;
    let dead = default_keys().dead(&default_queue());
    let mut old = Vec::new();
    for n in 0..3 {
        old.push(app.submit_ok(&doomed(n)).await);
    }
    for id in &old {
        app.wait_for_state(id, "failed", Duration::from_secs(10)).await;
    }
    assert_eq!(zcard(&redis, &dead), 3);

    // Past their 1 s retention, the old entries go with the next failure.
    let since = now_ms();
    let deadline = Instant::now() + Duration::from_secs(5);
    while now_ms() < since + 1100 {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let new = app.submit_ok(&doomed(3)).await;
    app.wait_for_state(&new, "failed", Duration::from_secs(10)).await;
    let members: Vec<String> =
        redis::cmd("ZRANGE").arg(&dead).arg(0).arg(-1).query(&mut redis.connection()).unwrap();
    assert_eq!(members, [new.as_str()], "only the new failure is kept");
    // The old tasks' hashes expire with the same retention.
    for id in &old {
        let status = app.http.get(app.url(&format!("/tasks/{id}"))).send().await.unwrap().status();
        assert_eq!(status, 404, "{id} outlived its dead-letter retention");
    }
    app.shutdown().await;
}

/// Commands Redis has run so far (`INFO stats`).
fn commands_processed(redis: &RedisServer) -> u64 {
    let info: String = redis::cmd("INFO").arg("stats").query(&mut redis.connection()).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("total_commands_processed:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_filtered_page_costs_what_it_returns_not_what_it_skips() {
    let redis = RedisServer::start();
    let app = spawn_with(Config { concurrency: 16, ..test_config(&redis.url()) }).await;
    // 1,000 dead letters of kind `fail`, then 20 of kind `sleep` (timed out): the newest
    // `sleep` page sits behind none, the `fail` ones behind the `sleep` ones.
    let doomed_batch: Vec<Value> = (0..1000).map(doomed).collect();
    for chunk in doomed_batch.chunks(500) {
        let body = json!({"tasks": chunk});
        app.http.post(app.url("/tasks/batch")).json(&body).send().await.unwrap();
    }
    let sleepers: Vec<Value> = (0..20)
        .map(|_| json!({"kind": "sleep", "payload": {"ms": 1000}, "timeout_ms": 10, "max_attempts": 1}))
        .collect();
    app.http.post(app.url("/tasks/batch")).json(&json!({"tasks": sleepers})).send().await.unwrap();
    let dead = default_keys().dead(&default_queue());
    let deadline = Instant::now() + Duration::from_secs(30);
    while zcard(&redis, &dead) < 1020 {
        assert!(Instant::now() < deadline, "dead letters: {}", zcard(&redis, &dead));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = commands_processed(&redis);
    let url = app.url("/queues/default/dead?limit=10&kind=fail");
    let page: Value = app.http.get(url).send().await.unwrap().json().await.unwrap();
    let cost = commands_processed(&redis) - before;
    assert_eq!(page["tasks"].as_array().unwrap().len(), 10, "{page}");
    assert!(page["tasks"].as_array().unwrap().iter().all(|t| t["kind"] == "fail"));
    // One range read and three reads per task returned, whatever lies in between.
    assert!(cost <= 40, "a page of 10 cost {cost} Redis commands");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_into_a_full_queue_is_a_429_and_leaves_the_dead_letter_in_place() {
    let redis = RedisServer::start();
    let config = Config { max_queue_length: 1, ..test_config(&redis.url()) };
    let app = spawn_with(config).await;
    let id = app.submit_ok(&doomed(0)).await;
    app.wait_for_state(&id, "failed", Duration::from_secs(10)).await;
    // Fill the queue: a delayed task waits in it.
    app.submit_ok(&json!({"kind": "noop", "delay_ms": 60_000})).await;
    let response = app.http.post(app.url(&format!("/tasks/{id}/retry"))).send().await.unwrap();
    ttp::testkit::assert_problem(response, 429, None).await;
    let view = app.get(&id).await;
    assert_eq!(view["state"], "failed", "{view}");
    let dead = default_keys().dead(&default_queue());
    assert_eq!(zcard(&redis, &dead), 1);
    app.shutdown().await;
}
