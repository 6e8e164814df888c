//! The background worker process: registration, its main function, and the
//! primary's loop (wait one checkpoint_timeout, or less when early reaction
//! sees a storm of forced checkpoints, with the disk guard's checks between;
//! then a cycle). What a cycle does is `cycle`; the loop in recovery is
//! `recovery`. Sizing logic lives in the strategies crate.

mod cycle;
mod recovery;

use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags};
use pgrx::prelude::*;
use walrus_strategies::Decision;

use cycle::Worker;

use crate::pg::process::{reload_configuration, set_option, wait_on_latch};
use crate::{early, guc, pg::clock, pg::server, shmem, standby};

/// How long the postmaster waits before restarting a worker that exited
/// with a non-zero status (after pg_terminate_backend, say).
const RESTART_INTERVAL: Duration = Duration::from_secs(10);

/// Registers the worker with the postmaster. Only valid while preloading.
pub fn register() {
    BackgroundWorkerBuilder::new("pg_walrus")
        .set_type("pg_walrus")
        .set_library("pg_walrus")
        .set_function("walrus_worker_main")
        .set_restart_time(Some(RESTART_INTERVAL))
        .enable_shmem_access(None)
        .enable_spi_access()
        // On a hot standby too, once it is consistent (with hot_standby off,
        // at promotion): a standby follows its primary's size. After
        // enable_spi_access(), which resets the start time to
        // RecoveryFinished (pgrx 0.18).
        .set_start_time(BgWorkerStartTime::ConsistentState)
        .load();
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn walrus_worker_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // A superuser connection: ALTER SYSTEM checks privileges, and history
    // lives in this database. A missing database is a FATAL here, and the
    // postmaster retries after RESTART_INTERVAL.
    BackgroundWorker::connect_worker_to_spi(Some(&guc::database()), None);
    // Names the worker in pg_stat_activity.application_name and log lines (%a).
    set_option(c"application_name", c"pg_walrus");
    log!("pg_walrus worker started");

    shmem::update(|state| {
        // SAFETY: MyProcPid is this process's own pid, set at process start
        // and never changed; read by value.
        state.worker_pid = unsafe { pg_sys::MyProcPid };
        // A restarted worker takes a fresh baseline rather than trusting one
        // from before it was stopped.
        state.has_baseline = false;
    });
    // Only fully qualified objects: no schema on the path can shadow them,
    // whatever the database's default search_path says.
    set_option(c"search_path", c"pg_catalog, pg_temp");

    let mut worker = Worker::default();
    if server::in_recovery() {
        if worker.follow_primary() {
            worker.take_over_after_promotion();
            run_as_primary(&mut worker);
        }
    } else {
        if standby::promoted_while_away() {
            worker.take_over_after_promotion();
        }
        run_as_primary(&mut worker);
    }

    log!("pg_walrus worker shutting down");
    shmem::update(|state| state.worker_pid = 0);
    // Exit status 1, like PostgreSQL's own workers stopped by SIGTERM: after
    // pg_terminate_backend the postmaster restarts us; during a server
    // shutdown it does not.
    // SAFETY: the worker's main function, outside any transaction (every
    // transaction is opened and closed by txn::guarded); proc_exit runs the
    // exit callbacks (shared memory detach, lock release) and never returns.
    unsafe { pg_sys::proc_exit(1) };
}

/// The primary's loop: wait an interval (or less), observe, decide, apply,
/// until SIGTERM.
fn run_as_primary(worker: &mut Worker) {
    let mut woke_ns = clock::monotonic_ns();
    // Every cycle decides with a fresh look at the WAL disk.
    worker.check_disk();
    worker.cycle(woke_ns, false);
    let mut was_early = false;
    loop {
        // An early cycle is always followed by a full interval: a storm that
        // a change could not stop (a failed ALTER SYSTEM, dry run) costs at
        // most one extra cycle per interval, never a cycle per look.
        let mut watch = (!was_early).then(|| early::Watch::new(woke_ns, std::mem::take(&mut worker.pace)));
        let wake = loop {
            match sleep_one_interval(woke_ns, watch.as_mut(), worker.disk.next_check_ns()) {
                // The disk is watched whatever the interval: a filling disk
                // is noticed within seconds, not at the interval's end.
                Wake::DiskCheck => worker.check_disk(),
                // A pace-based grow is applied at once; the interval goes on.
                Wake::PaceGrow(decision) => {
                    if !worker.grow_at_pace(*decision)
                        && let Some(watch) = watch.as_mut()
                    {
                        watch.hold_pace();
                    }
                }
                wake => break wake,
            }
        };
        if let Some(watch) = watch {
            worker.pace = watch.into_pace();
        }
        if wake == Wake::Stop {
            break;
        }
        woke_ns = clock::monotonic_ns();
        was_early = wake == Wake::Early;
        worker.check_disk();
        worker.cycle(woke_ns, was_early);
    }
}

#[derive(Debug, PartialEq)]
enum Wake {
    /// A full checkpoint_timeout has passed.
    Interval,
    /// Early reaction: a look inside the interval saw a storm to decide on now.
    Early,
    /// Pace-based growth: the WAL's pace will reach the checkpoint trigger
    /// before the next time-triggered checkpoint (the interval goes on).
    PaceGrow(Box<Decision>),
    /// The WAL disk guard's check is due (the interval goes on after it).
    DiskCheck,
    /// SIGTERM: the worker must stop.
    Stop,
}

/// Sleeps until a full `checkpoint_timeout` has passed since `since_ns`,
/// processing configuration reloads as they arrive and, with a `watch`,
/// looking at the interval so far when a look is due (which may end the
/// interval early), and waking for the disk guard's check at
/// `disk_check_ns` (monotonic). Any signal wakes the latch early; the deadline is
/// re-derived from elapsed time on a monotonic clock each time, so early
/// wakes neither shorten the interval nor delay a reload. Postmaster death
/// ends the process inside WaitLatch.
fn sleep_one_interval(since_ns: i64, mut watch: Option<&mut early::Watch>, disk_check_ns: i64) -> Wake {
    let elapsed = || Duration::from_nanos(clock::monotonic_ns().saturating_sub(since_ns).max(0) as u64);
    loop {
        // Everything due up to this reading is done by the time we sleep.
        let evaluated_at = clock::monotonic_ns();
        // Checked once per wake: the flag is cleared by reading it.
        if BackgroundWorker::sigterm_received() {
            return Wake::Stop;
        }
        if let Some(watch) = watch.as_deref_mut() {
            match watch.look_if_due(elapsed()) {
                early::Glanced::Nothing => {}
                early::Glanced::Early => return Wake::Early,
                early::Glanced::Grow(decision) => return Wake::PaceGrow(decision),
            }
        }
        let interval = Duration::from_secs(server::checkpoint_timeout_secs().max(1) as u64);
        let Some(remaining) = interval.checked_sub(elapsed()).filter(|r| !r.is_zero()) else {
            return Wake::Interval;
        };
        let until_look = watch
            .as_deref()
            .and_then(|w| w.until_next_glance(elapsed()))
            .unwrap_or(remaining);
        let Some(until_disk_check) = u64::try_from(disk_check_ns - clock::monotonic_ns())
            .ok()
            .map(Duration::from_nanos)
            .filter(|d| !d.is_zero())
        else {
            return Wake::DiskCheck;
        };
        clock::settled(evaluated_at);
        wait_on_latch(remaining.min(until_look).min(until_disk_check));
        if BackgroundWorker::sighup_received() {
            reload_configuration();
        }
    }
}
