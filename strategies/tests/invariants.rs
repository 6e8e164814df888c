//! Property tests: whatever the settings (with walrus.max at or above the
//! floor), the observation and the history, every compiled strategy keeps
//! the shared limits.

use proptest::prelude::*;
use walrus_strategies::disk::{DiskLimit, DiskReading};
use walrus_strategies::evidence::BYTES_PER_MB;
use walrus_strategies::{
    Action, IntervalSample, Observation, Settings, SizingStrategy, Strategy as Compiled, StrategyState, observe_all,
};

fn settings() -> impl Strategy<Value = Settings> {
    (
        1i32..=1000,
        prop_oneof![Just(1i32), Just(16), Just(64), Just(1024)],
        2i32..=200_000,
        0.01f64..=0.99,
        1i32..=20,
        2i32..=50_000,
        (0.0f64..=1.0, 16i32..=100_000, 0.01f64..=1.0, 50.0f64..=100.0),
    )
        .prop_map(
            |(threshold, segment, max, factor, intervals, min_size, (cct, increment, alpha, pct))| Settings {
                threshold,
                max_size_mb: max,
                shrink_enabled: true,
                shrink_factor: factor,
                shrink_intervals: intervals,
                min_size_mb: min_size,
                min_wal_size_mb: 32,
                wal_segment_mb: segment,
                checkpoint_timeout_secs: 300.0,
                checkpoint_completion_target: cct,
                additive_increment_mb: increment,
                ema_alpha: alpha,
                target_percentile: pct,
                disk: DiskLimit::Off,
            },
        )
        // The invariants hold where walrus.max is at or above the floor.
        .prop_filter("walrus.max below the floor", |s| s.ceiling_mb() >= s.shrink_floor_mb())
}

/// The strategies' state after `history` (WAL MB, forced checkpoints per
/// full interval).
fn state_after(history: &[(f64, i64)], s: &Settings) -> StrategyState {
    let mut state = StrategyState::default();
    for &(wal_mb, forced) in history {
        let sample = IntervalSample {
            wal_bytes: wal_mb * BYTES_PER_MB,
            interval_secs: 300.0,
            forced,
            requested: forced,
            ..Default::default()
        };
        observe_all(&mut state, &sample, s);
    }
    state
}

/// A full interval at `current` MB with this many forced checkpoints and MB of WAL.
fn interval(current: i32, forced: i64, wal_mb: f64, quiet: u32) -> Observation {
    Observation {
        current_size_mb: current,
        forced_checkpoints: forced,
        requested_checkpoints: forced,
        wal_bytes: wal_mb * BYTES_PER_MB,
        interval_secs: 300.0,
        quiet_intervals: quiet,
        ..Default::default()
    }
}

/// The guard off, unmeasured, or a measurement of any size (with or without
/// a hold after a clamp), its ceiling computed as the extension does.
fn disk_limit(segment_mb: i32) -> impl Strategy<Value = DiskLimit> {
    let measured = (
        0.0f64..1e13,
        0.0f64..1e12,
        0.0f64..1e12,
        0.0f64..=1.0,
        proptest::option::of(2i32..=200_000),
    )
        .prop_map(move |(available, pg_wal, retained, fraction, held)| {
            let reading = DiskReading {
                available_bytes: available,
                pg_wal_bytes: pg_wal,
                retained_bytes: retained,
            };
            let ceiling_mb = reading.ceiling_mb(fraction, segment_mb);
            DiskLimit::Measured {
                reading,
                fraction,
                ceiling_mb,
                held_at_mb: held,
            }
        });
    prop_oneof![Just(DiskLimit::Off), Just(DiskLimit::Unmeasured), measured]
}

proptest! {
    #[test]
    fn no_strategy_grows_past_the_disk(
        base in settings(),
        disk in disk_limit(16),
        current in 2i32..=300_000,
        forced in 0i64..=50,
        history in proptest::collection::vec((0.0f64..=100_000.0, 0i64..=20), 0..20),
    ) {
        let s = Settings { wal_segment_mb: 16, disk, ..base };
        let state = state_after(&history, &s);
        let obs = interval(current, forced, 50_000.0, 0);
        // The disk's limit, never below the two-segment floor.
        let limit = disk.growth_limit_mb().map(|d| d.max(s.absolute_floor_mb()));
        for &strategy in Compiled::ALL {
            let d = strategy.decide(&obs, &s, &state);
            if matches!(d.action, Action::Increase | Action::Capped) {
                prop_assert!(d.new_size_mb <= s.ceiling_mb(), "{} above the ceiling: {:?}", strategy.name(), d);
                if let Some(limit) = limit {
                    prop_assert!(d.new_size_mb <= limit, "{} grew past the disk ({}): {:?}", strategy.name(), limit, d);
                }
            }
        }
    }

    #[test]
    fn every_strategy_keeps_the_limits(
        s in settings(),
        current in 2i32..=300_000,
        forced in 0i64..=50,
        quiet in 0u32..=30,
        history in proptest::collection::vec((0.0f64..=100_000.0, 0i64..=20), 0..80),
        wal_mb in 0.0f64..=100_000.0,
    ) {
        let state = state_after(&history, &s);
        let obs = interval(current, forced, wal_mb, quiet);
        for &strategy in Compiled::ALL {
            let d = strategy.decide(&obs, &s, &state);
            let name = strategy.name();
            prop_assert_eq!(d.old_size_mb, current);
            match d.action {
                Action::Increase | Action::Capped => {
                    prop_assert!(d.new_size_mb > current, "{} lowered on the grow path: {:?}", name, d);
                    prop_assert!(d.new_size_mb <= s.ceiling_mb(), "{} above walrus.max: {:?}", name, d);
                }
                Action::Decrease => {
                    prop_assert!(d.new_size_mb < current, "{} grew on the shrink path: {:?}", name, d);
                    prop_assert!(d.new_size_mb >= s.shrink_floor_mb(), "{} below the floor: {:?}", name, d);
                }
                Action::None => prop_assert_eq!(d.new_size_mb, current),
            }
            let confidence = strategy.confidence(&Default::default(), &state);
            prop_assert!(confidence <= 100);
        }
    }
}
