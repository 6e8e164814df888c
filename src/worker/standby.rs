//! The worker on a standby, and at promotion. A standby never sizes from its
//! own counters (PostgreSQL 15/16 count restartpoint requests as requested
//! checkpoints, and its WAL is the primary's): it follows the size the
//! primary publishes in walrus.primary_size (`walrus.standby_mirror`), within
//! its own WAL disk, and writes nothing but its own postgresql.auto.conf.
//! Promoted, it catches up with that size before anything else, so the node
//! that takes the load already runs at the size the old primary had.

use std::time::Duration;

use pgrx::bgworkers::BackgroundWorker;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};
use walrus_strategies::{ApplyVia, ChangeKind, Urgency, standby as rule};

use super::Worker;
use crate::pg::process::{reload_configuration, wait_on_latch};
use crate::sizing::Regime;
use crate::standby::STANDBY_RETENTION_HINT;
use crate::{apply, guc, patroni::apply_via, pg::clock, pg::server, pg::stats, pg::txn, shmem, standby::primary_size};

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
                    self.follow("the primary's size");
                }
            }
            wait_on_latch(Duration::from_secs(1));
            if BackgroundWorker::sighup_received() {
                reload_configuration();
            }
        }
    }

    /// Whether this node, starting as a primary, was promoted since the record
    /// was published (its worker did not run in recovery: hot_standby off, or
    /// stopped): then it takes over as if it had seen the promotion.
    pub(super) fn promoted_while_away(&self) -> bool {
        matches!(
            txn::guarded(primary_size::published),
            Ok(Ok(Some(record))) if record.timeline < primary_size::current_timeline()
        )
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
            self.follow("the former primary's size, on promotion");
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

    /// Brings this node to the published size, if there is one and it
    /// differs, within this node's disk ceiling.
    fn follow(&mut self, why: &str) {
        self.writer.catch_up_with_writes();
        let primary_mb = match txn::guarded(primary_size::published) {
            Ok(Ok(Some(record))) => record.size_mb,
            Ok(Ok(None)) => {
                debug1!("pg_walrus: no published primary size yet (walrus.primary_size)");
                return;
            }
            Ok(Err(error)) => {
                debug1!("pg_walrus: could not read walrus.primary_size: {error}");
                return;
            }
            Err(error) => {
                debug1!("pg_walrus: could not read walrus.primary_size: {error}");
                return;
            }
        };
        shmem::update(|state| state.primary_size_mb = primary_mb);
        let settings = Regime::now().settings;
        let current = server::max_wal_size_mb();
        let target = rule::target(primary_mb, current, &settings.disk, settings.absolute_floor_mb());
        if std::mem::replace(&mut self.mirror_capped, target.capped_by_disk) != target.capped_by_disk
            && target.capped_by_disk
        {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_WARNING,
                format!(
                    "pg_walrus: this node's WAL disk allows {} MB, below the primary's max_wal_size of {primary_mb} \
                     MB; following it only that far",
                    target.size_mb
                ),
                "pg_walrus",
            )
            .set_hint(STANDBY_RETENTION_HINT)
            .report(PgLogLevel::WARNING);
        }
        let Some(decision) = rule::decision(target, primary_mb, current, why) else {
            return;
        };
        let change = apply::Change {
            decision,
            kind: ChangeKind::Mirror,
            // Not rate-limited: the limits are never asked.
            urgency: Urgency::CanWait,
            strategy: "mirror",
            forced: 0,
            at_secs: apply::now_secs(),
            reading: None,
        };
        if let apply::Outcome::Applied(_) = self.writer.apply_change(&change) {
            reload_configuration();
            shmem::update(|state| state.mirrored_at = clock::now());
        }
    }
}

/// Whether this standby follows the primary's size itself: with mirroring
/// on, unless Patroni applies the cluster's value to every member.
fn mirrors_itself() -> bool {
    guc::standby_mirror() && apply_via::apply_via() != ApplyVia::Patroni
}
