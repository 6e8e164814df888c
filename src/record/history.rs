//! walrus.history: one row per decision that changed, or tried to change,
//! max_wal_size. Rows are written with bound parameters in the caller's
//! transaction, in the database the caller is connected to.

use pgrx::JsonB;
use pgrx::prelude::*;
use pgrx::spi::SpiError;

use crate::record::entry::Entry;
use crate::{guc, pg::clock, record::notify};

#[derive(Debug)]
pub enum HistoryError {
    /// The extension (and so the table) is not in this database.
    Missing,
    Spi(SpiError),
}

impl From<SpiError> for HistoryError {
    fn from(error: SpiError) -> Self {
        HistoryError::Spi(error)
    }
}

/// Whether walrus.history exists in the current database.
pub fn table_exists() -> Result<bool, SpiError> {
    Ok(Spi::get_one::<bool>("SELECT pg_catalog.to_regclass('walrus.history') IS NOT NULL")?.unwrap_or(false))
}

/// Records a decision: the NOTIFY event (when walrus.notify_channel is set)
/// and the history row, in the current transaction. The event goes out even
/// when the table is missing: listeners should not lose decisions because
/// the extension was not created in this database.
pub fn record(entry: &Entry) -> Result<(), HistoryError> {
    if let Some(channel) = guc::notify_channel() {
        notify::send(&channel, &notify::payload(entry, &clock::iso8601_utc(clock::now())))?;
    }
    insert(entry)
}

fn insert(entry: &Entry) -> Result<(), HistoryError> {
    if !table_exists()? {
        return Err(HistoryError::Missing);
    }
    Spi::run_with_args(
        "INSERT INTO walrus.history
             (action, old_size_mb, new_size_mb, forced_checkpoints, checkpoint_timeout_sec, reason, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            entry.action.into(),
            entry.old_size_mb.into(),
            entry.new_size_mb.into(),
            entry.forced_checkpoints.into(),
            entry.checkpoint_timeout_sec.into(),
            entry.reason.into(),
            JsonB(entry.metadata.clone()).into(),
        ],
    )?;
    Ok(())
}

/// Deletes rows older than `retention_days` (0 keeps everything); returns
/// how many went.
pub fn cleanup(retention_days: i32) -> Result<i64, HistoryError> {
    if retention_days <= 0 {
        return Ok(0);
    }
    if !table_exists()? {
        return Err(HistoryError::Missing);
    }
    let deleted = Spi::get_one_with_args::<i64>(
        "WITH gone AS (
             DELETE FROM walrus.history
             WHERE \"timestamp\" < pg_catalog.now() - pg_catalog.make_interval(days => $1)
             RETURNING 1)
         SELECT pg_catalog.count(*) FROM gone",
        &[retention_days.into()],
    )?;
    Ok(deleted.unwrap_or(0))
}

/// Deletes every row; false when the table does not exist.
pub fn clear() -> Result<bool, SpiError> {
    if !table_exists()? {
        return Ok(false);
    }
    Spi::run("DELETE FROM walrus.history")?;
    Ok(true)
}
