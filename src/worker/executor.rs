//! Runs one claimed task: the handler under the task's timeout, then the outcome to the
//! completer. The per-attempt timeout drops the handler's future, so an async handler
//! really stops; a hard stop at the end of the shutdown grace does the same and hands
//! the lease back.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use super::shared::Shared;
use crate::kinds::TaskContext;
use crate::metrics::{AttemptEnd, Outcome};
use crate::queue::{Action, ClaimedTask, Settlement};
use crate::task::{Next, TaskError, now_ms};

/// How an attempt ended, before it is turned into a queue action.
enum Ended {
    Returned(Result<Value, TaskError>),
    TimedOut(u64),
    Interrupted,
}

/// Runs `task` and queues its outcome; holds `permit` (a concurrency slot) throughout.
pub async fn execute(shared: Arc<Shared>, task: ClaimedTask, permit: OwnedSemaphorePermit) {
    let queue_label = task.id.queue().to_string();
    shared.metrics.workers_busy.inc();
    shared.leases.hold(&task.id, &task.token);
    let waited_ms = (task.started_at_ms - task.ready_at_ms).max(0);
    shared
        .metrics
        .queue_wait_seconds
        .with_label_values(&[&queue_label])
        .observe(waited_ms as f64 / 1000.0);

    let started = Instant::now();
    let ended = run_handler(&shared, &task).await;
    shared
        .metrics
        .run_seconds
        .with_label_values(&[&queue_label, &task.kind])
        .observe(started.elapsed().as_secs_f64());

    let timed_out = matches!(ended, Ended::TimedOut(_));
    let action = decide(&shared, &task, ended);
    record_outcome(&shared, &task, &action, timed_out);
    let settlement =
        Settlement { holder: task.holder(), id: task.id, lease_expired: false, action };
    if shared.outcomes.send(settlement).is_err() {
        tracing::error!("completer stopped before an outcome was written; the lease will expire");
    }
    shared.metrics.workers_busy.dec();
    drop(permit);
}

async fn run_handler(shared: &Shared, task: &ClaimedTask) -> Ended {
    let Some(handler) = shared.registry.get(&task.kind) else {
        return Ended::Returned(Err(TaskError::permanent(format!(
            "no handler for kind {:?} in this worker process",
            task.kind
        ))));
    };
    let context = TaskContext {
        id: task.id.clone(),
        kind: task.kind.clone(),
        payload: task.payload.clone(),
        attempt: task.attempt,
        max_attempts: task.max_attempts,
    };
    let limit = Duration::from_millis(task.timeout_ms);
    // A panicking handler must still end its attempt, or its lease would be renewed for
    // as long as the process lives: the panic becomes a retryable error.
    let attempt = AssertUnwindSafe(handler.run(&context)).catch_unwind();
    tokio::select! {
        result = tokio::time::timeout(limit, attempt) => match result {
            Ok(Ok(returned)) => Ended::Returned(returned),
            Ok(Err(panic)) => Ended::Returned(Err(TaskError::retryable(panic_message(&*panic)))),
            Err(_) => Ended::TimedOut(task.timeout_ms),
        },
        () = shared.hard_stop.cancelled() => Ended::Interrupted,
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    format!("handler panicked: {text}")
}

fn decide(shared: &Shared, task: &ClaimedTask, ended: Ended) -> Action {
    let error = match ended {
        Ended::Returned(Ok(value)) => return Action::Succeed(value),
        Ended::Interrupted => return Action::Release,
        Ended::TimedOut(ms) => {
            TaskError::retryable(format!("attempt {} timed out after {ms} ms", task.attempt))
        }
        Ended::Returned(Err(error)) => error,
    };
    let retry = shared.settings.retry;
    match retry.after(task.attempt, task.max_attempts, error.retry(), now_ms()) {
        Next::Retry { due_ms } => Action::Retry { due_ms, error: error.to_string() },
        Next::Fail => Action::Fail(error.to_string()),
    }
}

/// Reports the attempt to the metrics (a hand-back ends nothing and is not counted).
fn record_outcome(shared: &Shared, task: &ClaimedTask, action: &Action, timed_out: bool) {
    let outcome = match action {
        Action::Succeed(_) => Outcome::Succeeded,
        Action::Fail(_) => Outcome::Failed,
        Action::Retry { .. } => Outcome::Retried,
        Action::Release | Action::Forget => return,
    };
    shared.metrics.attempt_ended(AttemptEnd {
        queue: task.id.queue().as_str(),
        kind: &task.kind,
        outcome,
        timed_out,
        created_at_ms: task.created_at_ms,
    });
}
