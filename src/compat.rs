//! Everything that differs between PostgreSQL versions, in one place. The
//! rest of the extension is version-free. pgrx selects the branch with the
//! pg15 / pg16 / pg17 / pg18 cargo feature; pg16 compiles but has no source
//! or headers reachable here, so it is untested (see README).

use pgrx::pg_sys;

use crate::stats::CheckpointCounts;

/// PG 15/16 reset the checkpointer's counters together with the bgwriter's
/// (`pg_stat_reset_shared('bgwriter')`), and only the bgwriter's stats carry
/// the reset time.
#[cfg(any(feature = "pg15", feature = "pg16"))]
pub(crate) unsafe fn read_counts(stats: &pg_sys::PgStat_CheckpointerStats) -> Option<CheckpointCounts> {
    let bgwriter = unsafe { pg_sys::pgstat_fetch_stat_bgwriter() };
    if bgwriter.is_null() {
        return None;
    }
    Some(CheckpointCounts {
        requested: stats.requested_checkpoints,
        timed: stats.timed_checkpoints,
        reset_at: unsafe { (*bgwriter).stat_reset_timestamp },
    })
}

/// PG 17+ keep pg_stat_checkpointer apart, with its own reset time.
#[cfg(any(feature = "pg17", feature = "pg18"))]
pub(crate) unsafe fn read_counts(stats: &pg_sys::PgStat_CheckpointerStats) -> Option<CheckpointCounts> {
    Some(CheckpointCounts {
        requested: stats.num_requested,
        timed: stats.num_timed,
        reset_at: stats.stat_reset_timestamp,
    })
}

/// Whether this server lets ALTER SYSTEM write postgresql.auto.conf:
/// PostgreSQL 17's `allow_alter_system` (managed services turn it off);
/// always true before 17. When false pg_walrus only recommends.
pub fn alter_system_allowed() -> bool {
    #[cfg(any(feature = "pg17", feature = "pg18"))]
    {
        unsafe { pg_sys::AllowAlterSystem }
    }
    #[cfg(not(any(feature = "pg17", feature = "pg18")))]
    {
        true
    }
}
