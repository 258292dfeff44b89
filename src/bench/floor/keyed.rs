//! `floor.py`: one hash per task (packed body + state), a priority zset, a lease zset, the
//! result written into the task hash with `EXPIRE`. Reads `INFO cpu` around every claim
//! and settle to split the figure, as the script does.

use std::time::Instant;

use redis::{Connection, Script};

use super::{CLAIM_BATCH, ENQUEUE_BATCH, Measured, PAYLOAD, now_ms, redis_cpu_s};

/// Runs `tasks` tasks (whole batches of 1,000) through enqueue, claim and settle.
pub(super) fn run(conn: &mut Connection, tasks: usize) -> anyhow::Result<Measured> {
    let enqueue = Script::new(include_str!("lua/keyed_enqueue.lua"));
    let claim = Script::new(include_str!("lua/keyed_claim.lua"));
    let settle = Script::new(include_str!("lua/keyed_settle.lua"));
    redis::cmd("FLUSHALL").query::<()>(conn)?;
    let payloads = vec![PAYLOAD; ENQUEUE_BATCH];
    let (c0, started) = (redis_cpu_s(conn)?, Instant::now());
    for _ in 0..tasks / ENQUEUE_BATCH {
        enqueue.key("pq").key("seq").key("task:").arg(&payloads).invoke::<i64>(conn)?;
    }
    let ce = redis_cpu_s(conn)?;
    let (mut claim_cpu, mut settle_cpu, mut done) = (0.0, 0.0, 0);
    while done < tasks {
        let a = redis_cpu_s(conn)?;
        let got: Vec<Option<String>> = claim
            .key("pq")
            .key("leased")
            .key("task:")
            .arg(CLAIM_BATCH)
            .arg(now_ms() + 30_000)
            .invoke(conn)?;
        let b = redis_cpu_s(conn)?;
        let ids: Vec<String> = got.into_iter().step_by(2).flatten().collect();
        if ids.is_empty() {
            break;
        }
        let finished = now_ms().to_string();
        let keys = ["pq", "leased", "task:", finished.as_str()];
        settle.key(&keys[..]).arg(&ids).invoke::<i64>(conn)?;
        let c = redis_cpu_s(conn)?;
        claim_cpu += b - a;
        settle_cpu += c - b;
        done += ids.len();
    }
    Ok(Measured {
        tasks: done,
        cpu_s: redis_cpu_s(conn)? - c0,
        enqueue_cpu_s: ce - c0,
        claim_cpu_s: Some(claim_cpu),
        settle_cpu_s: Some(settle_cpu),
        started,
    })
}
