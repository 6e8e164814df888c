//! A storm right after a quiet spell, in the simulator: no strategy changes
//! the size on an idle interval, and a change shortly before a storm (a
//! shrink after a quiet night) does not hold the storm's answer back for
//! `walrus.cooldown_sec`. The negative control runs the rule before 0.3.0
//! (a storm's grow waits out the limits like any change).

use super::*;

fn scenario(start_size_mb: i32, storms_pass_rate_limits: bool) -> Scenario {
    Scenario {
        settings: Settings {
            checkpoint_timeout_secs: 30.0,
            min_size_mb: 64,
            shrink_intervals: 1,
            ..Settings::default()
        },
        start_size_mb,
        storms_pass_rate_limits,
        ..Scenario::default()
    }
}

#[test]
fn an_idle_interval_before_a_storm_changes_nothing_and_the_storm_is_answered_at_once() {
    // One idle 30 s interval (half a MB of WAL), then pgbench's 300 MB each.
    let trace = Trace::from_levels("idle_then_storm", &[(1, 0.5), (8, 300.0)]);
    for &strategy in Strategy::ALL {
        let run = simulate(Some(strategy), &trace, &scenario(64, true));
        let name = strategy.name();
        assert!(!run.steps[0].changed, "{name} changed the size on the idle interval");
        assert!(run.steps[1].forced > 0, "{name}: the storm forces checkpoints at 64 MB");
        assert!(run.steps[1].changed, "{name} did not answer the storm's first interval");
        assert_eq!(run.growth_without_pressure, 0, "{name}");
    }
}

#[test]
fn a_shrink_right_before_a_storm_does_not_hold_the_storms_answer_back() {
    // Quiet at 256 MB: the first quiet interval shrinks (shrink_intervals 1),
    // and the storm starts in the next one, well inside the 300 s cooldown.
    let trace = Trace::from_levels("shrink_then_storm", &[(1, 1.0), (10, 300.0)]);
    let multiplicative = Strategy::ALL[0];
    let run = simulate(Some(multiplicative), &trace, &scenario(256, true));
    assert!(
        run.steps[0].changed && run.steps[1].size_mb < 256,
        "{:?}",
        run.steps[0..2].to_vec()
    );
    assert!(
        run.steps[1].forced >= 2,
        "the storm forces checkpoints at the shrunk size"
    );
    assert!(run.steps[1].changed, "the storm's grow passed the cooldown");
    assert!(run.steps[2].size_mb > run.steps[1].size_mb);

    // Negative control: the old rule holds every grow for the cooldown's
    // ten intervals, and the storm forces checkpoints all along.
    let held = simulate(Some(multiplicative), &trace, &scenario(256, false));
    assert_eq!(held.steps[0].changed, run.steps[0].changed);
    let loud_while_held = held.steps[1..10].iter().filter(|s| s.forced > 0 && !s.changed).count();
    assert!(loud_while_held >= 8, "{:?}", held.steps);
    assert!(
        held.forced_total > 3 * run.forced_total,
        "held {} vs answered {}",
        held.forced_total,
        run.forced_total
    );
}

#[test]
fn shrinks_stay_held_by_the_limits_a_storm_grow_passed() {
    // Storm, quiet, storm, quiet, ...: every storm's grow goes through at
    // once, but each counts, so no shrink follows within the cooldown and
    // the hour's shrinks stay within the cap.
    let mut levels = Vec::new();
    for _ in 0..6 {
        levels.push((2, 300.0));
        levels.push((4, 1.0));
    }
    let trace = Trace::from_levels("storm_quiet_storm", &levels);
    for &strategy in Strategy::ALL {
        let run = simulate(Some(strategy), &trace, &scenario(64, true));
        let limits = RateLimits::default();
        let interval = 30.0;
        let mut last_change: Option<usize> = None;
        for (i, step) in run.steps.iter().enumerate() {
            let shrank = step.changed && run.steps.get(i + 1).is_some_and(|n| n.size_mb < step.size_mb);
            if shrank && let Some(last) = last_change {
                assert!(
                    (i - last) as f64 * interval >= limits.cooldown_secs,
                    "{}: a shrink at {i} came {} intervals after the change at {last}",
                    strategy.name(),
                    i - last
                );
            }
            if step.changed {
                last_change = Some(i);
            }
        }
    }
}

#[test]
fn every_growth_on_every_standard_trace_has_its_evidence() {
    // Growth needs threshold forced checkpoints, or WAL at a pace that can
    // force one at the size in force (`evidence::calls_for_growth`). Adaptive
    // grows ahead of a rising load on the second alone (diurnal, slow_ramp);
    // nothing grows on less.
    let scenario = Scenario::default();
    let settings = &scenario.settings;
    for trace in standard_traces() {
        for &strategy in Strategy::ALL {
            let run = simulate(Some(strategy), &trace, &scenario);
            for pair in run.steps.windows(2) {
                let (step, next) = (&pair[0], &pair[1]);
                if next.size_mb <= step.size_mb {
                    continue;
                }
                let pace = crate::evidence::growth_pace_bytes(step.size_mb, settings) / BYTES_PER_MB;
                assert!(
                    step.forced >= i64::from(settings.threshold) || step.wal_mb >= pace,
                    "{} on {} grew without evidence: {step:?}",
                    strategy.name(),
                    trace.name
                );
            }
        }
    }
}
