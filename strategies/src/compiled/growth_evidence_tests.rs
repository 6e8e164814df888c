//! No strategy grows on an interval that does not call for it
//! (`evidence::calls_for_growth`), whatever its formula says; the same
//! interval with forced checkpoints, or WAL at a pace that can force one,
//! does grow them.

use crate::evidence::state::IntervalSample;
use crate::evidence::{BYTES_PER_MB, growth_pace_bytes};
use crate::{Action, Observation, Settings, SizingStrategy, Strategy, StrategyState, observe_all};

fn settings() -> Settings {
    Settings {
        checkpoint_timeout_secs: 30.0,
        min_size_mb: 32,
        ..Settings::default()
    }
}

fn interval(size_mb: i32, wal_mb: f64, forced: i64) -> Observation {
    Observation {
        current_size_mb: size_mb,
        forced_checkpoints: forced,
        requested_checkpoints: forced,
        timed_checkpoints: 1,
        wal_bytes: wal_mb * BYTES_PER_MB,
        interval_secs: 30.0,
        quiet_intervals: 0,
        full_pages: None,
    }
}

/// Each strategy's state after `history` (one sample per interval), and its
/// bounded decision (`gated`) or its own (`raw`) on `last`.
fn decide(strategy: Strategy, history: &[Observation], last: &Observation, gated: bool) -> Action {
    let s = settings();
    let mut state = StrategyState::default();
    for obs in history.iter().chain([last]) {
        observe_all(&mut state, &IntervalSample::of(obs, &s), &s);
    }
    if gated {
        strategy.decide_bounded(last, &s, &state).action
    } else {
        strategy.decide(last, &s, &state).action
    }
}

#[test]
fn an_idle_interval_grows_no_strategy() {
    // Idle servers of every size: nothing, a little WAL, and just short of
    // the pace that can force a checkpoint; with and without a history.
    for size in [32, 64, 96, 1024] {
        let short_of_pace = growth_pace_bytes(size, &settings()) / BYTES_PER_MB - 0.5;
        for wal in [0.0, 1.0, short_of_pace.max(0.0)] {
            for history in [vec![], vec![interval(size, wal, 0); 5]] {
                for &strategy in Strategy::ALL {
                    let action = decide(strategy, &history, &interval(size, wal, 0), true);
                    assert!(
                        !matches!(action, Action::Increase | Action::Capped),
                        "{} grew at {size} MB on {wal} MB and no forced checkpoint",
                        strategy.name()
                    );
                }
            }
        }
    }
}

#[test]
fn the_danger_is_real_without_the_gate() {
    // The new user: adaptive and percentile on one idle interval at
    // 64 MB (1 MB of WAL) wanted to grow, and their change started the
    // cooldown that held the storm's answer back.
    for &strategy in Strategy::ALL {
        if matches!(strategy.name(), "adaptive" | "percentile") {
            let raw = decide(strategy, &[], &interval(64, 1.0, 0), false);
            assert_eq!(raw, Action::Increase, "{}", strategy.name());
            let gated = decide(strategy, &[], &interval(64, 1.0, 0), true);
            assert_eq!(gated, Action::None, "{}", strategy.name());
        }
    }
}

#[test]
fn forced_checkpoints_at_the_threshold_still_grow_every_strategy() {
    let s = settings();
    for &strategy in Strategy::ALL {
        // A storm: 400 MB in the interval at 64 MB, 24 WAL-explained forced
        // checkpoints.
        let action = decide(strategy, &[], &interval(64, 400.0, 24), true);
        assert!(
            matches!(action, Action::Increase | Action::Capped),
            "{} did not grow in a storm",
            strategy.name()
        );
        // One under the threshold, at a pace that forces none: kept.
        let calm = interval(1024, 10.0, i64::from(s.threshold) - 1);
        assert!(!matches!(
            decide(strategy, &[], &calm, true),
            Action::Increase | Action::Capped
        ));
    }
}

#[test]
fn a_pace_that_can_force_a_checkpoint_lets_wal_based_strategies_grow() {
    // At 1 GB the trigger distance is 512 MB (32 segments at the default
    // completion target); 500 MB an interval can force one (the redo point
    // may sit at its segment's end), though none was forced yet.
    let s = settings();
    let pace = growth_pace_bytes(1024, &s) / BYTES_PER_MB;
    assert_eq!(pace, 496.0);
    for &strategy in Strategy::ALL {
        if matches!(strategy.name(), "adaptive" | "percentile") {
            let action = decide(strategy, &[], &interval(1024, 500.0, 0), true);
            assert_eq!(action, Action::Increase, "{}", strategy.name());
        }
    }
}
