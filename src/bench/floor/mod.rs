//! The floor: what the cheapest fully batched task lifecycle with ttp's shape costs Redis
//! on this machine, measured on the very Redis the scenarios then run on.
//!
//! A Rust port of the reference scripts `floor.py` and `floor_keyless.py` (the project's
//! shared bench folder): the same Lua, byte for byte (`lua/`), the same payload, the same
//! batching (enqueue 1,000, claim 100 with the payload read inside the claim script,
//! settle 100 with a stored result), one client, one round trip per call, and the same
//! `INFO cpu` reads before and after — `floor.py` also reads it around every claim and
//! settle, and that cost stays in its figure, as in the script. Measuring it here rather
//! than quoting the script's figure matters because the floor moves with the machine's
//! speed of the day and with Redis' persistence: the scenarios' Redis CPU per task is
//! only comparable to a floor taken in the same run, on the same `redis-server` flags.
//!
//! It is not a queue (no fencing, idempotency, retries or HTTP): anything ttp spends
//! above it is overhead to explain; going below it takes a different structure.

mod keyed;
mod keyless;

use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;

use super::probe::{RedisProbe, info_field};

/// The task body both references store: what ttp packs for a `noop` task.
const PAYLOAD: &str =
    r#"{"k":"noop","p":null,"pr":5,"max":3,"to":30000,"ttl":86400,"c":1764590000000}"#;
/// Tasks per enqueue call.
const ENQUEUE_BATCH: usize = 1000;
/// Tasks per claim (and so per settle) call.
const CLAIM_BATCH: usize = 100;
/// Tasks of a full reference run, as in the scripts.
pub const DEFAULT_TASKS: usize = 100_000;

/// One reference run.
#[derive(Debug, Clone, Serialize)]
pub struct FloorRun {
    /// The script it ports: `floor.py` or `floor_keyless.py`.
    pub reference: &'static str,
    /// Redis' persistence while it ran, e.g. `AOF everysec` or `AOF off`.
    pub persistence: String,
    /// Tasks through the whole lifecycle.
    pub tasks: usize,
    /// Redis CPU (user + sys) per task, µs, `INFO cpu` calls included.
    pub redis_cpu_us_per_task: f64,
    /// The enqueue part of it.
    pub enqueue_us_per_task: f64,
    /// The claim part (`floor.py` only: the keyless script does not split it).
    pub claim_us_per_task: Option<f64>,
    /// The settle part (`floor.py` only).
    pub settle_us_per_task: Option<f64>,
    /// Tasks per second of wall time, one client.
    pub tasks_per_s: f64,
}

/// What a reference measured, before it is labelled.
struct Measured {
    tasks: usize,
    cpu_s: f64,
    enqueue_cpu_s: f64,
    claim_cpu_s: Option<f64>,
    settle_cpu_s: Option<f64>,
    started: Instant,
}

impl Measured {
    fn into_run(self, reference: &'static str, persistence: &str) -> FloorRun {
        let per_task = |s: f64| s * 1e6 / self.tasks.max(1) as f64;
        FloorRun {
            reference,
            persistence: persistence.to_owned(),
            tasks: self.tasks,
            redis_cpu_us_per_task: per_task(self.cpu_s),
            enqueue_us_per_task: per_task(self.enqueue_cpu_s),
            claim_us_per_task: self.claim_cpu_s.map(per_task),
            settle_us_per_task: self.settle_cpu_s.map(per_task),
            tasks_per_s: self.tasks as f64 / self.started.elapsed().as_secs_f64().max(1e-9),
        }
    }
}

/// Runs both references with `tasks` tasks on the Redis at `url` as it is configured,
/// then, when its AOF is on, again with the AOF switched off (`CONFIG SET`, restored
/// afterwards). Flushes that Redis before every run.
pub fn measure(url: &str, tasks: usize) -> anyhow::Result<Vec<FloorRun>> {
    let probe = RedisProbe::new(url)?;
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let persistence = persistence(&mut conn)?;
    let mut runs = both(&probe, &mut conn, tasks, &persistence)?;
    if persistence != "AOF off" {
        set_appendonly(&mut conn, false)?;
        let without = both(&probe, &mut conn, tasks, "AOF off");
        set_appendonly(&mut conn, true)?;
        runs.extend(without?);
    }
    probe.reset()?;
    Ok(runs)
}

/// `floor.py`, then `floor_keyless.py`, each on an emptied Redis.
fn both(
    probe: &RedisProbe,
    conn: &mut redis::Connection,
    tasks: usize,
    persistence: &str,
) -> anyhow::Result<Vec<FloorRun>> {
    probe.reset()?;
    let keyed = keyed::run(conn, tasks)?.into_run("floor.py", persistence);
    probe.reset()?;
    let keyless = keyless::run(conn, tasks)?.into_run("floor_keyless.py", persistence);
    Ok(vec![keyed, keyless])
}

/// Redis CPU time so far (`used_cpu_sys + used_cpu_user`, seconds), read as the scripts
/// read it: `INFO cpu`.
fn redis_cpu_s(conn: &mut redis::Connection) -> anyhow::Result<f64> {
    let info: String = redis::cmd("INFO").arg("cpu").query(conn)?;
    let sys = info_field(&info, "used_cpu_sys").context("INFO cpu without used_cpu_sys")?;
    let user = info_field(&info, "used_cpu_user").context("INFO cpu without used_cpu_user")?;
    Ok(sys + user)
}

/// Milliseconds since the Unix epoch (the scripts' `int(time.time() * 1000)`).
fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `AOF everysec`-style label of the Redis' persistence.
fn persistence(conn: &mut redis::Connection) -> anyhow::Result<String> {
    let config = |conn: &mut redis::Connection, name: &str| -> anyhow::Result<String> {
        let pair: Vec<String> = redis::cmd("CONFIG").arg("GET").arg(name).query(conn)?;
        pair.get(1).cloned().with_context(|| format!("CONFIG GET {name} answered nothing"))
    };
    Ok(match config(conn, "appendonly")?.as_str() {
        "yes" => format!("AOF {}", config(conn, "appendfsync")?),
        _ => "AOF off".to_owned(),
    })
}

/// Switches the AOF on or off and waits until Redis is there (switching it on rewrites
/// the AOF first).
fn set_appendonly(conn: &mut redis::Connection, on: bool) -> anyhow::Result<()> {
    let value = if on { "yes" } else { "no" };
    redis::cmd("CONFIG").arg("SET").arg("appendonly").arg(value).query::<()>(conn)?;
    let want = if on { "aof_enabled:1" } else { "aof_enabled:0" };
    for _ in 0..600 {
        let info: String = redis::cmd("INFO").arg("persistence").query(conn)?;
        if info.contains(want)
            && info.contains("aof_rewrite_in_progress:0")
            && info.contains("aof_rewrite_scheduled:0")
        {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    bail!("Redis did not reach appendonly {value} within 60 s")
}
