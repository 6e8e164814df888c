//! Pace-based growth in the simulator: from PostgreSQL's default 1 GB at a
//! 5-minute timeout, a pgbench-like load (10 MB/s, most of it full-page
//! images right after each checkpoint) is answered before its first forced
//! checkpoint by every strategy; without the rule (the negative control)
//! the same load forces checkpoints. From 64 MB, the rule cannot beat the
//! trigger (16 MB away) but takes fewer forced checkpoints than without it.

use super::*;

/// A pgbench TPC-B-like trace: a quiet interval, then 3000 MB per 5-minute
/// interval at one checkpoint per timeout (10 MB/s steady), most of it
/// full-page images right after a checkpoint.
fn pgbench_at_five_minutes() -> Trace {
    Trace::from_levels("pgbench_5min", &[(1, 1.0), (6, 3000.0)]).with_pages(PageModel {
        pages: 200_000.0,
        image_share: 0.6,
        image_bytes: 8000.0,
        record_bytes: 70.0,
    })
}

fn scenario(start_size_mb: i32, pace_growth: bool) -> Scenario {
    Scenario {
        settings: Settings {
            max_size_mb: 16_384,
            ..Settings::default()
        },
        start_size_mb,
        pace_growth,
        ..Scenario::default()
    }
}

#[test]
fn from_one_gigabyte_every_strategy_grows_before_the_first_forced_checkpoint() {
    let trace = pgbench_at_five_minutes();
    for &strategy in Strategy::ALL {
        let name = strategy.name();
        let without = simulate(Some(strategy), &trace, &scenario(1024, false));
        assert!(
            without.steps[1].forced > 0,
            "{name}: the load forces checkpoints at 1 GB without the rule"
        );
        let with = simulate(Some(strategy), &trace, &scenario(1024, true));
        assert_eq!(with.forced_total, 0, "{name}: {:?}", with.steps);
        assert!(with.steps[1].changed, "{name}: grown in the load's first interval");
        assert!(!with.steps[0].changed, "{name}: nothing on the quiet interval");
        // Sized for the steady 3000 MB per timeout (its images net of the
        // forced checkpoints that never came), with 10 % headroom:
        // (1.9 x 190 x 16 = 5776) x 1.1 = 6354 MB, in force from interval 2.
        assert_eq!(with.steps[2].size_mb, 6354, "{name}");
    }
}

#[test]
fn from_sixty_four_megabytes_the_rule_takes_fewer_forced_checkpoints() {
    let trace = pgbench_at_five_minutes();
    let strategy = Strategy::ALL[0];
    let without = simulate(Some(strategy), &trace, &scenario(64, false));
    let with = simulate(Some(strategy), &trace, &scenario(64, true));
    assert!(
        with.steps[1].forced > 0,
        "the trigger is 16 MB away: the first seconds force checkpoints"
    );
    assert!(
        with.forced_total < without.forced_total,
        "{} with the rule, {} without",
        with.forced_total,
        without.forced_total
    );
}

#[test]
fn a_quiet_trace_and_a_load_the_size_holds_never_grow() {
    // 200 MB per 5 minutes at 1 GB: well within the 512 MB trigger.
    let trace = Trace::from_levels("light", &[(6, 200.0)]);
    for &strategy in Strategy::ALL {
        let run = simulate(Some(strategy), &trace, &scenario(1024, true));
        assert!(
            run.steps.iter().all(|s| s.size_mb == 1024),
            "{}: {:?}",
            strategy.name(),
            run.steps
        );
    }
}
