//! The shrink rule shared by the strategies that give disk back.
//!
//! After `walrus.shrink_intervals` quiet intervals in a row:
//! `new = max(ceil(current × walrus.shrink_factor), floor)`, applied only when
//! smaller than the current size.

use serde_json::{Value, json};

use crate::limits::saturating_size_mb;
use crate::{Action, Decision, Observation, Settings};

/// The shrink decision for a quiet interval, or `None` when the rule does
/// not shrink (disabled, not enough quiet intervals, already at the floor).
/// The reason for `None` is returned so a recommendation can say why.
pub fn shrink(obs: &Observation, settings: &Settings, mut metadata: Value) -> Result<Decision, String> {
    let current = obs.current_size_mb;
    if !settings.shrink_enabled {
        return Err("shrinking is disabled (walrus.shrink_enable)".to_owned());
    }
    let needed = settings.shrink_intervals.max(1) as u32;
    if obs.quiet_intervals < needed {
        return Err(format!("{} of {needed} quiet intervals before shrinking", obs.quiet_intervals));
    }
    let factor = settings.shrink_factor;
    // The GUC range is 0.01..0.99; anything else (NaN included) never shrinks.
    if !(factor > 0.0 && factor < 1.0) {
        return Err(format!("shrink factor {factor} is not between 0 and 1"));
    }
    let floor = settings.shrink_floor_mb();
    let scaled = saturating_size_mb((f64::from(current) * factor).ceil() as i64);
    let target = scaled.max(floor);
    if target >= current {
        return Err(format!("already at the shrink floor ({floor} MB)"));
    }
    metadata["quiet_intervals"] = json!(obs.quiet_intervals);
    metadata["shrink_factor"] = json!(factor);
    metadata["floor_mb"] = json!(floor);
    let reason = if target == floor && scaled < floor {
        format!("{} quiet intervals; shrinking to the floor ({floor} MB)", obs.quiet_intervals)
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
        Observation { current_size_mb: current, interval_secs: 300.0, quiet_intervals, ..Default::default() }
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
            let got = shrink(&quiet(current, quiet_intervals), &s, json!({})).ok().map(|d| d.new_size_mb);
            assert_eq!(got, expected, "{current} MB after {quiet_intervals} quiet intervals");
        }
    }

    #[test]
    fn bad_factors_never_shrink() {
        for factor in [f64::NAN, 0.0, 1.0, 1.5, -0.5, f64::INFINITY] {
            let s = Settings { shrink_factor: factor, ..Settings::default() };
            assert!(shrink(&quiet(4096, 10), &s, json!({})).is_err(), "factor {factor}");
        }
    }

    #[test]
    fn disabled_never_shrinks() {
        let s = Settings { shrink_enabled: false, ..Settings::default() };
        let why = shrink(&quiet(4096, 10), &s, json!({})).unwrap_err();
        assert!(why.contains("disabled"), "{why}");
    }

    #[test]
    fn never_below_floor_always_smaller() {
        for current in [2, 32, 100, 1024, 1025, 5000, i32::MAX] {
            for factor in [0.01, 0.5, 0.75, 0.99] {
                for min_size in [2, 64, 1024, 8192] {
                    let s = Settings { shrink_factor: factor, min_size_mb: min_size, ..Settings::default() };
                    if let Ok(d) = shrink(&quiet(current, 5), &s, json!({})) {
                        assert!(d.new_size_mb < current && d.new_size_mb >= s.shrink_floor_mb(), "{d:?}");
                    }
                }
            }
        }
    }
}
