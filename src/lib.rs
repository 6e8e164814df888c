//! pg_walrus: a background worker that sizes `max_wal_size` from checkpoint
//! activity. This crate is the PostgreSQL glue; the sizing logic lives in the
//! pgrx-free `walrus-strategies` crate.

use pgrx::prelude::*;

mod api;
mod apply;
mod disk;
mod early;
mod guc;
mod patroni;
mod pg;
mod record;
mod shmem;
mod sizing;
mod standby;
mod worker;

#[cfg(any(test, feature = "pg_test"))]
mod pg_tests;

pgrx::pg_module_magic!();

pgrx::extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);
pgrx::extension_sql_file!("../sql/history.sql", name = "history", requires = ["bootstrap"]);
pgrx::extension_sql_file!("../sql/queries.sql", name = "queries", requires = ["bootstrap"]);
pgrx::extension_sql_file!(
    "../sql/primary_size.sql",
    name = "primary_size",
    requires = ["bootstrap"]
);
pgrx::extension_sql_file!("../sql/finalize.sql", name = "finalize", finalize);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // SAFETY: a plain bool global that dfmgr's caller (process_shared_preload_libraries)
    // sets in this same process around the load; _PG_init runs on the main thread,
    // and the value is read by copy, no reference kept.
    let preloading = unsafe { pg_sys::process_shared_preload_libraries_in_progress };
    guc::init(preloading);
    #[cfg(feature = "test-clock")]
    pg::test_clock::init(preloading);
    if preloading {
        shmem::init();
        worker::register();
    }
}

/// Hooks for `cargo pgrx test`: the test cluster preloads the library so
/// that the worker and the postmaster-context settings exist.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec!["shared_preload_libraries = 'pg_walrus'"]
    }
}
