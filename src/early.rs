//! The worker's looks at the interval so far, for early reaction (the rule
//! itself is `walrus_strategies::early`). A look reads the counters the way
//! a cycle does but changes nothing: no baseline moves, no state is written.

use std::time::Duration;

use walrus_strategies::early::{Looks, poll_period_secs, should_react};

use crate::sizing::{self, Regime};
use crate::{clock, guc, server, shmem, stats, txn};

/// The looks inside one interval.
pub struct Watch {
    next_look_secs: f64,
    looks: Looks,
}

impl Watch {
    pub fn new() -> Watch {
        Watch {
            next_look_secs: poll_period_secs(timeout_secs()),
            looks: Looks::starting(looking()),
        }
    }

    /// How long from `elapsed` until the next look is due; `None` while
    /// looks are off, so that the worker sleeps through to the end of the
    /// interval instead of waking every poll period for nothing (a reload
    /// that turns them on wakes it, and this is asked again).
    pub fn until_next_look(&self, elapsed: Duration) -> Option<Duration> {
        looking().then(|| Duration::from_secs_f64((self.next_look_secs - elapsed.as_secs_f64()).max(0.0)))
    }

    /// Looks if a look is due at `elapsed`; true when the worker should end
    /// the interval now and decide.
    pub fn look_if_due(&mut self, elapsed: Duration) -> bool {
        if !looking() {
            self.looks.pause();
            return false;
        }
        let elapsed = elapsed.as_secs_f64();
        if elapsed < self.next_look_secs {
            return false;
        }
        self.next_look_secs = elapsed + poll_period_secs(timeout_secs());
        self.look()
    }

    fn look(&mut self) -> bool {
        // A look that cannot read the stats simply does not react; the
        // cycle at the end of the interval reports the problem.
        let Ok(Some(reading)) = txn::guarded(stats::read_now) else {
            return false;
        };
        let regime = Regime::now();
        let settings = &regime.settings;
        let state = shmem::snapshot();
        let Some(observation) = sizing::observe(&state, &reading, settings) else {
            return false;
        };
        let Some(look) = self.looks.look(
            observation.interval_secs,
            observation.forced_checkpoints,
            observation.wal_bytes,
        ) else {
            return false;
        };
        // Reacting only makes sense when a change could follow: room to grow,
        // and no rate limit that would turn the decision into a skip.
        let room = observation.current_size_mb < settings.ceiling_mb();
        let allowed = state
            .recent_changes
            .check(clock::monotonic_ns() as f64 / 1e9, &guc::rate_limits())
            .is_ok();
        room && allowed && should_react(&look, observation.current_size_mb, settings)
    }
}

/// Looks are on: walrus.early_reaction, and the worker enabled at all.
fn looking() -> bool {
    guc::early_reaction() && guc::enabled()
}

fn timeout_secs() -> f64 {
    f64::from(server::checkpoint_timeout_secs().max(1))
}
