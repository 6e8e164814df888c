//! Metrics for monitoring: collected from shared state and settings, rendered
//! as Prometheus text exposition format 0.0.4 (base units, counters ending in
//! `_total`). The seed's names are kept.

use std::fmt::Write;

use pgrx::prelude::*;

use crate::apply::RateLimitStatus;
use crate::sizing::Regime;
use crate::{guc, pg::server, shmem};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Gauge => "gauge",
            Kind::Counter => "counter",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub help: &'static str,
    pub value: f64,
}

const MB: f64 = 1024.0 * 1024.0;

pub fn collect() -> Vec<Metric> {
    let state = shmem::snapshot();
    let limits = RateLimitStatus::of(&state);
    let worker_running = shmem::running_worker_pid(&state).is_some();
    let gauge = |name, help, value| Metric {
        name,
        kind: Kind::Gauge,
        help,
        value,
    };
    let counter = |name, help, value: i64| Metric {
        name,
        kind: Kind::Counter,
        help,
        value: value as f64,
    };
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    let settings = Regime::now().settings;
    let disk_ceiling_mb = settings.disk.ceiling_mb().unwrap_or(0);
    vec![
        gauge(
            "walrus_max_wal_size_bytes",
            "Current max_wal_size setting.",
            f64::from(server::max_wal_size_mb()) * MB,
        ),
        gauge(
            "walrus_max_allowed_bytes",
            "Maximum allowed by walrus.max.",
            f64::from(guc::max_size_mb()) * MB,
        ),
        gauge(
            "walrus_effective_ceiling_bytes",
            "Largest size pg_walrus may grow to now: walrus.max (or the active profile's max_size), lowered by the WAL disk ceiling.",
            f64::from(settings.ceiling_mb()) * MB,
        ),
        gauge(
            "walrus_wal_disk_available_bytes",
            "Free space a non-root process can use on the filesystem that holds pg_wal, at the last check.",
            state.disk.reading.available_bytes,
        ),
        gauge(
            "walrus_disk_ceiling_bytes",
            "The WAL disk ceiling (walrus.max_wal_disk_fraction of the usable space); 0 when the guard is off or the disk unmeasured.",
            f64::from(disk_ceiling_mb) * MB,
        ),
        counter(
            "walrus_disk_clamps_total",
            "Times the disk guard lowered a max_wal_size the WAL disk could no longer hold.",
            state.disk.clamps,
        ),
        gauge(
            "walrus_min_size_bytes",
            "Minimum walrus shrinks to (walrus.min_size).",
            f64::from(guc::min_size_mb()) * MB,
        ),
        counter(
            "walrus_increases_total",
            "Size increases applied.",
            state.total_increases,
        ),
        counter(
            "walrus_decreases_total",
            "Size decreases applied.",
            state.total_decreases,
        ),
        counter(
            "walrus_skipped_total",
            "Decisions held back by the rate limits or only recommended (allow_alter_system off, walrus.apply_via none).",
            state.total_skipped,
        ),
        counter(
            "walrus_failed_total",
            "Decisions whose ALTER SYSTEM failed or that Patroni did not take.",
            state.total_failed,
        ),
        counter(
            "walrus_dry_run_total",
            "Decisions recorded in dry-run mode.",
            state.total_dry_runs,
        ),
        counter(
            "walrus_analysis_cycles_total",
            "Worker cycles that compared two readings of the counters.",
            state.analysis_cycles,
        ),
        gauge(
            "walrus_forced_checkpoints",
            "Forced checkpoints in the last completed interval.",
            state.last_forced as f64,
        ),
        counter(
            "walrus_forced_checkpoints_total",
            "Forced checkpoints over all compared intervals.",
            state.total_forced,
        ),
        gauge(
            "walrus_quiet_intervals",
            "Consecutive quiet intervals so far.",
            f64::from(state.quiet_intervals),
        ),
        gauge(
            "walrus_last_adjustment_timestamp_seconds",
            "Unix time of the last applied change, 0 if none.",
            unix_seconds(state.last_adjustment_time),
        ),
        gauge(
            "walrus_cooldown_remaining_seconds",
            "Seconds until the cooldown allows another change.",
            limits.cooldown_remaining_secs.ceil(),
        ),
        gauge(
            "walrus_changes_this_hour",
            "Changes in the last 60 minutes.",
            f64::from(limits.changes_this_hour),
        ),
        gauge(
            "walrus_enabled",
            "Whether automatic sizing is enabled.",
            flag(guc::enabled()),
        ),
        gauge("walrus_dry_run", "Whether dry-run mode is on.", flag(guc::dry_run())),
        gauge(
            "walrus_worker_running",
            "Whether the pg_walrus worker is running.",
            flag(worker_running),
        ),
        gauge(
            "walrus_in_recovery",
            "Whether this server is a standby (or still replaying WAL).",
            flag(server::in_recovery()),
        ),
        gauge(
            "walrus_disk_limits_growth",
            "Whether the WAL disk ceiling (or its hold after a clamp), not walrus.max, sets how far pg_walrus may grow.",
            flag(settings.limited_by_disk()),
        ),
    ]
}

/// PostgreSQL timestamps count microseconds from 2000-01-01 UTC.
fn unix_seconds(ts: i64) -> f64 {
    const PG_EPOCH_UNIX_SECS: i64 = 946_684_800;
    if ts == 0 {
        0.0
    } else {
        (ts / 1_000_000 + PG_EPOCH_UNIX_SECS) as f64
    }
}

/// Text exposition format 0.0.4: `# HELP`, `# TYPE`, then the sample.
pub fn render_prometheus(metrics: &[Metric]) -> String {
    let mut out = String::new();
    for m in metrics {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "# HELP {} {}", m.name, m.help);
        let _ = writeln!(out, "# TYPE {} {}", m.name, m.kind.as_str());
        let _ = writeln!(out, "{} {}", m.name, m.value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_help_type_and_sample() {
        let text = render_prometheus(&[
            Metric {
                name: "walrus_max_wal_size_bytes",
                kind: Kind::Gauge,
                help: "Current.",
                value: 1073741824.0,
            },
            Metric {
                name: "walrus_increases_total",
                kind: Kind::Counter,
                help: "Inc.",
                value: 3.0,
            },
        ]);
        assert_eq!(
            text,
            "# HELP walrus_max_wal_size_bytes Current.\n# TYPE walrus_max_wal_size_bytes gauge\nwalrus_max_wal_size_bytes 1073741824\n\
             # HELP walrus_increases_total Inc.\n# TYPE walrus_increases_total counter\nwalrus_increases_total 3\n"
        );
    }

    #[test]
    fn unix_time_of_postgres_timestamps() {
        assert_eq!(unix_seconds(0), 0.0);
        assert_eq!(unix_seconds(1_000_000), 946_684_801.0);
    }
}

/// One row per metric, for those who scrape with SQL.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn metrics() -> TableIterator<
    'static,
    (
        name!(name, String),
        name!(type, String),
        name!(help, String),
        name!(value, f64),
    ),
> {
    TableIterator::new(collect().into_iter().map(|m| {
        (
            m.name.to_owned(),
            m.kind.as_str().to_owned(),
            m.help.to_owned(),
            m.value,
        )
    }))
}

/// The same metrics in Prometheus text exposition format 0.0.4.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn metrics_prometheus() -> String {
    render_prometheus(&collect())
}
