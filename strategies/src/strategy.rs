//! The seam between the extension and the sizing logic: the trait every
//! strategy implements. The worker and the SQL functions only know it and the
//! [`Strategy`](crate::Strategy) enum (`compiled.rs`) that dispatches to the
//! compiled strategies.

use enum_dispatch::enum_dispatch;

use crate::evidence::confidence::Evidence;
use crate::evidence::state::{IntervalSample, StrategyState};
use crate::{Decision, Observation, Settings};

/// A sizing strategy. Strategies are stateless values; what they remember
/// lives in [`StrategyState`], which the extension keeps in shared memory.
#[enum_dispatch]
pub trait SizingStrategy {
    /// The name used by `walrus.algorithm`, history rows and recommendations.
    fn name(&self) -> &'static str;

    /// Updates this strategy's part of `state` with a completed interval.
    /// Called every cycle for every compiled strategy, active or not, so a
    /// switch of `walrus.algorithm` starts from warm state.
    fn observe(&self, _state: &mut StrategyState, _sample: &IntervalSample, _settings: &Settings) {}

    /// The decision for one interval. It must obey the shared limits
    /// (`Settings::ceiling_mb`, `Settings::shrink_floor_mb`, never lower on
    /// the grow path); `bounded_grow` and `shrink` implement them.
    fn decide(&self, observation: &Observation, settings: &Settings, state: &StrategyState) -> Decision;

    /// How far a recommendation can be trusted, 0..=100.
    fn confidence(&self, evidence: &Evidence, state: &StrategyState) -> u8;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Multiplicative;

    #[test]
    fn trait_is_object_safe() {
        let strategies: Vec<Box<dyn SizingStrategy>> = vec![Box::new(Multiplicative)];
        assert_eq!(strategies[0].name(), "multiplicative");
    }
}
