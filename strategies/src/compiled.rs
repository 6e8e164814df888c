//! The compiled strategies: the one list of them, the enum that dispatches
//! [`SizingStrategy`] to each, and what runs every strategy at once. Adding a
//! strategy means a module, a variant of [`Strategy`] here, a cargo feature
//! and the GUC enum's variant (docs/adding-a-strategy.md).

use enum_dispatch::enum_dispatch;

// The trait methods' argument types: enum_dispatch's generated impl names them.
use crate::evidence::confidence::Evidence;
use crate::evidence::state::{IntervalSample, StrategyState};
use crate::strategy::SizingStrategy;
use crate::{Decision, Observation, Settings};

/// Emits the dispatch enum it is given, plus `ALL`: every variant, built
/// from the same list, so a strategy is listed once, behind its feature.
/// The enum passes through token for token: `enum_dispatch` names its match
/// bindings with the variant's span, and a token written in this macro's
/// body would put them in another hygiene context than their uses.
macro_rules! with_every_variant {
    (@all $(#$attribute:tt)* pub enum $enum:ident { $($(#$feature:tt)* $name:ident($($unit_type:tt)+),)+ }) => {
        impl $enum {
            /// Every compiled strategy, default first.
            pub const ALL: &'static [$enum] = &[$($(#$feature)* $enum::$name($($unit_type)+),)+];
        }
    };
    ($($item:tt)*) => {
        $($item)*
        with_every_variant!(@all $($item)*);
    };
}

with_every_variant! {
    /// The compiled strategies, the default first: the one list of them.
    /// Strategies are unit structs, so each type is also its only value.
    #[enum_dispatch(SizingStrategy)]
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Strategy {
        Multiplicative(crate::sizing::multiplicative::Multiplicative),
        #[cfg(feature = "additive")]
        Additive(crate::sizing::additive::Additive),
        #[cfg(feature = "adaptive")]
        Adaptive(crate::sizing::adaptive::Adaptive),
        #[cfg(feature = "percentile")]
        Percentile(crate::sizing::percentile::Percentile),
        #[cfg(feature = "example-strategy")]
        Doubling(crate::sizing::example::Doubling),
    }
}

impl Strategy {
    /// This strategy's decision with what set its ceiling said
    /// (`sizing::limits::annotate_ceiling`) and the WAL
    /// estimate behind it ([`Observation::steady_wal`]):
    /// what the worker, the SQL functions and the simulator ask for.
    pub fn decide_bounded(&self, observation: &Observation, settings: &Settings, state: &StrategyState) -> Decision {
        // No strategy grows on an interval that does not call for it.
        let mut decision = crate::evidence::without_unsupported_growth(
            self.decide(observation, settings, state),
            observation,
            settings,
        );
        crate::sizing::limits::annotate_ceiling(&mut decision, settings);
        // What the WAL-based strategies sized from, when forced checkpoints
        // inflated the measured WAL: history shows both.
        if let (Some(steady), serde_json::Value::Object(metadata)) =
            (observation.steady_wal(settings), &mut decision.metadata)
        {
            metadata.insert("steady_wal".into(), steady.metadata(observation.wal_bytes));
        }
        decision
    }

    /// The strategy `walrus.algorithm` names, if compiled.
    pub fn from_name(name: &str) -> Option<Strategy> {
        Self::ALL.iter().copied().find(|s| s.name() == name)
    }

    /// "multiplicative, additive, ...": for error messages.
    pub fn names() -> String {
        Self::ALL.iter().map(|s| s.name()).collect::<Vec<_>>().join(", ")
    }
}

/// Records a completed interval: into the shared ring, then into every
/// compiled strategy's state.
pub fn observe_all(state: &mut StrategyState, sample: &IntervalSample, settings: &Settings) {
    state.ring.push(*sample);
    for strategy in Strategy::ALL {
        strategy.observe(state, sample, settings);
    }
}

#[cfg(test)]
#[path = "compiled/growth_evidence_tests.rs"]
mod growth_evidence_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &strategy in Strategy::ALL {
            assert_eq!(Strategy::from_name(strategy.name()), Some(strategy));
        }
        assert_eq!(
            Strategy::ALL[0],
            Strategy::Multiplicative(crate::Multiplicative),
            "the default comes first"
        );
        assert_eq!(Strategy::from_name("no-such-strategy"), None);
        assert!(Strategy::names().starts_with("multiplicative"));
    }
}
