//! Checkpoint counters, read from wherever this PostgreSQL version keeps them.
//!
//! PG 15/16 keep them with the bgwriter stats (`requested_checkpoints`,
//! `timed_checkpoints`); PG 17+ moved them to pg_stat_checkpointer
//! (`num_requested`, `num_timed`). `compat` holds the per-version reading.

use pgrx::pg_sys;

use crate::compat;

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

/// Reads the counters fresh. Call inside a transaction: the stats snapshot
/// lives until transaction end, so it is cleared first to see the counters
/// as they are now rather than as they were when this transaction began.
pub fn checkpoint_counts() -> Option<CheckpointCounts> {
    unsafe {
        pg_sys::pgstat_clear_snapshot();
        let stats = pg_sys::pgstat_fetch_stat_checkpointer();
        if stats.is_null() {
            return None;
        }
        compat::read_counts(&*stats)
    }
}
