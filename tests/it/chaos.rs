//! Crash soak: three `ttp worker` processes and one `ttp serve --no-workers` share one
//! Redis while a random worker is SIGKILLed every ~2 s and replaced. Every accepted task
//! must end terminal in the state its kind promises, the always-failing ones in the
//! dead-letter list, and no pending, scheduled, lease or started entry may be left.
//!
//! Sized by environment variables (not `TTP_*`: ttp warns about unknown ones):
//! `CHAOS_TASKS` (default 2,000), `CHAOS_SUBMIT_MS` (submission is spread over this
//! long, so kills land while work runs; default 6,000), `CHAOS_KILL_EVERY_MS` (default
//! 2,000) and `CHAOS_SEED`. `make chaos` runs 20,000 tasks over a longer kill schedule.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::queue::field;
use ttp::testkit::{self, RedisServer, TtpProcess, default_keys, default_queue};

/// Submission sends one batch per tick, so the workers always have some work in hand
/// when a kill lands (a few large bursts would leave them idle between bursts).
const TICK: Duration = Duration::from_millis(50);

/// What a submitted task must end as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    kind: &'static str,
    /// Attempts it needs when nothing crashes.
    needed: u32,
    /// Whether it must end `succeeded` (else `failed`).
    succeeds: bool,
}

/// The soak's size and schedule.
#[derive(Debug)]
struct Settings {
    tasks: usize,
    submit: Duration,
    kill_every: Duration,
    seed: u64,
}

impl Settings {
    fn from_env() -> Self {
        let var = |name: &str, default: u64| {
            std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
        };
        Self {
            tasks: var("CHAOS_TASKS", 2000) as usize,
            submit: Duration::from_millis(var("CHAOS_SUBMIT_MS", 6000)),
            kill_every: Duration::from_millis(var("CHAOS_KILL_EVERY_MS", 2000)),
            seed: var("CHAOS_SEED", 20_261_126),
        }
    }

    /// The bound on the whole wait: generous, since the machine is shared.
    fn deadline(&self) -> Duration {
        self.submit + Duration::from_secs(60) + Duration::from_millis(6 * self.tasks as u64)
    }
}

/// A random task: its `POST /tasks` body and what it must end as.
fn random_task(rng: &mut fastrand::Rng, n: usize) -> (Value, Plan) {
    let plan = |kind, needed, succeeds| Plan { kind, needed, succeeds };
    let (mut body, plan) = match rng.u32(0..100) {
        0..30 => (json!({"kind": "noop"}), plan("noop", 1, true)),
        30..50 => (json!({"kind": "echo", "payload": {"n": n}}), plan("echo", 1, true)),
        50..70 => {
            let ms = rng.u32(1..=50);
            (json!({"kind": "sleep", "payload": {"ms": ms}}), plan("sleep", 1, true))
        }
        70..92 => {
            let k = rng.u32(1..=2);
            (json!({"kind": "fail", "payload": {"fail_first": k}}), plan("fail", k + 1, true))
        }
        _ => (json!({"kind": "fail", "payload": {"message": "always"}}), plan("fail", 2, false)),
    };
    body["priority"] = json!(rng.u8(0..=9));
    body["max_attempts"] = json!(if plan.succeeds { 5 } else { 2 });
    (body, plan)
}

/// The environment of every ttp process of the soak.
fn process_env(redis: &RedisServer) -> Vec<(&'static str, String)> {
    vec![
        ("TTP_REDIS_URL", redis.url()),
        ("TTP_LEASE_MS", "1000".into()),
        ("TTP_BACKOFF_BASE_MS", "20".into()),
        ("TTP_BACKOFF_MAX_MS", "200".into()),
        ("TTP_CONCURRENCY", "16".into()),
    ]
}

fn start_worker(env: &[(&'static str, String)]) -> TtpProcess {
    TtpProcess::start(crate::TTP_BIN, &["worker"], env)
}

/// A thread that SIGKILLs a random worker every `every` and starts a replacement, until
/// stopped (also when dropped, so a failing test does not leave it running). Each kill
/// waits (up to 1 s) for a moment when several tasks are running, so kills land on
/// workers holding leases rather than between bursts.
struct Killer {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<usize>>,
}

impl Killer {
    fn start(redis: &RedisServer, every: Duration, seed: u64) -> Self {
        let env = process_env(redis);
        let mut conn = redis.connection();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut workers: Vec<TtpProcess> = (0..3).map(|_| start_worker(&env)).collect();
            let mut kills = 0;
            // Bounded: the test stops it, and no run needs more than 10,000 kills.
            while kills < 10_000 {
                let wake = Instant::now() + every;
                while Instant::now() < wake && !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(20));
                }
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                wait_for_running_tasks(&mut conn, 4, Duration::from_secs(1));
                let victim = &mut workers[rng.usize(0..3)];
                victim.signal("KILL");
                let status = victim.wait_exit(Duration::from_secs(10));
                assert!(status.is_some_and(|s| !s.success()), "SIGKILLed worker: {status:?}");
                *victim = start_worker(&env);
                kills += 1;
            }
            kills
        });
        Self { stop, handle: Some(handle) }
    }

    /// Stops killing (the workers then run on until dropped); the number of kills.
    fn stop(mut self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        let handle = self.handle.take().unwrap();
        tokio::task::block_in_place(|| handle.join()).unwrap()
    }
}

/// Waits until at least `count` tasks are running, or `within` passed.
fn wait_for_running_tasks(conn: &mut redis::Connection, count: u64, within: Duration) {
    let leased = default_keys().leased(&default_queue());
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let running: u64 = redis::cmd("ZCARD").arg(&leased).query(conn).unwrap();
        if running >= count {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Drop for Killer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_task_ends_as_promised_while_workers_are_sigkilled() {
    let settings = Settings::from_env();
    let redis = RedisServer::start();
    let serve = TtpProcess::start(crate::TTP_BIN, &["serve", "--no-workers"], &process_env(&redis));
    let killer = Killer::start(&redis, settings.kill_every, settings.seed);
    let began = Instant::now();

    let plans = submit_paced(&serve, &settings).await;
    let ids: Vec<String> = plans.keys().cloned().collect();
    let mut conn = testkit::connect(&redis).await;
    testkit::wait_terminal(&mut conn, &ids, settings.deadline(), |done, total| {
        println!("chaos: {done}/{total} terminal after {:?}", began.elapsed());
    })
    .await;
    let took = began.elapsed();
    let kills = killer.stop();

    let counts = check_outcomes(&mut conn, &plans).await;
    testkit::assert_nothing_held(&mut conn).await;
    let dead = dead_letter_ids(&serve).await;
    let must_fail: HashSet<String> =
        plans.iter().filter(|(_, p)| !p.succeeds).map(|(id, _)| id.clone()).collect();
    assert_eq!(dead, must_fail, "the dead-letter list must hold exactly the failed tasks");
    println!(
        "chaos: {} tasks ({} succeeded, {} failed), {kills} workers SIGKILLed, {} ran more \
         than once ({} extra attempts, {} attempts in all), all terminal in {took:?} (seed {})",
        plans.len(),
        counts.succeeded,
        counts.failed,
        counts.repeated,
        counts.extra_attempts,
        counts.attempts,
        settings.seed
    );
    assert!(kills >= 1, "no worker was killed: the run proved nothing about crashes");
}

/// Submits `settings.tasks` random tasks in one batch per tick, spread over
/// `settings.submit`; the accepted ids and their plans.
async fn submit_paced(serve: &TtpProcess, settings: &Settings) -> HashMap<String, Plan> {
    let mut rng = fastrand::Rng::with_seed(settings.seed);
    let tasks: Vec<(Value, Plan)> = (0..settings.tasks).map(|n| random_task(&mut rng, n)).collect();
    let ticks = (settings.submit.as_millis() / TICK.as_millis()).max(1) as usize;
    let batch = tasks.len().div_ceil(ticks).clamp(1, 1000);
    let http = ttp::testkit::http_client();
    let start = tokio::time::Instant::now();
    let mut plans = HashMap::with_capacity(tasks.len());
    for (b, chunk) in tasks.chunks(batch).enumerate() {
        tokio::time::sleep_until(start + TICK * b as u32).await;
        let bodies: Vec<&Value> = chunk.iter().map(|(body, _)| body).collect();
        let response =
            http.post(serve.url("/tasks/batch")).json(&json!({"tasks": bodies})).send().await;
        let response = response.unwrap();
        assert_eq!(response.status(), 200, "batch {b}");
        let answer: Value = response.json().await.unwrap();
        for (result, (_, plan)) in answer["results"].as_array().unwrap().iter().zip(chunk) {
            assert_eq!(result["status"], 202, "batch {b}: {result}");
            plans.insert(result["id"].as_str().unwrap().to_owned(), *plan);
        }
    }
    assert_eq!(plans.len(), settings.tasks, "every submitted task has its own id");
    plans
}

/// Tallies of a finished soak.
#[derive(Debug, Default)]
struct Counts {
    succeeded: usize,
    failed: usize,
    /// Tasks with more attempts than their kind needed: a crash or lost lease re-ran them.
    repeated: usize,
    extra_attempts: u64,
    attempts: u64,
}

/// Asserts every task ended as its plan says; the tallies.
async fn check_outcomes(
    conn: &mut redis::aio::MultiplexedConnection,
    plans: &HashMap<String, Plan>,
) -> Counts {
    let ids: Vec<String> = plans.keys().cloned().collect();
    let rows = testkit::task_fields(
        conn,
        &ids,
        &[field::STATE, field::ATTEMPTS, field::BODY, field::RESULT],
    )
    .await;
    let mut counts = Counts::default();
    for (id, row) in ids.iter().zip(rows) {
        let plan = plans[id];
        let state = row[0].as_deref();
        let attempts: u32 = row[1].as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
        assert_eq!(
            testkit::body_kind(row[2].as_deref()).as_deref(),
            Some(plan.kind),
            "{id}: {row:?}"
        );
        let want = if plan.succeeds { "succeeded" } else { "failed" };
        assert_eq!(state, Some(want), "{id} ({plan:?}) ended {row:?}");
        assert!(attempts >= plan.needed, "{id} ({plan:?}) ended too early: {row:?}");
        if plan.kind == "fail" && plan.succeeds {
            // The handler saw the attempt number it succeeded on, and it was counted.
            let result: Value = serde_json::from_str(row[3].as_deref().unwrap()).unwrap();
            assert_eq!(result, json!({"attempts": attempts}), "{id}");
        }
        if plan.succeeds {
            counts.succeeded += 1;
        } else {
            counts.failed += 1;
        }
        if attempts > plan.needed {
            counts.repeated += 1;
            counts.extra_attempts += u64::from(attempts - plan.needed);
        }
        counts.attempts += u64::from(attempts);
    }
    counts
}

/// Every id in `GET /queues/default/dead`, paged through with its cursor.
async fn dead_letter_ids(serve: &TtpProcess) -> HashSet<String> {
    let http = ttp::testkit::http_client();
    let mut ids = HashSet::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut url = serve.url("/queues/default/dead?limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        for task in page["tasks"].as_array().unwrap() {
            assert_eq!(task["state"], "failed", "{task}");
            let fresh = ids.insert(task["id"].as_str().unwrap().to_owned());
            assert!(fresh, "listed twice: {task}");
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
    panic!("the dead-letter list did not end within 1000 pages");
}
