//! walrus.reset() and walrus.cleanup_history(): clearing history and counters.

use pgrx::PgSqlErrorCode;
use pgrx::prelude::*;

use super::{require_primary, require_superuser};
use crate::shmem::{DiskState, WalrusState};
use crate::{guc, pg::stats, record::history, shmem};

/// Clears history and counters (superusers only). Re-baselines the
/// checkpoint counter to its current value, so the next cycle does not count
/// checkpoints from before the reset.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn reset() -> bool {
    require_superuser("walrus.reset()");
    require_primary("walrus.reset()");
    let history_ok = match history::clear() {
        Ok(true) => true,
        Ok(false) => {
            warning!("pg_walrus: history table does not exist");
            true
        }
        Err(error) => {
            warning!("pg_walrus: could not clear walrus.history: {error}");
            false
        }
    };
    let reading = stats::read_now();
    shmem::update(|state| {
        // Strategy state and the rate limits' memory of recent changes stay:
        // they describe the server's load and config history, not counters.
        *state = WalrusState {
            worker_pid: state.worker_pid,
            strategies: state.strategies,
            recent_changes: state.recent_changes,
            // The guard's view of the disk and its hold are safety state;
            // only its counter is reset.
            disk: DiskState {
                clamps: 0,
                ..state.disk
            },
            ..WalrusState::default()
        };
        if let Some(reading) = &reading {
            state.rebaseline(reading);
        }
    });
    history_ok
}

/// Deletes history older than walrus.history_retention_days; returns how many rows.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cleanup_history() -> i64 {
    match history::cleanup(guc::history_retention_days()) {
        Ok(deleted) => deleted,
        // PostgreSQL's own error for a missing table, SQLSTATE 42P01 too.
        Err(history::HistoryError::Missing) => {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                "relation \"walrus.history\" does not exist"
            );
        }
        Err(history::HistoryError::Spi(error)) => error!("pg_walrus: could not clean up history: {error}"),
    }
}
