//! Maps PostgreSQL's state into the strategies crate's inputs, so the worker
//! and the SQL functions ask the very same question.

pub mod data_size;

use pgrx::pg_sys;
use walrus_strategies::evidence::{self, RawInterval};
use walrus_strategies::profiles::Profile;
use walrus_strategies::{
    Decision, Evidence, FullPageEvidence, Observation, Settings, SizingStrategy, Strategy, StrategyState,
};

use crate::pg::stats::Reading;
use crate::shmem::WalrusState;
use crate::{disk, guc, pg::clock, pg::server, shmem};

/// What is in force at one moment: the time-of-day profile (first match
/// wins), the settings with its overrides, and the algorithm. Taken once per
/// cycle or call, so a cycle that straddles an hour boundary cannot mix two
/// profiles (one's thresholds with the next one's algorithm).
#[derive(Debug, Clone)]
pub struct Regime {
    pub profile: Option<Profile>,
    pub settings: Settings,
    /// The active profile's algorithm, else `walrus.algorithm`.
    pub algorithm: Strategy,
}

impl Regime {
    pub fn now() -> Regime {
        let profile = active_profile();
        let base = configured_settings();
        let settings = match &profile {
            Some(profile) => profile.apply(&base),
            None => base,
        };
        let algorithm = profile
            .as_ref()
            .and_then(Profile::algorithm)
            .unwrap_or_else(guc::algorithm);
        Regime {
            profile,
            settings,
            algorithm,
        }
    }

    pub fn profile_name(&self) -> Option<&str> {
        self.profile.as_ref().map(|p| p.name.as_str())
    }

    /// `algorithm`'s decision on `observation`, naming the profile in its
    /// metadata (history shows which profile a decision was made under).
    pub fn decide(&self, algorithm: Strategy, observation: &Observation, strategies: &StrategyState) -> Decision {
        let mut decision = algorithm.decide_bounded(observation, &self.settings, strategies);
        if let (Some(name), serde_json::Value::Object(metadata)) = (self.profile_name(), &mut decision.metadata) {
            metadata.insert("profile".into(), serde_json::json!(name));
        }
        decision
    }
}

fn active_profile() -> Option<Profile> {
    let profiles = guc::profiles();
    if profiles.is_empty() {
        return None;
    }
    let (weekday, hour) = clock::local_weekday_hour();
    walrus_strategies::profiles::active(&profiles, weekday, hour).cloned()
}

fn configured_settings() -> Settings {
    Settings {
        threshold: guc::threshold(),
        max_size_mb: guc::max_size_mb(),
        shrink_enabled: guc::shrink_enabled(),
        shrink_factor: guc::shrink_factor(),
        shrink_intervals: guc::shrink_intervals(),
        min_size_mb: guc::min_size_mb(),
        additive_increment_mb: guc::additive_increment_mb(),
        ema_alpha: guc::ema_alpha(),
        target_percentile: guc::target_percentile(),
        disk: disk::limit(&shmem::snapshot()),
        ..server_settings()
    }
}

/// PostgreSQL's own settings that a decision reads (what makes a
/// checkpoint's distance and an interval's length), and defaults for the
/// rest: no walrus.* setting, no shared state, no profile. Early reaction's
/// glances read these alone, four times a second in a storm.
pub fn server_settings() -> Settings {
    Settings {
        min_wal_size_mb: server::min_wal_size_mb(),
        wal_segment_mb: server::wal_segment_mb(),
        checkpoint_timeout_secs: f64::from(server::checkpoint_timeout_secs()),
        checkpoint_completion_target: server::checkpoint_completion_target(),
        ..Settings::default()
    }
}

/// The interval from `state`'s baseline to `reading`, judged with the WAL
/// evidence rule. `None` without a baseline or when the counters were reset
/// in between (reset time changed, or the counters went backwards).
pub fn observe(state: &WalrusState, reading: &Reading, settings: &Settings) -> Option<Observation> {
    if !state.has_baseline || reading.counts.reset_at != state.baseline_reset_at {
        return None;
    }
    let requested = reading.counts.requested - state.baseline_requested;
    let timed = reading.counts.timed - state.baseline_timed;
    if requested < 0 || timed < 0 {
        return None;
    }
    let raw = RawInterval {
        current_size_mb: server::max_wal_size_mb(),
        requested,
        timed,
        wal_bytes: reading.insert_lsn.saturating_sub(state.baseline_insert_lsn) as f64,
        carried_bytes: state.baseline_insert_lsn.saturating_sub(state.baseline_redo_lsn) as f64,
        interval_secs: clock::seconds_between(state.baseline_mono_ns, reading.mono_ns),
        quiet_before: state.quiet_intervals,
        full_pages: full_pages(state, reading),
    };
    Some(evidence::observe(&raw, settings, guc::require_wal_evidence()))
}

/// The interval's full-page images and records (pg_stat_wal), with the
/// pages they could fall on; `None` when pg_stat_wal was reset since the
/// baseline, or any part is unknown.
fn full_pages(state: &WalrusState, reading: &Reading) -> Option<FullPageEvidence> {
    let (before, now) = (state.baseline_wal?, reading.wal?);
    let (images, records) = (now.images - before.images, now.records - before.records);
    if now.reset_at != before.reset_at || images < 0 || records < 0 || state.data_pages <= 0.0 {
        return None;
    }
    Some(FullPageEvidence {
        images: images as f64,
        records: records as f64,
        data_pages: state.data_pages,
        block_bytes: f64::from(pg_sys::BLCKSZ),
        counted_wal_bytes: now.bytes.saturating_sub(before.bytes) as f64,
    })
}

/// A recommendation made outside the worker's cycle (recommendation(),
/// analyze()): the interval so far, judged by `algorithm`.
pub struct Recommendation {
    pub decision: Decision,
    pub confidence: u8,
    pub strategy: &'static str,
    /// WAL-explained requested checkpoints since the baseline (0 without one).
    pub forced_checkpoints: i64,
}

pub fn recommend(state: &WalrusState, reading: &Reading, regime: &Regime, algorithm: Strategy) -> Recommendation {
    let settings = &regime.settings;
    let strategy = algorithm;
    // The full-page estimate's pages, measured now as the worker would.
    let mut state = *state;
    if data_size::needed(&state, reading) {
        state.data_pages = data_size::measure_pages().unwrap_or(0.0);
    }
    let state = &state;
    let observation = observe(state, reading, settings);
    let evidence = Evidence {
        has_baseline: state.has_baseline,
        requested_since_baseline: observation.as_ref().map_or(0, |o| o.requested_checkpoints),
        quiet_intervals: state.quiet_intervals,
    };
    let strategies: &StrategyState = &state.strategies;
    let decision = match &observation {
        Some(observation) => regime.decide(algorithm, observation, strategies),
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
        confidence: strategy.confidence(&evidence, strategies),
        strategy: strategy.name(),
        forced_checkpoints: observation.as_ref().map_or(0, |o| o.forced_checkpoints),
    }
}
