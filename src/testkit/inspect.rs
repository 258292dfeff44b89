//! Reading what ttp stored, straight from Redis: key names of the default deployment,
//! task-hash fields (one at a time, or in pipelined chunks for thousands of tasks), the
//! wait until tasks reach a state, and the check that a drained queue holds nothing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionLike, MultiplexedConnection};

use super::RedisServer;
use crate::queue::{Keys, field};
use crate::task::{QueueName, TaskId};

/// The `default` queue.
pub fn default_queue() -> QueueName {
    QueueName::parse("default").unwrap()
}

/// Key names of a process with the default `TTP_KEY_PREFIX`.
pub fn default_keys() -> Keys {
    Keys::new("ttp")
}

/// `ZCARD key`.
pub fn zcard(redis: &RedisServer, key: &str) -> u64 {
    redis::cmd("ZCARD").arg(key).query(&mut redis.connection()).unwrap()
}

/// `ZSCORE key member`.
pub fn zscore(redis: &RedisServer, key: &str, member: &str) -> Option<f64> {
    redis::cmd("ZSCORE").arg(key).arg(member).query(&mut redis.connection()).unwrap()
}

/// The kind in a stored body (`field::BODY`).
pub fn body_kind(body: Option<&str>) -> Option<String> {
    body.and_then(crate::queue::Body::decode).map(|b| b.kind)
}

/// One field of a task's hash, read straight from Redis.
pub fn task_field(conn: &mut redis::Connection, id: &str, field: &str) -> Option<String> {
    let key = default_keys().task(&TaskId::parse(id).unwrap());
    redis::cmd("HGET").arg(key).arg(field).query(conn).unwrap()
}

/// The state as stored: a task in the lease set is running (its hash keeps `queued`
/// until the attempt ends).
fn stored_state(conn: &mut redis::Connection, id: &str) -> Option<String> {
    let state = task_field(conn, id, field::STATE)?;
    let leased: Option<f64> = redis::cmd("ZSCORE")
        .arg(default_keys().leased(&default_queue()))
        .arg(id)
        .query(conn)
        .unwrap();
    Some(if state == "queued" && leased.is_some() { "running".into() } else { state })
}

/// Polls the stored state of every task in `ids` until all are `state`; panics with the
/// stragglers after `within`.
pub async fn wait_stored_state(redis: &RedisServer, ids: &[String], state: &str, within: Duration) {
    let mut conn = redis.connection();
    let deadline = Instant::now() + within;
    loop {
        let behind: Vec<(&String, Option<String>)> = ids
            .iter()
            .map(|id| (id, stored_state(&mut conn, id)))
            .filter(|(_, s)| s.as_deref() != Some(state))
            .collect();
        if behind.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "not {state} after {within:?}: {behind:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ids per pipelined round trip.
const CHUNK: usize = 1000;

/// An async connection for bulk reads, patient enough for a loaded machine (a test's
/// own read must not be what times out).
pub async fn connect(redis: &RedisServer) -> MultiplexedConnection {
    let client = redis::Client::open(redis.url()).unwrap();
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(std::time::Duration::from_secs(10)))
        .set_response_timeout(Some(std::time::Duration::from_secs(10)));
    client.get_multiplexed_async_connection_with_config(&config).await.unwrap()
}

/// `fields` of the task hash of every id, in order (`None` for a missing field or task).
/// One pipeline per queue and chunk, so it also reads through a cluster connection.
pub async fn task_fields<C: ConnectionLike>(
    conn: &mut C,
    ids: &[String],
    fields: &[&str],
) -> Vec<Vec<Option<String>>> {
    let keys = default_keys();
    let mut by_queue: HashMap<QueueName, Vec<usize>> = HashMap::new();
    for (at, id) in ids.iter().enumerate() {
        by_queue.entry(TaskId::parse(id).unwrap().queue().clone()).or_default().push(at);
    }
    let mut rows = vec![Vec::new(); ids.len()];
    for positions in by_queue.values() {
        for chunk in positions.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for &at in chunk {
                pipe.cmd("HMGET").arg(keys.task(&TaskId::parse(&ids[at]).unwrap())).arg(fields);
            }
            let part: Vec<Vec<Option<String>>> = pipe.query_async(conn).await.unwrap();
            for (&at, row) in chunk.iter().zip(part) {
                rows[at] = row;
            }
        }
    }
    rows
}

/// Whether a stored state is terminal (a missing hash is not: nothing here expires).
pub fn is_terminal(state: Option<&str>) -> bool {
    matches!(state, Some("succeeded" | "failed" | "cancelled"))
}

/// Polls until every task in `ids` is terminal, calling `progress(done, total)` about
/// every 5 s; panics after `within` naming a few stragglers and their fields.
pub async fn wait_terminal<C: ConnectionLike>(
    conn: &mut C,
    ids: &[String],
    within: Duration,
    mut progress: impl FnMut(usize, usize),
) {
    let started = Instant::now();
    let mut remaining: Vec<String> = ids.to_vec();
    let mut reported = Instant::now();
    loop {
        let states = task_fields(conn, &remaining, &[field::STATE]).await;
        remaining = remaining
            .into_iter()
            .zip(states)
            .filter(|(_, row)| !is_terminal(row[0].as_deref()))
            .map(|(id, _)| id)
            .collect();
        if remaining.is_empty() {
            return;
        }
        if reported.elapsed() >= Duration::from_secs(5) {
            progress(ids.len() - remaining.len(), ids.len());
            reported = Instant::now();
        }
        if started.elapsed() > within {
            let few: Vec<String> = remaining.iter().take(5).cloned().collect();
            let fields =
                [field::STATE, field::ATTEMPTS, field::BODY, field::RUN_AT_MS, field::ERROR];
            let rows = task_fields(conn, &few, &fields).await;
            panic!(
                "{} of {} tasks not terminal after {within:?}; e.g. {:?}",
                remaining.len(),
                ids.len(),
                few.iter().zip(rows).collect::<Vec<_>>()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Asserts that the default queue's pending, scheduled and lease sets and its started
/// hash are empty: nothing is waiting, nothing is held.
pub async fn assert_nothing_held(conn: &mut MultiplexedConnection) {
    assert_queue_holds_nothing(conn, &default_queue()).await;
}

/// Asserts that `queue`'s pending, scheduled and lease sets and its started hash are
/// empty.
pub async fn assert_queue_holds_nothing<C: ConnectionLike>(conn: &mut C, queue: &QueueName) {
    let keys = default_keys();
    let (pending, scheduled, leased, started): (u64, u64, u64, u64) = redis::pipe()
        .zcard(keys.pending(queue))
        .zcard(keys.scheduled(queue))
        .zcard(keys.leased(queue))
        .hlen(keys.started(queue))
        .query_async(conn)
        .await
        .unwrap();
    assert_eq!(
        (pending, scheduled, leased, started),
        (0, 0, 0, 0),
        "{queue}: (pending, scheduled, leased, started) must all be empty"
    );
}
