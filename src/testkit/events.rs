//! A reader of the dashboard's stream (`GET /ui/events`) as a browser's `fetch` reads it:
//! chunks of a streamed body, split into server-sent events.

use std::time::Duration;

use serde_json::Value;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `event: snapshot`: its data.
    Snapshot(Value),
    /// `event: bye`: the reason.
    Bye(String),
}

/// An open stream.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// Opens `url` with `key` as bearer (if any); panics unless it answers 200.
    pub async fn open(http: &reqwest::Client, url: &str, key: Option<&str>) -> Self {
        let mut request = http.get(url);
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}: {:?}", response.headers());
        Self { response, buffer: String::new() }
    }

    /// The response's headers.
    pub fn headers(&self) -> &reqwest::header::HeaderMap {
        self.response.headers()
    }

    /// The next event within `within`; `None` when the stream ended.
    pub async fn next(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&block));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("no event in time")
                .expect("the stream broke")?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next snapshot within `within` (panics on a `bye` or the end).
    pub async fn snapshot(&mut self, within: Duration) -> Value {
        match self.next(within).await {
            Some(Event::Snapshot(data)) => data,
            other => panic!("expected a snapshot, got {other:?}"),
        }
    }

    /// Snapshots until one satisfies `test`, within `within`; returns it.
    pub async fn until(&mut self, within: Duration, test: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let snapshot = self.snapshot(left.max(Duration::from_millis(1))).await;
            if test(&snapshot) {
                return snapshot;
            }
            assert!(tokio::time::Instant::now() < deadline, "no such snapshot; last: {snapshot}");
        }
    }
}

fn parse(block: &str) -> Event {
    let field = |name: &str| {
        block.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim_start().to_owned())
    };
    let data = field("data:").unwrap_or_default();
    match field("event:").as_deref() {
        Some("bye") => Event::Bye(
            serde_json::from_str::<Value>(&data).unwrap()["reason"].as_str().unwrap().to_owned(),
        ),
        Some("snapshot") => Event::Snapshot(serde_json::from_str(&data).unwrap()),
        other => panic!("unexpected event {other:?}: {block}"),
    }
}

/// A queue of a snapshot by name.
pub fn queue_row<'a>(snapshot: &'a Value, name: &str) -> Option<&'a Value> {
    snapshot["queues"].as_array()?.iter().find(|q| q["name"] == name)
}
