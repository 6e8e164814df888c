//! What the server says now: the checkpoint counters and WAL positions one
//! cycle (or SQL call) compares with the last, as one [`Reading`].
//!
//! PG 15/16 keep the counters with the bgwriter stats (`requested_checkpoints`,
//! `timed_checkpoints`); PG 17+ moved them to pg_stat_checkpointer
//! (`num_requested`, `num_timed`). `compat` holds the per-version reading.

use pgrx::pg_sys;

use crate::pg::compat::{self, CheckpointCounts, WalCounts};
use crate::{pg::clock, pg::server};

/// Reads the counters fresh. Call inside a transaction: the stats snapshot
/// lives until transaction end, so it is cleared first to see the counters
/// as they are now rather than as they were when this transaction began.
/// `None` outside a transaction. With `wal`, pg_stat_wal's counters too.
fn checkpoint_counts(wal: bool) -> Option<(CheckpointCounts, Option<WalCounts>)> {
    // SAFETY: IsTransactionState only reads this process's CurrentTransactionState.
    if !unsafe { pg_sys::IsTransactionState() } {
        // Not a backend or connected worker inside a transaction: pgstat may not
        // be attached (postmaster, _PG_init) and the snapshot would outlive it.
        return None;
    }
    // SAFETY: in a transaction (checked above), hence past InitPostgres: pgstat is
    // attached and MyProc exists for the stats LWLock. Clearing is what the
    // SQL-callable pg_stat_clear_snapshot() does; the fetch returns
    // &pgStatLocal.snapshot.checkpointer (process-local static storage, never
    // freed) which read_counts copies from before anything can refill it.
    let counts = unsafe {
        pg_sys::pgstat_clear_snapshot();
        let stats = pg_sys::pgstat_fetch_stat_checkpointer();
        if stats.is_null() {
            return None;
        }
        compat::read_counts(&*stats)?
    };
    let wal_counts = if wal {
        // SAFETY: as above (in a transaction, pgstat attached), after the
        // checkpointer's fetch so both come from the same cleared snapshot; the
        // pointer is &pgStatLocal.snapshot.wal (process-local static storage),
        // copied from at once. Not having it only means no full-page evidence.
        unsafe {
            let stats = pg_sys::pgstat_fetch_stat_wal();
            (!stats.is_null()).then(|| compat::read_wal_counts(&*stats))
        }
    } else {
        None
    };
    Some((counts, wal_counts))
}

/// One reading of everything a cycle compares: counters, WAL positions and
/// the monotonic time they were read at.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    pub counts: CheckpointCounts,
    /// pg_stat_wal's records and full-page images.
    pub wal: Option<WalCounts>,
    pub insert_lsn: u64,
    pub redo_lsn: u64,
    pub mono_ns: i64,
}

/// Reads the server now. Needs a transaction (for the stats snapshot);
/// `None` when the checkpoint statistics are unavailable.
pub fn read_now() -> Option<Reading> {
    read(true)
}

/// [`read_now`] without pg_stat_wal, for early reaction's looks: they decide
/// nothing from full-page images (the cycle they may start reads everything
/// again), and the fetch cost about 150 ms of CPU per hour when looks came
/// once a second.
pub fn read_for_look() -> Option<Reading> {
    read(false)
}

fn read(wal: bool) -> Option<Reading> {
    let (counts, wal) = checkpoint_counts(wal)?;
    Some(Reading {
        counts,
        wal,
        insert_lsn: server::wal_insert_lsn(),
        redo_lsn: server::redo_lsn(),
        mono_ns: clock::monotonic_ns(),
    })
}
