//! `floor_keyless.py`: no key per task. Bodies are fields of one hash per queue, results
//! fields of another with a zset of finish times for expiry (what Redis 7.0 allows
//! without per-field TTL). Reads `INFO cpu` only at the start, after enqueueing and at the
//! end, as the script does.

use std::time::Instant;

use redis::{Connection, Script};

use super::{CLAIM_BATCH, ENQUEUE_BATCH, Measured, PAYLOAD, now_ms, redis_cpu_s};

/// Runs `tasks` tasks (whole batches of 1,000) through enqueue, claim and settle.
pub(super) fn run(conn: &mut Connection, tasks: usize) -> anyhow::Result<Measured> {
    let enqueue = Script::new(include_str!("lua/keyless_enqueue.lua"));
    let claim = Script::new(include_str!("lua/keyless_claim.lua"));
    let settle = Script::new(include_str!("lua/keyless_settle.lua"));
    redis::cmd("FLUSHALL").query::<()>(conn)?;
    let payloads = vec![PAYLOAD; ENQUEUE_BATCH];
    let (c0, started) = (redis_cpu_s(conn)?, Instant::now());
    for _ in 0..tasks / ENQUEUE_BATCH {
        enqueue.key("pq").key("seq").key("tasks").arg(&payloads).invoke::<i64>(conn)?;
    }
    let ce = redis_cpu_s(conn)?;
    let mut done = 0;
    while done < tasks {
        let got: Vec<Option<String>> = claim
            .key("pq")
            .key("leased")
            .key("tasks")
            .arg(CLAIM_BATCH)
            .arg(now_ms() + 30_000)
            .invoke(conn)?;
        let ids: Vec<String> = got.into_iter().step_by(2).flatten().collect();
        if ids.is_empty() {
            break;
        }
        let finished = now_ms().to_string();
        let keys = ["pq", "leased", "tasks", "results", "expiry", finished.as_str()];
        settle.key(&keys[..]).arg(&ids).invoke::<i64>(conn)?;
        done += ids.len();
    }
    Ok(Measured {
        tasks: done,
        cpu_s: redis_cpu_s(conn)? - c0,
        enqueue_cpu_s: ce - c0,
        claim_cpu_s: None,
        settle_cpu_s: None,
        started,
    })
}
