//! The SQL API, schema `walrus` (set by the control file): thin wrappers that
//! read shared state and the strategies' answers and serialise them, with the
//! JSON keys, permissions and error texts specs/sql-api.md fixes.

pub mod metrics;
#[cfg(feature = "test-clock")]
mod test_clock;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{JsonB, PgLogLevel, PgSqlErrorCode};
use serde_json::{Value, json};
use walrus_strategies::disk::{DiskLimit, DiskReading};
use walrus_strategies::evidence::BYTES_PER_MB;
use walrus_strategies::{Action, ApplyVia, ChangeKind, SizingStrategy, Strategy, Urgency};

use crate::shmem::{DiskState, WalrusState};
use crate::sizing::{self, Recommendation, Regime};
use crate::{
    apply, guc, patroni, patroni::apply_via, pg::alter_system, pg::clock, pg::server, pg::stats, record::history, shmem,
};

/// The extension's state and settings, for anyone.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn status() -> JsonB {
    let state = shmem::snapshot();
    let regime = Regime::now();
    let settings = &regime.settings;
    let current = server::max_wal_size_mb();
    let limits = apply::RateLimitStatus::of(&state);
    let mut status = json!({
        "enabled": guc::enabled(),
        "current_max_wal_size_mb": current,
        "configured_maximum_mb": settings.max_size_mb,
        "threshold": settings.threshold,
        "checkpoint_timeout_sec": server::checkpoint_timeout_secs(),
        "shrink_enabled": settings.shrink_enabled,
        "shrink_factor": settings.shrink_factor,
        "shrink_intervals": settings.shrink_intervals,
        "min_size_mb": settings.min_size_mb,
        "worker_running": shmem::running_worker_pid(&state).is_some(),
        "last_check_time": timestamp(state.last_check_time),
        "last_adjustment_time": timestamp(state.last_adjustment_time),
        "total_adjustments": state.total_adjustments,
        "quiet_intervals": state.quiet_intervals,
        "at_ceiling": current >= settings.max_size_mb,
        "database": guc::database(),
        "strategy": regime.algorithm.name(),
        "active_profile": regime.profile_name(),
        "wal_rate_bytes_per_sec": state.strategies.ring.last().map_or(0.0, |s| s.wal_bytes_per_sec().round()),
        "wal_samples": state.strategies.ring.len(),
        "in_recovery": server::in_recovery(),
        "mode": mode(),
        "dry_run": guc::dry_run(),
        "cooldown_active": limits.cooldown_remaining_secs > 0.0,
        "cooldown_remaining_sec": limits.cooldown_remaining_secs.ceil() as i64,
        "changes_this_hour": limits.changes_this_hour,
        "hourly_limit_reached": limits.changes_this_hour >= limits.max_changes_per_hour,
        // A grow that answers a storm passes both limits (and counts toward
        // them) unless walrus.max_changes_per_hour = 0 stops every change.
        "storm_grows_pass_limits": limits.max_changes_per_hour > 0,
        "storm_grows_passed": state.total_storm_passes,
    });
    // The WAL disk guard (specs/disk.md) and replicas (docs/ha.md), in
    // objects of their own: one json! literal that long hits its recursion limit.
    let extra = json!({
        "wal_disk_fraction": guc::max_wal_disk_fraction(),
        "wal_disk_available_mb": disk_mb(&state, |r| r.available_bytes),
        "pg_wal_mb": disk_mb(&state, |r| r.pg_wal_bytes),
        "wal_retained_mb": disk_mb(&state, |r| r.retained_bytes),
        "disk_ceiling_mb": settings.disk.ceiling_mb(),
        "effective_ceiling_mb": settings.ceiling_mb(),
        "disk_limits_growth": settings.limited_by_disk(),
        "disk_growth_held": state.disk.guard.held().is_some(),
        "disk_measured": !matches!(settings.disk, DiskLimit::Unmeasured),
        "disk_last_check_time": timestamp(state.disk.measured_at),
        "disk_clamps": state.disk.clamps,
        "standby_mirror": guc::standby_mirror(),
        "primary_size_mb": (state.primary_size_mb > 0).then_some(state.primary_size_mb),
        "mirrored_at": timestamp(state.mirrored_at),
        "promoted_at": timestamp(state.promoted_at),
        "apply_via": apply_via::apply_via().name(),
        "patroni": (apply_via::apply_via() == ApplyVia::Patroni || state.patroni.last != patroni::state::LastPatch::Never)
            .then(|| patroni::status_json(&state.patroni)),
    });
    if let (Value::Object(status), Value::Object(extra)) = (&mut status, extra) {
        status.extend(extra);
    }
    JsonB(status)
}

/// "auto", or "recommend-only" when pg_walrus cannot or may not write:
/// ALTER SYSTEM is off (and sizes would go through it), or apply_via is none.
fn mode() -> &'static str {
    match apply_via::apply_via() {
        ApplyVia::Nowhere => "recommend-only",
        ApplyVia::Patroni => "auto",
        ApplyVia::AlterSystem => server::mode(),
    }
}

/// What the active strategy would do now, judging the interval so far.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn recommendation() -> JsonB {
    let regime = Regime::now();
    JsonB(recommendation_of(&regime, regime.algorithm))
}

/// What a named strategy would do now (any compiled one, active or not).
#[pg_extern(name = "recommendation")]
#[search_path(pg_catalog, pg_temp)]
fn recommendation_for(strategy: &str) -> JsonB {
    JsonB(recommendation_of(&Regime::now(), algorithm_named(strategy)))
}

/// Every compiled strategy's recommendation, side by side.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)]
fn recommendations() -> TableIterator<
    'static,
    (
        name!(strategy, String),
        name!(active, bool),
        name!(current_size_mb, i32),
        name!(recommended_size_mb, i32),
        name!(action, String),
        name!(reason, String),
        name!(confidence, i32),
    ),
> {
    let regime = Regime::now();
    let active = regime.algorithm;
    let state = shmem::snapshot();
    let reading = stats::read_now();
    let rows: Vec<_> = Strategy::ALL
        .iter()
        .map(|&algorithm| match &reading {
            Some(reading) => {
                let rec = sizing::recommend(&state, reading, &regime, algorithm);
                let d = rec.decision;
                (
                    rec.strategy.to_owned(),
                    algorithm == active,
                    d.old_size_mb,
                    d.new_size_mb,
                    d.action.as_str().to_owned(),
                    d.reason,
                    i32::from(rec.confidence),
                )
            }
            None => {
                let current = server::max_wal_size_mb();
                (
                    algorithm.name().to_owned(),
                    algorithm == active,
                    current,
                    current,
                    "error".to_owned(),
                    "checkpoint statistics unavailable".to_owned(),
                    0,
                )
            }
        })
        .collect();
    TableIterator::new(rows)
}

/// The recommendation, applied when `apply` is true (superusers only).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn analyze(apply: default!(bool, false)) -> JsonB {
    if apply {
        require_superuser("walrus.analyze(apply := true)");
    }
    if !guc::enabled() {
        return JsonB(json!({"analyzed": false, "reason": "extension is disabled"}));
    }
    if apply {
        require_primary("walrus.analyze(apply := true)");
        // ALTER SYSTEM refuses transaction blocks; so does its SQL front door.
        // SAFETY: a backend running this SQL function inside its statement's
        // transaction, as PreventInTransactionBlock expects; the name is a
        // static C string; it raises an ordinary ERROR, which pg_guard turns
        // into a Rust panic unwinding to pgrx's function boundary.
        unsafe { pg_sys::PreventInTransactionBlock(true, c"walrus.analyze(apply := true)".as_ptr()) };
    }
    // Before the recommendation: a write between here and ours makes it stale.
    let writes = shmem::config_writes();
    let regime = Regime::now();
    let Some(reading) = stats::read_now() else {
        return JsonB(
            json!({"analyzed": true, "recommendation": stats_unavailable_json(regime.algorithm), "applied": false}),
        );
    };
    let rec = sizing::recommend(&shmem::snapshot(), &reading, &regime, regime.algorithm);
    let applies = matches!(
        rec.decision.action,
        Action::Increase | Action::Capped | Action::Decrease
    );
    let mut result = json!({"analyzed": true, "recommendation": recommendation_json(&rec), "applied": false});
    if apply && applies && rec.decision.changes_size() {
        // An explicit superuser action: the rate limits do not hold it back,
        // but it counts toward them.
        let change = apply::Change {
            decision: rec.decision,
            kind: ChangeKind::Explicit,
            // Not rate-limited: the limits are never asked.
            urgency: Urgency::CanWait,
            strategy: rec.strategy,
            forced: rec.forced_checkpoints,
            at_secs: apply::now_secs(),
            reading: Some(reading),
        };
        // An ERROR in ALTER SYSTEM ends this statement, as it would its own.
        let write = |new_size| {
            Ok(if written_during_this_statement(&writes) {
                None
            } else {
                shmem::write_config(writes.generation, new_size, || alter_system::set_max_wal_size(new_size))
            })
        };
        let outcome = apply::apply(
            &change,
            writes.generation,
            write,
            &mut |entry| match history::record(entry) {
                Ok(()) => {}
                Err(history::HistoryError::Missing) => warning!("pg_walrus: history table does not exist"),
                Err(history::HistoryError::Spi(error)) => warning!("pg_walrus: could not record history: {error}"),
            },
        );
        match outcome {
            apply::Outcome::Applied(_) => result["applied"] = json!(true),
            apply::Outcome::DryRun => {
                result["reason"] = json!("walrus.dry_run is on: the change was recorded, not applied")
            }
            apply::Outcome::Sent(_) => {
                result["applied"] = json!(true);
                result["apply_via"] = json!("patroni");
            }
            apply::Outcome::RecommendOnly(why) => result["reason"] = json!(why.reason()),
            // Only Patroni's failures come back here: a failed ALTER SYSTEM
            // raised an ERROR instead.
            apply::Outcome::Failed => {
                let error = shmem::snapshot().patroni.last_error;
                result["reason"] = json!(format!("Patroni did not take the change: {}", error.as_str()));
            }
            // This session's max_wal_size predates a write by the worker or
            // another analyze: the recommendation is stale.
            apply::Outcome::Superseded => {
                result["reason"] = json!("max_wal_size was changed moments ago; run walrus.analyze again")
            }
            // Not rate-limited.
            apply::Outcome::Held => {}
        }
    }
    JsonB(result)
}

/// Clears history and counters (superusers only). Re-baselines the
/// checkpoint counter to its current value, so the next cycle does not count
/// checkpoints from before the reset.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn reset() -> bool {
    require_superuser("walrus.reset()");
    require_primary("walrus.reset()");
    let history_ok = match history::clear() {
        Ok(true) => true,
        Ok(false) => {
            warning!("pg_walrus: history table does not exist");
            true
        }
        Err(error) => {
            warning!("pg_walrus: could not clear walrus.history: {error}");
            false
        }
    };
    let reading = stats::read_now();
    shmem::update(|state| {
        // Strategy state and the rate limits' memory of recent changes stay:
        // they describe the server's load and config history, not counters.
        *state = WalrusState {
            worker_pid: state.worker_pid,
            strategies: state.strategies,
            recent_changes: state.recent_changes,
            // The guard's view of the disk and its hold are safety state;
            // only its counter is reset.
            disk: DiskState {
                clamps: 0,
                ..state.disk
            },
            ..WalrusState::default()
        };
        if let Some(reading) = &reading {
            state.rebaseline(reading);
        }
    });
    history_ok
}

/// The raw shared-memory counters: the worker's state and totals as it keeps
/// them, for debugging (`walrus.status()` is the stable view).
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn shmem_status() -> JsonB {
    let state = shmem::snapshot();
    JsonB(json!({
        "worker_pid": shmem::running_worker_pid(&state),
        "total_increases": state.total_increases,
        "total_decreases": state.total_decreases,
        "current_recommendation_mb": (state.last_recommendation_mb > 0).then_some(state.last_recommendation_mb),
        "shared_memory_bytes": shmem::footprint_bytes(),
        "strategy_state_version": state.strategies.version,
    }))
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
    TableIterator::new(metrics::collect().into_iter().map(|m| {
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
    metrics::render_prometheus(&metrics::collect())
}

/// Deletes history older than walrus.history_retention_days; returns how many rows.
#[pg_extern]
#[search_path(pg_catalog, pg_temp)]
fn cleanup_history() -> i64 {
    match history::cleanup(guc::history_retention_days()) {
        Ok(deleted) => deleted,
        // PostgreSQL's own error for a missing table, SQLSTATE 42P01 too.
        Err(history::HistoryError::Missing) => {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_UNDEFINED_TABLE,
                "relation \"walrus.history\" does not exist"
            );
        }
        Err(history::HistoryError::Spi(error)) => error!("pg_walrus: could not clean up history: {error}"),
    }
}

fn recommendation_json(rec: &Recommendation) -> Value {
    json!({
        "current_size_mb": rec.decision.old_size_mb,
        "recommended_size_mb": rec.decision.new_size_mb,
        "action": rec.decision.action.as_str(),
        "reason": rec.decision.reason,
        "confidence": rec.confidence,
        "strategy": rec.strategy,
    })
}

fn recommendation_of(regime: &Regime, algorithm: Strategy) -> Value {
    match stats::read_now() {
        Some(reading) => recommendation_json(&sizing::recommend(&shmem::snapshot(), &reading, regime, algorithm)),
        None => stats_unavailable_json(algorithm),
    }
}

/// A compiled strategy by name, or an error that lists them.
fn algorithm_named(name: &str) -> Strategy {
    Strategy::from_name(name).unwrap_or_else(|| {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("unknown strategy \"{name}\""),
            "pg_walrus",
        )
        .set_detail(format!("Available strategies: {}.", Strategy::names()))
        .report(PgLogLevel::ERROR);
        unreachable!("ERROR does not return")
    })
}

fn stats_unavailable_json(algorithm: Strategy) -> Value {
    let current = server::max_wal_size_mb();
    json!({
        "current_size_mb": current,
        "recommended_size_mb": current,
        "action": "error",
        "reason": "checkpoint statistics unavailable",
        "confidence": 0,
        "strategy": algorithm.name(),
    })
}

/// Whole MB of the last disk reading, null before the first measurement.
fn disk_mb(state: &WalrusState, part: impl Fn(&DiskReading) -> f64) -> Value {
    if state.disk.measured_mono_ns == 0 {
        return Value::Null;
    }
    json!((part(&state.disk.reading) / BYTES_PER_MB).floor() as i64)
}

fn timestamp(ts: pg_sys::TimestampTz) -> Value {
    if ts == 0 {
        Value::Null
    } else {
        json!(clock::iso8601_utc(ts))
    }
}

fn require_superuser(what: &str) {
    // SAFETY: called from a SQL function, so inside a transaction with the
    // session's user set up: superuser() may read pg_authid through the
    // syscache, which needs exactly that.
    if !unsafe { pg_sys::superuser() } {
        ereport!(
            ERROR,
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied: {what} requires superuser")
        );
    }
}

/// ALTER SYSTEM works on a hot standby (it writes that node's file), and a
/// standby cannot write history: refuse explicitly.
fn require_primary(what: &str) {
    if server::in_recovery() {
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION,
            format!("{what} cannot run on a standby"),
            "pg_walrus",
        )
        .set_hint(
            "Size the primary: with walrus.standby_mirror on, each standby follows the size it publishes \
             (walrus.primary_size).",
        )
        .report(PgLogLevel::ERROR);
    }
}

/// A session processes configuration reloads between statements, and
/// analyze(apply := true) is always a statement of its own: its view of
/// max_wal_size can only be stale if pg_walrus wrote the file during this
/// statement, or moments before it (the reload signal still in flight).
fn written_during_this_statement(writes: &shmem::ConfigWrites) -> bool {
    const SIGNAL_SLACK_USECS: i64 = 1_000_000;
    // SAFETY: reads this backend's statement start time, set when the
    // current statement began; a plain read of process-local state.
    let started = unsafe { pg_sys::GetCurrentStatementStartTimestamp() };
    writes.generation > 0
        && writes.size_mb != server::max_wal_size_mb()
        && writes.written_at >= started - SIGNAL_SLACK_USECS
}
