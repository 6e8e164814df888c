//! Pace-based growth: growing before the first forced checkpoint.
//!
//! Early reaction answers a storm after `walrus.threshold` forced
//! checkpoints, the evidence the reactive rule waits for. At realistic sizes
//! the evidence is there long before the harm: at PostgreSQL's default 1 GB
//! the trigger distance is 512 MB, and a pgbench TPC-B load writing 10 MB a
//! second reaches it some 50 s after the pace first shows. So while the WAL
//! comes at storm pace, the worker projects when the WAL since the last
//! checkpoint's redo point reaches the trigger, at the pace of the last
//! [`PACE_WINDOW_SECS`]; when that comes before the next time-triggered
//! checkpoint and the pace has held for [`CONFIRM_SECS`], it grows now to the
//! size the pace needs ([`decide`]).
//!
//! What never grows here: a burst shorter than the confirmation window; a
//! manual `CHECKPOINT` alone (it writes no WAL: the pace does not move; during
//! a load it moves the redo point, pushing the trigger away, and restarts the
//! checkpointer's timeout as PostgreSQL does, which the projection follows);
//! a pace that the next time-triggered checkpoint comes before. The disk ceiling and `walrus.max`
//! bound the size as for any growth ([`bounded_grow`]); the apply path then
//! treats the change as any automatic one (enable, dry run, recommend-only,
//! rate limits).

use std::collections::VecDeque;

use serde_json::json;

use crate::evidence::{BYTES_PER_MB, pace_forces_checkpoint, size_for_wal_mb, trigger_distance_bytes};
use crate::{Action, Decision, GrowOutcome, Settings, bounded_grow};

/// How long the WAL must have come at storm pace, judged over each
/// [`PACE_WINDOW_SECS`], before it counts: 8 seconds. The window still sees
/// a burst for its 2 s after it ends, so a burst must last about 6 s to
/// count: the noise of a busy server (a bulk statement, a batch commit of a
/// few seconds, like the bursts of the noise run) never grows the
/// size. A load that reaches the trigger in less met a size far too small
/// for it, which early reaction's reactive rule answers after its forced
/// checkpoints; at 1 GB a pgbench TPC-B load has about 50 s to the trigger,
/// so 8 s to be sure costs nothing there.
pub const CONFIRM_SECS: f64 = 8.0;

/// The span the pace is measured over: the last 2 seconds of glances (eight
/// of them at storm pace). One quarter second is at the mercy of a commit
/// burst or a stall (a load that commits every half second has quarter
/// seconds without WAL); the pace decides a size, so it is smoothed a little.
pub const PACE_WINDOW_SECS: f64 = 2.0;

/// The headroom above what the pace needs, as the WAL-based strategies
/// keep (`sizing::target::HEADROOM`): a pace measured over two seconds is an
/// estimate, and a size exactly at the edge is crossed by the next wave of
/// full-page images.
pub const HEADROOM: f64 = 1.10;

/// One glance's reading for the pace rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Glance {
    /// Seconds on the worker's monotonic clock.
    pub at_secs: f64,
    /// WAL insert position (bytes).
    pub insert_lsn: u64,
    /// The redo point of the latest checkpoint started (bytes).
    pub redo_lsn: u64,
}

/// What the glances of the current storm remember.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PaceWatch {
    /// The glances of the last [`PACE_WINDOW_SECS`] (and the one just before).
    recent: VecDeque<Glance>,
    /// When the current run of storm-pace glances began.
    storm_since: Option<f64>,
    /// When the redo point was last seen to move: a checkpoint started then
    /// (within one glance).
    checkpoint_seen_at: Option<f64>,
    /// The redo point of the checkpoint cycle a pace decision was last made
    /// in: one decision per cycle, whatever became of it (applied, dry run,
    /// recommend-only), so a glance four times a second does not repeat it.
    decided_at_redo: Option<u64>,
    /// The WAL of the last checkpoint cycle the glances saw end: from its
    /// redo point to the next one (see [`Projection::last_cycle_wal_bytes`]).
    last_cycle_wal: Option<u64>,
}

/// Where the WAL is heading, from one glance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    /// WAL per second over the pace window, as measured.
    pub pace_bytes_per_sec: f64,
    /// Seconds the pace has held at storm level.
    pub held_secs: f64,
    /// WAL still to write before PostgreSQL requests a checkpoint by volume.
    pub to_trigger_bytes: f64,
    /// Seconds until then at the pace.
    pub secs_to_trigger: f64,
    /// Seconds until the next time-triggered checkpoint.
    pub secs_to_timed: f64,
    /// The WAL of the last checkpoint cycle, redo point to redo point, when
    /// the glances saw it end (two consecutive glances with different redo
    /// points; not across a gap, which may hide more than one checkpoint).
    /// What a cycle of this load wrote: the size must hold at least that
    /// (a floor under the steady estimate, [`decide`]).
    pub last_cycle_wal_bytes: Option<f64>,
}

impl Projection {
    /// Whether to grow now: the pace has held for the confirmation window and
    /// reaches the trigger before the next time-triggered checkpoint.
    pub fn calls_for_growth(&self) -> bool {
        self.held_secs >= CONFIRM_SECS - 1e-9 && self.secs_to_trigger < self.secs_to_timed
    }
}

impl PaceWatch {
    /// The WAL was calm, or looks were off: the next storm starts afresh.
    pub fn pause(&mut self) {
        self.recent.clear();
        self.storm_since = None;
    }

    /// Takes `glance` in, at `current_size_mb`. When the pace over the last
    /// [`PACE_WINDOW_SECS`] is not a storm's, the run of storm pace ends: the
    /// confirmation window starts again when it comes back.
    pub fn glance(&mut self, glance: Glance, current_size_mb: i32, settings: &Settings) {
        // A gap longer than a calm glance or two (the worker was busy with a
        // cycle, or looks were off) is time nobody watched: the pace starts
        // afresh rather than count it as held, and a checkpoint that started
        // in it has no known time (dating it now could make the next timed
        // one look further away than it is).
        let stale = self
            .recent
            .back()
            .is_some_and(|previous| glance.at_secs - previous.at_secs > super::STALE_AFTER_SECS);
        if let Some(previous) = self.recent.back()
            && glance.redo_lsn != previous.redo_lsn
        {
            self.checkpoint_seen_at = (!stale).then_some(glance.at_secs);
            self.last_cycle_wal = (!stale).then(|| glance.redo_lsn.saturating_sub(previous.redo_lsn));
        }
        if stale {
            self.recent.clear();
            self.storm_since = None;
        }
        self.recent.push_back(glance);
        while self.recent.len() > 2 && glance.at_secs - self.recent[1].at_secs >= PACE_WINDOW_SECS - 1e-9 {
            self.recent.pop_front();
        }
        let storm = self
            .windowed()
            .is_some_and(|(wal, secs)| pace_forces_checkpoint(wal, secs, current_size_mb, settings));
        if !storm {
            self.storm_since = None;
        } else if self.storm_since.is_none() {
            // Counted from this glance: the window may reach back before the
            // WAL began, and the held time must not be overstated.
            self.storm_since = Some(glance.at_secs);
        }
    }

    /// WAL bytes and seconds over the pace window; `None` with fewer than two
    /// glances in it.
    fn windowed(&self) -> Option<(f64, f64)> {
        let (oldest, newest) = (self.recent.front()?, self.recent.back()?);
        let secs = newest.at_secs - oldest.at_secs;
        (secs > 0.0).then(|| (newest.insert_lsn.saturating_sub(oldest.insert_lsn) as f64, secs))
    }

    /// When the current run of storm pace began (the glance's clock), while
    /// one runs: the worker reads the counters then, for the steady estimate
    /// over the storm ([`SteadyPace`]).
    pub fn storm_since(&self) -> Option<f64> {
        self.storm_since
    }

    /// Whether the glances have seen a checkpoint start, so a projection
    /// needs no `checkpoint_age_secs` from the server.
    pub fn knows_checkpoint_start(&self) -> bool {
        self.checkpoint_seen_at.is_some()
    }

    /// Whether a pace decision may be made in the current checkpoint cycle.
    pub fn may_decide(&self) -> bool {
        self.recent
            .back()
            .is_some_and(|newest| Some(newest.redo_lsn) != self.decided_at_redo)
    }

    /// A pace decision was made in the current checkpoint cycle.
    pub fn decided(&mut self) {
        self.decided_at_redo = self.recent.back().map(|newest| newest.redo_lsn);
    }

    /// The projection from the latest glance, at `current_size_mb`.
    /// `checkpoint_age_secs` is how long ago the checkpointer's timeout
    /// last started counting as the server records it: the latest
    /// checkpoint's time in pg_control, or the server's start if later. It is
    /// used until the glances see a checkpoint start themselves. The
    /// checkpointer tries a timed checkpoint every `checkpoint_timeout` and
    /// skips it on an idle server, keeping the cadence, so an age past the
    /// timeout is taken modulo it. An older time only brings the
    /// time-triggered checkpoint nearer, so it can hold a grow back, never
    /// start one. `None` before a storm has a pace.
    pub fn projection(
        &self,
        current_size_mb: i32,
        checkpoint_age_secs: f64,
        settings: &Settings,
    ) -> Option<Projection> {
        let newest = self.recent.back()?;
        let storm_since = self.storm_since?;
        let (wal, secs) = self.windowed()?;
        let pace = wal / secs;
        let to_trigger =
            trigger_lsn(newest.redo_lsn, current_size_mb, settings).saturating_sub(newest.insert_lsn) as f64;
        let timeout = settings.checkpoint_timeout_secs;
        let age = self
            .checkpoint_seen_at
            .map_or(checkpoint_age_secs, |at| newest.at_secs - at)
            .max(0.0);
        let age = if timeout > 0.0 && age >= timeout {
            age % timeout
        } else {
            age
        };
        Some(Projection {
            pace_bytes_per_sec: pace,
            held_secs: newest.at_secs - storm_since,
            to_trigger_bytes: to_trigger,
            secs_to_trigger: if pace > 0.0 { to_trigger / pace } else { f64::INFINITY },
            secs_to_timed: (timeout - age).max(0.0),
            last_cycle_wal_bytes: self.last_cycle_wal.map(|bytes| bytes as f64),
        })
    }
}

/// The earliest WAL position at which PostgreSQL may request a checkpoint by
/// volume: the start of the redo point's segment plus the trigger distance
/// (`CheckPointSegments - 1` segments, `evidence::trigger_distance_bytes`).
/// XLogWrite asks XLogCheckpointNeeded as it finishes a segment, so the
/// request comes up to one segment later: projecting to here errs by at most
/// a segment towards growing early, never late.
pub fn trigger_lsn(redo_lsn: u64, max_wal_size_mb: i32, settings: &Settings) -> u64 {
    let segment = (f64::from(settings.wal_segment_mb.max(1)) * BYTES_PER_MB) as u64;
    (redo_lsn / segment * segment).saturating_add(trigger_distance_bytes(max_wal_size_mb, settings) as u64)
}

/// What the statistics say about the load's steady WAL, the WAL it would
/// write with time-triggered checkpoints only: right after a checkpoint every
/// page's first change writes a full-page image, so the pace is inflated by
/// images the load writes once per cycle, and sizing from it as measured
/// would overshoot (a pgbench load from 1 GB at 5 minutes: 10.6 MB/s
/// measured, a grow to `walrus.max`, for a cycle that wrote 500 MB).
///
/// The estimate spans the storm so far, from the glance its storm pace began
/// at: the full-page model spreads the span's images over its whole length,
/// so a span that began before the load (the worker's interval, idle for
/// minutes before a load started) takes few images out, and a load that
/// started partway through an interval was sized from nearly its measured,
/// image-inflated pace ([`SteadyPace::estimated`]'s tests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SteadyPace {
    /// The storm so far's steady WAL over its measured WAL
    /// (`Observation::sizing_wal_bytes` over `wal_bytes`), applied to the
    /// pace; 1 without an estimate.
    pub share: f64,
    /// The storm so far's steady WAL per second; 0 without an estimate.
    pub storm_bytes_per_sec: f64,
    /// How long the estimate spans, seconds; 0 without an estimate.
    pub storm_secs: f64,
}

impl SteadyPace {
    /// No estimate: the pace is taken as measured.
    pub const UNKNOWN: SteadyPace = SteadyPace {
        share: 1.0,
        storm_bytes_per_sec: 0.0,
        storm_secs: 0.0,
    };

    /// From the full-page estimate over the storm so far: `steady_bytes` of
    /// the `measured_bytes` written in `storm_secs`. `None` when the figures
    /// make no estimate (no WAL, no time).
    pub fn estimated(steady_bytes: f64, measured_bytes: f64, storm_secs: f64) -> Option<SteadyPace> {
        let usable = [steady_bytes, measured_bytes, storm_secs]
            .into_iter()
            .all(|v| v.is_finite() && v > 0.0);
        usable.then(|| SteadyPace {
            share: (steady_bytes / measured_bytes).min(1.0),
            storm_bytes_per_sec: steady_bytes / storm_secs,
            storm_secs,
        })
    }

    /// Whether this is an estimate (not [`SteadyPace::UNKNOWN`]).
    pub fn is_estimate(&self) -> bool {
        self.storm_secs > 0.0
    }

    /// The steady part of `pace`: the share applied to it, or the storm's
    /// own steady pace if that is larger. The image wave after a checkpoint
    /// decays, so the pace of the last seconds is below the storm's average
    /// while the share is the storm's: applied to that pace it understates
    /// (pgbench at scale 50 from 1 GB at 5 minutes: 2.1 MB/s 8 s in, where
    /// the whole 300 s interval's estimate was 3.0; the grow to 1372 MB was
    /// crossed 100 s in). Neither exceeds the measured pace.
    pub fn of(&self, pace: f64) -> f64 {
        let share = if self.share.is_finite() {
            self.share.clamp(0.0, 1.0)
        } else {
            1.0
        };
        let storm = if self.storm_bytes_per_sec.is_finite() {
            self.storm_bytes_per_sec.max(0.0)
        } else {
            0.0
        };
        (pace * share).max(storm.min(pace))
    }
}

/// The growth `projection` calls for: the size the steady part of the pace
/// ([`SteadyPace`]) needs per `checkpoint_timeout`, with the usual headroom,
/// within the ceiling. `None` when the projection calls for no growth or the
/// size already suffices.
pub fn decide(
    projection: &Projection,
    steady: SteadyPace,
    current_size_mb: i32,
    settings: &Settings,
) -> Option<Decision> {
    if !projection.calls_for_growth() {
        return None;
    }
    let steady_pace = steady.of(projection.pace_bytes_per_sec);
    // The estimate is made seconds into the wave and can fall short (at
    // scale 50 it said 2.4 to 2.9 MB/s where cycles wrote 2.6 to 3.4): a size
    // it chose may be crossed late in the cycle, and one forced checkpoint
    // per cycle is below walrus.threshold, so no reactive rule would answer
    // it. The last cycle's own WAL is what this load wrote in a cycle: the
    // size holds at least that. It never exceeds what a cycle wrote.
    let last_cycle = projection
        .last_cycle_wal_bytes
        .filter(|bytes| bytes.is_finite() && *bytes > 0.0)
        .unwrap_or(0.0);
    let per_timeout = (steady_pace * settings.checkpoint_timeout_secs).max(last_cycle);
    let needed = size_for_wal_mb(per_timeout, settings);
    let wanted = (f64::from(needed) * HEADROOM).ceil().min(f64::from(i32::MAX)) as i32;
    let (action, new_size_mb) = match bounded_grow(current_size_mb, wanted, settings.ceiling_mb()) {
        GrowOutcome::Grow(size) => (Action::Increase, size),
        GrowOutcome::Capped(size) => (Action::Capped, size),
        GrowOutcome::AtCeiling | GrowOutcome::NotLarger => return None,
    };
    let mb = |bytes: f64| (bytes / BYTES_PER_MB).round();
    let reason = format!(
        "WAL at {:.1} MB/s for {:.0} s would reach the checkpoint trigger ({} MB left at {current_size_mb} MB) in \
         {:.0} s, before the time-triggered checkpoint in {:.0} s: growing before the first forced checkpoint",
        projection.pace_bytes_per_sec / BYTES_PER_MB,
        projection.held_secs,
        mb(projection.to_trigger_bytes),
        projection.secs_to_trigger,
        projection.secs_to_timed,
    );
    Some(Decision {
        action,
        old_size_mb: current_size_mb,
        new_size_mb,
        computed_size_mb: Some(wanted),
        reason,
        metadata: json!({
            "pace_growth": {
                "pace_mb_per_sec": (projection.pace_bytes_per_sec / BYTES_PER_MB * 10.0).round() / 10.0,
                "steady_pace_mb_per_sec": (steady_pace / BYTES_PER_MB * 10.0).round() / 10.0,
                "held_sec": projection.held_secs.round(),
                "to_trigger_mb": mb(projection.to_trigger_bytes),
                "sec_to_trigger": projection.secs_to_trigger.round(),
                "sec_to_timed_checkpoint": projection.secs_to_timed.round(),
                "wal_per_timeout_mb": mb(per_timeout),
                "steady_estimate_sec": steady.storm_secs.round(),
                "last_cycle_wal_mb": projection.last_cycle_wal_bytes.map(mb),
            }
        }),
    })
}

#[cfg(test)]
#[path = "pace_tests.rs"]
mod tests;
