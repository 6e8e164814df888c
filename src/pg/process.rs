//! The background worker process's own PostgreSQL primitives: setting an
//! option for its life, waiting on its latch, re-reading the configuration
//! files. Only the worker's process calls these (a backend has its own
//! main loop for each).

use std::ffi::CStr;
use std::time::Duration;

use pgrx::prelude::*;

/// Sets a setting for the worker's whole life, over any default from the
/// database or role.
pub fn set_option(name: &CStr, value: &CStr) {
    // SAFETY: called once at worker start, after connecting to the database
    // and outside a transaction, as PostgreSQL's own SET at connection start
    // does; both are NUL-terminated C strings that outlive the call (the GUC
    // code copies the value), and the two names set here (application_name,
    // search_path) need no catalog access to check or assign.
    unsafe {
        pg_sys::SetConfigOption(
            name.as_ptr(),
            value.as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_OVERRIDE,
        );
    }
}

pub fn wait_on_latch(timeout: Duration) {
    let millis = timeout.as_millis().clamp(1, i64::MAX as u128) as std::os::raw::c_long;
    // SAFETY: MyLatch is this process's own latch, set up at process start
    // and owned by it (the only process that may wait on it); the events
    // include WL_EXIT_ON_PM_DEATH, so a dead postmaster ends us inside.
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            millis,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
    check_for_interrupts!();
}

/// Re-reads the configuration files: without this the worker's view of
/// walrus.*, max_wal_size and checkpoint_timeout would stay as at start.
pub fn reload_configuration() {
    // SAFETY: the worker is outside any transaction here (the main loop, or
    // the start of a cycle), which is where PostgreSQL's own auxiliary
    // processes call ProcessConfigFile(PGC_SIGHUP) too; clearing the
    // process-local ConfigReloadPending first means a SIGHUP arriving during
    // the reload sets it again rather than being lost.
    unsafe {
        pg_sys::ConfigReloadPending = 0;
        pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP);
    }
    debug1!("pg_walrus: configuration reloaded");
}
