//! doubling: the walkthrough strategy of docs/adding-a-strategy.md. Doubles
//! the size when forced checkpoints reach the threshold, shrinks by the shared
//! rule. Compiled and tested behind the non-default `example-strategy`
//! feature; not offered to users by default.

use crate::evidence::confidence::{Evidence, counter_confidence};
use crate::evidence::state::StrategyState;
use crate::sizing::limits::saturating_size_mb;
use crate::sizing::multiplicative::grow_or_shrink;
use crate::{Decision, Observation, Settings, SizingStrategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Doubling;

impl SizingStrategy for Doubling {
    fn name(&self) -> &'static str {
        "doubling"
    }

    fn decide(&self, obs: &Observation, settings: &Settings, state: &StrategyState) -> Decision {
        let doubled = saturating_size_mb(i64::from(obs.current_size_mb) * 2);
        grow_or_shrink(obs, settings, doubled, state)
    }

    fn confidence(&self, evidence: &Evidence, _state: &StrategyState) -> u8 {
        counter_confidence(evidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Action;

    #[test]
    fn doubles_under_pressure() {
        let obs = Observation {
            current_size_mb: 512,
            forced_checkpoints: 2,
            interval_secs: 300.0,
            ..Default::default()
        };
        let d = Doubling.decide(&obs, &Settings::default(), &StrategyState::default());
        assert_eq!((d.action, d.new_size_mb), (Action::Increase, 1024));
    }
}
