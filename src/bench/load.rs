//! One scenario: generate the load (closed or open loop), wait for every task to finish,
//! read the records, measure Redis and ttp on the side.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::task::JoinSet;

use super::BenchArgs;
use super::client::Client;
use super::report::{Latency, Summary};

/// Microsecond histogram from 1 µs to 10 min, 3 significant digits.
#[allow(clippy::expect_used)] // constant, valid bounds: this cannot fail
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

/// What the load phase produced.
struct Load {
    ids: Vec<String>,
    submit_us: Histogram<u64>,
    errors: usize,
    started: Instant,
    ended: Instant,
}

/// Runs the scenario `args` describes and measures it.
pub async fn scenario(args: &BenchArgs, name: &str) -> anyhow::Result<Summary> {
    let client = Client::new(args)?;
    let redis = args.redis_url.as_deref().map(super::probe::RedisProbe::new).transpose()?;
    let before = redis.as_ref().map(|r| r.sample()).transpose()?;
    let rss = RssSampler::start(args.ttp_pid);
    let ttp_cpu_before = args.ttp_pid.and_then(cpu_seconds);
    let worker_cpu_before = args.worker_pid.and_then(cpu_seconds);
    let load_cpu_before = cpu_seconds(std::process::id());
    if args.backlog {
        client.set_paused(true).await?;
    }
    let load = match args.rate {
        Some(rate) => open_loop(&client, rate, Duration::from_secs(args.duration_s)).await,
        None => closed_loop(&client, args.tasks, args.concurrency).await,
    };
    eprintln!(
        "{name}: {} tasks submitted, {} request errors; draining",
        load.ids.len(),
        load.errors
    );
    let drain_started = Instant::now();
    if args.backlog {
        client.set_paused(false).await?;
    }
    let drained = client.drain(args.wait_timeout()).await?;
    let after = redis.as_ref().map(|r| r.sample()).transpose()?;
    let ttp_cpu_after = args.ttp_pid.and_then(cpu_seconds);
    let worker_cpu_after = args.worker_pid.and_then(cpu_seconds);
    let load_cpu_after = cpu_seconds(std::process::id());
    let (end_to_end, failed) = if args.no_readback {
        (None, 0)
    } else {
        let (hist, failed) = end_to_end(&client, &load.ids).await;
        (Some(hist), failed)
    };
    let tasks = load.ids.len() as f64;
    let finish_window = if args.backlog { drained - drain_started } else { drained - load.started };
    let submit_window = load.ended - load.started;
    Ok(Summary {
        scenario: name.to_owned(),
        tasks: load.ids.len(),
        request_errors: load.errors,
        tasks_not_succeeded: failed,
        submitted_per_s: tasks / submit_window.as_secs_f64().max(1e-9),
        finished_per_s: tasks / finish_window.as_secs_f64().max(1e-9),
        submit: Latency::from_us(&load.submit_us),
        end_to_end: end_to_end.filter(|_| !args.backlog).map(|h| Latency::from_us(&h)),
        redis_cpu_us_per_task: before
            .zip(after)
            .map(|(b, a)| (a.cpu_s - b.cpu_s) * 1e6 / tasks.max(1.0)),
        redis_cpu_x_floor: None,
        redis_cpu_x_keyless_floor: None,
        redis_bytes_per_task: before
            .zip(after)
            .map(|(b, a)| (a.memory_bytes - b.memory_bytes) / tasks.max(1.0)),
        ttp_cpu_us_per_task: ttp_cpu_before
            .zip(ttp_cpu_after)
            .map(|(b, a)| (a - b) * 1e6 / tasks.max(1.0)),
        ttp_rss_peak_mb: rss.stop(),
        load_cpu_us_per_task: load_cpu_before
            .zip(load_cpu_after)
            .map(|(b, a)| (a - b) * 1e6 / tasks.max(1.0)),
        worker_cpu_us_per_task: worker_cpu_before
            .zip(worker_cpu_after)
            .map(|(b, a)| (a - b) * 1e6 / tasks.max(1.0)),
    })
}

/// `concurrency` loops, each sending its next request as soon as the last one answered.
async fn closed_loop(client: &Client, tasks: usize, concurrency: usize) -> Load {
    let requests = Arc::new(AtomicUsize::new(tasks.div_ceil(client.batch())));
    let started = Instant::now();
    let mut set = JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, requests) = (client.clone(), requests.clone());
        set.spawn(async move {
            let (mut ids, mut hist, mut errors) = (Vec::new(), histogram(), 0);
            while requests
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
            {
                let sent = Instant::now();
                match client.submit().await {
                    Ok(new) => ids.extend(new),
                    Err(_) => errors += 1,
                }
                let _ = hist.record(sent.elapsed().as_micros() as u64);
            }
            (ids, hist, errors)
        });
    }
    collect(set, started).await
}

/// One request every `batch / rate` seconds, timed from when it should have been sent.
async fn open_loop(client: &Client, rate: u64, duration: Duration) -> Load {
    let interval = Duration::from_secs_f64(client.batch() as f64 / rate.max(1) as f64);
    let requests = (duration.as_secs_f64() / interval.as_secs_f64()).round() as u32;
    let started = Instant::now();
    let mut set = JoinSet::new();
    for i in 0..requests {
        let intended = started + interval * i;
        tokio::time::sleep_until(intended.into()).await;
        let client = client.clone();
        set.spawn(async move {
            let result = client.submit().await;
            (result.ok(), intended.elapsed().as_micros() as u64)
        });
    }
    let mut load =
        Load { ids: Vec::new(), submit_us: histogram(), errors: 0, started, ended: started };
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((Some(ids), us)) => {
                load.ids.extend(ids);
                let _ = load.submit_us.record(us);
            }
            Ok((None, us)) => {
                load.errors += 1;
                let _ = load.submit_us.record(us);
            }
            Err(_) => load.errors += 1,
        }
    }
    load.ended = Instant::now();
    load
}

async fn collect(mut set: JoinSet<(Vec<String>, Histogram<u64>, usize)>, started: Instant) -> Load {
    let mut load =
        Load { ids: Vec::new(), submit_us: histogram(), errors: 0, started, ended: started };
    while let Some(joined) = set.join_next().await {
        if let Ok((ids, hist, errors)) = joined {
            load.ids.extend(ids);
            let _ = load.submit_us.add(&hist);
            load.errors += errors;
        }
    }
    load.ended = Instant::now();
    load
}

/// Reads every task (64 requests in flight): finished − created in µs (the records
/// have millisecond precision), and how many did not succeed.
async fn end_to_end(client: &Client, ids: &[String]) -> (Histogram<u64>, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let ids: Arc<Vec<String>> = Arc::new(ids.to_vec());
    let mut set = JoinSet::new();
    for _ in 0..64 {
        let (client, next, ids) = (client.clone(), next.clone(), ids.clone());
        set.spawn(async move {
            let (mut hist, mut failed) = (histogram(), 0);
            while let Some(id) = ids.get(next.fetch_add(1, Ordering::Relaxed)) {
                let Ok(task) = client.task(id).await else {
                    failed += 1;
                    continue;
                };
                let ms = |field: &str| {
                    task[field]
                        .as_str()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                        .map(|t| t.timestamp_millis())
                };
                match (task["state"].as_str(), ms("created_at"), ms("finished_at")) {
                    (Some("succeeded"), Some(created), Some(finished)) => {
                        let _ = hist.record(((finished - created).max(0) as u64) * 1000);
                    }
                    _ => failed += 1,
                }
            }
            (hist, failed)
        });
    }
    let (mut total, mut failed) = (histogram(), 0);
    while let Some(Ok((hist, f))) = set.join_next().await {
        let _ = total.add(&hist);
        failed += f;
    }
    (total, failed)
}

/// Samples a process's resident memory every 50 ms and keeps the peak.
struct RssSampler {
    peak_kb: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    pid: Option<u32>,
}

impl RssSampler {
    fn start(pid: Option<u32>) -> Self {
        let sampler = Self {
            peak_kb: Arc::new(AtomicU64::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
            pid,
        };
        if let Some(pid) = pid {
            let (peak, stop) = (sampler.peak_kb.clone(), sampler.stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_kb(pid).unwrap_or(0), Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            });
        }
        sampler
    }

    fn stop(self) -> Option<f64> {
        self.stop.store(true, Ordering::Relaxed);
        let peak = self.peak_kb.load(Ordering::Relaxed).max(self.pid.and_then(rss_kb).unwrap_or(0));
        self.pid.map(|_| peak as f64 / 1024.0)
    }
}

/// User + system CPU time of a process from /proc, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// `VmRSS` of a process from /proc, in KiB.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
