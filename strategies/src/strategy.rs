//! The seam between the extension and the sizing logic.
//!
//! The worker and the SQL functions only know [`SizingStrategy`] and the
//! [`Strategy`] enum that dispatches to the compiled strategies. Adding a
//! strategy means adding a module, a variant here and an [`Algorithm`] name.

use enum_dispatch::enum_dispatch;

use crate::confidence::Evidence;
use crate::{Decision, Multiplicative, Observation, Settings};

/// A sizing strategy: turns one interval's evidence into a decision.
#[enum_dispatch]
pub trait SizingStrategy {
    /// The name used by `walrus.algorithm`, history rows and recommendations.
    fn name(&self) -> &'static str;

    /// The decision for one interval. It obeys `walrus.max` and never lowers
    /// the size on the grow path.
    fn decide(&self, observation: &Observation, settings: &Settings) -> Decision;

    /// How far a recommendation from this strategy can be trusted, 0..=100,
    /// given how much evidence stands behind it.
    fn confidence(&self, evidence: &Evidence) -> u8;
}

/// The compiled strategies.
#[enum_dispatch(SizingStrategy)]
#[derive(Debug, Clone, PartialEq)]
pub enum Strategy {
    Multiplicative(Multiplicative),
}

/// The strategy names `walrus.algorithm` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Multiplicative,
}

impl Algorithm {
    /// Every compiled algorithm, default first.
    pub const ALL: &'static [Algorithm] = &[Algorithm::Multiplicative];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Multiplicative => "multiplicative",
        }
    }

    pub fn from_name(name: &str) -> Option<Algorithm> {
        Self::ALL.iter().copied().find(|a| a.name() == name)
    }

    /// A fresh strategy for this algorithm.
    pub fn strategy(self) -> Strategy {
        match self {
            Algorithm::Multiplicative => Strategy::Multiplicative(Multiplicative),
        }
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
        assert_eq!(Algorithm::from_name("no-such-strategy"), None);
    }
}
