//! The deployment's index of schedule names (name → queue) under `{:global}`.

use super::super::{Queue, QueueError};
use crate::task::QueueName;

/// What holding a name in the index gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameClaim {
    /// The name was free and is now held for the queue.
    New,
    /// The name was held for this queue already.
    Held,
    /// The name is held for another queue.
    Elsewhere(QueueName),
    /// The deployment already holds as many schedules as it may (10,000: the API's
    /// `MAX_SCHEDULES`).
    Full,
}

impl Queue {
    /// Holds `name` for `queue` in the index (the first step of a PUT), within `max`.
    pub async fn claim_schedule_name(
        &self,
        name: &str,
        queue: &QueueName,
        max: u64,
    ) -> Result<NameClaim, QueueError> {
        let mut call = self.scripts.schedule.claim.prepare_invoke();
        call.key(self.keys.schedule_index())
            .key(self.keys.schedule_index_version())
            .arg(name)
            .arg(queue.as_str())
            .arg(max);
        let call = &call;
        let (code, held): (i64, String) =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(match code {
            0 => NameClaim::Full,
            1 => NameClaim::New,
            2 => NameClaim::Held,
            _ => NameClaim::Elsewhere(
                QueueName::parse(&held).map_err(|e| QueueError::Corrupt(e.to_string()))?,
            ),
        })
    }

    /// Releases `name` if it is held for `queue` (the last step of a DELETE); true when
    /// released.
    pub async fn forget_schedule_name(
        &self,
        name: &str,
        queue: &QueueName,
    ) -> Result<bool, QueueError> {
        let mut call = self.scripts.schedule.forget.prepare_invoke();
        call.key(self.keys.schedule_index())
            .key(self.keys.schedule_index_version())
            .arg(name)
            .arg(queue.as_str());
        let call = &call;
        let released: i64 =
            self.redis.call(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(released == 1)
    }

    /// The queue `name` is held for, if any.
    pub async fn schedule_queue(&self, name: &str) -> Result<Option<QueueName>, QueueError> {
        let key = self.keys.schedule_index();
        let queue: Option<String> =
            self.redis
                .read(|mut c| async move {
                    redis::cmd("HGET").arg(key).arg(name).query_async(&mut c).await
                })
                .await?;
        Ok(queue.and_then(|q| QueueName::parse(&q).ok()))
    }

    /// The index's version (moved by every change).
    pub async fn schedule_index_version(&self) -> Result<u64, QueueError> {
        let key = self.keys.schedule_index_version();
        let version: Option<u64> = self
            .redis
            .read(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await })
            .await?;
        Ok(version.unwrap_or(0))
    }

    /// The whole index (name → queue) and the version it was read at.
    pub async fn schedule_index(&self) -> Result<(u64, Vec<(String, QueueName)>), QueueError> {
        let (index, version) = (self.keys.schedule_index(), self.keys.schedule_index_version());
        let (all, version): (Vec<(String, String)>, Option<u64>) = self
            .redis
            .read(|mut c| async move {
                redis::pipe()
                    .cmd("HGETALL")
                    .arg(index)
                    .cmd("GET")
                    .arg(version)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        let entries = all
            .into_iter()
            .filter_map(|(name, q)| Some((name, QueueName::parse(&q).ok()?)))
            .collect();
        Ok((version.unwrap_or(0), entries))
    }
}
