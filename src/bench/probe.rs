//! Redis-side figures of a benchmark run: CPU time and memory from `INFO`, and a reset
//! between scenarios so none pays for the previous one's data.

/// Reads Redis CPU time and memory (INFO) for per-task figures.
pub struct RedisProbe {
    client: redis::Client,
}

/// One INFO sample.
#[derive(Debug, Clone, Copy)]
pub struct RedisSample {
    /// used_cpu_user + used_cpu_sys, seconds.
    pub cpu_s: f64,
    /// used_memory, bytes.
    pub memory_bytes: f64,
}

impl RedisProbe {
    /// A probe of the Redis at `url`.
    pub fn new(url: &str) -> anyhow::Result<Self> {
        Ok(Self { client: redis::Client::open(url)? })
    }

    /// Empties Redis and compacts its AOF, so that a scenario neither pays for the data
    /// of the previous ones (memory, AOF rewrites) nor reads it.
    pub fn reset(&self) -> anyhow::Result<()> {
        let mut conn = self.client.get_connection()?;
        redis::cmd("FLUSHALL").query::<()>(&mut conn)?;
        let _ = redis::cmd("BGREWRITEAOF").query::<String>(&mut conn);
        for _ in 0..300 {
            let info: String = redis::cmd("INFO").arg("persistence").query(&mut conn)?;
            if !info.contains("aof_rewrite_in_progress:1")
                && !info.contains("aof_rewrite_scheduled:1")
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Ok(())
    }

    /// Samples INFO now.
    pub fn sample(&self) -> anyhow::Result<RedisSample> {
        let mut conn = self.client.get_connection()?;
        let info: String = redis::cmd("INFO").query(&mut conn)?;
        let field = |name: &str| info_field(&info, name).unwrap_or(0.0);
        Ok(RedisSample {
            cpu_s: field("used_cpu_user") + field("used_cpu_sys"),
            memory_bytes: field("used_memory"),
        })
    }
}

/// The numeric field `name` of an `INFO` reply.
pub fn info_field(info: &str, name: &str) -> Option<f64> {
    info.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':')))
        .and_then(|v| v.trim().parse::<f64>().ok())
}
