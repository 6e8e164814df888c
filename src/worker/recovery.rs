//! The worker on a standby, and at promotion. A standby never sizes from its
//! own counters (PostgreSQL 15/16 count restartpoint requests as requested
//! checkpoints, and its WAL is the primary's): it follows the size the
//! primary publishes in walrus.primary_size (`walrus.standby_mirror`), within
//! its own WAL disk, and writes nothing but its own postgresql.auto.conf.
//! Promoted, it catches up with that size before anything else, so the node
//! that takes the load already runs at the size the old primary had. This
//! is the loop and the take-over; what a look does is `standby::Mirror`.

use std::time::Duration;

use pgrx::bgworkers::BackgroundWorker;
use pgrx::prelude::*;
use walrus_strategies::ApplyVia;

use super::Worker;
use crate::pg::process::{reload_configuration, wait_on_latch};
use crate::standby::mirrors_itself;
use crate::{guc, patroni::apply_via, pg::clock, pg::server, pg::stats, pg::txn, shmem};

/// How often a standby looks at the record (and its disk).
const LOOK_SECS: i64 = 10;
/// How long a promoted node waits for the promotion's own checkpoint to be
/// counted before it takes its first baseline.
const PROMOTION_CHECKPOINT_WAIT: Duration = Duration::from_secs(5);

impl Worker {
    /// While this node is a standby: follow the primary's size and watch the
    /// disk every 10 s; notice a promotion within a second. Returns true when
    /// promoted, false on SIGTERM.
    pub(super) fn follow_primary(&mut self) -> bool {
        log!(
            "pg_walrus: standby: {}",
            if mirrors_itself() {
                "following the max_wal_size the primary publishes (walrus.standby_mirror)"
            } else if guc::standby_mirror() {
                "Patroni applies the cluster's max_wal_size (walrus.apply_via = patroni)"
            } else {
                "walrus.standby_mirror is off; the size is caught up at promotion"
            }
        );
        let mut next_look_ns = 0;
        loop {
            if BackgroundWorker::sigterm_received() {
                return false;
            }
            if !server::in_recovery() {
                return true;
            }
            let now = clock::monotonic_ns();
            if now >= next_look_ns {
                next_look_ns = now + LOOK_SECS * 1_000_000_000;
                self.check_disk();
                if mirrors_itself() {
                    self.mirror.follow(&mut self.writer, "the primary's size");
                }
            }
            wait_on_latch(Duration::from_secs(1));
            if BackgroundWorker::sighup_received() {
                reload_configuration();
            }
        }
    }

    /// Just promoted: before anything else, the former primary's size (the
    /// record replayed up to the promotion), within this node's disk; then a
    /// baseline that leaves the promotion's own checkpoint out.
    pub(super) fn take_over_after_promotion(&mut self) {
        let before = txn::guarded(stats::read_now).ok().flatten();
        if apply_via::apply_via() == ApplyVia::Patroni {
            log!("pg_walrus: promoted: running with the cluster's max_wal_size (Patroni), sizing as a primary");
        } else {
            log!("pg_walrus: promoted: taking the former primary's max_wal_size, then sizing as a primary");
        }
        shmem::update(|state| state.promoted_at = clock::now());
        self.check_disk();
        // Under Patroni every member already runs with the cluster's value.
        if apply_via::apply_via() != ApplyVia::Patroni {
            self.mirror
                .follow(&mut self.writer, "the former primary's size, on promotion");
        }
        // Promotion requests one checkpoint of its own; it is counted when it
        // starts. Waiting (briefly) for it keeps it out of the first interval.
        if let Some(before) = before {
            let deadline = clock::monotonic_ns() + PROMOTION_CHECKPOINT_WAIT.as_nanos() as i64;
            while clock::monotonic_ns() < deadline {
                let counted = txn::guarded(stats::read_now)
                    .ok()
                    .flatten()
                    .is_some_and(|now| now.counts.requested > before.counts.requested);
                if counted || BackgroundWorker::sigterm_received() {
                    break;
                }
                wait_on_latch(Duration::from_millis(250));
            }
        }
        shmem::update(|state| state.has_baseline = false);
    }
}
