//! walrus.status() and walrus.shmem_status(): the extension's state and settings.

use pgrx::JsonB;
use pgrx::prelude::*;
use serde_json::{Value, json};
use walrus_strategies::disk::{DiskLimit, DiskReading};
use walrus_strategies::evidence::BYTES_PER_MB;
use walrus_strategies::{ApplyVia, SizingStrategy};

use crate::shmem::WalrusState;
use crate::sizing::Regime;
use crate::{apply, guc, patroni, patroni::apply_via, pg::clock, pg::server, shmem};

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
