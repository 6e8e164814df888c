//! The extension's SQL objects in walrus.database against the library's own
//! version. A package upgrade replaces the library on disk; the server loads
//! it at its next restart, and the SQL objects change only when a DBA runs
//! `ALTER EXTENSION pg_walrus UPDATE`. In between, the new library meets the
//! old objects: the worker keeps sizing (every released set of objects has
//! the walrus.history columns it writes, and a missing walrus.primary_size
//! only pauses publishing to standbys) and says once what is due.

use pgrx::prelude::*;
use pgrx::spi::SpiError;
use pgrx::{PgLogLevel, PgSqlErrorCode, pg_sys::panic::ErrorReport};

use crate::{guc, pg::txn};

pub const LIBRARY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The installed extension's version in the current database, if created.
pub fn installed_version() -> Result<Option<String>, SpiError> {
    // A scalar subquery: always one row, NULL when the extension is absent.
    Spi::get_one::<String>("SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_walrus')")
}

/// The version the last cycle found installed: a mismatch with the
/// library's is warned once per version seen, not every cycle.
#[derive(Default)]
pub struct VersionWatch {
    seen: Option<String>,
}

impl VersionWatch {
    /// Reads the installed version (its own transaction; outside any) and
    /// warns when it newly differs from the library's.
    pub fn check(&mut self) {
        // Unreadable: try again next cycle (a failing catalog read shows in
        // the worker's other warnings).
        let Ok(Ok(installed)) = txn::guarded(installed_version) else {
            return;
        };
        if installed == self.seen {
            return;
        }
        if let Some(version) = installed.as_deref().filter(|v| *v != LIBRARY_VERSION) {
            warn_mismatch(version);
        }
        self.seen = installed;
    }
}

/// `major.minor.patch` as numbers; None for anything else.
fn parse(version: &str) -> Option<(u32, u32, u32)> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let parsed = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(parsed)
}

/// Warns that the SQL objects at `installed` are not the library's version:
/// an UPDATE is due, or (objects newer than the library) a library is.
fn warn_mismatch(installed: &str) {
    let database = guc::database();
    let objects_older = match (parse(installed), parse(LIBRARY_VERSION)) {
        (Some(objects), Some(library)) => objects < library,
        _ => true,
    };
    let hint = if objects_older {
        format!("Run ALTER EXTENSION pg_walrus UPDATE in database \"{database}\".")
    } else {
        format!("Install the pg_walrus {installed} library (its package) and restart PostgreSQL.")
    };
    ErrorReport::new(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        format!(
            "pg_walrus: the extension in database \"{database}\" is at version {installed}, \
             the loaded library at {LIBRARY_VERSION}"
        ),
        "pg_walrus",
    )
    .set_detail("The worker goes on sizing max_wal_size and recording history with the installed SQL objects.")
    .set_hint(hint)
    .report(PgLogLevel::WARNING);
}

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    use super::parse;
    use pgrx::prelude::*;

    #[pg_test]
    fn versions_parse_as_three_numbers() {
        assert_eq!(parse("0.2.0"), Some((0, 2, 0)));
        assert_eq!(parse("1.10.3"), Some((1, 10, 3)));
        assert!(parse("0.2.0") < parse("0.10.0"), "numeric, not textual, order");
        assert_eq!(parse("0.2"), None);
        assert_eq!(parse("0.2.0.1"), None);
        assert_eq!(parse("0.2.x"), None);
    }
}
