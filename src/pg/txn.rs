//! Transactions for the background worker that survive PostgreSQL ERRORs.
//!
//! pgrx's `BackgroundWorker::transaction` lets an ERROR escape, and an
//! uncaught ERROR ends a background worker. The worker must keep running when
//! ALTER SYSTEM, the history table or the stats fail, so every piece of its
//! work runs through [`guarded`], which turns an ERROR (or a Rust panic) into
//! an `Err` after rolling the transaction back.

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};

use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode, PgTryBuilder};

/// A PostgreSQL error (or Rust panic) caught in the worker.
#[derive(Debug, Clone)]
pub struct CaughtPgError {
    pub message: String,
    pub detail: Option<String>,
}

impl fmt::Display for CaughtPgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.detail {
            Some(detail) => write!(f, "{}: {}", self.message, detail),
            None => f.write_str(&self.message),
        }
    }
}

impl CaughtPgError {
    /// A WARNING with `message`, the caught error as its detail: the worker
    /// goes on after it.
    pub fn report_warning(&self, message: &'static str) {
        ErrorReport::new(PgSqlErrorCode::ERRCODE_WARNING, message, "pg_walrus")
            .set_detail(self.to_string())
            .report(PgLogLevel::WARNING);
    }
}

impl From<CaughtError> for CaughtPgError {
    fn from(error: CaughtError) -> Self {
        let report = match &error {
            CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r,
            CaughtError::RustPanic { ereport, .. } => ereport,
        };
        CaughtPgError {
            message: report.message().to_owned(),
            detail: report.detail().map(str::to_owned),
        }
    }
}

/// Runs `body` in a transaction of its own, with a snapshot. Commits when it
/// returns; on an ERROR or panic, aborts the transaction and returns the error.
/// Must be called outside any transaction (the worker's main loop); raises
/// an ERROR, touching nothing, when called inside one.
pub fn guarded<R>(body: impl FnOnce() -> R + UnwindSafe + RefUnwindSafe) -> Result<R, CaughtPgError> {
    // SAFETY: only reads this process's CurrentTransactionState; never raises.
    if unsafe { pg_sys::IsTransactionOrTransactionBlock() } {
        // Starting, committing or aborting here would act on the caller's
        // transaction and free resources (snapshots, relations) it still uses.
        pgrx::error!("pg_walrus: txn::guarded called inside a transaction");
    }
    // SAFETY: outside any transaction (checked above), in the worker after it
    // connected to its database, which is the state StartTransactionCommand
    // expects; GetTransactionSnapshot is taken inside the new transaction. These
    // are pg_guard-wrapped: an ERROR here unwinds out as a panic (worker exits).
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let outcome = PgTryBuilder::new(|| {
        let value = body();
        // SAFETY: `body` returned normally, so we are still in the transaction
        // started above with our snapshot on top of the active stack (safe code
        // cannot pop it); an ERROR at commit is caught below and aborted.
        unsafe {
            pg_sys::PopActiveSnapshot();
            pg_sys::CommitTransactionCommand();
        }
        Ok(value)
    })
    .catch_others(|error| Err(CaughtPgError::from(error)))
    .execute();
    if outcome.is_err() {
        // SAFETY: the ERROR (if any) was already copied and flushed by pgrx's FFI
        // guard, so this is the PG_CATCH cleanup PostgreSQL's own workers do: it
        // releases every LWLock (AutoFileLock for ALTER SYSTEM; CONFIG_WRITES' if
        // a write failed under it), pins, the snapshot and the resource owner, and
        // also any subtransaction `body` left open, so we end outside any transaction.
        unsafe { pg_sys::AbortOutOfAnyTransaction() };
    }
    outcome
}
