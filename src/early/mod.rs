//! The worker's glances and looks at the interval so far, for early
//! reaction (the rule itself is `walrus_strategies::early`). A glance reads
//! the WAL insert position and nothing else; a look, taken only when the
//! glances saw WAL at storm pace, reads the counters the way a cycle does but
//! changes nothing: no baseline moves, no state is written.

use std::time::Duration;

use walrus_strategies::early::{Glances, Looks, should_react};
use walrus_strategies::{ChangeKind, RateVerdict, Urgency, rate_verdict};

use crate::sizing::{self, Regime};
use crate::{apply, guc, pg::clock, pg::server, pg::stats, pg::txn, shmem};

/// The glances and looks inside one interval.
pub struct Watch {
    glances: Glances,
    looks: Looks,
}

impl Watch {
    /// The watch over the interval that began at `since_ns` (monotonic). It
    /// is made after that interval's cycle, which can take a while in a
    /// storm: its first glance's position is stamped with the time it was
    /// read, so that the first pace is not diluted by the cycle's time.
    pub fn new(since_ns: i64) -> Watch {
        let looking = looking();
        let now_secs = clock::seconds_between(since_ns, clock::monotonic_ns()).max(0.0);
        Watch {
            glances: Glances::starting(now_secs, looking.then(server::wal_insert_lsn)),
            looks: Looks::starting(looking),
        }
    }

    /// How long from `elapsed` until the next glance is due; `None` while
    /// looks are off, so that the worker sleeps through to the end of the
    /// interval instead of waking for nothing (a reload
    /// that turns them on wakes it, and this is asked again).
    pub fn until_next_glance(&self, elapsed: Duration) -> Option<Duration> {
        looking().then(|| Duration::from_secs_f64(self.glances.until_next(elapsed.as_secs_f64())))
    }

    /// Glances if a glance is due at `elapsed`, and looks if the WAL since
    /// the previous glance came at storm pace; true when the worker should
    /// end the interval now and decide.
    pub fn look_if_due(&mut self, elapsed: Duration) -> bool {
        if !looking() {
            self.looks.pause();
            self.glances.forget();
            return false;
        }
        let elapsed = elapsed.as_secs_f64();
        if !self.glances.due(elapsed) {
            return false;
        }
        let storm = self.glances.glance(
            elapsed,
            server::wal_insert_lsn(),
            server::max_wal_size_mb(),
            &sizing::server_settings(),
        );
        // Calm: no transaction. The looks keep their readings across a dip;
        // `Looks::look` starts afresh after a longer calm.
        storm && self.look()
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
        let limits = guc::rate_limits();
        let now_secs = apply::now_secs();
        let allowed = !matches!(
            rate_verdict(ChangeKind::Automatic, Urgency::Storm, || state
                .recent_changes
                .check(now_secs, &limits)),
            RateVerdict::Held(_)
        );
        if !(room && allowed) {
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
}

/// Looks are on: walrus.early_reaction, and the worker enabled at all.
fn looking() -> bool {
    guc::early_reaction() && guc::enabled()
}
