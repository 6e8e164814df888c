//! The seam between the extension and the sizing logic.
//!
//! The worker and the SQL functions only know [`SizingStrategy`] and the
//! [`Strategy`] enum that dispatches to the compiled strategies. Adding a
//! strategy means a module, a variant here, an [`Algorithm`] name, a cargo
//! feature and the GUC enum's variant (docs/adding-a-strategy.md).

use enum_dispatch::enum_dispatch;

use crate::confidence::Evidence;
use crate::state::{IntervalSample, StrategyState};
use crate::{Decision, Multiplicative, Observation, Settings};

#[cfg(feature = "adaptive")]
use crate::adaptive::Adaptive;
#[cfg(feature = "additive")]
use crate::additive::Additive;
#[cfg(feature = "example-strategy")]
use crate::example::Doubling;
#[cfg(feature = "percentile")]
use crate::percentile::Percentile;

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

/// The compiled strategies.
#[enum_dispatch(SizingStrategy)]
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    Multiplicative(Multiplicative),
    #[cfg(feature = "additive")]
    Additive(Additive),
    #[cfg(feature = "adaptive")]
    Adaptive(Adaptive),
    #[cfg(feature = "percentile")]
    Percentile(Percentile),
    #[cfg(feature = "example-strategy")]
    Doubling(Doubling),
}

/// The strategy names `walrus.algorithm` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Multiplicative,
    #[cfg(feature = "additive")]
    Additive,
    #[cfg(feature = "adaptive")]
    Adaptive,
    #[cfg(feature = "percentile")]
    Percentile,
    #[cfg(feature = "example-strategy")]
    Doubling,
}

impl Algorithm {
    /// Every compiled algorithm, default first.
    pub const ALL: &'static [Algorithm] = &[
        Algorithm::Multiplicative,
        #[cfg(feature = "additive")]
        Algorithm::Additive,
        #[cfg(feature = "adaptive")]
        Algorithm::Adaptive,
        #[cfg(feature = "percentile")]
        Algorithm::Percentile,
        #[cfg(feature = "example-strategy")]
        Algorithm::Doubling,
    ];

    /// A strategy for this algorithm.
    pub fn strategy(self) -> Strategy {
        match self {
            Algorithm::Multiplicative => Multiplicative.into(),
            #[cfg(feature = "additive")]
            Algorithm::Additive => Additive.into(),
            #[cfg(feature = "adaptive")]
            Algorithm::Adaptive => Adaptive.into(),
            #[cfg(feature = "percentile")]
            Algorithm::Percentile => Percentile.into(),
            #[cfg(feature = "example-strategy")]
            Algorithm::Doubling => Doubling.into(),
        }
    }

    pub fn name(self) -> &'static str {
        self.strategy().name()
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        Self::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// "multiplicative, additive, ...": for error messages.
    pub fn names() -> String {
        Self::ALL.iter().map(|a| a.name()).collect::<Vec<_>>().join(", ")
    }
}

/// Records a completed interval: into the shared ring, then into every
/// compiled strategy's state.
pub fn observe_all(state: &mut StrategyState, sample: &IntervalSample, settings: &Settings) {
    state.ring.push(*sample);
    for algorithm in Algorithm::ALL {
        algorithm.strategy().observe(state, sample, settings);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &algorithm in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(algorithm.name()), Some(algorithm));
            assert_eq!(algorithm.strategy().name(), algorithm.name());
        }
        assert_eq!(Algorithm::ALL[0], Algorithm::Multiplicative, "the default comes first");
        assert_eq!(Algorithm::from_name("no-such-strategy"), None);
        assert!(Algorithm::names().starts_with("multiplicative"));
    }

    #[test]
    fn trait_is_object_safe() {
        let strategies: Vec<Box<dyn SizingStrategy>> = vec![Box::new(Multiplicative)];
        assert_eq!(strategies[0].name(), "multiplicative");
    }
}
