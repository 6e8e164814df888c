//! WAL evidence: how much of an interval's requested checkpoints WAL volume
//! can explain, and the size that keeps checkpoints time-triggered.
//!
//! PostgreSQL requests a checkpoint when, at a WAL segment boundary, the
//! segments since the last checkpoint's redo point reach
//! `CheckPointSegments - 1`, where
//! `CheckPointSegments = floor(max_wal_size / segment / (1 + checkpoint_completion_target))`
//! (at least 1). So the WAL between two WAL-triggered checkpoints is about
//! `max(CheckPointSegments - 1, 1)` segments: the *trigger distance*.
//!
//! The requested-checkpoint counter also counts manual `CHECKPOINT`, base
//! backups, `CREATE DATABASE` and so on. At most
//! `floor((carried + interval WAL) / trigger distance)` of them can be WAL
//! pressure, where `carried` is the WAL already written since the redo point
//! when the interval began. The rest must not grow the size.
//!
//! The folder holds everything an interval is judged from: the
//! `observation` and the settings it is judged with, this evidence rule,
//! the full-page-image estimate ([`full_pages`]), the confidence a
//! strategy's evidence earns (`confidence`), and what every strategy
//! remembers between intervals ([`state`]).

pub(crate) mod confidence;
pub mod full_pages;
pub(crate) mod observation;
pub mod state;

use serde_json::{Value, json};

pub use crate::units::BYTES_PER_MB;
use crate::{Action, Decision, Observation, Settings, count_quiet};

/// WAL written between two WAL-triggered checkpoints at this `max_wal_size`.
pub fn trigger_distance_bytes(max_wal_size_mb: i32, settings: &Settings) -> f64 {
    let segment_mb = f64::from(settings.wal_segment_mb.max(1));
    let cct = completion_target(settings);
    // The epsilon keeps an exact product from flooring one segment short.
    let checkpoint_segments = (f64::from(max_wal_size_mb.max(1)) / segment_mb / (1.0 + cct) + 1e-9)
        .floor()
        .max(1.0);
    (checkpoint_segments - 1.0).max(1.0) * segment_mb * BYTES_PER_MB
}

/// The `max_wal_size` that keeps `wal_per_interval_bytes` of WAL per
/// `checkpoint_timeout` from triggering a checkpoint by volume:
/// `(1 + checkpoint_completion_target) × (W + 2 segments)`, with W rounded up
/// to whole segments.
///
/// Derivation: a volume checkpoint comes once `CheckPointSegments - 1`
/// segment boundaries are crossed after the redo point, and the redo point
/// may sit anywhere inside its segment. So one interval's W fits when
/// `CheckPointSegments - 1 >= ceil(W / segment) + 1`, i.e.
/// `floor(max_wal_size / segment / (1 + cct)) >= ceil(W / segment) + 2`,
/// which the size below satisfies exactly. (Without rounding W up, a small
/// size can fall one segment short: 10 MB of WAL would get 80 MB, whose
/// trigger distance is a single 16 MB segment.)
pub fn size_for_wal_mb(wal_per_interval_bytes: f64, settings: &Settings) -> i32 {
    let segment_mb = f64::from(settings.wal_segment_mb.max(1));
    let wal_mb = if wal_per_interval_bytes.is_finite() {
        wal_per_interval_bytes.max(0.0) / BYTES_PER_MB
    } else {
        0.0
    };
    let segments = (wal_mb / segment_mb).ceil() + 2.0;
    let needed = (1.0 + completion_target(settings)) * segments * segment_mb;
    needed.ceil().min(f64::from(i32::MAX)) as i32
}

/// WAL of one interval scaled to a full checkpoint_timeout (a cut-short or
/// stretched interval still says what a full one would write).
pub fn wal_per_timeout(wal_bytes: f64, secs: f64, settings: &Settings) -> f64 {
    if secs > 0.0 && settings.checkpoint_timeout_secs > 0.0 {
        wal_bytes * settings.checkpoint_timeout_secs / secs
    } else {
        wal_bytes
    }
}

/// Whether `wal_bytes` of WAL in `secs`, kept up for a whole interval, would
/// force at least one checkpoint at `current_size_mb`: the storm pace.
pub fn pace_forces_checkpoint(wal_bytes: f64, secs: f64, current_size_mb: i32, settings: &Settings) -> bool {
    secs > 0.0 && wal_per_timeout(wal_bytes, secs, settings) >= trigger_distance_bytes(current_size_mb, settings)
}

/// The WAL per interval that can force a checkpoint at `current_size_mb`:
/// the trigger distance less one segment (PostgreSQL counts segment
/// boundaries from the redo point's segment, and the redo point may sit at
/// the end of it), but at least one segment. A server that writes less than
/// a segment an interval is idle, whatever its size.
pub fn growth_pace_bytes(current_size_mb: i32, settings: &Settings) -> f64 {
    let segment = f64::from(settings.wal_segment_mb.max(1)) * BYTES_PER_MB;
    (trigger_distance_bytes(current_size_mb, settings) - segment).max(segment)
}

/// Whether an interval says the size is too small: at least
/// `walrus.threshold` WAL-explained forced checkpoints, or WAL at a pace
/// that can force one at the current size ([`growth_pace_bytes`]). Only
/// then may any strategy grow. An idle server's shortfall against a
/// formula's floor (adaptive's two segments of headroom above 64 MB, say) is
/// no reason to write the configuration, and a change made on no evidence
/// starts a cooldown that used to hold back the storm that came next.
pub fn calls_for_growth(obs: &Observation, settings: &Settings) -> bool {
    !settings.is_quiet(obs.forced_checkpoints)
        || (obs.interval_secs > 0.0
            && wal_per_timeout(obs.wal_bytes, obs.interval_secs, settings)
                >= growth_pace_bytes(obs.current_size_mb, settings))
}

/// `decision`, unless it grows on an interval that does not
/// [call for growth](calls_for_growth): then the size is kept, the reason
/// says why, and `metadata.withheld_growth_mb` what the strategy wanted.
pub fn without_unsupported_growth(decision: Decision, obs: &Observation, settings: &Settings) -> Decision {
    let grows = matches!(decision.action, Action::Increase | Action::Capped) && decision.changes_size();
    if !grows || calls_for_growth(obs, settings) {
        return decision;
    }
    let mut metadata = decision.metadata;
    metadata["withheld_growth_mb"] = json!(decision.new_size_mb);
    let reason = format!(
        "no evidence for growth: {} forced checkpoints (threshold {}) and {:.0} MB of WAL per interval, short of \
         the {:.0} MB that can force one at {} MB; keeping it rather than growing to {} MB",
        obs.forced_checkpoints,
        settings.threshold,
        wal_per_timeout(obs.wal_bytes, obs.interval_secs, settings) / BYTES_PER_MB,
        growth_pace_bytes(obs.current_size_mb, settings) / BYTES_PER_MB,
        obs.current_size_mb,
        decision.new_size_mb
    );
    Decision::keep(decision.old_size_mb, reason, metadata)
}

/// checkpoint_completion_target, defended against values PostgreSQL would
/// never hold (it enforces 0..1).
fn completion_target(settings: &Settings) -> f64 {
    let cct = settings.checkpoint_completion_target;
    if cct.is_finite() { cct.clamp(0.0, 1.0) } else { 0.9 }
}

/// How many of `requested` checkpoints WAL volume can explain.
pub fn wal_explained_checkpoints(requested: i64, carried_bytes: f64, wal_bytes: f64, distance_bytes: f64) -> i64 {
    if requested <= 0 {
        return 0;
    }
    let wal = carried_bytes.max(0.0) + wal_bytes.max(0.0);
    let possible = (wal / distance_bytes).floor();
    if possible.is_nan() || distance_bytes <= 0.0 {
        return requested;
    }
    requested.min(possible.min(i64::MAX as f64) as i64)
}

/// What the worker read for one interval, before any interpretation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RawInterval {
    /// `max_wal_size` in force during the interval, MB.
    pub current_size_mb: i32,
    /// Requested-checkpoint counter delta.
    pub requested: i64,
    /// Timed-checkpoint counter delta.
    pub timed: i64,
    /// WAL inserted during the interval (insert LSN delta), bytes.
    pub wal_bytes: f64,
    /// WAL between the last checkpoint's redo point and the insert position
    /// when the interval began, bytes.
    pub carried_bytes: f64,
    pub interval_secs: f64,
    /// Quiet intervals in a row before this one.
    pub quiet_before: u32,
    /// Full-page images in the interval, when the statistics gave them.
    pub full_pages: Option<crate::FullPageEvidence>,
}

/// Turns a raw reading into the observation strategies decide on. With
/// `require_wal_evidence`, only WAL-explained checkpoints count as forced.
pub fn observe(raw: &RawInterval, settings: &Settings, require_wal_evidence: bool) -> Observation {
    let requested = raw.requested.max(0);
    let explained = if require_wal_evidence {
        let distance = trigger_distance_bytes(raw.current_size_mb, settings);
        wal_explained_checkpoints(requested, raw.carried_bytes, raw.wal_bytes, distance)
    } else {
        requested
    };
    Observation {
        current_size_mb: raw.current_size_mb,
        forced_checkpoints: explained,
        requested_checkpoints: requested,
        timed_checkpoints: raw.timed.max(0),
        wal_bytes: raw.wal_bytes.max(0.0),
        interval_secs: raw.interval_secs,
        quiet_intervals: count_quiet(raw.quiet_before, explained, raw.interval_secs, settings),
        full_pages: raw.full_pages,
    }
}

/// History metadata describing the evidence behind a decision.
pub fn evidence_metadata(obs: &Observation) -> Value {
    let mut metadata = json!({
        "forced_checkpoints": obs.forced_checkpoints,
        "requested_checkpoints": obs.requested_checkpoints,
        "wal_bytes": obs.wal_bytes.round(),
        "interval_sec": obs.interval_secs.round(),
    });
    let discounted = obs.requested_checkpoints - obs.forced_checkpoints;
    if discounted > 0 {
        metadata["not_wal_pressure"] = json!(discounted);
        metadata["evidence"] = json!(format!(
            "{discounted} of {} requested checkpoints cannot be explained by WAL volume \
             (manual CHECKPOINT, base backup, CREATE DATABASE ...) and were not counted",
            obs.requested_checkpoints
        ));
    }
    metadata
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            checkpoint_completion_target: 0.9,
            wal_segment_mb: 16,
            ..Settings::default()
        }
    }

    #[test]
    fn trigger_distance_follows_postgres_rule() {
        let s = settings();
        // 1 GB: floor(64 / 1.9) = 33 segments -> 32 segments of WAL = 512 MB.
        assert_eq!(trigger_distance_bytes(1024, &s), 512.0 * BYTES_PER_MB);
        // 32 MB: CheckPointSegments = 1 -> a checkpoint at every segment.
        assert_eq!(trigger_distance_bytes(32, &s), 16.0 * BYTES_PER_MB);
        assert_eq!(trigger_distance_bytes(64, &s), 16.0 * BYTES_PER_MB);
    }

    #[test]
    fn size_for_wal_inverts_the_trigger() {
        let s = settings();
        for wal_mb in [0.0, 1.0, 10.0, 16.0, 17.0, 100.0, 511.0, 4000.0, 123_456.0] {
            let size = size_for_wal_mb(wal_mb * BYTES_PER_MB, &s);
            // At that size, one interval's WAL plus a segment of offset stays
            // under the trigger distance.
            assert!(
                trigger_distance_bytes(size, &s) >= (wal_mb + 16.0) * BYTES_PER_MB,
                "{wal_mb} MB -> {size} MB"
            );
        }
        assert_eq!(size_for_wal_mb(100.0 * BYTES_PER_MB, &s), 274); // 1.9 x (7 + 2) x 16
        assert_eq!(size_for_wal_mb(f64::NAN, &s), 61);
    }

    #[test]
    fn manual_checkpoints_without_wal_are_not_pressure() {
        let d = 16.0 * BYTES_PER_MB;
        assert_eq!(wal_explained_checkpoints(6, 0.0, 20_000.0, d), 0);
        assert_eq!(wal_explained_checkpoints(6, 15.0 * BYTES_PER_MB, 0.0, d), 0);
        // A genuine burst: 160 MB of WAL at a 16 MB distance explains up to 10.
        assert_eq!(
            wal_explained_checkpoints(8, 2.0 * BYTES_PER_MB, 160.0 * BYTES_PER_MB, d),
            8
        );
        assert_eq!(wal_explained_checkpoints(14, 0.0, 160.0 * BYTES_PER_MB, d), 10);
        assert_eq!(wal_explained_checkpoints(0, 0.0, 1e12, d), 0);
        assert_eq!(wal_explained_checkpoints(3, f64::NAN, f64::NAN, d), 0);
    }

    #[test]
    fn observe_discounts_and_can_be_turned_off() {
        let raw = RawInterval {
            current_size_mb: 1024,
            requested: 6,
            wal_bytes: 1e5,
            interval_secs: 300.0,
            ..Default::default()
        };
        let s = Settings::default();
        let obs = observe(&raw, &s, true);
        assert_eq!((obs.forced_checkpoints, obs.requested_checkpoints), (0, 6));
        assert_eq!(
            obs.quiet_intervals, 1,
            "six manual checkpoints leave the interval quiet"
        );
        assert_eq!(evidence_metadata(&obs)["not_wal_pressure"], 6);
        assert_eq!(observe(&raw, &s, false).forced_checkpoints, 6);
    }
}
