//! The walrus.* settings: private statics, one `init()`, typed accessors.
//!
//! Every sizing setting is SIGHUP context: it comes from postgresql.conf or
//! ALTER SYSTEM and a reload, never from a session `SET` (PostgreSQL refuses
//! that with 55P02 before looking at the value).

use std::ffi::CString;

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::pg_sys;

/// PostgreSQL's own upper bound for `max_wal_size` (MAX_KILOBYTES on 64-bit
/// platforms); `walrus.max` accepts exactly the same range.
pub const MAX_WAL_SIZE_BOUND_MB: i32 = i32::MAX;

static ENABLE: GucSetting<bool> = GucSetting::<bool>::new(true);
static MAX_SIZE_MB: GucSetting<i32> = GucSetting::<i32>::new(4096);
static THRESHOLD: GucSetting<i32> = GucSetting::<i32>::new(2);
static DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"postgres"));
static SHRINK_ENABLE: GucSetting<bool> = GucSetting::<bool>::new(true);
static SHRINK_FACTOR: GucSetting<f64> = GucSetting::<f64>::new(0.75);
static SHRINK_INTERVALS: GucSetting<i32> = GucSetting::<i32>::new(5);
static MIN_SIZE_MB: GucSetting<i32> = GucSetting::<i32>::new(1024);
static HISTORY_RETENTION_DAYS: GucSetting<i32> = GucSetting::<i32>::new(30);

/// Defines the settings. `preloading` is true only while the postmaster loads
/// shared_preload_libraries: postmaster-context settings can be defined only
/// then (defining one later, from CREATE EXTENSION, is a FATAL).
pub fn init(preloading: bool) {
    GucRegistry::define_bool_guc(
        c"walrus.enable",
        c"Lets the pg_walrus worker resize max_wal_size.",
        c"When off, the worker keeps its checkpoint baseline current but makes no decision.",
        &ENABLE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"walrus.max",
        c"Largest max_wal_size pg_walrus will set.",
        c"Growth stops here; a larger value set by hand is left alone.",
        &MAX_SIZE_MB,
        2,
        MAX_WAL_SIZE_BOUND_MB,
        GucContext::Sighup,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"walrus.threshold",
        c"Forced checkpoints per interval that make pg_walrus grow max_wal_size.",
        c"An interval is one checkpoint_timeout; checkpoints requested in it are counted as forced.",
        &THRESHOLD,
        1,
        1000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"walrus.shrink_enable",
        c"Lets pg_walrus shrink max_wal_size after sustained quiet.",
        c"A shrink happens after walrus.shrink_intervals quiet intervals in a row.",
        &SHRINK_ENABLE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"walrus.shrink_factor",
        c"Factor max_wal_size is multiplied by when pg_walrus shrinks it.",
        c"The result is rounded up and never goes below walrus.min_size, min_wal_size or two WAL segments.",
        &SHRINK_FACTOR,
        0.01,
        0.99,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"walrus.shrink_intervals",
        c"Quiet intervals in a row before pg_walrus shrinks max_wal_size.",
        c"An interval is quiet when it lasted a full checkpoint_timeout with fewer than walrus.threshold forced checkpoints.",
        &SHRINK_INTERVALS,
        1,
        1000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"walrus.min_size",
        c"Smallest max_wal_size pg_walrus will shrink to.",
        c"min_wal_size and two WAL segments are floors as well.",
        &MIN_SIZE_MB,
        2,
        MAX_WAL_SIZE_BOUND_MB,
        GucContext::Sighup,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"walrus.history_retention_days",
        c"Days of walrus.history that pg_walrus keeps.",
        c"Older rows are deleted by walrus.cleanup_history(), which the worker runs every cycle; 0 keeps everything.",
        &HISTORY_RETENTION_DAYS,
        0,
        3650,
        GucContext::Sighup,
        GucFlags::default(),
    );
    if preloading {
        GucRegistry::define_string_guc(
            c"walrus.database",
            c"Database the pg_walrus worker connects to.",
            c"The worker writes its history there; it needs the extension created in that database.",
            &DATABASE,
            GucContext::Postmaster,
            GucFlags::default(),
        );
    }
    unsafe { pg_sys::MarkGUCPrefixReserved(c"walrus".as_ptr()) };
}

pub fn enabled() -> bool {
    ENABLE.get()
}

pub fn max_size_mb() -> i32 {
    MAX_SIZE_MB.get()
}

pub fn threshold() -> i32 {
    THRESHOLD.get()
}

/// The worker's database; `postgres` when unset.
pub fn database() -> String {
    DATABASE
        .get()
        .and_then(|name| name.into_string().ok())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "postgres".to_owned())
}

pub fn shrink_enabled() -> bool {
    SHRINK_ENABLE.get()
}

pub fn shrink_factor() -> f64 {
    SHRINK_FACTOR.get()
}

pub fn shrink_intervals() -> i32 {
    SHRINK_INTERVALS.get()
}

pub fn min_size_mb() -> i32 {
    MIN_SIZE_MB.get()
}

pub fn history_retention_days() -> i32 {
    HISTORY_RETENTION_DAYS.get()
}
