//! What a scheduler keeps between passes: the deployment's schedule index (re-read only
//! when its version moves) and each schedule's parsed spec, keyed by the sha of the stored
//! text so that a changed spec is parsed again and an unchanged one never.

use std::collections::HashMap;

use crate::queue::{Queue, QueueError};
use crate::schedule::{Schedule, ScheduleSpec};
use crate::task::QueueName;

/// The index and parsed specs a scheduler knows.
#[derive(Default)]
pub struct Schedules {
    version: Option<u64>,
    queues: Vec<QueueName>,
    parsed: HashMap<(QueueName, String), (String, Option<Schedule>)>,
}

impl Schedules {
    /// The queues that hold schedules (the index is re-read when its version moved).
    pub async fn queues(&mut self, queue: &Queue) -> Result<Vec<QueueName>, QueueError> {
        let version = queue.schedule_index_version().await?;
        if self.version != Some(version) {
            let (version, entries) = queue.schedule_index().await?;
            let mut queues: Vec<QueueName> = entries.into_iter().map(|(_, q)| q).collect();
            queues.sort();
            queues.dedup();
            self.parsed.retain(|(q, _), _| queues.contains(q));
            (self.version, self.queues) = (Some(version), queues);
        }
        Ok(self.queues.clone())
    }

    /// The parsed schedule `name` of `queue` whose stored spec has `sha`, reading and
    /// parsing it when unknown; `None` when it is gone or unreadable (logged).
    pub async fn get(
        &mut self,
        queue: &Queue,
        on: &QueueName,
        name: &str,
        sha: &str,
    ) -> Result<Option<Schedule>, QueueError> {
        let key = (on.clone(), name.to_owned());
        if let Some((known, parsed)) = self.parsed.get(&key)
            && known == sha
        {
            return Ok(parsed.clone());
        }
        let stored = queue.schedule_specs(on, &[name]).await?.pop().flatten();
        let Some((sha, text)) = stored else { return Ok(None) };
        let parsed = ScheduleSpec::from_json(&text).and_then(|spec| Schedule::new(spec).ok());
        if parsed.is_none() {
            tracing::error!(schedule = name, queue = %on, "stored schedule spec is unreadable; it does not fire");
        }
        self.parsed.insert(key, (sha, parsed.clone()));
        Ok(parsed)
    }
}
