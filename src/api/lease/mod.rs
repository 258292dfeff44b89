//! The lease API (SPEC §9): workers in any language take tasks over HTTP and hand back
//! their outcomes, with the guarantees embedded workers have — the same Lua transitions
//! (claim, renew, settle), so retries with backoff, dead letters, timeouts, cancel, pause,
//! reaping and metrics behave the same.
//!
//! A claim long-polls up to `wait_ms` and answers as soon as a task is ready: it waits on
//! the queue's wake-ups through one shared waiter per queue and process (`waiters.rs`),
//! never a blocking Redis connection per request. A claim whose reply was lost is sent
//! again with the same `claim_id` and answers the same tasks, so it costs no attempt.
//! Every later call carries the claim's lease token (128 random bits), which fences it: a
//! stale or wrong token is a 409 and changes nothing.

pub mod actions;
mod bounds;
pub mod claim;
pub mod waiters;
