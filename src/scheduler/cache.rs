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

    /// The parsed schedules of `wanted` (name, sha of the stored spec) in `on`, in order:
    /// those not known at that sha are read in one pipelined round trip and parsed. `None`
    /// for one that is gone or unreadable (logged).
    pub async fn get_many(
        &mut self,
        queue: &Queue,
        on: &QueueName,
        wanted: &[(&str, &str)],
    ) -> Result<Vec<Option<Schedule>>, QueueError> {
        let known = |(name, sha): &(&str, &str)| {
            let cached = self.parsed.get(&(on.clone(), (*name).to_owned()));
            cached.is_some_and(|(at, _)| at == sha)
        };
        let missing: Vec<&str> =
            wanted.iter().filter(|w| !known(w)).map(|(name, _)| *name).collect();
        if !missing.is_empty() {
            let stored = queue.schedule_specs(on, &missing).await?;
            for (name, stored) in missing.iter().zip(stored) {
                let Some((sha, text)) = stored else { continue };
                let parsed = ScheduleSpec::from_json(&text).and_then(|s| Schedule::new(s).ok());
                if parsed.is_none() {
                    tracing::error!(schedule = name, queue = %on, "stored schedule spec is unreadable; it does not fire");
                }
                self.parsed.insert((on.clone(), (*name).to_owned()), (sha, parsed));
            }
        }
        Ok(wanted
            .iter()
            .map(|(name, _)| {
                self.parsed.get(&(on.clone(), (*name).to_owned())).and_then(|(_, p)| p.clone())
            })
            .collect())
    }
}
