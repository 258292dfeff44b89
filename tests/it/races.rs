//! Every transition raced against the one that competes for the same task, each in a
//! bounded loop so that both orders are likely to happen: cancel vs claim, delete vs
//! claim, retry vs the reaper, a late completion vs the reaper (and vs the newer
//! attempt). Whatever the order, exactly one side wins and the task sits in exactly the
//! structure its state says. (Concurrent submissions with one idempotency key: `delivery`.)

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use ttp::queue::{Action, ClaimRequest, ClaimedTask, Settlement};
use ttp::task::{RetryPolicy, now_ms};
use ttp::testkit::{RedisServer, TestApp, assert_problem, default_keys, default_queue, zscore};

/// Rounds per race: enough for both orders to show up, few enough for a noisy machine.
const ROUNDS: usize = 30;

/// Retries come back at once, so a reaped task can be claimed again straight away.
const NO_BACKOFF: RetryPolicy = RetryPolicy { base_ms: 0, max_ms: 0 };

/// A random delay of 0–3 ms before one side of a race (yields below 1 ms, where a timer
/// would round up), so that either side may come first.
async fn jitter() {
    let micros = fastrand::u64(0..3000);
    if micros >= 1000 {
        tokio::time::sleep(Duration::from_micros(micros)).await;
    } else {
        for _ in 0..micros / 50 {
            tokio::task::yield_now().await;
        }
    }
}

/// The structures of the default queue that hold `id`.
fn where_is(redis: &RedisServer, id: &str) -> Vec<&'static str> {
    let (keys, queue) = (default_keys(), default_queue());
    let sets = [
        ("pending", keys.pending(&queue)),
        ("scheduled", keys.scheduled(&queue)),
        ("leased", keys.leased(&queue)),
        ("dead", keys.dead(&queue)),
    ];
    sets.into_iter().filter(|(_, key)| zscore(redis, key, id).is_some()).map(|(n, _)| n).collect()
}

/// Asserts the view's state and the structures holding the task agree.
async fn assert_consistent(app: &TestApp, redis: &RedisServer, id: &str, state: &str) -> Value {
    let view = app.get(id).await;
    assert_eq!(view["state"], state, "{view}");
    let want: &[&str] = match state {
        "queued" => &["pending"],
        "scheduled" => &["scheduled"],
        "running" => &["leased"],
        "failed" => &["dead"],
        _ => &[],
    };
    assert_eq!(where_is(redis, id), want, "{id} is {state}");
    view
}

/// Claims the one ready task (asserting it is `id`) under `lease`.
async fn claim_only(app: &TestApp, id: &str, lease: Duration) -> ClaimedTask {
    let mut claimed =
        app.queue.claim(&default_queue(), &ClaimRequest::new(1, lease).unwrap()).await.unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(claimed[0].id.as_str(), id);
    claimed.remove(0)
}

/// Ends `task`'s attempt with `action`; whether it applied.
async fn settle(app: &TestApp, task: &ClaimedTask, action: Action) -> bool {
    let item =
        Settlement { id: task.id.clone(), holder: task.holder(), lease_expired: false, action };
    let applied = app.queue.settle(&default_queue(), &[item]).await.unwrap();
    applied[0]
}

/// Waits until `task`'s lease deadline has passed.
async fn wait_lease_expired(redis: &RedisServer, task: &ClaimedTask) {
    let leased = default_keys().leased(&default_queue());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let score = zscore(redis, &leased, task.id.as_str()).expect("still leased");
        if (score as i64) < now_ms() {
            return;
        }
        assert!(Instant::now() < deadline, "lease of {} never expired", task.id);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_racing_a_claim_has_exactly_one_winner() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let (mut cancelled, mut claimed) = (0, 0);
    for round in 0..ROUNDS {
        let id = app.submit_ok(&json!({"kind": "noop"})).await;
        let request = app.http.post(app.url(&format!("/tasks/{id}/cancel")));
        let cancel = async {
            jitter().await;
            request.send().await
        };
        let queue = app.queue.clone();
        let claim = tokio::spawn(async move {
            jitter().await;
            queue
                .claim(&default_queue(), &ClaimRequest::new(1, Duration::from_secs(30)).unwrap())
                .await
                .unwrap()
        });
        let (cancel, claim) = tokio::join!(cancel, claim);
        let (status, taken) = (cancel.unwrap().status().as_u16(), claim.unwrap());
        match (status, taken.as_slice()) {
            (200, []) => {
                cancelled += 1;
                assert_consistent(&app, &redis, &id, "cancelled").await;
            }
            (409, [task]) => {
                claimed += 1;
                assert_eq!(task.id.as_str(), id);
                let view = assert_consistent(&app, &redis, &id, "running").await;
                assert_eq!(view["attempts"], 1, "{view}");
                assert!(settle(&app, task, Action::Succeed(json!(round))).await);
                assert_consistent(&app, &redis, &id, "succeeded").await;
            }
            other => panic!("round {round}: cancel {} and claim {:?}", other.0, other.1),
        }
    }
    println!("cancel vs claim: cancel won {cancelled}, claim won {claimed} of {ROUNDS}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_racing_a_claim_has_exactly_one_winner() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let (mut removed, mut claimed) = (0, 0);
    for round in 0..ROUNDS {
        let id = app.submit_ok(&json!({"kind": "noop"})).await;
        let request = app.http.delete(app.url(&format!("/tasks/{id}")));
        let remove = async {
            jitter().await;
            request.send().await
        };
        let queue = app.queue.clone();
        let claim = tokio::spawn(async move {
            jitter().await;
            queue
                .claim(&default_queue(), &ClaimRequest::new(1, Duration::from_secs(30)).unwrap())
                .await
                .unwrap()
        });
        let (remove, claim) = tokio::join!(remove, claim);
        let (status, taken) = (remove.unwrap().status().as_u16(), claim.unwrap());
        match (status, taken.as_slice()) {
            (204, []) => {
                removed += 1;
                let gone = app.http.get(app.url(&format!("/tasks/{id}"))).send().await.unwrap();
                assert_eq!(gone.status(), 404);
                assert_eq!(where_is(&redis, &id), Vec::<&str>::new());
            }
            (409, [task]) => {
                claimed += 1;
                assert_consistent(&app, &redis, &id, "running").await;
                assert!(settle(&app, task, Action::Succeed(json!(round))).await);
                assert_consistent(&app, &redis, &id, "succeeded").await;
            }
            other => panic!("round {round}: delete {} and claim {:?}", other.0, other.1),
        }
    }
    println!("delete vs claim: delete won {removed}, claim won {claimed} of {ROUNDS}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_racing_the_reaper_leaves_the_task_in_exactly_one_place() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let (mut early, mut late) = (0, 0);
    for round in 0..ROUNDS {
        let id = app.submit_ok(&json!({"kind": "noop", "max_attempts": 1})).await;
        let task = claim_only(&app, &id, Duration::from_millis(20)).await;
        wait_lease_expired(&redis, &task).await;

        let request = app.http.post(app.url(&format!("/tasks/{id}/retry")));
        let retry = async {
            jitter().await;
            request.send().await
        };
        let queue = app.queue.clone();
        let reap = tokio::spawn(async move {
            jitter().await;
            let metrics = ttp::metrics::Metrics::new().unwrap();
            ttp::worker::reap_once(&queue, &metrics, NO_BACKOFF, &default_queue()).await.unwrap()
        });
        let (retry, reaped) = tokio::join!(retry, reap);
        assert_eq!(reaped.unwrap().reaped, 1, "round {round}: the reaper must take the lease");
        match retry.unwrap().status().as_u16() {
            // Before the reaper: the task was still running, so not retryable.
            409 => {
                early += 1;
                let view = assert_consistent(&app, &redis, &id, "failed").await;
                assert_eq!(view["attempts"], 1, "{view}");
                let again = app.http.post(app.url(&format!("/tasks/{id}/retry"))).send().await;
                assert_eq!(again.unwrap().status(), 202);
            }
            202 => late += 1,
            other => panic!("round {round}: retry answered {other}"),
        }
        let view = assert_consistent(&app, &redis, &id, "queued").await;
        assert_eq!(view["attempts"], 0, "a replayed task starts with fresh attempts: {view}");
        let fresh = claim_only(&app, &id, Duration::from_secs(30)).await;
        assert_eq!(fresh.attempt, 1);
        assert!(settle(&app, &fresh, Action::Succeed(json!(round))).await);
    }
    println!("retry vs reaper: retry first (409) {early}, reaper first (202) {late} of {ROUNDS}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_of_a_task_that_is_not_failed_or_cancelled_is_a_409() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let retry = |id: &str| app.http.post(app.url(&format!("/tasks/{id}/retry"))).send();

    let scheduled = app.submit_ok(&json!({"kind": "noop", "delay_ms": 60_000})).await;
    let queued = app.submit_ok(&json!({"kind": "noop"})).await;
    assert_problem(retry(&queued).await.unwrap(), 409, None).await;
    let task = claim_only(&app, &queued, Duration::from_secs(30)).await;
    assert_problem(retry(&queued).await.unwrap(), 409, None).await;
    assert!(settle(&app, &task, Action::Succeed(json!(1))).await);
    assert_problem(retry(&queued).await.unwrap(), 409, None).await;
    assert_problem(retry(&scheduled).await.unwrap(), 409, None).await;
    assert_consistent(&app, &redis, &queued, "succeeded").await;
    assert_consistent(&app, &redis, &scheduled, "scheduled").await;

    // A cancelled task may be replayed.
    let cancel = app.http.post(app.url(&format!("/tasks/{scheduled}/cancel"))).send().await;
    assert_eq!(cancel.unwrap().status(), 200);
    assert_eq!(retry(&scheduled).await.unwrap().status(), 202);
    assert_consistent(&app, &redis, &scheduled, "queued").await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_completion_racing_the_reaper_applies_at_most_once_and_never_over_a_newer_attempt() {
    let redis = RedisServer::start();
    let app = TestApp::api_only(&redis).await;
    let (mut late_won, mut reaper_won) = (0, 0);
    for round in 0..ROUNDS {
        let id = app.submit_ok(&json!({"kind": "echo", "payload": {"round": round}})).await;
        let first = claim_only(&app, &id, Duration::from_millis(20)).await;
        wait_lease_expired(&redis, &first).await;

        let late = Settlement {
            id: first.id.clone(),
            holder: first.holder(),
            lease_expired: false,
            action: Action::Succeed(json!("late")),
        };
        let queue = app.queue.clone();
        let reap = tokio::spawn(async move {
            jitter().await;
            let metrics = ttp::metrics::Metrics::new().unwrap();
            ttp::worker::reap_once(&queue, &metrics, NO_BACKOFF, &default_queue()).await.unwrap()
        });
        let (late, queue) = ([late], default_queue());
        let complete = async {
            jitter().await;
            app.queue.settle(&queue, &late).await
        };
        let (applied, reaped) = tokio::join!(complete, reap);
        match (applied.unwrap().as_slice(), reaped.unwrap().reaped) {
            ([true], 0) => {
                late_won += 1;
                let view = assert_consistent(&app, &redis, &id, "succeeded").await;
                assert_eq!((&view["attempts"], &view["result"]), (&json!(1), &json!("late")));
            }
            ([false], 1) => {
                reaper_won += 1;
                let view = assert_consistent(&app, &redis, &id, "scheduled").await;
                assert_eq!(view["attempts"], 1, "{view}");
                second_attempt_is_not_overwritten(&app, &redis, &first, round).await;
            }
            other => panic!("round {round}: late completion and reaper both or neither: {other:?}"),
        }
    }
    println!("late completion vs reaper: completion {late_won}, reaper {reaper_won} of {ROUNDS}");
    app.shutdown().await;
}

/// After the reaper took `first`'s lease: the next attempt runs under a new claim, the
/// first claim's answers are fenced off (before and after the new attempt ends), and
/// only the new claim's outcome is stored.
async fn second_attempt_is_not_overwritten(
    app: &TestApp,
    redis: &RedisServer,
    first: &ClaimedTask,
    round: usize,
) {
    let id = first.id.as_str();
    let promoted = app.queue.promote_due(&default_queue()).await.unwrap();
    assert_eq!(promoted.moved, 1, "{promoted:?}");
    let second = claim_only(app, id, Duration::from_secs(30)).await;
    assert_eq!(second.attempt, 2);
    assert_ne!(second.token, first.token);

    assert!(!settle(app, first, Action::Fail("late failure".into())).await);
    let view = assert_consistent(app, redis, id, "running").await;
    assert_eq!(view["attempts"], 2, "{view}");
    assert!(settle(app, &second, Action::Succeed(json!({"round": round}))).await);
    assert!(!settle(app, first, Action::Succeed(json!("late"))).await);
    let view = assert_consistent(app, redis, id, "succeeded").await;
    assert_eq!((&view["attempts"], &view["result"]), (&json!(2), &json!({"round": round})));
}
