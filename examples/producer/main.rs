//! A producer: submits N tasks to a running ttp over HTTP, with a progress bar on stderr,
//! waits for them to finish (long-polling `GET /tasks/{id}?wait_ms=`), and prints the
//! submit rate, the finish rate and how many succeeded or failed.
//!
//! ```text
//! cargo run --example producer -- --url http://127.0.0.1:8080 --count 10000
//! cargo run --example producer -- --count 10000 --batch            # POST /tasks/batch, 100 per request
//! cargo run --example producer -- --kind sleep --payload '{"ms": 50}' --concurrency 32
//! cargo run --example producer -- --requests mix.jsonl --ids ids.txt --no-wait
//! ```
//!
//! Every task carries an idempotency key (unless its request already has one), so a
//! request refused or lost in transit (connection error, timeout, 429, 503) is simply sent
//! again for up to `--retry-for-ms`: ttp answers a repeat with the task it already
//! accepted, never a duplicate. Exits 1 if any request or task submission failed (with
//! `--strict`, also unless every task succeeded).

use std::collections::HashMap;
use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Submit tasks to ttp and wait for them.
#[derive(Debug, Parser)]
#[command(name = "producer")]
struct Args {
    /// Base URL of ttp.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Tasks to submit.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Task kind.
    #[arg(long, default_value = "noop")]
    kind: String,
    /// Task payload (JSON).
    #[arg(long, value_name = "JSON")]
    payload: Option<String>,
    /// Task requests, one JSON object per line (any `POST /tasks` fields); task i is line
    /// i modulo the number of lines. Replaces --kind and --payload.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["kind", "payload"])]
    requests: Option<PathBuf>,
    /// Queue (when the request does not name one).
    #[arg(long)]
    queue: Option<String>,
    /// Submit through POST /tasks/batch, SIZE tasks per request (default 100).
    #[arg(long, value_name = "SIZE", num_args = 0..=1, default_missing_value = "100",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    batch: Option<u16>,
    /// Requests in flight at once (submitting, then waiting).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    concurrency: u16,
    /// How long to keep re-sending a refused request (connection error, timeout, 429, 503).
    #[arg(long, default_value_t = 10_000, value_name = "MS")]
    retry_for_ms: u64,
    /// Submit only; do not wait for the tasks to finish.
    #[arg(long)]
    no_wait: bool,
    /// Give up waiting after this long.
    #[arg(long, default_value_t = 300, value_name = "S")]
    wait_timeout_s: u64,
    /// Write each accepted task id to FILE, one per line, as soon as it is accepted.
    #[arg(long, value_name = "FILE")]
    ids: Option<PathBuf>,
    /// Also exit 1 unless every task succeeded.
    #[arg(long)]
    strict: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("producer: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Everything the submitting and waiting loops share.
struct Run {
    http: reqwest::Client,
    base: String,
    templates: Vec<Value>,
    run_id: String,
    retry_for: Duration,
    ids_file: Option<Mutex<File>>,
    /// First few distinct error messages, and how often each happened.
    errors: Mutex<HashMap<String, u64>>,
}

/// `Ok(true)` when every request succeeded (and, with `--strict`, every task).
async fn run(args: Args) -> anyhow::Result<bool> {
    let templates = templates(&args)?;
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(40))
        .pool_max_idle_per_host(usize::from(args.concurrency))
        .tcp_nodelay(true)
        .build()?;
    let ids_file = match &args.ids {
        Some(path) => Some(Mutex::new(
            File::create(path)
                .with_context(|| format!("--ids: cannot create {}", path.display()))?,
        )),
        None => None,
    };
    let run = Arc::new(Run {
        http,
        base: args.url.trim_end_matches('/').to_owned(),
        templates,
        run_id: ulid::Ulid::new().to_string().to_lowercase(),
        retry_for: Duration::from_millis(args.retry_for_ms),
        ids_file,
        errors: Mutex::default(),
    });
    let concurrency = usize::from(args.concurrency);

    // ---- submit
    let batch = args.batch.map_or(1, usize::from);
    let mode = if args.batch.is_some() {
        format!("POST /tasks/batch, {batch} per request")
    } else {
        "POST /tasks".to_owned()
    };
    eprintln!("producer: {} tasks to {} ({mode}, concurrency {concurrency})", args.count, run.base);
    let started = Instant::now();
    let ids = submit_all(&run, args.count, batch, concurrency).await;
    let submit_time = started.elapsed();
    let accepted: Vec<String> = ids.into_iter().flatten().collect();
    let refused = args.count - accepted.len();
    println!(
        "submitted {} of {} tasks in {:.2} s: {:.0} tasks/s ({} requests, {refused} tasks refused)",
        accepted.len(),
        args.count,
        submit_time.as_secs_f64(),
        accepted.len() as f64 / submit_time.as_secs_f64().max(1e-9),
        args.count.div_ceil(batch),
    );

    // ---- wait
    let mut all_succeeded = refused == 0;
    let mut wait_failed = false;
    if !args.no_wait && !accepted.is_empty() {
        let deadline = Instant::now() + Duration::from_secs(args.wait_timeout_s);
        let views = wait_all(&run, &accepted, concurrency, deadline).await;
        let finish_time = started.elapsed();
        let mut states: HashMap<String, u64> = HashMap::new();
        let mut lost = 0;
        for view in &views {
            match view {
                Some(v) => {
                    *states.entry(v["state"].as_str().unwrap_or("?").to_owned()).or_default() += 1
                }
                None => lost += 1,
            }
        }
        let count = |s: &str| states.get(s).copied().unwrap_or(0);
        let terminal = count("succeeded") + count("failed") + count("cancelled");
        let (span, latencies) = server_times(&views);
        let span = span.unwrap_or(finish_time);
        println!(
            "finished  {terminal} tasks in {:.2} s (first submitted to last finished): {:.0} tasks/s",
            span.as_secs_f64(),
            terminal as f64 / span.as_secs_f64().max(1e-9),
        );
        if let Some((p50, p99)) = latencies {
            println!(
                "end to end (submitted to finished): p50 {:.1} ms, p99 {:.1} ms",
                p50 * 1e3,
                p99 * 1e3
            );
        }
        let mut others: Vec<String> = states
            .iter()
            .filter(|(s, _)| !matches!(s.as_str(), "succeeded" | "failed" | "cancelled"))
            .map(|(s, n)| format!("{s} {n}"))
            .collect();
        others.sort();
        if lost > 0 {
            others.push(format!("unreadable {lost}"));
        }
        let others =
            if others.is_empty() { String::new() } else { format!(", {}", others.join(", ")) };
        println!(
            "succeeded {}, failed {}, cancelled {}{others}",
            count("succeeded"),
            count("failed"),
            count("cancelled"),
        );
        all_succeeded &= count("succeeded") == accepted.len() as u64;
        wait_failed = lost > 0;
    }

    let errors = run.errors.lock().map(|e| e.clone()).unwrap_or_default();
    let request_failed = !errors.is_empty();
    if request_failed {
        eprintln!("producer: failed requests:");
        let mut errors: Vec<(String, u64)> = errors.into_iter().collect();
        errors.sort_by_key(|e| std::cmp::Reverse(e.1));
        for (message, n) in errors.iter().take(10) {
            eprintln!("  {n} × {message}");
        }
    }
    let ok = refused == 0 && !wait_failed && !request_failed;
    if args.strict && !all_succeeded {
        eprintln!("producer: --strict: not every task succeeded");
        return Ok(false);
    }
    Ok(ok)
}

/// The request bodies to cycle through, each a JSON object.
fn templates(args: &Args) -> anyhow::Result<Vec<Value>> {
    let mut templates = match &args.requests {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--requests: cannot read {}", path.display()))?;
            let mut lines = Vec::new();
            for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let value: Value = serde_json::from_str(line)
                    .with_context(|| format!("--requests: line {} is not JSON", n + 1))?;
                if !value.is_object() {
                    bail!("--requests: line {} is not a JSON object", n + 1);
                }
                lines.push(value);
            }
            if lines.is_empty() {
                bail!("--requests: {} holds no request", path.display());
            }
            lines
        }
        None => {
            let mut task = json!({ "kind": args.kind });
            if let Some(payload) = &args.payload {
                task["payload"] = serde_json::from_str(payload).context("--payload is not JSON")?;
            }
            vec![task]
        }
    };
    if let Some(queue) = &args.queue {
        for t in &mut templates {
            if t.get("queue").is_none() {
                t["queue"] = json!(queue);
            }
        }
    }
    Ok(templates)
}

impl Run {
    /// The body of task `i`, with its idempotency key.
    fn task(&self, i: usize) -> Value {
        let mut task = self.templates[i % self.templates.len()].clone();
        if task.get("idempotency_key").is_none() {
            task["idempotency_key"] = json!(format!("producer-{}-{i}", self.run_id));
        }
        task
    }

    fn error(&self, message: String, times: u64) {
        if let Ok(mut errors) = self.errors.lock()
            && (errors.len() < 100 || errors.contains_key(&message))
        {
            *errors.entry(message).or_default() += times;
        }
    }

    fn record_ids(&self, ids: &[&str]) {
        if let (Some(file), false) = (&self.ids_file, ids.is_empty()) {
            let mut lines = ids.join("\n");
            lines.push('\n');
            let written = file.lock().map(|mut f| f.write_all(lines.as_bytes()));
            if let Ok(Err(e)) = written {
                self.error(format!("--ids: {e}"), 1);
            }
        }
    }

    /// POSTs `body`, re-sending it while it is refused for a passing reason (no
    /// connection, timeout, 429, 503, or a batch with an item refused so) and `retry_for`
    /// has not elapsed. Safe because every task carries an idempotency key.
    async fn post(&self, path: &str, body: &Value) -> Result<(u16, Value), String> {
        let give_up = Instant::now() + self.retry_for;
        let mut pause = Duration::from_millis(50);
        loop {
            let sent = self.http.post(format!("{}{path}", self.base)).json(body).send().await;
            let retry = match sent {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let retry_after = response
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok());
                    let body: Value = response.json().await.map_err(|e| {
                        format!("POST {path}: {status} with an unreadable body: {e}")
                    })?;
                    let items_refused = body["results"].as_array().is_some_and(|items| {
                        items.iter().any(|r| matches!(r["status"].as_u64(), Some(429 | 503)))
                    });
                    if !(matches!(status, 429 | 502 | 503 | 504) || items_refused) {
                        return Ok((status, body));
                    }
                    if let Some(s) = retry_after {
                        pause = pause.max(Duration::from_secs(s.min(5)));
                    }
                    format!("POST {path}: {status} {}", problem(&body))
                }
                Err(e) => format!("POST {path}: {}", one_line(&e)),
            };
            if Instant::now() + pause > give_up {
                return Err(retry);
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
        }
    }

    /// Submits tasks `range`; their ids (None for a refused task).
    async fn submit(&self, range: std::ops::Range<usize>, batch: bool) -> Vec<Option<String>> {
        let n = range.len();
        if !batch {
            let task = self.task(range.start);
            return vec![match self.post("/tasks", &task).await {
                Ok((202 | 200, view)) => view["id"].as_str().map(str::to_owned),
                Ok((status, body)) => {
                    self.error(format!("POST /tasks: {status} {}", problem(&body)), 1);
                    None
                }
                Err(message) => {
                    self.error(message, 1);
                    None
                }
            }];
        }
        let tasks: Vec<Value> = range.map(|i| self.task(i)).collect();
        match self.post("/tasks/batch", &json!({ "tasks": tasks })).await {
            Ok((200, body)) => {
                let items = body["results"].as_array().cloned().unwrap_or_default();
                if items.len() != n {
                    self.error(
                        format!("POST /tasks/batch: {} results for {n} tasks", items.len()),
                        1,
                    );
                }
                let mut ids: Vec<Option<String>> = items
                    .iter()
                    .map(|item| match (item["status"].as_u64(), item["id"].as_str()) {
                        (Some(202 | 200), Some(id)) => Some(id.to_owned()),
                        (status, _) => {
                            let status = status.unwrap_or(0);
                            let message = without_index(&problem(&item["problem"]));
                            self.error(format!("POST /tasks/batch item: {status} {message}"), 1);
                            None
                        }
                    })
                    .collect();
                ids.resize(n, None);
                ids
            }
            Ok((status, body)) => {
                self.error(format!("POST /tasks/batch: {status} {}", problem(&body)), n as u64);
                vec![None; n]
            }
            Err(message) => {
                self.error(message, n as u64);
                vec![None; n]
            }
        }
    }

    /// Long-polls one task until it is terminal or `deadline`; its last view.
    async fn wait(&self, id: &str, deadline: Instant) -> Option<Value> {
        let mut last = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let wait_ms = left.as_millis().min(10_000);
            let url = format!("{}/tasks/{id}?wait_ms={wait_ms}", self.base);
            match self.http.get(url).send().await {
                Ok(response) if response.status().is_success() => {
                    match response.json::<Value>().await {
                        Ok(view) => {
                            let terminal = matches!(
                                view["state"].as_str(),
                                Some("succeeded" | "failed" | "cancelled")
                            );
                            last = Some(view);
                            if terminal {
                                return last;
                            }
                        }
                        Err(e) => self.error(format!("GET /tasks/{{id}}: {}", one_line(&e)), 1),
                    }
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body: Value = response.json().await.unwrap_or(Value::Null);
                    if !matches!(status, 429 | 502 | 503 | 504) {
                        self.error(format!("GET /tasks/{{id}}: {status} {}", problem(&body)), 1);
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                // ttp restarting: try again until the deadline.
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
            if Instant::now() >= deadline {
                if last.is_none() {
                    self.error(
                        format!("GET /tasks/{{id}}: no answer before the deadline ({id})"),
                        1,
                    );
                }
                return last;
            }
        }
    }
}

/// Submits `count` tasks in chunks of `batch` with `concurrency` requests in flight.
async fn submit_all(
    run: &Arc<Run>,
    count: usize,
    batch: usize,
    concurrency: usize,
) -> Vec<Option<String>> {
    let progress = Progress::start("submit", count as u64);
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(count.div_ceil(batch)) {
        let (run, next, progress) = (run.clone(), next.clone(), progress.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let start = next.fetch_add(batch, Ordering::Relaxed);
                if start >= count {
                    return done;
                }
                let range = start..(start + batch).min(count);
                let ids = run.submit(range.clone(), batch > 1).await;
                let accepted: Vec<&str> = ids.iter().flatten().map(String::as_str).collect();
                run.record_ids(&accepted);
                progress.add(range.len() as u64);
                done.push((range.start, ids));
            }
        });
    }
    let mut ids = vec![None; count];
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(chunks) => {
                for (start, chunk) in chunks {
                    for (offset, id) in chunk.into_iter().enumerate() {
                        ids[start + offset] = id;
                    }
                }
            }
            Err(e) => run.error(format!("submitting task panicked: {e}"), 1),
        }
    }
    progress.finish();
    ids
}

/// Waits for every task; their last views, in order (None when unreadable).
async fn wait_all(
    run: &Arc<Run>,
    ids: &[String],
    concurrency: usize,
    deadline: Instant,
) -> Vec<Option<Value>> {
    let progress = Progress::start("finish", ids.len() as u64);
    let ids: Arc<Vec<String>> = Arc::new(ids.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency.min(ids.len()) {
        let (run, ids, next, progress) = (run.clone(), ids.clone(), next.clone(), progress.clone());
        workers.spawn(async move {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(id) = ids.get(i) else { return done };
                let view = run.wait(id, deadline).await;
                progress.add(1);
                done.push((i, view));
            }
        });
    }
    let mut views = vec![None; ids.len()];
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok(done) => {
                for (i, view) in done {
                    views[i] = view;
                }
            }
            Err(e) => run.error(format!("waiting task panicked: {e}"), 1),
        }
    }
    progress.finish();
    views
}

/// From the tasks' own timestamps: first `created_at` to last `finished_at`, and the
/// p50/p99 of `finished_at - created_at` in seconds.
fn server_times(views: &[Option<Value>]) -> (Option<Duration>, Option<(f64, f64)>) {
    let time = |v: &Value, field: &str| {
        v[field].as_str().and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
    };
    let mut first = None;
    let mut last = None;
    let mut latencies = Vec::new();
    for view in views.iter().flatten() {
        let (Some(created), Some(finished)) = (time(view, "created_at"), time(view, "finished_at"))
        else {
            continue;
        };
        first = Some(first.map_or(created, |f: chrono::DateTime<_>| f.min(created)));
        last = Some(last.map_or(finished, |l: chrono::DateTime<_>| l.max(finished)));
        latencies.push((finished - created).as_seconds_f64());
    }
    let span = first.zip(last).and_then(|(f, l)| (l - f).to_std().ok());
    latencies.sort_by(f64::total_cmp);
    let quantile = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let percentiles = (!latencies.is_empty()).then(|| (quantile(0.5), quantile(0.99)));
    (span, percentiles)
}

/// The `title: detail` of a problem+json body, or the body itself.
fn problem(body: &Value) -> String {
    match (body["title"].as_str(), body["detail"].as_str()) {
        (Some(title), Some(detail)) => format!("{title}: {detail}"),
        (Some(title), None) => title.to_owned(),
        _ => body.to_string().chars().take(200).collect(),
    }
}

/// `tasks[17].payload.x: …` → `tasks[i].payload.x: …`, so that equal errors group.
fn without_index(message: &str) -> String {
    match (message.find("tasks["), message.find("].")) {
        (Some(open), Some(close)) if open + 6 < close => {
            format!("{}tasks[i]{}", &message[..open], &message[close + 1..])
        }
        _ => message.to_owned(),
    }
}

/// An error and its causes on one line.
fn one_line(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A progress bar on stderr: redrawn in place on a terminal, one line a second otherwise.
struct Progress {
    label: &'static str,
    total: u64,
    done: AtomicU64,
    started: Instant,
    stop: CancellationToken,
}

impl Progress {
    fn start(label: &'static str, total: u64) -> Arc<Self> {
        let progress = Arc::new(Self {
            label,
            total,
            done: AtomicU64::new(0),
            started: Instant::now(),
            stop: CancellationToken::new(),
        });
        let ticker = progress.clone();
        tokio::spawn(async move {
            let tty = std::io::stderr().is_terminal();
            let every = Duration::from_millis(if tty { 100 } else { 1000 });
            loop {
                tokio::select! {
                    _ = ticker.stop.cancelled() => return,
                    _ = tokio::time::sleep(every) => ticker.draw(tty, false),
                }
            }
        });
        progress
    }

    fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    fn finish(&self) {
        self.stop.cancel();
        self.draw(std::io::stderr().is_terminal(), true);
    }

    fn draw(&self, tty: bool, last: bool) {
        const WIDTH: u64 = 30;
        let done = self.done.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        let filled = (done * WIDTH).checked_div(self.total).unwrap_or(WIDTH) as usize;
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH as usize - filled));
        let line = format!(
            "{:<6} [{bar}] {done:>7}/{} {:>3}% {:>7.0}/s {:>6.1} s",
            self.label,
            self.total,
            (done * 100).checked_div(self.total).unwrap_or(100),
            done as f64 / secs.max(1e-9),
            secs,
        );
        let mut err = std::io::stderr().lock();
        let _ = match (tty, last) {
            (true, false) => write!(err, "\r{line}"),
            (true, true) => writeln!(err, "\r{line}"),
            (false, _) => writeln!(err, "{line}"),
        };
        let _ = err.flush();
    }
}
