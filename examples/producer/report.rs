//! What the run prints: the submit and finish rates and the outcomes on stdout, the
//! failed requests on stderr, and the one-line messages those failures are tallied under.
//!
//! Two choices worth copying. The finish rate and the end-to-end latencies come from the
//! tasks' own `created_at`/`finished_at`, not from this client's clock, so they measure
//! ttp rather than the long-polling. And a failure is tallied by its message with the
//! varying parts taken out (`tasks[17]` → `tasks[i]`), so ten thousand refusals for one
//! reason print as one line with a count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;

/// The submit line: how many were accepted, how fast, in how many requests.
pub fn submitted(accepted: usize, count: usize, took: Duration, requests: usize) {
    let refused = count - accepted;
    println!(
        "submitted {} of {} tasks in {:.2} s: {:.0} tasks/s ({} requests, {refused} tasks refused)",
        accepted,
        count,
        took.as_secs_f64(),
        accepted as f64 / took.as_secs_f64().max(1e-9),
        requests,
    );
}

/// What waiting found, for the exit code.
pub struct Finished {
    pub succeeded: u64,
    /// Tasks whose state could not be read.
    pub lost: u64,
}

/// The finish lines, from the tasks' last `views`; `took` (since the first submission)
/// stands in when the views carry no timestamps.
pub fn finished(views: &[Option<Value>], took: Duration) -> Finished {
    let mut states: HashMap<String, u64> = HashMap::new();
    let mut lost = 0;
    for view in views {
        match view {
            Some(v) => {
                *states.entry(v["state"].as_str().unwrap_or("?").to_owned()).or_default() += 1
            }
            None => lost += 1,
        }
    }
    let count = |s: &str| states.get(s).copied().unwrap_or(0);
    let terminal = count("succeeded") + count("failed") + count("cancelled");
    let (span, latencies) = server_times(views);
    let span = span.unwrap_or(took);
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
    println!(
        "succeeded {}, failed {}, cancelled {}{}",
        count("succeeded"),
        count("failed"),
        count("cancelled"),
        others(&states, lost),
    );
    Finished { succeeded: count("succeeded"), lost }
}

/// `, queued 3, running 1, unreadable 2`: the states besides the terminal ones, if any.
fn others(states: &HashMap<String, u64>, lost: u64) -> String {
    let mut others: Vec<String> = states
        .iter()
        .filter(|(s, _)| !matches!(s.as_str(), "succeeded" | "failed" | "cancelled"))
        .map(|(s, n)| format!("{s} {n}"))
        .collect();
    others.sort();
    if lost > 0 {
        others.push(format!("unreadable {lost}"));
    }
    if others.is_empty() { String::new() } else { format!(", {}", others.join(", ")) }
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

/// The failed requests: the first 100 distinct messages, and how often each happened.
#[derive(Default)]
pub struct Errors(Mutex<HashMap<String, u64>>);

impl Errors {
    /// Counts `message` `times` more (a new message only while fewer than 100 are kept).
    pub fn add(&self, message: String, times: u64) {
        if let Ok(mut errors) = self.0.lock()
            && (errors.len() < 100 || errors.contains_key(&message))
        {
            *errors.entry(message).or_default() += times;
        }
    }

    /// Prints the ten most frequent on stderr; whether there were any.
    pub fn print(&self) -> bool {
        let errors = self.0.lock().map(|e| e.clone()).unwrap_or_default();
        if errors.is_empty() {
            return false;
        }
        eprintln!("producer: failed requests:");
        let mut errors: Vec<(String, u64)> = errors.into_iter().collect();
        errors.sort_by_key(|e| std::cmp::Reverse(e.1));
        for (message, n) in errors.iter().take(10) {
            eprintln!("  {n} × {message}");
        }
        true
    }
}

/// The `title: detail` of a problem+json body, or the body itself.
pub fn problem(body: &Value) -> String {
    match (body["title"].as_str(), body["detail"].as_str()) {
        (Some(title), Some(detail)) => format!("{title}: {detail}"),
        (Some(title), None) => title.to_owned(),
        _ => body.to_string().chars().take(200).collect(),
    }
}

/// `tasks[17].payload.x: …` → `tasks[i].payload.x: …`, so that equal errors group.
pub fn without_index(message: &str) -> String {
    match (message.find("tasks["), message.find("].")) {
        (Some(open), Some(close)) if open + 6 < close => {
            format!("{}tasks[i]{}", &message[..open], &message[close + 1..])
        }
        _ => message.to_owned(),
    }
}

/// An error and its causes on one line.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}
