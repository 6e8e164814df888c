//! Everything that differs between PostgreSQL versions, in one place. The
//! rest of the extension is version-free. pgrx selects the branch with the
//! pg15 / pg16 / pg17 / pg18 cargo feature; pg16 compiles but has no source
//! or headers reachable here, so it is untested (see README).

use pgrx::pg_sys;

/// Cumulative checkpoint counters since the last stats reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointCounts {
    /// Checkpoints not started by checkpoint_timeout: WAL volume, but also
    /// manual CHECKPOINT, base backups and CREATE DATABASE.
    pub requested: i64,
    /// Checkpoints started by checkpoint_timeout.
    pub timed: i64,
    /// When the counters were last reset (`pg_stat_reset_shared`, or stats
    /// discarded after a crash). A change means the deltas are meaningless,
    /// even when they happen to be positive.
    pub reset_at: pg_sys::TimestampTz,
}

/// PG 15/16 reset the checkpointer's counters together with the bgwriter's
/// (`pg_stat_reset_shared('bgwriter')`), and only the bgwriter's stats carry
/// the reset time.
///
/// # Safety
///
/// Call only from a backend or a background worker that has completed
/// InitPostgres (so pgstat is attached and MyProc exists), never from the
/// postmaster or `_PG_init`: this fetches the bgwriter stats, whose snapshot
/// callback reads pgStatLocal.shmem and takes the stats LWLock. `stats` must
/// be what `pgstat_fetch_stat_checkpointer()` just returned, so both halves
/// come from the same stats snapshot.
#[cfg(any(feature = "pg15", feature = "pg16"))]
pub(crate) unsafe fn read_counts(stats: &pg_sys::PgStat_CheckpointerStats) -> Option<CheckpointCounts> {
    // SAFETY: the caller guarantees a stats-attached backend/worker. The call
    // only (re)fills pgStatLocal.snapshot.bgwriter and fixed_valid, never the
    // checkpointer snapshot `stats` borrows, so that borrow stays valid.
    let bgwriter = unsafe { pg_sys::pgstat_fetch_stat_bgwriter() };
    if bgwriter.is_null() {
        return None;
    }
    Some(CheckpointCounts {
        requested: stats.requested_checkpoints,
        timed: stats.timed_checkpoints,
        // SAFETY: non-NULL (checked above; it is &pgStatLocal.snapshot.bgwriter,
        // static storage in this process) and nothing has run since the fetch.
        reset_at: unsafe { (*bgwriter).stat_reset_timestamp },
    })
}

/// PG 17+ keep pg_stat_checkpointer apart, with its own reset time.
///
/// # Safety
///
/// Same contract as the PG 15/16 variant (a stats-attached backend or worker;
/// `stats` from `pgstat_fetch_stat_checkpointer()`). This variant performs no
/// unsafe operation itself; it is `unsafe` only to keep one signature.
#[cfg(any(feature = "pg17", feature = "pg18"))]
pub(crate) unsafe fn read_counts(stats: &pg_sys::PgStat_CheckpointerStats) -> Option<CheckpointCounts> {
    Some(CheckpointCounts {
        requested: stats.num_requested,
        timed: stats.num_timed,
        reset_at: stats.stat_reset_timestamp,
    })
}

/// Cumulative WAL counters since pg_stat_wal was last reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WalCounts {
    pub records: i64,
    /// Full-page images.
    pub images: i64,
    /// WAL bytes, counted with the records and images (backends add theirs
    /// at most once a second, so this lags the WAL position).
    pub bytes: u64,
    /// When pg_stat_wal was last reset (`pg_stat_reset_shared('wal')`).
    pub reset_at: pg_sys::TimestampTz,
}

/// pg_stat_wal's counters; PG 18 keeps them in a `wal_counters` member.
pub(crate) fn read_wal_counts(stats: &pg_sys::PgStat_WalStats) -> WalCounts {
    #[cfg(any(feature = "pg15", feature = "pg16", feature = "pg17"))]
    let (records, images, bytes) = (stats.wal_records, stats.wal_fpi, stats.wal_bytes);
    #[cfg(feature = "pg18")]
    let (records, images, bytes) = (
        stats.wal_counters.wal_records,
        stats.wal_counters.wal_fpi,
        stats.wal_counters.wal_bytes,
    );
    WalCounts {
        records,
        images,
        bytes,
        reset_at: stats.stat_reset_timestamp,
    }
}

/// Whether this server lets ALTER SYSTEM write postgresql.auto.conf:
/// PostgreSQL 17's `allow_alter_system` (managed services turn it off);
/// always true before 17. When false pg_walrus only recommends.
pub fn alter_system_allowed() -> bool {
    #[cfg(any(feature = "pg17", feature = "pg18"))]
    {
        // SAFETY: a plain bool GUC global of this process, initialised from the
        // configuration before any backend or worker runs our code and changed
        // only by this (single-threaded) process's own reload; read by value.
        unsafe { pg_sys::AllowAlterSystem }
    }
    #[cfg(not(any(feature = "pg17", feature = "pg18")))]
    {
        true
    }
}
