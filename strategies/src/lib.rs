//! pg_walrus's rules: every decision the extension makes, free of any
//! PostgreSQL dependency and tested with `cargo test` in seconds. The crate
//! is named for its first tenant, the sizing strategies; it holds every
//! feature's rules, each in a folder named as the extension's side of it:
//! `sizing` (the strategies and the limits they share), [`evidence`] (what
//! an interval is judged from), [`early`] reaction, the [`disk`] guard,
//! [`standby`] mirroring, [`patroni`], time-of-day [`profiles`], and
//! `route` (rate limits and who may change what), with the [`simulator`]
//! that runs them over synthetic traces.
//!
//! The extension maps what it reads from PostgreSQL (checkpoint counters, WAL
//! positions, the interval length, its GUCs) into a [`RawInterval`] and
//! [`Settings`], turns them into an [`Observation`] ([`evidence::observe`]),
//! records the interval in every strategy's [`StrategyState`]
//! ([`observe_all`]), asks the active [`SizingStrategy`] for a [`Decision`],
//! and applies it within the [`RateLimits`]. The simulator runs the very same
//! pipeline.
//!
//! One module does I/O: `patroni::http`, the REST client that sends a size
//! to Patroni (std sockets, one deadline per request); everything else is
//! pure.
mod decision;
pub mod disk;
pub mod early;
pub mod evidence;
pub mod patroni;
pub mod profiles;
mod route;
pub mod simulator;
mod sizing;
pub mod standby;
mod strategy;
mod units;

// After `strategy`, on purpose: enum_dispatch writes the trait's impl for
// the enum where it meets the second of the two, so it lands in `compiled`,
// which can name both, and `strategy` never has to name the enum.
mod compiled;

pub use compiled::{Strategy, observe_all};
pub use decision::{Action, Decision};
pub use evidence::RawInterval;
pub use evidence::confidence::{Evidence, counter_confidence};
pub use evidence::full_pages::{FullPageEvidence, SteadyWal};
pub use evidence::observation::{Observation, Settings, count_quiet};
pub use evidence::state::{IntervalSample, StrategyState};
pub use route::rate_limit::{Blocked, RECENT_CHANGES, RateLimits, RecentChanges};
pub use route::{ApplyVia, ChangeKind, RateVerdict, Route, Urgency, Withheld, rate_verdict, route};
#[cfg(feature = "adaptive")]
pub use sizing::adaptive::Adaptive;
#[cfg(feature = "additive")]
pub use sizing::additive::Additive;
#[cfg(feature = "example-strategy")]
pub use sizing::example::Doubling;
pub use sizing::limits::{GrowOutcome, bounded_grow, saturating_size_mb};
pub use sizing::multiplicative::Multiplicative;
#[cfg(feature = "percentile")]
pub use sizing::percentile::Percentile;
pub use sizing::shrink::{recent_wal_need_mb, shrink};
pub use strategy::SizingStrategy;
