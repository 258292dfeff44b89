//! Scopes and the caller a request acts for.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::task::QueueName;

/// What a route does, as keys grant it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Submit tasks (`POST /tasks`, batches).
    Submit,
    /// Read tasks, queues, dead letters, kinds, schedules, the dashboard's stream.
    Read,
    /// The lease API of external workers.
    Work,
    /// Pause and resume, retry, cancel and delete, declare kinds and schedules.
    Admin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 4] = [Scope::Submit, Scope::Read, Scope::Work, Scope::Admin];

    /// The name keys use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Submit => "submit",
            Self::Read => "read",
            Self::Work => "work",
            Self::Admin => "admin",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Scope {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| format!("unknown scope {text:?}; scopes are submit, read, work, admin"))
    }
}

/// The queues a key may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueAccess {
    /// Every queue (`"*"`).
    All,
    /// These queues.
    Only(BTreeSet<QueueName>),
}

impl QueueAccess {
    /// Whether `queue` is one of them.
    pub fn allows(&self, queue: &QueueName) -> bool {
        match self {
            Self::All => true,
            Self::Only(queues) => queues.contains(queue),
        }
    }
}

/// The caller of one request: an API key's id, scopes and queues, or anyone when the
/// API is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The key's id (logged and used as the rate-limit label), or `None` when the API is
    /// open.
    pub key_id: Option<Arc<str>>,
    /// The scopes it holds.
    pub scopes: BTreeSet<Scope>,
    /// The queues it may touch.
    pub queues: QueueAccess,
}

impl Principal {
    /// Anyone, on an API without keys: every scope, every queue.
    pub fn open() -> Self {
        Self { key_id: None, scopes: Scope::ALL.into_iter().collect(), queues: QueueAccess::All }
    }

    /// Whether it holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether it may touch `queue`.
    pub fn may_touch(&self, queue: &QueueName) -> bool {
        self.queues.allows(queue)
    }

    /// Its key id, or `-` when the API is open.
    pub fn label(&self) -> &str {
        self.key_id.as_deref().unwrap_or("-")
    }
}
