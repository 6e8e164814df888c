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
