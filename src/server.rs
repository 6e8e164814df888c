//! PostgreSQL's own settings and state that sizing depends on.
//!
//! These read the backend's globals, so they reflect the last configuration
//! reload this process processed: the worker must process its SIGHUPs.

use pgrx::pg_sys;

// postmaster/bgwriter.h globals that pgrx's bindings leave out.
unsafe extern "C" {
    static CheckPointTimeout: std::os::raw::c_int;
    static CheckPointCompletionTarget: f64;
}

/// `max_wal_size` in force, in MB.
pub fn max_wal_size_mb() -> i32 {
    unsafe { pg_sys::max_wal_size_mb }
}

/// `checkpoint_timeout`, in seconds (PostgreSQL enforces 30 s .. 1 day).
pub fn checkpoint_timeout_secs() -> i32 {
    unsafe { CheckPointTimeout }
}

/// `checkpoint_completion_target`, 0..1.
pub fn checkpoint_completion_target() -> f64 {
    unsafe { CheckPointCompletionTarget }
}

/// Where the next WAL record will be inserted.
pub fn wal_insert_lsn() -> u64 {
    unsafe { pg_sys::GetXLogInsertRecPtr() }
}

/// The redo point of the latest checkpoint: WAL volume checkpoints are
/// triggered by the distance from here.
pub fn redo_lsn() -> u64 {
    unsafe { pg_sys::GetRedoRecPtr() }
}

/// `min_wal_size`, in MB.
pub fn min_wal_size_mb() -> i32 {
    unsafe { pg_sys::min_wal_size_mb }
}

/// The WAL segment size (fixed at initdb), in MB: always a power of two of
/// at least 1 MB.
pub fn wal_segment_mb() -> i32 {
    unsafe { pg_sys::wal_segment_size / (1024 * 1024) }
}

/// Whether this server is a standby (or still replaying WAL).
pub fn in_recovery() -> bool {
    unsafe { pg_sys::RecoveryInProgress() }
}

/// "auto", or "recommend-only" when ALTER SYSTEM is not allowed.
pub fn mode() -> &'static str {
    if alter_system_allowed() {
        "auto"
    } else {
        "recommend-only"
    }
}

pub use crate::compat::alter_system_allowed;

/// Asks the postmaster to reload the configuration files, as
/// `pg_reload_conf()` does. Returns the OS error if the signal failed.
pub fn request_reload() -> std::io::Result<()> {
    let rc = unsafe { libc::kill(pg_sys::PostmasterPid, libc::SIGHUP) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
