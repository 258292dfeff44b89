//! Failover soak: two `ttp serve` processes on a six-node Redis Cluster, with
//! `TTP_REDIS_MIN_REPLICAS=1`, take tasks for 12 queues (four per master) while, one after
//! the other: a replica is SIGKILLed and restarted; a master is paused for less than the
//! node timeout (`CLIENT PAUSE`: no failover); a master is SIGKILLed (its replica is
//! promoted, and the old master rejoins as a replica); a master sleeps longer than the node
//! timeout (`DEBUG SLEEP`: failover while it is frozen, then it rejoins as a replica).
//!
//! Every task answered 202 must end terminal as its kind promises; every task answered
//! 504 (outcome unknown) is either not stored or ends terminal too; nothing is lost and
//! nothing is left held; tasks that ran more than once (at-least-once after a lost lease
//! or a settle lost in a failover) are counted. Afterwards a long-poll on every queue is
//! woken, so the sharded subscriptions followed the failovers.
//!
//! Sized by `CHAOS_CLUSTER_TASKS` (default 2,000) and `CHAOS_CLUSTER_SUBMIT_MS` (default
//! 20,000); `make chaos-cluster` runs 20,000 tasks.

use std::collections::{HashMap, HashSet};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::queue::field;
use ttp::testkit::{self, RedisCluster, TtpProcess};

use crate::cluster::queue_per_master;

const NODE_TIMEOUT_MS: u64 = 2000;
const TICK: Duration = Duration::from_millis(50);

/// What a task must end as: its kind, attempts it needs without faults, success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Plan {
    needed: u32,
    succeeds: bool,
}

fn random_task(rng: &mut fastrand::Rng, queues: &[String]) -> (Value, Plan) {
    let queue = &queues[rng.usize(0..queues.len())];
    let (body, plan) = match rng.u32(0..100) {
        0..40 => (json!({"kind": "noop"}), Plan { needed: 1, succeeds: true }),
        40..65 => (
            json!({"kind": "sleep", "payload": {"ms": rng.u32(1..=40)}}),
            Plan { needed: 1, succeeds: true },
        ),
        65..92 => (
            json!({"kind": "fail", "payload": {"fail_first": 1}}),
            Plan { needed: 2, succeeds: true },
        ),
        _ => (json!({"kind": "fail", "payload": {}}), Plan { needed: 2, succeeds: false }),
    };
    let mut body = body;
    body["queue"] = json!(queue);
    body["priority"] = json!(rng.u8(0..=9));
    body["max_attempts"] = json!(if plan.succeeds { 6 } else { 2 });
    (body, plan)
}

fn env(cluster: &RedisCluster, queues: &[String]) -> Vec<(&'static str, String)> {
    let served = queues.iter().map(|q| format!("{q}=1")).collect::<Vec<_>>().join(",");
    vec![
        ("TTP_REDIS_MODE", "cluster".into()),
        ("TTP_REDIS_URL", cluster.url()),
        ("TTP_REDIS_MIN_REPLICAS", "1".into()),
        ("TTP_QUEUES", served),
        ("TTP_LEASE_MS", "5000".into()),
        ("TTP_BACKOFF_BASE_MS", "20".into()),
        ("TTP_BACKOFF_MAX_MS", "200".into()),
        ("TTP_CONCURRENCY", "16".into()),
    ]
}

/// What the answers said.
#[derive(Debug, Default)]
struct Answers {
    accepted: HashMap<String, Plan>,
    unknown: HashMap<String, Plan>,
    not_stored: usize,
}

/// Submits `count` tasks in one batch per tick over `spread`, alternating processes.
async fn submit(
    serves: &[TtpProcess],
    queues: &[String],
    count: usize,
    spread: Duration,
) -> Answers {
    let mut rng = fastrand::Rng::with_seed(15);
    let tasks: Vec<(Value, Plan)> = (0..count).map(|_| random_task(&mut rng, queues)).collect();
    let ticks = (spread.as_millis() / TICK.as_millis()).max(1) as usize;
    let size = count.div_ceil(ticks).clamp(1, 1000);
    let http = testkit::http_client_builder().timeout(Duration::from_secs(20)).build().unwrap();
    let start = tokio::time::Instant::now();
    let mut answers = Answers::default();
    for (b, chunk) in tasks.chunks(size).enumerate() {
        tokio::time::sleep_until(start + TICK * b as u32).await;
        let bodies: Vec<&Value> = chunk.iter().map(|(body, _)| body).collect();
        let url = serves[b % serves.len()].url("/tasks/batch");
        let response = http.post(url).json(&json!({"tasks": bodies})).send().await.unwrap();
        if response.status() == 503 {
            answers.not_stored += chunk.len();
            continue;
        }
        assert_eq!(response.status(), 200, "batch {b}");
        let answer: Value = response.json().await.unwrap();
        for (result, (_, plan)) in answer["results"].as_array().unwrap().iter().zip(chunk) {
            let id = result["id"].as_str().or(result["task_id"].as_str()).map(str::to_owned);
            match (result["status"].as_u64(), id) {
                (Some(202), Some(id)) => drop(answers.accepted.insert(id, *plan)),
                (Some(504), Some(id)) => drop(answers.unknown.insert(id, *plan)),
                (Some(503), _) => answers.not_stored += 1,
                other => panic!("unexpected answer {other:?}: {result}"),
            }
        }
    }
    answers
}

/// The faults, one after the other; a line describing each.
fn faults(
    mut cluster: RedisCluster,
    queues: Vec<String>,
    first_after: Duration,
) -> JoinHandle<(RedisCluster, Vec<String>)> {
    std::thread::spawn(move || {
        let mut said = Vec::new();
        std::thread::sleep(first_after);
        let master_of = |c: &RedisCluster, q: &str| c.master_of(&format!("ttp:{{{q}}}:pending"));
        // A replica dies and comes back: submissions to its master wait for it (504).
        let m0 = master_of(&cluster, &queues[0]);
        let replica = cluster.replica_of(m0);
        cluster.kill(replica);
        std::thread::sleep(Duration::from_millis(1500));
        cluster.restart(replica);
        cluster.wait_ready(Duration::from_secs(60));
        said.push(format!("replica {replica} SIGKILLed for 1.5 s"));
        // A master stalls for half the node timeout: no failover.
        let m1 = master_of(&cluster, &queues[4]);
        let pause = (NODE_TIMEOUT_MS / 2).to_string();
        cluster.command(m1, &["CLIENT", "PAUSE", &pause, "ALL"]);
        std::thread::sleep(Duration::from_millis(NODE_TIMEOUT_MS));
        said.push(format!("master {m1} paused {pause} ms (no failover)"));
        // A master dies: its replica takes over; the old master returns as a replica.
        let m2 = master_of(&cluster, &queues[8]);
        let heir = cluster.replica_of(m2);
        cluster.kill(m2);
        let took = promoted(&cluster, heir);
        cluster.restart(m2);
        cluster.wait_ready(Duration::from_secs(60));
        said.push(format!("master {m2} SIGKILLed (replica {heir} promoted after {took:.1?})"));
        // A master freezes longer than the node timeout: failover while it sleeps.
        let m0 = master_of(&cluster, &queues[0]);
        let heir = cluster.replica_of(m0);
        let sleep_s = (NODE_TIMEOUT_MS * 2 / 1000).to_string();
        let sleeper = {
            let args = ["DEBUG", "SLEEP", sleep_s.as_str()].map(str::to_owned);
            let url = format!("redis://127.0.0.1:{m0}");
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                let _: Result<(), _> =
                    redis::cmd(&args[0]).arg(&args[1]).arg(&args[2]).query(&mut c);
            })
        };
        let took = promoted(&cluster, heir);
        sleeper.join().unwrap();
        cluster.wait_ready(Duration::from_secs(60));
        said.push(format!(
            "master {m0} slept {sleep_s} s (replica {heir} promoted after {took:.1?})"
        ));
        (cluster, said)
    })
}

/// Waits until `heir` is a master; how long it took.
fn promoted(cluster: &RedisCluster, heir: u16) -> Duration {
    let started = Instant::now();
    testkit::wait_until(Duration::from_secs(60), || cluster.masters().contains(&heir));
    started.elapsed()
}

fn settings() -> (usize, Duration) {
    let var = |name: &str, default: u64| {
        std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    (
        var("CHAOS_CLUSTER_TASKS", 2000) as usize,
        Duration::from_millis(var("CHAOS_CLUSTER_SUBMIT_MS", 20_000)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_cluster_every_accepted_task_survives_failovers() {
    let (count, spread) = settings();
    let cluster = RedisCluster::start_with_timeout(NODE_TIMEOUT_MS);
    let queues = queue_per_master(&cluster, 4);
    assert_eq!(queues.len(), 12);
    let env = env(&cluster, &queues);
    let serves: Vec<TtpProcess> =
        (0..2).map(|_| TtpProcess::start(crate::TTP_BIN, &["serve"], &env)).collect();
    let mut conn = cluster.async_connection().await;
    let began = Instant::now();
    let faulting = faults(cluster, queues.clone(), spread / 10);
    // A failed submission must not leave the fault thread (and its six redis-servers)
    // behind: join it first, then report the failure.
    let submitted = std::panic::AssertUnwindSafe(submit(&serves, &queues, count, spread));
    let answers = futures_util::FutureExt::catch_unwind(submitted).await;
    let (cluster, said) = tokio::task::block_in_place(|| faulting.join()).unwrap();
    let answers = answers.unwrap_or_else(|panic| std::panic::resume_unwind(panic));

    let accepted: Vec<String> = answers.accepted.keys().cloned().collect();
    let within = Duration::from_secs(120) + Duration::from_millis(10 * count as u64);
    testkit::wait_terminal(&mut conn, &accepted, within, |done, total| {
        println!("chaos-cluster: {done}/{total} terminal after {:?}", began.elapsed());
    })
    .await;
    let (stored_unknown, missing_unknown) = settle_unknown(&mut conn, &answers, within).await;
    let took = began.elapsed();
    let mut all = answers.accepted.clone();
    all.extend(stored_unknown.iter().map(|id| (id.clone(), answers.unknown[id])));
    let counts = check_outcomes(&mut conn, &all).await;
    for queue in &queues {
        let name = ttp::task::QueueName::parse(queue).unwrap();
        testkit::assert_queue_holds_nothing(&mut conn, &name).await;
    }
    long_polls_are_woken_on_every_queue(&serves[1], &queues).await;
    stats_read_every_master_after_failovers(&serves[0], &queues).await;
    println!(
        "chaos-cluster: {count} submitted over 12 queues on 3 masters (TTP_REDIS_MIN_REPLICAS=1, 2 ttp processes): \
         {} accepted (202), {} outcome unknown (504: {} stored and finished, {missing_unknown} not stored), \
         {} not stored (503); 0 lost; {} succeeded, {} failed as planned; {} ran more than once \
         ({} extra attempts, {} attempts in all); all terminal in {took:.1?}; faults: {}",
        answers.accepted.len(),
        answers.unknown.len(),
        stored_unknown.len(),
        answers.not_stored,
        counts.succeeded,
        counts.failed,
        counts.repeated,
        counts.extra,
        counts.attempts,
        said.join("; ")
    );
    drop(cluster);
}

/// The 504 answers: the ids stored after all (which must end terminal too) and how many
/// were not stored.
async fn settle_unknown(
    conn: &mut redis::cluster_async::ClusterConnection,
    answers: &Answers,
    within: Duration,
) -> (Vec<String>, usize) {
    let ids: Vec<String> = answers.unknown.keys().cloned().collect();
    let states = testkit::task_fields(conn, &ids, &[field::STATE]).await;
    let stored: Vec<String> =
        ids.iter().zip(&states).filter(|(_, s)| s[0].is_some()).map(|(id, _)| id.clone()).collect();
    testkit::wait_terminal(conn, &stored, within, |_, _| {}).await;
    let missing = ids.len() - stored.len();
    (stored, missing)
}

#[derive(Debug, Default)]
struct Counts {
    succeeded: usize,
    failed: usize,
    repeated: usize,
    extra: u64,
    attempts: u64,
}

async fn check_outcomes(
    conn: &mut redis::cluster_async::ClusterConnection,
    plans: &HashMap<String, Plan>,
) -> Counts {
    let ids: Vec<String> = plans.keys().cloned().collect();
    let rows = testkit::task_fields(conn, &ids, &[field::STATE, field::ATTEMPTS]).await;
    let mut counts = Counts::default();
    for (id, row) in ids.iter().zip(rows) {
        let plan = plans[id];
        let attempts: u32 = row[1].as_deref().and_then(|a| a.parse().ok()).unwrap_or(0);
        let want = if plan.succeeds { "succeeded" } else { "failed" };
        assert_eq!(row[0].as_deref(), Some(want), "{id} ({plan:?}): {row:?}");
        assert!(attempts >= plan.needed, "{id} ({plan:?}) ended too early: {row:?}");
        if plan.succeeds {
            counts.succeeded += 1
        } else {
            counts.failed += 1
        }
        if attempts > plan.needed {
            counts.repeated += 1;
            counts.extra += u64::from(attempts - plan.needed);
        }
        counts.attempts += u64::from(attempts);
    }
    counts
}

/// A task on every queue, long-polled: each answer comes as soon as it ran, which needs
/// its queue's sharded subscription to be in place on the (possibly new) master.
async fn long_polls_are_woken_on_every_queue(serve: &TtpProcess, queues: &[String]) {
    let http = testkit::http_client_builder().timeout(Duration::from_secs(40)).build().unwrap();
    let mut seen = HashSet::new();
    for queue in queues {
        let body = json!({"kind": "sleep", "payload": {"ms": 300}, "queue": queue});
        let mut submitted = None;
        for _ in 0..50 {
            // 504 until the shard has its replica back; try again.
            let response = http.post(serve.url("/tasks")).json(&body).send().await.unwrap();
            if response.status() == 202 {
                let view: Value = response.json().await.unwrap();
                submitted = view["id"].as_str().map(str::to_owned);
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let id = submitted.unwrap_or_else(|| panic!("no submission to {queue} was acknowledged"));
        let started = Instant::now();
        let url = serve.url(&format!("/tasks/{id}?wait_ms=30000"));
        let view: Value = http.get(url).send().await.unwrap().json().await.unwrap();
        assert_eq!(view["state"], "succeeded", "{queue}: {view}");
        assert!(started.elapsed() < Duration::from_secs(20), "{queue}: woken, not timed out");
        seen.insert(queue.clone());
    }
    assert_eq!(seen.len(), queues.len());
}

/// `GET /queues` (one pipeline per master, sent to it directly) answers for every queue
/// after the failovers moved their slots to new masters: nothing queued or running.
async fn stats_read_every_master_after_failovers(serve: &TtpProcess, queues: &[String]) {
    let http = testkit::http_client();
    let listed: Value = http.get(serve.url("/queues")).send().await.unwrap().json().await.unwrap();
    for queue in queues {
        let entry = testkit::queue_row(&listed, queue)
            .unwrap_or_else(|| panic!("{queue} missing: {listed}"));
        assert_eq!(
            (entry["queued"].as_u64(), entry["running"].as_u64()),
            (Some(0), Some(0)),
            "{entry}"
        );
    }
}
