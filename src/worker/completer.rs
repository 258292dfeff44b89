//! Writes attempt outcomes back to Redis in batches: whatever has accumulated while the
//! previous write was in flight goes out as one script call per queue, so the write
//! cost per task falls as load rises, and a single outcome is never held back waiting.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

use super::leases::LeaseTable;
use crate::backoff::Backoff;
use crate::queue::{Queue, Settlement};
use crate::task::QueueName;

const MAX_BATCH: usize = 512;

/// Drains `outcomes` until every sender is gone. While Redis is unreachable it retries;
/// once `abandon` fires it gives up (the leases then expire and the reaper retries the
/// tasks elsewhere, so nothing is lost).
pub async fn run(
    queue: Arc<Queue>,
    leases: LeaseTable,
    mut outcomes: UnboundedReceiver<Settlement>,
    abandon: CancellationToken,
) {
    while let Some(first) = outcomes.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match outcomes.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let mut by_queue: HashMap<QueueName, Vec<Settlement>> = HashMap::new();
        for item in batch {
            by_queue.entry(item.id.queue().clone()).or_default().push(item);
        }
        for (name, items) in by_queue {
            write(&queue, &name, &items, &abandon).await;
            for item in &items {
                if let Some(token) = &item.holder.token {
                    leases.drop_lease(&item.id, token);
                }
            }
        }
    }
}

async fn write(queue: &Queue, name: &QueueName, items: &[Settlement], abandon: &CancellationToken) {
    let mut backoff = Backoff::new("write outcomes");
    loop {
        match queue.settle(name, items).await {
            Ok(applied) => {
                backoff.reset();
                let lost = applied.iter().filter(|a| !**a).count();
                if lost > 0 {
                    tracing::warn!(queue = %name, lost, "outcomes dropped: the lease was lost (another attempt owns the task)");
                }
                return;
            }
            Err(e) => {
                if !backoff.wait(abandon, &e).await {
                    tracing::error!(queue = %name, count = items.len(), "giving up on outcomes at shutdown; their leases will expire and the tasks run again");
                    return;
                }
            }
        }
    }
}
