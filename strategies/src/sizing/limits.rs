//! Limits every strategy obeys on the way from a wanted size to a decision.

use serde_json::json;

use crate::{Action, Decision, Settings};

/// Clamps a size computed in wide arithmetic into PostgreSQL's `int` range of
/// MB. Negative values (which no formula should produce) become 0 so that the
/// callers' "never lower" checks reject them.
pub fn saturating_size_mb(value: i64) -> i32 {
    value.clamp(0, i64::from(i32::MAX)) as i32
}

/// How a wanted growth fits under `walrus.max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrowOutcome {
    /// Grow to the wanted size.
    Grow(i32),
    /// The wanted size is above `walrus.max`: grow to `walrus.max` only.
    Capped(i32),
    /// Already at or above `walrus.max`: the grow path never lowers a size,
    /// so a DBA's value above `walrus.max` stays.
    AtCeiling,
    /// The wanted size is not larger than the current one.
    NotLarger,
}

/// Applies the growth rules shared by all strategies: never above `walrus.max`,
/// never lower than the current size.
pub fn bounded_grow(current_mb: i32, wanted_mb: i32, max_mb: i32) -> GrowOutcome {
    if wanted_mb <= current_mb {
        GrowOutcome::NotLarger
    } else if current_mb >= max_mb {
        GrowOutcome::AtCeiling
    } else if wanted_mb > max_mb {
        GrowOutcome::Capped(max_mb)
    } else {
        GrowOutcome::Grow(wanted_mb)
    }
}

/// Says what set the ceiling of a decision that met it (a capped growth, or
/// a growth the ceiling left no room for): `limited_by` in the metadata and,
/// when it is the WAL disk, the measurement in the reason and under `disk`.
pub fn annotate_ceiling(decision: &mut Decision, settings: &Settings) {
    if decision.action != Action::Capped && !decision.blocked_at_ceiling() {
        return;
    }
    if !decision.metadata.is_object() {
        decision.metadata = json!({});
    }
    if settings.limited_by_disk() {
        let (clause, disk) = settings.disk.explain();
        decision.reason = format!("{} ({clause})", decision.reason);
        decision.metadata["limited_by"] = json!("disk");
        decision.metadata["disk"] = disk;
    } else {
        decision.metadata["limited_by"] = json!("walrus.max");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_both_ways() {
        assert_eq!(saturating_size_mb(i64::MAX), i32::MAX);
        assert_eq!(saturating_size_mb(i64::from(i32::MAX) + 1), i32::MAX);
        assert_eq!(saturating_size_mb(-5), 0);
        assert_eq!(saturating_size_mb(4096), 4096);
    }

    #[test]
    fn grow_rules() {
        let cases = [
            // current, wanted, max, outcome
            (1024, 4096, 8192, GrowOutcome::Grow(4096)),
            (1024, 4096, 4096, GrowOutcome::Grow(4096)),
            (1024, 8192, 4096, GrowOutcome::Capped(4096)),
            (4096, 8192, 4096, GrowOutcome::AtCeiling),
            (8192, 16384, 4096, GrowOutcome::AtCeiling),
            (1024, 1024, 4096, GrowOutcome::NotLarger),
            (1024, 512, 4096, GrowOutcome::NotLarger),
        ];
        for (current, wanted, max, expected) in cases {
            assert_eq!(
                bounded_grow(current, wanted, max),
                expected,
                "{current} -> {wanted} (max {max})"
            );
        }
    }

    #[test]
    fn grow_never_lowers_and_never_passes_max() {
        for current in [2, 64, 1000, 4096, 9000, i32::MAX] {
            for wanted in [0, 1, 64, 4095, 4096, 4097, 100_000, i32::MAX] {
                for max in [2, 64, 4096, i32::MAX] {
                    match bounded_grow(current, wanted, max) {
                        GrowOutcome::Grow(n) | GrowOutcome::Capped(n) => {
                            assert!(n > current, "lowered {current} to {n}");
                            assert!(n <= max, "{n} above max {max}");
                        }
                        GrowOutcome::AtCeiling | GrowOutcome::NotLarger => {}
                    }
                }
            }
        }
    }
}
