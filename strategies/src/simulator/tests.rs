//! The simulator's own checks, and the targets for the strategies.

use super::*;
use crate::{Action, Observation};

fn run(strategy: Option<Strategy>, trace: &Trace) -> Summary {
    simulate(strategy, trace, &Scenario::default())
}

#[test]
fn the_oracle_never_forces_a_checkpoint() {
    for trace in standard_traces() {
        let oracle = run(None, &trace);
        assert_eq!(oracle.forced_total, 0, "{}", trace.name);
        assert!((oracle.mean_size_ratio - 1.0).abs() < 1e-9);
    }
}

#[test]
fn a_static_default_size_does_force_checkpoints() {
    // The model is not trivially quiet: 1 GB cannot hold 1800 MB per interval.
    let trace = &standard_traces()[0];
    let scenario = Scenario {
        settings: Settings {
            max_size_mb: 1024,
            ..Settings::default()
        },
        ..Scenario::default()
    };
    assert!(simulate(Some(Strategy::Multiplicative(crate::Multiplicative)), trace, &scenario).forced_total > 40);
}

#[test]
fn manual_checkpoints_never_grow_any_strategy() {
    let noise = standard_traces()
        .into_iter()
        .find(|t| t.name == "checkpoint_noise")
        .unwrap();
    for &strategy in Strategy::ALL {
        for threshold in [1, 2, 6] {
            let scenario = Scenario {
                settings: Settings {
                    threshold,
                    ..Settings::default()
                },
                ..Scenario::default()
            };
            let s = simulate(Some(strategy), &noise, &scenario);
            let grew = s.steps.windows(2).filter(|w| w[1].size_mb > w[0].size_mb).count();
            assert_eq!(
                grew,
                0,
                "{} grew on manual CHECKPOINTs at threshold {threshold}",
                strategy.name()
            );
        }
    }
}

#[test]
fn limits_hold_on_every_trace() {
    let settings = Settings::default();
    for trace in standard_traces() {
        for &strategy in Strategy::ALL {
            let s = run(Some(strategy), &trace);
            for step in &s.steps {
                assert!(
                    step.size_mb <= settings.ceiling_mb().max(1024),
                    "{} {} {step:?}",
                    trace.name,
                    s.strategy
                );
                assert!(
                    step.size_mb >= settings.absolute_floor_mb(),
                    "{} {} {step:?}",
                    trace.name,
                    s.strategy
                );
            }
            let hourly = s
                .steps
                .windows(12)
                .map(|w| w.iter().filter(|s| s.changed).count())
                .max()
                .unwrap_or(0);
            assert!(
                hourly <= 4,
                "{} {}: {hourly} changes in an hour",
                trace.name,
                s.strategy
            );
        }
    }
}

/// The targets for the best strategy: at most one interval with
/// forced checkpoints per load step, a mean size at most 1.3x the oracle's,
/// and at most two config changes per load change (where the trace has
/// discrete load changes; diurnal and ramp change continuously).
#[cfg(feature = "adaptive")]
#[test]
fn adaptive_meets_the_targets() {
    for trace in standard_traces() {
        let s = run(Some(Strategy::Adaptive(crate::sizing::adaptive::Adaptive)), &trace);
        assert!(
            s.max_loud_intervals_per_change <= 1,
            "{}: {} loud intervals after a change",
            trace.name,
            s.max_loud_intervals_per_change
        );
        assert!(
            s.mean_size_ratio <= 1.3,
            "{}: mean size {:.2} x oracle",
            trace.name,
            s.mean_size_ratio
        );
        if trace.changes.len() > 1 {
            assert!(
                s.max_changes_per_change <= 2,
                "{}: {} changes after a load change",
                trace.name,
                s.max_changes_per_change
            );
        }
    }
}

#[cfg(feature = "adaptive")]
#[test]
fn continuous_loads_force_no_checkpoint_with_adaptive() {
    for trace in standard_traces()
        .into_iter()
        .filter(|t| t.name == "diurnal" || t.name == "slow_ramp")
    {
        assert_eq!(
            run(Some(Strategy::Adaptive(crate::sizing::adaptive::Adaptive)), &trace).forced_total,
            0,
            "{}",
            trace.name
        );
    }
}

#[test]
fn no_strategy_grows_past_a_small_wal_disk() {
    use crate::disk::{DiskLimit, DiskReading};
    // 2 GB usable on pg_wal's filesystem at the default fraction: 512 MB,
    // far below what the standard traces want (and below walrus.min_size).
    let reading = DiskReading {
        available_bytes: 2048.0 * BYTES_PER_MB,
        ..Default::default()
    };
    let ceiling_mb = reading.ceiling_mb(0.25, 16);
    assert_eq!(ceiling_mb, 512);
    let scenario = Scenario {
        settings: Settings {
            disk: DiskLimit::Measured {
                reading,
                fraction: 0.25,
                ceiling_mb,
                held_at_mb: None,
            },
            ..Settings::default()
        },
        start_size_mb: 64,
        ..Scenario::default()
    };
    for trace in standard_traces() {
        for &strategy in Strategy::ALL {
            let s = simulate(Some(strategy), &trace, &scenario);
            let peak = s.steps.iter().map(|step| step.size_mb).max().unwrap_or(0);
            assert!(peak <= ceiling_mb, "{} {}: {peak} MB", trace.name, s.strategy);
        }
    }
}

#[test]
fn a_decision_the_disk_caps_names_it_with_its_numbers() {
    use crate::disk::{DiskLimit, DiskReading};
    let reading = DiskReading {
        available_bytes: 1000.0 * BYTES_PER_MB,
        ..Default::default()
    };
    let disk = DiskLimit::Measured {
        reading,
        fraction: 0.25,
        ceiling_mb: 240,
        held_at_mb: None,
    };
    let obs = Observation {
        current_size_mb: 64,
        forced_checkpoints: 10,
        interval_secs: 300.0,
        ..Default::default()
    };
    let capped = |disk| {
        let settings = Settings {
            disk,
            ..Settings::default()
        };
        Strategy::Multiplicative(crate::Multiplicative).decide_bounded(&obs, &settings, &StrategyState::default())
    };
    let d = capped(disk);
    assert_eq!((d.action, d.new_size_mb), (Action::Capped, 240));
    assert!(
        d.reason.contains("capped at the WAL disk ceiling (240 MB)"),
        "{}",
        d.reason
    );
    assert!(
        d.reason.contains("25 % of 1000 MB usable on pg_wal's filesystem"),
        "{}",
        d.reason
    );
    assert_eq!(
        (
            d.metadata["limited_by"].as_str(),
            d.metadata["disk"]["ceiling_mb"].as_i64()
        ),
        (Some("disk"), Some(240))
    );
    // Unmeasured: no growth at all, and it says why.
    let d = capped(DiskLimit::Unmeasured);
    assert_eq!(d.action, Action::None);
    assert!(d.reason.contains("the WAL disk cannot be measured"), "{}", d.reason);
    // The guard off: walrus.max caps as before.
    let d = Strategy::Multiplicative(crate::Multiplicative).decide_bounded(
        &Observation {
            current_size_mb: 2048,
            ..obs
        },
        &Settings::default(),
        &StrategyState::default(),
    );
    assert_eq!(
        (d.action, d.metadata["limited_by"].as_str()),
        (Action::Capped, Some("walrus.max"))
    );
    assert!(
        d.reason.contains("capped at walrus.max (4096 MB)") && !d.reason.contains("disk"),
        "{}",
        d.reason
    );
}

/// The benchmark's storm: pgbench from 64 MB at a 30 s timeout, its WAL
/// inflated by the full-page images every forced checkpoint starts over.
/// With the image counts, adaptive's and percentile's first size is within
/// 1.5x the oracle's and no interval after it forces a checkpoint; without
/// them (the negative control) they size for the storm and miss that.
#[cfg(all(feature = "adaptive", feature = "percentile"))]
#[test]
fn a_storm_is_sized_for_its_load_not_for_its_page_images() {
    let trace = pgbench_storm(12);
    for strategy in [
        Strategy::Adaptive(crate::sizing::adaptive::Adaptive),
        Strategy::Percentile(crate::sizing::percentile::Percentile),
    ] {
        for evidence in [true, false] {
            let scenario = Scenario {
                settings: Settings {
                    checkpoint_timeout_secs: 30.0,
                    min_size_mb: 64,
                    ..Settings::default()
                },
                start_size_mb: 64,
                full_page_evidence: evidence,
                ..Scenario::default()
            };
            let s = simulate(Some(strategy), &trace, &scenario);
            let oracle = s.steps[0].oracle_mb;
            let grown = s.steps.iter().position(|step| step.changed).expect("a first decision");
            assert_eq!(grown, 0, "{}: the storm's interval decides", s.strategy);
            let first = s.steps[1].size_mb;
            let ratio = f64::from(first) / f64::from(oracle);
            let later_forced: i64 = s.steps[1..].iter().map(|step| step.forced).sum();
            if evidence {
                assert!(
                    (1.0..=1.5).contains(&ratio),
                    "{}: {first} MB against {oracle} MB",
                    s.strategy
                );
                assert_eq!(later_forced, 0, "{}: {:?}", s.strategy, s.steps);
            } else {
                // The model's storm is milder than the real one (1.9x the
                // WAL here, 3.7x on the benchmark's server): enough to miss.
                assert!(ratio > 1.5, "{}: {first} MB against {oracle} MB", s.strategy);
            }
        }
    }
}
