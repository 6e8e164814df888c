//! Maps PostgreSQL's state into the strategies crate's inputs, so the worker
//! and the SQL functions ask the very same question.

use walrus_strategies::{Algorithm, Decision, Evidence, Observation, Settings, SizingStrategy, Strategy, count_quiet};

use crate::shmem::WalrusState;
use crate::stats::CheckpointCounts;
use crate::{clock, guc, server};

/// The limits in force now (walrus.* and PostgreSQL's own).
pub fn settings() -> Settings {
    Settings {
        threshold: guc::threshold(),
        max_size_mb: guc::max_size_mb(),
        shrink_enabled: guc::shrink_enabled(),
        shrink_factor: guc::shrink_factor(),
        shrink_intervals: guc::shrink_intervals(),
        min_size_mb: guc::min_size_mb(),
        min_wal_size_mb: server::min_wal_size_mb(),
        wal_segment_mb: server::wal_segment_mb(),
        checkpoint_timeout_secs: f64::from(server::checkpoint_timeout_secs()),
    }
}

/// The strategy `walrus.algorithm` selects.
pub fn active_strategy() -> Strategy {
    Algorithm::Multiplicative.strategy()
}

/// The interval from `state`'s baseline to `counts`, read at `mono_ns`, with
/// the quiet count it would leave. `None` without a baseline or when the
/// counters went backwards (a stats reset).
pub fn observe(state: &WalrusState, counts: CheckpointCounts, mono_ns: i64, settings: &Settings) -> Option<Observation> {
    if !state.has_baseline {
        return None;
    }
    let forced = counts.requested - state.baseline_requested;
    if forced < 0 {
        return None;
    }
    let interval_secs = clock::seconds_between(state.baseline_mono_ns, mono_ns);
    Some(Observation {
        current_size_mb: server::max_wal_size_mb(),
        forced_checkpoints: forced,
        interval_secs,
        quiet_intervals: count_quiet(state.quiet_intervals, forced, interval_secs, settings),
    })
}

/// A recommendation made outside the worker's cycle (recommendation(),
/// analyze()): the interval so far, judged by the active strategy.
pub struct Recommendation {
    pub decision: Decision,
    pub confidence: u8,
    pub strategy: &'static str,
    /// Requested checkpoints since the baseline (0 without one).
    pub forced_checkpoints: i64,
}

pub fn recommend(state: &WalrusState, counts: CheckpointCounts) -> Recommendation {
    let settings = settings();
    let strategy = active_strategy();
    let observation = observe(state, counts, clock::monotonic_ns(), &settings);
    let evidence = Evidence {
        has_baseline: state.has_baseline,
        requested_since_baseline: observation.as_ref().map_or(0, |o| o.forced_checkpoints),
        quiet_intervals: state.quiet_intervals,
    };
    let decision = match &observation {
        Some(observation) => strategy.decide(observation, &settings),
        None => Decision::keep(
            server::max_wal_size_mb(),
            if state.has_baseline {
                "checkpoint statistics were reset since the last cycle; waiting for a new baseline"
            } else {
                "no baseline yet: the pg_walrus worker has not completed its first cycle"
            },
            serde_json::json!({}),
        ),
    };
    Recommendation {
        decision,
        confidence: strategy.confidence(&evidence),
        strategy: strategy.name(),
        forced_checkpoints: evidence.requested_since_baseline,
    }
}

pub fn active_strategy_name() -> &'static str {
    active_strategy().name()
}
