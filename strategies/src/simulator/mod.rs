//! A pure simulator: replays WAL-per-interval traces through PostgreSQL's
//! checkpoint trigger model and the worker's own pipeline (evidence, every
//! strategy's state, the active strategy's decision, floors, cap, rate
//! limits), so its figures predict the live server's.
//!
//! The trigger model: each interval of one checkpoint_timeout writes its WAL
//! at a constant rate. A checkpoint starts when the WAL since the last one
//! reaches the trigger distance (`evidence::trigger_distance_bytes` at the
//! size in force: a forced checkpoint) or when checkpoint_timeout has passed
//! since the last one (a timed checkpoint), whichever comes first, across
//! interval boundaries. Manual CHECKPOINTs come at the end of their interval:
//! requested checkpoints with no WAL behind them.
//!
//! A trace interval with a [`PageModel`] also writes full-page images, which
//! every checkpoint starts over (`pages`): its WAL is the trace's figure at
//! one checkpoint per timeout and more under forced checkpoints, as on a
//! live server, and the strategies get the image counts the worker reads from
//! `pg_stat_wal`. Without one, WAL comes at the trace's rate whatever the
//! checkpoints. Not modelled: checkpoint duration.

mod pace;
mod pages;
mod traces;

pub use pages::{BLOCK_BYTES, PageModel};
pub use traces::{Trace, TraceInterval, pgbench_storm, standard_traces};

use crate::compiled::observe_all;
use crate::evidence::state::{IntervalSample, StrategyState};
use crate::evidence::{BYTES_PER_MB, RawInterval, observe, size_for_wal_mb, trigger_distance_bytes};
use crate::{
    ChangeKind, FullPageEvidence, RateLimits, RateVerdict, RecentChanges, Settings, SizingStrategy, Strategy, Urgency,
    rate_verdict,
};
use pages::PagedLoad;

/// One simulated interval, for tables, CSV and plots.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub interval: usize,
    pub wal_mb: f64,
    /// Size in force during the interval.
    pub size_mb: i32,
    /// What an oracle that knows the trace would set for this interval.
    pub oracle_mb: i32,
    /// WAL-triggered checkpoints during the interval.
    pub forced: i64,
    /// The size changed at the end of this interval.
    pub changed: bool,
}

/// How a strategy did over a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub strategy: &'static str,
    pub trace: &'static str,
    pub forced_total: i64,
    /// The most intervals with forced checkpoints after any one load change.
    pub max_loud_intervals_per_change: usize,
    pub mean_size_ratio: f64,
    pub peak_size_ratio: f64,
    pub changes: usize,
    /// The most config changes after any one load change.
    pub max_changes_per_change: usize,
    /// Increases made in intervals whose WAL pressure was zero.
    pub growth_without_pressure: usize,
    pub steps: Vec<Step>,
}

/// Scenario knobs beyond the strategy settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    pub settings: Settings,
    pub limits: RateLimits,
    pub start_size_mb: i32,
    pub require_wal_evidence: bool,
    /// Whether the strategies get the full-page-image counts (the worker
    /// reads them from pg_stat_wal; off, they size from the measured WAL).
    pub full_page_evidence: bool,
    /// Whether a grow that answers a storm passes the rate limits (the
    /// worker's rule since 0.3.0); off, it waits them out like any change.
    pub storms_pass_rate_limits: bool,
    /// Pace-based growth (walrus.pace_growth): the rule is asked
    /// `early::pace::CONFIRM_SECS` into each interval, and its grow applies
    /// from then on, within the rate limits of a grow that can wait.
    pub pace_growth: bool,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            settings: Settings::default(),
            limits: RateLimits::default(),
            start_size_mb: 1024,
            require_wal_evidence: true,
            full_page_evidence: true,
            storms_pass_rate_limits: true,
            pace_growth: false,
        }
    }
}

/// The oracle's size for an interval: `(1 + cct) × (W + 2 segments)`, within
/// the limits any strategy must obey (floor and walrus.max).
pub fn oracle_mb(wal_mb: f64, settings: &Settings) -> i32 {
    // The ceiling wins where it is below the floor (a small WAL disk).
    size_for_wal_mb(wal_mb * BYTES_PER_MB, settings)
        .max(settings.shrink_floor_mb())
        .min(settings.ceiling_mb())
}

/// PostgreSQL's checkpointer, as far as sizing is concerned.
#[derive(Debug, Default)]
struct Checkpointer {
    /// WAL since the last checkpoint's redo point, bytes.
    wal_since_redo: f64,
    secs_since_checkpoint: f64,
}

/// What one interval did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct IntervalRun {
    forced: i64,
    requested: i64,
    timed: i64,
    wal_bytes: f64,
    /// Full-page images and other records (with a page model).
    images: f64,
    records: f64,
}

impl Checkpointer {
    /// Plays one interval event by event: WAL arrives at the trace's rate
    /// (or the page model's, which depends on the time since the last
    /// checkpoint), and the next checkpoint is whichever comes first, the
    /// volume trigger or the timeout.
    fn run(&mut self, interval: &TraceInterval, size_mb: i32, settings: &Settings) -> IntervalRun {
        let mut run = IntervalRun::default();
        self.run_span(interval, size_mb, settings, settings.checkpoint_timeout_secs, &mut run);
        self.finish(interval, settings, &mut run);
        run
    }

    /// Plays `span` seconds of `interval` at `size_mb` into `run`.
    fn run_span(
        &mut self,
        interval: &TraceInterval,
        size_mb: i32,
        settings: &Settings,
        span: f64,
        run: &mut IntervalRun,
    ) {
        let distance = trigger_distance_bytes(size_mb, settings);
        let timeout = settings.checkpoint_timeout_secs;
        let paged = interval
            .pages
            .map(|model| PagedLoad::new(model, interval.wal_mb, timeout));
        let rate = interval.wal_mb.max(0.0) * BYTES_PER_MB / timeout;
        // WAL and images from `since` to `since + secs` after a checkpoint.
        let written = |since: f64, secs: f64| match &paged {
            Some(load) => (
                load.wal_between(since, since + secs),
                load.images_between(since, since + secs),
            ),
            None => (rate * secs, 0.0),
        };
        let mut left = span;
        loop {
            let since = self.secs_since_checkpoint;
            let to_timeout = (timeout - since).max(0.0);
            let need = (distance - self.wal_since_redo).max(0.0);
            let window = left.min(to_timeout);
            let to_trigger = match &paged {
                Some(load) => load.secs_until(since, need, window).unwrap_or(f64::INFINITY),
                None if rate > 0.0 => need / rate,
                None => f64::INFINITY,
            };
            let next = to_trigger.min(to_timeout);
            let secs = next.min(left);
            let (wal, images) = written(since, secs);
            run.wal_bytes += wal;
            run.images += images;
            if next > left {
                self.wal_since_redo += wal;
                self.secs_since_checkpoint += left;
                break;
            }
            left -= next;
            if to_trigger <= to_timeout {
                run.forced += 1;
            } else {
                run.timed += 1;
            }
            self.wal_since_redo = 0.0;
            self.secs_since_checkpoint = 0.0;
        }
    }

    /// The end of `interval`: its manual checkpoints, and the counts.
    fn finish(&mut self, interval: &TraceInterval, settings: &Settings, run: &mut IntervalRun) {
        let manual = i64::from(interval.manual_checkpoints);
        if manual > 0 {
            self.wal_since_redo = 0.0;
            self.secs_since_checkpoint = 0.0;
        }
        run.requested = run.forced + manual;
        run.records = interval
            .pages
            .map(|model| PagedLoad::new(model, interval.wal_mb, settings.checkpoint_timeout_secs))
            .map_or(0.0, |load| load.records(settings.checkpoint_timeout_secs));
    }
}

/// Runs `strategy` over `trace` (None: the oracle, which sets each
/// interval's ideal size in advance).
pub fn simulate(strategy: Option<Strategy>, trace: &Trace, scenario: &Scenario) -> Summary {
    let settings = &scenario.settings;
    let interval_secs = settings.checkpoint_timeout_secs;
    let mut state = StrategyState::default();
    let mut recent = RecentChanges::default();
    let mut size = scenario.start_size_mb;
    let mut checkpointer = Checkpointer::default();
    let mut quiet = 0u32;
    let mut steps = Vec::with_capacity(trace.intervals.len());
    let mut growth_without_pressure = 0;

    for (i, interval) in trace.intervals.iter().enumerate() {
        let oracle = oracle_mb(interval.wal_mb, settings);
        if strategy.is_none() {
            size = oracle;
        }
        let carried_before = checkpointer.wal_since_redo;
        let size_at_start = size;
        let mut paced = false;
        let run = if scenario.pace_growth && strategy.is_some() {
            // The worker's pace rule, asked once its confirmation window has
            // passed in this interval; its grow is in force for the rest.
            let mut run = IntervalRun::default();
            let asked_at = pace::decision_secs(settings);
            checkpointer.run_span(interval, size, settings, asked_at, &mut run);
            let now = i as f64 * interval_secs + asked_at;
            if let Some(decision) = pace::decide(&checkpointer, interval, size, settings)
                && !matches!(
                    rate_verdict(ChangeKind::Automatic, Urgency::CanWait, || recent
                        .check(now, &scenario.limits)),
                    RateVerdict::Held(_)
                )
            {
                size = decision.new_size_mb;
                recent.record(now);
                paced = true;
            }
            checkpointer.run_span(interval, size, settings, interval_secs - asked_at, &mut run);
            checkpointer.finish(interval, settings, &mut run);
            run
        } else {
            checkpointer.run(interval, size, settings)
        };
        let (forced, requested, timed) = (run.forced, run.requested, run.timed);
        let mut step = Step {
            interval: i,
            wal_mb: interval.wal_mb,
            size_mb: size_at_start,
            oracle_mb: oracle,
            forced,
            changed: paced,
        };
        if paced {
            quiet = 0;
        }

        if let Some(strategy) = strategy {
            let raw = RawInterval {
                current_size_mb: size,
                requested,
                timed,
                wal_bytes: run.wal_bytes,
                carried_bytes: carried_before,
                interval_secs,
                quiet_before: quiet,
                full_pages: interval
                    .pages
                    .filter(|_| scenario.full_page_evidence)
                    .map(|model| FullPageEvidence {
                        images: run.images,
                        records: run.records,
                        data_pages: model.pages,
                        block_bytes: BLOCK_BYTES,
                        counted_wal_bytes: run.wal_bytes,
                    }),
            };
            let obs = observe(&raw, settings, scenario.require_wal_evidence);
            let sample = IntervalSample::of(&obs, settings);
            observe_all(&mut state, &sample, settings);
            quiet = obs.quiet_intervals;
            let decision = strategy.decide_bounded(&obs, settings, &state);
            let now = (i + 1) as f64 * interval_secs;
            // The worker's rule: a storm's grow passes the rate limits.
            let urgency = match scenario.storms_pass_rate_limits {
                true => Urgency::of(decision.action, obs.forced_checkpoints, settings),
                false => Urgency::CanWait,
            };
            let verdict = rate_verdict(ChangeKind::Automatic, urgency, || recent.check(now, &scenario.limits));
            if decision.changes_size() && !matches!(verdict, RateVerdict::Held(_)) {
                if decision.new_size_mb > size && forced == 0 {
                    growth_without_pressure += 1;
                }
                size = decision.new_size_mb;
                recent.record(now);
                quiet = 0;
                step.changed = true;
            }
        }
        steps.push(step);
    }
    summarise(
        strategy.map_or("oracle", |s| s.name()),
        trace,
        steps,
        growth_without_pressure,
    )
}

fn summarise(strategy: &'static str, trace: &Trace, steps: Vec<Step>, growth_without_pressure: usize) -> Summary {
    let mean = |f: fn(&Step) -> f64| steps.iter().map(f).sum::<f64>() / steps.len().max(1) as f64;
    let peak = |f: fn(&Step) -> i32| steps.iter().map(f).max().unwrap_or(0);
    let segments = trace.segments();
    let per_segment =
        |count: &dyn Fn(&[Step]) -> usize| segments.iter().map(|r| count(&steps[r.clone()])).max().unwrap_or(0);
    Summary {
        strategy,
        trace: trace.name,
        forced_total: steps.iter().map(|s| s.forced).sum(),
        max_loud_intervals_per_change: per_segment(&|seg| seg.iter().filter(|s| s.forced > 0).count()),
        mean_size_ratio: mean(|s| f64::from(s.size_mb)) / mean(|s| f64::from(s.oracle_mb)),
        peak_size_ratio: f64::from(peak(|s| s.size_mb)) / f64::from(peak(|s| s.oracle_mb).max(1)),
        changes: steps.iter().filter(|s| s.changed).count(),
        max_changes_per_change: per_segment(&|seg| seg.iter().filter(|s| s.changed).count()),
        growth_without_pressure,
        steps,
    }
}

/// Every compiled strategy and the oracle over every standard trace.
pub fn compare(scenario: &Scenario) -> Vec<Summary> {
    let mut out = Vec::new();
    for trace in standard_traces() {
        out.push(simulate(None, &trace, scenario));
        for &strategy in Strategy::ALL {
            out.push(simulate(Some(strategy), &trace, scenario));
        }
    }
    out
}

/// The comparison as a markdown table.
pub fn markdown_table(summaries: &[Summary]) -> String {
    let mut out = String::from(
        "| trace | strategy | forced checkpoints | max loud intervals per load change | mean size / oracle | \
         peak size / oracle | config changes | max changes per load change |\n|---|---|---|---|---|---|---|---|\n",
    );
    for s in summaries {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {} | {} |\n",
            s.trace,
            s.strategy,
            s.forced_total,
            s.max_loud_intervals_per_change,
            s.mean_size_ratio,
            s.peak_size_ratio,
            s.changes,
            s.max_changes_per_change
        ));
    }
    out
}

/// Every simulated interval as CSV, for plots.
pub fn csv(summaries: &[Summary]) -> String {
    let mut out = String::from("trace,strategy,interval,wal_mb,size_mb,oracle_mb,forced,changed\n");
    for s in summaries {
        for step in &s.steps {
            out.push_str(&format!(
                "{},{},{},{:.1},{},{},{},{}\n",
                s.trace,
                s.strategy,
                step.interval,
                step.wal_mb,
                step.size_mb,
                step.oracle_mb,
                step.forced,
                u8::from(step.changed)
            ));
        }
    }
    out
}

#[cfg(test)]
mod pace_tests;
#[cfg(test)]
mod storm_tests;
#[cfg(test)]
mod tests;
