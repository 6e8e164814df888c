//! The SQL API, schema `walrus` (set by the control file): thin wrappers that
//! read shared state and the strategies' answers and serialise them, with the
//! JSON keys, permissions and error texts specs/sql-api.md fixes.

mod cleanup;
pub mod metrics;
mod recommend;
mod status;
#[cfg(feature = "test-clock")]
mod test_clock;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};

use crate::pg::server;

fn require_superuser(what: &str) {
    // SAFETY: called from a SQL function, so inside a transaction with the
    // session's user set up: superuser() may read pg_authid through the
    // syscache, which needs exactly that.
    if !unsafe { pg_sys::superuser() } {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied: {what} requires superuser")
        );
    }
}

/// ALTER SYSTEM works on a hot standby (it writes that node's file), and a
/// standby cannot write history: refuse explicitly.
fn require_primary(what: &str) {
    if server::in_recovery() {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("{what} cannot run on a standby"),
            "pg_walrus",
        )
        .set_hint(
            "Size the primary: with walrus.standby_mirror on, each standby follows the size it publishes \
             (walrus.primary_size).",
        )
        .report(PgLogLevel::ERROR);
    }
}
