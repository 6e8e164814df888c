//! The background worker's loop: wait one checkpoint_timeout, observe,
//! decide, apply. Sizing logic lives in the strategies crate; this file only
//! moves evidence in and decisions out.

use std::time::{Duration, Instant};

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags};
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};
use walrus_strategies::{Action, Decision, Observation, Settings, SizingStrategy};

use crate::stats::CheckpointCounts;
use crate::{alter_system, guc, server, stats, txn};

/// How long the postmaster waits before restarting a worker that exited
/// with a non-zero status (after pg_terminate_backend, say).
const RESTART_INTERVAL: Duration = Duration::from_secs(10);

/// Registers the worker with the postmaster. Only valid while preloading.
pub fn register() {
    BackgroundWorkerBuilder::new("pg_walrus")
        .set_type("pg_walrus")
        .set_library("pg_walrus")
        .set_function("walrus_worker_main")
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(RESTART_INTERVAL))
        .enable_shmem_access(None)
        .enable_spi_access()
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
    unsafe {
        pg_sys::SetConfigOption(
            c"application_name".as_ptr(),
            c"pg_walrus".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
        );
    }
    log!("pg_walrus worker started");

    let mut worker = Worker::default();
    let mut cycle_started = Instant::now();
    worker.cycle(cycle_started);
    while sleep_one_interval(cycle_started) {
        cycle_started = Instant::now();
        worker.cycle(cycle_started);
    }

    log!("pg_walrus worker shutting down");
    // Exit status 1, like PostgreSQL's own workers stopped by SIGTERM: after
    // pg_terminate_backend the postmaster restarts us; during a server
    // shutdown it does not.
    unsafe { pg_sys::proc_exit(1) };
}

/// Sleeps until a full `checkpoint_timeout` has passed since `since`,
/// processing configuration reloads as they arrive. Any signal wakes the
/// latch early; the deadline is re-derived from elapsed time on a monotonic
/// clock each time, so early wakes neither shorten the interval nor delay a
/// reload. Returns false when the worker must stop (SIGTERM). Postmaster
/// death ends the process inside WaitLatch.
fn sleep_one_interval(since: Instant) -> bool {
    loop {
        if BackgroundWorker::sigterm_received() {
            return false;
        }
        let interval = Duration::from_secs(server::checkpoint_timeout_secs().max(1) as u64);
        let Some(remaining) = interval.checked_sub(since.elapsed()).filter(|r| !r.is_zero()) else {
            return true;
        };
        wait_on_latch(remaining);
        if BackgroundWorker::sighup_received() {
            reload_configuration();
        }
    }
}

fn wait_on_latch(timeout: Duration) {
    let millis = timeout.as_millis().clamp(1, i64::MAX as u128) as std::os::raw::c_long;
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            millis,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
    check_for_interrupts!();
}

/// Re-reads the configuration files: without this the worker's view of
/// walrus.*, max_wal_size and checkpoint_timeout would stay as at start.
fn reload_configuration() {
    unsafe {
        pg_sys::ConfigReloadPending = 0;
        pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP);
    }
    debug1!("pg_walrus: configuration reloaded");
}

/// The counters at the start of the interval being measured.
#[derive(Debug, Clone, Copy)]
struct Baseline {
    counts: CheckpointCounts,
    taken_at: Instant,
}

#[derive(Default)]
struct Worker {
    baseline: Option<Baseline>,
    /// A resize whose ALTER SYSTEM failed: retried next cycle if the evidence
    /// of that cycle does not call for a change of its own.
    failed: Option<Decision>,
}

impl Worker {
    fn cycle(&mut self, now: Instant) {
        let counts = match txn::guarded(stats::checkpoint_counts) {
            Ok(Some(counts)) => counts,
            Ok(None) => {
                warning!("pg_walrus: checkpoint statistics are unavailable, skipping this cycle");
                return;
            }
            Err(error) => {
                report_warning("pg_walrus: could not read checkpoint statistics, skipping this cycle", &error);
                return;
            }
        };
        let current = Baseline { counts, taken_at: now };
        let Some(previous) = self.baseline.replace(current) else {
            debug1!("pg_walrus: baseline taken at {} requested checkpoints", counts.requested);
            return;
        };
        let forced = counts.requested - previous.counts.requested;
        if forced < 0 {
            log!("pg_walrus: checkpoint statistics were reset; taking a new baseline");
            return;
        }
        if !guc::enabled() {
            self.failed = None;
            debug1!("pg_walrus: walrus.enable is off; baseline updated, no decision");
            return;
        }

        let interval_secs = (now - previous.taken_at).as_secs_f64();
        let settings = Settings { threshold: guc::threshold(), max_size_mb: guc::max_size_mb() };
        let observation = Observation {
            current_size_mb: server::max_wal_size_mb(),
            forced_checkpoints: forced,
            interval_secs,
        };
        if forced >= i64::from(settings.threshold) {
            log!("pg_walrus: detected {forced} forced checkpoints over {interval_secs:.0} seconds");
        } else {
            debug1!("pg_walrus: {forced} forced checkpoints over {interval_secs:.0} seconds");
        }

        let strategy = walrus_strategies::Algorithm::Multiplicative.strategy();
        let mut decision = strategy.decide(&observation, &settings);
        if !decision.changes_size() {
            if let Some(retry) = self.failed.take().filter(|d| still_valid(d, &observation, &settings)) {
                decision = retry;
            }
        }
        self.apply(decision, &settings);
    }

    fn apply(&mut self, decision: Decision, settings: &Settings) {
        if decision.blocked_at_ceiling() {
            debug1!("pg_walrus: max_wal_size already at walrus.max ({} MB), not growing", settings.max_size_mb);
        }
        if !decision.changes_size() {
            return;
        }
        if decision.action == Action::Capped {
            warning!(
                "pg_walrus: computed max_wal_size of {} MB exceeds walrus.max, capping at {} MB",
                decision.computed_size_mb.unwrap_or(decision.new_size_mb),
                decision.new_size_mb
            );
        }
        let new_size = decision.new_size_mb;
        match txn::guarded(move || alter_system::set_max_wal_size(new_size)) {
            Ok(()) => {
                log!(
                    "pg_walrus: resizing max_wal_size from {} MB to {} MB ({})",
                    decision.old_size_mb,
                    decision.new_size_mb,
                    decision.reason
                );
                self.failed = None;
                if let Err(error) = server::request_reload() {
                    warning!("pg_walrus: could not signal the postmaster to reload: {error}");
                }
            }
            Err(error) => {
                report_warning("pg_walrus: failed to execute ALTER SYSTEM, will retry next cycle", &error);
                self.failed = Some(decision);
            }
        }
    }
}

/// A failed resize is retried only while it still fits: nobody changed
/// max_wal_size in the meantime and it respects the current walrus.max.
fn still_valid(decision: &Decision, observation: &Observation, settings: &Settings) -> bool {
    decision.old_size_mb == observation.current_size_mb
        && match decision.action {
            Action::Increase | Action::Capped => decision.new_size_mb <= settings.max_size_mb,
            Action::Decrease | Action::None => true,
        }
}

fn report_warning(message: &'static str, error: &txn::CaughtPgError) {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_WARNING, message, "pg_walrus")
        .set_detail(error.to_string())
        .report(PgLogLevel::WARNING);
}
