//! The test build's clock: compiled only with the cargo feature
//! `test-clock`, which no release build or package enables.
//!
//! Every duration the extension measures comes from `clock::monotonic_ns()`.
//! In a test build that reading is CLOCK_MONOTONIC plus an offset in shared
//! memory that a test moves with `walrus_test_advance_clock(seconds)`; with
//! the postmaster setting `walrus.test_clock_hold = on` the reading stands
//! still (at the first one) and moves only when a test moves it. The worker
//! runs its ordinary loop on that clock: a cycle the test clock brings is a
//! real cycle (observation, quiet intervals, rate limits, apply path). The
//! worker publishes, just before each sleep, the clock reading up to which it
//! has done everything due, so the function returns once the worker has
//! caught up with the time it was given: a test reads the result at once.
//!
//! The SQL function is not part of the extension's script (`sql = false`):
//! the test harness creates it, so the extension's SQL surface is the same
//! in both builds, and against a release library its creation fails.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;
use pgrx::{JsonB, PgAtomic, PgSqlErrorCode, pg_shmem_init};
use serde_json::json;

use crate::shmem;

/// Nanoseconds added to CLOCK_MONOTONIC by walrus_test_advance_clock().
// SAFETY: a name unique to this extension, distinct from every other segment's;
// read only after pg_shmem_init! (now_ns and the rest check shmem::available).
static OFFSET_NS: PgAtomic<AtomicI64> = unsafe { PgAtomic::new(c"pg_walrus_test_clock_offset") };
/// With walrus.test_clock_hold: the CLOCK_MONOTONIC reading the clock stands at.
// SAFETY: as OFFSET_NS, under its own unique name.
static HELD_AT_NS: PgAtomic<AtomicI64> = unsafe { PgAtomic::new(c"pg_walrus_test_clock_held_at") };
/// The reading up to which the worker has done everything due.
// SAFETY: as OFFSET_NS, under its own unique name.
static SETTLED_NS: PgAtomic<AtomicI64> = unsafe { PgAtomic::new(c"pg_walrus_test_clock_settled") };
/// Cycles the worker has completed.
// SAFETY: as OFFSET_NS, under its own unique name.
static CYCLES: PgAtomic<AtomicI64> = unsafe { PgAtomic::new(c"pg_walrus_test_clock_cycles") };

static HOLD: GucSetting<bool> = GucSetting::<bool>::new(false);

/// How long the function waits for the worker to catch up: a deadline that
/// detects a hang, never an expected duration.
const CATCH_UP_DEADLINE: Duration = Duration::from_secs(120);

/// `walrus.test_clock_hold`, only while preloading (a postmaster setting);
/// from guc::init, before the walrus prefix is reserved.
pub fn define_setting(preloading: bool) {
    if !preloading {
        return;
    }
    GucRegistry::define_bool_guc(
        c"walrus.test_clock_hold",
        c"Test builds only: the worker's clock stands still until walrus_test_advance_clock() moves it.",
        c"Exists only in builds with the test-clock cargo feature, never in a release build or package.",
        &HOLD,
        GucContext::Postmaster,
        GucFlags::default(),
    );
}

/// The shared memory; only while preloading.
pub fn init(preloading: bool) {
    if !preloading {
        return;
    }
    pg_shmem_init!(OFFSET_NS);
    pg_shmem_init!(HELD_AT_NS);
    pg_shmem_init!(SETTLED_NS);
    pg_shmem_init!(CYCLES);
}

/// The test build's reading for a real CLOCK_MONOTONIC reading.
pub fn now_ns(real_ns: i64) -> i64 {
    if !shmem::available() {
        return real_ns;
    }
    let offset = OFFSET_NS.get().load(Ordering::SeqCst);
    if !HOLD.get() {
        return real_ns + offset;
    }
    // The first reading fixes where the clock stands.
    let base = match HELD_AT_NS
        .get()
        .compare_exchange(0, real_ns, Ordering::SeqCst, Ordering::SeqCst)
    {
        Ok(_) => real_ns,
        Err(base) => base,
    };
    base + offset
}

/// The worker has done everything due up to `evaluated_at_ns` and sleeps.
pub fn settled(evaluated_at_ns: i64) {
    if shmem::available() {
        SETTLED_NS.get().fetch_max(evaluated_at_ns, Ordering::SeqCst);
    }
}

/// The worker finished a cycle.
pub fn cycle_done() {
    if shmem::available() {
        CYCLES.get().fetch_add(1, Ordering::SeqCst);
    }
}

/// Test builds only: moves the worker's clock `seconds` on, wakes the
/// worker, and returns once it has done everything due by then (a cycle,
/// a disk check): `{"advanced_sec", "cycles", "clock_sec"}`. Superuser only.
/// Created by the tests as
/// `CREATE FUNCTION walrus_test_advance_clock(float8) RETURNS jsonb
///  AS 'pg_walrus', 'walrus_test_advance_clock_wrapper' LANGUAGE C STRICT`.
#[pg_extern(sql = false)]
fn walrus_test_advance_clock(seconds: f64) -> JsonB {
    // SAFETY: superuser() reads this backend's own role from its catalog
    // cache inside the calling statement's transaction.
    if !unsafe { pg_sys::superuser() } {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            "permission denied: walrus_test_advance_clock() requires superuser"
        );
    }
    if !(seconds.is_finite() && seconds >= 0.0) {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "walrus_test_advance_clock(): seconds must be a finite number, zero or more"
        );
    }
    let Some(pid) = shmem::running_worker_pid(&shmem::snapshot()) else {
        error!("walrus_test_advance_clock(): the pg_walrus worker is not running");
    };
    let cycles_before = CYCLES.get().load(Ordering::SeqCst);
    OFFSET_NS
        .get()
        .fetch_add((seconds * 1e9).round() as i64, Ordering::SeqCst);
    let target_ns = crate::clock::monotonic_ns();
    // SAFETY: `pid` was checked live just above; BackendPidGetProc returns its
    // PGPROC (in shared memory for the server's life) or NULL if it exited in
    // between, and SetLatch on another process's procLatch is how PostgreSQL
    // wakes a process (it only sets a flag and signals the owner).
    unsafe {
        let proc = pg_sys::BackendPidGetProc(pid);
        if !proc.is_null() {
            pg_sys::SetLatch(&raw mut (*proc).procLatch);
        }
    }
    let started = Instant::now();
    while SETTLED_NS.get().load(Ordering::SeqCst) < target_ns {
        if started.elapsed() > CATCH_UP_DEADLINE {
            error!(
                "walrus_test_advance_clock(): the worker did not catch up within {} s",
                CATCH_UP_DEADLINE.as_secs()
            );
        }
        check_for_interrupts!();
        std::thread::sleep(Duration::from_millis(2));
    }
    JsonB(json!({
        "advanced_sec": seconds,
        "cycles": CYCLES.get().load(Ordering::SeqCst) - cycles_before,
        "clock_sec": target_ns as f64 / 1e9,
    }))
}
