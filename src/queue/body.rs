//! A task's body: everything about a task that never changes after it is stored, packed
//! into one field of its hash (`b`) and written once.
//!
//! Nine fields written one by one cost a submission nine hash entries (and a settle read
//! of several); one packed field costs one. The text is
//! `<priority> <max attempts> <timeout ms> <result ttl s> <created ms> <kind> <payload>`:
//! numbers and the kind never hold a space, and the payload (JSON text, which may) comes
//! last, so the first six spaces split it. The scripts read three things out of it — the
//! priority (the first character: 0 to 9), the result TTL (the fourth number) and the
//! creation time (the fifth) — with the prelude's `body_priority`, `body_ttl` and
//! `body_created`; a test below holds them to this encoding.

use crate::task::{NewTask, Payload, Priority};

/// The immutable part of a task.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// Its priority.
    pub priority: Priority,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Per-attempt timeout.
    pub timeout_ms: u64,
    /// Retention after it finishes.
    pub result_ttl_s: u64,
    /// Submission time, ms since the epoch.
    pub created_at_ms: i64,
    /// Its kind.
    pub kind: String,
    /// Its payload (JSON text).
    pub payload: String,
}

impl Body {
    /// The body of a new task.
    pub fn new(task: &NewTask) -> Self {
        Self {
            priority: task.priority,
            max_attempts: task.max_attempts,
            timeout_ms: task.timeout_ms,
            result_ttl_s: task.result_ttl_s,
            created_at_ms: task.created_at_ms,
            kind: task.kind.as_str().to_owned(),
            payload: task.payload.as_str().to_owned(),
        }
    }

    /// The stored text of a new task's body.
    pub fn of(task: &NewTask) -> String {
        Self::new(task).text()
    }

    /// Decodes a stored body; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let mut parts = text.splitn(7, ' ');
        let mut number = || parts.next().and_then(|p| p.parse::<i64>().ok());
        let priority = Priority::new(number()?).ok()?;
        let max_attempts = u32::try_from(number()?).ok()?;
        let timeout_ms = u64::try_from(number()?).ok()?;
        let result_ttl_s = u64::try_from(number()?).ok()?;
        let created_at_ms = number()?;
        let kind = parts.next().filter(|k| !k.is_empty())?.to_owned();
        let payload = parts.next()?.to_owned();
        Some(Self {
            priority,
            max_attempts,
            timeout_ms,
            result_ttl_s,
            created_at_ms,
            kind,
            payload,
        })
    }

    /// The payload as stored (valid JSON: ttp wrote it).
    pub fn payload(&self) -> Option<Payload> {
        Payload::from_stored(self.payload.clone())
    }
}

impl Body {
    /// The stored text (the only place that writes the format).
    pub fn text(&self) -> String {
        let (head, tail) = self.template();
        format!("{head} {} {tail}", self.created_at_ms)
    }

    /// The text before and after the creation time: a schedule's template, joined with
    /// its tasks' creation time by the script that fires them (`schedule_body` in
    /// `schedule_lib.lua` joins `head`, the time and `tail` with spaces).
    pub fn template(&self) -> (String, String) {
        let head = format!(
            "{} {} {} {}",
            self.priority.get(),
            self.max_attempts,
            self.timeout_ms,
            self.result_ttl_s
        );
        (head, format!("{} {}", self.kind, self.payload))
    }
}

/// A schedule's task template: its tasks' body around their creation time.
pub fn template(task: &NewTask) -> (String, String) {
    Body::new(task).template()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        Body {
            priority: Priority::new(7).unwrap(),
            max_attempts: 3,
            timeout_ms: 30_000,
            result_ttl_s: 86_400,
            created_at_ms: 1_764_590_000_000,
            kind: "echo".into(),
            payload: r#"{"a b":[1, 2]}"#.into(),
        }
        .text()
    }

    #[test]
    fn a_body_decodes_to_what_was_encoded_spaces_in_the_payload_included() {
        let body = Body::decode(&sample()).unwrap();
        assert_eq!(body.priority.get(), 7);
        assert_eq!((body.max_attempts, body.timeout_ms, body.result_ttl_s), (3, 30_000, 86_400));
        assert_eq!(body.created_at_ms, 1_764_590_000_000);
        assert_eq!(body.kind, "echo");
        assert_eq!(body.payload, r#"{"a b":[1, 2]}"#);
    }

    #[test]
    fn a_template_around_a_creation_time_is_the_body_of_that_task() {
        use crate::task::{NewTask, TaskDefaults, TaskRequest};
        let defaults = TaskDefaults { max_attempts: 3, timeout_ms: 30_000, result_ttl_s: 60 };
        let payload = Payload::from_stored(r#"{"x": "a b"}"#.into());
        let request = TaskRequest { kind: "echo".into(), payload, ..TaskRequest::default() };
        let task = NewTask::from_request(request, defaults, 1_764_590_000_123).unwrap();
        let (head, tail) = template(&task);
        assert_eq!(format!("{head} {} {tail}", task.created_at_ms), Body::of(&task));
        let lib = include_str!("lua/schedule_lib.lua");
        assert!(lib.contains("t[1] .. ' ' .. created .. ' ' .. t[2]"));
        assert!(lib.contains("now_s = string.format('%d', now)"));
    }

    #[test]
    fn malformed_bodies_are_refused() {
        for text in
            ["", "7 3 30000 86400 1764590000000 echo", "x 3 1 1 1 echo null", "12 3 1 1 1 e n"]
        {
            assert_eq!(Body::decode(text), None, "{text:?}");
        }
    }

    /// The prelude's readers of a body look where the encoding puts what they read (the
    /// integration tests run them: promotion keeps priorities, a cancel keeps the TTL).
    #[test]
    fn the_scripts_read_priority_and_ttl_where_the_encoding_puts_them() {
        let prelude = include_str!("lua/prelude.lua");
        assert!(prelude.contains("string.sub(body, 1, 1)"), "priority is the first character");
        assert!(prelude.contains("'^%d+ %d+ %d+ (%d+) '"), "ttl is the fourth number");
        assert!(prelude.contains("'^%d+ %d+ %d+ %d+ (%-?%d+) '"), "creation is the fifth");
        let text = sample();
        assert_eq!(&text[..1], "7");
        assert_eq!(text.split(' ').nth(3), Some("86400"));
        assert_eq!(text.split(' ').nth(4), Some("1764590000000"));
    }
}
