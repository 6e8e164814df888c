//! Early reaction: deciding before a full `checkpoint_timeout` has passed
//! while WAL volume is forcing checkpoints.
//!
//! With one decision per interval, a load that starts at a small
//! `max_wal_size` takes forced checkpoints for a whole interval before any
//! size can change: 5 to 15 minutes with common settings, and every one of
//! those checkpoints is followed by a burst of full-page images. On the
//! benchmark (30 s intervals, 64 MB) that first interval wrote 2.7 GB of WAL
//! where a good size writes about 430 MB.
//!
//! So the worker looks at the interval so far every [`poll_period_secs`]. It
//! decides early when the interval so far is loud (at least
//! `walrus.threshold` forced checkpoints), has lasted at least
//! [`min_window_secs`], and the storm is still going (a forced checkpoint
//! since the previous look). That last condition keeps a burst that is over
//! from being extrapolated as if it went on; such a burst is judged at the
//! end of the interval, as before.
//!
//! The early decision is the one the full interval would lead to if the rest
//! of it went like the part seen: the evidence is scaled to a full interval
//! ([`extrapolate`]). Not scaling would make the early decision a smaller
//! grow than waiting, and the cooldown would then hold the next grow back for
//! minutes while the storm went on.

use serde_json::{Value, json};

use crate::evidence::{trigger_distance_bytes, wal_per_timeout};
use crate::{Decision, Observation, Settings};

/// How often the worker looks at the interval so far: a thirtieth of
/// `checkpoint_timeout`, between 1 and 30 seconds.
///
/// Every second counts in a storm. On the benchmark a 64 MB server took
/// about four forced checkpoints a second at the start (each one followed by
/// full-page images that bring the next one sooner), so deciding after 2 s
/// rather than 5 s saves about a dozen of them. A look is one read-only
/// transaction on the statistics: once a second costs an idle server about a
/// third of a CPU second per hour (`scripts/bench_idle.sh`).
pub fn poll_period_secs(checkpoint_timeout_secs: f64) -> f64 {
    let timeout = if checkpoint_timeout_secs.is_finite() {
        checkpoint_timeout_secs
    } else {
        300.0
    };
    (timeout / 30.0).clamp(1.0, 30.0)
}

/// The least part of an interval an early decision extrapolates from: two
/// poll periods (2 s at a 30 s `checkpoint_timeout`, 20 s at 5 minutes), so
/// that the storm has been seen at two looks.
pub fn min_window_secs(checkpoint_timeout_secs: f64) -> f64 {
    2.0 * poll_period_secs(checkpoint_timeout_secs)
}

/// One look at the interval so far.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Look {
    /// Seconds since the interval began.
    pub elapsed_secs: f64,
    /// WAL-explained forced checkpoints since the interval began.
    pub forced_so_far: i64,
    /// Of those, how many came after the previous look.
    pub forced_since_last_look: i64,
    /// WAL written since the previous look, bytes.
    pub wal_since_last_look: f64,
    /// Seconds since the previous look.
    pub secs_since_last_look: f64,
}

/// A look's reading, kept for the next look.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Reading {
    elapsed_secs: f64,
    forced: i64,
    wal_bytes: f64,
}

/// What the looks inside one interval remember: the previous look's reading
/// (time, forced count, WAL), when there was one since looks were (re)started.
///
/// "Since the previous look" must mean a look a poll period ago. When looks
/// are turned on mid-interval (by a reload of walrus.early_reaction or
/// walrus.enable) there is none: the first look then only takes a reading,
/// or a burst that ended before looks were on would pass for a storm still
/// going.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Looks {
    previous: Option<Reading>,
}

impl Looks {
    /// At the start of an interval: if looks are on, the interval's start
    /// (nothing forced, no WAL yet) counts as the previous look.
    pub fn starting(looking: bool) -> Looks {
        Looks {
            previous: looking.then_some(Reading::default()),
        }
    }

    /// Looks are off: the next look will have no previous one.
    pub fn pause(&mut self) {
        self.previous = None;
    }

    /// The look at `elapsed_secs` seeing `forced_so_far` forced checkpoints
    /// and `wal_so_far` bytes of WAL since the interval began; `None` for
    /// the first look after a pause, which only takes its reading.
    pub fn look(&mut self, elapsed_secs: f64, forced_so_far: i64, wal_so_far: f64) -> Option<Look> {
        let now = Reading {
            elapsed_secs,
            forced: forced_so_far,
            wal_bytes: wal_so_far,
        };
        let previous = self.previous.replace(now)?;
        Some(Look {
            elapsed_secs,
            forced_so_far,
            forced_since_last_look: forced_so_far.saturating_sub(previous.forced),
            wal_since_last_look: (wal_so_far - previous.wal_bytes).max(0.0),
            secs_since_last_look: elapsed_secs - previous.elapsed_secs,
        })
    }
}

/// Whether the WAL since the previous look, kept up for a whole interval,
/// would force at least one more checkpoint at `current_size_mb`: the storm's
/// WAL is still coming.
///
/// The forced checkpoint "since the previous look" alone does not say it:
/// the checkpointer counts a checkpoint when it starts but publishes the
/// count only from its paced write loop or when it is done
/// (`pgstat_report_checkpointer` in checkpointer.c), and a checkpoint a
/// burst forced is then spread over most of a `checkpoint_timeout` (53 s of
/// 60 s on the e2e test's server). A count can so show up after the WAL that
/// forced it has stopped; WAL is counted as it is written.
pub fn wal_still_coming(look: &Look, current_size_mb: i32, settings: &Settings) -> bool {
    look.secs_since_last_look > 0.0
        && wal_per_timeout(look.wal_since_last_look, look.secs_since_last_look, settings)
            >= trigger_distance_bytes(current_size_mb, settings)
}

/// Whether this look calls for deciding now rather than at the end of the
/// interval. Close to the end (less than a poll period left), waiting for
/// the full interval costs little and gives the full evidence.
pub fn should_react(look: &Look, current_size_mb: i32, settings: &Settings) -> bool {
    let period = poll_period_secs(settings.checkpoint_timeout_secs);
    look.elapsed_secs >= min_window_secs(settings.checkpoint_timeout_secs)
        && look.elapsed_secs + period < settings.checkpoint_timeout_secs
        && !settings.is_quiet(look.forced_so_far)
        && look.forced_since_last_look > 0
        && wal_still_coming(look, current_size_mb, settings)
}

/// `obs`, a part of an interval, scaled to a full `checkpoint_timeout` as if
/// the rest went the same way. Only WAL-explained checkpoints and WAL bytes
/// are rates; the checkpoints WAL cannot explain (manual CHECKPOINT and the
/// like) and timed ones are kept as counted. An observation already a full
/// interval long is returned as it is.
pub fn extrapolate(obs: &Observation, settings: &Settings) -> Observation {
    let full = settings.checkpoint_timeout_secs;
    if !(obs.interval_secs > 0.0 && full.is_finite() && obs.interval_secs < full) {
        return obs.clone();
    }
    let scale = full / obs.interval_secs;
    let forced = (obs.forced_checkpoints as f64 * scale)
        .round()
        .min(i64::MAX as f64 / 2.0) as i64;
    let unexplained = obs.requested_checkpoints - obs.forced_checkpoints;
    Observation {
        forced_checkpoints: forced,
        requested_checkpoints: forced.saturating_add(unexplained.max(0)),
        wal_bytes: obs.wal_bytes * scale,
        interval_secs: full,
        ..obs.clone()
    }
}

/// `decision`, made on `judged` (the [`extrapolate`]d `seen`), told as what
/// it is: the reason (whose counts are the scaled ones) says what was seen,
/// and the metadata keeps it under `early_reaction`.
pub fn annotate(mut decision: Decision, seen: &Observation, judged: &Observation) -> Decision {
    decision.reason = format!(
        "{} (early reaction: {} forced checkpoints in the first {:.0} s of the interval, scaled to {:.0} s)",
        decision.reason, seen.forced_checkpoints, seen.interval_secs, judged.interval_secs
    );
    if let Value::Object(metadata) = &mut decision.metadata {
        metadata.insert(
            "early_reaction".into(),
            json!({
                "observed_sec": seen.interval_secs.round(),
                "observed_forced_checkpoints": seen.forced_checkpoints,
                "observed_wal_bytes": seen.wal_bytes.round(),
                "extrapolated_forced_checkpoints": judged.forced_checkpoints,
            }),
        );
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::BYTES_PER_MB;

    fn settings(timeout: f64) -> Settings {
        Settings {
            checkpoint_timeout_secs: timeout,
            ..Settings::default()
        }
    }

    #[test]
    fn polling_scales_with_the_interval_within_bounds() {
        let cases = [
            (30.0, 1.0, 2.0),
            (300.0, 10.0, 20.0),
            (3600.0, 30.0, 60.0),
            (86400.0, 30.0, 60.0),
        ];
        for (timeout, period, window) in cases {
            assert_eq!(
                (poll_period_secs(timeout), min_window_secs(timeout)),
                (period, window),
                "timeout {timeout}"
            );
        }
        assert_eq!(
            poll_period_secs(f64::NAN),
            10.0,
            "a broken timeout falls back to the default"
        );
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
            forced_since_last_look: 7,
            wal_since_last_look: 90.0 * MB,
            secs_since_last_look: 1.0,
        };
        assert!(should_react(&storm, size, &s));
        assert!(
            should_react(
                &Look {
                    elapsed_secs: 2.0,
                    ..storm
                },
                size,
                &s
            ),
            "two looks, 2 s, are enough at 30 s"
        );
        let cases = [
            (
                Look {
                    elapsed_secs: 1.5,
                    ..storm
                },
                "too soon to extrapolate",
            ),
            (
                Look {
                    forced_so_far: 1,
                    forced_since_last_look: 1,
                    ..storm
                },
                "below walrus.threshold",
            ),
            (
                Look {
                    forced_since_last_look: 0,
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
    fn a_checkpoint_published_late_does_not_pass_for_a_storm_still_going() {
        // The checkpointer publishes a spread checkpoint's count from its
        // paced loop or when it is done: the count can rise after the burst's
        // WAL stopped. The WAL since the previous look says whether it goes on.
        let s = settings(60.0);
        let size = 32; // a checkpoint every 16 MB: floor(32 / 16 / 1.9) = 1 segment, at least one
        let late = Look {
            elapsed_secs: 39.0,
            forced_so_far: 7,
            forced_since_last_look: 1,
            wal_since_last_look: 0.2 * MB,
            secs_since_last_look: 2.0,
        };
        assert!(
            !wal_still_coming(&late, size, &s),
            "6 MB per interval at this pace: no checkpoint"
        );
        assert!(!should_react(&late, size, &s));
        // The same look with the burst's WAL still coming: 16 MB per interval
        // at this pace is one more checkpoint.
        let going = Look {
            wal_since_last_look: 16.0 * MB * 2.0 / 60.0,
            ..late
        };
        assert!(wal_still_coming(&going, size, &s) && should_react(&going, size, &s));
        let just_short = Look {
            wal_since_last_look: 15.9 * MB * 2.0 / 60.0,
            ..late
        };
        assert!(!wal_still_coming(&just_short, size, &s));
        assert!(
            !wal_still_coming(
                &Look {
                    secs_since_last_look: 0.0,
                    ..going
                },
                size,
                &s
            ),
            "no time, no pace"
        );
    }

    #[test]
    fn a_look_counts_since_the_previous_look_and_never_across_a_pause() {
        let mut looks = Looks::starting(true);
        let first = looks.look(1.0, 3, 50.0 * MB).unwrap();
        assert_eq!(
            (first.forced_so_far, first.forced_since_last_look),
            (3, 3),
            "since the interval's start"
        );
        assert_eq!(
            (first.wal_since_last_look, first.secs_since_last_look),
            (50.0 * MB, 1.0)
        );
        let second = looks.look(2.5, 5, 80.0 * MB).unwrap();
        assert_eq!(
            (
                second.forced_since_last_look,
                second.wal_since_last_look,
                second.secs_since_last_look
            ),
            (2, 30.0 * MB, 1.5)
        );
        assert_eq!(
            looks.look(3.5, 5, 80.0 * MB).unwrap().forced_since_last_look,
            0,
            "the burst is over"
        );

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
        };
        let full = extrapolate(&part, &s);
        assert_eq!((full.forced_checkpoints, full.requested_checkpoints), (90, 91));
        assert_eq!(full.wal_bytes, 2700.0 * BYTES_PER_MB);
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
}
