//! PostgreSQL's own settings and state that sizing depends on.
//!
//! These read the backend's globals, so they reflect the last configuration
//! reload this process processed: the worker must process its SIGHUPs.

use pgrx::pg_sys;

// postmaster/bgwriter.h globals that pgrx's bindings leave out.
// SAFETY: the names and types match bgwriter.h (`extern PGDLLIMPORT int
// CheckPointTimeout; extern PGDLLIMPORT double CheckPointCompletionTarget;`).
// They are `static mut` because PostgreSQL's GUC code rewrites them on every
// reload (an immutable extern static that C mutates would be UB); they are
// only ever read by value below, never borrowed.
unsafe extern "C" {
    static mut CheckPointTimeout: std::os::raw::c_int;
    static mut CheckPointCompletionTarget: f64;
}

/// `max_wal_size` in force, in MB.
pub fn max_wal_size_mb() -> i32 {
    // SAFETY: an int GUC global of this single-threaded process, inherited from
    // the postmaster (which loads the config before forking any backend or
    // worker) and rewritten only by this process's own reloads; read by value.
    unsafe { pg_sys::max_wal_size_mb }
}

/// `checkpoint_timeout`, in seconds (PostgreSQL enforces 30 s .. 1 day).
pub fn checkpoint_timeout_secs() -> i32 {
    // SAFETY: declared above with bgwriter.h's type; a GUC global set before any
    // backend or worker exists and only rewritten by this process's reload; copied.
    unsafe { CheckPointTimeout }
}

/// `checkpoint_completion_target`, 0..1.
pub fn checkpoint_completion_target() -> f64 {
    // SAFETY: as for CheckPointTimeout: bgwriter.h's double GUC, initialised
    // before we run, only rewritten by this process's reload; copied.
    unsafe { CheckPointCompletionTarget }
}

/// Where the next WAL record will be inserted.
pub fn wal_insert_lsn() -> u64 {
    // SAFETY: only backends and our worker call this, and they inherit XLogCtl
    // (set up by the postmaster's shmem init); the read is under XLogCtl's
    // insertpos_lck spinlock inside the function; no transaction needed, never raises.
    unsafe { pg_sys::GetXLogInsertRecPtr() }
}

/// The redo point of the latest checkpoint: WAL volume checkpoints are
/// triggered by the distance from here.
pub fn redo_lsn() -> u64 {
    // SAFETY: as GetXLogInsertRecPtr: XLogCtl is attached in every backend and
    // our worker; it reads RedoRecPtr under XLogCtl->info_lck and never raises.
    unsafe { pg_sys::GetRedoRecPtr() }
}

/// Seconds since the checkpointer's timeout last started counting, as the
/// server records it: the latest completed checkpoint's start in pg_control,
/// or the server's start if later (the checkpointer starts counting when it
/// starts, and a clean start writes no checkpoint). Inside a transaction.
/// While a checkpoint is in progress this is the previous one's age: older
/// than the truth, never younger.
pub fn checkpoint_age_secs() -> Option<f64> {
    pgrx::Spi::get_one::<f64>(
        "SELECT extract(epoch FROM pg_catalog.now() - \
         GREATEST(checkpoint_time, pg_catalog.pg_postmaster_start_time()))::float8 \
         FROM pg_catalog.pg_control_checkpoint()",
    )
    .ok()
    .flatten()
    .filter(|age| age.is_finite())
}

/// `min_wal_size`, in MB.
pub fn min_wal_size_mb() -> i32 {
    // SAFETY: int GUC global, loaded before any backend or worker is forked and
    // only rewritten by this process's reload; read by value.
    unsafe { pg_sys::min_wal_size_mb }
}

/// The WAL segment size (fixed at initdb), in MB: always a power of two of
/// at least 1 MB.
pub fn wal_segment_mb() -> i32 {
    // SAFETY: set by the postmaster from pg_control (LocalProcessControlFile)
    // before any child exists, never changed afterwards; read by value.
    unsafe { pg_sys::wal_segment_size / (1024 * 1024) }
}

/// Whether this server is a standby (or still replaying WAL).
pub fn in_recovery() -> bool {
    // SAFETY: reads XLogCtl->SharedRecoveryState (shared memory every backend and
    // our worker has attached) and caches it in a process-local; never raises.
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

pub use crate::pg::compat::alter_system_allowed;

/// Asks the postmaster to reload the configuration files, as
/// `pg_reload_conf()` does. Returns the OS error if the signal failed, or an
/// error without signalling anything when there is no postmaster (single-user).
pub fn request_reload() -> std::io::Result<()> {
    // SAFETY: plain globals of this process, read by value: IsUnderPostmaster is
    // set at child start; PostmasterPid is set by PostmasterMain and inherited.
    let (under_postmaster, pid) = unsafe { (pg_sys::IsUnderPostmaster, pg_sys::PostmasterPid) };
    // A single-user backend has no postmaster and PostmasterPid stays 0, which
    // kill() would take as "every process in my process group".
    if !under_postmaster || pid <= 0 {
        return Err(std::io::Error::other("no postmaster to signal (single-user mode)"));
    }
    // SAFETY: kill() touches no memory of ours; `pid` is the live postmaster's
    // positive pid (checked above), so SIGHUP reaches exactly that process.
    let rc = unsafe { libc::kill(pid, libc::SIGHUP) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
