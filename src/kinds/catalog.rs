//! Every kind a process knows: the embedded ones (compiled in, from the registry) and the
//! external ones (declared over HTTP, stored in Redis, refreshed here whenever their
//! version moves). Submissions look kinds up here; so do `GET /kinds` and the
//! maintenance of external queues.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::{ExternalKind, Handler, HandlerRegistry};
use crate::task::QueueName;

/// What a kind name stands for.
#[derive(Clone)]
pub enum KindRef {
    /// Compiled into this process.
    Embedded(Arc<dyn Handler>),
    /// Declared over HTTP; run by external workers.
    External(ExternalKind),
}

/// The external kinds at one version of their Redis record.
#[derive(Debug, Default)]
struct Externals {
    version: Option<u64>,
    kinds: BTreeMap<String, ExternalKind>,
}

/// The kinds of one process.
#[derive(Debug)]
pub struct Catalog {
    embedded: HandlerRegistry,
    external: RwLock<Arc<Externals>>,
}

impl Catalog {
    /// A catalog of `embedded` kinds and, until the first refresh, no external ones.
    pub fn new(embedded: HandlerRegistry) -> Self {
        Self { embedded, external: RwLock::new(Arc::default()) }
    }

    /// The embedded kinds.
    pub fn embedded(&self) -> &HandlerRegistry {
        &self.embedded
    }

    /// The kind `name`, embedded first.
    pub fn lookup(&self, name: &str) -> Option<KindRef> {
        if let Some(handler) = self.embedded.get(name) {
            return Some(KindRef::Embedded(handler));
        }
        self.snapshot().kinds.get(name).cloned().map(KindRef::External)
    }

    /// Every external kind, by name.
    pub fn externals(&self) -> Vec<ExternalKind> {
        self.snapshot().kinds.values().cloned().collect()
    }

    /// The queues of the external kinds (the ones external workers serve).
    pub fn external_queues(&self) -> Vec<QueueName> {
        let mut queues: Vec<QueueName> =
            self.snapshot().kinds.values().map(|k| k.queue.clone()).collect();
        queues.sort();
        queues.dedup();
        queues
    }

    /// Every kind name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.embedded.kinds().into_iter().map(str::to_owned).collect();
        names.extend(self.snapshot().kinds.keys().cloned());
        names.sort();
        names.dedup();
        names
    }

    /// The version of the external kinds held (`None` before the first refresh).
    pub fn version(&self) -> Option<u64> {
        self.snapshot().version
    }

    /// Replaces the external kinds with `kinds`, read at `version`.
    pub fn replace_externals(&self, version: u64, kinds: Vec<ExternalKind>) {
        let kinds = kinds.into_iter().map(|k| (k.name.as_str().to_owned(), k)).collect();
        if let Ok(mut held) = self.external.write() {
            *held = Arc::new(Externals { version: Some(version), kinds });
        }
    }

    fn snapshot(&self) -> Arc<Externals> {
        self.external.read().map(|e| e.clone()).unwrap_or_default()
    }
}
