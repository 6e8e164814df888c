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
//! So the worker watches the interval so far. It glances at the WAL insert
//! position, which costs no transaction: once a second while the WAL is calm
//! ([`CALM_GLANCE_PERIOD_SECS`]), four times a second once it comes at a pace
//! that would force a checkpoint at the current size ([`at_storm_pace`],
//! [`GLANCE_PERIOD_SECS`]). Only at storm pace does it look: one read-only
//! transaction on the checkpoint statistics. It decides early when the
//! interval so far is loud (at least `walrus.threshold` forced checkpoints),
//! has lasted at least [`MIN_WINDOW_SECS`], and the storm is still going (a
//! forced checkpoint and WAL at storm pace over the last
//! [`LOOK_WINDOW_SECS`]). That last condition
//! keeps a burst that is over from being extrapolated as if it went on; such
//! a burst is judged at the end of the interval, as before.
//!
//! The early decision is the one the full interval would lead to if the rest
//! of it went like the part seen: the evidence is scaled to a full interval
//! ([`extrapolate`]). Not scaling would make the early decision a smaller
//! grow than waiting, and the cooldown would then hold the next grow back for
//! minutes while the storm went on.

use std::collections::VecDeque;

use serde_json::{Value, json};

use crate::evidence::{trigger_distance_bytes, wal_per_timeout};
use crate::{Decision, Observation, Settings};

/// How often the worker glances at the WAL insert position while the WAL
/// comes at storm pace: four times a second, at any `checkpoint_timeout`.
///
/// Every moment counts in a storm, and a storm does not wait for the
/// interval: the evidence that WAL is forcing checkpoints exists after the
/// second of them whatever `checkpoint_timeout` is. On the benchmark (fsync
/// on, 64 MB) the load forced about one checkpoint a second from its start.
/// Looks used to come every `checkpoint_timeout / 30`: at PostgreSQL's default
/// 5 minutes the first resize came 17 s into the load, after 34 forced
/// checkpoints. Then once a second with a 2 s window: 3 to 5 forced, because
/// the second forced checkpoint's count, published when it ends, waited up to
/// a second for the next look and the window held the decision to 2 s.
/// A glance reads two words of shared memory, but each one is a wake-up of
/// the worker, and on this project's machine a wake-up costs as much CPU as
/// the rest of the glance many times over: four a second cost an idle server
/// about 1.3 CPU seconds per hour (`scripts/bench_idle.sh`), over its budget
/// of one. So the quick glances are kept for storms ([`CALM_GLANCE_PERIOD_SECS`]).
pub const GLANCE_PERIOD_SECS: f64 = 0.25;

/// How often the worker glances while the WAL is calm: once a second. A
/// storm that starts between two glances is seen at the next one (its WAL
/// over that second is at storm pace by far), before its second forced
/// checkpoint is counted, which the decision waits for anyway.
pub const CALM_GLANCE_PERIOD_SECS: f64 = 1.0;

/// The time to the next glance after one that found the WAL at storm pace
/// or not.
pub fn glance_period_secs(storm_pace: bool) -> f64 {
    if storm_pace {
        GLANCE_PERIOD_SECS
    } else {
        CALM_GLANCE_PERIOD_SECS
    }
}

/// The span over which a look judges whether the storm is still going: a
/// forced checkpoint and WAL at storm pace within the last second. Shorter
/// spans would miss the count: in a storm the checkpointer publishes one
/// about once a second, when each checkpoint ends.
pub const LOOK_WINDOW_SECS: f64 = 1.0;

/// The longest gap between two looks across which a look still judges from
/// the earlier one: a look window plus one calm glance period. Longer, and
/// the earlier reading belongs to another stretch of the load.
pub const STALE_AFTER_SECS: f64 = LOOK_WINDOW_SECS + CALM_GLANCE_PERIOD_SECS;

/// The least part of an interval an early decision extrapolates from: one
/// look window.
pub const MIN_WINDOW_SECS: f64 = LOOK_WINDOW_SECS;

/// One look at the interval so far.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Look {
    /// Seconds since the interval began.
    pub elapsed_secs: f64,
    /// WAL-explained forced checkpoints since the interval began.
    pub forced_so_far: i64,
    /// Of those, how many were counted over the last look window.
    pub forced_lately: i64,
    /// WAL written over the last look window, bytes.
    pub wal_lately: f64,
    /// The last look window's length, seconds: [`LOOK_WINDOW_SECS`] once
    /// looks have gone on that long, less before.
    pub lately_secs: f64,
}

/// A look's reading, kept for later looks.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Reading {
    elapsed_secs: f64,
    forced: i64,
    wal_bytes: f64,
}

/// What the looks inside one interval remember: the readings of the last
/// look window (and the one just before it, the window's start), since looks
/// were (re)started.
///
/// "Lately" must mean readings taken while looking. When looks are turned
/// on mid-interval (by a reload of walrus.early_reaction or walrus.enable),
/// or resume after more than [`STALE_AFTER_SECS`] without a look (calm WAL),
/// there is none: the first look then only takes a reading, or a burst that
/// ended before would pass for a storm still going. A shorter calm (a dip
/// of the load between two glances) keeps the readings: the next look's
/// window then spans the dip.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Looks {
    readings: VecDeque<Reading>,
}

impl Looks {
    /// At the start of an interval: if looks are on, the interval's start
    /// (nothing forced, no WAL yet) counts as a look.
    pub fn starting(looking: bool) -> Looks {
        Looks {
            readings: looking.then_some(Reading::default()).into_iter().collect(),
        }
    }

    /// Looks are off, or the WAL is calm: the next look starts afresh.
    pub fn pause(&mut self) {
        self.readings.clear();
    }

    /// The look at `elapsed_secs` seeing `forced_so_far` forced checkpoints
    /// and `wal_so_far` bytes of WAL since the interval began, judged over
    /// the last look window; `None` for the first look after a pause or a
    /// gap of more than [`STALE_AFTER_SECS`], which only takes its reading.
    pub fn look(&mut self, elapsed_secs: f64, forced_so_far: i64, wal_so_far: f64) -> Option<Look> {
        if self
            .readings
            .back()
            .is_some_and(|newest| elapsed_secs - newest.elapsed_secs > STALE_AFTER_SECS)
        {
            self.pause();
        }
        let now = Reading {
            elapsed_secs,
            forced: forced_so_far,
            wal_bytes: wal_so_far,
        };
        let old_enough = |r: &Reading| elapsed_secs - r.elapsed_secs >= LOOK_WINDOW_SECS - 1e-9;
        // The window starts at the newest reading a window old, or at the
        // oldest kept while looks have not gone on that long.
        let since = self
            .readings
            .iter()
            .rev()
            .find(|r| old_enough(r))
            .or(self.readings.front())
            .copied();
        self.readings.push_back(now);
        while self.readings.len() > 1 && old_enough(&self.readings[1]) {
            self.readings.pop_front();
        }
        let since = since?;
        Some(Look {
            elapsed_secs,
            forced_so_far,
            forced_lately: forced_so_far.saturating_sub(since.forced),
            wal_lately: (wal_so_far - since.wal_bytes).max(0.0),
            lately_secs: elapsed_secs - since.elapsed_secs,
        })
    }
}

/// Whether `wal_bytes` of WAL in `secs`, kept up for a whole interval, would
/// force at least one checkpoint at `current_size_mb`. A glance asks it to
/// decide whether a look is worth its transaction; a look, whether the
/// storm's WAL is still coming.
pub fn at_storm_pace(wal_bytes: f64, secs: f64, current_size_mb: i32, settings: &Settings) -> bool {
    secs > 0.0 && wal_per_timeout(wal_bytes, secs, settings) >= trigger_distance_bytes(current_size_mb, settings)
}

/// Whether the WAL of the last look window, kept up for a whole interval,
/// would force at least one more checkpoint at `current_size_mb`: the storm's
/// WAL is still coming.
///
/// A forced checkpoint counted lately does not say it alone: the
/// checkpointer counts a checkpoint when it starts but publishes the count
/// only from its paced write loop or when it is done
/// (`pgstat_report_checkpointer` in checkpointer.c), and a checkpoint a
/// burst forced is then spread over most of a `checkpoint_timeout` (53 s of
/// 60 s on the e2e test's server). A count can so show up after the WAL that
/// forced it has stopped; WAL is counted as it is written.
pub fn wal_still_coming(look: &Look, current_size_mb: i32, settings: &Settings) -> bool {
    at_storm_pace(look.wal_lately, look.lately_secs, current_size_mb, settings)
}

/// Whether this look calls for deciding now rather than at the end of the
/// interval. Close to the end (less than a look window left), waiting for
/// the full interval costs little and gives the full evidence.
pub fn should_react(look: &Look, current_size_mb: i32, settings: &Settings) -> bool {
    look.elapsed_secs >= MIN_WINDOW_SECS
        && look.elapsed_secs + LOOK_WINDOW_SECS < settings.checkpoint_timeout_secs
        && !settings.is_quiet(look.forced_so_far)
        && look.forced_lately > 0
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
        full_pages: obs.full_pages.map(|evidence| evidence.scaled(scale)),
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
}
