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
//! This module is the clock itself and depends on nothing else of the
//! crate (`clock` reads it); the SQL function that moves it is
//! src/api/test_clock.rs.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};
use pgrx::prelude::*;
use pgrx::{PgAtomic, pg_shmem_init};

/// Nanoseconds added to CLOCK_MONOTONIC by walrus_test_advance_clock().
// SAFETY: a name unique to this extension, distinct from every other segment's;
// read only after pg_shmem_init! (every reader checks available()).
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

/// Set in the postmaster by init(), inherited by every process it forks:
/// without preload there is no shared memory to read.
static AVAILABLE: AtomicBool = AtomicBool::new(false);

fn available() -> bool {
    AVAILABLE.load(Ordering::Relaxed)
}

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
    AVAILABLE.store(true, Ordering::Relaxed);
}

/// The test build's reading for a real CLOCK_MONOTONIC reading.
pub fn now_ns(real_ns: i64) -> i64 {
    if !available() {
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
    if available() {
        SETTLED_NS.get().fetch_max(evaluated_at_ns, Ordering::SeqCst);
    }
}

/// The worker finished a cycle.
pub fn cycle_done() {
    if available() {
        CYCLES.get().fetch_add(1, Ordering::SeqCst);
    }
}

/// Moves the clock `ns` on.
pub fn advance(ns: i64) {
    if available() {
        OFFSET_NS.get().fetch_add(ns, Ordering::SeqCst);
    }
}

/// The clock reading up to which the worker has done everything due.
pub fn settled_ns() -> i64 {
    if available() {
        SETTLED_NS.get().load(Ordering::SeqCst)
    } else {
        0
    }
}

/// Cycles the worker has completed since the server started.
pub fn cycles() -> i64 {
    if available() {
        CYCLES.get().load(Ordering::SeqCst)
    } else {
        0
    }
}
