//! The worker's end of the apply path: the configuration generation its
//! view of max_wal_size includes (a change is applied only if still current
//! at it), and its history writes, warned about at most once per cycle. Every
//! feature the worker runs (sizing, the disk guard, standby mirroring,
//! Patroni) changes max_wal_size and records through one `Writer`.

use std::panic::AssertUnwindSafe;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use crate::apply;
use crate::guc;
use crate::pg::process::reload_configuration;
use crate::pg::{alter_system, server, txn};
use crate::record::entry::Entry;
use crate::record::history;
use crate::shmem;
use crate::standby::primary_size;

#[derive(Default)]
pub struct Writer {
    /// The config-write generation this worker's view of max_wal_size
    /// includes; decisions are made at it and applied only if still current.
    seen_generation: u64,
    /// Set when this cycle already warned that history cannot be written, so
    /// a DBA sees that at most once per cycle.
    history_warned: bool,
}

impl Writer {
    /// A new cycle: history failures are worth a warning again.
    pub fn start_cycle(&mut self) {
        self.history_warned = false;
    }

    /// The config-write generation this worker's view includes.
    pub fn seen_generation(&self) -> u64 {
        self.seen_generation
    }

    /// This worker wrote the configuration itself at `generation` (outside
    /// [`Writer::apply_change`]) and has re-read it.
    pub fn adopt_generation(&mut self, generation: u64) {
        self.seen_generation = generation;
    }

    /// Takes `change` down the shared apply path as the worker does: the write
    /// in a guarded transaction of its own, at the config generation this
    /// worker has seen, history through `record`. An applied write moves the
    /// worker's generation on.
    pub fn apply_change(&mut self, change: &apply::Change) -> apply::Outcome {
        let seen = self.seen_generation;
        let write = |new_size| {
            txn::guarded(move || shmem::write_config(seen, new_size, || alter_system::set_max_wal_size(new_size)))
        };
        let outcome = apply::apply(change, seen, write, &mut |entry| self.record(entry));
        if let apply::Outcome::Applied(generation) | apply::Outcome::Sent(generation) = outcome {
            self.seen_generation = generation;
        }
        outcome
    }

    /// Publishes the size in force for standbys (walrus.primary_size), when it
    /// is not already the record.
    pub fn publish_size(&mut self, size_mb: i32) {
        match txn::guarded(move || primary_size::publish(size_mb)) {
            Ok(Ok(true)) => log!("pg_walrus: published max_wal_size of {size_mb} MB for standbys"),
            Ok(Ok(false)) => {}
            Ok(Err(error)) => warning!("pg_walrus: could not publish max_wal_size for standbys: {error}"),
            Err(error) => error.report_warning("pg_walrus: could not publish max_wal_size for standbys"),
        }
    }

    /// walrus.analyze(apply := true) may have written max_wal_size since the
    /// worker last looked: read the file now rather than wait for the SIGHUP,
    /// so decisions start from the size in force.
    pub fn catch_up_with_writes(&mut self) {
        let writes = shmem::config_writes();
        if writes.generation != self.seen_generation {
            reload_configuration();
            self.seen_generation = writes.generation;
        }
    }

    /// Writes a history row; sizing goes on whether or not that works.
    pub fn record(&mut self, entry: &Entry) {
        // A standby's transactions are read-only: no history, no NOTIFY.
        // Its log lines, status() and metrics say what it did.
        if server::in_recovery() {
            return;
        }
        let result = txn::guarded(AssertUnwindSafe(|| history::record(entry)));
        self.warn_history(
            result
                .map_err(HistoryFailure::Caught)
                .and_then(|r| r.map_err(HistoryFailure::Table)),
        );
    }

    pub fn cleanup_history(&mut self) {
        let days = guc::history_retention_days();
        let result = txn::guarded(move || history::cleanup(days));
        match result
            .map_err(HistoryFailure::Caught)
            .and_then(|r| r.map_err(HistoryFailure::Table))
        {
            Ok(deleted) if deleted > 0 => debug1!("pg_walrus: removed {deleted} history rows older than {days} days"),
            // No table, nothing to clean: only a decision that cannot be
            // recorded is worth a warning.
            Ok(_) | Err(HistoryFailure::Table(history::HistoryError::Missing)) => {}
            Err(failure) => self.warn_history::<()>(Err(failure)),
        }
    }

    fn warn_history<T>(&mut self, result: Result<T, HistoryFailure>) {
        let Err(failure) = result else { return };
        if std::mem::replace(&mut self.history_warned, true) {
            return;
        }
        match failure {
            HistoryFailure::Table(history::HistoryError::Missing) => ErrorReport::new(
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                "pg_walrus: walrus.history does not exist; decisions are not being recorded",
                "pg_walrus",
            )
            .set_detail(format!(
                "The worker records history in database \"{}\" (walrus.database).",
                guc::database()
            ))
            .set_hint("Run CREATE EXTENSION pg_walrus in that database.")
            .report(PgLogLevel::WARNING),
            HistoryFailure::Table(history::HistoryError::Spi(error)) => {
                warning!("pg_walrus: could not write walrus.history: {error}")
            }
            HistoryFailure::Caught(error) => error.report_warning("pg_walrus: could not write walrus.history"),
        }
    }
}

enum HistoryFailure {
    Caught(txn::CaughtPgError),
    Table(history::HistoryError),
}
