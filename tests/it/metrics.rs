//! `GET /metrics`: every SPEC §6 family under its contract name, in text that a strict
//! Prometheus exposition check accepts (the same rules `promtool check metrics` applies
//! to structure: names, labels, TYPE lines, cumulative histogram buckets).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::json;
use ttp::testkit::{RedisServer, TestApp};

/// One sample line: `name{label="value",…} value`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A parsed and validated exposition.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    /// Family name → its TYPE.
    pub types: HashMap<String, String>,
    pub samples: Vec<Sample>,
}

fn is_name(s: &str, colons: bool) -> bool {
    let ok = |c: char, first: bool| {
        c.is_ascii_alphabetic()
            || c == '_'
            || (colons && c == ':')
            || (!first && c.is_ascii_digit())
    };
    let mut chars = s.chars();
    chars.next().is_some_and(|c| ok(c, true)) && chars.all(|c| ok(c, false))
}

fn parse_value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ if s.chars().all(|c| c.is_ascii_digit() || "+-.eE".contains(c)) => {
            s.parse().map_err(|_| format!("bad value {s:?}"))
        }
        _ => Err(format!("bad value {s:?}")),
    }
}

/// Parses `{a="x",b="y\"z"}` at the start of `s`; returns the labels and the rest.
fn parse_labels(s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let mut rest = s.strip_prefix('{').ok_or("expected '{'")?;
    loop {
        if !labels.is_empty() {
            rest = rest.strip_prefix(',').unwrap_or(rest);
        }
        if let Some(tail) = rest.strip_prefix('}') {
            return Ok((labels, tail));
        }
        let (name, tail) = rest.split_once("=\"").ok_or("expected name=\"value\"")?;
        check(is_name(name, false), "bad label name")?;
        let (mut value, mut chars) = (String::new(), tail.char_indices());
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => return Err(format!("bad escape \\{c}")),
                },
                (_, c) => value.push(c),
            }
        };
        let fresh = labels.insert(name.to_owned(), value).is_none();
        rest = &tail[end + 1..];
        check(fresh && rest.starts_with([',', '}']), "repeated or unseparated label")?;
    }
}

/// `Err(message)` unless `ok`.
fn check(ok: bool, message: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(message.to_owned()) }
}

/// The family a sample belongs to, given the TYPE lines seen so far.
fn family<'a>(name: &'a str, types: &HashMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_count", "_sum"].iter().find_map(|suffix| {
        let base = name.strip_suffix(suffix)?;
        let kind = types.get(base)?;
        (kind == "histogram" || (kind == "summary" && *suffix != "_bucket")).then_some(base)
    })
}

impl Exposition {
    /// Parses `text`, rejecting anything a strict exposition check would.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut out = Self::default();
        let mut seen = HashSet::new();
        for (n, line) in text.lines().enumerate() {
            out.parse_line(line, &mut seen)
                .map_err(|e| format!("line {}: {e}: {line:?}", n + 1))?;
        }
        out.check_histograms()?;
        Ok(out)
    }

    fn parse_line(&mut self, line: &str, seen: &mut HashSet<String>) -> Result<(), String> {
        if let Some(help) = line.strip_prefix("# HELP ") {
            let name = help.split(' ').next().unwrap_or_default();
            return check(is_name(name, true), "bad HELP name");
        }
        if let Some(decl) = line.strip_prefix("# TYPE ") {
            let (name, kind) = decl.split_once(' ').ok_or("TYPE without a type")?;
            let known = ["counter", "gauge", "histogram", "summary", "untyped"];
            let ok = is_name(name, true) && known.contains(&kind);
            check(ok, "bad TYPE line")?;
            let fresh = self.types.insert(name.to_owned(), kind.to_owned()).is_none();
            return check(fresh, "TYPE repeated");
        }
        let end = line.find(['{', ' ']).ok_or("no value")?;
        let name = &line[..end];
        check(is_name(name, true), "bad metric name")?;
        family(name, &self.types).ok_or("sample without a TYPE line for its family")?;
        let (labels, rest) = match line[end..].starts_with('{') {
            true => parse_labels(&line[end..])?,
            false => (BTreeMap::new(), &line[end..]),
        };
        let value = match rest.split(' ').collect::<Vec<_>>()[..] {
            ["", value] => parse_value(value)?,
            ["", value, ts] if ts.parse::<i64>().is_ok() => parse_value(value)?,
            _ => return Err("expected ` value [timestamp]`".into()),
        };
        check(seen.insert(format!("{name}{labels:?}")), "duplicate series")?;
        self.samples.push(Sample { name: name.to_owned(), labels, value });
        Ok(())
    }

    /// The `(le, count)` buckets of histogram `name`, per series (keyed by the labels
    /// other than `le`), in exposition order.
    pub(crate) fn buckets(&self, name: &str) -> Result<BTreeMap<String, Vec<(f64, f64)>>, String> {
        let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
        let bucket = format!("{name}_bucket");
        for s in self.samples.iter().filter(|s| s.name == bucket) {
            let mut labels = s.labels.clone();
            let le = labels.remove("le").ok_or(format!("{name}: bucket without le"))?;
            let entry = series.entry(format!("{labels:?}")).or_default();
            entry.push((parse_value(&le)?, s.value));
        }
        Ok(series)
    }

    /// Buckets are cumulative, strictly increasing in `le`, end with `+Inf` equal to
    /// `_count`, and every series has a `_sum`.
    fn check_histograms(&self) -> Result<(), String> {
        for (name, _) in self.types.iter().filter(|(_, kind)| *kind == "histogram") {
            for (labels, buckets) in self.buckets(name)? {
                let of = |suffix: &str| {
                    let full = format!("{name}{suffix}");
                    let same = |s: &&Sample| s.name == full && format!("{:?}", s.labels) == labels;
                    self.samples.iter().find(same).map(|s| s.value)
                };
                let ordered = buckets.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1);
                let last = buckets.last().copied().unwrap_or_default();
                let (count, sum) = (of("_count"), of("_sum"));
                let ok = ordered && last.0 == f64::INFINITY && count == Some(last.1);
                check(ok && sum.is_some(), &format!("{name}{labels}: {buckets:?} {count:?}"))?;
            }
        }
        Ok(())
    }

    /// The value of the one series of `name` whose labels include `labels`.
    pub(crate) fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matches = |s: &&Sample| {
            s.name == name
                && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        };
        self.samples.iter().find(matches).map(|s| s.value)
    }
}

/// Runs a success and a retried-then-failed task, then scrapes and parses `/metrics`.
async fn scrape_after_tasks(app: &TestApp) -> Exposition {
    let ok = app.submit_ok(&json!({"kind": "noop"})).await;
    let bad = json!({"kind": "fail", "max_attempts": 2});
    let bad = app.submit_ok(&bad).await;
    for (id, state) in [(ok, "succeeded"), (bad, "failed")] {
        app.wait_for_state(&id, state, Duration::from_secs(10)).await;
    }
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str();
    assert!(content_type.unwrap().starts_with("text/plain; version=0.0.4"));
    let text = response.text().await.unwrap();
    Exposition::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_every_spec_family_as_valid_prometheus_text() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let metrics = scrape_after_tasks(&app).await;
    let families = [
        ("ttp_tasks_submitted_total", "counter"),
        ("ttp_tasks_finished_total", "counter"),
        ("ttp_task_run_seconds", "histogram"),
        ("ttp_task_queue_wait_seconds", "histogram"),
        ("ttp_task_end_to_end_seconds", "histogram"),
        ("ttp_queue_depth", "gauge"),
        ("ttp_workers_busy", "gauge"),
        ("ttp_http_requests_total", "counter"),
        ("ttp_http_request_duration_seconds", "histogram"),
        ("ttp_redis_errors_total", "counter"),
    ];
    let typed = |(name, kind): &(&str, &str)| metrics.types.get(*name).is_some_and(|k| k == kind);
    let sampled = |name: &str| {
        (metrics.samples.iter()).any(|s| family(&s.name, &metrics.types) == Some(name))
    };
    let missing: Vec<_> = families.iter().filter(|f| !typed(f) || !sampled(f.0)).collect();
    assert!(missing.is_empty(), "missing or mistyped: {missing:?}");
    let process = ["process_cpu_seconds_total", "process_resident_memory_bytes"];
    assert!(process.iter().any(|n| metrics.value(n, &[]).is_some()));

    let finished = |kind, outcome| {
        let labels = [("queue", "default"), ("kind", kind), ("outcome", outcome)];
        metrics.value("ttp_tasks_finished_total", &labels)
    };
    assert_eq!(finished("noop", "succeeded"), Some(1.0));
    assert_eq!(finished("fail", "retried"), Some(1.0));
    assert_eq!(finished("fail", "failed"), Some(1.0));
    let submitted = |kind| metrics.value("ttp_tasks_submitted_total", &[("kind", kind)]);
    assert_eq!((submitted("noop"), submitted("fail")), (Some(1.0), Some(1.0)));
    let runs = metrics.value("ttp_task_run_seconds_count", &[("kind", "fail")]);
    assert_eq!(runs, Some(2.0), "two attempts of the fail task");
    let posts = [("method", "POST"), ("route", "/tasks"), ("status", "202")];
    assert_eq!(metrics.value("ttp_http_requests_total", &posts), Some(2.0));
    let depth = [("queue", "default"), ("state", "failed")];
    assert_eq!(metrics.value("ttp_queue_depth", &depth), Some(1.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_histograms_have_buckets_from_100_microseconds_to_60_seconds() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    let metrics = scrape_after_tasks(&app).await;
    let is_ours =
        |(name, kind): &(&String, &String)| name.starts_with("ttp_") && *kind == "histogram";
    let ours: Vec<&String> = metrics.types.iter().filter(is_ours).map(|(n, _)| n).collect();
    assert_eq!(ours.len(), 4, "{ours:?}");
    for name in ours {
        let series = metrics.buckets(name).unwrap();
        assert!(!series.is_empty(), "{name} has no series");
        for buckets in series.values() {
            let finite: Vec<f64> =
                buckets.iter().map(|b| b.0).filter(|le| le.is_finite()).collect();
            let (lowest, highest) = (finite[0], finite[finite.len() - 1]);
            assert!(lowest <= 0.0001 + 1e-12, "{name}: lowest bucket {lowest}");
            assert!(highest >= 60.0, "{name}: highest finite bucket {highest}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_metrics_do_not_add_a_series_per_client_invented_method() {
    let redis = RedisServer::start();
    let app = TestApp::spawn(&redis).await;
    for method in ["FOO1", "FOO2", "PROBE"] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app.http.request(method, app.url("/tasks")).send().await;
        assert!(response.unwrap().status().is_client_error());
    }
    let text = app.metrics_text().await;
    let metrics = Exposition::parse(&text).unwrap();
    let methods: HashSet<&str> = (metrics.samples.iter())
        .filter_map(|s| s.labels.get("method").map(String::as_str))
        .collect();
    // Label values must come from a bounded set, or any client can grow the series.
    let bounded = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"];
    let unbounded: Vec<_> = methods.iter().filter(|m| !bounded.contains(m)).collect();
    assert!(unbounded.is_empty(), "method label values {unbounded:?}");
}

#[test]
fn exposition_check_rejects_malformed_text() {
    let good = "# HELP h_seconds x\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"1\"} 1\nh_seconds_bucket{le=\"+Inf\"} 2\nh_seconds_sum 3\nh_seconds_count 2\n";
    assert!(Exposition::parse(good).is_ok());
    let bad = [
        "no_type_line 1",
        "# TYPE c counter\nc{a=\"x\"} one",
        "# TYPE c counter\n9c 1",
        "# TYPE c counter\nc{a=\"x} 1",
        "# TYPE c counter\nc{a=\"x\",a=\"y\"} 1",
        "# TYPE c counter\nc 1\nc 2",
        "# TYPE c widget",
        "# comment",
        &good.replace("le=\"1\"} 1", "le=\"1\"} 3"),
        &good.replace("+Inf", "2"),
        &good.replace("h_seconds_count 2", "h_seconds_count 5"),
    ];
    for text in bad {
        assert!(Exposition::parse(text).is_err(), "accepted: {text:?}");
    }
}
