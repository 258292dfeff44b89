//! Data stored by the previous layout (one hash field per task value; a schedule's
//! template field by field) is readable and runs after an upgrade: the data is seeded
//! exactly as the previous version's scripts wrote it, then a process of this version
//! starts on it.

use std::time::Duration;

use serde_json::{Value, json};
use ttp::task::{QueueName, TaskId};
use ttp::testkit::{RedisServer, TestApp, default_keys, default_queue};

use crate::schedules::put;

/// A task hash as the previous version's `enqueue.lua` and `settle.lua` left it.
fn seed_task(conn: &mut redis::Connection, id: &TaskId, fields: &[(&str, &str)]) {
    let key = default_keys().task(id);
    let mut hset = redis::cmd("HSET");
    hset.arg(&key);
    for (name, value) in fields {
        hset.arg(*name).arg(*value);
    }
    hset.query::<()>(conn).unwrap();
}

fn old_task(kind: &str, payload: &str, prio: &str, state: &str) -> Vec<(&'static str, String)> {
    [
        ("kind", kind),
        ("payload", payload),
        ("prio", prio),
        ("state", state),
        ("att", "0"),
        ("max", "3"),
        ("timeout", "30000"),
        ("ttl", "86400"),
        ("created", "1764590000000"),
    ]
    .into_iter()
    .map(|(n, v)| (n, v.to_owned()))
    .collect()
}

fn seed(conn: &mut redis::Connection, id: &TaskId, fields: &[(&'static str, String)]) {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    seed_task(conn, id, &pairs);
}

fn cmd(conn: &mut redis::Connection, args: &[&str]) {
    let mut c = redis::cmd(args[0]);
    for arg in &args[1..] {
        c.arg(*arg);
    }
    c.query::<()>(conn).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_schedules_of_the_previous_layout_are_read_and_run_after_an_upgrade() {
    let redis = RedisServer::start();
    let keys = default_keys();
    let queue = default_queue();

    // A schedule made by this version, then written back the way the previous one
    // stored its template; paused so that it fires only once resumed after the upgrade.
    let app = TestApp::api_only(&redis).await;
    let schedule = json!({"every_ms": 500, "paused": true,
        "task": {"kind": "echo", "payload": {"from": "schedule"}, "priority": 2}});
    assert_eq!(put(&app.http, &app.url(""), "old", &schedule).await.status(), 201);
    app.shutdown().await;
    let mut conn = redis.connection();
    let record = keys.schedule(&queue, "old");
    cmd(&mut conn, &["HDEL", &record, "t_head", "t_tail"]);
    cmd(
        &mut conn,
        &[
            "HSET",
            &record,
            "t_kind",
            "echo",
            "t_payload",
            r#"{"from":"schedule"}"#,
            "t_prio",
            "2",
            "t_max",
            "3",
            "t_timeout",
            "30000",
            "t_ttl",
            "86400",
        ],
    );
    // Its recent runs as the previous version kept them: a list beside the hash.
    let old_run = "1764590000000 01KBCV3Z00AAAAAAAAAAAAAAAA.default 1764590000012";
    cmd(&mut conn, &["LPUSH", &keys.schedule_runs(&queue, "old"), old_run]);
    cmd(&mut conn, &["DEL", &keys.layout()]);

    // Tasks in every state the previous version stored.
    let ids: Vec<TaskId> = (0..4).map(|_| TaskId::generate(&queue)).collect();
    let (queued, scheduled, succeeded, failed) = (&ids[0], &ids[1], &ids[2], &ids[3]);
    seed(&mut conn, queued, &old_task("echo", r#"{"n":1,"text":"a b"}"#, "7", "queued"));
    cmd(&mut conn, &["ZADD", &keys.pending(&queue), "8796093022209", queued.as_str()]);
    let mut waiting = old_task("echo", r#"{"n":2}"#, "5", "scheduled");
    waiting.push(("run_at", "1764590001000".into()));
    seed(&mut conn, scheduled, &waiting);
    cmd(&mut conn, &["ZADD", &keys.scheduled(&queue), "1764590001000", scheduled.as_str()]);
    let mut done = old_task("echo", r#"{"n":3}"#, "5", "succeeded");
    done.retain(|(n, _)| *n != "att");
    done.extend([
        ("att", "1".into()),
        ("result", r#"{"n":3}"#.into()),
        ("started", "1764590000100".into()),
        ("finished", "1764590000200".into()),
    ]);
    seed(&mut conn, succeeded, &done);
    cmd(&mut conn, &["EXPIRE", &keys.task(succeeded), "3600"]);
    let mut dead = old_task("fail", r#"{"fail_times":5}"#, "5", "failed");
    dead.retain(|(n, _)| *n != "att");
    dead.extend([
        ("att", "3".into()),
        ("error", "boom".into()),
        ("started", "1764590000100".into()),
        ("finished", "1764590000200".into()),
    ]);
    seed(&mut conn, failed, &dead);
    cmd(&mut conn, &["ZADD", &keys.dead(&queue), "1764590000200", failed.as_str()]);
    cmd(&mut conn, &["ZADD", &keys.dead_of_kind(&queue, "fail"), "1764590000200", failed.as_str()]);

    // This version starts on it: everything is readable, and what waited runs.
    let app = TestApp::spawn(&redis).await;
    let view = app.wait_for_state(queued.as_str(), "succeeded", Duration::from_secs(10)).await;
    assert_eq!(view["result"], json!({"n": 1, "text": "a b"}), "{view}");
    assert_eq!((view["priority"].as_u64(), view["attempts"].as_u64()), (Some(7), Some(1)));
    let view = app.wait_for_state(scheduled.as_str(), "succeeded", Duration::from_secs(10)).await;
    assert_eq!(view["result"], json!({"n": 2}), "{view}");
    let view = app.get(succeeded.as_str()).await;
    assert_eq!(
        (view["state"].as_str(), view["result"].clone()),
        (Some("succeeded"), json!({"n": 3}))
    );
    assert_eq!(view["attempts"], 1, "{view}");
    assert_eq!(view["started_at"], "2025-12-01T11:53:20.100Z", "{view}");
    assert_eq!(view["finished_at"], "2025-12-01T11:53:20.200Z", "{view}");
    let ttl: i64 = redis::cmd("TTL").arg(keys.task(succeeded)).query(&mut conn).unwrap();
    assert!((3000..=3600).contains(&ttl), "the result TTL was kept: {ttl}");
    let view = app.get(failed.as_str()).await;
    assert_eq!((view["state"].as_str(), view["error"].as_str()), (Some("failed"), Some("boom")));
    let letters = app.http.get(app.url("/queues/default/dead?kind=fail")).send().await.unwrap();
    let letters: Value = letters.json().await.unwrap();
    assert_eq!(letters["tasks"][0]["id"].as_str(), Some(failed.as_str()), "{letters}");

    // No hash keeps a field of the old layout; the deployment's layout is recorded.
    for id in &ids {
        let names: Vec<String> = redis::cmd("HKEYS").arg(keys.task(id)).query(&mut conn).unwrap();
        for old in ["kind", "payload", "prio", "state", "att", "created", "result", "error"] {
            assert!(!names.iter().any(|n| n == old), "{id}: {names:?}");
        }
    }
    let layout: Option<String> = redis::cmd("GET").arg(keys.layout()).query(&mut conn).unwrap();
    assert_eq!(layout.as_deref(), Some("2"));

    // The schedule fires tasks made from its converted template.
    let resumed = app.http.post(app.url("/schedules/old/resume")).send().await.unwrap();
    assert_eq!(resumed.status(), 200);
    let fired = wait_schedule_task(&mut conn, &queue).await;
    let view = app.wait_for_state(&fired, "succeeded", Duration::from_secs(10)).await;
    assert_eq!(view["result"], json!({"from": "schedule"}), "{view}");
    assert_eq!((view["priority"].as_u64(), view["schedule"].as_str()), (Some(2), Some("old")));
    // Its recent runs: the new one first, then the one the previous version listed.
    let schedule = app.http.get(app.url("/schedules/old")).send().await.unwrap();
    let schedule: serde_json::Value = schedule.json().await.unwrap();
    let runs = schedule["recent_runs"].as_array().unwrap();
    assert_eq!(runs[0]["task_id"], fired.as_str(), "{schedule}");
    assert_eq!(runs.last().unwrap()["task_id"], "01KBCV3Z00AAAAAAAAAAAAAAAA.default", "{schedule}");
    app.shutdown().await;
}

/// The id of the first task the schedule `old` fired (its `last_task`).
async fn wait_schedule_task(conn: &mut redis::Connection, queue: &QueueName) -> String {
    let record = default_keys().schedule(queue, "old");
    for _ in 0..100 {
        let last: Option<String> =
            redis::cmd("HGET").arg(&record).arg("last_task").query(conn).unwrap();
        if let Some(last) = last {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the schedule fired nothing in 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_upgrade_runs_in_the_background_while_submissions_are_accepted() {
    let redis = RedisServer::start();
    let mut conn = redis.connection();
    // 100,000 finished tasks of the previous layout (longer to convert than start-up
    // waits), then one waiting task.
    let finished = "for i = tonumber(ARGV[1]), tonumber(ARGV[1]) + 9999 do \
        local key = 'ttp:{default}:task:' .. string.format('01KB%022d', i) .. '.default' \
        redis.call('HSET', key, 'kind', 'noop', 'payload', 'null', 'prio', '5', \
          'state', 'succeeded', 'att', '1', 'max', '3', 'timeout', '30000', 'ttl', '86400', \
          'created', '1764590000000', 'result', 'null', 'started', '1764590000100', \
          'finished', '1764590000200') \
        redis.call('EXPIRE', key, 86400) end";
    for batch in 0..10 {
        redis::cmd("EVAL").arg(finished).arg(0).arg(batch * 10_000).query::<()>(&mut conn).unwrap();
    }
    let keys = default_keys();
    let queue = default_queue();
    let waiting = TaskId::generate(&queue);
    seed(&mut conn, &waiting, &old_task("echo", r#"{"w":1}"#, "5", "queued"));
    cmd(&mut conn, &["ZADD", &keys.pending(&queue), "1", waiting.as_str()]);
    // A retry that came due while the old processes were stopped: the promoter must not
    // touch it before it is converted.
    let retry = TaskId::generate(&queue);
    let mut due = old_task("echo", r#"{"r":1}"#, "5", "scheduled");
    due.push(("run_at", "1764590001000".into()));
    seed(&mut conn, &retry, &due);
    cmd(&mut conn, &["ZADD", &keys.scheduled(&queue), "1764590001000", retry.as_str()]);

    let app = TestApp::spawn(&redis).await;
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "ready before the upgrade finished");
    let healthy = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(healthy.status(), 200);
    let submitted = app.submit_ok(&json!({"kind": "echo", "payload": {"new": true}})).await;

    let started = std::time::Instant::now();
    while app.http.get(app.url("/readyz")).send().await.unwrap().status() != 200 {
        assert!(started.elapsed() < Duration::from_secs(120), "not ready after 120 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let view = app.wait_for_state(waiting.as_str(), "succeeded", Duration::from_secs(10)).await;
    assert_eq!(view["result"], json!({"w": 1}));
    let view = app.wait_for_state(retry.as_str(), "succeeded", Duration::from_secs(10)).await;
    assert_eq!(view["result"], json!({"r": 1}));
    let view = app.wait_for_state(&submitted, "succeeded", Duration::from_secs(10)).await;
    assert_eq!(view["result"], json!({"new": true}));
    let sample = TaskId::parse(&format!("01KB{:022}.default", 99_999)).unwrap();
    let view = app.get(sample.as_str()).await;
    assert_eq!((view["state"].as_str(), view["attempts"].as_u64()), (Some("succeeded"), Some(1)));
    app.shutdown().await;
}
