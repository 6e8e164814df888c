//! The default strategy: multiply the size by (forced checkpoints + 1).
//!
//! Crude but fast to react: one interval with N forced checkpoints means the
//! WAL of that interval filled the trigger distance N times, so N + 1 times the
//! size is enough room, give or take completion-target slack.

use serde_json::json;

use crate::evidence::confidence::{Evidence, counter_confidence};
use crate::evidence::evidence_metadata;
use crate::evidence::state::StrategyState;
use crate::sizing::limits::{GrowOutcome, bounded_grow, saturating_size_mb};
use crate::sizing::shrink::{recent_wal_need_mb, shrink};
use crate::{Action, Decision, Observation, Settings, SizingStrategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Multiplicative;

impl Multiplicative {
    /// `current × (forced + 1)`, saturating instead of overflowing.
    pub fn grown_size_mb(current_mb: i32, forced: i64) -> i32 {
        let factor = forced.max(0).saturating_add(1);
        saturating_size_mb(i64::from(current_mb).saturating_mul(factor))
    }
}

impl SizingStrategy for Multiplicative {
    fn name(&self) -> &'static str {
        "multiplicative"
    }

    fn decide(&self, obs: &Observation, settings: &Settings, state: &StrategyState) -> Decision {
        grow_or_shrink(
            obs,
            settings,
            Self::grown_size_mb(obs.current_size_mb, obs.forced_checkpoints),
            state,
        )
    }

    /// From the checkpoint counters alone (see [`counter_confidence`]).
    fn confidence(&self, evidence: &Evidence, _state: &StrategyState) -> u8 {
        counter_confidence(evidence)
    }
}

/// The multiplicative decision's shape, shared by the strategies that grow by a rule of
/// the forced-checkpoint count: at or above the threshold, grow to `wanted`
/// (within the limits); below it, the shared shrink rule.
pub fn grow_or_shrink(obs: &Observation, settings: &Settings, wanted: i32, state: &StrategyState) -> Decision {
    let current = obs.current_size_mb;
    let forced = obs.forced_checkpoints;
    let threshold = i64::from(settings.threshold);
    let mut metadata = evidence_metadata(obs);
    metadata["threshold"] = json!(settings.threshold);
    if forced < threshold {
        return match shrink(
            obs,
            settings,
            recent_wal_need_mb(obs, settings, state),
            metadata.clone(),
        ) {
            Ok(decision) => decision,
            Err(why_not) => Decision::keep(
                current,
                format!("{forced} forced checkpoints in last interval, below threshold {threshold}; {why_not}"),
                metadata,
            ),
        };
    }

    metadata["computed_size_mb"] = json!(wanted);
    let detected = format!("{forced} forced checkpoints detected in last interval");
    let (action, new_size, reason) = match bounded_grow(current, wanted, settings.ceiling_mb()) {
        GrowOutcome::Grow(n) => (Action::Increase, n, detected),
        GrowOutcome::Capped(n) => (
            Action::Capped,
            n,
            format!("{detected}; {wanted} MB capped at {} ({n} MB)", settings.ceiling_name()),
        ),
        GrowOutcome::AtCeiling => (
            Action::None,
            current,
            format!(
                "{detected}, but already at {} ({} MB)",
                settings.ceiling_name(),
                settings.ceiling_mb()
            ),
        ),
        GrowOutcome::NotLarger => (Action::None, current, detected),
    };
    Decision {
        action,
        old_size_mb: current,
        new_size_mb: new_size,
        computed_size_mb: Some(wanted),
        reason,
        metadata,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(current: i32, forced: i64, threshold: i32, max: i32) -> Decision {
        let obs = Observation {
            current_size_mb: current,
            forced_checkpoints: forced,
            interval_secs: 300.0,
            ..Default::default()
        };
        // A low floor so that the grow rules are tested on their own.
        let settings = Settings {
            threshold,
            max_size_mb: max,
            wal_segment_mb: 1,
            ..Settings::default()
        };
        Multiplicative.decide(&obs, &settings, &StrategyState::default())
    }

    #[test]
    fn formula_table() {
        // current, forced, threshold, max, expected action, expected new size
        let cases = [
            (1024, 3, 2, 16384, Action::Increase, 4096), // the seed's example
            (1024, 3, 2, 4096, Action::Increase, 4096),  // exactly at the cap is not capping
            (64, 5, 2, 4096, Action::Increase, 384),
            (1024, 1, 1, 4096, Action::Increase, 2048),
            (1024, 2, 2, 4096, Action::Increase, 3072), // threshold is inclusive
            (1024, 1, 2, 4096, Action::None, 1024),     // below threshold
            (1024, 0, 1, 4096, Action::None, 1024),
            (1024, 10, 2, 4096, Action::Capped, 4096), // 11264 capped
            (4096, 5, 2, 4096, Action::None, 4096),    // at the ceiling
            (8192, 5, 2, 4096, Action::None, 8192),    // a DBA's larger value stays
            (1024, -3, 1, 4096, Action::None, 1024),   // never decide on a negative delta
        ];
        for (current, forced, threshold, max, action, new_size) in cases {
            let d = decide(current, forced, threshold, max);
            assert_eq!(
                (d.action, d.new_size_mb),
                (action, new_size),
                "{current} MB, {forced} forced, threshold {threshold}, max {max}: {d:?}"
            );
            assert_eq!(d.old_size_mb, current);
        }
    }

    #[test]
    fn huge_inputs_saturate() {
        assert_eq!(Multiplicative::grown_size_mb(i32::MAX, i64::MAX), i32::MAX);
        assert_eq!(Multiplicative::grown_size_mb(1 << 30, 3), i32::MAX);
        let d = decide(1 << 30, i64::MAX, 1, i32::MAX);
        assert_eq!((d.action, d.new_size_mb), (Action::Increase, i32::MAX));
        let d = decide(i32::MAX, 1000, 1, i32::MAX);
        assert_eq!(d.action, Action::None);
    }

    #[test]
    fn capped_decision_says_what_was_wanted() {
        let d = decide(1024, 10, 2, 4096);
        assert_eq!(d.computed_size_mb, Some(11264));
        assert!(d.reason.contains("capped at walrus.max"), "{}", d.reason);
        assert_eq!(d.metadata["computed_size_mb"], 11264);
        assert!(d.changes_size());
    }

    #[test]
    fn ceiling_is_reported_as_blocked() {
        let d = decide(4096, 5, 2, 4096);
        assert!(d.blocked_at_ceiling());
        assert!(!d.changes_size());
        assert!(!decide(1024, 1, 2, 4096).blocked_at_ceiling());
    }

    #[test]
    fn quiet_intervals_shrink_and_loud_ones_do_not() {
        let settings = Settings::default();
        let state = StrategyState::default();
        let quiet = Observation {
            current_size_mb: 4096,
            forced_checkpoints: 1,
            interval_secs: 300.0,
            quiet_intervals: 5,
            ..Default::default()
        };
        let d = Multiplicative.decide(&quiet, &settings, &state);
        assert_eq!((d.action, d.new_size_mb), (Action::Decrease, 3072));
        let waiting = Observation {
            quiet_intervals: 4,
            ..quiet.clone()
        };
        let d = Multiplicative.decide(&waiting, &settings, &state);
        assert_eq!(d.action, Action::None);
        assert!(d.reason.contains("4 of 5 quiet intervals"), "{}", d.reason);
        // A loud interval takes the grow path whatever the quiet count says.
        let loud = Observation {
            current_size_mb: 2048,
            forced_checkpoints: 2,
            quiet_intervals: 9,
            ..quiet
        };
        let d = Multiplicative.decide(&loud, &settings, &state);
        assert_eq!((d.action, d.new_size_mb), (Action::Capped, 4096));
    }

    #[test]
    fn growth_ceiling_never_below_two_segments() {
        let settings = Settings {
            max_size_mb: 2,
            wal_segment_mb: 16,
            ..Settings::default()
        };
        let obs = Observation {
            current_size_mb: 16,
            forced_checkpoints: 5,
            interval_secs: 300.0,
            ..Default::default()
        };
        let d = Multiplicative.decide(&obs, &settings, &StrategyState::default());
        assert_eq!((d.action, d.new_size_mb), (Action::Capped, 32));
    }

    #[test]
    fn never_above_max_never_lower() {
        for current in [2, 32, 64, 1024, 4096, 10_000] {
            for forced in [0, 1, 2, 3, 7, 100, i64::MAX] {
                for max in [2, 64, 4096, 1 << 20] {
                    let d = decide(current, forced, 2, max);
                    assert!(d.new_size_mb >= current, "{d:?}");
                    if d.changes_size() {
                        assert!(d.new_size_mb <= max, "{d:?}");
                    }
                }
            }
        }
    }
}
