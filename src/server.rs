//! PostgreSQL's own settings and state that sizing depends on.
//!
//! These read the backend's globals, so they reflect the last configuration
//! reload this process processed: the worker must process its SIGHUPs.

use pgrx::pg_sys;

// A postmaster/bgwriter.h global that pgrx's bindings leave out.
unsafe extern "C" {
    static CheckPointTimeout: std::os::raw::c_int;
}

/// `max_wal_size` in force, in MB.
pub fn max_wal_size_mb() -> i32 {
    unsafe { pg_sys::max_wal_size_mb }
}

/// `checkpoint_timeout`, in seconds (PostgreSQL enforces 30 s .. 1 day).
pub fn checkpoint_timeout_secs() -> i32 {
    unsafe { CheckPointTimeout }
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

/// Asks the postmaster to reload the configuration files, as
/// `pg_reload_conf()` does. Returns the OS error if the signal failed.
pub fn request_reload() -> std::io::Result<()> {
    let rc = unsafe { libc::kill(pg_sys::PostmasterPid, libc::SIGHUP) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}
