//! additive: grow by a fixed step per forced checkpoint,
//! `current + forced × walrus.additive_increment`, with the shared shrink rule.
//!
//! Gentler than multiplicative on large servers (a 64 GB max_wal_size does not
//! jump to 192 GB for two forced checkpoints) but slower to catch up with a
//! big step in load from a small size.

use crate::evidence::confidence::{Evidence, counter_confidence};
use crate::evidence::state::StrategyState;
use crate::sizing::limits::saturating_size_mb;
use crate::sizing::multiplicative::grow_or_shrink;
use crate::{Decision, Observation, Settings, SizingStrategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Additive;

impl Additive {
    pub fn grown_size_mb(current_mb: i32, forced: i64, increment_mb: i32) -> i32 {
        let step = forced.max(0).saturating_mul(i64::from(increment_mb.max(0)));
        saturating_size_mb(i64::from(current_mb).saturating_add(step))
    }
}

impl SizingStrategy for Additive {
    fn name(&self) -> &'static str {
        "additive"
    }

    fn decide(&self, obs: &Observation, settings: &Settings, state: &StrategyState) -> Decision {
        let wanted = Self::grown_size_mb(
            obs.current_size_mb,
            obs.forced_checkpoints,
            settings.additive_increment_mb,
        );
        grow_or_shrink(obs, settings, wanted, state)
    }

    /// As for multiplicative: the evidence is the same count.
    fn confidence(&self, evidence: &Evidence, _state: &StrategyState) -> u8 {
        counter_confidence(evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Action;

    #[test]
    fn grows_by_steps() {
        let s = Settings {
            additive_increment_mb: 1024,
            max_size_mb: 1 << 20,
            ..Settings::default()
        };
        let state = StrategyState::default();
        // current, forced, expected action, expected size
        let cases = [
            (1024, 2, Action::Increase, 3072),
            (1024, 3, Action::Increase, 4096),
            (1024, 1, Action::None, 1024),
            (i32::MAX - 10, 5, Action::None, i32::MAX - 10), // saturates at the ceiling
        ];
        for (current, forced, action, size) in cases {
            let obs = Observation {
                current_size_mb: current,
                forced_checkpoints: forced,
                interval_secs: 300.0,
                ..Default::default()
            };
            let d = Additive.decide(&obs, &s, &state);
            assert_eq!(
                (d.action, d.new_size_mb),
                (action, size),
                "{current} {forced}: {}",
                d.reason
            );
        }
        assert_eq!(Additive::grown_size_mb(i32::MAX, i64::MAX, i32::MAX), i32::MAX);
    }

    #[test]
    fn shares_the_shrink_rule() {
        let s = Settings::default();
        let obs = Observation {
            current_size_mb: 4096,
            interval_secs: 300.0,
            quiet_intervals: 5,
            ..Default::default()
        };
        let d = Additive.decide(&obs, &s, &StrategyState::default());
        assert_eq!((d.action, d.new_size_mb), (Action::Decrease, 3072));
    }
}
