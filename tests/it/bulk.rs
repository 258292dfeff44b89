//! Redis inspection for tests with thousands of tasks: task-hash fields read in pipelined
//! chunks over one async connection, the wait until every task is terminal, and the check
//! that a drained queue keeps nothing in its pending, scheduled, lease or started
//! structures. Shared by `chaos` and `redis_faults`.

use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use ttp::task::TaskId;
use ttp::testkit::RedisServer;

use crate::lifecycle::{default_keys, default_queue};

/// Ids per pipelined round trip.
const CHUNK: usize = 1000;

/// An async connection for bulk reads.
pub(crate) async fn connect(redis: &RedisServer) -> MultiplexedConnection {
    let client = redis::Client::open(redis.url()).unwrap();
    client.get_multiplexed_async_connection().await.unwrap()
}

/// `fields` of the task hash of every id, in order (`None` for a missing field or task).
pub(crate) async fn task_fields(
    conn: &mut MultiplexedConnection,
    ids: &[String],
    fields: &[&str],
) -> Vec<Vec<Option<String>>> {
    let keys = default_keys();
    let mut rows = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let mut pipe = redis::pipe();
        for id in chunk {
            pipe.cmd("HMGET").arg(keys.task(&TaskId::parse(id).unwrap())).arg(fields);
        }
        let part: Vec<Vec<Option<String>>> = pipe.query_async(conn).await.unwrap();
        rows.extend(part);
    }
    rows
}

/// Whether a stored state is terminal (a missing hash is not: nothing here expires).
pub(crate) fn is_terminal(state: Option<&str>) -> bool {
    matches!(state, Some("succeeded" | "failed" | "cancelled"))
}

/// Polls until every task in `ids` is terminal, calling `progress(done, total)` about
/// every 5 s; panics after `within` naming a few stragglers and their fields.
pub(crate) async fn wait_terminal(
    conn: &mut MultiplexedConnection,
    ids: &[String],
    within: Duration,
    mut progress: impl FnMut(usize, usize),
) {
    let started = Instant::now();
    let mut remaining: Vec<String> = ids.to_vec();
    let mut reported = Instant::now();
    loop {
        let states = task_fields(conn, &remaining, &["state"]).await;
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
            let fields = ["state", "att", "max", "kind", "run_at", "error"];
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
pub(crate) async fn assert_nothing_held(conn: &mut MultiplexedConnection) {
    let (keys, queue) = (default_keys(), default_queue());
    let (pending, scheduled, leased, started): (u64, u64, u64, u64) = redis::pipe()
        .zcard(keys.pending(&queue))
        .zcard(keys.scheduled(&queue))
        .zcard(keys.leased(&queue))
        .hlen(keys.started(&queue))
        .query_async(conn)
        .await
        .unwrap();
    assert_eq!(
        (pending, scheduled, leased, started),
        (0, 0, 0, 0),
        "(pending, scheduled, leased, started) must all be empty"
    );
}
