//! A standby following its primary's size (`walrus.standby_mirror`): it
//! reads the size the primary published in walrus.primary_size and brings its
//! own to it, within its own WAL disk, down the one apply path. The worker's
//! standby loop (src/worker/recovery.rs) calls this every look and at
//! promotion.

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};
use walrus_strategies::{ApplyVia, ChangeKind, Urgency, standby as rule};

use crate::apply::{self, Writer};
use crate::pg::process::reload_configuration;
use crate::sizing::Regime;
use crate::standby::{STANDBY_RETENTION_HINT, primary_size};
use crate::{guc, patroni::apply_via, pg::clock, pg::server, pg::txn, shmem};

/// What a standby remembers between looks.
#[derive(Default)]
pub struct Mirror {
    /// The last look found this node's disk too small for the primary's size
    /// (warned once per episode).
    capped: bool,
}

impl Mirror {
    /// Brings this node to the published size, if there is one and it
    /// differs, within this node's disk ceiling.
    pub fn follow(&mut self, writer: &mut Writer, why: &str) {
        writer.catch_up_with_writes();
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
        if std::mem::replace(&mut self.capped, target.capped_by_disk) != target.capped_by_disk && target.capped_by_disk
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
        if let apply::Outcome::Applied(_) = writer.apply_change(&change) {
            reload_configuration();
            shmem::update(|state| state.mirrored_at = clock::now());
        }
    }
}

/// Whether this node, starting as a primary, was promoted since the record
/// was published (its worker did not run in recovery: hot_standby off, or
/// stopped): then it takes over as if it had seen the promotion.
pub fn promoted_while_away() -> bool {
    matches!(
        txn::guarded(primary_size::published),
        Ok(Ok(Some(record))) if record.timeline < primary_size::current_timeline()
    )
}

/// Whether this standby follows the primary's size itself: with mirroring
/// on, unless Patroni applies the cluster's value to every member.
pub fn mirrors_itself() -> bool {
    guc::standby_mirror() && apply_via::apply_via() != ApplyVia::Patroni
}
