//! One maintenance pass over every maintained queue, shared by the promoter and the
//! reaper.

use std::future::Future;

use super::shared::Shared;
use crate::queue::QueueError;
use crate::task::QueueName;

/// Runs `pass` on each served queue; the earliest next time any of them reported, or the
/// last error (the other queues were still visited).
pub async fn over_queues<F, Fut>(shared: &Shared, mut pass: F) -> Result<Option<i64>, QueueError>
where
    F: FnMut(QueueName) -> Fut,
    Fut: Future<Output = Result<Option<i64>, QueueError>>,
{
    let mut earliest: Option<i64> = None;
    let mut failed = None;
    for queue in (shared.maintained)() {
        match pass(queue).await {
            Ok(Some(next)) => earliest = Some(earliest.map_or(next, |e| e.min(next))),
            Ok(None) => {}
            Err(e) => failed = Some(e),
        }
    }
    failed.map_or(Ok(earliest), Err)
}
