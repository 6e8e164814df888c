//! The WAL disk guard's checks in the worker (specs/disk.md): every cycle
//! and every 10 s between, on a primary and on a standby alike. A clamp goes
//! down the one apply path through the worker's [`Writer`].

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};
use walrus_strategies::disk::CHECK_SECS;
use walrus_strategies::{ChangeKind, Urgency};

use crate::apply::Writer;
use crate::pg::process::reload_configuration;
use crate::standby::STANDBY_RETENTION_HINT;
use crate::{apply, disk, pg::clock, pg::server, shmem};

/// When the disk guard checks next.
#[derive(Default)]
pub struct Watch {
    /// CLOCK_MONOTONIC ns; 0 (due at once) before the first check.
    next_check_ns: i64,
}

impl Watch {
    /// When the next check is due (monotonic ns).
    pub fn next_check_ns(&self) -> i64 {
        self.next_check_ns
    }

    /// The WAL disk guard's check (specs/disk.md): measure, and lower a
    /// max_wal_size the disk can no longer hold at once. A safety change: the
    /// rate limits do not hold it back, and it counts toward them.
    pub fn check(&mut self, writer: &mut Writer) {
        let period_secs = CHECK_SECS.min(server::checkpoint_timeout_secs().max(1) as u64);
        self.next_check_ns = clock::monotonic_ns() + (period_secs * 1_000_000_000) as i64;
        writer.catch_up_with_writes();
        if let Some(needed) = disk::check() {
            clamp(writer, needed);
        }
    }
}

/// Lowers max_wal_size to the disk ceiling on this node, at once.
fn clamp(writer: &mut Writer, needed: disk::ClampNeeded) {
    let (clamp, reading, fraction) = (needed.clamp, needed.reading, needed.fraction);
    let mut report = ErrorReport::new(
        PgSqlErrorCode::ERRCODE_WARNING,
        format!(
            "pg_walrus: max_wal_size of {} MB exceeds the WAL disk ceiling of {} MB; lowering it now",
            clamp.from_mb, clamp.to_mb
        ),
        "pg_walrus",
    )
    .set_detail(format!("The ceiling is {}.", reading.describe(fraction)));
    if server::in_recovery() {
        // Lowering it here does not make this standby keep less WAL.
        report = report.set_hint(STANDBY_RETENTION_HINT);
    }
    report.report(PgLogLevel::WARNING);
    let change = apply::Change {
        decision: clamp.decision(&reading, fraction),
        kind: ChangeKind::Safety,
        // Not rate-limited: the limits are never asked.
        urgency: Urgency::CanWait,
        strategy: "disk_guard",
        forced: 0,
        at_secs: apply::now_secs(),
        reading: None,
    };
    match writer.apply_change(&change) {
        apply::Outcome::Applied(_) => {
            // The cycle that may follow decides at the clamped size.
            reload_configuration();
            shmem::update(|state| state.disk.clamps += 1);
            // A standby mirrors it only up to its own disk anyway.
            if !server::in_recovery() {
                writer.publish_size(clamp.to_mb);
            }
        }
        apply::Outcome::Failed | apply::Outcome::Superseded => {
            shmem::update(|state| state.disk.guard.clamp_not_applied());
        }
        apply::Outcome::Held | apply::Outcome::DryRun | apply::Outcome::RecommendOnly(_) | apply::Outcome::Sent(_) => {}
    }
}
