//! The replicated record of the primary's size (walrus.primary_size): the
//! primary's worker publishes the max_wal_size it runs with, standbys read
//! it. postgresql.auto.conf is per node and never replicated; this row is.
//! Both need a transaction (SPI).

use pgrx::prelude::*;
use pgrx::spi::SpiError;

/// The primary's published size; `None` without the table (the extension is
/// not created in walrus.database) or before the first publication.
pub fn published_size() -> Result<Option<i32>, SpiError> {
    Spi::get_one::<i32>(
        "SELECT CASE WHEN pg_catalog.to_regclass('walrus.primary_size') IS NOT NULL \
                THEN (SELECT size_mb FROM walrus.primary_size) END",
    )
}

/// Publishes `size_mb` unless it is already the record; true when written.
/// Unchanged sizes write nothing (no WAL, no transaction id).
pub fn publish(size_mb: i32) -> Result<bool, SpiError> {
    if published_size()? == Some(size_mb) {
        return Ok(false);
    }
    let exists = Spi::get_one::<bool>("SELECT pg_catalog.to_regclass('walrus.primary_size') IS NOT NULL")?;
    if exists != Some(true) {
        return Ok(false);
    }
    Spi::run_with_args(
        "INSERT INTO walrus.primary_size (singleton, size_mb, set_at) VALUES (true, $1, pg_catalog.now()) \
         ON CONFLICT (singleton) DO UPDATE SET size_mb = EXCLUDED.size_mb, set_at = EXCLUDED.set_at",
        &[size_mb.into()],
    )?;
    Ok(true)
}
