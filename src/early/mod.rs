//! The worker's glances and looks at the interval so far, for early
//! reaction and pace-based growth (the rules are `walrus_strategies::early`
//! and `walrus_strategies::early::pace`). A glance reads the WAL insert
//! position and the redo point and nothing else; a look, taken only when the
//! glances saw WAL at storm pace, reads the counters the way a cycle does but
//! changes nothing: no baseline moves, no state is written.

use std::time::Duration;

use pgrx::prelude::*;

use walrus_strategies::early::pace;
use walrus_strategies::early::{Glances, Looks, should_react};
use walrus_strategies::evidence::BYTES_PER_MB;
use walrus_strategies::{ChangeKind, Decision, RateVerdict, Settings, Urgency, rate_verdict};

use crate::sizing::{self, Regime};
use crate::{apply, guc, pg::clock, pg::server, pg::stats, pg::txn, shmem};

mod storm;
pub use storm::PaceMemory;

/// The glances and looks inside one interval.
pub struct Watch {
    glances: Glances,
    looks: Looks,
    /// The pace rule's glances and storm start: kept by the worker across
    /// intervals (a checkpoint seen starting in one interval dates the next,
    /// a storm goes on), lent to each interval's watch.
    pace: PaceMemory,
    /// The server's checkpoint age, read once per redo point (a failed read
    /// too, so that it is not retried four times a second): the redo point,
    /// when it was read (monotonic seconds), the age then.
    server_age: Option<(u64, f64, Option<f64>)>,
    /// A pace-based grow this interval was not applied (recommend-only, a
    /// failed write, rate limits): no other until the interval's cycle.
    pace_held: bool,
}

/// What a due glance found.
#[derive(Debug)]
pub enum Glanced {
    /// Nothing to do before the interval ends.
    Nothing,
    /// Early reaction: end the interval now and decide.
    Early,
    /// Pace-based growth: apply this grow now; the interval goes on.
    Grow(Box<Decision>),
}

impl Watch {
    /// The watch over the interval that began at `since_ns` (monotonic). It
    /// is made after that interval's cycle, which can take a while in a
    /// storm: its first glance's position is stamped with the time it was
    /// read, so that the first pace is not diluted by the cycle's time.
    pub fn new(since_ns: i64, pace: PaceMemory) -> Watch {
        let looking = looking();
        let now_secs = clock::seconds_between(since_ns, clock::monotonic_ns()).max(0.0);
        Watch {
            glances: Glances::starting(now_secs, looking.then(server::wal_insert_lsn)),
            looks: Looks::starting(looking && guc::early_reaction()),
            pace,
            server_age: None,
            pace_held: false,
        }
    }

    /// The pace-based grow just tried was not applied: none again before the
    /// interval's cycle (each try would log, record and notify again).
    pub fn hold_pace(&mut self) {
        self.pace_held = true;
    }

    /// The pace rule's memory, back to the worker at the interval's end.
    pub fn into_pace(self) -> PaceMemory {
        self.pace
    }

    /// How long from `elapsed` until the next glance is due; `None` while
    /// looks are off, so that the worker sleeps through to the end of the
    /// interval instead of waking for nothing (a reload
    /// that turns them on wakes it, and this is asked again).
    pub fn until_next_glance(&self, elapsed: Duration) -> Option<Duration> {
        looking().then(|| Duration::from_secs_f64(self.glances.until_next(elapsed.as_secs_f64())))
    }

    /// Glances if a glance is due at `elapsed`; at storm pace, looks for
    /// early reaction and projects for pace-based growth.
    pub fn look_if_due(&mut self, elapsed: Duration) -> Glanced {
        if !looking() {
            self.looks.pause();
            self.glances.forget();
            self.pace.glances.pause();
            return Glanced::Nothing;
        }
        let elapsed = elapsed.as_secs_f64();
        if !self.glances.due(elapsed) {
            return Glanced::Nothing;
        }
        let position = server::wal_insert_lsn();
        let current_mb = server::max_wal_size_mb();
        let settings = sizing::server_settings();
        let storm = self.glances.glance(elapsed, position, current_mb, &settings);
        self.pace.glances.glance(
            pace::Glance {
                at_secs: apply::now_secs(),
                insert_lsn: position,
                redo_lsn: server::redo_lsn(),
            },
            current_mb,
            &settings,
        );
        if guc::pace_growth() {
            self.pace.note_storm_start();
        }
        // Calm: no transaction. The looks keep their readings across a dip;
        // `Looks::look` starts afresh after a longer calm.
        if !storm {
            return Glanced::Nothing;
        }
        if guc::early_reaction() && self.look() {
            return Glanced::Early;
        }
        if guc::pace_growth()
            && let Some(decision) = self.grow_at_pace(current_mb, &settings)
        {
            return Glanced::Grow(Box::new(decision));
        }
        Glanced::Nothing
    }

    /// Pace-based growth's decision, once per checkpoint cycle. The
    /// projection from the glances alone first (no transaction while it calls
    /// for nothing); then, if the glances have not seen the checkpoint start,
    /// the server's checkpoint age (one read per redo point); then, once per
    /// checkpoint cycle, the full-page-image estimate over the storm so far
    /// to size from (`storm`).
    /// `server` holds PostgreSQL's settings, all a projection needs; the
    /// walrus.* settings and the profile (the ceiling, the sizing) are read
    /// only once a projection calls for growth.
    fn grow_at_pace(&mut self, current_mb: i32, server: &Settings) -> Option<Decision> {
        if self.pace_held || !self.pace.glances.may_decide() {
            return None;
        }
        // Age 0: the timed checkpoint a whole timeout away, the most any
        // age allows; if even that calls for nothing, nothing does.
        let hopeful = self.pace.glances.projection(current_mb, 0.0, server)?;
        if !hopeful.calls_for_growth() || !rate_limits_let_through(Urgency::CanWait) {
            return None;
        }
        let regime = Regime::now();
        let settings = &regime.settings;
        if current_mb >= settings.ceiling_mb() {
            return None;
        }
        let projection = if self.pace.glances.knows_checkpoint_start() {
            hopeful
        } else {
            // Not knowing when the checkpoint started, a timed one may come
            // at once: no growth on a guess.
            let age = self.server_checkpoint_age()?;
            self.pace.glances.projection(current_mb, age, settings)?
        };
        if !projection.calls_for_growth() {
            return None;
        }
        // From here, once per checkpoint cycle: the stats are read once.
        self.pace.glances.decided();
        // Sized net of the full-page images the storm's checkpoint cycle
        // brings, estimated over the storm so far (`storm`). Without an
        // estimate, from the pace as measured: too large rather than too
        // small, within the ceiling.
        let (steady, steady_said) = match self.pace.steady_pace(settings) {
            Ok(steady) => (
                steady,
                format!("its steady part over the storm's {:.0} s", steady.storm_secs),
            ),
            Err(why) => {
                debug1!("pg_walrus: pace-based growth sizes from the pace as measured: no steady estimate ({why})");
                (
                    pace::SteadyPace::UNKNOWN,
                    "with no steady estimate, the pace".to_owned(),
                )
            }
        };
        let decision = pace::decide(&projection, steady, current_mb, settings);
        if decision.is_none() {
            // Said once per checkpoint cycle (the decision is): why a pace
            // that would reach the trigger grew nothing.
            debug1!(
                "pg_walrus: pace-based growth: WAL at {:.1} MB/s would reach the checkpoint trigger in {:.0} s, \
                 before the time-triggered checkpoint in {:.0} s, but {steady_said}, {:.1} MB/s, needs no more per \
                 checkpoint_timeout than {current_mb} MB holds (or the ceiling allows): no growth",
                projection.pace_bytes_per_sec / BYTES_PER_MB,
                projection.secs_to_trigger,
                projection.secs_to_timed,
                steady.of(projection.pace_bytes_per_sec) / BYTES_PER_MB,
            );
        }
        decision
    }

    fn look(&mut self) -> bool {
        let regime = Regime::now();
        let settings = &regime.settings;
        let state = shmem::snapshot();
        // Reacting only makes sense when a change could follow: room to grow,
        // and rate limits that let a storm's grow through (they do, unless
        // walrus.max_changes_per_hour = 0 turned automatic changes off: a
        // cooldown must not hold back the answer to a storm). Asked before
        // the transaction: a storm at walrus.max would otherwise cost one
        // every glance for minutes.
        let room = server::max_wal_size_mb() < settings.ceiling_mb();
        if !(room && rate_limits_let_through(Urgency::Storm)) {
            self.looks.pause();
            return false;
        }
        // A look that cannot read the stats does not react, and the next one
        // starts afresh (its window would span the failure); the cycle at the
        // end of the interval reports the problem.
        let observation = txn::guarded(stats::read_for_look)
            .ok()
            .flatten()
            .and_then(|reading| sizing::observe(&state, &reading, settings));
        let Some(observation) = observation else {
            self.looks.pause();
            return false;
        };
        self.looks
            .look(
                observation.interval_secs,
                observation.forced_checkpoints,
                observation.wal_bytes,
            )
            .is_some_and(|look| should_react(&look, observation.current_size_mb, settings))
    }

    /// The server's checkpoint age now (`server::checkpoint_age_secs`), read
    /// once per redo point and aged on the monotonic clock since.
    fn server_checkpoint_age(&mut self) -> Option<f64> {
        let redo = server::redo_lsn();
        let now = apply::now_secs();
        if let Some((at_redo, read_at, age)) = self.server_age
            && at_redo == redo
        {
            return age.map(|age| age + (now - read_at));
        }
        let age = match txn::guarded(server::checkpoint_age_secs) {
            Ok(age) => age,
            Err(error) => {
                // Said once per redo point: the read is not retried until
                // the next checkpoint, and no pace-based grow comes before.
                debug1!("pg_walrus: could not read the checkpoint's age for pace-based growth: {error}");
                None
            }
        };
        self.server_age = Some((redo, now, age));
        age
    }
}

/// Glances are on: walrus.early_reaction or walrus.pace_growth, and the
/// worker enabled at all.
fn looking() -> bool {
    (guc::early_reaction() || guc::pace_growth()) && guc::enabled()
}

/// Whether the rate limits let an automatic grow of this urgency through now
/// (no transaction: shared memory only). A storm's grow, after forced
/// checkpoints, passes a cooldown; a pace-based grow can wait.
fn rate_limits_let_through(urgency: Urgency) -> bool {
    let state = shmem::snapshot();
    let limits = guc::rate_limits();
    let now_secs = apply::now_secs();
    !matches!(
        rate_verdict(ChangeKind::Automatic, urgency, || state
            .recent_changes
            .check(now_secs, &limits)),
        RateVerdict::Held(_)
    )
}
