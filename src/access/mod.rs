//! Who may do what: API keys with scopes and queues, and per-key rate limits (SPEC §13).
//!
//! A key is an id, the SHA-256 of its secret (the secret itself is never stored), the
//! scopes it grants — `submit`, `read`, `work`, `admin`, independent of each other — and
//! the queues it may touch (names, or `*`). Every request's route maps to one scope; a
//! request without a valid key is a 401, one whose key lacks the scope or the queue a
//! 403 naming what is missing. Keys come from `TTP_API_KEYS_FILE` (TOML, re-read on
//! SIGHUP) and `TTP_API_KEYS` (full-access keys for simple setups). With no keys at all the
//! API is open, and rate limits apply per client IP instead of per key.

mod keyring;
mod limits;
mod new_key;
mod scope;

pub use keyring::{KeyRing, KeyRingError};
pub use limits::RateLimits;
pub use new_key::new_key;
pub use scope::{Principal, QueueAccess, Scope};
