//! The soak's stall phase: Redis is stalled longer than ttp's Redis deadline — `CLIENT
//! PAUSE` twice and `DEBUG SLEEP` twice — while tasks are submitted and run by three
//! `ttp worker` processes. Nothing is killed, and leases outlast the stalls, so every
//! attempt beyond what a task needs would be one lost to a claim nobody received; and
//! every task stored for a request answered "not stored" (503) would show as more tasks
//! in Redis than answers that said they may be there. Both must be zero.
//!
//! Sized like the crash soak (`CHAOS_TASKS`, `CHAOS_SUBMIT_MS`, `CHAOS_SEED`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::queue::field;
use ttp::testkit::{self, RedisServer, TtpProcess};

/// How long each stall lasts: longer than the processes' Redis deadline.
const STALL: Duration = Duration::from_millis(2500);
const REDIS_TIMEOUT_MS: &str = "500";

fn env(redis: &RedisServer) -> Vec<(&'static str, String)> {
    vec![
        ("TTP_REDIS_URL", redis.url()),
        ("TTP_REDIS_TIMEOUT_MS", REDIS_TIMEOUT_MS.into()),
        // Longer than any stall: a lease can only expire if a claim went astray.
        ("TTP_LEASE_MS", "10000".into()),
        ("TTP_BACKOFF_BASE_MS", "20".into()),
        ("TTP_BACKOFF_MAX_MS", "200".into()),
        ("TTP_CONCURRENCY", "16".into()),
    ]
}

/// A task that needs exactly `needed` attempts and is allowed no more: an attempt lost
/// to a ghost claim turns it into a failure.
fn task(rng: &mut fastrand::Rng, n: usize) -> (Value, u32) {
    match rng.u32(0..4) {
        0 => (json!({"kind": "noop", "max_attempts": 1}), 1),
        1 => (json!({"kind": "echo", "payload": n, "max_attempts": 1}), 1),
        2 => (json!({"kind": "sleep", "payload": {"ms": rng.u32(1..=30)}, "max_attempts": 1}), 1),
        _ => (json!({"kind": "fail", "payload": {"fail_first": 1}, "max_attempts": 2}), 2),
    }
}

/// What the answers to the submissions said.
#[derive(Debug, Default)]
struct Answers {
    /// Task id → attempts it needs, for every 202.
    accepted: HashMap<String, u32>,
    /// Items (or whole batches, counted per item) answered 503: not stored.
    not_stored: usize,
    /// Ids answered 504 (outcome unknown), with the attempts they need.
    unknown: HashMap<String, u32>,
}

/// Sends the tasks in batches spread over `spread`; records every answer.
async fn submit(serve: &TtpProcess, tasks: &[(Value, u32)], spread: Duration) -> Answers {
    let http = testkit::http_client_builder().timeout(Duration::from_secs(10)).build().unwrap();
    let ticks = (spread.as_millis() / 50).max(1) as usize;
    let size = tasks.len().div_ceil(ticks).clamp(1, 500);
    let start = tokio::time::Instant::now();
    let mut answers = Answers::default();
    for (b, chunk) in tasks.chunks(size).enumerate() {
        tokio::time::sleep_until(start + Duration::from_millis(50) * b as u32).await;
        let bodies: Vec<&Value> = chunk.iter().map(|(body, _)| body).collect();
        let response = http
            .post(serve.url("/tasks/batch"))
            .json(&json!({"tasks": bodies}))
            .send()
            .await
            .unwrap();
        if response.status() == 503 {
            answers.not_stored += chunk.len();
            continue;
        }
        assert_eq!(response.status(), 200, "batch {b}");
        let answer: Value = response.json().await.unwrap();
        for (result, (_, needed)) in answer["results"].as_array().unwrap().iter().zip(chunk) {
            let id = result["id"].as_str().map(str::to_owned);
            match (result["status"].as_u64(), id) {
                (Some(202), Some(id)) => drop(answers.accepted.insert(id, *needed)),
                (Some(504), Some(id)) => drop(answers.unknown.insert(id, *needed)),
                (Some(503), _) => answers.not_stored += 1,
                other => panic!("unexpected answer {other:?}: {result}"),
            }
        }
    }
    answers
}

/// Stalls Redis four times while submission runs: pause, sleep, pause, sleep.
fn stall_four_times(redis: &RedisServer, after: Duration) -> std::thread::JoinHandle<()> {
    let mut conn = redis.connection();
    std::thread::spawn(move || {
        std::thread::sleep(after);
        for round in 0..4 {
            if round % 2 == 0 {
                let _: () = redis::cmd("CLIENT")
                    .arg("PAUSE")
                    .arg(STALL.as_millis() as u64)
                    .arg("ALL")
                    .query(&mut conn)
                    .unwrap();
            } else {
                let _: () = redis::cmd("DEBUG")
                    .arg("SLEEP")
                    .arg(STALL.as_secs_f64())
                    .query(&mut conn)
                    .unwrap();
            }
            std::thread::sleep(STALL + Duration::from_millis(800));
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_attempt_is_lost_and_no_refused_task_is_stored_while_redis_stalls() {
    let tasks_wanted =
        std::env::var("CHAOS_TASKS").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let seed = std::env::var("CHAOS_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(20_261_201);
    let redis = RedisServer::start_with(&["--enable-debug-command", "local"]);
    let env = env(&redis);
    let serve = TtpProcess::start(crate::TTP_BIN, &["serve", "--no-workers"], &env);
    let _workers: Vec<TtpProcess> =
        (0..3).map(|_| TtpProcess::start(crate::TTP_BIN, &["worker"], &env)).collect();
    let mut rng = fastrand::Rng::with_seed(seed);
    let tasks: Vec<(Value, u32)> = (0..tasks_wanted).map(|n| task(&mut rng, n)).collect();
    // Submission lasts at least as long as the four stalls, which start a second in.
    let spread = Duration::from_millis(13_500).max(Duration::from_millis(
        std::env::var("CHAOS_SUBMIT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(0),
    ));
    let began = Instant::now();
    let staller = stall_four_times(&redis, Duration::from_secs(1));
    let answers = submit(&serve, &tasks, spread).await;
    tokio::task::block_in_place(|| staller.join()).unwrap();

    // Every 504 task exists or not; what exists is all that any answer allowed. Writes
    // Redis received during a stall land when it wakes: wait until the count is steady.
    let count = || -> usize {
        let keys: Vec<String> =
            redis::cmd("KEYS").arg("ttp:{default}:task:*").query(&mut redis.connection()).unwrap();
        keys.len()
    };
    let mut last = count();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = count();
        if now == last {
            break;
        }
        last = now;
    }
    let mut conn = testkit::connect(&redis).await;
    let unknown_ids: Vec<String> = answers.unknown.keys().cloned().collect();
    let found = testkit::task_fields(&mut conn, &unknown_ids, &[field::STATE]).await;
    let mut expected = answers.accepted.clone();
    for (id, row) in unknown_ids.iter().zip(&found) {
        if row[0].is_some() {
            expected.insert(id.clone(), answers.unknown[id]);
        }
    }
    let stored: Vec<String> =
        redis::cmd("KEYS").arg("ttp:{default}:task:*").query(&mut redis.connection()).unwrap();
    assert_eq!(
        stored.len(),
        expected.len(),
        "tasks in Redis vs answers that allowed them (503s: {})",
        answers.not_stored
    );

    let ids: Vec<String> = expected.keys().cloned().collect();
    testkit::wait_terminal(&mut conn, &ids, Duration::from_secs(120), |done, total| {
        println!("chaos stalls: {done}/{total} terminal after {:?}", began.elapsed());
    })
    .await;
    let rows =
        testkit::task_fields(&mut conn, &ids, &[field::STATE, field::ATTEMPTS, field::ERROR]).await;
    let mut extra = 0;
    for (id, row) in ids.iter().zip(rows) {
        assert_eq!(row[0].as_deref(), Some("succeeded"), "{id} lost an attempt: {row:?}");
        let attempts: u32 = row[1].as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
        extra += attempts.saturating_sub(expected[id]);
    }
    testkit::assert_nothing_held(&mut conn).await;
    println!(
        "chaos stalls: {} tasks sent, 4 stalls of {STALL:?} (2 CLIENT PAUSE, 2 DEBUG SLEEP; Redis deadline {REDIS_TIMEOUT_MS} ms): \
         {} accepted (202), {} answered 503 and none of them stored, {} answered 504 of which {} were stored; \
         {} stored tasks all succeeded with {extra} attempts beyond what they needed (0 lost to ghost claims), in {:?} (seed {seed})",
        tasks.len(),
        answers.accepted.len(),
        answers.not_stored,
        answers.unknown.len(),
        expected.len() - answers.accepted.len(),
        expected.len(),
        began.elapsed(),
    );
    assert_eq!(extra, 0, "attempts were lost during the stalls");
}
