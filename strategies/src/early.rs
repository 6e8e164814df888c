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
    let timeout = if checkpoint_timeout_secs.is_finite() { checkpoint_timeout_secs } else { 300.0 };
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
}

/// What the looks inside one interval remember: the forced count at the
/// previous look, when there was one since looks were (re)started.
///
/// "Since the previous look" must mean a look a poll period ago. When looks
/// are turned on mid-interval (by a reload of walrus.early_reaction or
/// walrus.enable) there is none: the first look then only takes a reading,
/// or a burst that ended before looks were on would pass for a storm still
/// going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Looks {
    forced_at_last_look: Option<i64>,
}

impl Looks {
    /// At the start of an interval: if looks are on, the interval's start
    /// (no forced checkpoint yet) counts as the previous look.
    pub fn starting(looking: bool) -> Looks {
        Looks { forced_at_last_look: looking.then_some(0) }
    }

    /// Looks are off: the next look will have no previous one.
    pub fn pause(&mut self) {
        self.forced_at_last_look = None;
    }

    /// The look at `elapsed_secs` seeing `forced_so_far`; `None` for the
    /// first look after a pause, which only takes its reading.
    pub fn look(&mut self, elapsed_secs: f64, forced_so_far: i64) -> Option<Look> {
        let previous = self.forced_at_last_look.replace(forced_so_far)?;
        Some(Look { elapsed_secs, forced_so_far, forced_since_last_look: forced_so_far.saturating_sub(previous) })
    }
}

/// Whether this look calls for deciding now rather than at the end of the
/// interval. Close to the end (less than a poll period left), waiting for
/// the full interval costs little and gives the full evidence.
pub fn should_react(look: &Look, settings: &Settings) -> bool {
    let period = poll_period_secs(settings.checkpoint_timeout_secs);
    look.elapsed_secs >= min_window_secs(settings.checkpoint_timeout_secs)
        && look.elapsed_secs + period < settings.checkpoint_timeout_secs
        && !settings.is_quiet(look.forced_so_far)
        && look.forced_since_last_look > 0
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
    let forced = (obs.forced_checkpoints as f64 * scale).round().min(i64::MAX as f64 / 2.0) as i64;
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
        Settings { checkpoint_timeout_secs: timeout, ..Settings::default() }
    }

    #[test]
    fn polling_scales_with_the_interval_within_bounds() {
        let cases = [(30.0, 1.0, 2.0), (300.0, 10.0, 20.0), (3600.0, 30.0, 60.0), (86400.0, 30.0, 60.0)];
        for (timeout, period, window) in cases {
            assert_eq!((poll_period_secs(timeout), min_window_secs(timeout)), (period, window), "timeout {timeout}");
        }
        assert_eq!(poll_period_secs(f64::NAN), 10.0, "a broken timeout falls back to the default");
    }

    #[test]
    fn reacts_only_to_an_ongoing_storm_seen_long_enough() {
        let s = settings(30.0);
        let storm = Look { elapsed_secs: 5.0, forced_so_far: 15, forced_since_last_look: 7 };
        assert!(should_react(&storm, &s));
        assert!(should_react(&Look { elapsed_secs: 2.0, ..storm }, &s), "two looks, 2 s, are enough at 30 s");
        let cases = [
            (Look { elapsed_secs: 1.5, ..storm }, "too soon to extrapolate"),
            (Look { forced_so_far: 1, forced_since_last_look: 1, ..storm }, "below walrus.threshold"),
            (Look { forced_since_last_look: 0, ..storm }, "the burst is over"),
            (Look { elapsed_secs: 29.2, ..storm }, "the full interval is a moment away"),
        ];
        for (look, why) in cases {
            assert!(!should_react(&look, &s), "{why}: {look:?}");
        }
        let strict = Settings { threshold: 20, ..s };
        assert!(!should_react(&storm, &strict), "the threshold is the DBA's");
        assert!(should_react(&Look { forced_so_far: 20, ..storm }, &strict));
    }

    #[test]
    fn a_look_counts_since_the_previous_look_and_never_across_a_pause() {
        let mut looks = Looks::starting(true);
        let first = looks.look(1.0, 3).unwrap();
        assert_eq!((first.forced_so_far, first.forced_since_last_look), (3, 3), "since the interval's start");
        assert_eq!(looks.look(2.0, 5).unwrap().forced_since_last_look, 2);
        assert_eq!(looks.look(3.0, 5).unwrap().forced_since_last_look, 0, "the burst is over");

        // Turned on mid-interval after a burst that is over: the first look
        // only reads; the next one sees nothing new, so no reaction.
        let s = settings(30.0);
        let mut late = Looks::starting(false);
        assert_eq!(late.look(15.0, 12), None);
        let next = late.look(16.0, 12).unwrap();
        assert!(!should_react(&next, &s), "{next:?}");
        // A storm still going is seen from the second look on.
        assert!(should_react(&late.look(17.0, 14).unwrap(), &s));

        late.pause();
        assert_eq!(late.look(18.0, 20), None, "off and on again: a fresh first look");
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
        assert_eq!((full.interval_secs, full.current_size_mb, full.quiet_intervals), (30.0, 64, 0));
        let whole = Observation { interval_secs: 30.2, ..part.clone() };
        assert_eq!(extrapolate(&whole, &s), whole, "a full interval is not scaled");
        let empty = Observation { interval_secs: 0.0, ..part.clone() };
        assert_eq!(extrapolate(&empty, &s), empty, "no time, no rate");
    }

    #[test]
    fn the_early_decision_is_the_full_intervals_decision() {
        // The multiplicative default on a storm of 3 forced checkpoints a
        // second at 64 MB: 5 s of it decide what the 30 s would have.
        use crate::{Algorithm, SizingStrategy, StrategyState};
        let s = settings(30.0);
        let at = |secs: f64| Observation {
            current_size_mb: 64,
            forced_checkpoints: (3.0 * secs) as i64,
            requested_checkpoints: (3.0 * secs) as i64,
            wal_bytes: 90.0 * BYTES_PER_MB * secs,
            interval_secs: secs,
            ..Observation::default()
        };
        let strategy = Algorithm::Multiplicative.strategy();
        let state = StrategyState::default();
        let waited = strategy.decide(&at(30.0), &s, &state);
        let early = strategy.decide(&extrapolate(&at(5.0), &s), &s, &state);
        assert_eq!(early.new_size_mb, waited.new_size_mb);
        let unscaled = strategy.decide(&at(5.0), &s, &state);
        assert!(unscaled.new_size_mb < waited.new_size_mb, "unscaled, 5 s would under-grow");

        let told = annotate(early.clone(), &at(5.0), &extrapolate(&at(5.0), &s));
        assert_eq!((told.action, told.new_size_mb), (early.action, early.new_size_mb), "annotating changes no size");
        assert!(told.reason.starts_with(&early.reason), "{}", told.reason);
        assert!(told.reason.ends_with("(early reaction: 15 forced checkpoints in the first 5 s of the interval, scaled to 30 s)"));
        let meta = &told.metadata["early_reaction"];
        assert_eq!(meta["observed_forced_checkpoints"], 15);
        assert_eq!(meta["extrapolated_forced_checkpoints"], 90);
        assert_eq!(meta["observed_sec"], 5.0);
        assert_eq!(meta["observed_wal_bytes"], 450.0 * BYTES_PER_MB);
        assert_eq!(told.metadata["forced_checkpoints"], 90, "the strategy's own evidence is the scaled interval");
    }
}
