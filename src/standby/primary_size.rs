//! The replicated record of the primary's size (walrus.primary_size): the
//! primary's worker publishes the max_wal_size it runs with, and the timeline
//! it runs on; standbys read it. postgresql.auto.conf is per node and never
//! replicated; this row is. Both need a transaction (SPI).

use pgrx::prelude::*;
use pgrx::spi::SpiError;

/// What the primary published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub size_mb: i32,
    /// The timeline the publishing primary ran on: a node that finds a newer
    /// timeline of its own was promoted since (with hot_standby off, its
    /// worker starts only then).
    pub timeline: i64,
}

/// Read-only on purpose: a standby reads this in recovery, and pgrx's
/// `Spi::get_one` runs its query in read-write mode, which recovery refuses
/// ("cannot assign TransactionIds during recovery").
fn table_exists() -> Result<bool, SpiError> {
    Spi::connect(|client| {
        let rows = client.select(
            "SELECT pg_catalog.to_regclass('walrus.primary_size') IS NOT NULL",
            None,
            &[],
        )?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|row| row.get::<bool>(1).ok().flatten())
            == Some(true))
    })
}

/// The record; `None` without the table (the extension is not created in
/// walrus.database, or is still at 0.1.0) or before the first publication.
pub fn published() -> Result<Option<Published>, SpiError> {
    if !table_exists()? {
        return Ok(None);
    }
    Spi::connect(|client| {
        let rows = client.select("SELECT size_mb, timeline::int8 FROM walrus.primary_size", None, &[])?;
        let Some(row) = rows.into_iter().next() else {
            return Ok(None);
        };
        Ok(match (row.get::<i32>(1)?, row.get::<i64>(2)?) {
            (Some(size_mb), Some(timeline)) => Some(Published { size_mb, timeline }),
            _ => None,
        })
    })
}

/// This primary's timeline. Only on a primary: PostgreSQL asserts that
/// recovery has finished.
pub fn current_timeline() -> i64 {
    // SAFETY: callers run only after RecoveryInProgress() returned false (a
    // primary never goes back into recovery), which is what
    // GetWALInsertionTimeLine requires; it reads XLogCtl under its spinlock.
    i64::from(unsafe { pg_sys::GetWALInsertionTimeLine() })
}

/// Publishes `size_mb` on this primary's timeline unless that is already the
/// record; true when written. An unchanged record writes nothing.
pub fn publish(size_mb: i32) -> Result<bool, SpiError> {
    let record = Published {
        size_mb,
        timeline: current_timeline(),
    };
    if !table_exists()? || published()? == Some(record) {
        return Ok(false);
    }
    Spi::run_with_args(
        "INSERT INTO walrus.primary_size (singleton, size_mb, timeline, set_at) \
         VALUES (true, $1, $2, pg_catalog.now()) \
         ON CONFLICT (singleton) DO UPDATE \
         SET size_mb = EXCLUDED.size_mb, timeline = EXCLUDED.timeline, set_at = EXCLUDED.set_at",
        &[record.size_mb.into(), record.timeline.into()],
    )?;
    Ok(true)
}
