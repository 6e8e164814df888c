//! The shrink rule shared by the strategies that give disk back.
//!
//! After `walrus.shrink_intervals` quiet intervals in a row:
//! `new = max(ceil(current × walrus.shrink_factor), floor, wal_need)`, applied
//! only when smaller than the current size, where `wal_need` is what the
//! busiest of those intervals' WAL needs (`evidence::size_for_wal_mb`).
//!
//! The WAL guard is pg_walrus's addition to the plain shrink-when-quiet rule. "Quiet" means
//! fewer than `walrus.threshold` forced checkpoints, so without it a steady
//! load that needs 3.5 GB shrinks from 4 GB to 3 GB, forces one checkpoint
//! per interval there (still "quiet" at the default threshold of 2), shrinks
//! again, forces two, grows back: a saw-tooth the simulator showed on every
//! trace with a steady load.

use serde_json::{Value, json};

use crate::evidence::state::StrategyState;
use crate::evidence::{size_for_wal_mb, wal_per_timeout};
use crate::sizing::limits::saturating_size_mb;
use crate::{Action, Decision, Observation, Settings};

/// What the busiest of the last `walrus.shrink_intervals` intervals (this one
/// included) needs: a shrink below it would bring forced checkpoints back.
pub fn recent_wal_need_mb(obs: &Observation, settings: &Settings, state: &StrategyState) -> i32 {
    let window = settings.shrink_intervals.max(1) as usize;
    let last = wal_per_timeout(obs.sizing_wal_bytes(settings), obs.interval_secs, settings);
    let peak = state
        .ring
        .iter()
        .rev()
        .take(window)
        .map(|s| wal_per_timeout(s.sizing_wal_bytes(), s.interval_secs, settings))
        .fold(last, f64::max);
    size_for_wal_mb(peak, settings)
}

/// The shrink decision for a quiet interval, or `None` when the rule does
/// not shrink (disabled, not enough quiet intervals, already at the floor).
/// The reason for `None` is returned so a recommendation can say why.
pub fn shrink(
    obs: &Observation,
    settings: &Settings,
    wal_need_mb: i32,
    mut metadata: Value,
) -> Result<Decision, String> {
    let current = obs.current_size_mb;
    if !settings.shrink_enabled {
        return Err("shrinking is disabled (walrus.shrink_enable)".to_owned());
    }
    let needed = settings.shrink_intervals.max(1) as u32;
    if obs.quiet_intervals < needed {
        return Err(format!(
            "{} of {needed} quiet intervals before shrinking",
            obs.quiet_intervals
        ));
    }
    let factor = settings.shrink_factor;
    // The GUC range is 0.01..0.99; anything else (NaN included) never shrinks.
    if !(factor > 0.0 && factor < 1.0) {
        return Err(format!("shrink factor {factor} is not between 0 and 1"));
    }
    let floor = settings.shrink_floor_mb();
    let scaled = saturating_size_mb((f64::from(current) * factor).ceil() as i64);
    let target = scaled.max(floor).max(wal_need_mb);
    if target >= current {
        return Err(if wal_need_mb >= current && wal_need_mb > floor {
            format!("the recent intervals' WAL needs {wal_need_mb} MB")
        } else {
            format!("already at the shrink floor ({floor} MB)")
        });
    }
    metadata["quiet_intervals"] = json!(obs.quiet_intervals);
    metadata["shrink_factor"] = json!(factor);
    metadata["floor_mb"] = json!(floor);
    metadata["wal_need_mb"] = json!(wal_need_mb);
    let reason = if target == wal_need_mb && scaled < wal_need_mb && wal_need_mb > floor {
        format!(
            "{} quiet intervals; shrinking to what their WAL needs ({wal_need_mb} MB)",
            obs.quiet_intervals
        )
    } else if target == floor && scaled < floor {
        format!(
            "{} quiet intervals; shrinking to the floor ({floor} MB)",
            obs.quiet_intervals
        )
    } else {
        format!("{} quiet intervals; shrinking by factor {factor}", obs.quiet_intervals)
    };
    Ok(Decision {
        action: Action::Decrease,
        old_size_mb: current,
        new_size_mb: target,
        computed_size_mb: Some(scaled),
        reason,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(current: i32, quiet_intervals: u32) -> Observation {
        Observation {
            current_size_mb: current,
            interval_secs: 300.0,
            quiet_intervals,
            ..Default::default()
        }
    }

    #[test]
    fn shrink_table() {
        let s = Settings::default(); // factor 0.75, 5 intervals, floor 1024
        // current, quiet, expected new size (None: no shrink)
        let cases = [
            (4096, 5, Some(3072)),
            (4096, 9, Some(3072)),
            (4096, 4, None),
            (1100, 5, Some(1024)), // ceil(825) is below the floor: the floor
            (1024, 5, None),       // at the floor
            (800, 5, None),        // below the floor already: never grows on the shrink path
            (1365, 5, Some(1024)), // ceil(1023.75) = 1024
            (1367, 5, Some(1026)), // ceil(1025.25)
        ];
        for (current, quiet_intervals, expected) in cases {
            let got = shrink(&quiet(current, quiet_intervals), &s, 0, json!({}))
                .ok()
                .map(|d| d.new_size_mb);
            assert_eq!(got, expected, "{current} MB after {quiet_intervals} quiet intervals");
        }
    }

    #[test]
    fn never_shrinks_below_what_the_wal_needs() {
        let s = Settings::default();
        // 4096 x 0.75 = 3072, but the quiet intervals wrote 1800 MB each: 3496 MB.
        let d = shrink(&quiet(4096, 5), &s, 3496, json!({})).unwrap();
        assert_eq!(d.new_size_mb, 3496);
        assert!(d.reason.contains("what their WAL needs"), "{}", d.reason);
        let why = shrink(&quiet(3496, 5), &s, 3496, json!({})).unwrap_err();
        assert!(why.contains("WAL needs 3496 MB"), "{why}");
    }

    #[test]
    fn the_wal_need_comes_from_the_busiest_recent_interval() {
        use crate::evidence::BYTES_PER_MB;
        use crate::evidence::state::IntervalSample;
        let s = Settings {
            shrink_intervals: 3,
            ..Settings::default()
        };
        let mut state = StrategyState::default();
        for wal_mb in [5000.0, 1800.0, 100.0, 100.0] {
            state.ring.push(IntervalSample {
                wal_bytes: wal_mb * BYTES_PER_MB,
                interval_secs: 300.0,
                ..Default::default()
            });
        }
        let obs = Observation {
            wal_bytes: 100.0 * BYTES_PER_MB,
            interval_secs: 300.0,
            ..Default::default()
        };
        // The last three intervals: 1800, 100, 100 -> sized for 1800 MB (5000 is out of the window).
        assert_eq!(
            recent_wal_need_mb(&obs, &s, &state),
            size_for_wal_mb(1800.0 * BYTES_PER_MB, &s)
        );
    }

    #[test]
    fn bad_factors_never_shrink() {
        for factor in [f64::NAN, 0.0, 1.0, 1.5, -0.5, f64::INFINITY] {
            let s = Settings {
                shrink_factor: factor,
                ..Settings::default()
            };
            assert!(shrink(&quiet(4096, 10), &s, 0, json!({})).is_err(), "factor {factor}");
        }
    }

    #[test]
    fn disabled_never_shrinks() {
        let s = Settings {
            shrink_enabled: false,
            ..Settings::default()
        };
        let why = shrink(&quiet(4096, 10), &s, 0, json!({})).unwrap_err();
        assert!(why.contains("disabled"), "{why}");
    }

    #[test]
    fn never_below_floor_always_smaller() {
        for current in [2, 32, 100, 1024, 1025, 5000, i32::MAX] {
            for factor in [0.01, 0.5, 0.75, 0.99] {
                for min_size in [2, 64, 1024, 8192] {
                    let s = Settings {
                        shrink_factor: factor,
                        min_size_mb: min_size,
                        ..Settings::default()
                    };
                    if let Ok(d) = shrink(&quiet(current, 5), &s, 0, json!({})) {
                        assert!(d.new_size_mb < current && d.new_size_mb >= s.shrink_floor_mb(), "{d:?}");
                    }
                }
            }
        }
    }
}
