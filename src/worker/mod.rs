//! The background worker's loop: wait one checkpoint_timeout (or less, when
//! early reaction sees a storm of forced checkpoints), observe, decide,
//! apply. Sizing logic lives in the strategies crate; this file only
//! moves evidence in and decisions out.

mod recovery;

use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, BgWorkerStartTime, SignalWakeFlags};
use pgrx::prelude::*;
use walrus_strategies::{
    Action, ChangeKind, Decision, IntervalSample, Observation, Settings, SizingStrategy, StrategyState, Urgency,
    early as rule, observe_all,
};

use crate::pg::process::{reload_configuration, set_option, wait_on_latch};
use crate::sizing::Regime;

use crate::{
    apply, disk, early, guc, patroni, pg::clock, pg::server, pg::stats, pg::txn, record::queries, record::sql_objects,
    shmem, sizing, sizing::data_size, standby,
};

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
        let mut watch = (!was_early).then(|| early::Watch::new(woke_ns));
        let wake = loop {
            match sleep_one_interval(woke_ns, watch.as_mut(), worker.disk.next_check_ns()) {
                // The disk is watched whatever the interval: a filling disk
                // is noticed within seconds, not at the interval's end.
                Wake::DiskCheck => worker.check_disk(),
                wake => break wake,
            }
        };
        if wake == Wake::Stop {
            break;
        }
        woke_ns = clock::monotonic_ns();
        was_early = wake == Wake::Early;
        worker.check_disk();
        worker.cycle(woke_ns, was_early);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wake {
    /// A full checkpoint_timeout has passed.
    Interval,
    /// Early reaction: a look inside the interval saw a storm to decide on now.
    Early,
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
        if let Some(watch) = watch.as_deref_mut()
            && watch.look_if_due(elapsed())
        {
            return Wake::Early;
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

/// What one cycle's reading of the counters leads to.
enum Step {
    /// First reading (or first after a stats reset): nothing to compare.
    Baseline,
    StatsReset,
    Disabled,
    Decide(Observation, Box<StrategyState>),
}

#[derive(Default)]
struct Worker {
    /// A resize whose ALTER SYSTEM failed: retried next cycle if the evidence
    /// of that cycle does not call for a change of its own.
    failed: Option<Decision>,
    /// Changes and history rows go through it, for every feature.
    writer: apply::Writer,
    /// WAL per statement at the last cycle (pg_stat_statements, if there).
    wal_by_query: Option<queries::WalByQuery>,
    /// When the WAL disk guard checks next.
    disk: disk::Watch,
    /// On a standby: following the primary's size.
    mirror: standby::Mirror,
    /// What the worker remembers about Patroni between checks.
    patroni: patroni::ClusterSync,
    /// The extension version in walrus.database, against the library's.
    sql_objects: sql_objects::VersionWatch,
}

impl Worker {
    /// The WAL disk guard's check (specs/disk.md), then, under Patroni, this
    /// node's own line against the cluster's value, with the disk just
    /// measured.
    fn check_disk(&mut self) {
        self.disk.check(&mut self.writer);
        self.patroni.reconcile_with_cluster(&mut self.writer);
    }

    /// One cycle, at `woke_ns` on the monotonic clock. Rate limits compare
    /// wake times, not the later moment the counters were read: wakes are at
    /// least one interval apart by construction, so with the defaults (a
    /// 300 s cooldown, a 30 s interval) the tenth wake after a change is never
    /// a few milliseconds of read latency short of the cooldown, which would
    /// hold the change back a whole interval.
    ///
    /// An `early` cycle ends an interval that early reaction cut short: its
    /// evidence is judged scaled to a full interval (`rule::extrapolate`).
    fn cycle(&mut self, woke_ns: i64, early: bool) {
        self.writer.start_cycle();
        self.writer.catch_up_with_writes();
        patroni::confirm_patch(&mut self.writer);
        let generation = self.writer.seen_generation();
        let reading = match txn::guarded(stats::read_now) {
            Ok(Some(reading)) => reading,
            Ok(None) => {
                warning!("pg_walrus: checkpoint statistics are unavailable, skipping this cycle");
                return;
            }
            Err(error) => {
                error.report_warning("pg_walrus: could not read checkpoint statistics, skipping this cycle");
                return;
            }
        };
        data_size::refresh_for(&reading);
        // Statements' WAL since the last cycle, for growth's history rows;
        // absent or unloaded pg_stat_statements simply means none.
        let wal_by_query = txn::guarded(queries::snapshot).ok().flatten();
        let top_queries = match (&self.wal_by_query, &wal_by_query) {
            (Some(before), Some(after)) => queries::top_growth(before, after, 3),
            _ => Vec::new(),
        };
        self.wal_by_query = wal_by_query;
        let regime = Regime::now();
        let settings = &regime.settings;
        let enabled = guc::enabled();
        let now = clock::now();
        // One read-modify-write: close the interval, record it in every
        // strategy's state, open the next.
        let step = shmem::update(|state| {
            let observation = sizing::observe(state, &reading, settings);
            let had_baseline = state.has_baseline;
            state.rebaseline(&reading);
            state.last_check_time = now;
            match observation {
                None if !had_baseline => Step::Baseline,
                None => {
                    state.quiet_intervals = 0;
                    Step::StatsReset
                }
                Some(observation) => {
                    state.analysis_cycles += 1;
                    state.last_forced = observation.forced_checkpoints;
                    state.total_forced += observation.forced_checkpoints;
                    // Whichever strategy is active, and even while disabled:
                    // a later switch or re-enable starts from warm state.
                    observe_all(
                        &mut state.strategies,
                        &IntervalSample::of(&observation, settings),
                        settings,
                    );
                    if enabled {
                        state.quiet_intervals = observation.quiet_intervals;
                        Step::Decide(observation, Box::new(state.strategies))
                    } else {
                        state.quiet_intervals = 0;
                        Step::Disabled
                    }
                }
            }
        })
        .unwrap_or(Step::Baseline);

        match step {
            Step::Baseline => debug1!(
                "pg_walrus: baseline taken at {} requested checkpoints",
                reading.counts.requested
            ),
            Step::StatsReset => log!("pg_walrus: checkpoint statistics were reset; taking a new baseline"),
            Step::Disabled => {
                self.failed = None;
                debug1!("pg_walrus: walrus.enable is off; baseline updated, no decision");
            }
            Step::Decide(observation, strategies) => self.decide(
                &observation,
                early,
                &regime,
                &strategies,
                &top_queries,
                woke_ns as f64 / 1e9,
            ),
        }
        self.writer.cleanup_history();
        self.sql_objects.check();
        clock::cycle_done();
        // What is in force, for standbys (a DBA's own ALTER SYSTEM
        // included); a size this cycle wrote was published as it was written
        // (this process sees it only after its next reload).
        if self.writer.seen_generation() == generation {
            self.writer.publish_size(server::max_wal_size_mb());
        }
    }

    fn decide(
        &mut self,
        observation: &Observation,
        early: bool,
        regime: &Regime,
        strategies: &StrategyState,
        top_queries: &[(i64, f64)],
        decided_at: f64,
    ) {
        let settings = &regime.settings;
        let forced = observation.forced_checkpoints;
        let secs = observation.interval_secs;
        if settings.is_quiet(forced) {
            debug1!("pg_walrus: {forced} forced checkpoints over {secs:.0} seconds");
        } else {
            log!("pg_walrus: detected {forced} forced checkpoints over {secs:.0} seconds");
        }
        let discounted = observation.requested_checkpoints - forced;
        if discounted > 0 {
            let message = format!(
                "pg_walrus: {discounted} of {} requested checkpoints not explained by WAL volume \
                 (manual CHECKPOINT, base backup, CREATE DATABASE ...); not counted",
                observation.requested_checkpoints
            );
            // Worth a LOG line when it is what kept the size from growing.
            if settings.is_quiet(forced) && !settings.is_quiet(observation.requested_checkpoints) {
                log!("{message}");
            } else {
                debug1!("{message}");
            }
        }
        let strategy = regime.algorithm;
        let mut decision = if early {
            decide_early(observation, regime, strategies)
        } else {
            regime.decide(regime.algorithm, observation, strategies)
        };
        if matches!(decision.action, Action::Increase | Action::Capped) && !top_queries.is_empty() {
            decision.metadata["top_wal_queries"] = queries::metadata(top_queries);
        }
        shmem::update(|state| state.last_recommendation_mb = decision.new_size_mb);
        if !decision.changes_size()
            && let Some(retry) = self
                .failed
                .take()
                .filter(|d| d.retry_still_fits(observation.current_size_mb, settings.ceiling_mb()))
        {
            decision = retry;
        }
        self.apply(decision, strategy.name(), forced, settings, decided_at);
    }

    /// `decided_at` is the cycle's wake time on the monotonic clock, in
    /// seconds: rate limits compare cycle to cycle, so a change at one cycle
    /// and the check at the next are at least one interval apart.
    fn apply(&mut self, decision: Decision, strategy: &'static str, forced: i64, settings: &Settings, decided_at: f64) {
        if decision.blocked_at_ceiling() {
            debug1!(
                "pg_walrus: max_wal_size already at {} ({} MB), not growing",
                settings.ceiling_name(),
                settings.ceiling_mb()
            );
        }
        if !decision.changes_size() {
            return;
        }
        let change = apply::Change {
            urgency: Urgency::of(decision.action, forced, settings),
            decision,
            kind: ChangeKind::Automatic,
            strategy,
            forced,
            at_secs: decided_at,
            reading: None,
        };
        match self.writer.apply_change(&change) {
            apply::Outcome::Superseded => {
                log!("pg_walrus: decision superseded by a change applied meanwhile; deciding again next cycle");
            }
            apply::Outcome::Applied(_) => {
                self.failed = None;
                self.writer.publish_size(change.decision.new_size_mb);
            }
            apply::Outcome::Sent(_) | apply::Outcome::RecommendOnly(_) => self.failed = None,
            apply::Outcome::Failed => self.failed = Some(change.decision),
            apply::Outcome::Held | apply::Outcome::DryRun => {}
        }
    }
}

/// The decision on an interval cut short by early reaction: the strategy
/// judges the evidence scaled to a full interval; reason and metadata say
/// what was actually seen.
fn decide_early(observation: &Observation, regime: &Regime, strategies: &StrategyState) -> Decision {
    let settings = &regime.settings;
    let (decision, judged) = rule::decide(observation, settings, |judged| {
        regime.decide(regime.algorithm, judged, strategies)
    });
    log!(
        "pg_walrus: reacting early: {} forced checkpoints in {:.0} of {:.0} seconds, judged as {} over the full interval",
        observation.forced_checkpoints,
        observation.interval_secs,
        settings.checkpoint_timeout_secs,
        judged.forced_checkpoints
    );
    decision
}
