//! Sizing logic for pg_walrus, free of any PostgreSQL dependency.
//!
//! The extension maps what it reads from PostgreSQL (checkpoint counters, the
//! interval length, its GUCs) into an [`Observation`] and [`Settings`], asks the
//! active [`SizingStrategy`] for a [`Decision`], and applies it. Everything in
//! this crate is plain Rust so it is tested with `cargo test` in seconds.

mod confidence;
mod decision;
mod limits;
mod multiplicative;
mod observation;
mod rate_limit;
mod shrink;
mod strategy;

pub use confidence::{Evidence, seed_confidence};
pub use decision::{Action, Decision};
pub use limits::{GrowOutcome, bounded_grow, saturating_size_mb};
pub use multiplicative::Multiplicative;
pub use observation::{Observation, Settings, count_quiet};
pub use rate_limit::{Blocked, RECENT_CHANGES, RateLimits, RecentChanges};
pub use shrink::shrink;
pub use strategy::{Algorithm, SizingStrategy, Strategy};
