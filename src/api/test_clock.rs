//! The test build's SQL function that moves the worker's clock
//! (`test_clock`): compiled only with the cargo feature `test-clock`.
//!
//! It is not part of the extension's script (`sql = false`): the test
//! harness creates it from the library, so the extension's SQL surface is
//! the same in both builds, and against a release library its creation
//! fails (tests/e2e/test_test_clock.py).

use std::time::{Duration, Instant};

use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};
use serde_json::json;

use crate::{pg::clock, pg::test_clock, shmem};

/// How long the function waits for the worker to catch up: a deadline that
/// detects a hang, never an expected duration.
const CATCH_UP_DEADLINE: Duration = Duration::from_secs(120);

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
    let cycles_before = test_clock::cycles();
    test_clock::advance((seconds * 1e9).round() as i64);
    let target_ns = clock::monotonic_ns();
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
    while test_clock::settled_ns() < target_ns {
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
        "cycles": test_clock::cycles() - cycles_before,
        "clock_sec": target_ns as f64 / 1e9,
    }))
}
