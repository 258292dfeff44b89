//! The deployment's set of queues: every queue that has received a task, bounded by
//! `TTP_MAX_QUEUES` so that names invented by clients cannot grow Redis, `/metrics` and
//! `GET /queues` without end, and forgotten again once empty and unused.
//!
//! Each process remembers for a minute which queues it registered, so a submission costs
//! no extra call; after that it checks again, which also re-registers a queue another
//! process forgot in the meantime.

use std::time::Duration;

use tokio::time::Instant;

use super::{Queue, QueueError, QueueStats};
use crate::task::QueueName;

/// How long a process trusts that a queue it registered is still registered.
const REMEMBER: Duration = Duration::from_secs(60);

impl Queue {
    /// Makes sure `queue` is registered, answering by `deadline`; `TooManyQueues` when
    /// it is new and the deployment holds `TTP_MAX_QUEUES` already.
    pub(super) async fn register(
        &self,
        queue: &QueueName,
        deadline: Instant,
    ) -> Result<(), QueueError> {
        let fresh = |at: &Instant| at.elapsed() < REMEMBER;
        let known = self.registered.lock().ok().and_then(|m| m.get(queue).copied());
        if known.as_ref().is_some_and(fresh) {
            return Ok(());
        }
        let mut call = self.scripts.register.prepare_invoke();
        call.key(self.keys.queues()).arg(queue.as_str()).arg(self.limits.max_queues);
        let call = &call;
        let registered: i64 = self
            .redis
            .call_until(deadline, |mut c| async move { call.invoke_async(&mut c).await })
            .await
            .map_err(|e| match e {
                // Registering stores no task: a lost reply still means "not stored".
                QueueError::Timeout(_) | QueueError::Lost(_) => {
                    QueueError::Unavailable(e.to_string())
                }
                other => other,
            })?;
        if registered == 0 {
            return Err(QueueError::TooManyQueues { limit: self.limits.max_queues });
        }
        if let Ok(mut map) = self.registered.lock() {
            map.insert(queue.clone(), Instant::now());
        }
        Ok(())
    }

    /// Registers `queue` (a kind's queue, declared before any task exists), within
    /// `TTP_MAX_QUEUES`.
    pub async fn register_queue(&self, queue: &QueueName) -> Result<(), QueueError> {
        self.register(queue, self.redis.deadline()).await
    }

    /// Every registered queue, sorted.
    pub async fn known_queues(&self) -> Result<Vec<QueueName>, QueueError> {
        let key = self.keys.queues();
        let names: Vec<String> = self
            .redis
            .read(|mut c| async move { redis::cmd("SMEMBERS").arg(key).query_async(&mut c).await })
            .await?;
        let mut queues: Vec<QueueName> =
            names.iter().filter_map(|n| QueueName::parse(n).ok()).collect();
        queues.sort();
        Ok(queues)
    }

    /// Forgets `queue` if it is still empty (nothing waiting, running or dead, not
    /// paused) and unused since `seq` (its sequence counter, which every submission
    /// moves); true when forgotten. A submission racing the forgetting re-registers it
    /// within a minute at the latest.
    pub async fn forget_if_idle(&self, queue: &QueueName, seq: u64) -> Result<bool, QueueError> {
        let (stats, now_seq) = self.activity(queue).await?;
        if stats != QueueStats::default() || now_seq != seq {
            return Ok(false);
        }
        let (key, name) = (self.keys.queues(), queue.to_string());
        self.redis
            .call(|mut c| async move {
                redis::cmd("SREM").arg(key).arg(name).query_async::<()>(&mut c).await
            })
            .await?;
        if let Ok(mut map) = self.registered.lock() {
            map.remove(queue);
        }
        Ok(true)
    }
}
