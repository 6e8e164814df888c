use super::*;
use crate::evidence::{BYTES_PER_MB, trigger_distance_bytes};

fn settings(timeout: f64) -> Settings {
    Settings {
        checkpoint_timeout_secs: timeout,
        ..Settings::default()
    }
}

const MB: f64 = BYTES_PER_MB;

#[test]
fn reacts_only_to_an_ongoing_storm_seen_long_enough() {
    let s = settings(30.0);
    // 64 MB: a checkpoint every 16 MB of WAL (floor(64 / 16 / 1.9) - 1 segments).
    let size = 64;
    assert_eq!(trigger_distance_bytes(size, &s), 16.0 * MB);
    let storm = Look {
        elapsed_secs: 5.0,
        forced_so_far: 15,
        forced_lately: 7,
        wal_lately: 90.0 * MB,
        lately_secs: 1.0,
    };
    assert!(should_react(&storm, size, &s));
    assert!(
        should_react(
            &Look {
                elapsed_secs: 1.0,
                ..storm
            },
            size,
            &s
        ),
        "one look window, 1 s, is enough at 30 s"
    );
    let cases = [
        (
            Look {
                elapsed_secs: 0.75,
                ..storm
            },
            "too soon to extrapolate",
        ),
        (
            Look {
                forced_so_far: 1,
                forced_lately: 1,
                ..storm
            },
            "below walrus.threshold",
        ),
        (
            Look {
                forced_lately: 0,
                ..storm
            },
            "the burst is over",
        ),
        (
            Look {
                elapsed_secs: 29.2,
                ..storm
            },
            "the full interval is a moment away",
        ),
    ];
    for (look, why) in cases {
        assert!(!should_react(&look, size, &s), "{why}: {look:?}");
    }
    let strict = Settings { threshold: 20, ..s };
    assert!(!should_react(&storm, size, &strict), "the threshold is the DBA's");
    assert!(should_react(
        &Look {
            forced_so_far: 20,
            ..storm
        },
        size,
        &strict
    ));
}

#[test]
fn the_first_decision_does_not_wait_for_a_long_checkpoint_timeout() {
    // The same storm, two seconds in, at PostgreSQL's default 5 minutes
    // and at 15 minutes: decided now, as at 30 s. (Looks used to come
    // every timeout / 30, so at 5 minutes the earliest was 20 s in.)
    // Nothing in the glances' or looks' timing depends on the timeout.
    let storm = Look {
        elapsed_secs: 2.0,
        forced_so_far: 6,
        forced_lately: 3,
        wal_lately: 48.0 * MB,
        lately_secs: 1.0,
    };
    for timeout in [30.0, 300.0, 900.0] {
        assert!(should_react(&storm, 64, &settings(timeout)), "timeout {timeout}");
        assert!(
            !should_react(
                &Look {
                    elapsed_secs: 0.5,
                    ..storm
                },
                64,
                &settings(timeout)
            ),
            "half a second is too soon to extrapolate (timeout {timeout})"
        );
    }
}

#[test]
fn a_checkpoint_published_late_does_not_pass_for_a_storm_still_going() {
    // The checkpointer publishes a spread checkpoint's count from its
    // paced loop or when it is done: the count can rise after the burst's
    // WAL stopped. The WAL of the last look window says whether it goes on.
    let s = settings(60.0);
    let size = 32; // a checkpoint every 16 MB: floor(32 / 16 / 1.9) = 1 segment, at least one
    let late = Look {
        elapsed_secs: 39.0,
        forced_so_far: 7,
        forced_lately: 1,
        wal_lately: 0.2 * MB,
        lately_secs: 1.0,
    };
    assert!(
        !wal_still_coming(&late, size, &s),
        "12 MB per interval at this pace: no checkpoint"
    );
    assert!(!should_react(&late, size, &s));
    // The same look with the burst's WAL still coming: 16 MB per interval
    // at this pace is one more checkpoint.
    let going = Look {
        wal_lately: 16.0 * MB / 60.0,
        ..late
    };
    assert!(wal_still_coming(&going, size, &s) && should_react(&going, size, &s));
    let just_short = Look {
        wal_lately: 15.9 * MB / 60.0,
        ..late
    };
    assert!(!wal_still_coming(&just_short, size, &s));
    assert!(
        !wal_still_coming(
            &Look {
                lately_secs: 0.0,
                ..going
            },
            size,
            &s
        ),
        "no time, no pace"
    );
}

#[test]
fn a_look_judges_the_last_second_and_never_across_a_pause() {
    let mut looks = Looks::starting(true);
    // Less than a window in: the window starts at the interval's start.
    let first = looks.look(0.5, 1, 20.0 * MB).unwrap();
    assert_eq!(
        (
            first.forced_so_far,
            first.forced_lately,
            first.wal_lately,
            first.lately_secs
        ),
        (1, 1, 20.0 * MB, 0.5)
    );
    looks.look(0.75, 1, 30.0 * MB).unwrap();
    let at_one = looks.look(1.0, 2, 40.0 * MB).unwrap();
    assert_eq!((at_one.forced_lately, at_one.lately_secs), (2, 1.0));
    // From then on every look judges the last second (up to one glance
    // more): at 1.5 s, since the look at 0.5 s.
    let later = looks.look(1.5, 2, 60.0 * MB).unwrap();
    assert_eq!(
        (later.forced_lately, later.wal_lately, later.lately_secs),
        (1, 40.0 * MB, 1.0)
    );
    assert_eq!(
        looks.look(2.5, 2, 61.0 * MB).unwrap().forced_lately,
        0,
        "no forced checkpoint in the last second: the burst is over"
    );
    for step in 0..400 {
        looks.look(3.0 + f64::from(step) * 0.25, 2, 61.0 * MB);
    }
    assert!(looks.readings.len() <= 6, "a window's readings are kept, no more");

    // Turned on mid-interval after a burst that is over: the first look
    // only reads; the next one sees nothing new, so no reaction.
    let s = settings(30.0);
    let mut late = Looks::starting(false);
    assert_eq!(late.look(15.0, 12, 200.0 * MB), None);
    let next = late.look(16.0, 12, 200.0 * MB).unwrap();
    assert!(!should_react(&next, 64, &s), "{next:?}");
    // A storm still going is seen from the second look on.
    assert!(should_react(&late.look(17.0, 14, 240.0 * MB).unwrap(), 64, &s));

    late.pause();
    assert_eq!(
        late.look(18.0, 20, 300.0 * MB),
        None,
        "off and on again: a fresh first look"
    );
}

#[test]
fn a_dip_keeps_the_window_and_a_calm_stretch_starts_afresh() {
    let s = settings(30.0);
    let mut looks = Looks::starting(true);
    looks.look(1.0, 2, 40.0 * MB).unwrap();
    // One calm glance (no look), the next at storm pace a second later:
    // judged from the look before the dip, over 1.25 s.
    let after_dip = looks.look(2.25, 3, 70.0 * MB).unwrap();
    assert_eq!((after_dip.forced_lately, after_dip.lately_secs), (1, 1.25));
    assert!(should_react(&after_dip, 64, &s));
    // Calm for longer than a window and a calm glance: the burst's
    // readings are not the new storm's, so this look only reads.
    assert_eq!(looks.look(2.25 + STALE_AFTER_SECS + 0.25, 9, 300.0 * MB), None);
    let fresh = looks.look(4.75, 9, 305.0 * MB).unwrap();
    assert_eq!((fresh.forced_lately, fresh.lately_secs), (0, 0.25));
    assert!(!should_react(&fresh, 64, &s), "nothing forced since the storm resumed");
}

#[test]
fn a_glance_calls_for_a_look_only_at_storm_pace() {
    // 64 MB at 30 s: a checkpoint every 16 MB of WAL per interval, so
    // about 0.53 MB/s is storm pace.
    let s = settings(30.0);
    let quarter = GLANCE_PERIOD_SECS;
    assert!(at_storm_pace(1.0 * MB, quarter, 64, &s), "120 MB per interval");
    assert!(!at_storm_pace(0.1 * MB, quarter, 64, &s), "12 MB per interval");
    assert!(
        !at_storm_pace(0.0, quarter, 64, &s),
        "an idle server is never looked at"
    );
    assert!(!at_storm_pace(1.0 * MB, 0.0, 64, &s), "no time, no pace");
    assert_eq!(
        (glance_period_secs(true), glance_period_secs(false)),
        (0.25, 1.0),
        "quick glances in a storm only"
    );
    // The same quarter second at 1 GB (a checkpoint every 512 MB): calm.
    assert!(!at_storm_pace(1.0 * MB, quarter, 1024, &s));
    assert!(at_storm_pace(5.0 * MB, quarter, 1024, &s), "600 MB per interval");
    // At a 5-minute timeout the same pace writes ten times the WAL per
    // interval: a slower burst is a storm there.
    assert!(at_storm_pace(0.1 * MB, quarter, 64, &settings(300.0)));
}

#[test]
fn extrapolation_scales_rates_and_keeps_counts() {
    let s = settings(30.0);
    let part = Observation {
        current_size_mb: 64,
        forced_checkpoints: 15,
        requested_checkpoints: 16, // one manual CHECKPOINT
        timed_checkpoints: 0,
        wal_bytes: 450.0 * BYTES_PER_MB,
        interval_secs: 5.0,
        quiet_intervals: 0,
        full_pages: Some(crate::FullPageEvidence {
            images: 20_000.0,
            records: 100_000.0,
            data_pages: 50_000.0,
            block_bytes: 8192.0,
            counted_wal_bytes: 440.0 * BYTES_PER_MB,
        }),
    };
    let full = extrapolate(&part, &s);
    assert_eq!((full.forced_checkpoints, full.requested_checkpoints), (90, 91));
    assert_eq!(full.wal_bytes, 2700.0 * BYTES_PER_MB);
    let pages = full.full_pages.unwrap();
    assert_eq!(
        (pages.images, pages.records, pages.data_pages),
        (120_000.0, 600_000.0, 50_000.0)
    );
    assert_eq!(pages.counted_wal_bytes, 2640.0 * BYTES_PER_MB);
    assert_eq!(
        (full.interval_secs, full.current_size_mb, full.quiet_intervals),
        (30.0, 64, 0)
    );
    let whole = Observation {
        interval_secs: 30.2,
        ..part.clone()
    };
    assert_eq!(extrapolate(&whole, &s), whole, "a full interval is not scaled");
    let empty = Observation {
        interval_secs: 0.0,
        ..part.clone()
    };
    assert_eq!(extrapolate(&empty, &s), empty, "no time, no rate");
}

#[test]
fn the_early_decision_is_the_full_intervals_decision() {
    // The multiplicative default on a storm of 3 forced checkpoints a
    // second at 64 MB: 5 s of it decide what the 30 s would have.
    use crate::{Multiplicative, SizingStrategy, StrategyState};
    let s = settings(30.0);
    let at = |secs: f64| Observation {
        current_size_mb: 64,
        forced_checkpoints: (3.0 * secs) as i64,
        requested_checkpoints: (3.0 * secs) as i64,
        wal_bytes: 90.0 * BYTES_PER_MB * secs,
        interval_secs: secs,
        ..Observation::default()
    };
    let strategy = Multiplicative;
    let state = StrategyState::default();
    let waited = strategy.decide(&at(30.0), &s, &state);
    let early = strategy.decide(&extrapolate(&at(5.0), &s), &s, &state);
    assert_eq!(early.new_size_mb, waited.new_size_mb);
    let unscaled = strategy.decide(&at(5.0), &s, &state);
    assert!(
        unscaled.new_size_mb < waited.new_size_mb,
        "unscaled, 5 s would under-grow"
    );

    let told = annotate(early.clone(), &at(5.0), &extrapolate(&at(5.0), &s));
    assert_eq!(
        (told.action, told.new_size_mb),
        (early.action, early.new_size_mb),
        "annotating changes no size"
    );
    assert!(told.reason.starts_with(&early.reason), "{}", told.reason);
    assert!(
        told.reason
            .ends_with("(early reaction: 15 forced checkpoints in the first 5 s of the interval, scaled to 30 s)")
    );
    let meta = &told.metadata["early_reaction"];
    assert_eq!(meta["observed_forced_checkpoints"], 15);
    assert_eq!(meta["extrapolated_forced_checkpoints"], 90);
    assert_eq!(meta["observed_sec"], 5.0);
    assert_eq!(meta["observed_wal_bytes"], 450.0 * BYTES_PER_MB);
    assert_eq!(
        told.metadata["forced_checkpoints"], 90,
        "the strategy's own evidence is the scaled interval"
    );
}

#[test]
fn glances_are_quick_in_a_storm_and_calm_otherwise() {
    // 64 MB at 30 s: about 0.53 MB/s is storm pace.
    let s = settings(30.0);
    let mb = |n: f64| (n * MB) as u64;
    // The watch is made 3 s into the interval (the cycle took that long),
    // reading the position then: the first glance judges only the WAL
    // written since, over the quarter second since.
    let mut glances = Glances::starting(3.0, Some(mb(500.0)));
    assert!(!glances.due(3.2));
    assert!((glances.until_next(3.1) - 0.15).abs() < 1e-9);
    assert!(glances.due(3.25));
    assert!(glances.glance(3.25, mb(501.0), 64, &s), "1 MB in a quarter second");
    assert!(
        (glances.until_next(3.25) - GLANCE_PERIOD_SECS).abs() < 1e-9,
        "quick in a storm"
    );
    assert!(!glances.glance(3.5, mb(501.05), 64, &s), "0.05 MB: calm");
    assert!(
        (glances.until_next(3.5) - CALM_GLANCE_PERIOD_SECS).abs() < 1e-9,
        "calm: once a second"
    );
    assert_eq!(glances.until_next(9.0), 0.0, "overdue is due now");
    // The same pace is calm at 1 GB.
    assert!(!glances.glance(4.5, mb(503.0), 1024, &s));

    // Looks off, then on again: the first glance only takes a position,
    // however much WAL came meanwhile.
    glances.forget();
    assert!(!glances.glance(20.0, mb(9000.0), 64, &s));
    assert!(glances.glance(20.25, mb(9001.0), 64, &s));
    // A watch made while looks were off has no position to judge from.
    let mut off = Glances::starting(0.0, None);
    assert!(!off.glance(0.25, mb(100.0), 64, &s));
    // A position that went backwards (a new timeline's insert position is
    // never behind, but a reading must not underflow) is no WAL.
    assert!(!off.glance(0.5, mb(50.0), 64, &s));
}

#[test]
fn an_early_decision_is_made_on_the_scaled_interval_and_says_what_was_seen() {
    let s = settings(30.0);
    let seen = Observation {
        current_size_mb: 64,
        forced_checkpoints: 6,
        requested_checkpoints: 7,
        wal_bytes: 120.0 * MB,
        interval_secs: 3.0,
        ..Observation::default()
    };
    let mut judged_by_strategy = None;
    let (decision, judged) = decide(&seen, &s, |judged| {
        judged_by_strategy = Some(judged.clone());
        Decision {
            action: crate::Action::Increase,
            new_size_mb: 640,
            computed_size_mb: Some(640),
            ..Decision::keep(64, "grow", json!({}))
        }
    });
    assert_eq!(
        judged_by_strategy.as_ref(),
        Some(&judged),
        "the strategy judged the scaled interval"
    );
    assert_eq!((judged.forced_checkpoints, judged.requested_checkpoints), (60, 61));
    assert_eq!(judged.interval_secs, 30.0);
    assert_eq!(decision.new_size_mb, 640);
    assert!(
        decision
            .reason
            .ends_with("(early reaction: 6 forced checkpoints in the first 3 s of the interval, scaled to 30 s)"),
        "{}",
        decision.reason
    );
    assert_eq!(decision.metadata["early_reaction"]["observed_forced_checkpoints"], 6);
}
