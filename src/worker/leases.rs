//! The leases this process holds, and the heartbeat that renews them.
//!
//! A lease is renewed every third of its length, so a task keeps its lease through two
//! missed renewals (a Redis blip) before the reaper may take it back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::queue::{LeaseToken, Queue};
use crate::task::{QueueName, TaskId};

/// Per queue: the task ids this process holds, with the token of the claim that holds
/// each (a task reaped and claimed again here has a new token; only that claim's end
/// may stop the renewals).
type Held = HashMap<QueueName, HashMap<TaskId, LeaseToken>>;

/// Task ids whose leases this process holds, by queue.
#[derive(Debug, Default, Clone)]
pub struct LeaseTable {
    held: Arc<Mutex<Held>>,
}

impl LeaseTable {
    /// Records a claimed task and its claim token.
    pub fn hold(&self, id: &TaskId, token: &LeaseToken) {
        if let Ok(mut held) = self.held.lock() {
            held.entry(id.queue().clone()).or_default().insert(id.clone(), token.clone());
        }
    }

    /// Forgets a task whose outcome under claim `token` was written (or fenced off).
    pub fn drop_lease(&self, id: &TaskId, token: &LeaseToken) {
        if let Ok(mut held) = self.held.lock()
            && let Some(ids) = held.get_mut(id.queue())
            && ids.get(id) == Some(token)
        {
            ids.remove(id);
        }
    }

    fn snapshot(&self) -> Vec<(QueueName, Vec<(TaskId, LeaseToken)>)> {
        self.held
            .lock()
            .map(|held| {
                held.iter()
                    .filter(|(_, ids)| !ids.is_empty())
                    .map(|(q, ids)| {
                        (q.clone(), ids.iter().map(|(id, t)| (id.clone(), t.clone())).collect())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Renews every held lease each `lease / 3` until `stop`.
pub async fn heartbeat(
    queue: Arc<Queue>,
    table: LeaseTable,
    lease: Duration,
    stop: CancellationToken,
) {
    let period = lease / 3;
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = stop.cancelled() => return,
        }
        for (name, ids) in table.snapshot() {
            if let Err(e) = queue.renew(&name, &ids, lease).await {
                tracing::warn!(queue = %name, error = %e, "cannot renew leases; retrying next beat");
            }
        }
    }
}
