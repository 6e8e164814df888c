//! Steering toward sizes derived from WAL volume: the shared decision rule of
//! the WAL-based strategies (adaptive, percentile). A strategy supplies two
//! needs, each a size from `evidence::size_for_wal_mb`:
//!
//! - `grow_need`: what the load may need now. As soon as it exceeds the
//!   current size, grow to it plus [`HEADROOM`]: a shortfall means the next
//!   interval can force checkpoints, and the headroom means a load has to rise
//!   by 10 % before the config is rewritten again (so a ramp costs a change per
//!   10 % of growth, well within the rate limits). Safety is already in the
//!   need (`size_for_wal_mb`); the headroom only trades size for fewer
//!   changes. Simulated: 15 % made 13 changes over the diurnal day and a mean
//!   size of 1.31x the oracle on batch spikes; 10 % makes 17 and 1.28x.
//! - `shrink_need`: what the recent quiet intervals needed. After
//!   `walrus.shrink_intervals` quiet intervals, shrink straight to it plus the
//!   same headroom when that is at least 20 % below the current size (smaller
//!   savings are not worth a change). Straight, not in `walrus.shrink_factor`
//!   steps: the strategy knows the size the load needs, and stepping down
//!   would keep disk for many intervals and cost a change per step.
//!
//! Always within the shared limits (ceiling, floor).

use serde_json::{Value, json};

use crate::sizing::limits::{GrowOutcome, bounded_grow, saturating_size_mb};
use crate::{Action, Decision, Observation, Settings};

/// Room kept above a need, as a factor.
pub const HEADROOM: f64 = 1.10;
const SHRINK_WORTH: f64 = 0.80;

fn with_headroom(need_mb: i32) -> i32 {
    saturating_size_mb((f64::from(need_mb) * HEADROOM).ceil() as i64)
}

pub fn steer(
    obs: &Observation,
    settings: &Settings,
    grow_need_mb: i32,
    shrink_need_mb: i32,
    mut metadata: Value,
    basis: &str,
) -> Decision {
    let current = obs.current_size_mb;
    metadata["grow_need_mb"] = json!(grow_need_mb);
    metadata["shrink_need_mb"] = json!(shrink_need_mb);
    if grow_need_mb > current {
        let target = with_headroom(grow_need_mb);
        let reason = format!("{basis}: needs {grow_need_mb} MB, growing with 10 % headroom");
        let (action, new_size, reason) = match bounded_grow(current, target, settings.ceiling_mb()) {
            GrowOutcome::Grow(n) => (Action::Increase, n, reason),
            GrowOutcome::Capped(n) => (
                Action::Capped,
                n,
                format!("{reason}; capped at {} ({n} MB)", settings.ceiling_name()),
            ),
            GrowOutcome::AtCeiling => (
                Action::None,
                current,
                format!(
                    "{basis}: needs {grow_need_mb} MB, but already at {} ({} MB)",
                    settings.ceiling_name(),
                    settings.ceiling_mb()
                ),
            ),
            GrowOutcome::NotLarger => (Action::None, current, reason),
        };
        return Decision {
            action,
            old_size_mb: current,
            new_size_mb: new_size,
            computed_size_mb: Some(target),
            reason,
            metadata,
        };
    }

    let floor = settings.shrink_floor_mb();
    let shrink_to = with_headroom(shrink_need_mb).max(floor);
    let quiet_enough = settings.shrink_enabled && obs.quiet_intervals >= settings.shrink_intervals.max(1) as u32;
    if quiet_enough && f64::from(shrink_to) <= f64::from(current) * SHRINK_WORTH {
        metadata["quiet_intervals"] = json!(obs.quiet_intervals);
        metadata["floor_mb"] = json!(floor);
        return Decision {
            action: Action::Decrease,
            old_size_mb: current,
            new_size_mb: shrink_to,
            computed_size_mb: Some(shrink_to),
            reason: format!(
                "{} quiet intervals needed {shrink_need_mb} MB; shrinking with 10 % headroom",
                obs.quiet_intervals
            ),
            metadata,
        };
    }
    let why = if !quiet_enough {
        format!(
            "{} of {} quiet intervals before shrinking",
            obs.quiet_intervals, settings.shrink_intervals
        )
    } else {
        "a shrink would save less than 20 %".to_owned()
    };
    let mut decision = Decision::keep(
        current,
        format!("{basis}: needs {grow_need_mb} MB, has {current} MB; {why}"),
        metadata,
    );
    decision.computed_size_mb = Some(grow_need_mb);
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(current: i32, quiet: u32) -> Observation {
        Observation {
            current_size_mb: current,
            interval_secs: 300.0,
            quiet_intervals: quiet,
            ..Default::default()
        }
    }

    #[test]
    fn steering_table() {
        let s = Settings {
            min_size_mb: 64,
            ..Settings::default()
        };
        // current, quiet, grow need, shrink need, expected action, expected size
        let cases = [
            (1024, 0, 2048, 2048, Action::Increase, 2253), // ceil(2048 x 1.10)
            (1024, 0, 1025, 1025, Action::Increase, 1128), // any shortfall grows
            (1024, 0, 1024, 1024, Action::None, 1024),
            (1024, 0, 9000, 9000, Action::Capped, 4096),
            (4096, 0, 9000, 9000, Action::None, 4096),
            (2048, 5, 500, 500, Action::Decrease, 550), // quiet long enough: straight to the need
            (2048, 4, 500, 500, Action::None, 2048),    // not quiet long enough
            (2048, 5, 1500, 1500, Action::None, 2048),  // 1650 saves less than 20 %
            (2048, 5, 10, 10, Action::Decrease, 80),    // never below the floor (min_wal_size 80 MB)
        ];
        for (current, quiet, grow, shrink, action, size) in cases {
            let d = steer(&obs(current, quiet), &s, grow, shrink, json!({}), "test");
            assert_eq!(
                (d.action, d.new_size_mb),
                (action, size),
                "{current} {quiet} {grow} {shrink}: {}",
                d.reason
            );
        }
    }
}
