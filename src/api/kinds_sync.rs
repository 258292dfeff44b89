//! Keeps every process's view of the external kinds current: one cheap read of the
//! kinds' version each second, and a full read only when it moved (and at once after a
//! change made here).

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::kinds::{Catalog, ExternalKind, KindSpec};
use crate::queue::Queue;
use crate::task::Kind;

/// How often a process looks for changes.
const EVERY: Duration = Duration::from_secs(1);

/// Refreshes `catalog` each second until `stop`.
pub async fn run(queue: Arc<Queue>, catalog: Arc<Catalog>, stop: CancellationToken) {
    loop {
        refresh(&queue, &catalog).await;
        tokio::select! {
            () = tokio::time::sleep(EVERY) => {}
            () = stop.cancelled() => return,
        }
    }
}

/// Re-reads the external kinds if their version moved; a failed read keeps what is
/// held (and is retried in a second).
pub async fn refresh(queue: &Queue, catalog: &Catalog) {
    let Ok(version) = queue.kinds_version().await else { return };
    if catalog.version() == Some(version) {
        return;
    }
    let Ok((version, declared)) = queue.external_kinds().await else { return };
    let kinds = declared.into_iter().filter_map(|(name, json)| parse(&name, &json)).collect();
    catalog.replace_externals(version, kinds);
}

fn parse(name: &str, json: &str) -> Option<ExternalKind> {
    let parsed = Kind::parse(name).map_err(|e| e.to_string()).and_then(|kind| {
        let spec: KindSpec = serde_json::from_str(json).map_err(|e| e.to_string())?;
        ExternalKind::new(kind, spec).map_err(|e| e.to_string())
    });
    match parsed {
        Ok(kind) => Some(kind),
        Err(e) => {
            tracing::warn!(kind = name, error = %e, "ignoring an external kind declaration ttp cannot use");
            None
        }
    }
}
