//! The pages of every database: the most pages a load can change, for the
//! full-page-image estimate (`walrus_strategies::evidence::full_pages`). An upper
//! bound is the safe side there (the estimate then takes less out), so the
//! whole size of every database will do, indexes, free space and all.
//!
//! Measured when a decision will use it, never from a cache: a database
//! that grew since (a bulk load just before the storm) would be undercounted,
//! and the estimate too small. Measuring walks every relation file
//! (`pg_database_size`), so it happens only for an interval that started two
//! checkpoints or more, and for a pace-based grow (once per checkpoint
//! cycle), never at the once-a-second looks.

use pgrx::prelude::*;

use crate::pg::stats::Reading;
use crate::pg::txn;
use crate::shmem::{self, WalrusState};

/// Whether the interval from `state`'s baseline to `reading` started enough
/// checkpoints for the estimate to apply (one is what time-triggered
/// checkpoints start anyway).
pub fn needed(state: &WalrusState, reading: &Reading) -> bool {
    let requested = reading.counts.requested - state.baseline_requested;
    let timed = reading.counts.timed - state.baseline_timed;
    state.has_baseline && requested.saturating_add(timed) >= 2
}

/// The pages of every database now. Call inside a transaction; `None` (with
/// a warning) when the size cannot be read.
pub fn measure_pages() -> Option<f64> {
    let query = "SELECT sum(pg_catalog.pg_database_size(oid))::float8 FROM pg_catalog.pg_database";
    match Spi::get_one::<f64>(query) {
        Ok(Some(bytes)) if bytes > 0.0 => Some(bytes / f64::from(pg_sys::BLCKSZ)),
        Ok(_) => None,
        Err(error) => {
            warning!("pg_walrus: could not measure the databases' size, sizing from the measured WAL: {error}");
            None
        }
    }
}

/// The worker's cycle: measures the databases when `reading` closes an
/// interval the estimate applies to, for the observation that follows.
/// Outside a transaction; a failure leaves no measurement, so the
/// strategies size from the measured WAL, as without the estimate.
pub fn refresh_for(reading: &Reading) {
    if !needed(&shmem::snapshot(), reading) {
        return;
    }
    let pages = match txn::guarded(measure_pages) {
        Ok(pages) => pages,
        Err(error) => {
            error.report_warning("pg_walrus: could not measure the databases' size, sizing from the measured WAL");
            None
        }
    };
    shmem::update(|state| state.data_pages = pages.unwrap_or(0.0));
}
