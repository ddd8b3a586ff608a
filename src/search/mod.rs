//! Finding and tracing, for officials (DESIGN §5 "Daily use"): search across talents,
//! cards and merchants, the trace of one redemption from the counter to its payout and
//! audit entries, and the counts of what waits for the official who is signed in.
//!
//! This module only reads the other domains (and audits the searches that touch
//! personal data through [`crate::talents::lookup`]); nothing else depends on it, so it
//! adds no import cycle.

pub mod find;
pub mod routes;
pub mod todo;
pub mod trace;
