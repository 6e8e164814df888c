//! One cycle of the worker on a primary: read the counters, close the
//! interval, let the active strategy decide (scaled, when early reaction cut
//! the interval short), and apply through the one apply path; and the
//! [`Worker`] that carries what each feature remembers between cycles.

use crate::early::PaceMemory;
use pgrx::prelude::*;
use walrus_strategies::{
    Action, ChangeKind, Decision, IntervalSample, Observation, Settings, SizingStrategy, StrategyState, Urgency,
    early as rule, observe_all,
};

use crate::pg::process::reload_configuration;
use crate::sizing::Regime;
use crate::{
    apply, disk, guc, patroni, pg::clock, pg::server, pg::stats, pg::txn, record::queries, record::sql_objects, shmem,
    sizing, sizing::data_size, standby,
};

/// What one cycle's reading of the counters leads to.
enum Step {
    /// First reading (or first after a stats reset): nothing to compare.
    Baseline,
    StatsReset,
    Disabled,
    Decide(Observation, Box<StrategyState>),
}

#[derive(Default)]
pub(super) struct Worker {
    /// A resize whose ALTER SYSTEM failed: retried next cycle if the evidence
    /// of that cycle does not call for a change of its own.
    pub(super) failed: Option<Decision>,
    /// Changes and history rows go through it, for every feature.
    pub(super) writer: apply::Writer,
    /// WAL per statement at the last cycle (pg_stat_statements, if there).
    pub(super) wal_by_query: Option<queries::WalByQuery>,
    /// When the WAL disk guard checks next.
    pub(super) disk: disk::Watch,
    /// On a standby: following the primary's size.
    pub(super) mirror: standby::Mirror,
    /// What the worker remembers about Patroni between checks.
    pub(super) patroni: patroni::ClusterSync,
    /// Pace-based growth's glances and storm start, lent to each interval's watch.
    pub(super) pace: PaceMemory,
    /// The extension version in walrus.database, against the library's.
    pub(super) sql_objects: sql_objects::VersionWatch,
}

impl Worker {
    /// The WAL disk guard's check (specs/disk.md), then, under Patroni, this
    /// node's own line against the cluster's value, with the disk just
    /// measured.
    pub(super) fn check_disk(&mut self) {
        self.disk.check(&mut self.writer);
        self.patroni.reconcile_with_cluster(&mut self.writer);
    }

    /// Applies a pace-based grow (walrus.pace_growth) as the automatic
    /// change it is: the one apply path, the rate limits of a grow that can
    /// wait (a storm's grow after forced checkpoints is the one that passes
    /// them), history and NOTIFY with the pace's reason. True when it took
    /// effect (written, or sent to Patroni).
    pub(super) fn grow_at_pace(&mut self, decision: Decision) -> bool {
        log!("pg_walrus: growing ahead of the WAL's pace: {}", decision.reason);
        shmem::update(|state| state.last_recommendation_mb = decision.new_size_mb);
        let new_size_mb = decision.new_size_mb;
        let change = apply::Change {
            urgency: Urgency::CanWait,
            decision,
            kind: ChangeKind::Automatic,
            strategy: "pace",
            forced: 0,
            at_secs: apply::now_secs(),
            reading: None,
        };
        match self.writer.apply_change(&change) {
            apply::Outcome::Applied(_) => {
                self.failed = None;
                // The glances that follow judge the pace at the new size.
                reload_configuration();
                self.writer.publish_size(new_size_mb);
                true
            }
            apply::Outcome::Sent(_) => {
                self.failed = None;
                true
            }
            apply::Outcome::RecommendOnly(_)
            | apply::Outcome::Failed
            | apply::Outcome::Superseded
            | apply::Outcome::Held
            | apply::Outcome::DryRun => false,
        }
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
    pub(super) fn cycle(&mut self, woke_ns: i64, early: bool) {
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
