//! The walrus.* settings: private statics, one `init()`, typed accessors.
//!
//! Every sizing setting is SIGHUP context: it comes from postgresql.conf or
//! ALTER SYSTEM and a reload, never from a session `SET` (PostgreSQL refuses
//! that with 55P02 before looking at the value).

use std::ffi::{CString, c_char, c_void};

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::{PostgresGucEnum, pg_guard, pg_sys};
use walrus_strategies::profiles::{self, Profile};
use walrus_strategies::{RateLimits, Strategy};

use crate::{pg::guc_check, record::notify};

/// PostgreSQL's own upper bound for `max_wal_size` (MAX_KILOBYTES on 64-bit
/// platforms); `walrus.max` accepts exactly the same range.
pub const MAX_WAL_SIZE_BOUND_MB: i32 = i32::MAX;

static ENABLE: GucSetting<bool> = GucSetting::<bool>::new(true);
static MAX_SIZE_MB: GucSetting<i32> = GucSetting::<i32>::new(4096);
static THRESHOLD: GucSetting<i32> = GucSetting::<i32>::new(2);
static DATABASE: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"postgres"));
static SHRINK_ENABLE: GucSetting<bool> = GucSetting::<bool>::new(true);
static SHRINK_FACTOR: GucSetting<f64> = GucSetting::<f64>::new(0.75);
static MAX_WAL_DISK_FRACTION: GucSetting<f64> = GucSetting::<f64>::new(0.25);
static SHRINK_INTERVALS: GucSetting<i32> = GucSetting::<i32>::new(5);
static MIN_SIZE_MB: GucSetting<i32> = GucSetting::<i32>::new(1024);
static HISTORY_RETENTION_DAYS: GucSetting<i32> = GucSetting::<i32>::new(30);
static DRY_RUN: GucSetting<bool> = GucSetting::<bool>::new(false);
static COOLDOWN_SEC: GucSetting<i32> = GucSetting::<i32>::new(300);
static MAX_CHANGES_PER_HOUR: GucSetting<i32> = GucSetting::<i32>::new(4);
static NOTIFY_CHANNEL: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(Some(c"walrus_events"));
static ALGORITHM: GucSetting<AlgorithmSetting> = GucSetting::<AlgorithmSetting>::new(AlgorithmSetting::Multiplicative);
static ADDITIVE_INCREMENT_MB: GucSetting<i32> = GucSetting::<i32>::new(1024);
static EMA_ALPHA: GucSetting<f64> = GucSetting::<f64>::new(0.2);
static TARGET_PERCENTILE: GucSetting<f64> = GucSetting::<f64>::new(95.0);
static REQUIRE_WAL_EVIDENCE: GucSetting<bool> = GucSetting::<bool>::new(true);
static EARLY_REACTION: GucSetting<bool> = GucSetting::<bool>::new(true);
// On: pgbench from PostgreSQL's default 1 GB at 5 minutes took no forced
// checkpoint in 4 of 5 runs with it (1 in the fifth), 2 in every run without,
// whether the load started with the worker's interval or 150 s into it
// (docs/benchmarks.md, 2026-12-08). It was off while its steady
// estimate spanned the worker's interval, which sized a load that started
// partway through from nearly its image-inflated pace.
static PACE_GROWTH: GucSetting<bool> = GucSetting::<bool>::new(true);
static STANDBY_MIRROR: GucSetting<bool> = GucSetting::<bool>::new(true);
static PROFILES: GucSetting<Option<CString>> = GucSetting::<Option<CString>>::new(None);

/// `walrus.algorithm`'s values: exactly the compiled strategies.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum AlgorithmSetting {
    #[name = c"multiplicative"]
    Multiplicative,
    #[cfg(feature = "additive")]
    #[name = c"additive"]
    Additive,
    #[cfg(feature = "adaptive")]
    #[name = c"adaptive"]
    Adaptive,
    #[cfg(feature = "percentile")]
    #[name = c"percentile"]
    Percentile,
    #[cfg(feature = "example-strategy")]
    #[name = c"doubling"]
    Doubling,
}

impl AlgorithmSetting {
    /// The strategy this value names: one arm per value, so a strategy added
    /// to one list and not the other does not compile (the pg_test
    /// `algorithm_values_are_the_compiled_strategies` also holds the setting's
    /// values to `Strategy::ALL`, names and order).
    fn algorithm(self) -> Strategy {
        match self {
            AlgorithmSetting::Multiplicative => Strategy::Multiplicative(walrus_strategies::Multiplicative),
            #[cfg(feature = "additive")]
            AlgorithmSetting::Additive => Strategy::Additive(walrus_strategies::Additive),
            #[cfg(feature = "adaptive")]
            AlgorithmSetting::Adaptive => Strategy::Adaptive(walrus_strategies::Adaptive),
            #[cfg(feature = "percentile")]
            AlgorithmSetting::Percentile => Strategy::Percentile(walrus_strategies::Percentile),
            #[cfg(feature = "example-strategy")]
            AlgorithmSetting::Doubling => Strategy::Doubling(walrus_strategies::Doubling),
        }
    }
}

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
        c"walrus.max_wal_disk_fraction",
        c"Share of the WAL filesystem's usable space max_wal_size may take; 0 turns the disk guard off.",
        c"Usable is free space plus what pg_wal holds now, minus WAL retained by replication slots, \
          wal_keep_size or the archiver. pg_wal can peak at twice max_wal_size, so 0.25 keeps half the \
          space free. pg_walrus never grows past this ceiling and lowers a max_wal_size above it.",
        &MAX_WAL_DISK_FRACTION,
        0.0,
        1.0,
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
    GucRegistry::define_bool_guc(
        c"walrus.dry_run",
        c"Makes pg_walrus record and announce its decisions without applying them.",
        c"Decisions are logged, written to walrus.history as dry_run and count toward the rate limits, as if applied.",
        &DRY_RUN,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"walrus.cooldown_sec",
        c"Seconds after a change during which pg_walrus makes no other automatic change.",
        c"0 disables the cooldown. walrus.analyze(apply := true) is not held back but counts.",
        &COOLDOWN_SEC,
        0,
        86400,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"walrus.max_changes_per_hour",
        c"Automatic changes pg_walrus may make in any 60 minutes.",
        c"0 blocks every automatic change. walrus.analyze(apply := true) is not held back but counts.",
        &MAX_CHANGES_PER_HOUR,
        0,
        1000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // SAFETY: the check hook is #[pg_guard] (a panic or ERROR inside it is
    // re-raised as a PostgreSQL ERROR at its boundary, never unwound into guc.c)
    // and has GucStringCheckHook's signature; the setting is a 'static. We are
    // in _PG_init (postmaster while preloading, or a backend's first load), the
    // context DefineCustomStringVariable is meant for.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"walrus.notify_channel",
            c"NOTIFY channel for pg_walrus decision events; empty disables them.",
            c"Events go to listeners in walrus.database. A plain lowercase identifier of at most 63 bytes.",
            &NOTIFY_CHANNEL,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_notify_channel),
            None,
            None,
        );
    }
    GucRegistry::define_enum_guc(
        c"walrus.algorithm",
        c"Sizing strategy pg_walrus uses.",
        c"Every compiled strategy keeps its state current, so a switch takes effect at the next cycle from warm state.",
        &ALGORITHM,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"walrus.additive_increment",
        c"Growth per forced checkpoint for the additive strategy.",
        c"new size = current + forced checkpoints x this.",
        &ADDITIVE_INCREMENT_MB,
        16,
        MAX_WAL_SIZE_BOUND_MB,
        GucContext::Sighup,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_float_guc(
        c"walrus.ema_alpha",
        c"Smoothing factor of the adaptive strategy's moving average of WAL per interval.",
        c"Higher follows a falling load faster; a rising load is followed at once.",
        &EMA_ALPHA,
        0.01,
        1.0,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"walrus.target_percentile",
        c"Percentile of recent WAL per interval the percentile strategy sizes for.",
        c"Over the last 64 intervals.",
        &TARGET_PERCENTILE,
        50.0,
        100.0,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"walrus.require_wal_evidence",
        c"Counts as forced only the requested checkpoints that WAL volume can explain.",
        c"Manual CHECKPOINT, base backups and CREATE DATABASE also request checkpoints; with this on they never grow max_wal_size.",
        &REQUIRE_WAL_EVIDENCE,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"walrus.early_reaction",
        c"Decides before the interval ends while WAL volume is forcing checkpoints.",
        c"The worker glances at the WAL position every second, at any checkpoint_timeout, and four times a second \
          with a look at the counters while WAL comes fast enough to force checkpoints; once the interval has lasted a second with \
          walrus.threshold forced checkpoints, one of them in the last second, and WAL is still coming that fast, it \
          decides on the evidence scaled to a full interval.",
        &EARLY_REACTION,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"walrus.pace_growth",
        c"Grows max_wal_size before the first forced checkpoint when the WAL's pace will reach the checkpoint trigger.",
        c"While WAL comes fast enough to force checkpoints, the worker projects the WAL since the last checkpoint's \
          redo point to the trigger at the pace of the last 2 seconds; when that comes before the next time-triggered \
          checkpoint and the pace has held 8 seconds, it grows to the size the pace needs. walrus.threshold keeps its \
          meaning for the reactive rule.",
        &PACE_GROWTH,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"walrus.standby_mirror",
        c"On a standby, runs at the max_wal_size the primary publishes in walrus.primary_size.",
        c"Checked every 10 s, bounded by this node's WAL disk ceiling, so a promoted standby starts at the size \
          the old primary had. Off: the standby keeps its own size until promotion, when it catches up at once.",
        &STANDBY_MIRROR,
        GucContext::Sighup,
        GucFlags::default(),
    );
    // SAFETY: as for walrus.notify_channel: check_profiles is #[pg_guard], has
    // GucStringCheckHook's signature, the setting is 'static, and we are in _PG_init.
    unsafe {
        GucRegistry::define_string_guc_with_hooks(
            c"walrus.profiles",
            c"Time-of-day profiles that override walrus settings (JSON).",
            c"A JSON array of {name, days, start_hour, end_hour, max_size?, threshold?, shrink_enable?, algorithm?}; \
              hours in the server's time zone; the first matching profile wins.",
            &PROFILES,
            GucContext::Sighup,
            GucFlags::default(),
            Some(check_profiles),
            None,
            None,
        );
    }
    crate::patroni::apply_via::init();
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
    // The test build's clock setting (src/pg/test_clock.rs) must be defined
    // before the prefix is reserved, or its line would be dropped as unknown.
    #[cfg(feature = "test-clock")]
    crate::pg::test_clock::define_setting(preloading);
    // SAFETY: in _PG_init, after every walrus.* this process defines; the prefix
    // is a static C string that PostgreSQL copies into TopMemoryContext, and the
    // call only removes leftover walrus.* placeholders with a WARNING.
    unsafe { pg_sys::MarkGUCPrefixReserved(c"walrus".as_ptr()) };
}

/// Refuses malformed profiles at SET, ALTER SYSTEM and reload, naming the
/// problem, so the previous value stays in force and the worker never sees
/// an invalid one.
///
/// # Safety
///
/// Only PostgreSQL's GUC code may call this, as walrus.profiles' check hook,
/// on the process's main thread: `newval` must point at the candidate value
/// (NULL or a NUL-terminated string guc.c owns) and stay valid for the call.
#[pg_guard]
unsafe extern "C-unwind" fn check_profiles(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: `newval` comes straight from guc.c under this function's contract,
    // which is exactly check_text's.
    unsafe {
        guc_check::check_text(newval, "walrus.profiles must be UTF-8 JSON.", |text| {
            profiles::parse(text).map(|_| ())
        })
    }
}

/// Refuses channel names NOTIFY would need quoting or truncation for: at
/// SET, ALTER SYSTEM and reload alike, so the previous value stays in force.
///
/// # Safety
///
/// Only PostgreSQL's GUC code may call this, as walrus.notify_channel's check
/// hook, on the process's main thread: `newval` must point at the candidate
/// value (NULL or a NUL-terminated string guc.c owns), valid for the call.
#[pg_guard]
unsafe extern "C-unwind" fn check_notify_channel(
    newval: *mut *mut c_char,
    _extra: *mut *mut c_void,
    _source: pg_sys::GucSource::Type,
) -> bool {
    // SAFETY: `newval` comes straight from guc.c under this function's contract,
    // which is exactly check_text's.
    unsafe { guc_check::check_text(newval, "Channel names must be ASCII.", notify::validate_channel) }
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

/// `walrus.max_wal_disk_fraction`; 0 means the disk guard is off.
pub fn max_wal_disk_fraction() -> f64 {
    MAX_WAL_DISK_FRACTION.get()
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

pub fn dry_run() -> bool {
    DRY_RUN.get()
}

pub fn rate_limits() -> RateLimits {
    RateLimits {
        cooldown_secs: f64::from(COOLDOWN_SEC.get()),
        max_changes_per_hour: MAX_CHANGES_PER_HOUR.get().max(0) as u32,
    }
}

/// The NOTIFY channel, or `None` when events are disabled.
pub fn notify_channel() -> Option<String> {
    NOTIFY_CHANNEL
        .get()
        .and_then(|c| c.into_string().ok())
        .filter(|c| !c.is_empty())
}

pub fn algorithm() -> Strategy {
    ALGORITHM.get().algorithm()
}

pub fn additive_increment_mb() -> i32 {
    ADDITIVE_INCREMENT_MB.get()
}

pub fn ema_alpha() -> f64 {
    EMA_ALPHA.get()
}

pub fn target_percentile() -> f64 {
    TARGET_PERCENTILE.get()
}

pub fn require_wal_evidence() -> bool {
    REQUIRE_WAL_EVIDENCE.get()
}

pub fn early_reaction() -> bool {
    EARLY_REACTION.get()
}

pub fn pace_growth() -> bool {
    PACE_GROWTH.get()
}

/// `walrus.standby_mirror`.
pub fn standby_mirror() -> bool {
    STANDBY_MIRROR.get()
}

/// The configured profiles. The check hook already refused invalid JSON, so
/// a parse error here cannot happen; it would mean "no profiles", never a
/// panic.
pub fn profiles() -> Vec<Profile> {
    PROFILES
        .get()
        .and_then(|c| c.into_string().ok())
        .map(|t| profiles::parse(&t).unwrap_or_default())
        .unwrap_or_default()
}
