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

pub mod pace;

use std::collections::VecDeque;

use serde_json::{Value, json};

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

/// When the worker glances at the WAL insert position, and whether the WAL
/// between two glances came at storm pace. The worker reads the position;
/// this keeps the schedule and judges the pace.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Glances {
    /// Seconds into the interval when the next glance is due.
    next_secs: f64,
    /// The previous glance: seconds into the interval, WAL insert position.
    previous: Option<(f64, u64)>,
}

impl Glances {
    /// The glances of a watch made `now_secs` into its interval, after that
    /// interval's cycle (which can take a while in a storm). `position` is
    /// the WAL insert position read now, `None` while looks are off: stamped
    /// with the time it was read, it keeps the cycle's time out of the first
    /// pace. The first glance comes a quick period later, so a storm that
    /// was already going is judged at once.
    pub fn starting(now_secs: f64, position: Option<u64>) -> Glances {
        Glances {
            next_secs: now_secs + GLANCE_PERIOD_SECS,
            previous: position.map(|position| (now_secs, position)),
        }
    }

    /// Seconds from `elapsed_secs` until the next glance is due (0 when due).
    pub fn until_next(&self, elapsed_secs: f64) -> f64 {
        (self.next_secs - elapsed_secs).max(0.0)
    }

    /// Whether a glance is due at `elapsed_secs`.
    pub fn due(&self, elapsed_secs: f64) -> bool {
        elapsed_secs >= self.next_secs
    }

    /// Looks were turned off: when they come back, the first glance only
    /// takes a position (a pace across the time they were off means nothing).
    pub fn forget(&mut self) {
        self.previous = None;
    }

    /// The glance at `elapsed_secs` reading `position`: whether the WAL
    /// since the previous glance came at storm pace for `current_size_mb`.
    /// Schedules the next glance, quick in a storm and calm otherwise.
    pub fn glance(&mut self, elapsed_secs: f64, position: u64, current_size_mb: i32, settings: &Settings) -> bool {
        let storm = self
            .previous
            .replace((elapsed_secs, position))
            .is_some_and(|(then, position_then)| {
                let wal = position.saturating_sub(position_then) as f64;
                at_storm_pace(wal, elapsed_secs - then, current_size_mb, settings)
            });
        self.next_secs = elapsed_secs + glance_period_secs(storm);
        storm
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
    crate::evidence::pace_forces_checkpoint(wal_bytes, secs, current_size_mb, settings)
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

/// The decision on an interval cut short by early reaction: `decide` (the
/// strategy, bounded as for any interval) judges `seen` scaled to a full
/// interval, and the reason and metadata say what was actually seen.
/// Returns the decision and the scaled observation it was made on.
pub fn decide(
    seen: &Observation,
    settings: &Settings,
    decide: impl FnOnce(&Observation) -> Decision,
) -> (Decision, Observation) {
    let judged = extrapolate(seen, settings);
    let decision = annotate(decide(&judged), seen, &judged);
    (decision, judged)
}

#[cfg(test)]
mod tests;
